//! Scalefusion device-event webhooks: `X-SF-Signature` = HMAC-SHA256 of the raw body, keyed
//! with the dashboard's "Secret Key".
//!
//! Scalefusion does not publish how the MAC is encoded in the header. The only public receiver
//! (Deep7k/scalefusion-snipeit-sync) compares lowercase hex, so [`sign`] produces that; [`verify`]
//! also accepts upper-case hex, Base64 in either alphabet with or without padding, and a
//! `sha256=` prefix. Each of those forms still needs the secret to produce, so accepting them
//! costs no security (protocols.md §2.2).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::encoding::decode_lenient;
use crate::reject::RejectKind;

type HmacSha256 = Hmac<Sha256>;

/// The header carrying the signature, lower-cased as API Gateway and Lambda function URLs
/// deliver header names.
pub const SIGNATURE_HEADER: &str = "x-sf-signature";

/// Optional prefix some senders put before the MAC (GitHub style); stripped case-insensitively.
const PREFIX: &str = "sha256=";

/// Length of an HMAC-SHA256 tag in bytes.
const MAC_LEN: usize = 32;

/// The 14 device events as Scalefusion names them on the wire, in dashboard order.
///
/// Only `device.enrolled` and `device.reboot` are confirmed (seen in a public receiver written
/// against live traffic); the others are the dashboard names (Device Enrolled, …, Device Sim
/// Swap) put in the same `device.<snake_case>` pattern. Receivers must route any other value
/// generically rather than reject it.
pub const EVENTS: [&str; 14] = [
    "device.enrolled",
    "device.activated",
    "device.unenrolled",
    "device.deleted",
    "device.unlocked",
    "device.locked",
    "device.lost",
    "device.found",
    "device.user_signed_in",
    "device.user_signed_out",
    "device.shutdown",
    "device.reboot",
    "device.custom_properties_updated",
    "device.sim_swap",
];

#[derive(Debug, thiserror::Error)]
pub enum ScalefusionError {
    #[error("X-SF-Signature is empty; Scalefusion sends the HMAC-SHA256 of the body there")]
    EmptySignature,
    #[error(
        "X-SF-Signature is neither 64 hex characters nor Base64 of a 32-byte HMAC-SHA256 \
         (found {len} characters after trimming)"
    )]
    UnreadableSignature { len: usize },
    #[error("no Scalefusion secret is configured; store the dashboard's Secret Key")]
    NoSecret,
    #[error("X-SF-Signature does not match the body under any configured secret")]
    Mismatch,
}

impl ScalefusionError {
    pub fn kind(&self) -> RejectKind {
        match self {
            Self::EmptySignature | Self::UnreadableSignature { .. } => RejectKind::Malformed,
            // Nothing to check against: our configuration, not the sender, is at fault.
            Self::NoSecret => RejectKind::NoUsableKey,
            Self::Mismatch => RejectKind::Forged,
        }
    }
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// The signature Scalefusion puts in `X-SF-Signature` for `body`: lowercase hex.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The 32 MAC bytes a header carries, whichever accepted spelling it uses.
fn decode_header(header: &str) -> Result<Vec<u8>, ScalefusionError> {
    let text = header.trim_ascii();
    let text = match text.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &text[PREFIX.len()..],
        _ => text,
    };
    if text.is_empty() {
        return Err(ScalefusionError::EmptySignature);
    }
    // 64 hex digits are also valid Base64 (of 48 bytes), so hex is tried first; Base64 of
    // 32 bytes is 43 or 44 characters, so the two never compete for the same header.
    let bytes = if text.len() == 2 * MAC_LEN {
        hex::decode(text).ok()
    } else {
        decode_lenient(text)
    };
    bytes
        .filter(|bytes| bytes.len() == MAC_LEN)
        .ok_or(ScalefusionError::UnreadableSignature { len: text.len() })
}

/// Checks `header` (the `X-SF-Signature` value) against the raw `body` under each secret in
/// turn (current first, then previous ones during a rotation) and returns the index of the
/// first secret that matches. The comparison runs in constant time.
pub fn verify(body: &[u8], header: &str, secrets: &[&[u8]]) -> Result<usize, ScalefusionError> {
    let claimed = decode_header(header)?;
    if secrets.is_empty() {
        return Err(ScalefusionError::NoSecret);
    }
    secrets
        .iter()
        .position(|secret| {
            let mut mac = mac(secret);
            mac.update(body);
            mac.verify_slice(&claimed).is_ok()
        })
        .ok_or(ScalefusionError::Mismatch)
}

/// Where an event name may stand, in the order they are read. Scalefusion publishes no body
/// schema: observed bodies use `event`; the others are spellings seen from similar senders.
pub const EVENT_FIELDS: [&str; 5] = ["event", "event_type", "eventType", "type", "event_name"];

