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
    /// Knox: the SHA-256 fingerprint of the validation certificate that verified the JWS.
    Certificate { sha256: String },
    /// Scalefusion/OneAccess: the Secrets Manager version id of the matching secret.
    Secret { version_id: String },
}

/// A verified event, ready for delivery.
#[derive(Debug, Clone)]
pub struct VerifiedEvent {
    pub provider: &'static str,
    /// The provider's event type as sent (untrimmed for OneAccess); routing trims it.
    pub event_type: String,
    /// Identifies this delivery across retries; the S3 object and bus event are keyed on it.
    pub delivery_id: String,
    /// Identifies what may be accepted only once (the OneAccess nonce); usually `delivery_id`.
    pub dedupe_key: String,
    pub received_at: OffsetDateTime,
    pub verified_by: VerifiedBy,
    pub source_ip: Option<String>,
    /// The exact bytes the provider sent.
    pub body: bytes::Bytes,
    /// Provider-specific decoded content worth keeping beside the raw body (OneAccess's
    /// decrypted message, with passwords redacted).
    pub message: Option<serde_json::Value>,
}

/// The JSON document stored in S3 and sent as the EventBridge detail.
#[derive(Serialize, Clone)]
pub struct Envelope<'a> {
    pub id: &'a str,
    pub provider: &'a str,
    pub event_type: &'a str,
    pub received_at: String,
    pub verified_by: &'a VerifiedBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<&'a str>,
    pub body_sha256: String,
    /// The body verbatim, embedded as JSON when it is JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a RawValue>,
    /// The body as base64 when it is not JSON (it still verified, so it is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a serde_json::Value>,
    /// Where the full envelope is stored, when the bus event had to leave the body out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_at: Option<StoredAt<'a>>,
}

#[derive(Serialize, Clone, Copy)]
pub struct StoredAt<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
}

impl VerifiedEvent {
    /// The envelope with the body embedded.
    pub fn envelope(&self) -> Envelope<'_> {
        let raw = std::str::from_utf8(&self.body)
            .ok()
            .and_then(|text| serde_json::from_str::<&RawValue>(text).ok());
        let body_base64 = match raw {
            Some(_) => None,
            None => Some(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                &self.body,
            )),
        };
        Envelope {
            id: &self.delivery_id,
            provider: self.provider,
            event_type: &self.event_type,
            received_at: self
                .received_at
                .format(&Rfc3339)
                .expect("an OffsetDateTime always formats as RFC 3339"),
            verified_by: &self.verified_by,
            source_ip: self.source_ip.as_deref(),
            body_sha256: sha256_hex(&self.body),
            body: raw,
            body_base64,
            message: self.message.as_ref(),
            stored_at: None,
        }
    }
}

impl Envelope<'_> {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the envelope serializes: all its fields are plain data")
    }

    /// Leaves the body out; readers follow `stored_at` to the full envelope.
    pub fn drop_body(&mut self) {
        self.body = None;
        self.body_base64 = None;
        self.message = None;
    }
}

/// EventBridge's PutEvents entry limit since January 2026 (was 256 KB).
pub const EVENTBRIDGE_MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// AWS's entry-size formula: 14 bytes for `Time`, plus the UTF-8 bytes of Source,
/// DetailType and Detail (no Resources are sent).
pub fn eventbridge_entry_size(source: &str, detail_type: &str, detail: &str) -> usize {
    14 + source.len() + detail_type.len() + detail.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &'static [u8]) -> VerifiedEvent {
        VerifiedEvent {
            provider: "scalefusion",
            event_type: "device.enrolled".into(),
            delivery_id: "abc".into(),
            dedupe_key: "abc".into(),
            received_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            verified_by: VerifiedBy::Secret {
                version_id: "v1".into(),
            },
            source_ip: Some("203.0.113.9".into()),
            body: bytes::Bytes::from_static(body),
            message: None,
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
    fn pointer_drops_body_and_names_location() {
        let ev = event(b"{\"a\":1}");
        let mut pointer = ev.envelope();
        pointer.drop_body();
        pointer.stored_at = Some(StoredAt {
            bucket: "b",
            key: "k",
        });
        let value: serde_json::Value = serde_json::from_slice(&pointer.to_json()).unwrap();
        assert!(value.get("body").is_none());
        assert_eq!(value["stored_at"]["key"], "k");
        assert_eq!(value["body_sha256"], sha256_hex(b"{\"a\":1}"));
    }

    #[test]
    fn entry_size_follows_aws_formula() {
        // Time (14) + "a" + "bb" + "ccc"
        assert_eq!(eventbridge_entry_size("a", "bb", "ccc"), 20);
        assert_eq!(eventbridge_entry_size("é", "", ""), 16);
    }
}
