//! Identifiers that end up in S3 keys. Some come from unsigned headers (Knox's trace id and
//! nonce), so they are checked, never trusted: a key built from them must stay inside the
//! function's prefix and be readable in a listing.

use sha2::{Digest, Sha256};

const MAX_ID_LEN: usize = 200;

/// `Some(id)` when `id` is 1..=200 characters of `[A-Za-z0-9._:-]` and not a path dot segment.
pub fn safe_id(id: &str) -> Option<&str> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then_some(id)
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_path_tricks_and_accepts_uuids() {
        assert_eq!(
            safe_id("4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10"),
            Some("4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10")
        );
        for bad in ["", ".", "..", "../x", "a/b", "a b", "é", &"x".repeat(201)] {
            assert_eq!(safe_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
