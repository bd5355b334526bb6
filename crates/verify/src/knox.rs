//! Samsung Knox Webhook Notification: `X-WSM-SIGNATURE` JWS (RS256) over the Jackson
//! re-serialization of the body.
//!
//! Samsung's reference verifier (research notes, protocols.md §1.3) splits the header on `.`,
//! re-serializes the body with Jackson, base64url-encodes that WITH padding and checks
//! `SHA256withRSA` over `parts[0] + "." + b64` with the Knox validation certificate; `parts[1]`
//! is never read. We do the same, and also accept three other encodings of the same received
//! body (see [`SignedForm`]): each is derived from the body alone, so none lets an attacker
//! choose what the signature covers.
//!
//! Like Samsung's verifier, we never decode the JOSE header (`parts[0]`) to decide anything: it
//! is signed verbatim, whatever it holds, and the algorithm (RS256) and the key (the pinned
//! certificate) are fixed here, never read from it. A header naming `none` or `HS256` over a
//! valid RS256 signature is therefore Samsung's signature and is accepted, and changing one
//! byte of the header breaks the signature. The header is read only after the signature has
//! verified, for the log ([`JoseHeader`]).

use base64::engine::GeneralPurpose;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};

use crate::encoding::{JAVA_URL_DECODER, URL_PADDED, URL_UNPADDED};
use crate::jackson::{self, CanonicalError};
use crate::reject::RejectKind;
use crate::rsa::{verify_pkcs1_sha256, RsaSigningKey};
use crate::x509::{KnoxCertificate, SpkiPin};

mod jose_header;

pub use jose_header::JoseHeader;

/// Lowercase, as HTTP/2 and API Gateway deliver header names.
pub const SIGNATURE_HEADER: &str = "x-wsm-signature";
pub const TRACE_ID_HEADER: &str = "x-wsm-traceid";
pub const NONCE_HEADER: &str = "x-knox-nonce";

/// Longest `X-WSM-SIGNATURE` accepted, not counting its payload part: the JOSE header is
/// hashed (and, once the signature has verified, read for the log) and the signature decoded
/// (Samsung's `{"alg":"RS256"}` header with an 8192-bit signature is under 1.5 KiB). The
/// payload part carries the whole body, base64url, and is never decoded, so it is bounded
/// only by the transport's body limit; a flat cap on the whole header would refuse genuine
/// callbacks with bodies over about 12 KB. Samsung's verifier has no such bound.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 16 * 1024;

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
    /// Lowercase hex SHA-256 of exactly the bytes the signature covered (the canonical form,
    /// or the raw body for the raw forms): the event's identity. Unsigned headers and the JWS
    /// header are not part of it, so one callback redelivered or replayed under fresh headers
    /// keeps it, and whitespace or key-order variants of one canonical body share it.
    pub content_sha256: String,
    /// The JOSE header (`parts[0]`), read for the log after the signature verified; it decided
    /// nothing. [`JoseHeader::describe`] gives e.g. `alg=RS256 typ=- kid=-`.
    pub header: JoseHeader,
}

#[derive(Debug, thiserror::Error)]
pub enum KnoxError {
    #[error("the JWS header and signature parts of X-WSM-SIGNATURE are {len} bytes; at most {MAX_SIGNATURE_HEADER_LEN} are accepted")]
    HeaderTooLong { len: usize },
    #[error("X-WSM-SIGNATURE must be a JWS `header.payload.signature`; it has {parts} dot-separated parts")]
    PartCount { parts: usize },
    #[error("the JWS signature (third part of X-WSM-SIGNATURE) is not base64url")]
    SignatureEncoding,
    #[error("the body is not a JSON object Samsung could have signed: {0}")]
    Body(#[from] CanonicalError),
    #[error("no Samsung Knox validation certificate is configured; install one (GET /downloadCertificate)")]
    NoAnchor,
    #[error("none of the {configured} configured Knox validation certificates is valid now; install a current one (GET /downloadCertificate)")]
    NoValidAnchor { configured: usize },
    #[error("none of the {configured} configured Knox validation certificates carries a pinned public key (KNOX_CERT_SPKI_SHA256)")]
    NoPinnedAnchor { configured: usize },
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
            | KnoxError::SignatureEncoding
            | KnoxError::Body(_) => RejectKind::Malformed,
            KnoxError::SignatureLength { .. } | KnoxError::BadSignature => RejectKind::Forged,
            KnoxError::NoAnchor
            | KnoxError::NoValidAnchor { .. }
            | KnoxError::NoPinnedAnchor { .. } => RejectKind::NoUsableKey,
        }
    }
}

