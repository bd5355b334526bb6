//! What one event costs in AWS requests and billed time: for each receiver and sink, the
//! requests per first delivery and per duplicate, counted at the endpoint (the test kit's
//! proxy in front of moto), and the wall time per first delivery with every AWS round trip
//! stretched by an injected delay — what Lambda bills when S3 answers in 20 or 50 ms instead
//! of loopback's 2. From those, the cost per million events at AWS list prices.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookwarden_testkit::proxy::{self, Action, Proxy};
use hookwarden_testkit::runtime_api::RuntimeApi;

use crate::events::{EventMaker, Provider};
use crate::report::median_of;
use crate::{env_pairs, invoke_ok, now_ms, BenchError, Endpoints, Receiver, Transport};

/// US East (N. Virginia) list prices, from the AWS pricing pages for S3, Lambda and
/// EventBridge, checked 2026-12-04 (docs/performance.md#aws-requests-and-cost-per-event).
const S3_PUT_PER_MILLION: f64 = 5.0; // PUT, COPY, POST, LIST: $0.005 per 1,000
const S3_GET_PER_MILLION: f64 = 0.4; // GET, HEAD: $0.0004 per 1,000
const EVENTBRIDGE_PER_MILLION: f64 = 1.0; // custom events, per 64 KB chunk
const LAMBDA_REQUESTS_PER_MILLION: f64 = 0.2;
const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// The template's default MemorySize.
const MEMORY_GB: f64 = 128.0 / 1024.0;

/// One receiver under one sink and one injected round trip.
pub struct Row {
    pub receiver: String,
    pub sink: &'static str,
    pub rtt_ms: u64,
    /// Requests per first delivery, by `"s3 PUT"`-style label.
    pub first: BTreeMap<String, f64>,
    /// Requests per duplicate (the same signed content again).
    pub duplicate: BTreeMap<String, f64>,
    /// Median and 90th percentile wall time per first delivery, ms.
    pub wall_ms: f64,
    pub wall_p90_ms: f64,
}

impl Row {
    fn total(counts: &BTreeMap<String, f64>) -> f64 {
        counts.values().sum()
    }

    /// Dollars per million first deliveries: requests, and Lambda billed for the median
    /// wall time (rounded up to the millisecond, as Lambda bills).
    pub fn cost_per_million(&self) -> f64 {
        let per = |prefix: &str, price: f64| {
            self.first
                .iter()
                .filter(|(label, _)| label.starts_with(prefix))
                .map(|(_, n)| n * price)
                .sum::<f64>()
        };
        let s3 = per("s3 PUT", S3_PUT_PER_MILLION)
            + per("s3 GET", S3_GET_PER_MILLION)
            + per("s3 HEAD", S3_GET_PER_MILLION);
        let bus = per("eventbridge PutEvents", EVENTBRIDGE_PER_MILLION);
        let billed_seconds = self.wall_ms.ceil() / 1000.0;
        let lambda = LAMBDA_REQUESTS_PER_MILLION
            + billed_seconds * MEMORY_GB * LAMBDA_ARM64_PER_GB_SECOND * 1e6;
        s3 + bus + lambda
    }
}

/// Which sinks each receiver is measured with: the current Knox function with each; the
/// others (the Python reference writes to S3 only) and other builds with S3.
fn sinks(receiver: &Receiver) -> &'static [&'static str] {
    match (receiver.provider, receiver.python, &receiver.build) {
        (Provider::Knox, false, None) => &["s3", "eventbridge", "s3,eventbridge"],
        _ => &["s3"],
    }
}

/// Measures every receiver, sink and round trip in `rtts_ms`, `events` first deliveries and
/// as many duplicates each.
pub async fn measure(
    receivers: &[Receiver],
    proxy: &Proxy,
    over: (&Endpoints, Transport),
    bus: &str,
    rtts_ms: &[u64],
    events: usize,
    timeout: Duration,
) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for &rtt_ms in rtts_ms {
        let delay = Duration::from_millis(rtt_ms);
        proxy.set_policy(Arc::new(move |_: &proxy::Request| {
            if delay.is_zero() {
                Action::Forward
            } else {
                Action::Delay(delay)
            }
        }));
        for receiver in receivers {
            for &sink in sinks(receiver) {
                eprintln!(
                    "requests and latency: {} {sink}, {rtt_ms} ms round trip ...",
                    receiver.name
                );
                rows.push(
                    measure_one(receiver, sink, over, bus, proxy, rtt_ms, events, timeout).await?,
                );
            }
        }
    }
    proxy.set_policy(Arc::new(|_: &proxy::Request| Action::Forward));
    Ok(rows)
}

