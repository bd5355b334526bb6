//! Knox `X-WSM-SIGNATURE` verification: what Samsung sends verifies, what an attacker can
//! change does not.

use std::process::Command;

use base64::Engine as _;
use hookwarden_verify::encoding::{JAVA_URL_DECODER, STANDARD, URL_PADDED, URL_UNPADDED};
use hookwarden_verify::jackson;
use hookwarden_verify::knox::{self, KnoxError, SignedForm};
use hookwarden_verify::reject::RejectKind;
use hookwarden_verify::rsa::{verify_pkcs1_sha256, RsaSigningKey};
use hookwarden_verify::x509::KnoxCertificate;

use crate::support::{anchor, anchor_valid, shared_anchor, NOW, PRETTY_BODY, VECTOR_BODY};

/// protocols.md §5.1 for [`VECTOR_BODY`]: computed with Jackson 2.14 on JDK 17 and
/// cross-checked in Python.
const VECTOR_CANONICAL: &str = r#"{"payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.7E12,"ratio":1.1,"note":"a/b\u001F"},"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS"}"#;
const VECTOR_B64: &str = "eyJwYXlsb2FkIjp7ImltZWkiOiIxMjM0NTY3ODkiLCJiYXR0ZXJ5TGV2ZWwiOjg1LCJ1cGRhdGVkVGltZSI6MS43RTEyLCJyYXRpbyI6MS4xLCJub3RlIjoiYS9iXHUwMDFGIn0sInN1YnNjcmlwdGlvbklkIjoiMTIzNDU2Nzg5MTIzIiwiZXZlbnQiOiJLQUlfQkFUVEVSWV9TVEFUVVMifQ==";
const VECTOR_PROTECTED: &str = "eyJhbGciOiJSUzI1NiJ9";
const VECTOR_SIGNING_INPUT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJwYXlsb2FkIjp7ImltZWkiOiIxMjM0NTY3ODkiLCJiYXR0ZXJ5TGV2ZWwiOjg1LCJ1cGRhdGVkVGltZSI6MS43RTEyLCJyYXRpbyI6MS4xLCJub3RlIjoiYS9iXHUwMDFGIn0sInN1YnNjcmlwdGlvbklkIjoiMTIzNDU2Nzg5MTIzIiwiZXZlbnQiOiJLQUlfQkFUVEVSWV9TVEFUVVMifQ==";

/// `protected.payload.signature` with the signature made over `protected.signed` by `key`.
fn jws(key: &RsaSigningKey, protected: &str, payload: &str, signed: &str) -> String {
    let signature = key.sign_pkcs1_sha256(format!("{protected}.{signed}").as_bytes());
    format!("{protected}.{payload}.{}", URL_UNPADDED.encode(signature))
}

fn protected(json: &str) -> String {
    URL_UNPADDED.encode(json)
}

fn canonical_b64(body: &str) -> String {
    URL_PADDED.encode(jackson::canonicalize(body.as_bytes()).unwrap())
}

#[test]
fn sign_then_verify_round_trip() {
    let anchor = shared_anchor();
    let header = knox::sign(PRETTY_BODY.as_bytes(), &anchor.signing_key).unwrap();
    let parts: Vec<&str> = header.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], VECTOR_PROTECTED, "{{\"alg\":\"RS256\"}}");
    assert_eq!(parts[1], canonical_b64(PRETTY_BODY));

    let verified = knox::verify(
        PRETTY_BODY.as_bytes(),
        &header,
        std::slice::from_ref(&anchor.certificate),
        NOW,
    )
    .unwrap();
    assert_eq!(verified.form, SignedForm::CanonicalPadded);
    assert_eq!(verified.header.describe(), "alg=RS256 typ=- kid=-");
    assert_eq!(verified.event.as_deref(), Some("KG_DEVICE_LOCKED"));
    assert_eq!(verified.subscription_id.as_deref(), Some("sub-01"));
    assert_eq!(
        verified.certificate_fingerprint,
        anchor.certificate.fingerprint_sha256()
    );
}

