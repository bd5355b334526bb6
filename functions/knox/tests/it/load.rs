//! Load under the Runtime API: many `knox-webhook` processes polling one Runtime API on
//! loopback against moto's server, thousands of deliveries with duplicates and forgeries;
//! exactly the unique valid events stored, one log line per delivery, and no signature or
//! body in any log. Prints throughput and latency percentiles (`scripts/load.sh` runs it
//! alone to show them).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookwarden_testkit::deployment::{event_id, event_keys, BUCKET};
use hookwarden_testkit::load::{percentile, shuffle};
use hookwarden_testkit::log_audit::assert_no_needles;
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};
use hookwarden_verify::rsa::RsaSigningKey;
use serde_json::Value;

use crate::support::{
    id_of, knox_body, moto_with_bucket, sign_in_parallel, signed, test_signing_key, BINARY,
    CERT_KEY, INVOKE_TIMEOUT, MACHINE,
};

/// How many function processes poll the Runtime API. Lambda gives each execution environment
/// one event at a time, so 32 processes are 32 concurrent executions. moto, one Python process,
/// is the bottleneck well before that: 8 processes deliver as many events per second.
const PROCESSES: usize = 32;
/// Invocations in flight on the Runtime API: one per process.
const IN_FLIGHT: usize = 32;
const LAMBDA_DELIVERIES: usize = 10_000;
/// The whole load, on a busy two-core machine in a debug build; about a minute here.
const LOAD_TIME_LIMIT: Duration = Duration::from_secs(600);

/// What a delivery is, and what it must produce.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    First,
    Duplicate,
    Forged,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_through_the_runtime_api() {
    let _machine = MACHINE.write().await;
    let moto = moto_with_bucket().await;
    let api = Arc::new(RuntimeApi::start().await);
    let endpoint = moto.endpoint();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("HOOKWARDEN_SINK", "s3"),
        ("HOOKWARDEN_BUCKET", BUCKET),
        ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", "10000"),
        ("KNOX_CERT_KEY", CERT_KEY),
        ("KNOX_SUBSCRIPTION_IDS", "123456789123"),
    ];
    let processes: Vec<FunctionProcess> = (0..PROCESSES)
        .map(|_| api.spawn_function(BINARY, &env))
        .collect();

    // 75 % first deliveries, 20 % redeliveries of one of them, 5 % forgeries.
    let key = test_signing_key();
    let forger = {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        RsaSigningKey::from_pkcs8_der(&pair.serialize_der()).unwrap()
    };
    let firsts = LAMBDA_DELIVERIES * 75 / 100;
    let duplicates = LAMBDA_DELIVERIES * 20 / 100;
    let forgeries = LAMBDA_DELIVERIES - firsts - duplicates;
    let signing = Instant::now();
    let traces: Vec<String> = (0..firsts).map(|n| format!("load-{n}")).collect();
    let signed_events: Vec<(Value, String)> =
        sign_in_parallel(&traces, |trace| signed(&knox_body(trace), trace, &key));
    let mut deliveries: Vec<(Kind, String, Value)> = Vec::with_capacity(LAMBDA_DELIVERIES);
    let mut signatures = Vec::new();
    for (trace, (event, signature)) in traces.into_iter().zip(signed_events) {
        signatures.push(signature);
        deliveries.push((Kind::First, trace, event));
    }
    for n in 0..duplicates {
        let (_, trace, event) = deliveries[(n * 7) % firsts].clone();
        deliveries.push((Kind::Duplicate, trace, event));
    }
    for n in 0..forgeries {
        let trace = format!("forged-{n}");
        let event = if n % 2 == 0 {
            // A body changed under a real signature.
            let mut event = deliveries[n % firsts].2.clone();
            event["headers"]["x-wsm-traceid"] = trace.clone().into();
            event["body"] = String::from_utf8(knox_body(&trace)).unwrap().into();
            event
        } else {
            signed(&knox_body(&trace), &trace, &forger).0
        };
        deliveries.push((Kind::Forged, trace, event));
    }
    shuffle(&mut deliveries, 0x9E37_79B9_7F4A_7C15);
    eprintln!(
        "signed {} deliveries in {:?}",
        deliveries.len(),
        signing.elapsed()
    );

    let started = Instant::now();
    let run = async {
        let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        for (kind, trace, event) in deliveries {
            let permit = permits.clone().acquire_owned().await.unwrap();
            let api = api.clone();
            tasks.spawn(async move {
                let sent = Instant::now();
                let response = api.invoke(event, INVOKE_TIMEOUT).await;
                drop(permit);
                (kind, trace, response, sent.elapsed())
            });
        }
        let mut latencies = Vec::with_capacity(LAMBDA_DELIVERIES);
        let mut valid_ids = BTreeSet::new();
        while let Some(joined) = tasks.join_next().await {
            let (kind, trace, response, latency) = joined.unwrap();
            let response = response.unwrap_or_else(|err| panic!("{trace}: {err}"));
            let status = response["statusCode"].as_u64().unwrap();
            match kind {
                Kind::First | Kind::Duplicate => {
                    assert_eq!(status, 200, "{trace}: {response}");
                    valid_ids.insert(id_of(&knox_body(&trace)));
                }
                Kind::Forged => assert_eq!(status, 401, "{trace}: {response}"),
            }
            latencies.push(latency);
        }
        (latencies, valid_ids)
    };
    let (mut latencies, valid_ids) = tokio::time::timeout(LOAD_TIME_LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("{LAMBDA_DELIVERIES} deliveries took over {LOAD_TIME_LIMIT:?}"));
    let wall = started.elapsed();

    // Exactly the unique valid events are stored: none lost, none forged, none twice.
    let stored: BTreeSet<String> = event_keys(&moto, "knox")
        .await
        .iter()
        .map(|k| event_id(k).to_string())
        .collect();
    assert_eq!(stored.len(), firsts, "one object per unique delivery");
    assert_eq!(stored, valid_ids, "exactly the valid events, so no forgery");
    // One request line per delivery across the processes.
    let lines: usize = processes
        .iter()
        .map(|p| {
            p.stdout()
                .lines()
                .filter(|l| l.contains("\"outcome\""))
                .count()
        })
        .sum();
    assert_eq!(lines, LAMBDA_DELIVERIES, "request log lines");

    // The handler's own time per request, from its log lines (the latencies above include
    // the wait in the Runtime API's queue).
    let mut handler_ms: Vec<f64> = processes
        .iter()
        .flat_map(|p| {
            p.stdout()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["latency_ms"].as_f64())
                .collect::<Vec<_>>()
        })
        .collect();
    handler_ms.sort_by(f64::total_cmp);
    let handler_percentile =
        |p: f64| handler_ms[((handler_ms.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "runtime API load: handler time p50 {:.1} ms, p99 {:.1} ms",
        handler_percentile(0.50),
        handler_percentile(0.99)
    );
    latencies.sort();
    eprintln!(
        "runtime API load: {LAMBDA_DELIVERIES} deliveries ({firsts} unique, {duplicates} duplicates, \
         {forgeries} forged) through {PROCESSES} function processes, {IN_FLIGHT} in flight: \
         {:.0} deliveries/s, p50 {:?}, p99 {:?}, max {:?}, wall {wall:?}",
        LAMBDA_DELIVERIES as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );

    let logs: Vec<(String, String)> = processes
        .iter()
        .enumerate()
        .map(|(n, p)| {
            (
                format!("function-{n}"),
                format!("{}{}", p.stdout(), p.stderr()),
            )
        })
        .collect();
    signatures.push("BODY-MARKER".into());
    assert_no_needles(&logs, &signatures);
}
