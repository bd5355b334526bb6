//! The three handlers end to end over the local adapters: a real directory as the store,
//! files as the bus, the committed test keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hookwarden_pipeline::certificate::CertificateCache;
use hookwarden_pipeline::clock::Clock;
use hookwarden_pipeline::delivery::Delivery;
use hookwarden_pipeline::local::{files_under, DirStore, FileBus, StaticSecret};
use hookwarden_pipeline::ports::ObjectStore;
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::{
    Common, Handler, Inbound, KnoxHandler, OneAccessHandler, ScalefusionHandler,
};
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::{knox, scalefusion};
use time::OffsetDateTime;

const KNOX_KEY: &str = include_str!("../../../events/test-keys/knox-test-key.pem");
const KNOX_CERT: &str = include_str!("../../../events/test-keys/knox-test-cert.pem");
const ONEACCESS_ENCRYPTED: &str =
    include_str!("../../../events/test-keys/oneaccess-encrypted.json");
const ONEACCESS_PLAIN: &str = include_str!("../../../events/test-keys/oneaccess-plain.json");
const CERT_KEY: &str = "knox/_certificate/knox.pem";
const NOW: i64 = 1_795_000_000; // 2026-11-18

struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: Arc<DirStore>,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let store = Arc::new(DirStore::new(root.join("store")));
        Self {
            _dir: dir,
            root,
            store,
        }
    }

    fn common(&self, prefix: &str, now: i64) -> Common {
        let bus = Arc::new(FileBus::new(self.root.join("bus")));
        Common {
            delivery: Some(Delivery::new(self.store.clone(), true, Some(bus), prefix)),
            max_body: 4096,
            clock: Clock::fixed(OffsetDateTime::from_unix_timestamp(now).unwrap()),
        }
    }

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

    async fn knox(&self, now: i64, with_certificate: bool) -> KnoxHandler {
        if with_certificate {
            self.store
                .put(CERT_KEY, KNOX_CERT.as_bytes().to_vec(), "")
                .await
                .unwrap();
        }
        let certs = CertificateCache::new(self.store.clone(), CERT_KEY, None);
        KnoxHandler::new(self.common("knox", now), certs)
    }
}

/// The files below `dir`, as paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .iter()
        .map(|path| path.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

fn post(headers: &[(&str, &str)], body: &[u8]) -> Inbound {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        map.append(
            http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    Inbound {
        method: http::Method::POST,
        headers: map,
        body: body.to_vec().into(),
        source_ip: Some("192.0.2.1".into()),
    }
}

const KNOX_BODY: &[u8] = br#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"123456789","batteryLevel":85,"ratio":1.10}}"#;

fn knox_signature(body: &[u8]) -> String {
    knox::sign(body, &RsaSigningKey::from_pkcs8_pem(KNOX_KEY).unwrap()).unwrap()
}

#[tokio::test]
async fn knox_stores_once_and_rejects_forgeries_and_nonce_reuse() {
    let rig = Rig::new();
    let handler = rig.knox(NOW, true).await;
    let signature = knox_signature(KNOX_BODY);
    let request = |trace: &str, nonce: &str, body: &[u8]| {
        post(
            &[
                ("x-wsm-signature", &signature),
                ("x-wsm-traceid", trace),
                ("x-knox-nonce", nonce),
            ],
            body,
        )
    };

    let reply = handler
        .handle(request("trace-1", "nonce-1", KNOX_BODY))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("\"stored\""));
    assert_eq!(rig.counts(), (1, 1));
    let envelope = &rig.envelopes()[0];
    assert_eq!(envelope["id"], "trace-1");
    assert_eq!(envelope["event_type"], "KAI_BATTERY_STATUS");
    assert_eq!(envelope["verified_by"]["kind"], "certificate");
    // The body is kept verbatim: Samsung signs 1.10 as 1.1, the store keeps what was sent.
    assert!(rig.raw_envelopes()[0].contains(r#""ratio":1.10}"#));

    let again = handler
        .handle(request("trace-1", "nonce-1", KNOX_BODY))
        .await;
    assert_eq!(
        (again.status, again.body.contains("duplicate")),
        (200, true)
    );
    assert_eq!(
        rig.counts(),
        (1, 1),
        "a redelivery stores and publishes nothing new"
    );

    let reused = handler
        .handle(request("trace-2", "nonce-1", KNOX_BODY))
        .await;
    assert_eq!(reused.status, 409);

    let tampered = String::from_utf8(KNOX_BODY.to_vec())
        .unwrap()
        .replace("85", "86");
    assert_eq!(
        handler
            .handle(request("trace-3", "nonce-3", tampered.as_bytes()))
            .await
            .status,
        401
    );
    let broken = String::from_utf8(KNOX_BODY.to_vec())
        .unwrap()
        .replace("85", "8 5");
    assert_eq!(
        handler
            .handle(request("trace-3", "nonce-3", broken.as_bytes()))
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
    assert_eq!(
        rig.counts(),
        (1, 1),
        "nothing forged or replayed was stored"
    );
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
        rig.common("scalefusion", NOW),
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

fn oneaccess_handler(rig: &Rig, now_ms: i64, with_sink: bool) -> OneAccessHandler {
    let secrets = StaticSecret::new(ONEACCESS_ENCRYPTED).with_previous(ONEACCESS_PLAIN);
    let mut common = rig.common("oneaccess", now_ms / 1000);
    if !with_sink {
        common.delivery = None;
    }
    OneAccessHandler::new(
        common,
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
async fn oneaccess_events_store_redacted_messages_and_reject_replays() {
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
    // The nonce again with another timestamp: a replay.
    let replay =
        oneaccess::build_request("CREATE_USER", msg, &config, "bqVHvThFGooCRjSf", now_ms + 1)
            .unwrap();
    assert_eq!(
        handler
            .handle(post(&[("authorization", &auth)], replay.as_bytes()))
            .await
            .status,
        401
    );
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
    assert_eq!(rig.counts(), (1, 1));
}
