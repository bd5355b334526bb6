//! Samsung Knox Webhook Notification: `X-WSM-SIGNATURE` JWS (RS256) over the Jackson
//! re-serialization of the body.
//!
//! Samsung's reference verifier (research notes, protocols.md §1.3) splits the header on `.`,
//! re-serializes the body with Jackson, base64url-encodes that WITH padding and checks
//! `SHA256withRSA` over `parts[0] + "." + b64` with the Knox validation certificate; `parts[1]`
//! is never read. We do the same, and also accept three other encodings of the same received
//! body (see [`SignedForm`]): each is derived from the body alone, so none lets an attacker
//! choose what the signature covers.

use base64::engine::GeneralPurpose;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::encoding::{JAVA_URL_DECODER, URL_PADDED, URL_UNPADDED};
use crate::jackson::{self, CanonicalError};
use crate::reject::RejectKind;
use crate::rsa::{verify_pkcs1_sha256, RsaSigningKey};
use crate::x509::KnoxCertificate;

/// Lowercase, as HTTP/2 and API Gateway deliver header names.
pub const SIGNATURE_HEADER: &str = "x-wsm-signature";
pub const TRACE_ID_HEADER: &str = "x-wsm-traceid";
pub const NONCE_HEADER: &str = "x-knox-nonce";

/// Longest `X-WSM-SIGNATURE` accepted, not counting its payload part: the JOSE header and the
/// signature are what gets decoded and parsed (an RS256 header with an 8192-bit signature is
/// under 1.5 KiB). The payload part carries the whole body, base64url, and is never decoded,
/// so it is bounded only by the transport's body limit; a flat cap on the whole header would
/// refuse genuine callbacks with bodies over about 12 KB.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 16 * 1024;

/// The only JOSE algorithm accepted. The key always comes from the pinned anchors, never from
/// the header, so this check only stops `none`/HMAC-style confusion from ever being considered.
const ALGORITHM: &str = "RS256";

/// What Samsung puts in `parts[0]`: base64url (unpadded) of `{"alg":"RS256"}`.
const PROTECTED_HEADER: &str = r#"{"alg":"RS256"}"#;

/// Which encoding of the body the signature covered, in the order they are tried. When two
/// forms give the same bytes (an already canonical body; a length where padding is empty),
/// the earlier one is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedForm {
    /// Jackson canonical form, base64url with `=` padding: Samsung's reference verifier.
    CanonicalPadded,
    /// Jackson canonical form, base64url unpadded (RFC 7515 style).
    CanonicalUnpadded,
    /// The received bytes, base64url with padding.
    RawPadded,
    /// The received bytes, base64url unpadded.
    RawUnpadded,
}

impl SignedForm {
    const ALL: [SignedForm; 4] = [
        SignedForm::CanonicalPadded,
        SignedForm::CanonicalUnpadded,
        SignedForm::RawPadded,
        SignedForm::RawUnpadded,
    ];

    /// Stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SignedForm::CanonicalPadded => "canonical-padded",
            SignedForm::CanonicalUnpadded => "canonical-unpadded",
            SignedForm::RawPadded => "raw-padded",
            SignedForm::RawUnpadded => "raw-unpadded",
        }
    }

    fn is_canonical(self) -> bool {
        matches!(
            self,
            SignedForm::CanonicalPadded | SignedForm::CanonicalUnpadded
        )
    }

    fn is_padded(self) -> bool {
        matches!(self, SignedForm::CanonicalPadded | SignedForm::RawPadded)
    }
}

/// A callback proven to come from Samsung.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Top-level `event` when it is a string (for routing and logs).
    pub event: Option<String>,
    /// Top-level `subscriptionId` when it is a string.
    pub subscription_id: Option<String>,
    /// SHA-256 fingerprint of the anchor whose key verified the signature.
    pub certificate_fingerprint: String,
    pub form: SignedForm,
}

