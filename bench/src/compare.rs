//! The builds side by side for Knox — each `--compare` build (the baseline first), the
//! current one, the Python reference — from one run's figures, with the goals checked:
//! cold start to first response over TLS, on a full core and at the CPU share; CPU per warm
//! event; peak RSS; the S3 sink's requests and wall time per first delivery.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::identity::Row;
use crate::report::{mib, verdict, ColdStart, Figures};
use crate::{BenchError, Transport};

/// Python's cold start to first response over TLS ÷ the current Knox function's, at least.
const COLD_START_FACTOR: f64 = 10.0;
/// The same with the invocation at the CPU share (Init on a full core).
const SHARE_COLD_START_FACTOR: f64 = 8.0;
/// Python's CPU per warm event ÷ the current Knox function's, at least.
const CPU_FACTOR: f64 = 4.0;
const MAX_PEAK_RSS_BYTES: u64 = 24 * 1024 * 1024;
/// S3 sink: the current build's wall time per first delivery over the baseline's, at most.
const MAX_WALL_RATIO: f64 = 1.05;
/// The injected round trips the wall-time goal is checked at, ms.
const WALL_RTTS_MS: [u64; 2] = [20, 50];
/// The `--compare` label the wall-time goal compares with.
const BASELINE: &str = "baseline";
const REFERENCE: &str = "python-knox";
const COMPARED: &str = "knox";

/// One figure of a cold start.
type ColdFigure = fn(&ColdStart) -> f64;

/// Instructions per cold start and per warm event, by receiver name.
pub type Instructions = BTreeMap<String, (f64, f64)>;

/// Lines `RECEIVER COLD PER_EVENT`, as bench/instructions.sh prints them.
pub fn read_instructions(path: &Path) -> Result<Instructions, BenchError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| BenchError::Setup(format!("{}: {err}", path.display())))?;
    let mut counts = Instructions::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let parsed = match fields.as_slice() {
            [name, cold, warm] => cold
                .parse()
                .ok()
                .zip(warm.parse().ok())
                .map(|counts| (name.to_string(), counts)),
            _ => None,
        };
        let (name, pair) = parsed.ok_or_else(|| {
            BenchError::Setup(format!(
                "{}: {line:?} is not `RECEIVER COLD PER_EVENT`",
                path.display()
            ))
        })?;
        counts.insert(name, pair);
    }
    Ok(counts)
}

/// The Knox columns: `knox@baseline`, `knox`, other `knox@…` builds, the Python reference.
fn columns(figures: &[Figures]) -> Vec<&Figures> {
    let named = |name: &str| figures.iter().find(|f| f.name == name);
    let baseline = format!("{COMPARED}@{BASELINE}");
    let mut columns: Vec<&Figures> = named(&baseline).into_iter().collect();
    columns.extend(named(COMPARED));
    columns.extend(
        figures
            .iter()
            .filter(|f| f.name.starts_with(&format!("{COMPARED}@")) && f.name != baseline),
    );
    columns.extend(named(REFERENCE));
    columns
}

fn s3_row<'a>(rows: &'a [Row], receiver: &str, rtt_ms: u64) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.receiver == receiver && r.sink == "s3" && r.rtt_ms == rtt_ms)
}

fn cold_median(
    f: &Figures,
    transport: Transport,
    share_mb: Option<u64>,
    figure: ColdFigure,
) -> Option<f64> {
    f.cold(transport, share_mb).map(|s| s.median(figure))
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or("—".into(), |v| format!("{v:.decimals$}"))
}

pub fn markdown(
    figures: &[Figures],
    rows: &[Row],
    instructions: &Instructions,
    share_mb: Option<u64>,
    transport: Transport,
) -> String {
    let columns = columns(figures);
    let mut out = String::new();
    if columns.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n## Knox: the builds and the Python reference, same machine, same run\n"
    );
    let _ = writeln!(
        out,
        "| | {} |\n|---|{}",
        columns
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(columns.len())
    );
    let mut line = |label: String, value: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = columns.iter().map(|f| value(f)).collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    };
    line("binary MiB".into(), &|f| cell(f.binary_bytes.map(mib), 2));
    line(
        "instructions per cold start, millions (callgrind, over TLS)".into(),
        &|f| cell(instructions.get(&f.name).map(|c| c.0 / 1e6), 1),
    );
    line("instructions per warm event, millions".into(), &|f| {
        cell(instructions.get(&f.name).map(|c| c.1 / 1e6), 2)
    });
    line(
        format!("CPU per warm event µs ({})", transport.label()),
        &|f| format!("{:.0}", f.cpu_per_event_us),
    );
    line("peak RSS MiB".into(), &|f| {
        format!("{:.1}", mib(f.peak_rss_bytes))
    });
    for t in [Transport::Tls, Transport::Http] {
        line(
            format!("cold start to first response ms, {}", t.label()),
            &|f| cell(cold_median(f, t, None, |c| c.first_response_ms), 1),
        );
    }
    if let Some(mb) = share_mb {
        for t in [Transport::Tls, Transport::Http] {
            let phases: [(&str, ColdFigure); 3] = [
                ("Init", |c| c.init_ms),
                ("first invocation", |c| c.invocation_ms),
                ("first response", |c| c.first_response_ms),
            ];
            for (phase, figure) in phases {
                line(format!("{mb} MB share, {}: {phase} ms", t.label()), &|f| {
                    cell(cold_median(f, t, Some(mb), figure), 1)
                });
            }
        }
    }
    let mut rtts: Vec<u64> = rows.iter().map(|r| r.rtt_ms).collect();
    rtts.sort_unstable();
    rtts.dedup();
    for &rtt in &rtts {
        line(
            format!("S3 sink at {rtt} ms round trip: requests per first delivery"),
            &|f| {
                cell(
                    s3_row(rows, &f.name, rtt).map(|r| r.first.values().sum()),
                    2,
                )
            },
        );
        line(
            format!("S3 sink at {rtt} ms round trip: wall per event ms"),
            &|f| cell(s3_row(rows, &f.name, rtt).map(|r| r.wall_ms), 1),
        );
        line(
            format!("S3 sink at {rtt} ms round trip: $ per million events"),
            &|f| cell(s3_row(rows, &f.name, rtt).map(Row::cost_per_million), 2),
        );
    }
    out.push('\n');
    out.push_str(&goals(figures, rows, share_mb));
    out
}

