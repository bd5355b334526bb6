//! `oneaccess-webhook` under the Runtime API against moto: the CHECK_URL handshake with no
//! sink configured, then user events stored with their passwords redacted, stale callbacks
//! refused, and the HMAC-SHA1 scheme of Huawei's "Verifying Callback URL" example accepted
//! end to end.

use hookwarden_testkit::deployment::{Deployment, BUS, INVOKE_TIMEOUT};
use hookwarden_testkit::log_audit::sample_needles;
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::oneaccess::{self, Config, MacAlgorithm};
use sha2::{Digest as _, Sha256};

use crate::support::{now_ms, BINARY, SECRET_ID};

async fn deploy(sink: Option<&str>) -> (Deployment, Config) {
    deploy_with("oneaccess-encrypted.json", sink).await
}

async fn deploy_with(secret_file: &str, sink: Option<&str>) -> (Deployment, Config) {
    let mut deployment = Deployment::prepare(BINARY).await;
    let secret = test_key(secret_file);
    deployment.moto.create_secret(SECRET_ID, &secret).await;
    deployment.start(sink, &[("ONEACCESS_SECRET_ID", SECRET_ID)]);
    (deployment, Config::from_secret_json(&secret).unwrap())
}

/// A request OneAccess would send now, as a function URL event.
fn request(
    config: &Config,
    event_type: &str,
    msg: &str,
    nonce: &str,
    timestamp_ms: i64,
) -> serde_json::Value {
    request_with(
        MacAlgorithm::HmacSha256,
        config,
        event_type,
        msg,
        nonce,
        timestamp_ms,
    )
}

/// The same, signed with `mac`.
fn request_with(
    mac: MacAlgorithm,
    config: &Config,
    event_type: &str,
    msg: &str,
    nonce: &str,
    timestamp_ms: i64,
) -> serde_json::Value {
    let body =
        oneaccess::build_request_with(mac, event_type, msg, config, nonce, timestamp_ms).unwrap();
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
async fn user_events_are_stored_redacted_and_stale_ones_refused() {
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

    // The same delivery again gets the same answer and stores nothing new.
    let (status, again) = deployment.invoke(event).await;
    assert_eq!(status, 200);
    assert_eq!(
        decrypted_data(&config, &again),
        decrypted_data(&config, &reply)
    );
    assert_eq!(deployment.events("oneaccess").await.len(), 1);
    // The nonce with a new timestamp is other signed content, which only the key holder can
    // make: another event.
    let reused_nonce = request(
        &config,
        "CREATE_USER",
        msg,
        "AbCdEfGhIjKlMnOp",
        timestamp + 1,
    );
    let (status, reply) = deployment.invoke(reused_nonce).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (200, Some("200")),
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
    assert_eq!(deployment.events("oneaccess").await.len(), 2);
    deployment.assert_logs_clean(&sample_needles("oneaccess/encrypted"));
}

/// A tenant on the HMAC-SHA1 scheme (the 20-byte signature of Huawei's "Verifying Callback
/// URL" example): the handshake is answered and events are stored, the envelope and the log
/// line say which MAC matched, and a wrong 20-byte signature is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_sha1_callbacks_verify_end_to_end() {
    let (deployment, config) = deploy(Some("s3")).await;
    let sha1 = MacAlgorithm::HmacSha1;
    let (status, reply) = deployment
        .invoke(request_with(
            sha1,
            &config,
            "CHECK_URL",
            "echo-me-7",
            "NonceSha1Check00",
            now_ms(),
        ))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(decrypted_data(&config, &reply), "echo-me-7");

    let msg = r#"{"code":"1000004","name":"Shenzhen branch"}"#;
    let event = request_with(
        sha1,
        &config,
        "CREATE_ORGANIZATION",
        msg,
        "NonceSha1Event00",
        now_ms(),
    );
    let (status, reply) = deployment.invoke(event.clone()).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (200, Some("200")),
        "{reply}"
    );
    let keys = deployment.events("oneaccess").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let envelope = deployment.envelope(&keys[0]).await;
    assert_eq!(envelope["verified_by"]["scheme"], "hmac-sha1");
    assert_eq!(envelope["event_type"], "CREATE_ORGANIZATION");
    let sha1_lines = deployment
        .logs()
        .lines()
        .filter(|l| l.contains("\"scheme\":\"hmac-sha1\""))
        .count();
    assert_eq!(
        sha1_lines,
        2,
        "handshake and event, each counted: {}",
        deployment.logs()
    );

    // A wrong 20-byte signature: refused, nothing stored.
    let mut forged = event;
    let mut body: serde_json::Value =
        serde_json::from_str(forged["body"].as_str().unwrap()).unwrap();
    body["nonce"] = "NonceSha1Forged0".into();
    body["signature"] = "K08yDiTEc094KoccOY+VYLQFxxQ=".into();
    forged["body"] = body.to_string().into();
    let (status, reply) = deployment.invoke(forged).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (401, Some("401")),
        "{reply}"
    );
    assert_eq!(deployment.events("oneaccess").await.len(), 1);
    deployment.assert_logs_clean(&sample_needles("oneaccess/encrypted"));
}

