//! Lambda's CPU share for a memory size, as a CPU cgroup: Lambda gives a function one full
//! vCPU at 1,769 MB and a proportional share below (128 MB: 128/1769 of a core), while Init
//! of an on-demand environment runs boosted. The benchmark lets a process start
//! unconstrained and moves it into a group with that quota when it first asks for an event.
//!
//! cgroup v1 (a mounted `cpu` controller: `cpu.cfs_period_us`, `cpu.cfs_quota_us`) or v2 (a
//! `cgroup2` mount offering `cpu`: `cpu.max`). Each group is created under the controller's
//! mount root and removed when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The scheduler period the quota is a share of, µs.
pub const PERIOD_US: u64 = 100_000;
/// The memory size at which Lambda gives a full vCPU.
const FULL_CORE_MB: u64 = 1769;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup v1 `cpu` controller and no cgroup v2 mount offering `cpu` in /proc/self/mountinfo")]
    NoController,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// A CPU cgroup with a memory size's quota; removed (its processes moved back to the root)
/// when dropped.
pub struct CpuShare {
    version: Version,
    root: PathBuf,
    dir: PathBuf,
}

/// The quota for `memory_mb`, µs per [`PERIOD_US`].
pub fn quota_us(memory_mb: u64) -> u64 {
    (PERIOD_US * memory_mb + FULL_CORE_MB / 2) / FULL_CORE_MB
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The mount point of the cgroup v1 `cpu` controller, else of a cgroup v2 hierarchy that
/// offers `cpu`.
fn find_controller() -> Result<(Version, PathBuf), CgroupError> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = before.split_whitespace().nth(4) else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let (fstype, options) = (fields.next(), fields.nth(1).unwrap_or_default());
        match fstype {
            Some("cgroup") if options.split(',').any(|o| o == "cpu") => {
                return Ok((Version::V1, PathBuf::from(mount_point)));
            }
            Some("cgroup2") if v2.is_none() => {
                let controllers =
                    std::fs::read_to_string(Path::new(mount_point).join("cgroup.controllers"))
                        .unwrap_or_default();
                if controllers.split_whitespace().any(|c| c == "cpu") {
                    v2 = Some(PathBuf::from(mount_point));
                }
            }
            _ => {}
        }
    }
    v2.map(|root| (Version::V2, root))
        .ok_or(CgroupError::NoController)
}

impl CpuShare {
    /// A fresh group limited to `memory_mb`'s share of a core.
    pub fn create(memory_mb: u64) -> Result<CpuShare, CgroupError> {
        static GROUPS: AtomicU32 = AtomicU32::new(0);
        let (version, root) = find_controller()?;
        let dir = root.join(format!(
            "hookwarden-bench-{}-{}",
            std::process::id(),
            GROUPS.fetch_add(1, Ordering::Relaxed)
        ));
        if version == Version::V2 {
            write(&root.join("cgroup.subtree_control"), "+cpu")?;
        }
        std::fs::create_dir(&dir).map_err(|source| CgroupError::Io {
            path: dir.clone(),
            source,
        })?;
        let share = CpuShare { version, root, dir };
        let quota = quota_us(memory_mb);
        match version {
            Version::V1 => {
                write(&share.dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
                write(&share.dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
            Version::V2 => write(&share.dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?,
        }
        Ok(share)
    }

    /// Moves process `pid`, every thread of it, into the group; threads it starts later
    /// are born there.
    pub fn admit(&self, pid: u32) -> Result<(), CgroupError> {
        write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    /// `cgroup v1 at /sys/fs/cgroup/cpu`, for the report.
    pub fn describe(&self) -> String {
        let version = match self.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
        };
        format!("cgroup {version} at {}", self.root.display())
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        // A group holding processes cannot be removed: hand any survivor back to the root.
        let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.split_whitespace() {
            let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_the_memory_share_of_a_core() {
        assert_eq!(quota_us(128), 7236);
        assert_eq!(quota_us(1769), PERIOD_US);
        assert_eq!(quota_us(512), 28943);
    }
}
