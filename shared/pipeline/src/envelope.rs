//! What hookwarden stores and publishes for each verified event.
//!
//! The stored object and the bus event carry the same envelope, so a consumer can dedupe on
//! `id` whichever it reads.

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
    /// The event's identity: lowercase hex SHA-256 of exactly the bytes the provider signed
    /// (Knox: the canonical form the signature covered; Scalefusion: the raw body; OneAccess:
    /// `nonce&timestamp&eventType&data`). Everything stored for the event is keyed on it.
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

/// The JSON document stored in S3 and sent as the EventBridge detail.
#[derive(Serialize, Clone)]
pub struct Envelope<'a> {
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
    /// SHA-256 of exactly the bytes the provider signed: the same content always has it,
    /// whatever unsigned ids it came with.
    pub content_sha256: &'a str,
    /// SHA-256 of the body as received (differs from `content_sha256` for Knox, which signs
    /// a re-serialization, and for OneAccess, which signs fields of the body).
    pub body_sha256: String,
    /// Unsigned values that came with the request (Knox: `trace_id`, `nonce`).
    #[serde(skip_serializing_if = "UnsignedFields::is_empty")]
    pub unsigned: UnsignedFields<'a>,
    /// The body verbatim, embedded as JSON when it is JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a RawValue>,
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

/// Where an envelope is stored: the bus entry's `stored_at` ([`crate::bus`]).
#[derive(Serialize, Clone, Copy)]
pub struct StoredAt<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
}

impl VerifiedEvent {
    /// The envelope with the body embedded.
    pub fn envelope(&self) -> Envelope<'_> {
        let (stored, redacted) = match &self.redacted {
            Some(redacted) => (&redacted.body, &redacted.removed[..]),
            None => (&self.body, &[][..]),
        };
        let raw = std::str::from_utf8(stored)
            .ok()
            .and_then(|text| serde_json::from_str::<&RawValue>(text).ok());
        let body_base64 = match raw {
            Some(_) => None,
            None => Some(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                stored,
            )),
        };
        Envelope {
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
            body_sha256: sha256_hex(&self.body),
            unsigned: UnsignedFields(&self.unsigned),
            body: raw,
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

/// EventBridge's PutEvents entry limit since January 2026 (was 256 KB).
pub const EVENTBRIDGE_MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// AWS's entry-size formula: 14 bytes for `Time`, plus the UTF-8 bytes of Source,
/// DetailType and Detail (no Resources are sent).
pub fn eventbridge_entry_size(source: &str, detail_type: &str, detail: &str) -> usize {
    14 + source.len() + detail_type.len() + detail.len()
}

/// EventBridge refuses a DetailType that is empty or over 128 characters; an entry it refuses
/// would fail on every retry, so such a type is published as `unknown` (the envelope keeps the
/// type as sent).
pub fn bus_detail_type(event_type: &str) -> &str {
    let trimmed = event_type.trim();
    match trimmed.chars().count() {
        1..=128 => trimmed,
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_type_is_one_eventbridge_accepts() {
        assert_eq!(bus_detail_type(" device.locked "), "device.locked");
        assert_eq!(bus_detail_type(""), "unknown");
        assert_eq!(bus_detail_type("  "), "unknown");
        assert_eq!(bus_detail_type(&"é".repeat(128)), "é".repeat(128));
        assert_eq!(bus_detail_type(&"x".repeat(129)), "unknown");
    }

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

    #[test]
    fn json_body_is_embedded_verbatim() {
        let body = b"{ \"id\" : \"abc\",\n \"n\": 1.10 }";
        let json = String::from_utf8(event(body).envelope().to_json()).unwrap();
        assert!(
            json.contains("\"body\":{ \"id\" : \"abc\",\n \"n\": 1.10 }"),
            "{json}"
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
    }

    #[test]
    fn non_json_body_is_kept_as_base64() {
        let json = String::from_utf8(event(b"\xff not json").envelope().to_json()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["body_base64"], "/yBub3QganNvbg==");
        assert!(value.get("body").is_none());
    }

    #[test]
    fn entry_size_follows_aws_formula() {
        // Time (14) + "a" + "bb" + "ccc"
        assert_eq!(eventbridge_entry_size("a", "bb", "ccc"), 20);
        assert_eq!(eventbridge_entry_size("é", "", ""), 16);
    }
}
