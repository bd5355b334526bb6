//! Cross-check of the OneAccess primitives against Python's `cryptography` package and `hmac`
//! module, an implementation independent of the RustCrypto crates: Python builds callbacks
//! (both GCM IV layouts, ECB, every key size, HMAC-SHA256 and HMAC-SHA1) that we must verify,
//! and opens the ones we build.
//! Needs `python3` with `cryptography` (a dependency of moto, which `.ci/run` installs).

use std::io::Write as _;
use std::process::{Command, Stdio};

use hookwarden_verify::oneaccess::{
    self, build_request_with, CipherMode, Config, Encryption, MacAlgorithm,
};
use serde_json::{json, Value};
use zeroize::Zeroizing;

const NOW_MS: i64 = 1_795_000_000_000;
const SIGNATURE_KEY: &str = "signature-key-1234";
const TOKEN: &str = "token-1";

/// `make` signs (with the case's hash) and encrypts each case the documented way; `open` checks
/// the signature (SHA-1 or SHA-256 by its length) and decrypts (IV first) each body it is
/// given. Prints one JSON document.
const SCRIPT: &str = r#"
import base64, hashlib, hmac, json, os, random, string, sys
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def mac(key, nonce, ts, event_type, data, hash_name):
    message = "&".join([nonce, ts, event_type, data]).encode()
    return base64.b64encode(hmac.new(key.encode(), message, hash_name).digest()).decode()

def seal(key, mode, layout, msg):
    plaintext = ("".join(random.choices(string.ascii_letters, k=16)) + "&" + msg).encode()
    key = key.encode()
    if mode == "ecb":
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        wire = encryptor.update(padded) + encryptor.finalize()
    else:
        iv = os.urandom(12)
        sealed = AESGCM(key).encrypt(iv, plaintext, None)
        wire = iv + sealed if layout == "prefix" else sealed + iv
    return base64.b64encode(wire).decode()

def open_(key, mode, data):
    wire, key = base64.b64decode(data, validate=True), key.encode()
    if mode == "ecb":
        decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
        padded = decryptor.update(wire) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plaintext = unpadder.update(padded) + unpadder.finalize()
    else:
        plaintext = AESGCM(key).decrypt(wire[:12], wire[12:], None)
    text = plaintext.decode()
    assert text[16] == "&" and text[:16].isalpha(), "prefix"
    return text[17:]

job = json.load(sys.stdin)
out = []
for case in job["cases"]:
    if job["action"] == "make":
        data = seal(case["key"], case["mode"], case["layout"], case["msg"])
        ts = str(case["ts"])
        out.append(json.dumps({"nonce": case["nonce"], "timestamp": case["ts"], "eventType": case["eventType"],
                               "data": data, "signature": mac(job["signature_key"], case["nonce"], ts, case["eventType"], data, case["hash"])}))
    else:
        body = json.loads(case["body"])
        hash_name = {20: "sha1", 32: "sha256"}[len(base64.b64decode(body["signature"], validate=True))]
        expected = mac(job["signature_key"], body["nonce"], str(body["timestamp"]), body["eventType"], body["data"], hash_name)
        out.append({"signature_ok": hmac.compare_digest(expected, body["signature"]), "hash": hash_name,
                    "msg": open_(case["key"], case["mode"], body["data"])})
print(json.dumps(out))
"#;

fn python(job: &Value) -> Vec<Value> {
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 must be installed for this cross-check");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3 failed (is python3-cryptography installed?)"
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const KEYS: [&str; 3] = [
    "0123456789abcdef",
    "0123456789abcdef01234567",
    "0123456789abcdef0123456789abcdef",
];

fn config(key: &str, mode: CipherMode) -> Config {
    Config {
        signature_key: Some(Zeroizing::new(SIGNATURE_KEY.into())),
        bearer_token: Zeroizing::new(TOKEN.into()),
        encryption: Some(Encryption::new(key, mode).unwrap()),
        allow_unsigned: false,
    }
}

fn mode_name(mode: CipherMode) -> &'static str {
    match mode {
        CipherMode::Gcm => "gcm",
        CipherMode::Ecb => "ecb",
    }
}

/// Python's `hashlib` name for the HMAC's hash.
fn hash_name(mac: MacAlgorithm) -> &'static str {
    match mac {
        MacAlgorithm::HmacSha256 => "sha256",
        MacAlgorithm::HmacSha1 => "sha1",
    }
}

#[test]
fn we_verify_and_decrypt_what_python_builds() {
    let msg = r#"{"username":"zhang.san","name":"张三","password":"P@ss&word1"}"#;
    let mut cases = Vec::new();
    for key in KEYS {
        for (mode, layout) in [("gcm", "prefix"), ("gcm", "suffix"), ("ecb", "none")] {
            for mac in MacAlgorithm::ALL {
                cases.push(json!({"key": key, "mode": mode, "layout": layout, "msg": msg,
                                  "nonce": "jmgjjEAJbrMzWmUw", "ts": NOW_MS, "eventType": "CREATE_USER",
                                  "hash": hash_name(mac)}));
            }
        }
    }
    let bodies = python(&json!({"action": "make", "signature_key": SIGNATURE_KEY, "cases": cases}));
    assert_eq!(bodies.len(), cases.len());
    for (case, body) in cases.iter().zip(&bodies) {
        let mode = if case["mode"] == "ecb" {
            CipherMode::Ecb
        } else {
            CipherMode::Gcm
        };
        let config = config(case["key"].as_str().unwrap(), mode);
        let auth = format!("Bearer {TOKEN}");
        let verified = oneaccess::verify(
            body.as_str().unwrap().as_bytes(),
            Some(&auth),
            &[config],
            NOW_MS,
            300,
        )
        .unwrap_or_else(|err| panic!("{case}: {err}"));
        assert_eq!(verified.msg.as_str(), msg, "{case}");
        let mac = verified.mac.expect("signed");
        assert_eq!(case["hash"], hash_name(mac), "{case}");
    }
}

#[test]
fn python_verifies_and_decrypts_what_we_build() {
    let msg = "random string & more: ünïcödé";
    let mut cases = Vec::new();
    for key in KEYS {
        for mode in [CipherMode::Gcm, CipherMode::Ecb] {
            for mac in MacAlgorithm::ALL {
                let body = build_request_with(
                    mac,
                    "CHECK_URL",
                    msg,
                    &config(key, mode),
                    "bqVHvThFGooCRjSf",
                    NOW_MS,
                )
                .unwrap();
                cases.push(json!({"key": key, "mode": mode_name(mode), "body": body,
                                  "hash": hash_name(mac)}));
            }
        }
    }
    let opened = python(&json!({"action": "open", "signature_key": SIGNATURE_KEY, "cases": cases}));
    assert_eq!(opened.len(), cases.len());
    for (case, result) in cases.iter().zip(&opened) {
        assert_eq!(result["signature_ok"], true, "{case}");
        assert_eq!(result["hash"], case["hash"], "{case}");
        assert_eq!(result["msg"], msg, "{case}");
    }
}
