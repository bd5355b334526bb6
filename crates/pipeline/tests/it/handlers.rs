//! The three handlers end to end over the local adapters: a real directory as the store,
//! files as the bus, the committed test keys.

use std::sync::Arc;
use std::time::Duration;

use hookwarden_pipeline::local::StaticSecret;
use hookwarden_pipeline::quarantine::QuarantinedRequest;
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::{Handler, KnoxHandler, OneAccessHandler, ScalefusionHandler};
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::{knox, scalefusion};
use sha2::Digest as _;
use time::OffsetDateTime;

use crate::support::{files, post, Rig, KNOX_KEY, KNOX_SUBSCRIPTION, NOW};

const ONEACCESS_ENCRYPTED: &str =
    include_str!("../../../../events/test-keys/oneaccess-encrypted.json");
const ONEACCESS_PLAIN: &str = include_str!("../../../../events/test-keys/oneaccess-plain.json");

impl Rig {
    /// Stored envelopes (not state records) and bus events.
    fn counts(&self) -> (usize, usize) {
        let events = files(&self.root.join("store"))
            .into_iter()
            .filter(|f| !f.contains("/_"))
            .count();
        (events, files(&self.root.join("bus")).len())
    }

    fn raw_envelopes(&self) -> Vec<String> {
        files(&self.root.join("store"))
            .into_iter()
            .filter(|f| !f.contains("/_"))
            .map(|f| std::fs::read_to_string(self.root.join("store").join(f)).unwrap())
            .collect()
    }

    fn envelopes(&self) -> Vec<serde_json::Value> {
        self.raw_envelopes()
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect()
    }

    /// The objects under `knox/_quarantine/`.
    fn quarantined(&self) -> Vec<QuarantinedRequest> {
        files(&self.root.join("store"))
            .into_iter()
            .filter(|f| f.starts_with("knox/_quarantine/"))
            .map(|f| {
                serde_json::from_slice(&std::fs::read(self.root.join("store").join(f)).unwrap())
                    .unwrap()
            })
            .collect()
    }
}

const KNOX_BODY: &[u8] = br#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"123456789","batteryLevel":85,"ratio":1.10}}"#;

fn knox_signature(body: &[u8]) -> String {
    knox::sign(body, &RsaSigningKey::from_pkcs8_pem(KNOX_KEY).unwrap()).unwrap()
}

