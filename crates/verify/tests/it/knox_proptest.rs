//! Properties of Knox verification over arbitrary tampering.

use base64::Engine as _;
use hookwarden_verify::encoding::{JAVA_URL_DECODER, URL_PADDED, URL_UNPADDED};
use hookwarden_verify::jackson;
use hookwarden_verify::knox::{self, KnoxError};
use proptest::prelude::*;

use crate::support::{shared_anchor, NOW};

/// Whitespace, escapes, numbers Jackson rewrites and nesting, so that some flips leave the
/// canonical form unchanged and most change or break it.
const BODY: &str = "{ \"subscriptionId\" : \"123456789123\",\n  \"event\" : \"KAI_APP_ANR_FC\",\n  \"payload\": { \"imei\": \"123456789\", \"appName\": \"Android System WebView\", \"ratio\": 1.10, \"list\": [1, 2.50, true, null], \"note\": \"caf\\u00e9 \\/ \\n\" } }";

fn header() -> &'static str {
    static HEADER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HEADER.get_or_init(|| knox::sign(BODY.as_bytes(), &shared_anchor().signing_key).unwrap())
}

fn verify(body: &[u8], header: &str) -> Result<knox::Verified, KnoxError> {
    knox::verify(
        body,
        header,
        std::slice::from_ref(&shared_anchor().certificate),
        NOW,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A flipped body byte verifies exactly when the canonical form is unchanged.
    #[test]
    fn flipped_body_byte_verifies_iff_canonical_form_unchanged(
        index in 0..BODY.len(),
        mask in 1u8..=255,
    ) {
        let mut body = BODY.as_bytes().to_vec();
        body[index] ^= mask;
        let original = jackson::canonicalize(BODY.as_bytes()).unwrap();
        let same_canonical = jackson::canonicalize(&body).is_ok_and(|c| c == original);
        let result = verify(&body, header());
        prop_assert_eq!(result.is_ok(), same_canonical, "{:?}", result.err());
    }

    /// Any change to the decoded signature is rejected as forged.
    #[test]
    fn flipped_signature_byte_is_rejected(index in 0..256usize, mask in 1u8..=255) {
        let (signed, signature) = header().rsplit_once('.').unwrap();
        let mut signature = JAVA_URL_DECODER.decode(signature).unwrap();
        signature[index] ^= mask;
        let tampered = format!("{signed}.{}", URL_UNPADDED.encode(&signature));
        let result = verify(BODY.as_bytes(), &tampered);
        prop_assert!(matches!(result, Err(KnoxError::BadSignature)), "{:?}", result);
    }

    /// Any other character in the protected header (parts[0] is signed verbatim, never
    /// decoded) is rejected as forged, whatever it is.
    #[test]
    fn changed_protected_header_is_rejected(index in 0..20usize, replacement in "[^. \t]{1,3}") {
        let original = &header()[index..index + 1];
        prop_assume!(original != replacement);
        let mut tampered = header().to_owned();
        tampered.replace_range(index..index + 1, &replacement);
        let result = verify(BODY.as_bytes(), &tampered);
        prop_assert!(matches!(result, Err(KnoxError::BadSignature)), "{:?}", result);
    }

    /// Whatever `parts[0]` holds, a signature over it verifies (as in Samsung's verifier), and
    /// what the log shows of it is short printable ASCII.
    #[test]
    fn any_signed_protected_header_verifies_and_is_logged_safely(
        protected in prop_oneof![
            "[^. \t][^.]{0,60}[^. \t]",
            any::<String>().prop_map(|json| URL_UNPADDED.encode(json)),
            prop::collection::vec(("[a-z]{1,4}", any::<String>()), 0..5).prop_map(|fields| {
                let object: serde_json::Map<String, serde_json::Value> =
                    fields.into_iter().map(|(k, v)| (k, v.into())).collect();
                URL_UNPADDED.encode(serde_json::to_string(&object).unwrap())
            }),
        ],
    ) {
        let payload = URL_PADDED.encode(jackson::canonicalize(BODY.as_bytes()).unwrap());
        let input = format!("{protected}.{payload}");
        let signature = shared_anchor().signing_key.sign_pkcs1_sha256(input.as_bytes());
        let signed = format!("{input}.{}", URL_UNPADDED.encode(signature));
        let verified = verify(BODY.as_bytes(), &signed);
        let verified = verified.map_err(|err| TestCaseError::fail(format!("{protected:?}: {err}")))?;
        let logged = verified.header.describe();
        prop_assert!(logged.len() <= 160, "{}", logged);
        prop_assert!(logged.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{}", logged);
    }

    /// The payload part is never read: any dot-free text there changes nothing.
    #[test]
    fn payload_part_is_ignored(payload in "[A-Za-z0-9_=+/ -]{0,64}") {
        let parts: Vec<&str> = header().split('.').collect();
        let replaced = format!("{}.{payload}.{}", parts[0], parts[2]);
        prop_assert!(verify(BODY.as_bytes(), &replaced).is_ok());
    }
}

#[test]
fn the_unmodified_body_verifies() {
    // Guards the properties above against a header that never verified in the first place.
    assert!(verify(BODY.as_bytes(), header()).is_ok());
}
