//! Exactly-once under crashes and faults, run as Lambda runs `knox-webhook` (built binaries
//! polling a Runtime API on loopback) against moto's S3 and EventBridge behind a proxy that
//! fails, throttles, drops or stalls a share of the AWS calls, while a killer SIGKILLs
//! function processes at random points and starts fresh ones, as Lambda replaces a crashed
//! execution environment.
//!
//! The deliveries mix what real traffic and attackers send: first deliveries whose trace ids
//! are shared by two different events (one E-FOTA operation, many callbacks), provider
//! redeliveries, replays of signed content under fresh trace ids and nonces, and forgeries.
//! The sender retries every non-2xx answer (timeouts included) like a provider, a bounded
//! number of times. At the end, with the faults healed:
//! - every event ever answered 2xx is in S3, exactly once;
//! - every unique valid event is stored (each was answered 2xx in the end);
//! - nothing forged is stored;
//! - every stored event was published to the bus at least once, with its id.
//!
//! Bounded: a fixed number of deliveries, attempts and kills, and a time limit on the whole.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookwarden_testkit::deployment::{event_id, event_keys, BUCKET, BUS};
use hookwarden_testkit::load::{mix, shuffle};
use hookwarden_testkit::moto::MotoServer;
use hookwarden_testkit::proxy::{self, Action, Proxy, Service};
use hookwarden_testkit::runtime_api::{FunctionProcess, RuntimeApi};
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;
use serde_json::Value;

use crate::support::{id_of, sign_in_parallel, BINARY, CERT_KEY, MACHINE};

/// Unique signed events; two share each trace id.
const EVENTS: usize = 600;
/// Redeliveries of an event with its own headers.
const REDELIVERIES: usize = 300;
/// Replays of an event's signed content under a fresh trace id and nonce.
const REPLAYS: usize = 300;
/// Bodies changed under a real signature, or signed with another key.
const FORGERIES: usize = 150;
/// Function processes (concurrent executions) and deliveries in flight.
const PROCESSES: usize = 4;
const IN_FLIGHT: usize = 8;
/// Attempts a sender makes per delivery before giving up.
const MAX_ATTEMPTS: usize = 60;
/// SIGKILLs over the run, one every `KILL_EVERY`.
const KILLS: usize = 60;
const KILL_EVERY: Duration = Duration::from_millis(250);
/// Per AWS call: the dependency budget, and how long a stalled call is held before it is
/// forwarded anyway (so it may land after the function gave up on it).
const DEPENDENCY_TIMEOUT_MS: &str = "800";
const STALL: Duration = Duration::from_millis(1200);
/// How long an invocation may take before the sender counts it lost (a killed process).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(6);
const TIME_LIMIT: Duration = Duration::from_secs(420);
const SEED: u64 = 0x5EED_C4A0_5000_0001;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    First,
    Redelivery,
    Replay,
    Forged,
}

struct Delivery {
    kind: Kind,
    /// The event id hookwarden must give it (SHA-256 of the canonical form), or for a
    /// forgery, the id its body would have.
    id: String,
    event: Value,
}

fn knox_body(n: usize) -> Vec<u8> {
    format!(
        r#"{{"subscriptionId":"123456789123","event":"KG_DEVICE_LOCKED","payload":{{"deviceUid":"CHAOS-{n}","lastUpdatedAt":"1795000000000"}}}}"#
    )
    .into_bytes()
}

fn event(body: &[u8], signature: &str, trace: &str, nonce: &str) -> Value {
    with_request(
        &samples("knox")[0].1,
        body,
        &[
            ("x-wsm-signature", signature),
            ("x-wsm-traceid", trace),
            ("x-knox-nonce", nonce),
        ],
        false,
    )
}

/// What the faulty network does to the `n`-th AWS call: about one in six fails in some way.
fn fault(n: u64, request: &proxy::Request) -> Action {
    match mix(SEED ^ n) % 100 {
        0..=5 => Action::internal_error(),
        6..=9 => match request.service {
            Service::EventBridge => Action::eventbridge_throttled(),
            _ => Action::s3_slow_down(),
        },
        10..=12 => Action::Drop,
        13..=14 => Action::Delay(STALL),
        _ => Action::Forward,
    }
}