#[tokio::test]
async fn knox_identity_is_the_signed_content_never_the_trace_id_or_nonce() {
    let rig = Rig::new();
    let handler = rig.knox(NOW, true).await;
    let request = |trace: &str, nonce: &str, body: &[u8], signature: &str| {
        post(
            &[
                ("x-wsm-signature", signature),
                ("x-wsm-traceid", trace),
                ("x-knox-nonce", nonce),
            ],
            body,
        )
    };
    let signature = knox_signature(KNOX_BODY);

    let reply = handler
        .handle(request("trace-1", "nonce-1", KNOX_BODY, &signature))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("\"stored\""));
    assert_eq!(rig.counts(), (1, 1));
    let envelope = &rig.envelopes()[0];
    let id = envelope["id"].as_str().unwrap().to_string();
    let canonical = hookwarden_verify::jackson::canonicalize(KNOX_BODY).unwrap();
    assert_eq!(id, hex::encode(sha2::Sha256::digest(&canonical)));
    assert_eq!(envelope["content_sha256"], id);
    assert_eq!(envelope["unsigned"]["trace_id"], "trace-1");
    assert_eq!(envelope["unsigned"]["nonce"], "nonce-1");
    assert_eq!(envelope["event_type"], "KAI_BATTERY_STATUS");
    assert_eq!(envelope["verified_by"]["kind"], "certificate");
    assert_eq!(envelope["verified_by"]["form"], "canonical-padded");
    // The body is kept verbatim: Samsung signs 1.10 as 1.1, the store keeps what was sent.
    assert!(rig.raw_envelopes()[0].contains(r#""ratio":1.10}"#));

    // A provider retry, a replay under a fresh trace id and nonce, and a whitespace variant of
    // the same body (Samsung's signature covers its canonical form): all one event, answered
    // 200 duplicate, nothing new written.
    let variant = br#"{ "subscriptionId" : "123456789123", "event":"KAI_BATTERY_STATUS",
        "payload":{ "imei":"123456789", "batteryLevel":85, "ratio":1.10 } }"#;
    for (trace, nonce, body) in [
        ("trace-1", "nonce-1", KNOX_BODY),
        ("replayed-trace", "fresh-nonce", KNOX_BODY),
        ("trace-2", "nonce-2", &variant[..]),
    ] {
        let again = handler
            .handle(request(trace, nonce, body, &signature))
            .await;
        assert_eq!(
            (again.status, again.body.contains("duplicate")),
            (200, true),
            "{trace}: {}",
            again.body
        );
        assert!(again.body.contains(&id));
    }
    assert_eq!(rig.counts(), (1, 1), "nothing new stored or published");

    // Two different signed callbacks under one trace id and one nonce: two events.
    let locked = br#"{"subscriptionId":"123456789123","event":"KG_DEVICE_LOCKED","payload":{"deviceUid":"d1"}}"#;
    let unlocked = br#"{"subscriptionId":"123456789123","event":"KG_DEVICE_UNLOCKED","payload":{"deviceUid":"d1"}}"#;
    for body in [&locked[..], &unlocked[..]] {
        let reply = handler
            .handle(request("op-7", "nonce-7", body, &knox_signature(body)))
            .await;
        assert!(reply.body.contains("\"stored\""), "{}", reply.body);
    }
    assert_eq!(rig.counts(), (3, 3));

    // Unsigned headers of any shape never refuse an authentic callback.
    let odd = br#"{"subscriptionId":"123456789123","event":"KG_DEVICE_ENROLLED"}"#;
    let reply = handler
        .handle(request("a b/../c", "é?", odd, &knox_signature(odd)))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(rig.counts(), (4, 4));

    let tampered = String::from_utf8(KNOX_BODY.to_vec())
        .unwrap()
        .replace("85", "86");
    assert_eq!(
        handler
            .handle(request(
                "trace-3",
                "nonce-3",
                tampered.as_bytes(),
                &signature
            ))
            .await
            .status,
        401
    );
    let broken = String::from_utf8(KNOX_BODY.to_vec())
        .unwrap()
        .replace("85", "8 5");
    assert_eq!(
        handler
            .handle(request("trace-3", "nonce-3", broken.as_bytes(), &signature))
            .await
            .status,
        400
    );
    assert_eq!(
        handler
            .handle(post(&[("x-wsm-traceid", "t4")], KNOX_BODY))
            .await
            .status,
        401
    );
    assert_eq!(rig.counts(), (4, 4), "nothing forged was stored");
}

#[tokio::test]
async fn knox_subscription_allowlist_refuses_foreign_subscriptions() {
    let rig = Rig::new();
    let handler = rig
        .knox(NOW, true)
        .await
        .allow_subscriptions(["123456789123".to_string(), "other".to_string()]);
    let ours = KNOX_BODY;
    let foreign = br#"{"subscriptionId":"566797f70f280325c20ff234","event":"KG_DEVICE_LOCKED"}"#;
    let none = br#"{"event":"KG_DEVICE_LOCKED"}"#;
    let not_a_string = br#"{"subscriptionId":123456789123,"event":"KG_DEVICE_LOCKED"}"#;
    let send = |body: &'static [u8]| {
        let signature = knox_signature(body);
        let handler = &handler;
        async move {
            handler
                .handle(post(&[("x-wsm-signature", &signature)], body))
                .await
        }
    };
    for body in [&foreign[..], &none[..], &not_a_string[..]] {
        let reply = send(body).await;
        assert_eq!(reply.status, 403, "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(
        rig.counts(),
        (0, 0),
        "nothing of a foreign subscription stored"
    );
    assert_eq!(send(ours).await.status, 200);
    assert_eq!(rig.counts(), (1, 1));
    // A forgery is still a 401, whatever subscription it names.
    let forged = post(&[("x-wsm-signature", &knox_signature(ours))], foreign);
    assert_eq!(handler.handle(forged).await.status, 401);
}

