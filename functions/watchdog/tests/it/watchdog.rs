//! `silence-watchdog` under the Runtime API against moto: `EventsStored` data points put at
//! chosen times before now (the history), one scheduled run, and its verdicts stream by
//! stream — providers, tenants and event types — in its answer, its heartbeat EMF line and
//! the message on the alarm topic. A run that cannot read the metrics writes no heartbeat,
//! so the heartbeat alarm (missing data breaching) reports a failing watchdog.

use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use hookwarden_testkit::deployment::{Deployment, INVOKE_TIMEOUT};
use hookwarden_testkit::emf;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_silence-watchdog");
const CADENCES: &str =
    "knox/*/KAI_BATTERY_STATUS=4h, knox/*/KAI_APP_ANR_FC=2h, scalefusion/*/*=off";

/// One stored event of `stream` (provider, tenant, event type) `ago` before now, as the
/// functions' EMF line records it: by stream and by provider.
fn stored(stream: [&str; 3], ago: Duration) -> Vec<MetricDatum> {
    let at = DateTime::from(std::time::SystemTime::now() - ago);
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let datum = |dimensions: Vec<Dimension>| {
        MetricDatum::builder()
            .metric_name("EventsStored")
            .set_dimensions(Some(dimensions))
            .timestamp(at)
            .value(1.0)
            .unit(StandardUnit::Count)
            .build()
    };
    vec![
        datum(vec![
            dimension("Provider", stream[0]),
            dimension("Tenant", stream[1]),
            dimension("EventType", stream[2]),
        ]),
        datum(vec![dimension("Provider", stream[0])]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_names_each_silent_stream_and_beats() {
    let mut deployment = Deployment::prepare(BINARY).await;
    let config = deployment.moto.sdk_config().await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let hour = Duration::from_secs(3600);
    let history = [
        // Battery reports stopped five hours ago: silent for an hour already.
        (["knox", "(default)", "KAI_BATTERY_STATUS"], 5 * hour),
        (["knox", "(default)", "KAI_BATTERY_STATUS"], 8 * hour),
        // The hourly ANR check last reported 2 h 5 min ago: fell silent since the last run.
        (
            ["knox", "(default)", "KAI_APP_ANR_FC"],
            2 * hour + Duration::from_secs(300),
        ),
        // Another tenant's battery reports keep coming.
        (["knox", "acme", "KAI_BATTERY_STATUS"], hour),
        (["knox", "acme", "KAI_BATTERY_STATUS"], 5 * hour),
        // Event-driven traffic, long quiet, not watched.
        (["scalefusion", "globex", "device.locked"], 30 * hour),
    ];
    for (stream, ago) in history {
        cloudwatch
            .put_metric_data()
            .namespace("Hookwarden")
            .set_metric_data(Some(stored(stream, ago)))
            .send()
            .await
            .expect("PutMetricData on moto");
    }
    // The alarm topic, read through an SQS subscription.
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns.create_topic().name("alarms").send().await.unwrap();
    let topic = topic.topic_arn().unwrap().to_string();
    let sqs = deployment.moto.sqs().await;
    let queue = sqs.create_queue().queue_name("inbox").send().await.unwrap();
    let queue_url = queue.queue_url().unwrap().to_string();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint("arn:aws:sqs:us-east-1:123456789012:inbox")
        .send()
        .await
        .unwrap();

    deployment.start(
        None,
        &[
            ("HOOKWARDEN_STREAM_CADENCES", CADENCES),
            ("HOOKWARDEN_ALARM_TOPIC", &topic),
        ],
    );
    let scheduled =
        json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}});
    let answer = deployment
        .api
        .invoke(scheduled.clone(), INVOKE_TIMEOUT)
        .await
        .unwrap_or_else(|err| panic!("{err}\n{}", deployment.logs()));
    assert_eq!(
        answer,
        json!({
            "streams": 4,
            "watched": 3,
            "silent": ["knox/(default)/KAI_APP_ANR_FC", "knox/(default)/KAI_BATTERY_STATUS"],
            "announced": ["knox/(default)/KAI_APP_ANR_FC"],
        }),
        "{}",
        deployment.logs()
    );

    let beats = |logs: &str| -> Vec<(f64, f64)> {
        let data = emf::data(logs);
        let value = |name: &str| {
            data.iter()
                .filter(|d| {
                    d.name == name && d.dimensions == [("Watchdog".into(), "streams".into())]
                })
                .map(|d| d.value)
                .collect::<Vec<_>>()
        };
        value("WatchdogRuns")
            .into_iter()
            .zip(value("SilentStreams"))
            .collect()
    };
    assert_eq!(beats(&deployment.logs()), [(1.0, 2.0)]);

    let messages = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = messages
        .messages()
        .iter()
        .filter_map(|m| m.body())
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0].contains("knox/(default)/KAI_APP_ANR_FC SILENT"),
        "{}",
        bodies[0]
    );
    assert!(!bodies[0].contains("acme"), "{}", bodies[0]);

    // CloudWatch unreachable: the run fails and writes no heartbeat.
    deployment.moto.stop();
    let failed = deployment.api.invoke(scheduled, INVOKE_TIMEOUT).await;
    assert!(failed.is_err(), "{failed:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(beats(&deployment.logs()).len(), 1, "{}", deployment.logs());
}
