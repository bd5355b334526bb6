//! The figures, as a Markdown report and as JSON.

use serde_json::{json, Value};

use crate::Transport;

const MAX_RSA_SLOWDOWN: f64 = 2.0;

/// One cold start, ms.
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// Spawn to the first `GET …/invocation/next`: Init (anything the function does before
    /// asking for an event, an AWS connection warmed included, is here).
    pub init_ms: f64,
    /// The first event handed out to its response: the first invocation, what Lambda bills.
    pub invocation_ms: f64,
    /// Spawn to the first response: what the first caller waits (beyond Lambda's own start).
    pub first_response_ms: f64,
    /// CPU the process used up to its first response.
    pub cpu_ms: f64,
}

/// The cold starts of one receiver under one condition.
pub struct ColdSeries {
    pub transport: Transport,
    /// The memory size whose CPU share the invocation ran at; `None`: a full core throughout.
    pub share_mb: Option<u64>,
    pub runs: Vec<ColdStart>,
}

impl ColdSeries {
    pub fn new(transport: Transport, share_mb: Option<u64>) -> Self {
        Self {
            transport,
            share_mb,
            runs: Vec::new(),
        }
    }

    /// The median of one figure of the runs.
    pub fn median(&self, figure: impl Fn(&ColdStart) -> f64) -> f64 {
        median_of(self.runs.iter().map(figure).collect())
    }

    fn range(&self, figure: impl Fn(&ColdStart) -> f64) -> (f64, f64) {
        let values: Vec<f64> = self.runs.iter().map(figure).collect();
        (
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    }

    fn condition(&self) -> String {
        match self.share_mb {
            None => format!("{}, full core", self.transport.label()),
            Some(mb) => format!("{}, {mb} MB share", self.transport.label()),
        }
    }
}

pub struct Figures {
    pub name: String,
    pub cold: Vec<ColdSeries>,
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
    pub share_mb: Option<u64>,
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
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl Figures {
    #[allow(
        clippy::too_many_arguments,
        reason = "one row of figures, built in one place"
    )]
    pub fn new(
        name: String,
        cold: Vec<ColdSeries>,
        cpu_per_event_us: f64,
        sys_per_event_us: f64,
        wall_per_event_us: f64,
        peak_rss_bytes: u64,
        rss_bytes: u64,
        events_handled: usize,
        binary_bytes: Option<u64>,
    ) -> Self {
        Self {
            name,
            cold,
            cpu_per_event_us,
            sys_per_event_us,
            wall_per_event_us,
            peak_rss_bytes,
            rss_bytes,
            events_handled,
            binary_bytes,
        }
    }

    /// The cold starts over `transport`, on a full core (`share_mb` `None`) or at a share.
    pub fn cold(&self, transport: Transport, share_mb: Option<u64>) -> Option<&ColdSeries> {
        self.cold
            .iter()
            .find(|s| s.transport == transport && s.share_mb == share_mb)
    }

    pub fn one_line(&self) -> String {
        let cold: Vec<String> = self
            .cold
            .iter()
            .map(|s| {
                format!(
                    "{} {:.1} ms",
                    s.condition(),
                    s.median(|c| c.first_response_ms)
                )
            })
            .collect();
        format!(
            "cold {}; {:.0} µs CPU/event, {:.0} µs wall/event, peak RSS {:.1} MiB",
            cold.join(", "),
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

pub fn verdict(ok: bool) -> &'static str {
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
    let transports: Vec<Transport> = figures
        .first()
        .map(|f| {
            f.cold
                .iter()
                .filter(|s| s.share_mb.is_none())
                .map(|s| s.transport)
                .collect()
        })
        .unwrap_or_default();
    let warm_over = transports.first().map_or("?", |t| t.label());
    out.push_str(&format!(
        "\n## hookwarden benchmark\n\nMachine: {} ({} cores), Linux {}. Bodies: {} B. Cold start: median of {} fresh processes \
         (one unmeasured run first), from spawning the process to the Runtime API receiving its first response, with AWS (moto) \
         reached over TLS (HTTPS to localhost, a test CA's certificate: the handshake and the TLS library's start-up are paid) \
         and over plain HTTP. CPU per warm event ({warm_over}): CPU time (schedstat) per event, median of {} windows of {} events \
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
    out.push_str("| receiver |");
    for t in &transports {
        out.push_str(&format!(
            " cold start {} ms, median (min–max) | its CPU ms |",
            t.label()
        ));
    }
    out.push_str(" CPU per warm event µs (kernel part) | wall per warm event µs | peak RSS MiB | binary MiB |\n|---|");
    out.push_str(&"---|---|".repeat(transports.len()));
    out.push_str("---|---|---|---|\n");
    for f in figures {
        out.push_str(&format!("| {} |", f.name));
        for t in &transports {
            match f.cold(*t, None) {
                Some(s) => {
                    let (min, max) = s.range(|c| c.first_response_ms);
                    out.push_str(&format!(
                        " {:.1} ({min:.1}–{max:.1}) | {:.1} |",
                        s.median(|c| c.first_response_ms),
                        s.median(|c| c.cpu_ms)
                    ));
                }
                None => out.push_str(" — | — |"),
            }
        }
        out.push_str(&format!(
            " {:.0} ({:.0}) | {:.0} | {:.1} | {} |\n",
            f.cpu_per_event_us,
            f.sys_per_event_us,
            f.wall_per_event_us,
            mib(f.peak_rss_bytes),
            f.binary_bytes
                .map_or("—".to_string(), |b| format!("{:.2}", mib(b))),
        ));
    }
    match settings.share_mb {
        Some(mb) => {
            out.push_str(&format!(
                "\nCold starts as a {mb} MB function has them: Init on a full core (Lambda boosts Init), then the process moved \
                 into a CPU cgroup limited to {mb}/1769 of a core when it first asks for an event. Init: spawn to the first \
                 `GET /next`; first invocation: the event handed out to the response (what Lambda bills); first response: \
                 spawn to the response. Medians, ms.\n\n| receiver | AWS over | Init | first invocation | first response |\n|---|---|---|---|---|\n"
            ));
            for f in figures {
                for s in f.cold.iter().filter(|s| s.share_mb.is_some()) {
                    out.push_str(&format!(
                        "| {} | {} | {:.1} | {:.1} | {:.1} |\n",
                        f.name,
                        s.transport.label(),
                        s.median(|c| c.init_ms),
                        s.median(|c| c.invocation_ms),
                        s.median(|c| c.first_response_ms),
                    ));
                }
            }
        }
        None => out.push_str("\nCold starts at a memory size's CPU share: skipped (no CPU cgroup could be written, or --no-cpu-share).\n"),
    }
    out.push('\n');
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
            let cold: Vec<Value> = f
                .cold
                .iter()
                .map(|s| {
                    json!({
                        "transport": s.transport.label(),
                        "share_mb": s.share_mb,
                        "init_ms": s.runs.iter().map(|c| c.init_ms).collect::<Vec<_>>(),
                        "first_invocation_ms": s.runs.iter().map(|c| c.invocation_ms).collect::<Vec<_>>(),
                        "first_response_ms": s.runs.iter().map(|c| c.first_response_ms).collect::<Vec<_>>(),
                        "cpu_ms": s.runs.iter().map(|c| c.cpu_ms).collect::<Vec<_>>(),
                        "first_response_median_ms": s.median(|c| c.first_response_ms),
                    })
                })
                .collect();
            json!({
                "name": f.name,
                "cold_starts": cold,
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
            "share_mb": settings.share_mb,
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
