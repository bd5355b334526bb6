//! The events each receiver is sent: function URL events (payload format 2.0) carrying a
//! correctly signed 2 KiB callback, unique per call so that every one is stored (no dedupe
//! shortcut), signed with the TEST-ONLY keys in `events/test-keys`.

use base64::Engine as _;
use hookwarden_verify::encoding::{URL_PADDED, URL_UNPADDED};
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::scalefusion;
use serde_json::{json, Value};

pub const KNOX_CERT_PEM: &str = include_str!("../../events/test-keys/knox-test-cert.pem");
const KNOX_KEY_PEM: &str = include_str!("../../events/test-keys/knox-test-key.pem");
pub const SCALEFUSION_SECRET: &str = include_str!("../../events/test-keys/scalefusion-secret.json");
pub const ONEACCESS_SECRET: &str = include_str!("../../events/test-keys/oneaccess-encrypted.json");

/// Body size of every callback, in bytes (a typical Knox KAI event is 1–3 KiB).
pub const BODY_BYTES: usize = 2048;
/// `{"alg":"RS256"}`, base64url: the JWS header part, which the verifier uses verbatim.
const JWS_HEADER: &str = "eyJhbGciOiJSUzI1NiJ9";

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("the TEST-ONLY Knox key in events/test-keys is unusable: {0}")]
    KnoxKey(hookwarden_verify::rsa::RsaError),
    #[error("events/test-keys/{file} is not the expected secret JSON: {detail}")]
    Secret { file: &'static str, detail: String },
    #[error("building a OneAccess callback failed: {0}")]
    OneAccess(oneaccess::OneAccessError),
}

/// Which callback a receiver is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Knox,
    Scalefusion,
    OneAccess,
}

/// Makes the `n`th event for one provider.
pub enum EventMaker {
    /// Each body unique (its id in the padding) and signed: the signed content is the
    /// event's identity, so a new trace id alone would make a duplicate.
    Knox {
        key: Box<RsaSigningKey>,
    },
    Scalefusion {
        secret: String,
    },
    OneAccess {
        config: Box<Config>,
        token: String,
    },
}

impl EventMaker {
    pub fn new(provider: Provider) -> Result<Self, EventsError> {
        Ok(match provider {
            Provider::Knox => {
                let key =
                    RsaSigningKey::from_pkcs8_pem(KNOX_KEY_PEM).map_err(EventsError::KnoxKey)?;
                EventMaker::Knox { key: Box::new(key) }
            }
            Provider::Scalefusion => {
                let secret =
                    secret_field(SCALEFUSION_SECRET, "scalefusion-secret.json", "secret_key")?;
                EventMaker::Scalefusion { secret }
            }
            Provider::OneAccess => {
                let token =
                    secret_field(ONEACCESS_SECRET, "oneaccess-encrypted.json", "bearer_token")?;
                let config = Config::from_secret_json(ONEACCESS_SECRET).map_err(|err| {
                    EventsError::Secret {
                        file: "oneaccess-encrypted.json",
                        detail: err.to_string(),
                    }
                })?;
                EventMaker::OneAccess {
                    config: Box::new(config),
                    token,
                }
            }
        })
    }

    /// The `n`th event of run `run`; `now_ms` stamps OneAccess callbacks, which must be fresh.
    pub fn event(&self, run: usize, n: usize, now_ms: i64) -> Result<Value, EventsError> {
        let id = format!("bench-{run}-{n:06}");
        Ok(match self {
            EventMaker::Knox { key } => {
                let body = knox_body(&id);
                let signing_input = format!("{JWS_HEADER}.{}", URL_PADDED.encode(&body));
                let signature = key.sign_pkcs1_sha256(signing_input.as_bytes());
                let signature = format!(
                    "{JWS_HEADER}.{}.{}",
                    URL_UNPADDED.encode(&body),
                    URL_UNPADDED.encode(signature)
                );
                function_url_event(
                    json!({
                        "content-type": "application/json",
                        "x-wsm-signature": signature,
                        "x-wsm-traceid": id,
                    }),
                    &body,
                )
            }
            EventMaker::Scalefusion { secret } => {
                let body = scalefusion_body(&id);
                let signature = scalefusion::sign(secret.as_bytes(), body.as_bytes());
                function_url_event(
                    json!({"content-type": "application/json", "x-sf-signature": signature}),
                    &body,
                )
            }
            EventMaker::OneAccess { config, token } => {
                let msg = oneaccess_message(&id);
                // A nonce is 16 characters in OneAccess's examples.
                let nonce = format!("bn{run:02}{n:012}");
                let body = oneaccess::build_request("CREATE_USER", &msg, config, &nonce, now_ms)
                    .map_err(EventsError::OneAccess)?;
                function_url_event(
                    json!({"content-type": "application/json", "authorization": format!("Bearer {token}")}),
                    &body,
                )
            }
        })
    }
}

fn secret_field(text: &str, file: &'static str, field: &str) -> Result<String, EventsError> {
    let value: Value = serde_json::from_str(text).map_err(|err| EventsError::Secret {
        file,
        detail: err.to_string(),
    })?;
    value[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| EventsError::Secret {
            file,
            detail: format!("no string field {field}"),
        })
}