/// R2: with no subscription listed, an authentic callback (any Knox customer's) never reaches
/// the stream: it is kept under `knox/_quarantine/`, once per signed content and within a
/// budget, and once its subscription is listed, re-sending the kept request stores it once.
#[tokio::test]
async fn knox_without_a_subscription_list_quarantines_and_never_delivers() {
    let rig = Rig::new();
    rig.knox(NOW, true).await;
    let onboarding = rig.knox_unlisted(NOW).quarantine_per_minute(3);
    let stranger = br#"{"subscriptionId":"566797f70f280325c20ff234","event":"KG_DEVICE_LOCKED"}"#;
    async fn send(handler: &KnoxHandler, body: &[u8], trace: &str) -> hookwarden_pipeline::Reply {
        let request = post(
            &[
                ("x-wsm-signature", &knox_signature(body)),
                ("x-wsm-traceid", trace),
                ("content-type", "application/json"),
            ],
            body,
        );
        handler.handle(request).await
    }
    for (body, trace) in [
        (KNOX_BODY, "t-1"),
        (KNOX_BODY, "t-2"),
        (&stranger[..], "t-3"),
    ] {
        let reply = send(&onboarding, body, trace).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains("\"quarantined\""), "{}", reply.body);
    }
    assert_eq!(
        rig.counts(),
        (0, 0),
        "nothing stored as an event, nothing published"
    );
    let kept = rig.quarantined();
    assert_eq!(kept.len(), 2, "one object per signed content");
    // Over the budget: 503, so Knox retries later; nothing written.
    let another = br#"{"subscriptionId":"999","event":"KG_DEVICE_LOCKED"}"#;
    assert_eq!(send(&onboarding, another, "t-4").await.status, 503);
    assert_eq!(rig.quarantined().len(), 2);
    // A forgery is never quarantined.
    let forged = post(&[("x-wsm-signature", &knox_signature(KNOX_BODY))], stranger);
    assert_eq!(rig.knox_unlisted(NOW).handle(forged).await.status, 401);

    // The kept request is what re-verification needs: the exact bytes and the signature.
    let ours = kept
        .iter()
        .find(|k| k.subscription_id.as_deref() == Some(KNOX_SUBSCRIPTION))
        .unwrap();
    assert_eq!(ours.body().unwrap(), KNOX_BODY);
    assert_eq!(ours.headers["x-wsm-signature"], knox_signature(KNOX_BODY));
    assert_eq!(ours.event_type.as_deref(), Some("KAI_BATTERY_STATUS"));

    // Listed: re-sending admits it once; the stranger's stays refused.
    let listed = rig.knox(NOW, true).await;
    for record in &kept {
        let headers: Vec<(&str, &str)> = record
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let body = record.body().unwrap();
        let first = listed.handle(post(&headers, &body)).await;
        let again = listed.handle(post(&headers, &body)).await;
        if record.subscription_id.as_deref() == Some(KNOX_SUBSCRIPTION) {
            assert!(first.body.contains("\"stored\""), "{}", first.body);
            assert!(again.body.contains("\"duplicate\""), "{}", again.body);
        } else {
            assert_eq!((first.status, again.status), (403, 403));
        }
    }
    assert_eq!(rig.counts(), (1, 1));
    assert_eq!(rig.envelopes()[0]["id"], ours.id);
}

#[tokio::test]
async fn knox_without_a_valid_certificate_answers_503() {
    let rig = Rig::new();
    let signature = knox_signature(KNOX_BODY);
    let headers = [
        ("x-wsm-signature", signature.as_str()),
        ("x-wsm-traceid", "t"),
    ];
    let missing = rig.knox(NOW, false).await;
    assert_eq!(missing.handle(post(&headers, KNOX_BODY)).await.status, 503);
    // The committed test certificate is long-lived; far in the future it has expired.
    let expired = rig.knox(4_102_444_800 * 2, true).await;
    assert_eq!(expired.handle(post(&headers, KNOX_BODY)).await.status, 503);
    assert_eq!(rig.counts(), (0, 0));
}

#[tokio::test]
async fn transport_checks_come_first() {
    let rig = Rig::new();
    let handler = rig.knox(NOW, true).await;
    let mut get = post(&[], b"");
    get.method = http::Method::GET;
    assert_eq!(handler.handle(get).await.status, 405);
    assert_eq!(handler.handle(post(&[], &[b' '; 4097])).await.status, 413);
    let duplicated = post(
        &[("x-wsm-signature", "a.b.c"), ("x-wsm-signature", "d.e.f")],
        KNOX_BODY,
    );
    assert_eq!(handler.handle(duplicated).await.status, 400);
}

