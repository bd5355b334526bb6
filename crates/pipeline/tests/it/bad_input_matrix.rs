//! The bad-input matrix through the real handlers with the local adapters (a directory as the
//! store, files as the bus): every row is one request and asserts the HTTP status, exactly one
//! log line for it with the right `outcome`, and that nothing was stored or published — every
//! file under the store and the bus is byte-for-byte what it was before the request. A few
//! rows are deliveries that must be stored, to show the rejections are not a broken handler.
//!
//! The function-URL-specific rows (`isBase64Encoded`, headers as API Gateway joins them) run
//! against the built `knox-webhook` binary in `functions/knox/tests/it/function_url.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hookwarden_pipeline::local::{files_under, StaticSecret};
use hookwarden_pipeline::ports::ObjectStore;
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::{Handler, Inbound, OneAccessHandler, ScalefusionHandler};
use hookwarden_verify::encoding::URL_UNPADDED;
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::{knox, scalefusion};

use crate::support::{post, request, Rig, CERT_KEY, KNOX_CERT, KNOX_KEY, MAX_BODY, NOW};

const SCALEFUSION_SECRET: &str =
    include_str!("../../../../events/test-keys/scalefusion-secret.json");
const ONEACCESS_SECRET: &str =
    include_str!("../../../../events/test-keys/oneaccess-encrypted.json");
/// One second after the test certificate's `notAfter`, 2125-01-01T00:00:00Z
/// (`date -u -d 2125-01-01 +%s` = 4891363200).
const AFTER_EXPIRY: i64 = 4_891_363_201;

// ---------------------------------------------------------------------------------------------
// The rig's views for the matrix: every file in the data directory before and after each
// request.

/// What a row must leave behind.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Effect {
    /// Not one byte changed under the store or the bus.
    Nothing,
    /// Exactly one more stored envelope and one more bus event.
    StoredOne,
}

