//! Checks on stored history shared by the function and CLI tests: an envelope is one line
//! that keeps the bytes as sent, and DuckDB answers the guide's queries over envelopes
//! (`scripts/query-events.py`).

use std::path::Path;
use std::process::Command;

use sha2::Digest as _;

/// The bytes the provider sent, from an envelope's line: `body_verbatim_base64` when
/// present, else the `body` text as it stands in the line.
pub fn body_as_sent(line: &str) -> Vec<u8> {
    let envelope: serde_json::Value = serde_json::from_str(line).expect("an envelope is JSON");
    if let Some(verbatim) = envelope["body_verbatim_base64"].as_str() {
        return base64::Engine::decode(&base64::engine::general_purpose::STANDARD, verbatim)
            .expect("body_verbatim_base64 is base64");
    }
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        body: &'a serde_json::value::RawValue,
    }
    let raw: Raw = serde_json::from_str(line).expect("an envelope with a JSON body");
    raw.body.get().as_bytes().to_vec()
}

/// Asserts `bytes` is one line of JSON (format 2) whose body as sent hashes to its
/// `body_sha256`; returns whether the body was kept verbatim beside the compacted one.
pub fn assert_one_line_envelope(bytes: &[u8], what: &str) -> bool {
    let text = std::str::from_utf8(bytes).expect("an envelope is UTF-8");
    assert!(
        !text.trim_end_matches('\n').contains(['\n', '\r']),
        "{what} spans lines:\n{text}"
    );
    let envelope: serde_json::Value = serde_json::from_str(text).expect("an envelope is JSON");
    assert_eq!(envelope["format"], 2, "{what}");
    let sent = body_as_sent(text);
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&sent)),
        envelope["body_sha256"].as_str().unwrap_or_default(),
        "{what}: the body as sent hashes to body_sha256"
    );
    envelope.get("body_verbatim_base64").is_some()
}

/// Runs `scripts/query-events.py` (DuckDB) over the envelopes under `dir`: the guide's
/// example queries by name, each a list of rows of text values.
pub fn query_events(dir: &Path, params: &[(&str, &str)]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/query-events.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(dir)
        .args(params.iter().map(|(k, v)| format!("{k}={v}")))
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "query-events.py failed (duckdb: pip install -r .ci/requirements.txt): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("query-events.py prints JSON")
}

/// `json` pretty-printed as providers' published examples are (two-space indent, `": "`),
/// its tokens, key order and numbers untouched.
pub fn pretty(json: &str) -> String {
    let (mut out, mut depth, mut in_string, mut escaped) = (String::new(), 0usize, false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            '"' => {
                in_string = true;
                out.push(c);
            }
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}