#[derive(Debug, thiserror::Error)]
pub enum KnoxError {
    #[error("the JWS header and signature parts of X-WSM-SIGNATURE are {len} bytes; at most {MAX_SIGNATURE_HEADER_LEN} are accepted")]
    HeaderTooLong { len: usize },
    #[error("X-WSM-SIGNATURE must be a JWS `header.payload.signature`; it has {parts} dot-separated parts")]
    PartCount { parts: usize },
    #[error("the JWS header (first part of X-WSM-SIGNATURE) is not base64url")]
    HeaderEncoding,
    #[error("the JWS header (first part of X-WSM-SIGNATURE) is not a JSON object")]
    HeaderNotObject,
    #[error("the JWS header has no string `alg`; Knox signs with RS256")]
    AlgorithmMissing,
    #[error("the JWS header's `alg` is not RS256, the only algorithm Knox uses")]
    UnsupportedAlgorithm,
    #[error("the JWS signature (third part of X-WSM-SIGNATURE) is not base64url")]
    SignatureEncoding,
    #[error("the body is not a JSON object Samsung could have signed: {0}")]
    Body(#[from] CanonicalError),
    #[error("no Samsung Knox validation certificate is configured; install one (GET /downloadCertificate)")]
    NoAnchor,
    #[error("none of the {configured} configured Knox validation certificates is valid now; install a current one (GET /downloadCertificate)")]
    NoValidAnchor { configured: usize },
    #[error(
        "the signature is {actual} bytes, which matches the key size of no valid Knox certificate"
    )]
    SignatureLength { actual: usize },
    #[error("the signature does not match the body under any valid Knox certificate")]
    BadSignature,
}

impl KnoxError {
    pub fn kind(&self) -> RejectKind {
        match self {
            KnoxError::HeaderTooLong { .. }
            | KnoxError::PartCount { .. }
            | KnoxError::HeaderEncoding
            | KnoxError::HeaderNotObject
            | KnoxError::AlgorithmMissing
            | KnoxError::SignatureEncoding
            | KnoxError::Body(_) => RejectKind::Malformed,
            KnoxError::UnsupportedAlgorithm
            | KnoxError::SignatureLength { .. }
            | KnoxError::BadSignature => RejectKind::Forged,
            KnoxError::NoAnchor | KnoxError::NoValidAnchor { .. } => {
                RejectKind::CertificateUnusable
            }
        }
    }
}

/// Verifies a Knox callback against the pinned `anchors` (several during a rotation). Only
/// anchors valid at `now_unix` are used; the key is never taken from the JWS header.
pub fn verify(
    body: &[u8],
    signature_header: &str,
    anchors: &[KnoxCertificate],
    now_unix: i64,
) -> Result<Verified, KnoxError> {
    let jws = Jws::parse(signature_header)?;
    let canonical = jackson::canonicalize(body)?;

    if anchors.is_empty() {
        return Err(KnoxError::NoAnchor);
    }
    let valid: Vec<&KnoxCertificate> = anchors
        .iter()
        .filter(|anchor| anchor.is_valid_at(now_unix))
        .collect();
    if valid.is_empty() {
        return Err(KnoxError::NoValidAnchor {
            configured: anchors.len(),
        });
    }
    // Java's `Signature.verify` throws on a length mismatch rather than returning false; an
    // anchor of another key size can never match, so it is not even tried.
    let candidates: Vec<&KnoxCertificate> = valid
        .into_iter()
        .filter(|anchor| anchor.public_key().modulus_len() == jws.signature.len())
        .collect();
    if candidates.is_empty() {
        return Err(KnoxError::SignatureLength {
            actual: jws.signature.len(),
        });
    }

    for form in SignedForm::ALL {
        let signed = if form.is_canonical() {
            &canonical[..]
        } else {
            body
        };
        // Skip forms whose signing input repeats an earlier one: a raw body that is already
        // canonical, and unpadded base64 of a length where padding is empty anyway.
        let repeats_canonical = !form.is_canonical() && body == &canonical[..];
        let repeats_padded = !form.is_padded() && signed.len() % 3 == 0;
        if repeats_canonical || repeats_padded {
            continue;
        }
        let engine = if form.is_padded() {
            &URL_PADDED
        } else {
            &URL_UNPADDED
        };
        let input = signing_input(jws.protected, signed, engine);
        for anchor in &candidates {
            if verify_pkcs1_sha256(anchor.public_key(), input.as_bytes(), &jws.signature) {
                let (event, subscription_id) = routing_fields(&canonical);
                return Ok(Verified {
                    event,
                    subscription_id,
                    certificate_fingerprint: anchor.fingerprint_sha256().to_owned(),
                    form,
                });
            }
        }
    }
    Err(KnoxError::BadSignature)
}

/// Produces the `X-WSM-SIGNATURE` Samsung would send for `body` (tests, `hookwarden sign`).
pub fn sign(body: &[u8], key: &RsaSigningKey) -> Result<String, KnoxError> {
    let canonical = jackson::canonicalize(body)?;
    let protected = URL_UNPADDED.encode(PROTECTED_HEADER);
    let input = signing_input(&protected, &canonical, &URL_PADDED);
    let signature = URL_UNPADDED.encode(key.sign_pkcs1_sha256(input.as_bytes()));
    // `input` is already `parts[0].parts[1]`: Samsung's payload part is the padded canonical form.
    Ok(format!("{input}.{signature}"))
}

