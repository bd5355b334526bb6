//! The function under test, the secret it reads, and the clock callbacks are signed at.

pub const BINARY: &str = env!("CARGO_BIN_EXE_oneaccess-webhook");
pub const SECRET_ID: &str = "hookwarden/oneaccess";

/// Now, in milliseconds since the epoch, as OneAccess stamps a callback.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
