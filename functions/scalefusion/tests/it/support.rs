//! The function under test and the secret it reads.

pub const BINARY: &str = env!("CARGO_BIN_EXE_scalefusion-webhook");
pub const SECRET_ID: &str = "hookwarden/scalefusion";