/// `protected + "." + base64url(signed)`, built in one allocation.
fn signing_input(protected: &str, signed: &[u8], engine: &GeneralPurpose) -> String {
    let mut input = String::with_capacity(protected.len() + 1 + signed.len().div_ceil(3) * 4);
    input.push_str(protected);
    input.push('.');
    engine.encode_string(signed, &mut input);
    input
}

/// The parts of `X-WSM-SIGNATURE` verification uses.
struct Jws<'a> {
    /// `parts[0]` exactly as received: it is signed verbatim, never re-encoded.
    protected: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    fn parse(header: &'a str) -> Result<Self, KnoxError> {
        // HTTP strips optional whitespace around a field value (RFC 9110 §5.5); servlet
        // containers do too, so Samsung's verifier never sees it.
        let header = header.trim_matches([' ', '\t']);
        let [protected, _payload, signature] =
            java_split_on_dot(header).map_err(|parts| KnoxError::PartCount { parts })?;
        let decoded_len = protected.len() + signature.len();
        if decoded_len > MAX_SIGNATURE_HEADER_LEN {
            return Err(KnoxError::HeaderTooLong { len: decoded_len });
        }
        check_protected_header(protected)?;
        let signature = JAVA_URL_DECODER
            .decode(signature)
            .map_err(|_| KnoxError::SignatureEncoding)?;
        Ok(Self {
            protected,
            signature,
        })
    }
}

fn check_protected_header(protected: &str) -> Result<(), KnoxError> {
    let json = JAVA_URL_DECODER
        .decode(protected)
        .map_err(|_| KnoxError::HeaderEncoding)?;
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&json).map_err(|_| KnoxError::HeaderNotObject)?;
    match fields.get("alg") {
        Some(serde_json::Value::String(alg)) if alg == ALGORITHM => Ok(()),
        Some(serde_json::Value::String(_)) => Err(KnoxError::UnsupportedAlgorithm),
        _ => Err(KnoxError::AlgorithmMissing),
    }
}

/// Java's `header.split("\\.")`, which Samsung's verifier uses: trailing empty strings are
/// dropped (so `a.b.c.` has 3 parts), and a string without a dot is one part. Returns the three
/// parts, or how many parts Java would have produced; allocates nothing, whatever the input.
fn java_split_on_dot(text: &str) -> Result<[&str; 3], usize> {
    if !text.contains('.') {
        return Err(1);
    }
    let trimmed = text.trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(0);
    }
    let mut parts = trimmed.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(first), Some(second), Some(third), None) => Ok([first, second, third]),
        _ => Err(trimmed.matches('.').count() + 1),
    }
}

/// The top-level fields the pipeline routes on; `payload` and the rest are skipped unread.
#[derive(Default, Deserialize)]
struct RoutingFields<'a> {
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "subscriptionId")]
    subscription_id: Option<&'a RawValue>,
}

