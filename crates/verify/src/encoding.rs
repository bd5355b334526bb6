//! Base64 flavours the three providers use, configured once so every module agrees.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// `java.util.Base64.getUrlEncoder()`: URL-safe alphabet WITH `=` padding. Samsung's
/// reference verifier encodes the canonical body this way.
pub const URL_PADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(true),
);

/// URL-safe without padding: what RFC 7515 JWS libraries emit.
pub const URL_UNPADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false),
);

/// `java.util.Base64.getUrlDecoder()`: padding optional, non-zero trailing bits ignored. Using
/// exactly Java's leniency means a signature Samsung's verifier decodes, we decode too.
pub const JAVA_URL_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// `java.util.Base64.getEncoder()`/`getDecoder()`: the standard alphabet with padding
/// (OneAccess signatures and ciphertext).
pub const STANDARD: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Standard alphabet, padding optional: for headers whose exact form no provider documents.
const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe alphabet, padding optional.
const URL_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 in either alphabet, padded or not. Trailing bits must be zero, so every
/// byte string has exactly one accepted spelling per alphabet and padding choice.
pub fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    STANDARD_ANY_PADDING
        .decode(text)
        .or_else(|_| URL_ANY_PADDING.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_padded_matches_java_get_url_encoder() {
        // java.util.Base64.getUrlEncoder().encodeToString("A".getBytes()) == "QQ=="
        assert_eq!(URL_PADDED.encode(b"A"), "QQ==");
        assert_eq!(URL_UNPADDED.encode(b"A"), "QQ");
        assert_eq!(URL_PADDED.encode([0xfb, 0xff]), "-_8=");
    }

    #[test]
    fn java_url_decoder_leniency() {
        assert_eq!(JAVA_URL_DECODER.decode("QQ==").unwrap(), b"A");
        assert_eq!(JAVA_URL_DECODER.decode("QQ").unwrap(), b"A");
        // Java ignores non-zero trailing bits: "QR==" decodes to 0x41.
        assert_eq!(JAVA_URL_DECODER.decode("QR==").unwrap(), b"A");
        // ... and rejects the standard alphabet, whitespace and a lone final character.
        assert!(JAVA_URL_DECODER.decode("+/==").is_err());
        assert!(JAVA_URL_DECODER.decode("QQ ==").is_err());
        assert!(JAVA_URL_DECODER.decode("QUJDR").is_err());
    }

    #[test]
    fn lenient_accepts_both_alphabets_and_paddings() {
        let bytes = [0xfb, 0xff, 0x01];
        for text in ["+/8B", "-_8B"] {
            assert_eq!(decode_lenient(text).unwrap(), bytes);
        }
        assert_eq!(decode_lenient("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_lenient("-_8").unwrap(), [0xfb, 0xff]);
        assert!(decode_lenient("not base64!").is_none());
    }
}
