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

/// User plus system CPU time of the whole process (every thread, exited ones included), from
/// fields 14 and 15 of `/proc/<pid>/stat`, in clock ticks converted with `ticks_per_second`.
pub fn cpu_time(pid: u32, ticks_per_second: u64) -> Result<Duration, ProcError> {
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
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
    let total = ticks(11)
        .zip(ticks(12))
        .map(|(u, s)| u + s)
        .ok_or_else(missing)?;
    Ok(Duration::from_nanos(
        total * 1_000_000_000 / ticks_per_second,
    ))
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
        assert!(cpu >= Duration::from_millis(20), "{cpu:?}");
        // RSS first: the high-water mark read after it can only be as large or larger.
        let rss = status_bytes(pid, "VmRSS").unwrap();
        let hwm = status_bytes(pid, "VmHWM").unwrap();
        assert!(hwm >= rss && rss > 1024 * 1024, "{hwm} {rss}");
    }
}