fn deliveries() -> Vec<Delivery> {
    let key = RsaSigningKey::from_pkcs8_pem(&test_key("knox-test-key.pem")).unwrap();
    let forger = {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        RsaSigningKey::from_pkcs8_der(&pair.serialize_der()).unwrap()
    };
    let numbers: Vec<usize> = (0..EVENTS).collect();
    let signed: Vec<(usize, Vec<u8>, String)> = sign_in_parallel(&numbers, |&n| {
        let body = knox_body(n);
        let signature = knox::sign(&body, &key).unwrap();
        (n, body, signature)
    });
    let mut all = Vec::new();
    for (n, body, signature) in &signed {
        // Two events per operation: one trace id for events 2k and 2k+1.
        let trace = format!("op-{}", n / 2);
        all.push(Delivery {
            kind: Kind::First,
            id: id_of(body),
            event: event(body, signature, &trace, &format!("nonce-{n}")),
        });
    }
    for r in 0..REDELIVERIES {
        let n = (r * 7) % EVENTS;
        let (_, body, signature) = &signed[n];
        all.push(Delivery {
            kind: Kind::Redelivery,
            id: id_of(body),
            event: event(
                body,
                signature,
                &format!("op-{}", n / 2),
                &format!("nonce-{n}"),
            ),
        });
    }
    for r in 0..REPLAYS {
        let n = (r * 11 + 3) % EVENTS;
        let (_, body, signature) = &signed[n];
        all.push(Delivery {
            kind: Kind::Replay,
            id: id_of(body),
            event: event(
                body,
                signature,
                &format!("replay-{r}"),
                &format!("fresh-{r}"),
            ),
        });
    }
    for f in 0..FORGERIES {
        let body = knox_body(EVENTS + f);
        let event = if f % 2 == 0 {
            // Another event's real signature over this body.
            let (_, _, signature) = &signed[f % EVENTS];
            event(&body, signature, &format!("forged-{f}"), "n")
        } else {
            let signature = knox::sign(&body, &forger).unwrap();
            event(&body, &signature, &format!("forged-{f}"), "n")
        };
        all.push(Delivery {
            kind: Kind::Forged,
            id: id_of(&body),
            event,
        });
    }
    shuffle(&mut all, SEED);
    all
}

