//! The figures, as a Markdown report and as JSON, with the goals checked.

use serde_json::{json, Value};

/// The goals, Rust against the Python reference measured in the same run.
const COLD_START_FACTOR: f64 = 20.0;
const CPU_FACTOR: f64 = 10.0;
const MAX_PEAK_RSS_BYTES: u64 = 24 * 1024 * 1024;
const MAX_BINARY_BYTES: u64 = 6 * 1024 * 1024;
const MAX_RSA_SLOWDOWN: f64 = 2.0;
/// The receiver the Rust functions are compared with, and the Rust function that does its job.
const REFERENCE: &str = "python-knox";
const COMPARED: &str = "knox";

pub struct Figures {
    pub name: &'static str,
    /// Sorted.
    pub cold_ms: Vec<f64>,
    pub cold_cpu_ms: Vec<f64>,
    pub cpu_per_event_us: f64,
    /// The kernel's part of `cpu_per_event_us`.
    pub sys_per_event_us: f64,
    pub wall_per_event_us: f64,
    pub peak_rss_bytes: u64,
    pub rss_bytes: u64,
    pub events_handled: usize,
    pub binary_bytes: Option<u64>,
}

pub struct RsaFigures {
    pub openssl_verify_per_s: Option<f64>,
    pub awslc_verify_us: Option<f64>,
}

pub struct Settings {
    pub cold_runs: usize,
    pub warmup: usize,
    pub events: usize,
    pub windows: usize,
    pub rss_events: usize,
    pub body_bytes: usize,
}

/// The median of unsorted figures.
pub fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    median(&values)
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl Figures {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &'static str,
        mut cold_ms: Vec<f64>,
        mut cold_cpu_ms: Vec<f64>,
        cpu_per_event_us: f64,
        sys_per_event_us: f64,
        wall_per_event_us: f64,
        peak_rss_bytes: u64,
        rss_bytes: u64,
        events_handled: usize,
        binary_bytes: Option<u64>,
    ) -> Self {
        cold_ms.sort_by(f64::total_cmp);
        cold_cpu_ms.sort_by(f64::total_cmp);
        Self {
            name,
            cold_ms,
            cold_cpu_ms,
            cpu_per_event_us,
            sys_per_event_us,
            wall_per_event_us,
            peak_rss_bytes,
            rss_bytes,
            events_handled,
            binary_bytes,
        }
    }

    pub fn cold_median_ms(&self) -> f64 {
        median(&self.cold_ms)
    }

    pub fn cold_cpu_median_ms(&self) -> f64 {
        median(&self.cold_cpu_ms)
    }

    pub fn one_line(&self) -> String {
        format!(
            "cold {:.1} ms (cpu {:.1} ms), {:.0} µs CPU/event, {:.0} µs wall/event, peak RSS {:.1} MiB",
            self.cold_median_ms(),
            self.cold_cpu_median_ms(),
            self.cpu_per_event_us,
            self.wall_per_event_us,
            mib(self.peak_rss_bytes)
        )
    }
}

/// CPU model, core count and kernel, for the record.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({"cpu": model, "cores": cores, "kernel": kernel.trim()})
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