#[test]
fn section_5_1_vector_is_the_signing_input() {
    let anchor = shared_anchor();
    assert_eq!(
        jackson::canonicalize(VECTOR_BODY.as_bytes()).unwrap(),
        VECTOR_CANONICAL.as_bytes()
    );

    // Our signer signs exactly the vector's signing input.
    let header = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
    let parts: Vec<&str> = header.split('.').collect();
    assert_eq!(format!("{}.{}", parts[0], parts[1]), VECTOR_SIGNING_INPUT);
    assert_eq!(parts[1], VECTOR_B64);
    let signature = JAVA_URL_DECODER.decode(parts[2]).unwrap();
    assert!(verify_pkcs1_sha256(
        anchor.certificate.public_key(),
        VECTOR_SIGNING_INPUT.as_bytes(),
        &signature
    ));

    // And a signature the openssl CLI makes over the vector's signing input verifies, with a
    // payload part that is not the body at all (the reference verifier never reads it).
    let signature = openssl_sign(&anchor.private_key_der, VECTOR_SIGNING_INPUT.as_bytes());
    let header = format!(
        "{VECTOR_PROTECTED}.ignored.{}",
        URL_UNPADDED.encode(&signature)
    );
    let verified = knox::verify(
        VECTOR_BODY.as_bytes(),
        &header,
        std::slice::from_ref(&anchor.certificate),
        NOW,
    )
    .unwrap();
    assert_eq!(verified.form, SignedForm::CanonicalPadded);
    assert_eq!(verified.event.as_deref(), Some("KAI_BATTERY_STATUS"));
    assert_eq!(verified.subscription_id.as_deref(), Some("123456789123"));
}

fn openssl_sign(pkcs8_der: &[u8], message: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.der");
    let input = dir.path().join("input");
    let output = dir.path().join("sig");
    std::fs::write(&key, pkcs8_der).unwrap();
    std::fs::write(&input, message).unwrap();
    let status = Command::new("openssl")
        .args(["dgst", "-sha256", "-keyform", "DER", "-sign"])
        .arg(&key)
        .arg("-out")
        .arg(&output)
        .arg(&input)
        .status()
        .expect("openssl CLI must be installed");
    assert!(status.success());
    std::fs::read(output).unwrap()
}

#[test]
fn every_candidate_form_verifies_and_is_reported() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    let canonical = jackson::canonicalize(PRETTY_BODY.as_bytes()).unwrap();
    assert_ne!(canonical, PRETTY_BODY.as_bytes());
    // Lengths where padded and unpadded base64 differ, so each form is distinguishable.
    assert_ne!(canonical.len() % 3, 0);
    assert_ne!(PRETTY_BODY.len() % 3, 0);
    let rs256 = protected(r#"{"alg":"RS256"}"#);
    let cases = [
        (URL_PADDED.encode(&canonical), SignedForm::CanonicalPadded),
        (
            URL_UNPADDED.encode(&canonical),
            SignedForm::CanonicalUnpadded,
        ),
        (URL_PADDED.encode(PRETTY_BODY), SignedForm::RawPadded),
        (URL_UNPADDED.encode(PRETTY_BODY), SignedForm::RawUnpadded),
    ];
    for (signed, form) in cases {
        let header = jws(&anchor.signing_key, &rs256, "x", &signed);
        let verified = knox::verify(PRETTY_BODY.as_bytes(), &header, anchors, NOW).unwrap();
        assert_eq!(verified.form, form);
        assert_eq!(verified.event.as_deref(), Some("KG_DEVICE_LOCKED"));
    }

    // Standard-alphabet base64 is not one of the forms (`?` and `~` encode to `/` and `+`).
    let body = r#"{"event":"KG_DEVICE_LOCKED","note":"???~~~"}"#;
    let standard = STANDARD.encode(body);
    assert!(
        standard.contains('+') && standard.contains('/'),
        "{standard}"
    );
    let header = jws(&anchor.signing_key, &rs256, "x", &standard);
    let err = knox::verify(body.as_bytes(), &header, anchors, NOW).unwrap_err();
    assert!(matches!(err, KnoxError::BadSignature), "{err}");
    assert_eq!(err.kind(), RejectKind::Forged);
}

