//! What hookwarden stores and publishes for each verified event.
//!
//! The stored object and the bus event carry the same envelope, so a consumer can dedupe on
//! `id` whichever it reads.
//!
//! Every envelope is one line of JSON (`format: 2`): line-oriented readers (Athena's JSON
//! SerDes, DuckDB's `newline_delimited`, `jq -c`) read one document per line, and a provider
//! may send a pretty-printed body that verifies (Knox accepts whitespace variants). The body
//! is embedded with the whitespace between its tokens removed — numbers, key order and string
//! escapes untouched — and, when that changed any byte, the bytes as received are kept beside
//! it in `body_verbatim_base64`, so `body_sha256` can always be checked. Envelopes without a
//! `format` field (format 1) embedded the body exactly as received, whitespace and all.

use serde::Serialize;
use serde_json::value::RawValue;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ids::sha256_hex;

/// What proved the event authentic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VerifiedBy {
    /// Knox: the SHA-256 fingerprint of the validation certificate that verified the JWS, and
    /// which encoding of the body the signature covered.
    Certificate { sha256: String, form: &'static str },
    /// Scalefusion/OneAccess: the Secrets Manager version id of the matching secret and the
    /// MAC that matched (`hmac-sha256`, OneAccess's `hmac-sha1`, or `unsigned` where the
    /// OneAccess configuration allows callbacks without a signature).
    Secret {
        version_id: String,
        scheme: &'static str,
    },
}

/// A verified event, ready for delivery.
#[derive(Debug, Clone)]
pub struct VerifiedEvent {
    pub provider: &'static str,
    /// The provider's event type as sent (untrimmed for OneAccess); routing trims it.
    pub event_type: String,
    /// The event's identity, lowercase hex, over exactly the bytes the provider signed: their
    /// SHA-256 (Knox: the canonical form the signature covered; Scalefusion: the raw body), or
    /// for OneAccess, whose signed `nonce&timestamp&eventType&data` can hold a password in
    /// clear, their HMAC-SHA256 under the secret that authenticated them. Everything stored
    /// for the event is keyed on it.
    pub id: String,
    /// What the provider sent beside the signed content and did not sign (Knox's trace id and
    /// nonce): kept as metadata, never part of the identity.
    pub unsigned: Vec<(&'static str, String)>,
    pub received_at: OffsetDateTime,
    pub verified_by: VerifiedBy,
    pub source_ip: Option<String>,
    /// The exact bytes the provider sent.
    pub body: bytes::Bytes,
    /// Provider-specific decoded content worth keeping beside the raw body (OneAccess's
    /// decrypted message, with passwords redacted).
    pub message: Option<serde_json::Value>,
    /// What the envelope stores instead of `body`, when the body carries what must not rest
    /// anywhere (OneAccess's `data`, a user's password in clear when encryption is off).
    pub redacted: Option<Redacted>,
}

/// A body with parts removed, and which.
#[derive(Debug, Clone)]
pub struct Redacted {
    /// JSON: the received body with the removed parts replaced.
    pub body: bytes::Bytes,
    /// What was removed, as paths into the envelope (`body.data`, `message.password`).
    pub removed: Vec<String>,
}

/// The envelope format written: 2 = one line, body compacted (see the module doc).
pub const ENVELOPE_FORMAT: u32 = 2;

/// The JSON document stored in S3 and sent as the EventBridge detail.
#[derive(Serialize, Clone)]
pub struct Envelope<'a> {
    /// [`ENVELOPE_FORMAT`]; absent in envelopes of format 1.
    pub format: u32,
    /// What consumers dedupe on; equal to `content_sha256`.
    pub id: &'a str,
    pub provider: &'a str,
    /// The tenant the callback was sent to (`/<tenant>`); absent on the bare path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<&'a str>,
    pub event_type: &'a str,
    pub received_at: String,
    pub verified_by: &'a VerifiedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<&'a str>,
    /// The identity of exactly the bytes the provider signed (see [`VerifiedEvent::id`]): the
    /// same content always has it, whatever unsigned ids it came with.
    pub content_sha256: &'a str,
    /// SHA-256 of the body as stored here (`body`, or `body_base64`'s bytes): the body as
    /// received, or with what was redacted replaced. Never over what was removed, which it
    /// would confirm.
    pub body_sha256: String,
    /// Unsigned values that came with the request (Knox: `trace_id`, `nonce`).
    #[serde(skip_serializing_if = "UnsignedFields::is_empty")]
    pub unsigned: UnsignedFields<'a>,
    /// The body, embedded as JSON when it is JSON, with the whitespace between its tokens
    /// removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<RawValue>>,
    /// The body as received, when removing its whitespace changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_verbatim_base64: Option<String>,
    /// The body as base64 when it is not JSON (it still verified, so it is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a serde_json::Value>,
    /// What was removed before storing, when anything was (`body.data`, `message.password`).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub redacted: &'a [String],
}