/// One line per goal: what was measured and whether it is met.
fn goals(figures: &[Figures], rows: &[Row], share_mb: Option<u64>) -> String {
    let mut out = String::new();
    let find = |name: &str| figures.iter().find(|f| f.name == name);
    let first_response = |c: &ColdStart| c.first_response_ms;
    if let (Some(py), Some(rs)) = (find(REFERENCE), find(COMPARED)) {
        let ratio = |share: Option<u64>| {
            Some(
                cold_median(py, Transport::Tls, share, first_response)?
                    / cold_median(rs, Transport::Tls, share, first_response)?,
            )
        };
        match ratio(None) {
            Some(r) => {
                let _ = writeln!(out, "- Cold start to first response over TLS, Python ÷ Knox: {r:.1}× (goal ≥ {COLD_START_FACTOR}×: {}).", verdict(r >= COLD_START_FACTOR));
            }
            None => {
                let _ = writeln!(out, "- Cold start over TLS: not measured (--transport).");
            }
        }
        match share_mb.and_then(|mb| ratio(Some(mb)).map(|r| (mb, r))) {
            Some((mb, r)) => {
                let _ = writeln!(out, "- The same at the {mb} MB CPU share (Init on a full core): {r:.1}× (goal ≥ {SHARE_COLD_START_FACTOR}×: {}).", verdict(r >= SHARE_COLD_START_FACTOR));
            }
            None => {
                let _ = writeln!(
                    out,
                    "- Cold start at the CPU share: not measured (no writable CPU cgroup)."
                );
            }
        }
        let r = py.cpu_per_event_us / rs.cpu_per_event_us;
        let _ = writeln!(
            out,
            "- CPU per warm event, Python ÷ Knox: {r:.1}× (goal ≥ {CPU_FACTOR}×: {}).",
            verdict(r >= CPU_FACTOR)
        );
    }
    for f in figures
        .iter()
        .filter(|f| f.binary_bytes.is_some() && !f.name.contains('@'))
    {
        let _ = writeln!(
            out,
            "- {}: peak RSS {:.1} MiB (goal ≤ 24 MiB: {}).",
            f.name,
            mib(f.peak_rss_bytes),
            verdict(f.peak_rss_bytes <= MAX_PEAK_RSS_BYTES)
        );
    }
    let current: Vec<&Row> = rows
        .iter()
        .filter(|r| r.receiver == COMPARED && r.sink == "s3")
        .collect();
    if !current.is_empty() {
        let most = current
            .iter()
            .map(|r| r.first.values().sum::<f64>())
            .fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "- Knox, S3 sink: at most {most:.2} requests per first delivery (goal 1: {}).",
            verdict(most <= 1.0)
        );
    }
    let baseline = format!("{COMPARED}@{BASELINE}");
    for rtt in WALL_RTTS_MS {
        match (s3_row(rows, COMPARED, rtt), s3_row(rows, &baseline, rtt)) {
            (Some(now), Some(before)) => {
                let r = now.wall_ms / before.wall_ms;
                let _ = writeln!(out, "- Knox, S3 sink at {rtt} ms round trip: wall per event {:.1} ms against the baseline's {:.1} ms, {:+.1} % (goal ≤ +5 %: {}).", now.wall_ms, before.wall_ms, (r - 1.0) * 100.0, verdict(r <= MAX_WALL_RATIO));
            }
            _ => {
                let _ = writeln!(out, "- Knox, S3 sink at {rtt} ms round trip against the baseline: not measured (needs --compare {BASELINE}=DIR, --with-identity and {rtt} in --rtt-ms).");
            }
        }
    }
    out
}