/// The event name of a verified body, for routing only: the first string among
/// [`EVENT_FIELDS`] of a top-level object, or the name every object of a top-level array
/// agrees on. `None` for any other shape (the body is still stored: it verified).
pub fn event_type(body: &[u8]) -> Option<String> {
    let name_of = |value: &serde_json::Value| {
        let object = value.as_object()?;
        EVENT_FIELDS
            .iter()
            .find_map(|field| object.get(*field)?.as_str())
            .map(str::to_string)
    };
    match serde_json::from_slice(body).ok()? {
        serde_json::Value::Array(items) => {
            let first = name_of(items.first()?)?;
            items
                .iter()
                .all(|item| name_of(item).as_ref() == Some(&first))
                .then_some(first)
        }
        value => name_of(&value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    // protocols.md §5.2: computed with Python's hmac and OpenSSL, not by this code.
    const SECRET: &[u8] = b"sf-secret-123";
    const BODY: &[u8] = br#"{"id":"4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10","event":"device.enrolled","created_at":"2025-01-01T00:00:00Z","data":{"devices":[{"name":"Tablet-01","serial_no":"R52N123ABC","make":"samsung","model":"SM-T505","os_version":"13"}]}}"#;
    const HEX: &str = "1def1182702ab6168a1ffedfbd19b647ff65ed9197936bcaf74641c3586f40f6";
    const BASE64: &str = "He8RgnAqthaKH/7fvRm2R/9l7ZGXk2vK90ZBw1hvQPY=";

    #[test]
    fn known_answer() {
        assert_eq!(BODY.len(), 227);
        assert_eq!(sign(SECRET, BODY), HEX);
    }

    #[test]
    fn every_accepted_spelling_verifies() {
        let url_unpadded =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex::decode(HEX).unwrap());
        let spellings = [
            HEX.to_string(),
            HEX.to_ascii_uppercase(),
            format!("sha256={HEX}"),
            format!("SHA256={HEX}"),
            format!("  {HEX}\t\r\n"),
            BASE64.to_string(),
            BASE64.trim_end_matches('=').to_string(),
            url_unpadded,
            format!("sha256={BASE64}"),
        ];
        for header in &spellings {
            assert_eq!(verify(BODY, header, &[SECRET]).unwrap(), 0, "{header}");
        }
    }

    #[test]
    fn unreadable_headers_are_malformed() {
        for header in [
            "",
            "   ",
            "sha256=",
            &HEX[..63],
            &format!("{HEX}00"),
            "zz",
            "sha256:abc",
        ] {
            let err = verify(BODY, header, &[SECRET]).unwrap_err();
            assert_eq!(err.kind(), RejectKind::Malformed, "{header:?}: {err}");
        }
        // Base64 of the wrong length decodes but is not a MAC.
        let short = base64::engine::general_purpose::STANDARD.encode([0u8; 31]);
        assert!(matches!(
            verify(BODY, &short, &[SECRET]),
            Err(ScalefusionError::UnreadableSignature { .. })
        ));
    }

    #[test]
    fn wrong_secret_body_or_mac_is_forged() {
        let err = verify(BODY, HEX, &[b"sf-secret-124"]).unwrap_err();
        assert_eq!(err.kind(), RejectKind::Forged);
        let mut body = BODY.to_vec();
        body.push(b'\n');
        assert!(matches!(
            verify(&body, HEX, &[SECRET]),
            Err(ScalefusionError::Mismatch)
        ));
        let flipped = format!("{}{}", &HEX[..63], "7");
        assert!(matches!(
            verify(BODY, &flipped, &[SECRET]),
            Err(ScalefusionError::Mismatch)
        ));
    }

    #[test]
    fn rotation_returns_the_matching_index() {
        let secrets: [&[u8]; 3] = [b"new", SECRET, b"older"];
        assert_eq!(verify(BODY, HEX, &secrets).unwrap(), 1);
        assert_eq!(
            verify(BODY, HEX, &[]).unwrap_err().kind(),
            RejectKind::NoUsableKey
        );
    }

    #[test]
    fn event_type_is_read_from_any_shape_and_never_fails() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(event_type(BODY), some("device.enrolled"));
        assert_eq!(
            event_type(br#"{"event_type":"device.locked"}"#),
            some("device.locked")
        );
        assert_eq!(
            event_type(br#"{"eventType":"a","event":"b"}"#),
            some("b"),
            "`event` first"
        );
        assert_eq!(
            event_type(br#"[{"event":"device.locked","id":1},{"event":"device.locked"}]"#),
            some("device.locked")
        );
        assert_eq!(
            event_type(br#"[{"event":"device.locked"},{"event":"device.unlocked"}]"#),
            None
        );
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"{",
            b"",
            b"plain text",
            br#"{"event":7}"#,
            br#"{"id":"x"}"#,
            b"\xff",
        ] {
            assert_eq!(event_type(body), None, "{body:?}");
        }
    }

    #[test]
    fn events_are_distinct_and_include_the_confirmed_ones() {
        let unique: std::collections::BTreeSet<_> = EVENTS.iter().collect();
        assert_eq!(unique.len(), EVENTS.len());
        assert!(EVENTS.contains(&"device.enrolled") && EVENTS.contains(&"device.reboot"));
    }
}
