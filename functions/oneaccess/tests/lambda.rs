//! `oneaccess-webhook` under the Runtime API against moto: the CHECK_URL handshake with no
//! sink configured, then user events stored with their passwords redacted, and replays
//! refused.

use hookwarden_testkit::deployment::{Deployment, BUS, INVOKE_TIMEOUT};
use hookwarden_testkit::log_audit::sample_needles;
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::oneaccess::{self, Config};

const SECRET_ID: &str = "hookwarden/oneaccess";
const BINARY: &str = env!("CARGO_BIN_EXE_oneaccess-webhook");

async fn deploy(sink: Option<&str>) -> (Deployment, Config) {
    let mut deployment = Deployment::prepare(BINARY).await;
    let secret = test_key("oneaccess-encrypted.json");
    deployment.moto.create_secret(SECRET_ID, &secret).await;
    deployment.start(sink, &[("ONEACCESS_SECRET_ID", SECRET_ID)]);
    (deployment, Config::from_secret_json(&secret).unwrap())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A request OneAccess would send now, as a function URL event.
fn request(
    config: &Config,
    event_type: &str,
    msg: &str,
    nonce: &str,
    timestamp_ms: i64,
) -> serde_json::Value {
    let body = oneaccess::build_request(event_type, msg, config, nonce, timestamp_ms).unwrap();
    let bearer = format!("Bearer {}", config.bearer_token.as_str());
    with_request(
        &samples("oneaccess/encrypted")[0].1,
        body.as_bytes(),
        &[("authorization", &bearer)],
        false,
    )
}

fn decrypted_data(config: &Config, reply: &serde_json::Value) -> String {
    oneaccess::decrypt(
        reply["data"].as_str().unwrap(),
        config.encryption.as_ref().unwrap(),
    )
    .unwrap()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_url_is_answered_without_a_sink_and_events_need_one() {
    let (deployment, config) = deploy(None).await;
    let (status, reply) = deployment
        .invoke(request(
            &config,
            "CHECK_URL",
            "a-random-string-9",
            "jmgjjEAJbrMzWmUw",
            now_ms(),
        ))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["code"], "200");
    assert_eq!(decrypted_data(&config, &reply), "a-random-string-9");

    let msg = r#"{"code":"1000003","name":"Wuhan branch"}"#;
    let (status, reply) = deployment
        .invoke(request(
            &config,
            "CREATE_ORGANIZATION",
            msg,
            "bqVHvThFGooCRjSf",
            now_ms(),
        ))
        .await;
    assert!(
        status >= 500,
        "no sink: nothing can be stored, so no 2xx ({status} {reply})"
    );
    deployment.assert_logs_clean(&sample_needles("oneaccess/encrypted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_events_are_stored_redacted_and_replays_refused() {
    let (deployment, config) = deploy(Some("s3,eventbridge")).await;
    let capture = deployment.moto.capture_events(BUS).await;
    let msg = r#"{"username":"li.si","name":"Li Si","organizationId":"1000003","password":"S3cret&Pass","disabled":false}"#;
    let timestamp = now_ms();
    let event = request(&config, "CREATE_USER", msg, "AbCdEfGhIjKlMnOp", timestamp);
    let (status, reply) = deployment.invoke(event.clone()).await;
    assert_eq!(status, 200, "{reply}");
    let id: serde_json::Value = serde_json::from_str(&decrypted_data(&config, &reply)).unwrap();
    assert_eq!(id["id"], "li.si");

    let keys = deployment.events("oneaccess").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let envelope = deployment.envelope(&keys[0]).await;
    assert_eq!(envelope["message"]["password"], "[redacted]");
    assert_eq!(envelope["message"]["username"], "li.si");
    assert!(
        !deployment.logs().contains("S3cret"),
        "no password in the logs"
    );
    let published = capture.receive(1, INVOKE_TIMEOUT).await;
    assert_eq!(published[0]["source"], "hookwarden.oneaccess");
    assert_eq!(published[0]["detail-type"], "CREATE_USER");
    assert_eq!(published[0]["detail"]["message"]["password"], "[redacted]");

    // The same delivery again gets the same answer; the nonce with a new timestamp is a replay.
    assert_eq!(deployment.invoke(event).await.0, 200);
    let replay = request(
        &config,
        "CREATE_USER",
        msg,
        "AbCdEfGhIjKlMnOp",
        timestamp + 1,
    );
    let (status, reply) = deployment.invoke(replay).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (401, Some("401")),
        "{reply}"
    );
    let stale = request(
        &config,
        "CREATE_USER",
        msg,
        "ZzZzZzZzZzZzZzZz",
        timestamp - 3_600_000,
    );
    assert_eq!(deployment.invoke(stale).await.0, 401);
    assert_eq!(deployment.events("oneaccess").await.len(), 1);
    deployment.assert_logs_clean(&sample_needles("oneaccess/encrypted"));
}
