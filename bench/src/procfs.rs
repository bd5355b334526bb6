//! What the kernel says about a receiver process: CPU time and memory, from `/proc/<pid>`.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("reading /proc/{pid}/{file}: {source} (did the receiver exit?)")]
    Read {
        pid: u32,
        file: &'static str,
        source: std::io::Error,
    },
    #[error("/proc/{pid}/{file} has no {field}; is this Linux?")]
    Field {
        pid: u32,
        file: &'static str,
        field: &'static str,
    },
}

fn read(pid: u32, file: &'static str) -> Result<String, ProcError> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).map_err(|source| ProcError::Read {
        pid,
        file,
        source,
    })
}

/// CPU time of the whole process (every thread, exited ones included) from fields 14 and 15
/// of `/proc/<pid>/stat`, in clock ticks converted with `ticks_per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl std::ops::Sub for CpuTime {
    type Output = CpuTime;
    fn sub(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

pub fn cpu_time(pid: u32, ticks_per_second: u64) -> Result<CpuTime, ProcError> {
    let stat = read(pid, "stat")?;
    let missing = || ProcError::Field {
        pid,
        file: "stat",
        field: "utime and stime",
    };
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = stat.rsplit_once(')').ok_or_else(missing)?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `after_name` starts at field 3 (state), so fields 14 and 15 are at 11 and 12.
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| Duration::from_nanos(t * 1_000_000_000 / ticks_per_second))
            .ok_or_else(missing)
    };
    Ok(CpuTime {
        user: ticks(11)?,
        system: ticks(12)?,
    })
}

/// CPU time of the process's live threads, summed from `/proc/<pid>/task/*/schedstat` (the
/// scheduler's nanosecond runtime). Unlike [`cpu_time`] it resolves a cold start's few
/// milliseconds, but it misses threads that have already exited.
pub fn live_threads_cpu_time(pid: u32) -> Result<Duration, ProcError> {
    let tasks =
        std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|source| ProcError::Read {
            pid,
            file: "task",
            source,
        })?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        // A thread that exits between the listing and the read simply adds nothing.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .ok_or(ProcError::Field {
                pid,
                file: "task/*/schedstat",
                field: "the run time in ns",
            })?;
    }
    Ok(Duration::from_nanos(total))
}

/// A `kB` line of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in bytes.
pub fn status_bytes(pid: u32, field: &'static str) -> Result<u64, ProcError> {
    let status = read(pid, "status")?;
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
        .map(|kb| kb * 1024)
        .ok_or(ProcError::Field {
            pid,
            file: "status",
            field,
        })
}

/// The kernel's clock tick rate (`getconf CLK_TCK`), 100 on every mainstream Linux.
pub fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let started = std::time::Instant::now();
        // Burn some CPU so the reading cannot be zero.
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        let cpu = cpu_time(pid, ticks_per_second()).unwrap();
        assert!(
            cpu.user + cpu.system >= Duration::from_millis(20),
            "{cpu:?}"
        );
        let precise = live_threads_cpu_time(pid).unwrap();
        assert!(precise >= Duration::from_millis(20), "{precise:?}");
        // RSS first: the high-water mark read after it can only be as large or larger.
        let rss = status_bytes(pid, "VmRSS").unwrap();
        let hwm = status_bytes(pid, "VmHWM").unwrap();
        assert!(hwm >= rss && rss > 1024 * 1024, "{hwm} {rss}");
    }
}