/// `(event, subscriptionId)` from the canonical form (what was authenticated). A field that is
/// not a string, or JSON serde cannot read, is `None`: routing never fails a verified callback.
fn routing_fields(canonical: &[u8]) -> (Option<String>, Option<String>) {
    let fields: RoutingFields = serde_json::from_slice(canonical).unwrap_or_default();
    let string = |raw: Option<&RawValue>| raw.and_then(|raw| serde_json::from_str(raw.get()).ok());
    (string(fields.event), string(fields.subscription_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_matches_java_string_split() {
        // Expected counts printed by `s.split("\\.")` on OpenJDK 17.0.15.
        let cases: [(&str, &[&str]); 13] = [
            ("a.b.c", &["a", "b", "c"]),
            ("a.b.c.", &["a", "b", "c"]),
            ("a.b.c..", &["a", "b", "c"]),
            ("a.b.", &["a", "b"]),
            ("a..c", &["a", "", "c"]),
            ("a.b", &["a", "b"]),
            ("a.b.c.d", &["a", "b", "c", "d"]),
            (".b.c", &["", "b", "c"]),
            ("", &[""]),
            ("...", &[]),
            ("a", &["a"]),
            ("..c", &["", "", "c"]),
            ("a.b..d", &["a", "b", "", "d"]),
        ];
        for (text, expected) in cases {
            match java_split_on_dot(text) {
                Ok(parts) => assert_eq!(parts[..], *expected, "{text:?}"),
                Err(count) => assert_eq!(count, expected.len(), "{text:?}"),
            }
            assert_eq!(java_split_on_dot(text).is_ok(), expected.len() == 3);
        }
    }

    fn header(json: &str) -> String {
        URL_UNPADDED.encode(json)
    }

    #[test]
    fn protected_header_must_say_rs256() {
        assert!(check_protected_header(&header(r#"{"alg":"RS256"}"#)).is_ok());
        assert!(
            check_protected_header(&header(r#"{"typ":"JWT","alg":"RS256","kid":"x"}"#)).is_ok()
        );
        // Padded base64url is what java.util.Base64's URL decoder also takes.
        assert!(check_protected_header(&URL_PADDED.encode(r#"{"alg":"RS256"}"#)).is_ok());

        for (json, kind) in [
            (r#"{"alg":"none"}"#, RejectKind::Forged),
            (r#"{"alg":"HS256"}"#, RejectKind::Forged),
            (r#"{"alg":"RS512"}"#, RejectKind::Forged),
            (r#"{"alg":"rs256"}"#, RejectKind::Forged),
            (r#"{"alg":"RS256 "}"#, RejectKind::Forged),
            (r#"{"typ":"JWT"}"#, RejectKind::Malformed),
            (r#"{"alg":null}"#, RejectKind::Malformed),
            (r#"{"alg":["RS256"]}"#, RejectKind::Malformed),
            (r#"["RS256"]"#, RejectKind::Malformed),
            (r#""RS256""#, RejectKind::Malformed),
            (r#"{"alg":"RS256""#, RejectKind::Malformed),
        ] {
            let err = check_protected_header(&header(json)).unwrap_err();
            assert_eq!(err.kind(), kind, "{json}: {err}");
        }
        assert!(matches!(
            check_protected_header("eyJhbGciOiJSUzI1NiJ9+"),
            Err(KnoxError::HeaderEncoding)
        ));
        // Standard-alphabet base64 is not base64url.
        let standard = crate::encoding::STANDARD.encode(r#"{"alg":"RS256","x":"???"}"#);
        assert!(standard.contains('/'), "{standard}");
        assert!(matches!(
            check_protected_header(&standard),
            Err(KnoxError::HeaderEncoding)
        ));
    }

    #[test]
    fn jws_parse_checks_size_parts_and_signature_encoding() {
        let protected = header(r#"{"alg":"RS256"}"#);
        let text = format!(" {protected}.payload.QUJD\t");
        let jws = Jws::parse(&text).unwrap();
        assert_eq!(jws.protected, protected);
        assert_eq!(jws.signature, b"ABC");

        assert!(matches!(
            Jws::parse(&format!("{protected}.QUJD")),
            Err(KnoxError::PartCount { parts: 2 })
        ));
        assert!(matches!(
            Jws::parse(&format!("{protected}.p.QUJD.x")),
            Err(KnoxError::PartCount { parts: 4 })
        ));
        assert!(matches!(
            Jws::parse(&format!("{protected}.p.QU+D")),
            Err(KnoxError::SignatureEncoding)
        ));
        // The payload part may be as long as the body; the decoded parts may not.
        let payload = "A".repeat(4 * MAX_SIGNATURE_HEADER_LEN);
        assert!(Jws::parse(&format!("{protected}.{payload}.QUJD")).is_ok());
        let max_signature = "A".repeat(MAX_SIGNATURE_HEADER_LEN - protected.len());
        assert!(Jws::parse(&format!("{protected}.p.{max_signature}")).is_ok());
        for long in [
            format!("{protected}.p.{max_signature}A"),
            format!("{protected}{}.p.QUJD", "A".repeat(MAX_SIGNATURE_HEADER_LEN)),
        ] {
            let err = Jws::parse(&long).err().unwrap();
            assert!(matches!(err, KnoxError::HeaderTooLong { .. }), "{err}");
            assert_eq!(err.kind(), RejectKind::Malformed);
        }
    }

    #[test]
    fn routing_fields_are_top_level_strings_only() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            routing_fields(
                br#"{"payload":{"event":"inner"},"subscriptionId":"123","event":"KG_DEVICE_LOCKED"}"#
            ),
            (some("KG_DEVICE_LOCKED"), some("123"))
        );
        assert_eq!(
            routing_fields(br#"{"subscriptionId":123,"event":{"a":"b"}}"#),
            (None, None)
        );
        assert_eq!(
            routing_fields(br#"{"payload":{},"event":"A\u00e9\n","subscriptionId":null}"#),
            (some("A\u{e9}\n"), None)
        );
    }
}
