//! Identifiers the providers put in headers and bodies: UUIDs, OneAccess's 16-letter nonces.
//! Samples derive them from their name (so regenerating gives the same files); `send` draws
//! them at random (so each send is a new delivery).

use sha2::{Digest as _, Sha256};

const LETTERS: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 32 bytes fixed by `seed`: the source of every derived sample value.
pub fn derived(seed: &str) -> [u8; 32] {
    Sha256::digest(format!("hookwarden sample\0{seed}").as_bytes()).into()
}

pub fn random() -> [u8; 32] {
    rand::random()
}

/// A version-4-shaped UUID from the first 16 bytes.
pub fn uuid(bytes: &[u8; 32]) -> String {
    let mut b: [u8; 16] = bytes[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `n` (at most 32) ASCII letters, like OneAccess's `RandomStringUtils.random(16, true, false)`.
pub fn letters(bytes: &[u8; 32], n: usize) -> String {
    bytes[..n]
        .iter()
        .map(|b| char::from(LETTERS[usize::from(*b) % LETTERS.len()]))
        .collect()
}

/// `n` (at most 64) lowercase hex digits.
pub fn hex_digits(bytes: &[u8; 32], n: usize) -> String {
    let mut text = hex::encode(bytes);
    text.truncate(n);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_version_4_layout() {
        let id = uuid(&derived("x"));
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(
            matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
        assert_eq!(id, uuid(&derived("x")));
        assert_ne!(id, uuid(&derived("y")));
    }

    #[test]
    fn letters_are_ascii_letters() {
        let nonce = letters(&random(), 16);
        assert_eq!(nonce.len(), 16);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphabetic()), "{nonce}");
    }
}
