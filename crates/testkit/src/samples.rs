//! The committed sample events (`events/`) and test keys (`events/test-keys/`), so tests
//! feed the same function URL events that `sam local invoke` uses.

use std::path::PathBuf;

use base64::Engine as _;

/// The repository root (this crate lives at `crates/testkit`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file under `events/test-keys/`, as text.
pub fn test_key(name: &str) -> String {
    let path = repo_root().join("events/test-keys").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Every sample event directly under `events/<dir>/`, sorted by file name.
pub fn samples(dir: &str) -> Vec<(String, serde_json::Value)> {
    let path = repo_root().join("events").join(dir);
    let mut found: Vec<_> = std::fs::read_dir(&path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let event = serde_json::from_slice(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|err| panic!("{}: {err}", p.display()));
            (name, event)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        !found.is_empty(),
        "no sample events under {}",
        path.display()
    );
    found
}

/// A copy of the function URL event `template` carrying `body` and `headers` instead (the
/// signature headers of the template are dropped). `base64` sends the body the way a
/// function URL does for a request without a text content type.
pub fn with_request(
    template: &serde_json::Value,
    body: &[u8],
    headers: &[(&str, &str)],
    base64: bool,
) -> serde_json::Value {
    let mut event = template.clone();
    let mut map = serde_json::Map::new();
    map.insert("host".into(), template["headers"]["host"].clone());
    if !base64 {
        map.insert("content-type".into(), "application/json".into());
    }
    for (name, value) in headers {
        map.insert(name.to_ascii_lowercase(), (*value).into());
    }
    event["headers"] = serde_json::Value::Object(map);
    event["isBase64Encoded"] = base64.into();
    event["body"] = if base64 {
        base64::engine::general_purpose::STANDARD
            .encode(body)
            .into()
    } else {
        String::from_utf8(body.to_vec())
            .expect("a text body is UTF-8")
            .into()
    };
    event
}

/// The exact body bytes a function URL event carries.
pub fn body_of(event: &serde_json::Value) -> Vec<u8> {
    let body = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("sample base64 body")
    } else {
        body.as_bytes().to_vec()
    }
}