#[test]
fn a_canonical_body_reports_the_canonical_form_for_raw_signatures() {
    let anchor = shared_anchor();
    let header = jws(
        &anchor.signing_key,
        VECTOR_PROTECTED,
        "x",
        &URL_UNPADDED.encode(VECTOR_CANONICAL),
    );
    let verified = knox::verify(
        VECTOR_CANONICAL.as_bytes(),
        &header,
        std::slice::from_ref(&anchor.certificate),
        NOW,
    )
    .unwrap();
    assert_eq!(verified.form, SignedForm::CanonicalUnpadded);
}

#[test]
fn equivalent_bodies_share_a_signature_but_changed_values_do_not() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    let header = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
    // Same Jackson form: whitespace, `1.10` vs `1.1`, escapes, `payload` moved. (Swapping
    // `event` and `subscriptionId` would NOT be equivalent: they share a HashMap bucket, so
    // their arrival order shows through; checked with Jackson 2.14 on JDK 17.)
    let equivalent = r#"{ "payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.7E12,"ratio":1.1,"note":"a\/b\u001F"}, "subscriptionId":"123456789123",
        "event":"KAI_BATTERY_STATUS"}"#;
    assert!(knox::verify(equivalent.as_bytes(), &header, anchors, NOW).is_ok());
    for changed in [
        VECTOR_BODY.replace("85", "86"),
        VECTOR_BODY.replace("KAI_BATTERY_STATUS", "KG_DEVICE_UNLOCKED"),
        VECTOR_BODY.replace(r#""imei":"123456789","#, ""),
    ] {
        let err = knox::verify(changed.as_bytes(), &header, anchors, NOW).unwrap_err();
        assert!(matches!(err, KnoxError::BadSignature), "{err}");
    }
}