/// How one delivery ended, after its retries.
struct Ended {
    kind: Kind,
    id: String,
    attempts: usize,
    /// The status of the last answer; `None` if every attempt timed out.
    status: Option<u16>,
    /// The reply's `id` on a 2xx.
    reply_id: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_under_faults_and_sigkill() {
    let _machine = MACHINE.write().await;
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET).await;
    moto.create_event_bus(BUS).await;
    moto.put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
    let capture = moto.capture_events(BUS).await;
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let proxy = Proxy::with_policy(
        &moto.endpoint(),
        Arc::new(move |request: &proxy::Request| {
            fault(counter.fetch_add(1, Ordering::Relaxed), request)
        }),
    )
    .await;
    let endpoint = proxy.url();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("HOOKWARDEN_SINK", "s3,eventbridge"),
        ("HOOKWARDEN_BUCKET", BUCKET),
        ("HOOKWARDEN_EVENT_BUS", BUS),
        ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", DEPENDENCY_TIMEOUT_MS),
        ("KNOX_CERT_KEY", CERT_KEY),
        ("KNOX_SUBSCRIPTION_IDS", "123456789123"),
    ];
    let api = Arc::new(RuntimeApi::start().await);
    let processes: Arc<Mutex<Vec<FunctionProcess>>> = Arc::new(Mutex::new(
        (0..PROCESSES)
            .map(|_| api.spawn_function(BINARY, &env))
            .collect(),
    ));

    let deliveries = deliveries();
    let total = deliveries.len();
    let started = Instant::now();
    let sending = async {
        let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        for delivery in deliveries {
            let permit = permits.clone().acquire_owned().await.unwrap();
            let api = api.clone();
            tasks.spawn(async move {
                let mut ended = Ended {
                    kind: delivery.kind,
                    id: delivery.id,
                    attempts: 0,
                    status: None,
                    reply_id: None,
                };
                // A forgery is refused with a 4xx, which a provider would also retry; a few
                // attempts show it never turns into a 2xx.
                let attempts = if delivery.kind == Kind::Forged {
                    3
                } else {
                    MAX_ATTEMPTS
                };
                while ended.attempts < attempts {
                    ended.attempts += 1;
                    if let Ok(response) = api.invoke(delivery.event.clone(), INVOKE_TIMEOUT).await {
                        let status = response["statusCode"].as_u64().unwrap() as u16;
                        ended.status = Some(status);
                        if (200..300).contains(&status) {
                            let body: Value =
                                serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
                            ended.reply_id = body["id"].as_str().map(str::to_string);
                            break;
                        }
                    } else {
                        ended.status = None;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                drop(permit);
                ended
            });
        }
        let mut ended = Vec::with_capacity(total);
        while let Some(joined) = tasks.join_next().await {
            ended.push(joined.unwrap());
        }
        ended
    };
    let killing = {
        let processes = processes.clone();
        let api = api.clone();
        let env = env.map(|(k, v)| (k.to_string(), v.to_string()));
        async move {
            let mut kills = 0;
            while kills < KILLS {
                tokio::time::sleep(KILL_EVERY).await;
                let victim = (mix(SEED ^ ((kills as u64 + 1) << 40)) % PROCESSES as u64) as usize;
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let fresh = api.spawn_function(BINARY, &env);
                let old = std::mem::replace(&mut processes.lock().unwrap()[victim], fresh);
                drop(old); // SIGKILL, wherever it was.
                kills += 1;
            }
            kills
        }
    };
    let (ended, kills) = tokio::time::timeout(TIME_LIMIT, async {
        let (ended, kills) = tokio::join!(sending, killing);
        (ended, kills)
    })
    .await
    .unwrap_or_else(|_| panic!("{total} deliveries took over {TIME_LIMIT:?}"));
    let wall = started.elapsed();
    let injected = proxy.answered();
    let aws_calls = calls.load(Ordering::Relaxed);
    // Healed: what is in S3 and on the bus now is what stays.
    proxy.set_policy(Arc::new(|_: &proxy::Request| Action::Forward));

    // Stored envelopes, by id.
    let keys = event_keys(&moto, "knox").await;
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for key in &keys {
        *stored.entry(event_id(key).to_string()).or_default() += 1;
    }

    let valid: BTreeSet<&str> = ended
        .iter()
        .filter(|e| e.kind != Kind::Forged)
        .map(|e| e.id.as_str())
        .collect();
    let forged: BTreeSet<&str> = ended
        .iter()
        .filter(|e| e.kind == Kind::Forged)
        .map(|e| e.id.as_str())
        .collect();
    let acknowledged: BTreeSet<&str> = ended
        .iter()
        .filter(|e| e.reply_id.is_some())
        .map(|e| e.id.as_str())
        .collect();
    let attempts: usize = ended.iter().map(|e| e.attempts).sum();
    let gave_up: Vec<&Ended> = ended
        .iter()
        .filter(|e| e.kind != Kind::Forged && e.reply_id.is_none())
        .collect();

    // Every stored event published at least once, with its id.
    let mut published: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !stored.keys().all(|id| published.contains_key(id)) {
        for event in capture.receive(usize::MAX, Duration::from_secs(2)).await {
            let id = event["detail"]["id"].as_str().unwrap().to_string();
            *published.entry(id).or_default() += 1;
        }
    }
    let bus_copies: usize = published.values().sum();

    println!(
        "chaos: {total} deliveries ({EVENTS} events, {REDELIVERIES} redeliveries, {REPLAYS} \
         replays under new ids, {FORGERIES} forgeries) in {wall:.1?}; {attempts} invocations; \
         {kills} SIGKILLs; {aws_calls} AWS calls, injected answers {injected:?}; \
         {} acknowledged ids, {} stored objects for {} ids, {} given up; bus: {} ids, {} \
         copies",
        acknowledged.len(),
        keys.len(),
        stored.len(),
        gave_up.len(),
        published.len(),
        bus_copies,
    );

    assert!(
        gave_up.is_empty(),
        "valid deliveries never acknowledged after {MAX_ATTEMPTS} attempts: {:?}",
        gave_up
            .iter()
            .map(|e| (&e.id, e.status))
            .collect::<Vec<_>>()
    );
    for e in &ended {
        if let Some(reply_id) = &e.reply_id {
            assert_eq!(reply_id, &e.id, "the reply names the event's id");
            assert_ne!(e.kind, Kind::Forged, "a forgery was acknowledged: {}", e.id);
        }
    }
    assert!(
        stored.values().all(|&n| n == 1),
        "an event stored twice: {stored:?}"
    );
    let stored_ids: BTreeSet<&str> = stored.keys().map(String::as_str).collect();
    assert!(
        acknowledged.is_subset(&stored_ids),
        "acknowledged but not stored: {:?}",
        acknowledged.difference(&stored_ids).collect::<Vec<_>>()
    );
    assert_eq!(
        stored_ids, valid,
        "exactly the unique valid events are stored"
    );
    assert!(stored_ids.is_disjoint(&forged), "a forgery was stored");
    assert_eq!(valid.len(), EVENTS);
    let unpublished: Vec<&&str> = stored_ids
        .iter()
        .filter(|id| !published.contains_key(**id))
        .collect();
    assert!(
        unpublished.is_empty(),
        "stored but never published: {unpublished:?}"
    );
    assert_eq!(kills, KILLS);
    assert!(
        injected.values().sum::<u64>() > 0,
        "the proxy injected no fault: the test proved nothing"
    );
}