/// `text` padded with `fill` to exactly `len` bytes, `tail` appended.
fn padded(head: &str, fill: char, tail: &str, len: usize) -> String {
    let mut text = head.to_string();
    text.extend(std::iter::repeat_n(fill, len - head.len() - tail.len()));
    text.push_str(tail);
    assert_eq!(text.len(), len, "the padding arithmetic");
    text
}

/// A KAI_APP_ANR_FC callback already in Jackson's canonical form (top-level keys in Java
/// `HashMap` order, no floats, nothing escaped), so that Jackson's re-serialization and the
/// Python reference's `json.dumps` stand-in both give these exact bytes.
fn knox_body(id: &str) -> String {
    let head = format!(
        r#"{{"payload":{{"imei":"356938035643809","imei1":"356938035643809","imei2":"356938035643817","serialNumber":"R58R31ABCDE","model":"SM-G991B","groupName":"Warehouse Scanners","appName":"Android System WebView","appVersion":"98.0.4606.89","packageName":"com.google.android.webview","issueType":"ANR","updatedTime":1795420800000,"timeZone":"Europe/Berlin","callStack":"{id} "#
    );
    let tail = r#""},"subscriptionId":"123456789123","event":"KAI_APP_ANR_FC"}"#;
    padded(&head, 'x', tail, BODY_BYTES)
}

fn scalefusion_body(id: &str) -> String {
    let head = format!(
        r#"{{"id":"{id}","event":"device.enrolled","created_at":"2026-01-01T00:00:00Z","data":{{"devices":[{{"make":"samsung","model":"SM-T505","os_version":"13","name":""#
    );
    padded(&head, 'T', r#""}]}}"#, BODY_BYTES)
}

/// The decrypted message of a CREATE_USER callback; OneAccess encrypts and Base64s it, so the
/// body comes out somewhat larger than [`BODY_BYTES`].
fn oneaccess_message(id: &str) -> String {
    let head = format!(
        r#"{{"id":"{id}","username":"zhang.san","name":"Zhang San","email":"zhang.san@example.com","extAttr1":""#
    );
    padded(&head, 'x', r#""}"#, BODY_BYTES)
}

/// A Lambda function URL request event (payload format 2.0) for a POST of `body`.
fn function_url_event(headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "bench0000000000000000000000000000",
            "domainName": "bench0000000000000000000000000000.lambda-url.us-east-1.on.aws",
            "domainPrefix": "bench0000000000000000000000000000",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "hookwarden-bench"
            },
            "requestId": "00000000-0000-4000-8000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000i64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookwarden_verify::x509::KnoxCertificate;

    #[test]
    fn knox_events_are_unique_canonical_and_verify_with_the_test_certificate() {
        let maker = EventMaker::new(Provider::Knox).unwrap();
        let cert = KnoxCertificate::parse(KNOX_CERT_PEM.as_bytes()).unwrap();
        let mut ids = std::collections::BTreeSet::new();
        for n in [1, 2] {
            let event = maker.event(0, n, 0).unwrap();
            let body = event["body"].as_str().unwrap();
            let signature = event["headers"]["x-wsm-signature"].as_str().unwrap();
            assert_eq!(body.len(), BODY_BYTES);
            // The Python reference's json.dumps stand-in gives the body back only if it is
            // already Jackson's form, so both receivers verify the same signature.
            let canonical = hookwarden_verify::jackson::canonicalize(body.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(canonical).unwrap(), body);
            let verified = hookwarden_verify::knox::verify(
                body.as_bytes(),
                signature,
                std::slice::from_ref(&cert),
                1_767_225_600,
            )
            .unwrap();
            assert_eq!(
                verified.form,
                hookwarden_verify::knox::SignedForm::CanonicalPadded
            );
            assert_eq!(verified.event.as_deref(), Some("KAI_APP_ANR_FC"));
            ids.insert(verified.content_sha256);
        }
        assert_eq!(ids.len(), 2, "every event is a new event, not a duplicate");
    }

    #[test]
    fn scalefusion_and_oneaccess_events_are_signed_and_unique() {
        let sf = EventMaker::new(Provider::Scalefusion).unwrap();
        let (a, b) = (sf.event(0, 1, 0).unwrap(), sf.event(0, 2, 0).unwrap());
        assert_ne!(a["body"], b["body"]);
        let EventMaker::Scalefusion { secret } = &sf else {
            unreachable!()
        };
        let body = a["body"].as_str().unwrap();
        assert_eq!(body.len(), BODY_BYTES);
        let header = a["headers"]["x-sf-signature"].as_str().unwrap();
        scalefusion::verify(body.as_bytes(), header, &[secret.as_bytes()]).unwrap();

        let oa = EventMaker::new(Provider::OneAccess).unwrap();
        let now_ms = 1_795_000_000_000;
        let event = oa.event(0, 1, now_ms).unwrap();
        let EventMaker::OneAccess { config, .. } = &oa else {
            unreachable!()
        };
        let verified = oneaccess::verify(
            event["body"].as_str().unwrap().as_bytes(),
            event["headers"]["authorization"].as_str(),
            std::slice::from_ref(config.as_ref()),
            now_ms,
            300,
        )
        .unwrap();
        assert_eq!(verified.event_type, "CREATE_USER");
    }
}