/// Samsung's verifier never decodes `parts[0]`: whatever it holds, an RS256 signature over it
/// by the pinned key verifies. The header only shows in the log.
#[test]
fn any_header_samsung_signed_verifies_and_only_shows_in_the_log() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    let signed = canonical_b64(VECTOR_BODY);
    for (protected, logged) in [
        (protected(r#"{"alg":"none"}"#), "alg=none typ=- kid=-"),
        (protected(r#"{"alg":"HS256"}"#), "alg=HS256 typ=- kid=-"),
        (protected(r#"{"alg":"RS512"}"#), "alg=RS512 typ=- kid=-"),
        (protected(r#"{"typ":"JWT"}"#), "alg=- typ=JWT kid=-"),
        (protected("not json"), "not a JSON object"),
        (r#"{"alg":"RS256"}"#.to_owned(), "not base64url"),
        (String::new(), "empty"),
    ] {
        let header = jws(&anchor.signing_key, &protected, "x", &signed);
        let verified = knox::verify(VECTOR_BODY.as_bytes(), &header, anchors, NOW)
            .unwrap_or_else(|err| panic!("{protected}: {err}"));
        assert_eq!(verified.header.describe(), logged, "{protected}");
        assert_eq!(verified.form, SignedForm::CanonicalPadded);

        // The header bytes are signed: Samsung's own header over the same signature, or the
        // same header over Samsung's signature, is a forgery.
        let (_, signature) = header.rsplit_once('.').unwrap();
        let swapped = format!("{VECTOR_PROTECTED}.x.{signature}");
        let genuine = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
        let (_, genuine_signature) = genuine.rsplit_once('.').unwrap();
        for forged in [swapped, format!("{protected}.x.{genuine_signature}")] {
            let err = knox::verify(VECTOR_BODY.as_bytes(), &forged, anchors, NOW).unwrap_err();
            assert!(matches!(err, KnoxError::BadSignature), "{forged}: {err}");
            assert_eq!(err.kind(), RejectKind::Forged);
        }
    }
    // `alg: none` with an empty signature has only two parts under Java's split.
    let header = format!("{}.{signed}.", protected(r#"{"alg":"none"}"#));
    let err = knox::verify(VECTOR_BODY.as_bytes(), &header, anchors, NOW).unwrap_err();
    assert!(matches!(err, KnoxError::PartCount { parts: 2 }), "{err}");
    // An `alg` that is not RS256 gets no other algorithm: an HS256 MAC keyed with the
    // certificate is 32 bytes, which no RSA key's signature is.
    let header = format!(
        "{}.x.{}",
        protected(r#"{"alg":"HS256"}"#),
        URL_UNPADDED.encode([7u8; 32])
    );
    let err = knox::verify(VECTOR_BODY.as_bytes(), &header, anchors, NOW).unwrap_err();
    assert!(
        matches!(err, KnoxError::SignatureLength { actual: 32 }),
        "{err}"
    );
}

#[test]
fn the_key_never_comes_from_the_header() {
    let pinned = shared_anchor();
    let attacker = anchor();
    let x5c = STANDARD.encode(&attacker.certificate_der);
    let header_json = format!(
        r#"{{"alg":"RS256","x5c":["{x5c}"],"jku":"https://127.0.0.1/jwks","kid":"attacker"}}"#
    );
    let signed = canonical_b64(VECTOR_BODY);
    let forged = jws(
        &attacker.signing_key,
        &protected(&header_json),
        "x",
        &signed,
    );
    let err = knox::verify(
        VECTOR_BODY.as_bytes(),
        &forged,
        std::slice::from_ref(&pinned.certificate),
        NOW,
    )
    .unwrap_err();
    assert!(matches!(err, KnoxError::BadSignature), "{err}");

    // The same header fields on a genuine signature change nothing; they only show in the log.
    let genuine = jws(&pinned.signing_key, &protected(&header_json), "x", &signed);
    let verified = knox::verify(
        VECTOR_BODY.as_bytes(),
        &genuine,
        std::slice::from_ref(&pinned.certificate),
        NOW,
    )
    .unwrap();
    assert_eq!(verified.header.describe(), "alg=RS256 typ=- kid=attacker");
    assert_eq!(
        verified.certificate_fingerprint,
        pinned.certificate.fingerprint_sha256()
    );
}

#[test]
fn part_counts_follow_java_split() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    let header = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
    let (protected_and_payload, signature) = header.rsplit_once('.').unwrap();
    let verify = |h: &str| knox::verify(VECTOR_BODY.as_bytes(), h, anchors, NOW);

    // Java drops trailing empty strings: one or more trailing dots still give 3 parts.
    assert!(verify(&format!("{header}.")).is_ok());
    assert!(verify(&format!("{header}...")).is_ok());
    // An empty payload part is kept by Java and never read.
    assert!(verify(&format!("{VECTOR_PROTECTED}..{signature}")).is_ok());
    // Surrounding whitespace is HTTP's, not the header's.
    assert!(verify(&format!(" {header}\t")).is_ok());

    for (h, parts) in [
        (format!("{VECTOR_PROTECTED}.{signature}"), 2),
        (format!("{header}.extra"), 4),
        (format!("{protected_and_payload}.x.{signature}"), 4),
        (format!("{protected_and_payload}."), 2),
        (signature.to_owned(), 1),
        (String::new(), 1),
        ("...".to_owned(), 0),
    ] {
        let err = verify(&h).unwrap_err();
        assert!(
            matches!(err, KnoxError::PartCount { parts: p } if p == parts),
            "{parts}: {err}"
        );
        assert_eq!(err.kind(), RejectKind::Malformed);
    }
}

#[test]
fn signature_encoding_and_length() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    let header = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
    let (signed, signature) = header.rsplit_once('.').unwrap();
    let signature = JAVA_URL_DECODER.decode(signature).unwrap();
    let verify = |sig: &str| {
        knox::verify(
            VECTOR_BODY.as_bytes(),
            &format!("{signed}.{sig}"),
            anchors,
            NOW,
        )
    };

    // java.util.Base64's URL decoder takes the padded spelling too.
    assert!(verify(&URL_PADDED.encode(&signature)).is_ok());

    let longer = [&signature[..], &[0]].concat();
    for (sig, len) in [(&signature[..255], 255), (&longer[..], 257), (&[][..], 0)] {
        let err = verify(&URL_UNPADDED.encode(sig)).unwrap_err();
        // An empty third part is dropped by Java's split: two parts.
        if len == 0 {
            assert!(matches!(err, KnoxError::PartCount { parts: 2 }), "{err}");
            continue;
        }
        assert!(
            matches!(err, KnoxError::SignatureLength { actual } if actual == len),
            "{err}"
        );
        assert_eq!(err.kind(), RejectKind::Forged);
    }

    let mut with_plus = URL_UNPADDED.encode(&signature);
    with_plus.replace_range(0..1, "+");
    let err = verify(&with_plus).unwrap_err();
    assert!(matches!(err, KnoxError::SignatureEncoding), "{err}");
    assert_eq!(err.kind(), RejectKind::Malformed);
}

#[test]
fn wrong_certificate_is_forged() {
    let signer = shared_anchor();
    let other = anchor();
    let header = knox::sign(VECTOR_BODY.as_bytes(), &signer.signing_key).unwrap();
    let err = knox::verify(
        VECTOR_BODY.as_bytes(),
        &header,
        std::slice::from_ref(&other.certificate),
        NOW,
    )
    .unwrap_err();
    assert!(matches!(err, KnoxError::BadSignature), "{err}");
    assert_eq!(err.kind(), RejectKind::Forged);
}

#[test]
fn rotation_tries_every_valid_anchor() {
    let old = anchor();
    let new = shared_anchor();
    let header = knox::sign(VECTOR_BODY.as_bytes(), &new.signing_key).unwrap();
    // A 3072-bit anchor has another signature length: skipped, not an error.
    let bigger = anchor_valid(3072, 2025, 2027);
    let anchors = [
        old.certificate.clone(),
        bigger.certificate.clone(),
        new.certificate.clone(),
    ];
    let verified = knox::verify(VECTOR_BODY.as_bytes(), &header, &anchors, NOW).unwrap();
    assert_eq!(
        verified.certificate_fingerprint,
        new.certificate.fingerprint_sha256()
    );

    let header = knox::sign(VECTOR_BODY.as_bytes(), &bigger.signing_key).unwrap();
    let verified = knox::verify(VECTOR_BODY.as_bytes(), &header, &anchors, NOW).unwrap();
    assert_eq!(
        verified.certificate_fingerprint,
        bigger.certificate.fingerprint_sha256()
    );
}

#[test]
fn certificates_outside_their_validity_are_unusable() {
    let expired = anchor_valid(2048, 2020, 2025);
    let future = anchor_valid(2048, 2027, 2030);
    for anchor in [&expired, &future] {
        let header = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
        let err = knox::verify(
            VECTOR_BODY.as_bytes(),
            &header,
            std::slice::from_ref(&anchor.certificate),
            NOW,
        )
        .unwrap_err();
        assert!(
            matches!(err, KnoxError::NoValidAnchor { configured: 1 }),
            "{err}"
        );
        assert_eq!(err.kind(), RejectKind::NoUsableKey);
        // The same signature verifies at a time inside the certificate's validity.
        let inside = anchor.certificate.not_before() + 1;
        assert!(knox::verify(
            VECTOR_BODY.as_bytes(),
            &header,
            std::slice::from_ref(&anchor.certificate),
            inside
        )
        .is_ok());
    }

    // An expired anchor is not used even when it alone matches: the valid one decides.
    let valid_other = shared_anchor();
    let header = knox::sign(VECTOR_BODY.as_bytes(), &expired.signing_key).unwrap();
    let anchors = [expired.certificate.clone(), valid_other.certificate.clone()];
    let err = knox::verify(VECTOR_BODY.as_bytes(), &header, &anchors, NOW).unwrap_err();
    assert!(matches!(err, KnoxError::BadSignature), "{err}");

    let err = knox::verify(VECTOR_BODY.as_bytes(), &header, &[], NOW).unwrap_err();
    assert!(matches!(err, KnoxError::NoAnchor), "{err}");
    assert_eq!(err.kind(), RejectKind::NoUsableKey);
}

/// `verify_pinned`: the pin decides, not the validity period. An expired certificate whose
/// key is pinned verifies (Samsung renews its certificate and keeps the key); a valid
/// certificate whose key is not pinned is never used.
#[test]
fn pinned_keys_verify_whatever_the_validity_period() {
    let body = VECTOR_BODY.as_bytes();
    let expired = anchor_valid(2048, 2020, 2025);
    let pin = expired.certificate.spki_sha256();
    let header = knox::sign(body, &expired.signing_key).unwrap();
    let verified = knox::verify_pinned(
        body,
        &header,
        std::slice::from_ref(&expired.certificate),
        &[pin],
    )
    .unwrap();
    assert_eq!(
        verified.certificate_fingerprint,
        expired.certificate.fingerprint_sha256()
    );

    let unpinned = shared_anchor();
    let err = knox::verify_pinned(
        body,
        &header,
        std::slice::from_ref(&unpinned.certificate),
        &[pin],
    )
    .unwrap_err();
    assert!(
        matches!(err, KnoxError::NoPinnedAnchor { configured: 1 }),
        "{err}"
    );
    assert_eq!(err.kind(), RejectKind::NoUsableKey);
    let err = knox::verify_pinned(
        body,
        &header,
        std::slice::from_ref(&expired.certificate),
        &[],
    )
    .unwrap_err();
    assert!(matches!(err, KnoxError::NoPinnedAnchor { .. }), "{err}");

    // Signed by the valid but unpinned key: that anchor is not tried.
    let forged = knox::sign(body, &unpinned.signing_key).unwrap();
    let anchors = [expired.certificate.clone(), unpinned.certificate.clone()];
    let err = knox::verify_pinned(body, &forged, &anchors, &[pin]).unwrap_err();
    assert!(matches!(err, KnoxError::BadSignature), "{err}");
    assert!(knox::verify(body, &forged, &anchors, NOW).is_ok());
}

#[test]
fn pem_and_der_anchors_both_verify() {
    let anchor = shared_anchor();
    let header = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
    for bytes in [
        anchor.certificate_pem.as_bytes(),
        anchor.certificate_der.as_slice(),
    ] {
        let cert = KnoxCertificate::parse(bytes).unwrap();
        assert_eq!(cert.der(), anchor.certificate_der);
        assert!(knox::verify(VECTOR_BODY.as_bytes(), &header, &[cert], NOW).is_ok());
    }
}

#[test]
fn bodies_samsung_cannot_have_signed_are_malformed() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    // Any syntactically valid header: the body is judged before the signature.
    let header = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
    for body in [
        &b"[1,2]"[..],
        b"\"event\"",
        b"{\"event\":\"A\",\"event\":\"B\"}",
        b"{\"event\":",
        b"",
        b"\xff",
    ] {
        let err = knox::verify(body, &header, anchors, NOW).unwrap_err();
        assert!(matches!(err, KnoxError::Body(_)), "{body:?}: {err}");
        assert_eq!(err.kind(), RejectKind::Malformed);
        assert!(knox::sign(body, &anchor.signing_key).is_err());
    }
}

#[test]
fn large_bodies_verify_but_oversized_jose_parts_do_not() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    // Samsung's payload part is the whole body, base64url: a 300 KB callback needs a 400 KB
    // header, and that is fine because the payload part is never decoded.
    let items: Vec<String> = (0..10_000)
        .map(|i| format!(r#"{{"app":"com.example.app{i}","anr":{i}}}"#))
        .collect();
    let body = format!(
        r#"{{"subscriptionId":"s","event":"KAI_APP_ANR_FC","payload":{{"apps":[{}]}}}}"#,
        items.join(",")
    );
    assert!(body.len() > 300_000);
    let header = knox::sign(body.as_bytes(), &anchor.signing_key).unwrap();
    assert!(header.len() > 400_000);
    assert!(knox::verify(body.as_bytes(), &header, anchors, NOW).is_ok());

    // The JOSE header and the signature, which are hashed and decoded, are capped (Samsung's
    // verifier has no such cap; its header is 20 bytes).
    let (protected_part, rest) = header.split_once('.').unwrap();
    let bloated = URL_UNPADDED.encode(format!(
        r#"{{"alg":"RS256","x":"{}"}}"#,
        "y".repeat(knox::MAX_SIGNATURE_HEADER_LEN)
    ));
    let err =
        knox::verify(body.as_bytes(), &format!("{bloated}.{rest}"), anchors, NOW).unwrap_err();
    assert!(matches!(err, KnoxError::HeaderTooLong { .. }), "{err}");
    assert_eq!(err.kind(), RejectKind::Malformed);
    assert!(protected_part.len() < 100);
}
