//! Running the built `hookwarden` binary from tests.
#![allow(dead_code)] // each test binary uses part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_hookwarden");

/// The repository's `events/` directory.
pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

pub fn test_keys_dir() -> PathBuf {
    events_dir().join("test-keys")
}

/// Runs `hookwarden args…` to completion.
pub fn hookwarden<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the hookwarden binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// Asserts the exit status, and that a failure printed exactly one line on stderr and a
/// success none.
pub fn assert_exit(output: &Output, code: i32) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {stderr}",
        stdout(output)
    );
    if code == 0 {
        assert!(stderr.is_empty(), "a success printed on stderr: {stderr}");
    } else {
        assert_eq!(
            stderr.lines().count(),
            1,
            "expected one stderr line, got: {stderr:?}"
        );
        assert!(stderr.starts_with("hookwarden: "), "{stderr}");
    }
}