#[allow(
    clippy::too_many_arguments,
    reason = "one measurement's knobs, each named at the one call site"
)]
async fn measure_one(
    receiver: &Receiver,
    sink: &'static str,
    (endpoints, transport): (&Endpoints, Transport),
    bus: &str,
    proxy: &Proxy,
    rtt_ms: u64,
    events: usize,
    timeout: Duration,
) -> Result<Row, BenchError> {
    let prefix = format!(
        "identity-{}-{}-{rtt_ms}",
        receiver.name.replace('@', "-"),
        sink.replace(',', "-")
    );
    let all = receiver.env_over(endpoints, transport);
    let mut env: Vec<(&str, &str)> = env_pairs(&all)
        .into_iter()
        .filter(|(k, _)| *k != "HOOKWARDEN_SINK" && *k != "HOOKWARDEN_PREFIX")
        .collect();
    env.extend([
        ("HOOKWARDEN_SINK", sink),
        ("HOOKWARDEN_PREFIX", prefix.as_str()),
    ]);
    if sink.contains("eventbridge") {
        env.push(("HOOKWARDEN_EVENT_BUS", bus));
    }
    let maker = EventMaker::new(receiver.provider)?;
    // A run number of its own per row, so no row's events are another's duplicates.
    let run =
        100 + (rtt_ms as usize) * 10 + sinks(receiver).iter().position(|s| *s == sink).unwrap_or(0);
    let api = RuntimeApi::start().await;
    let mut process = api.spawn_function(&receiver.program, &env);
    // The cold start reads the certificate or secret: not part of an event's cost.
    invoke_ok(
        &api,
        &process,
        receiver,
        maker.event(run, 0, now_ms())?,
        0,
        timeout,
    )
    .await?;

    let made: Vec<serde_json::Value> = (1..=events)
        .map(|n| maker.event(run, n, now_ms()))
        .collect::<Result<_, _>>()?;
    proxy.reset_counts();
    let mut walls = Vec::with_capacity(events);
    for (n, event) in made.iter().enumerate() {
        let started = Instant::now();
        invoke_ok(&api, &process, receiver, event.clone(), n, timeout).await?;
        walls.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let first = per_event(proxy.counts(), events);
    proxy.reset_counts();
    for (n, event) in made.into_iter().enumerate() {
        invoke_ok(&api, &process, receiver, event, n, timeout).await?;
    }
    let duplicate = per_event(proxy.counts(), events);
    process.kill();
    walls.sort_by(f64::total_cmp);
    let p90 = walls[((walls.len() as f64 - 1.0) * 0.9).round() as usize];
    Ok(Row {
        receiver: receiver.name.clone(),
        sink,
        rtt_ms,
        first,
        duplicate,
        wall_ms: median_of(walls),
        wall_p90_ms: p90,
    })
}

fn per_event(counts: BTreeMap<String, u64>, events: usize) -> BTreeMap<String, f64> {
    counts
        .into_iter()
        .map(|(label, n)| (label, n as f64 / events as f64))
        .collect()
}

fn describe(counts: &BTreeMap<String, f64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(label, n)| format!("{n:.2} {label}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The rows as Markdown: a table, and a chart of wall time against the round trip.
pub fn markdown(rows: &[Row], events: usize, transport: Transport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## AWS requests and wall time per event\n\n{events} first deliveries and {events} duplicates per row, AWS reached over {}, each AWS round trip delayed by the injected time (moto's own ~2 ms on top). Cost: US East list prices, Lambda arm64 at 128 MB billed for the median wall time.\n",
        transport.label()
    );
    let _ = writeln!(
        out,
        "| receiver | sink | round trip | requests per first delivery | per duplicate | wall ms p50 / p90 | $ per million events |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} ms | {:.2} ({}) | {:.2} ({}) | {:.1} / {:.1} | {:.2} |",
            row.receiver,
            row.sink,
            row.rtt_ms,
            Row::total(&row.first),
            describe(&row.first),
            Row::total(&row.duplicate),
            describe(&row.duplicate),
            row.wall_ms,
            row.wall_p90_ms,
            row.cost_per_million()
        );
    }
    let mut rtts: Vec<u64> = rows.iter().map(|r| r.rtt_ms).collect();
    rtts.sort_unstable();
    rtts.dedup();
    let mut series: Vec<(String, Vec<f64>)> = Vec::new();
    for row in rows {
        let name = format!("{} ({})", row.receiver, row.sink);
        match series.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(row.wall_ms),
            None => series.push((name, vec![row.wall_ms])),
        }
    }
    let max = rows.iter().map(|r| r.wall_ms).fold(0.0, f64::max);
    let _ =
        writeln!(
        out,
        "\nWall time per first delivery against the injected round trip; lines, in order: {}.\n",
        series.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(out, "```mermaid\nxychart-beta");
    let _ = writeln!(out, "    title \"Wall time per first delivery (ms)\"");
    let _ = writeln!(
        out,
        "    x-axis \"AWS round trip (ms)\" [{}]",
        rtts.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "    y-axis \"ms per event\" 0 --> {}",
        (max * 1.1).ceil()
    );
    for (_, values) in &series {
        let _ = writeln!(
            out,
            "    line [{}]",
            values
                .iter()
                .map(|v| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(out, "```");
    out
}