/// Unsigned name/value pairs, serialized as a JSON object.
#[derive(Clone, Copy)]
pub struct UnsignedFields<'a>(&'a [(&'static str, String)]);

impl UnsignedFields<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for UnsignedFields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

impl VerifiedEvent {
    /// The envelope with the body embedded.
    pub fn envelope(&self) -> Envelope<'_> {
        let (stored, redacted) = match &self.redacted {
            Some(redacted) => (&redacted.body, &redacted.removed[..]),
            None => (&self.body, &[][..]),
        };
        let text = std::str::from_utf8(stored)
            .ok()
            .filter(|text| serde_json::from_str::<&RawValue>(text).is_ok());
        let (body, body_verbatim_base64, body_base64) = match text {
            Some(text) => {
                let compact = compact_json(text);
                let verbatim = (compact != text).then(|| base64_of(stored));
                let body = RawValue::from_string(compact)
                    .expect("whitespace removed outside strings leaves valid JSON");
                (Some(body), verbatim, None)
            }
            None => (None, None, Some(base64_of(stored))),
        };
        Envelope {
            format: ENVELOPE_FORMAT,
            id: &self.id,
            provider: self.provider,
            tenant: None,
            event_type: &self.event_type,
            received_at: self
                .received_at
                .format(&Rfc3339)
                .expect("an OffsetDateTime always formats as RFC 3339"),
            verified_by: &self.verified_by,
            source_ip: self.source_ip.as_deref(),
            content_sha256: &self.id,
            body_sha256: sha256_hex(stored),
            unsigned: UnsignedFields(&self.unsigned),
            body,
            body_verbatim_base64,
            body_base64,
            message: self.message.as_ref(),
            redacted,
        }
    }
}

impl Envelope<'_> {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the envelope serializes: all its fields are plain data")
    }
}

fn base64_of(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

/// `json` (valid JSON) without the whitespace between its tokens. Only bytes outside strings
/// are dropped, so numbers, key order, duplicate keys and escapes stay exactly as sent;
/// valid JSON has no raw line break inside a string, so the result is one line.
pub fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &'static [u8]) -> VerifiedEvent {
        VerifiedEvent {
            provider: "scalefusion",
            event_type: "device.enrolled".into(),
            id: "abc".into(),
            unsigned: vec![("trace_id", "t-1".into())],
            received_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            verified_by: VerifiedBy::Secret {
                version_id: "v1".into(),
                scheme: "hmac-sha256",
            },
            source_ip: Some("203.0.113.9".into()),
            body: bytes::Bytes::from_static(body),
            message: None,
            redacted: None,
        }
    }

    fn verbatim(value: &serde_json::Value) -> Vec<u8> {
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            value["body_verbatim_base64"].as_str().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn json_body_is_embedded_on_one_line_and_kept_verbatim() {
        let body = b"{ \"id\" : \"a b\\\" \\n\",\n\t\"n\": 1.10, \"z\":[ 1e3 ,\r\n{}] }";
        let json = String::from_utf8(event(body).envelope().to_json()).unwrap();
        assert!(!json.contains('\n') && !json.contains('\r'), "{json}");
        assert!(json.starts_with("{\"format\":2,\"id\":\"abc\","), "{json}");
        assert!(
            json.contains("\"body\":{\"id\":\"a b\\\" \\n\",\"n\":1.10,\"z\":[1e3,{}]},"),
            "strings, numbers and order as sent: {json}"
        );
        assert!(
            json.contains("\"received_at\":\"2023-11-14T22:13:20Z\""),
            "{json}"
        );
        assert!(json.contains(&sha256_hex(body)));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["verified_by"]["kind"], "secret");
        assert_eq!(value["verified_by"]["scheme"], "hmac-sha256");
        assert_eq!(value["content_sha256"], "abc");
        assert_eq!(value["unsigned"]["trace_id"], "t-1");
        assert!(value.get("body_base64").is_none());
        assert_eq!(verbatim(&value), body);
        assert_eq!(sha256_hex(&verbatim(&value)), value["body_sha256"]);
    }

    #[test]
    fn a_compact_body_is_not_stored_twice() {
        let body = b"{\"id\":\"a\",\"n\":[1,2]}";
        let value: serde_json::Value =
            serde_json::from_slice(&event(body).envelope().to_json()).unwrap();
        assert!(value.get("body_verbatim_base64").is_none(), "{value}");
        assert_eq!(value["body"].to_string().as_bytes(), body);
    }

    #[test]
    fn compacting_keeps_every_token() {
        for (json, compact) in [
            (" [ ] ", "[]"),
            ("\"  \\\\ \"", "\"  \\\\ \""),
            ("{ \"k\\\"\" : \"v \\\" }\" }", "{\"k\\\"\":\"v \\\" }\"}"),
            ("[ -0.0 , 1E+2 , true , null ]", "[-0.0,1E+2,true,null]"),
            ("{\"é\" :\n\"\\u00e9 \"}", "{\"é\":\"\\u00e9 \"}"),
        ] {
            assert_eq!(compact_json(json), compact, "{json}");
        }
    }

    #[test]
    fn non_json_body_is_kept_as_base64() {
        let json = String::from_utf8(event(b"\xff not json").envelope().to_json()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["body_base64"], "/yBub3QganNvbg==");
        assert!(value.get("body").is_none());
    }

    #[test]
    fn body_sha256_covers_the_stored_body_not_what_was_removed() {
        let received = b"{\"data\":\"{\\\"password\\\":\\\"hunter2\\\"}\"}";
        let stored = b"{\"data\":\"[removed: see message]\"}";
        let mut ev = event(received);
        ev.redacted = Some(Redacted {
            body: bytes::Bytes::from_static(stored),
            removed: vec!["body.data".into()],
        });
        let value: serde_json::Value = serde_json::from_slice(&ev.envelope().to_json()).unwrap();
        assert_eq!(value["body_sha256"], sha256_hex(stored));
        assert_ne!(value["body_sha256"], sha256_hex(received));
    }
}