impl Rig {
    /// Every file under the data directory with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(&self.root)
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).unwrap();
                (path.strip_prefix(&self.root).unwrap().to_path_buf(), bytes)
            })
            .collect()
    }

    /// Sends one request and checks status, the single log line and the effect on storage.
    async fn row(
        &mut self,
        name: &str,
        handler: &dyn Handler,
        request: Inbound,
        status: u16,
        outcome: &str,
        effect: Effect,
    ) {
        let before = self.snapshot();
        self.logs.take();
        let reply = handler.handle(request).await;
        let lines = self.logs.take();
        self.all_lines
            .extend(lines.iter().map(|line| line.to_string()));
        assert_eq!(reply.status, status, "{name}: {}", reply.body);
        assert!(
            serde_json::from_str::<serde_json::Value>(&reply.body).is_ok(),
            "{name}: the reply is not JSON: {}",
            reply.body
        );
        assert_eq!(
            lines.len(),
            1,
            "{name}: one log line per request: {lines:#?}"
        );
        let line = &lines[0];
        assert_eq!(line["outcome"], outcome, "{name}: {line}");
        assert_eq!(line["status"], status, "{name}: {line}");
        assert_eq!(
            line["provider"],
            handler.provider().name(),
            "{name}: {line}"
        );
        let after = self.snapshot();
        match effect {
            Effect::Nothing => {
                let changed: Vec<&PathBuf> = after
                    .keys()
                    .chain(before.keys())
                    .filter(|path| before.get(*path) != after.get(*path))
                    .collect();
                assert!(changed.is_empty(), "{name}: wrote {changed:?}");
            }
            Effect::StoredOne => {
                let added: Vec<&PathBuf> =
                    after.keys().filter(|p| !before.contains_key(*p)).collect();
                let envelopes = added
                    .iter()
                    .filter(|p| {
                        p.starts_with("store") && !p.components().any(|c| c.as_os_str() == "_state")
                    })
                    .count();
                let published = added.iter().filter(|p| p.starts_with("bus")).count();
                assert_eq!((envelopes, published), (1, 1), "{name}: added {added:?}");
                for (path, bytes) in &before {
                    assert_eq!(after.get(path), Some(bytes), "{name}: changed {path:?}");
                }
            }
        }
    }

    /// No captured line holds any of `needles`.
    fn assert_logs_hold_none_of(&self, needles: &[&str]) {
        for needle in needles.iter().filter(|n| n.len() >= 8) {
            for line in &self.all_lines {
                assert!(
                    !line.contains(needle),
                    "a log line holds secret material: {line}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Knox

fn knox_body(trace: &str) -> Vec<u8> {
    format!(
        r#"{{"subscriptionId":"123456789123","event":"KG_DEVICE_LOCKED","payload":{{"deviceId":"{trace}","ratio":1.10}}}}"#
    )
    .into_bytes()
}

fn test_key() -> RsaSigningKey {
    RsaSigningKey::from_pkcs8_pem(KNOX_KEY).unwrap()
}

/// An RSA key and a certificate for it that Knox never issued.
fn other_key() -> RsaSigningKey {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    RsaSigningKey::from_pkcs8_der(&key.serialize_der()).unwrap()
}

/// HMAC-SHA256, through the Scalefusion signer (hex of the MAC).
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    hex::decode(scalefusion::sign(key, message)).unwrap()
}

/// `protected.payload.signature` with any protected header and signature bytes.
fn jws(protected_json: &str, payload_of: &[u8], signature: &[u8]) -> String {
    let protected = URL_UNPADDED.encode(protected_json);
    let payload = hookwarden_verify::encoding::URL_PADDED.encode(payload_of);
    format!("{protected}.{payload}.{}", URL_UNPADDED.encode(signature))
}

#[tokio::test(flavor = "current_thread")]
async fn knox_rows() {
    let mut rig = Rig::new();
    let _logs = rig.logs.install();
    rig.store
        .put(CERT_KEY, KNOX_CERT.as_bytes().to_vec(), "")
        .await
        .unwrap();
    let handler = rig.knox(NOW, false).await;
    let body = knox_body("device-1");
    let signature = knox::sign(&body, &test_key()).unwrap();
    let headers = |trace: &'static str| {
        let signature = signature.clone();
        move |nonce: &'static str| {
            vec![
                ("x-wsm-signature", signature.clone()),
                ("x-wsm-traceid", trace.to_string()),
                ("x-knox-nonce", nonce.to_string()),
            ]
        }
    };
    let send = |headers: Vec<(&'static str, String)>, body: &[u8]| {
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        post(&pairs, body)
    };
    use Effect::{Nothing, StoredOne};

    rig.row(
        "a valid delivery",
        &handler,
        send(headers("trace-1")("nonce-1"), &body),
        200,
        "stored",
        StoredOne,
    )
    .await;
    rig.row(
        "the same delivery again",
        &handler,
        send(headers("trace-1")("nonce-1"), &body),
        200,
        "duplicate",
        Nothing,
    )
    .await;

    // Signature header present or not, once or twice.
    rig.row(
        "no X-WSM-SIGNATURE",
        &handler,
        post(&[("x-wsm-traceid", "trace-2")], &body),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "empty X-WSM-SIGNATURE",
        &handler,
        post(
            &[("x-wsm-signature", " "), ("x-wsm-traceid", "trace-2")],
            &body,
        ),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    let twice = [
        ("x-wsm-signature", signature.as_str()),
        ("x-wsm-signature", signature.as_str()),
        ("x-wsm-traceid", "trace-2"),
    ];
    rig.row(
        "X-WSM-SIGNATURE twice, both valid",
        &handler,
        post(&twice, &body),
        400,
        "malformed",
        Nothing,
    )
    .await;
    let not_text = request(
        "POST",
        &[
            ("x-wsm-signature", b"\xff\xfe.a.b"),
            ("x-wsm-traceid", b"trace-2"),
        ],
        &body,
    );
    rig.row(
        "X-WSM-SIGNATURE not visible ASCII",
        &handler,
        not_text,
        400,
        "malformed",
        Nothing,
    )
    .await;

    // Transport.
    for method in ["GET", "PUT", "DELETE", "OPTIONS"] {
        let headers: Vec<(&str, &[u8])> = vec![
            ("x-wsm-signature", signature.as_bytes()),
            ("x-wsm-traceid", b"trace-3"),
        ];
        rig.row(
            &format!("method {method}"),
            &handler,
            request(method, &headers, &body),
            405,
            "method_not_allowed",
            Nothing,
        )
        .await;
    }
    let oversize = [b"{\"a\":\"".as_slice(), &vec![b'x'; MAX_BODY], b"\"}"].concat();
    rig.row(
        "body over the limit",
        &handler,
        send(headers("trace-3")("nonce-3"), &oversize),
        413,
        "too_large",
        Nothing,
    )
    .await;
    let form = b"subscriptionId=123456789123&event=KG_DEVICE_LOCKED";
    let mut form_headers = headers("trace-3")("nonce-3");
    form_headers.push(("content-type", "application/x-www-form-urlencoded".into()));
    rig.row(
        "a form body (wrong content type)",
        &handler,
        send(form_headers, form),
        400,
        "malformed",
        Nothing,
    )
    .await;

    // Algorithm confusion: the key is pinned, whatever the header says.
    let input = |protected: &str| {
        format!(
            "{}.{}",
            URL_UNPADDED.encode(protected),
            hookwarden_verify::encoding::URL_PADDED.encode(jackson_form(&body))
        )
    };
    let none_unsigned = format!("{}.", input(r#"{"alg":"none"}"#));
    let none_signed = jws(r#"{"alg":"none"}"#, &jackson_form(&body), &[0u8; 256]);
    let hs256 = format!(
        "{}.{}",
        input(r#"{"alg":"HS256"}"#),
        URL_UNPADDED.encode(hmac_sha256(
            KNOX_CERT.as_bytes(),
            input(r#"{"alg":"HS256"}"#).as_bytes()
        ))
    );
    let other = knox::sign(&body, &other_key()).unwrap();
    for (name, header, status, outcome) in [
        ("alg none, empty signature", none_unsigned, 400, "malformed"),
        (
            "alg none with a signature",
            none_signed,
            401,
            "signature_rejected",
        ),
        (
            "HS256 keyed with the certificate",
            hs256,
            401,
            "signature_rejected",
        ),
        (
            "RS256 by a key with another certificate",
            other,
            401,
            "signature_rejected",
        ),
    ] {
        let headers = [
            ("x-wsm-signature", header.as_str()),
            ("x-wsm-traceid", "trace-4"),
        ];
        rig.row(
            name,
            &handler,
            post(&headers, &body),
            status,
            outcome,
            Nothing,
        )
        .await;
    }

    // The body changed while the JWS (whose middle part still encodes the old body) stayed.
    let changed = knox_body("device-2");
    rig.row(
        "body changed, JWS unchanged",
        &handler,
        send(headers("trace-5")("nonce-5"), &changed),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;

    // Unsigned headers are metadata: no value of theirs refuses, splits or merges an event.
    // The same signed content under any of them is the stored event again.
    for (name, trace, nonce) in [
        ("trace id with a path", "../../etc/passwd", "nonce-6"),
        ("nonce with a space", "trace-6", "a b"),
        (
            "replayed under a new trace id, old nonce",
            "trace-7",
            "nonce-1",
        ),
        (
            "replayed under a new trace id and nonce",
            "trace-7",
            "nonce-7",
        ),
    ] {
        rig.row(
            name,
            &handler,
            send(headers(trace)(nonce), &body),
            200,
            "duplicate",
            Nothing,
        )
        .await;
    }

    // The content type is not signed and not read: a JSON body labelled text/plain is stored.
    let other = knox_body("device-8");
    let other_signature = knox::sign(&other, &test_key()).unwrap();
    rig.row(
        "JSON labelled text/plain",
        &handler,
        send(
            vec![
                ("x-wsm-signature", other_signature),
                ("content-type", "text/plain".into()),
            ],
            &other,
        ),
        200,
        "stored",
        StoredOne,
    )
    .await;

    // An expired certificate: nothing can be verified, so the provider is asked to retry.
    let expired = rig.knox(AFTER_EXPIRY, false).await;
    rig.row(
        "certificate expired",
        &expired,
        send(headers("trace-9")("nonce-9"), &body),
        503,
        "unavailable",
        Nothing,
    )
    .await;

    let parts: Vec<&str> = signature.split('.').collect();
    rig.assert_logs_hold_none_of(&[&signature, parts[1], parts[2]]);
}

/// The canonical form Knox signs, for hand-built JWS values.
fn jackson_form(body: &[u8]) -> Vec<u8> {
    hookwarden_verify::jackson::canonicalize(body).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Scalefusion

fn scalefusion_secret() -> String {
    let json: serde_json::Value = serde_json::from_str(SCALEFUSION_SECRET).unwrap();
    json["secret_key"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn scalefusion_rows() {
    let mut rig = Rig::new();
    let _logs = rig.logs.install();
    let secrets = SecretCache::new(
        Arc::new(StaticSecret::new(SCALEFUSION_SECRET)),
        Duration::from_secs(300),
    );
    let handler = ScalefusionHandler::new(rig.context("scalefusion", NOW), secrets);
    let secret = scalefusion_secret();
    let body = |id: &str| {
        format!(r#"{{"id":"{id}","event":"device.locked","data":{{"devices":[]}}}}"#).into_bytes()
    };
    let signed = |body: &[u8]| scalefusion::sign(secret.as_bytes(), body);
    let first = body("4f1c2a9e-0001");
    use Effect::{Nothing, StoredOne};

    rig.row(
        "a valid delivery",
        &handler,
        post(&[("x-sf-signature", &signed(&first))], &first),
        200,
        "stored",
        StoredOne,
    )
    .await;
    rig.row(
        "the same delivery again",
        &handler,
        post(&[("x-sf-signature", &signed(&first))], &first),
        200,
        "duplicate",
        Nothing,
    )
    .await;

    let second = body("4f1c2a9e-0002");
    let good = signed(&second);
    rig.row(
        "no X-SF-Signature",
        &handler,
        post(&[], &second),
        406,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "empty X-SF-Signature",
        &handler,
        post(&[("x-sf-signature", "")], &second),
        406,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "X-SF-Signature twice",
        &handler,
        post(
            &[("x-sf-signature", &good), ("x-sf-signature", &good)],
            &second,
        ),
        400,
        "malformed",
        Nothing,
    )
    .await;
    rig.row(
        "X-SF-Signature neither hex nor base64",
        &handler,
        post(&[("x-sf-signature", "not a mac")], &second),
        400,
        "malformed",
        Nothing,
    )
    .await;
    rig.row(
        "X-SF-Signature truncated",
        &handler,
        post(&[("x-sf-signature", &good[..63])], &second),
        400,
        "malformed",
        Nothing,
    )
    .await;
    for method in ["GET", "PATCH"] {
        let headers: Vec<(&str, &[u8])> = vec![("x-sf-signature", good.as_bytes())];
        rig.row(
            &format!("method {method}"),
            &handler,
            request(method, &headers, &second),
            405,
            "method_not_allowed",
            Nothing,
        )
        .await;
    }
    let wrong = scalefusion::sign(b"not-the-secret", &second);
    rig.row(
        "signed with another secret",
        &handler,
        post(&[("x-sf-signature", &wrong)], &second),
        406,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "body changed, signature unchanged",
        &handler,
        post(&[("x-sf-signature", &good)], &body("4f1c2a9e-0003")),
        406,
        "signature_rejected",
        Nothing,
    )
    .await;
    // Correctly signed, of a shape nobody documented: authentic, so stored as sent.
    let form = b"id=4f1c2a9e-0004&event=device.locked";
    rig.row(
        "a signed form body (wrong content type)",
        &handler,
        post(
            &[
                ("x-sf-signature", &signed(form)),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            form,
        ),
        200,
        "stored",
        StoredOne,
    )
    .await;
    rig.row(
        "a signed JSON array",
        &handler,
        post(&[("x-sf-signature", &signed(b"[1]"))], b"[1]"),
        200,
        "stored",
        StoredOne,
    )
    .await;
    let oversize = vec![b' '; MAX_BODY + 1];
    rig.row(
        "body over the limit",
        &handler,
        post(&[("x-sf-signature", &signed(&oversize))], &oversize),
        413,
        "too_large",
        Nothing,
    )
    .await;
    rig.row(
        "JSON labelled text/plain",
        &handler,
        post(
            &[("x-sf-signature", &good), ("content-type", "text/plain")],
            &second,
        ),
        200,
        "stored",
        StoredOne,
    )
    .await;

    rig.assert_logs_hold_none_of(&[&secret, &good, &signed(&first)]);
}

// ---------------------------------------------------------------------------------------------
// OneAccess

#[tokio::test(flavor = "current_thread")]
async fn oneaccess_rows() {
    let mut rig = Rig::new();
    let _logs = rig.logs.install();
    let now_ms = NOW * 1000;
    let secrets = SecretCache::new(
        Arc::new(StaticSecret::new(ONEACCESS_SECRET)),
        Duration::from_secs(300),
    );
    let handler = OneAccessHandler::new(
        rig.context("oneaccess", NOW),
        secrets,
        Duration::from_secs(300),
    );
    let config = Config::from_secret_json(ONEACCESS_SECRET).unwrap();
    let bearer = format!("Bearer {}", config.bearer_token.as_str());
    let msg = r#"{"username":"zhang.san","name":"Zhang San","password":"P@ss&word1-secret"}"#;
    let build = |nonce: &str, timestamp_ms: i64| {
        oneaccess::build_request("CREATE_USER", msg, &config, nonce, timestamp_ms)
            .unwrap()
            .into_bytes()
    };
    let auth = |body: &[u8]| post(&[("authorization", &bearer)], body);
    use Effect::{Nothing, StoredOne};

    let first = build("nonceAAAAAAAAAAA", now_ms);
    rig.row(
        "a valid delivery",
        &handler,
        auth(&first),
        200,
        "stored",
        StoredOne,
    )
    .await;
    rig.row(
        "the same delivery again",
        &handler,
        auth(&first),
        200,
        "duplicate",
        Nothing,
    )
    .await;

    let second = build("nonceBBBBBBBBBBB", now_ms);
    rig.row(
        "no Authorization",
        &handler,
        post(&[], &second),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "empty Authorization",
        &handler,
        post(&[("authorization", "")], &second),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "a wrong bearer token",
        &handler,
        post(
            &[(
                "authorization",
                "Bearer hookwarden-TEST-ONLY-oneaccess-token-wrong",
            )],
            &second,
        ),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "Basic instead of Bearer",
        &handler,
        post(
            &[("authorization", &bearer.replace("Bearer", "Basic"))],
            &second,
        ),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    rig.row(
        "Authorization twice",
        &handler,
        post(
            &[("authorization", &bearer), ("authorization", &bearer)],
            &second,
        ),
        400,
        "malformed",
        Nothing,
    )
    .await;
    for method in ["GET", "PUT"] {
        let headers: Vec<(&str, &[u8])> = vec![("authorization", bearer.as_bytes())];
        rig.row(
            &format!("method {method}"),
            &handler,
            request(method, &headers, &second),
            405,
            "method_not_allowed",
            Nothing,
        )
        .await;
    }

    // Replays: an authentic callback outside the window.
    rig.row(
        "timestamp 301 s old",
        &handler,
        auth(&build("nonceCCCCCCCCCCC", now_ms - 301_000)),
        401,
        "replayed",
        Nothing,
    )
    .await;
    rig.row(
        "timestamp 301 s ahead",
        &handler,
        auth(&build("nonceDDDDDDDDDDD", now_ms + 301_000)),
        401,
        "replayed",
        Nothing,
    )
    .await;
    // A nonce reused with another timestamp is other signed content, which only the key
    // holder can produce: another event.
    rig.row(
        "nonce reused with another timestamp",
        &handler,
        auth(&build("nonceAAAAAAAAAAA", now_ms + 1)),
        200,
        "stored",
        StoredOne,
    )
    .await;

    // Tampering: a signed field changed, the signature removed.
    let mut fields: serde_json::Value = serde_json::from_slice(&second).unwrap();
    fields["eventType"] = "DELETE_USER".into();
    rig.row(
        "eventType changed, signature unchanged",
        &handler,
        auth(fields.to_string().as_bytes()),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    let mut fields: serde_json::Value = serde_json::from_slice(&second).unwrap();
    let data = fields["data"].as_str().unwrap().to_string();
    let other_first = if data.starts_with('A') { 'B' } else { 'A' };
    fields["data"] = format!("{other_first}{}", &data[1..]).into();
    rig.row(
        "data changed, signature unchanged",
        &handler,
        auth(fields.to_string().as_bytes()),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;
    let mut fields: serde_json::Value = serde_json::from_slice(&second).unwrap();
    fields["signature"] = "".into();
    rig.row(
        "signature emptied",
        &handler,
        auth(fields.to_string().as_bytes()),
        401,
        "signature_rejected",
        Nothing,
    )
    .await;

    let form = b"nonce=nonceEEEEEEEEEEE&eventType=CREATE_USER";
    rig.row(
        "a form body (wrong content type)",
        &handler,
        post(
            &[
                ("authorization", &bearer),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            form,
        ),
        400,
        "malformed",
        Nothing,
    )
    .await;
    let oversize = vec![b' '; MAX_BODY + 1];
    rig.row(
        "body over the limit",
        &handler,
        auth(&oversize),
        413,
        "too_large",
        Nothing,
    )
    .await;
    rig.row(
        "JSON labelled text/plain",
        &handler,
        post(
            &[("authorization", &bearer), ("content-type", "text/plain")],
            &second,
        ),
        200,
        "stored",
        StoredOne,
    )
    .await;

    let signature_key = config.signature_key.as_ref().unwrap();
    let encryption_key = &config.encryption.as_ref().unwrap().key;
    rig.assert_logs_hold_none_of(&[
        config.bearer_token.as_str(),
        signature_key.as_str(),
        encryption_key.as_str(),
        "P@ss&word1-secret",
        fields["data"].as_str().unwrap(),
    ]);
}

#[test]
fn the_rig_sees_every_file() {
    // The "nothing stored" checks are only as good as the snapshot: a file written anywhere
    // under the data directory must show up in it.
    let rig = Rig::new();
    let before = rig.snapshot();
    let nested: &Path = Path::new("store/knox/_state/ids/x");
    std::fs::create_dir_all(rig.root.join(nested).parent().unwrap()).unwrap();
    std::fs::write(rig.root.join(nested), b"").unwrap();
    let after = rig.snapshot();
    assert_eq!(after.len(), before.len() + 1);
    assert!(after.contains_key(nested));
}