/// No credential at rest (review A1): a CREATE_USER and an UPDATE_USER carry passwords in
/// `data`, in clear when encryption is off. In either mode, no S3 object (state included), no
/// bus entry and no log line holds a password in any spelling, nor an unsalted hash that
/// would confirm one (review R1: the SHA-256 of the signed content or of the body as sent, as
/// `id`, `content_sha256`, `body_sha256` or the log's `event_id`), and the envelope says what
/// was removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_is_stored_published_or_logged_in_either_mode() {
    use base64::Engine as _;
    for secret_file in ["oneaccess-plain.json", "oneaccess-encrypted.json"] {
        let (deployment, config) = deploy_with(secret_file, Some("s3,eventbridge")).await;
        let capture = deployment.moto.capture_events(BUS).await;
        let passwords = ["Pl4in&Passw0rd\"q", "N3w-Pass/word+x", "0ld-Passphrase"];
        let create = format!(
            r#"{{"username":"wang.wu","name":"Wang Wu","password":{}}}"#,
            serde_json::to_string(passwords[0]).unwrap()
        );
        let update = format!(
            r#"{{"id":"wang.wu","username":"wang.wu","newPassword":{},"profile":{{"PassPhrase":{},"tags":[{{"userPwd":{}}}]}}}}"#,
            serde_json::to_string(passwords[1]).unwrap(),
            serde_json::to_string(passwords[2]).unwrap(),
            serde_json::to_string(passwords[0]).unwrap(),
        );
        // The unsalted hashes a reader of the bucket, the bus or the logs could test password
        // guesses against: of the signed content, and of the body as sent.
        let mut oracles = Vec::new();
        for (event_type, msg, nonce) in [
            ("CREATE_USER", &create, "NonceCreateUser1"),
            ("UPDATE_USER", &update, "NonceUpdateUser1"),
        ] {
            let event = request(&config, event_type, msg, nonce, now_ms());
            let body = event["body"].as_str().unwrap().to_string();
            let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
            let content = oneaccess::signed_content(
                nonce,
                &sent["timestamp"].to_string(),
                event_type,
                sent["data"].as_str().unwrap(),
            );
            oracles.push(hex::encode(Sha256::digest(content.as_slice())));
            oracles.push(hex::encode(Sha256::digest(body.as_bytes())));
            let (status, reply) = deployment.invoke(event).await;
            assert_eq!(status, 200, "{secret_file} {event_type}: {reply}");
        }
        let keys = deployment
            .moto
            .list_keys(hookwarden_testkit::deployment::BUCKET, "oneaccess/")
            .await;
        let mut written = Vec::new();
        for key in &keys {
            let bytes = deployment
                .moto
                .get_object(hookwarden_testkit::deployment::BUCKET, key)
                .await
                .unwrap();
            written.push((key.clone(), String::from_utf8_lossy(&bytes).into_owned()));
        }
        let published = capture.receive(2, INVOKE_TIMEOUT).await;
        assert_eq!(published.len(), 2, "{secret_file}");
        for event in &published {
            written.push(("bus".into(), event.to_string()));
        }
        written.push(("logs".into(), deployment.logs()));
        for oracle in &oracles {
            for (place, text) in &written {
                assert!(
                    !text.contains(oracle.as_str()),
                    "{secret_file}: {place} holds an unsalted hash over a password ({oracle})"
                );
            }
        }
        assert!(
            deployment.logs().contains("\"event_id\""),
            "the log lines name the event"
        );
        for password in passwords {
            let escaped = serde_json::to_string(password).unwrap();
            let spellings = [
                password.to_string(),
                escaped.trim_matches('"').to_string(),
                base64::engine::general_purpose::STANDARD.encode(password),
            ];
            for (place, text) in &written {
                for spelling in &spellings {
                    assert!(
                        !text.contains(spelling.as_str()),
                        "{secret_file}: {place} holds a password as {spelling:?}"
                    );
                }
            }
        }
        let envelopes: Vec<serde_json::Value> = deployment
            .events("oneaccess")
            .await
            .iter()
            .map(|key| {
                let text = &written.iter().find(|(k, _)| k == key).unwrap().1;
                serde_json::from_str(text).unwrap()
            })
            .collect();
        assert_eq!(envelopes.len(), 2);
        for envelope in &envelopes {
            let removed: Vec<&str> = envelope["redacted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert!(removed.contains(&"body.data"), "{removed:?}");
            assert_eq!(envelope["body"]["data"], "[removed: see message]");
            assert_eq!(envelope["content_sha256"], envelope["id"]);
            match envelope["event_type"].as_str().unwrap() {
                "CREATE_USER" => assert!(removed.contains(&"message.password")),
                _ => {
                    for path in [
                        "message.newPassword",
                        "message.profile.PassPhrase",
                        "message.profile.tags[0].userPwd",
                    ] {
                        assert!(removed.contains(&path), "{path} in {removed:?}");
                    }
                    assert_eq!(envelope["message"]["username"], "wang.wu");
                }
            }
        }
    }
}

/// Review R8: an authentic CREATE_USER whose message has no `username` (a console mapping that
/// spells it `userName`) is stored once and answered OneAccess's success, with the same id, on
/// every delivery; before, it was stored and then answered 500 each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_without_its_key_is_stored_and_answered_success() {
    let (deployment, config) = deploy_with("oneaccess-plain.json", Some("s3")).await;
    let event = request(
        &config,
        "CREATE_USER",
        r#"{"userName":"zhao.liu","name":"Zhao Liu"}"#,
        "NoUsernameNonce1",
        now_ms(),
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, reply) = deployment.invoke(event.clone()).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (200, Some("200")),
            "{reply}"
        );
        let data: serde_json::Value =
            serde_json::from_str(reply["data"].as_str().unwrap()).unwrap();
        ids.push(data["id"].as_str().unwrap().to_string());
    }
    let keys = deployment.events("oneaccess").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let envelope = deployment.envelope(&keys[0]).await;
    let id = envelope["id"].as_str().unwrap();
    assert!(ids.iter().all(|answer| answer == &id[..50]), "{ids:?}");
    deployment.assert_logs_clean(&sample_needles("oneaccess/plain"));
}