/// Verifies a Knox callback against the pinned `anchors` (several during a rotation). Only
/// anchors valid at `now_unix` are used; the algorithm and the key are never taken from the
/// JWS header, which is signed verbatim and read only once the signature has verified.
pub fn verify(
    body: &[u8],
    signature_header: &str,
    anchors: &[KnoxCertificate],
    now_unix: i64,
) -> Result<Verified, KnoxError> {
    verify_anchors(body, signature_header, anchors, Trust::ValidAt(now_unix))
}

/// Verifies like [`verify`], but trusts an anchor because its public key is one of `pins`
/// (SHA-256 of the SubjectPublicKeyInfo, `KNOX_CERT_SPKI_SHA256`), whatever its validity
/// period. The pin is then the trust decision: Samsung renews the certificate and keeps the
/// key (research notes, protocols-2.md), so a pinned key that verifies is Samsung's key
/// whether or not the certificate holding it has expired, and a certificate carrying any
/// other key is never used, however valid.
pub fn verify_pinned(
    body: &[u8],
    signature_header: &str,
    anchors: &[KnoxCertificate],
    pins: &[SpkiPin],
) -> Result<Verified, KnoxError> {
    verify_anchors(body, signature_header, anchors, Trust::Pinned(pins))
}

/// What makes an anchor usable.
#[derive(Clone, Copy)]
enum Trust<'a> {
    /// Inside its validity period at this unix time (Samsung's verifier's rule).
    ValidAt(i64),
    /// Its public key is pinned.
    Pinned(&'a [SpkiPin]),
}

fn verify_anchors(
    body: &[u8],
    signature_header: &str,
    anchors: &[KnoxCertificate],
    trust: Trust<'_>,
) -> Result<Verified, KnoxError> {
    let jws = Jws::parse(signature_header)?;
    let canonical = jackson::canonicalize(body)?;

    if anchors.is_empty() {
        return Err(KnoxError::NoAnchor);
    }
    let valid: Vec<&KnoxCertificate> = anchors
        .iter()
        .filter(|anchor| match trust {
            Trust::ValidAt(now_unix) => anchor.is_valid_at(now_unix),
            Trust::Pinned(pins) => anchor.key_is_pinned(pins),
        })
        .collect();
    if valid.is_empty() {
        let configured = anchors.len();
        return Err(match trust {
            Trust::ValidAt(_) => KnoxError::NoValidAnchor { configured },
            Trust::Pinned(_) => KnoxError::NoPinnedAnchor { configured },
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
                    content_sha256: hex::encode(Sha256::digest(signed)),
                    header: JoseHeader::read(jws.protected),
                });
            }
        }
    }
    Err(KnoxError::BadSignature)
}

/// Produces the `X-WSM-SIGNATURE` Samsung would send for `body` (tests, `hookwarden sign`).
pub fn sign(body: &[u8], key: &RsaSigningKey) -> Result<String, KnoxError> {
    sign_with_header(body, &URL_UNPADDED.encode(PROTECTED_HEADER), key)
}

