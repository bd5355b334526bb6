//! `scripts/log-audit.sh` from tests: no log may hold a secret, a signature or a body.

use std::io::Write as _;

use crate::samples::{body_of, repo_root, samples, test_key};

/// Writes each `(name, text)` log and the needles to a scratch directory and runs the audit
/// script on them; panics with its report (needle numbers, never needles) on a match.
pub fn assert_no_needles(logs: &[(impl AsRef<str>, impl AsRef<str>)], needles: &[String]) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let needles_file = dir.path().join("needles.txt");
    let mut file = std::fs::File::create(&needles_file).expect("writing needles.txt");
    for needle in needles {
        writeln!(file, "{needle}").expect("writing needles.txt");
    }
    drop(file);
    let mut paths = Vec::new();
    for (name, text) in logs {
        let path = dir.path().join(format!("{}.log", name.as_ref()));
        std::fs::write(&path, text.as_ref()).expect("writing a log file");
        paths.push(path);
    }
    let output = std::process::Command::new("bash")
        .arg(repo_root().join("scripts/log-audit.sh"))
        .arg(&needles_file)
        .args(&paths)
        .output()
        .expect("running scripts/log-audit.sh");
    assert!(
        output.status.success(),
        "log audit failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What must never be logged when the samples of `events/<dir>/` are sent: the secrets of
/// `events/test-keys/` (every string value of 8 characters or more), each sample's signature
/// and authorization header, and the signed parts of OneAccess bodies.
pub fn sample_needles(dir: &str) -> Vec<String> {
    let mut needles = Vec::new();
    for file in [
        "scalefusion-secret.json",
        "oneaccess-encrypted.json",
        "oneaccess-plain.json",
    ] {
        let secret: serde_json::Value =
            serde_json::from_str(&test_key(file)).expect("test keys are JSON");
        let values = secret.as_object().into_iter().flat_map(|o| o.values());
        needles.extend(values.filter_map(|v| v.as_str()).map(str::to_string));
    }
    for (_, event) in samples(dir) {
        for header in ["x-wsm-signature", "x-sf-signature", "authorization"] {
            if let Some(value) = event["headers"][header].as_str() {
                needles.push(value.to_string());
            }
        }
        if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&body_of(&event)) {
            for field in ["signature", "data"] {
                if let Some(value) = body[field].as_str() {
                    needles.push(value.to_string());
                }
            }
        }
    }
    needles.retain(|needle| needle.len() >= 8);
    needles.sort();
    needles.dedup();
    needles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_log_passes() {
        assert_no_needles(
            &[("log", "{\"outcome\":\"stored\"}\n")],
            &["secret-1234".into()],
        );
    }

    #[test]
    #[should_panic(expected = "log audit failed")]
    fn a_needle_in_any_log_fails() {
        let leaked = "{\"outcome\":\"stored\",\"header\":\"hookwarden-TEST-ONLY-scalefusion-secret-7Qm2\"}\n";
        assert_no_needles(
            &[("clean", "{}\n"), ("leaky", leaked)],
            &sample_needles("scalefusion"),
        );
    }
}