pub fn markdown(
    figures: &[Figures],
    rsa: &RsaFigures,
    machine: &Value,
    settings: &Settings,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\n## hookwarden benchmark\n\nMachine: {} ({} cores), Linux {}. Bodies: {} B. Cold start: median of {} fresh processes \
         (one unmeasured run first). CPU per warm event: CPU time (schedstat) per event, median of {} windows of {} events \
         taken in turn across the receivers, after {} warm-up events; kernel part from utime/stime over all windows. \
         Peak RSS: VmHWM after {} events. moto (S3, Secrets Manager) is a separate process behind a keep-alive proxy \
         (connections kept as AWS endpoints keep them): their CPU is in no figure, their latency is in the wall times.\n\n",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cores"],
        machine["kernel"].as_str().unwrap_or("?"),
        settings.body_bytes,
        settings.cold_runs,
        settings.windows,
        settings.events.div_ceil(settings.windows.max(1)),
        settings.warmup,
        settings.rss_events,
    ));
    out.push_str("| receiver | cold start ms, median (min–max) | CPU to first response ms, median | CPU per warm event µs (kernel part) | wall per warm event µs | peak RSS MiB | binary MiB |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for f in figures {
        out.push_str(&format!(
            "| {} | {:.1} ({:.1}–{:.1}) | {:.1} | {:.0} ({:.0}) | {:.0} | {:.1} | {} |\n",
            f.name,
            f.cold_median_ms(),
            f.cold_ms.first().copied().unwrap_or(f64::NAN),
            f.cold_ms.last().copied().unwrap_or(f64::NAN),
            f.cold_cpu_median_ms(),
            f.cpu_per_event_us,
            f.sys_per_event_us,
            f.wall_per_event_us,
            mib(f.peak_rss_bytes),
            f.binary_bytes
                .map_or("—".to_string(), |b| format!("{:.2}", mib(b))),
        ));
    }
    let find = |name: &str| figures.iter().find(|f| f.name == name);
    out.push('\n');
    if let (Some(py), Some(rs)) = (find(REFERENCE), find(COMPARED)) {
        let cold = py.cold_median_ms() / rs.cold_median_ms();
        let cold_cpu = py.cold_cpu_median_ms() / rs.cold_cpu_median_ms();
        let cpu = py.cpu_per_event_us / rs.cpu_per_event_us;
        let rss = py.peak_rss_bytes as f64 / rs.peak_rss_bytes as f64;
        out.push_str(&format!(
            "Knox, Python reference ÷ Rust: cold start {cold:.1}× (goal ≥ {COLD_START_FACTOR}×: {}), CPU to first response {cold_cpu:.1}×, \
             CPU per event {cpu:.1}× (goal ≥ {CPU_FACTOR}×: {}), peak RSS {rss:.1}×.\n",
            verdict(cold >= COLD_START_FACTOR),
            verdict(cpu >= CPU_FACTOR),
        ));
    }
    for f in figures.iter().filter(|f| f.binary_bytes.is_some()) {
        out.push_str(&format!(
            "{}: peak RSS {:.1} MiB (goal ≤ 24 MiB: {}), binary {:.2} MiB (goal ≤ 6 MiB: {}).\n",
            f.name,
            mib(f.peak_rss_bytes),
            verdict(f.peak_rss_bytes <= MAX_PEAK_RSS_BYTES),
            mib(f.binary_bytes.unwrap_or(0)),
            verdict(f.binary_bytes.unwrap_or(u64::MAX) <= MAX_BINARY_BYTES),
        ));
    }
    if let (Some(openssl), Some(us)) = (rsa.openssl_verify_per_s, rsa.awslc_verify_us) {
        let awslc = 1e6 / us;
        out.push_str(&format!(
            "RSA-2048 verify: aws-lc-rs {us:.1} µs ({awslc:.0}/s), `openssl speed rsa2048` {openssl:.0}/s on the same machine: \
             OpenSSL ÷ aws-lc-rs = {:.2} (goal ≤ {MAX_RSA_SLOWDOWN}: {}).\n",
            openssl / awslc,
            verdict(openssl / awslc <= MAX_RSA_SLOWDOWN),
        ));
    }
    out
}

pub fn json(figures: &[Figures], rsa: &RsaFigures, machine: &Value, settings: &Settings) -> Value {
    let receivers: Vec<Value> = figures
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "cold_start_ms": f.cold_ms,
                "cold_start_median_ms": f.cold_median_ms(),
                "cold_cpu_ms": f.cold_cpu_ms,
                "cold_cpu_median_ms": f.cold_cpu_median_ms(),
                "cpu_per_event_us": f.cpu_per_event_us,
                "sys_per_event_us": f.sys_per_event_us,
                "wall_per_event_us": f.wall_per_event_us,
                "peak_rss_bytes": f.peak_rss_bytes,
                "rss_bytes": f.rss_bytes,
                "events_handled": f.events_handled,
                "binary_bytes": f.binary_bytes,
            })
        })
        .collect();
    json!({
        "machine": machine,
        "settings": {
            "cold_runs": settings.cold_runs,
            "warmup": settings.warmup,
            "events": settings.events,
            "windows": settings.windows,
            "rss_events": settings.rss_events,
            "body_bytes": settings.body_bytes,
        },
        "receivers": receivers,
        "rsa2048": {
            "openssl_verify_per_s": rsa.openssl_verify_per_s,
            "awslc_verify_us": rsa.awslc_verify_us,
        },
    })
}
