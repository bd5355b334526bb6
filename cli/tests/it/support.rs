//! Running the built `hookwarden` binary from tests.

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

/// The environment variables secret flags fall back to.
pub const SECRET_ENV: [&str; 4] = [
    "HOOKWARDEN_SCALEFUSION_SECRET",
    "HOOKWARDEN_ONEACCESS_SIGNATURE_KEY",
    "HOOKWARDEN_ONEACCESS_ENCRYPTION_KEY",
    "HOOKWARDEN_ONEACCESS_BEARER_TOKEN",
];

/// Runs `hookwarden args…` to completion, without any secret from the caller's environment.
pub fn hookwarden<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    hookwarden_with_env(args, &[])
}

/// Runs `hookwarden args…` with `env` set (and no other secret variable).
pub fn hookwarden_with_env<I, S>(args: I, env: &[(&str, &str)]) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(BIN);
    for name in SECRET_ENV {
        command.env_remove(name);
    }
    command
        .args(args)
        .envs(env.iter().copied())
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

/// How long `hookwarden serve` may take to print its start line.
const SERVE_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Starts `hookwarden serve --port 0 --data DATA EXTRA…` with its stderr sent to `stderr`,
/// and returns the child, the port read from its start line, and that line. Its stdout
/// keeps being drained so the server never blocks on a full pipe.
pub fn start_serve(
    data: &Path,
    extra: &[&str],
    stderr: std::process::Stdio,
) -> (std::process::Child, u16, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--data", data.to_str().unwrap()])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("hookwarden serve starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, first) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = lines.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let Ok(line) = first.recv_timeout(SERVE_START_TIMEOUT) else {
        let _ = child.kill();
        panic!("hookwarden serve printed no start line within {SERVE_START_TIMEOUT:?}");
    };
    let port = line
        .strip_prefix("hookwarden serve: listening on http://127.0.0.1:")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("start line: {line:?}"));
    (child, port, line)
}

/// Writes a copy of the sample function URL event `sample` with `body` as its body into
/// `dir`; returns its path, for `hookwarden send`.
pub fn sample_with_body(sample: &Path, body: &str, dir: &Path) -> PathBuf {
    let mut event: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sample).unwrap()).unwrap();
    event["body"] = body.into();
    event["isBase64Encoded"] = false.into();
    let path = dir.join(sample.file_name().unwrap());
    std::fs::write(&path, serde_json::to_vec(&event).unwrap()).unwrap();
    path
}