#[tokio::test]
async fn scalefusion_accepts_the_previous_secret_during_rotation() {
    let rig = Rig::new();
    let secrets = StaticSecret::new(r#"{"secret_key":"new-secret"}"#)
        .with_previous(r#"{"secret_key":"old-secret"}"#);
    let handler = ScalefusionHandler::new(
        rig.context("scalefusion", NOW),
        SecretCache::new(Arc::new(secrets), Duration::from_secs(300)),
    );
    let body = br#"{"id":"4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10","event":"device.locked","created_at":"2026-11-18T00:00:00Z","data":{"devices":[]}}"#;

    let old = scalefusion::sign(b"old-secret", body);
    let reply = handler
        .handle(post(&[("x-sf-signature", &old)], body))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        rig.envelopes()[0]["verified_by"]["version_id"],
        "local-previous"
    );

    let forged = scalefusion::sign(b"guess", body);
    assert_eq!(
        handler
            .handle(post(&[("x-sf-signature", &forged)], body))
            .await
            .status,
        406
    );
    assert_eq!(handler.handle(post(&[], body)).await.status, 406);
    assert_eq!(rig.counts(), (1, 1));
}

/// Rotating a leaked secret revokes it: once the grace period after the rotation is over, a
/// request signed with the rotated-out value (AWSPREVIOUS) is refused.
#[tokio::test]
async fn scalefusion_refuses_the_previous_secret_after_the_grace_period() {
    let rig = Rig::new();
    let rotated = OffsetDateTime::now_utc() - time::Duration::hours(2);
    let secrets = StaticSecret::new(r#"{"secret_key":"new-secret"}"#)
        .with_previous(r#"{"secret_key":"leaked-secret"}"#)
        .rotated_at(rotated);
    let handler = ScalefusionHandler::new(
        rig.context("scalefusion", NOW),
        SecretCache::new(Arc::new(secrets), Duration::from_secs(300)),
    );
    let body =
        br#"{"id":"4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a11","event":"device.locked","data":{}}"#;
    let leaked = scalefusion::sign(b"leaked-secret", body);
    let reply = handler
        .handle(post(&[("x-sf-signature", &leaked)], body))
        .await;
    assert_eq!(reply.status, 406, "{}", reply.body);
    assert_eq!(rig.counts(), (0, 0));
    let new = scalefusion::sign(b"new-secret", body);
    let reply = handler
        .handle(post(&[("x-sf-signature", &new)], body))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// A flood of forged requests costs at most one Secrets Manager read per execution
/// environment and minute: here, the first read and nothing more.
#[tokio::test]
async fn forged_requests_do_not_make_the_secret_be_read_again() {
    let rig = Rig::new();
    let secrets = Arc::new(StaticSecret::new(r#"{"secret_key":"the-secret"}"#));
    let handler = ScalefusionHandler::new(
        rig.context("scalefusion", NOW),
        SecretCache::new(secrets.clone(), Duration::from_secs(300)),
    );
    let body = br#"{"id":"1","event":"device.locked"}"#;
    let forged = scalefusion::sign(b"a-guess", body);
    for _ in 0..50 {
        let reply = handler
            .handle(post(&[("x-sf-signature", &forged)], body))
            .await;
        assert_eq!(reply.status, 406);
    }
    // AWSCURRENT, and AWSPREVIOUS because the rotation that made it current is recent.
    assert_eq!(secrets.fetches(), 2);
}

/// OneAccess: a request without the bearer token, or with a wrong one, never makes the
/// function read the secret: a bare POST costs no GetSecretValue call.
#[tokio::test]
async fn oneaccess_requests_without_the_bearer_token_do_not_read_the_secret() {
    let rig = Rig::new();
    let now_ms = NOW * 1000;
    let secrets = Arc::new(StaticSecret::new(ONEACCESS_PLAIN));
    let handler = OneAccessHandler::new(
        rig.context("oneaccess", NOW),
        SecretCache::new(secrets.clone(), Duration::from_secs(300)),
        Duration::from_secs(300),
    );
    let config = Config::from_secret_json(ONEACCESS_PLAIN).unwrap();
    let body = oneaccess::build_request("CHECK_URL", "random", &config, "jmgjjEAJbrMzWmUw", now_ms)
        .unwrap();
    let reply = handler.handle(post(&[], body.as_bytes())).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    let read = secrets.fetches();
    assert!(read <= 2, "{read}");
    for headers in [&[][..], &[("authorization", "Bearer wrong-token")][..]] {
        for _ in 0..20 {
            let reply = handler.handle(post(headers, body.as_bytes())).await;
            assert_eq!(reply.status, 401, "{}", reply.body);
        }
    }
    assert_eq!(secrets.fetches(), read);
    assert_eq!(rig.counts(), (0, 0));
}

fn oneaccess_handler(rig: &Rig, now_ms: i64, with_sink: bool) -> OneAccessHandler {
    let secrets = StaticSecret::new(ONEACCESS_ENCRYPTED).with_previous(ONEACCESS_PLAIN);
    let mut context = rig.context("oneaccess", now_ms / 1000);
    if !with_sink {
        context.delivery = None;
    }
    OneAccessHandler::new(
        context,
        SecretCache::new(Arc::new(secrets), Duration::from_secs(300)),
        Duration::from_secs(300),
    )
}

fn bearer(config: &Config) -> String {
    format!("Bearer {}", config.bearer_token.as_str())
}

#[tokio::test]
async fn oneaccess_check_url_is_answered_without_a_sink() {
    let rig = Rig::new();
    let now_ms = NOW * 1000;
    let handler = oneaccess_handler(&rig, now_ms, false);
    for secret in [ONEACCESS_PLAIN, ONEACCESS_ENCRYPTED] {
        let config = Config::from_secret_json(secret).unwrap();
        let body = oneaccess::build_request(
            "CHECK_URL",
            "random string 42",
            &config,
            "jmgjjEAJbrMzWmUw",
            now_ms,
        )
        .unwrap();
        let reply = handler
            .handle(post(
                &[("authorization", &bearer(&config))],
                body.as_bytes(),
            ))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let reply: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(reply["code"], "200");
        let data = reply["data"].as_str().unwrap();
        let echoed = match &config.encryption {
            Some(encryption) => oneaccess::decrypt(data, encryption).unwrap().to_string(),
            None => data.to_string(),
        };
        assert_eq!(echoed, "random string 42");
    }
    assert_eq!(rig.counts(), (0, 0));
}

#[tokio::test]
async fn oneaccess_events_store_redacted_messages_and_reject_stale_ones() {
    let rig = Rig::new();
    let now_ms = NOW * 1000;
    let handler = oneaccess_handler(&rig, now_ms, true);
    let config = Config::from_secret_json(ONEACCESS_ENCRYPTED).unwrap();
    let msg = r#"{"username":"zhang.san","name":"Zhang San","organizationId":"1000003","password":"P@ss&word1","disabled":false}"#;
    let body =
        oneaccess::build_request("CREATE_USER", msg, &config, "bqVHvThFGooCRjSf", now_ms).unwrap();
    let auth = bearer(&config);

    let reply = handler
        .handle(post(&[("authorization", &auth)], body.as_bytes()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let data = oneaccess::decrypt(
        reply["data"].as_str().unwrap(),
        config.encryption.as_ref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&data).unwrap()["id"],
        "zhang.san"
    );
    let envelope = &rig.envelopes()[0];
    assert_eq!(envelope["message"]["password"], "[redacted]");
    assert!(!rig.raw_envelopes()[0].contains("P@ss"));

    // The same delivery again: same answer, nothing new.
    assert_eq!(
        handler
            .handle(post(&[("authorization", &auth)], body.as_bytes()))
            .await
            .status,
        200
    );
    assert_eq!(rig.counts(), (1, 1));
    // The nonce again with another timestamp is other signed content, which only the key
    // holder can make: another event, stored.
    let reused_nonce =
        oneaccess::build_request("CREATE_USER", msg, &config, "bqVHvThFGooCRjSf", now_ms + 1)
            .unwrap();
    assert_eq!(
        handler
            .handle(post(&[("authorization", &auth)], reused_nonce.as_bytes()))
            .await
            .status,
        200
    );
    assert_eq!(rig.counts(), (2, 2));
    // Outside the window.
    let stale = oneaccess::build_request(
        "CREATE_USER",
        msg,
        &config,
        "AAAAAAAAAAAAAAAA",
        now_ms - 301_000,
    )
    .unwrap();
    assert_eq!(
        handler
            .handle(post(&[("authorization", &auth)], stale.as_bytes()))
            .await
            .status,
        401
    );
    // A wrong token.
    assert_eq!(
        handler
            .handle(post(&[("authorization", "Bearer nope")], body.as_bytes()))
            .await
            .status,
        401
    );
    assert_eq!(rig.counts(), (2, 2));
}

/// Review R8: an authentic OneAccess create whose record lacks its key (`userName` instead
/// of `username`, a message that is not JSON) is stored once and answered with OneAccess's
/// success on every delivery, never stored and then answered 5xx.
#[tokio::test]
async fn oneaccess_records_without_their_key_are_stored_once_and_answered_success() {
    let rig = Rig::new();
    let now_ms = NOW * 1000;
    let handler = oneaccess_handler(&rig, now_ms, true);
    let config = Config::from_secret_json(ONEACCESS_ENCRYPTED).unwrap();
    let auth = bearer(&config);
    for (stored, (event_type, msg, nonce)) in [
        (
            "CREATE_USER",
            r#"{"userName":"zhao.liu"}"#,
            "NoUsernameNonce1",
        ),
        ("CREATE_ORGANIZATION", "not json", "NotJsonNonce0001"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = oneaccess::build_request(event_type, msg, &config, nonce, now_ms).unwrap();
        let mut answers = Vec::new();
        for _ in 0..3 {
            let reply = handler
                .handle(post(&[("authorization", &auth)], body.as_bytes()))
                .await;
            assert_eq!(reply.status, 200, "{event_type}: {}", reply.body);
            let reply: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(reply["code"], "200");
            let data = oneaccess::decrypt(
                reply["data"].as_str().unwrap(),
                config.encryption.as_ref().unwrap(),
            )
            .unwrap();
            answers.push(serde_json::from_str::<serde_json::Value>(&data).unwrap()["id"].clone());
        }
        assert_eq!(rig.counts(), (stored + 1, stored + 1), "{event_type}");
        // The id is the event's own (its first 50 hex digits), the same on every delivery.
        let envelope = rig
            .envelopes()
            .into_iter()
            .find(|e| e["event_type"] == event_type)
            .unwrap();
        let id = envelope["id"].as_str().unwrap();
        assert!(
            answers.iter().all(|answer| answer == &id[..50]),
            "{answers:?}"
        );
    }
}

/// Review R4: during a rotation's grace period, an AWSPREVIOUS that cannot be read (access
/// denied on the old version's KMS key, throttling, no `SecretString`) fails no request signed
/// with AWSCURRENT, and neither those nor forged ones read it again each time.
#[tokio::test]
async fn an_unreadable_previous_secret_blocks_nothing_and_is_not_reread() {
    use hookwarden_pipeline::ports::{DependencyError, SecretSource, SecretStage, SecretValue};
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct PreviousDenied {
        current: StaticSecret,
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl SecretSource for PreviousDenied {
        async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            match stage {
                SecretStage::Current => self.current.fetch(stage).await,
                SecretStage::Previous => Err(DependencyError::new(
                    "secretsmanager",
                    "AccessDeniedException: access to KMS is not allowed",
                )),
            }
        }
    }

    let rig = Rig::new();
    let secrets = Arc::new(PreviousDenied {
        // Rotated moments ago: in grace, so AWSPREVIOUS is wanted.
        current: StaticSecret::new(r#"{"secret_key":"new-secret"}"#)
            .rotated_at(OffsetDateTime::now_utc()),
        reads: AtomicUsize::new(0),
    });
    let handler = ScalefusionHandler::new(
        rig.context("scalefusion", NOW),
        SecretCache::new(secrets.clone(), Duration::from_secs(300)),
    );
    for n in 0..20 {
        let body = format!(r#"{{"id":"{n}","event":"device.locked"}}"#);
        let signed = scalefusion::sign(b"new-secret", body.as_bytes());
        let reply = handler
            .handle(post(&[("x-sf-signature", &signed)], body.as_bytes()))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let forged = scalefusion::sign(b"a-guess", body.as_bytes());
        let reply = handler
            .handle(post(&[("x-sf-signature", &forged)], body.as_bytes()))
            .await;
        assert_eq!(reply.status, 406, "{}", reply.body);
    }
    assert_eq!(rig.counts(), (20, 20));
    assert_eq!(
        secrets.reads.load(Ordering::SeqCst),
        2,
        "each stage read once"
    );
}