/// As [`sign`], with `protected` as the JWS header part, verbatim (tests: Samsung's verifier
/// signs whatever `parts[0]` holds, so hookwarden must accept any).
pub fn sign_with_header(
    body: &[u8],
    protected: &str,
    key: &RsaSigningKey,
) -> Result<String, KnoxError> {
    let canonical = jackson::canonicalize(body)?;
    let input = signing_input(protected, &canonical, &URL_PADDED);
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
    /// `parts[0]` exactly as received, whatever it holds (Samsung's verifier never decodes
    /// it): it is signed verbatim, never re-encoded nor checked.
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
        let len = protected.len() + signature.len();
        if len > MAX_SIGNATURE_HEADER_LEN {
            return Err(KnoxError::HeaderTooLong { len });
        }
        let signature = JAVA_URL_DECODER
            .decode(signature)
            .map_err(|_| KnoxError::SignatureEncoding)?;
        Ok(Self {
            protected,
            signature,
        })
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

    /// An RSA-2048 key and a certificate for it (rcgen's default validity spans `NOW`).
    fn test_anchor() -> (RsaSigningKey, KnoxCertificate) {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let params = rcgen::CertificateParams::new(vec!["knox.test".to_owned()]).unwrap();
        let certificate = params.self_signed(&key).unwrap();
        (
            RsaSigningKey::from_pkcs8_der(&key.serialize_der()).unwrap(),
            KnoxCertificate::parse(certificate.der()).unwrap(),
        )
    }

    const NOW: i64 = 1_767_225_600;

    #[test]
    fn any_header_is_signed_verbatim_and_only_described() {
        let (key, certificate) = test_anchor();
        let anchors = std::slice::from_ref(&certificate);
        let body = br#"{"event":"KG_DEVICE_LOCKED","subscriptionId":"s-1"}"#;
        let payload = URL_PADDED.encode(jackson::canonicalize(body).unwrap());
        // What Samsung's verifier accepts: an RS256 signature over `parts[0].payload`.
        let signed_with = |protected: &str| {
            let input = format!("{protected}.{payload}");
            let signature = URL_UNPADDED.encode(key.sign_pkcs1_sha256(input.as_bytes()));
            format!("{input}.{signature}")
        };
        let samsung = header(PROTECTED_HEADER);
        assert_eq!(sign(body, &key).unwrap(), signed_with(&samsung));
        for (protected, description) in [
            (samsung.clone(), "alg=RS256 typ=- kid=-"),
            (
                header(r#"{"typ":"JWT","alg":"RS256","kid":"k-2026"}"#),
                "alg=RS256 typ=JWT kid=k-2026",
            ),
            (header(r#"{"typ":"JWT"}"#), "alg=- typ=JWT kid=-"),
            (header("{}"), "alg=- typ=- kid=-"),
            (header(r#"{"alg":"rs256"}"#), "alg=rs256 typ=- kid=-"),
            (header(r#"{"alg":"RSA256"}"#), "alg=RSA256 typ=- kid=-"),
            (header(r#"{"x5t":"dGh1bWI"}"#), "alg=- typ=- kid=-"),
            // Naming another algorithm chooses nothing: RS256 and the pinned key are fixed.
            (header(r#"{"alg":"none"}"#), "alg=none typ=- kid=-"),
            (header(r#"{"alg":"HS256"}"#), "alg=HS256 typ=- kid=-"),
            (header("not json"), "not a JSON object"),
            (
                URL_PADDED.encode(r#"{"alg":"RS256" }"#),
                "alg=RS256 typ=- kid=-",
            ),
            (PROTECTED_HEADER.to_owned(), "not base64url"),
            ("+/ \u{7f}\u{e9}".to_owned(), "not base64url"),
            (String::new(), "empty"),
        ] {
            let verified = verify(body, &signed_with(&protected), anchors, NOW)
                .unwrap_or_else(|err| panic!("{protected:?}: {err}"));
            assert_eq!(verified.header.describe(), description, "{protected:?}");
            assert_eq!(verified.form, SignedForm::CanonicalPadded);
            assert_eq!(verified.event.as_deref(), Some("KG_DEVICE_LOCKED"));

            // The header bytes are signed: any change to them breaks the signature, whether
            // it is another header, Samsung's own, or one byte more or less.
            let signature = signed_with(&protected)
                .rsplit_once('.')
                .unwrap()
                .1
                .to_owned();
            let mut changed = vec![
                format!("{protected}A"),
                format!("A{protected}"),
                header(r#"{"alg":"RS512"}"#),
                samsung.clone(),
            ];
            if let Some(shorter) = protected.get(1..) {
                changed.push(shorter.to_owned());
            }
            for other in changed.into_iter().filter(|other| *other != protected) {
                let forged = format!("{other}.{payload}.{signature}");
                let err = verify(body, &forged, anchors, NOW).unwrap_err();
                assert!(matches!(err, KnoxError::BadSignature), "{other:?}: {err}");
                assert_eq!(err.kind(), RejectKind::Forged);
            }
        }
    }

    #[test]
    fn jws_parse_checks_size_parts_and_signature_encoding() {
        let protected = header(r#"{"alg":"RS256"}"#);
        let text = format!(" {protected}.payload.QUJD\t");
        let jws = Jws::parse(&text).unwrap();
        assert_eq!(jws.protected, protected);
        assert_eq!(jws.signature, b"ABC");
        // The header part is taken as it is, whatever it holds.
        for protected in ["", "{\"alg\":\"none\"}", "not base64 \u{e9}"] {
            let text = format!("{protected}.payload.QUJD");
            assert_eq!(Jws::parse(&text).unwrap().protected, protected);
        }

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
