//! keys → sign → verify through the built binary, for each provider: exit 0 when authentic,
//! 1 when a byte or key is wrong, 2 for unusable input; one stderr line on every failure.

use std::path::Path;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::support::{self, assert_exit, hookwarden, hookwarden_with_env, stdout};

const KNOX_BODY: &str = r#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"356938035643809","batteryLevel":85,"batteryTemperature":31.5,"updatedTime":1795420800000}}"#;

/// Changes the first ASCII digit of `text`, keeping it valid JSON.
fn flip_a_digit(text: &str) -> String {
    let at = text
        .find(|c: char| c.is_ascii_digit())
        .expect("the body has a digit");
    let digit = text.as_bytes()[at];
    let flipped = if digit == b'9' {
        '0'
    } else {
        char::from(digit + 1)
    };
    format!("{}{flipped}{}", &text[..at], &text[at + 1..])
}

fn write(dir: &Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

/// SHA-256 of the certificate's DER, read straight from the PEM text (not through the
/// verifier's parser).
fn pem_fingerprint(pem: &str) -> String {
    let base64: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    hex::encode(Sha256::digest(
        base64::engine::general_purpose::STANDARD
            .decode(base64)
            .unwrap(),
    ))
}

#[test]
fn knox_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert_exit(&hookwarden(["keys", "knox", "--out", out]), 0);
    // Never overwrites without --force.
    assert_exit(&hookwarden(["keys", "knox", "--out", out]), 2);
    let key_pem = std::fs::read_to_string(dir.path().join("knox-test-key.pem")).unwrap();
    let cert_pem = std::fs::read_to_string(dir.path().join("knox-test-cert.pem")).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM expected"
    );
    assert!(cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let key = dir.path().join("knox-test-key.pem");
    let cert = dir.path().join("knox-test-cert.pem");
    let (key, cert) = (key.to_str().unwrap(), cert.to_str().unwrap());
    let body = write(dir.path(), "body.json", KNOX_BODY.as_bytes());

    let signed = hookwarden(["sign", "knox", "--key", key, "--body", &body]);
    assert_exit(&signed, 0);
    let signature = stdout(&signed).trim().to_string();
    assert_eq!(
        signature.split('.').count(),
        3,
        "a compact JWS: {signature}"
    );

    let verified = hookwarden([
        "verify",
        "knox",
        "--cert",
        cert,
        "--signature",
        &signature,
        "--body",
        &body,
    ]);
    assert_exit(&verified, 0);
    let printed = stdout(&verified);
    assert!(printed.contains("KAI_BATTERY_STATUS"), "{printed}");
    assert!(printed.contains(&pem_fingerprint(&cert_pem)), "{printed}");

    let tampered = write(
        dir.path(),
        "tampered.json",
        flip_a_digit(KNOX_BODY).as_bytes(),
    );
    assert_exit(
        &hookwarden([
            "verify",
            "knox",
            "--cert",
            cert,
            "--signature",
            &signature,
            "--body",
            &tampered,
        ]),
        1,
    );

    let other = tempfile::tempdir().unwrap();
    assert_exit(
        &hookwarden(["keys", "knox", "--out", other.path().to_str().unwrap()]),
        0,
    );
    let other_cert = other.path().join("knox-test-cert.pem");
    let other_cert = other_cert.to_str().unwrap();
    assert_exit(
        &hookwarden([
            "verify",
            "knox",
            "--cert",
            other_cert,
            "--signature",
            &signature,
            "--body",
            &body,
        ]),
        1,
    );

    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().unwrap();
    assert_exit(
        &hookwarden([
            "verify",
            "knox",
            "--cert",
            cert,
            "--signature",
            &signature,
            "--body",
            missing,
        ]),
        2,
    );
    assert_exit(
        &hookwarden(["sign", "knox", "--key", key, "--body", missing]),
        2,
    );
    assert_exit(
        &hookwarden([
            "verify",
            "knox",
            "--cert",
            missing,
            "--signature",
            &signature,
            "--body",
            &body,
        ]),
        2,
    );
    assert_exit(
        &hookwarden([
            "verify",
            "knox",
            "--cert",
            cert,
            "--signature",
            "not-a-jws",
            "--body",
            &body,
        ]),
        2,
    );
    // A private key is not a certificate, and a certificate is not a key.
    assert_exit(
        &hookwarden([
            "verify",
            "knox",
            "--cert",
            key,
            "--signature",
            &signature,
            "--body",
            &body,
        ]),
        2,
    );
    assert_exit(
        &hookwarden(["sign", "knox", "--key", cert, "--body", &body]),
        2,
    );
}

#[test]
fn scalefusion_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    // protocols.md §5.2: computed with Python's hmac and OpenSSL, not with this code.
    let body = r#"{"id":"4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10","event":"device.enrolled","created_at":"2025-01-01T00:00:00Z","data":{"devices":[{"name":"Tablet-01","serial_no":"R52N123ABC","make":"samsung","model":"SM-T505","os_version":"13"}]}}"#;
    assert_eq!(body.len(), 227);
    let body_path = write(dir.path(), "body.json", body.as_bytes());
    let signed = hookwarden([
        "sign",
        "scalefusion",
        "--secret",
        "sf-secret-123",
        "--body",
        &body_path,
    ]);
    assert_exit(&signed, 0);
    let signature = stdout(&signed).trim().to_string();
    assert_eq!(
        signature,
        "1def1182702ab6168a1ffedfbd19b647ff65ed9197936bcaf74641c3586f40f6"
    );

    let verify = |secret: &str, signature: &str, body: &str| {
        hookwarden([
            "verify",
            "scalefusion",
            "--secret",
            secret,
            "--signature",
            signature,
            "--body",
            body,
        ])
    };
    let verified = verify("sf-secret-123", &signature, &body_path);
    assert_exit(&verified, 0);
    assert!(stdout(&verified).contains("device.enrolled"));
    // The event's identity: the SHA-256 of the raw body Scalefusion signed.
    let body_bytes = std::fs::read(&body_path).unwrap();
    let content_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body_bytes));
    assert!(stdout(&verified).contains(&format!("content sha256 {content_sha256}")));
    // The documented Base64 spelling of the same MAC verifies too.
    assert_exit(
        &verify(
            "sf-secret-123",
            "He8RgnAqthaKH/7fvRm2R/9l7ZGXk2vK90ZBw1hvQPY=",
            &body_path,
        ),
        0,
    );

    let tampered = write(dir.path(), "tampered.json", flip_a_digit(body).as_bytes());
    assert_exit(&verify("sf-secret-123", &signature, &tampered), 1);
    assert_exit(&verify("sf-secret-124", &signature, &body_path), 1);
    assert_exit(&verify("sf-secret-123", "not hex", &body_path), 2);
    let missing = dir.path().join("missing.json");
    assert_exit(
        &verify("sf-secret-123", &signature, missing.to_str().unwrap()),
        2,
    );
    assert_exit(
        &hookwarden([
            "sign",
            "scalefusion",
            "--secret",
            "s",
            "--body",
            missing.to_str().unwrap(),
        ]),
        2,
    );
}

/// `sign oneaccess` output, checked field by field.
struct Signed {
    json: serde_json::Value,
    path: String,
}

fn sign_oneaccess(dir: &Path, name: &str, extra: &[&str], msg_path: &str) -> Signed {
    let before = now_ms();
    let mut args = vec![
        "sign",
        "oneaccess",
        "--signature-key",
        "sig-key",
        "--event-type",
        "CREATE_USER",
        "--msg",
        msg_path,
    ];
    args.extend_from_slice(extra);
    let signed = hookwarden(&args);
    assert_exit(&signed, 0);
    let text = stdout(&signed);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let nonce = json["nonce"].as_str().unwrap();
    assert!(
        nonce.len() == 16 && nonce.bytes().all(|b| b.is_ascii_alphabetic()),
        "{nonce}"
    );
    let timestamp = json["timestamp"]
        .as_i64()
        .expect("a JSON number, as OneAccess sends");
    assert!(
        (before..=now_ms()).contains(&timestamp),
        "{timestamp} is not now"
    );
    assert_eq!(json["eventType"], "CREATE_USER");
    Signed {
        path: write(dir, name, text.trim_end().as_bytes()),
        json,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn oneaccess_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    // A message with "&" and non-ASCII text, ending in a newline that must survive.
    let msg = "{\"username\":\"zhang.wei\",\"name\":\"张伟 & co\",\"password\":\"x\"}\n";
    let msg_path = write(dir.path(), "msg.json", msg.as_bytes());
    let key = "0123456789abcdef0123456789abcdef";

    // Plain: `data` is the message itself, and the signature is the documented HMAC.
    let plain = sign_oneaccess(dir.path(), "plain.json", &[], &msg_path);
    assert_eq!(plain.json["data"], msg);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"sig-key").unwrap();
    let signed_text = format!(
        "{}&{}&CREATE_USER&{}",
        plain.json["nonce"].as_str().unwrap(),
        plain.json["timestamp"],
        msg
    );
    mac.update(signed_text.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(plain.json["signature"], expected.as_str());
    let verify = |extra: &[&str], body: &str| {
        let mut args = vec![
            "verify",
            "oneaccess",
            "--signature-key",
            "sig-key",
            "--bearer-token",
            "tok",
            "--body",
            body,
        ];
        args.extend_from_slice(extra);
        hookwarden(&args)
    };
    let verified = verify(&[], &plain.path);
    assert_exit(&verified, 0);
    assert_eq!(
        stdout(&verified),
        format!("verified: event CREATE_USER, signature hmac-sha256\n{msg}\n")
    );

    // Encrypted: `data` is not the message, and only the right keys open it.
    let encrypted = sign_oneaccess(
        dir.path(),
        "encrypted.json",
        &["--encryption-key", key],
        &msg_path,
    );
    assert!(!encrypted.json["data"].as_str().unwrap().contains("zhang"));
    let verified = verify(&["--encryption-key", key], &encrypted.path);
    assert_exit(&verified, 0);
    assert_eq!(
        stdout(&verified),
        format!("verified: event CREATE_USER, signature hmac-sha256\n{msg}\n")
    );
    assert_exit(
        &verify(
            &["--encryption-key", "fedcba9876543210fedcba9876543210"],
            &encrypted.path,
        ),
        1,
    );
    assert_exit(
        &verify(
            &["--encryption-key", key, "--authorization", "Bearer other"],
            &encrypted.path,
        ),
        1,
    );
    let mut args = vec![
        "verify",
        "oneaccess",
        "--signature-key",
        "other-key",
        "--bearer-token",
        "tok",
    ];
    args.extend_from_slice(&["--encryption-key", key, "--body", &encrypted.path]);
    assert_exit(&hookwarden(&args), 1);

    // A changed byte in the signed fields.
    let mut tampered = encrypted.json.clone();
    tampered["timestamp"] = serde_json::json!(encrypted.json["timestamp"].as_i64().unwrap() + 1);
    let tampered = write(dir.path(), "tampered.json", tampered.to_string().as_bytes());
    assert_exit(&verify(&["--encryption-key", key], &tampered), 1);

    // Outside the replay window: authentic but stale.
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_exit(&verify(&["--replay-window", "0"], &plain.path), 1);

    // Unusable input.
    assert_exit(&verify(&["--encryption-key", "short"], &encrypted.path), 2);
    assert_exit(&verify(&[], &msg_path), 2);
    let missing = dir.path().join("missing.json");
    assert_exit(&verify(&[], missing.to_str().unwrap()), 2);
    let not_utf8 = write(dir.path(), "latin1.txt", b"caf\xe9");
    let signed = hookwarden([
        "sign",
        "oneaccess",
        "--signature-key",
        "k",
        "--event-type",
        "CHECK_URL",
        "--msg",
        &not_utf8,
    ]);
    assert_exit(&signed, 2);
}

/// Review finding A16: every secret can come from a file or the environment instead of the
/// command line, where other users of the machine can read it.
#[test]
fn secrets_come_from_files_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"{"id":"4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10","event":"device.enrolled","created_at":"2025-01-01T00:00:00Z","data":{"devices":[{"name":"Tablet-01","serial_no":"R52N123ABC","make":"samsung","model":"SM-T505","os_version":"13"}]}}"#;
    let body_path = write(dir.path(), "body.json", body.as_bytes());
    // The known answer of `scalefusion_round_trip`, whichever way the secret comes.
    let expected = "1def1182702ab6168a1ffedfbd19b647ff65ed9197936bcaf74641c3586f40f6";
    let secret_file = write(dir.path(), "sf-secret", b"sf-secret-123\n");
    let sign = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["sign", "scalefusion", "--body", &body_path];
        args.extend_from_slice(extra);
        hookwarden_with_env(&args, env)
    };
    for signed in [
        sign(&["--secret-file", &secret_file], &[]),
        sign(&[], &[("HOOKWARDEN_SCALEFUSION_SECRET", "sf-secret-123")]),
        // The flag wins over the variable.
        sign(
            &["--secret-file", &secret_file],
            &[("HOOKWARDEN_SCALEFUSION_SECRET", "other")],
        ),
    ] {
        assert_exit(&signed, 0);
        assert_eq!(stdout(&signed).trim(), expected);
    }
    let verified = hookwarden_with_env(
        [
            "verify",
            "scalefusion",
            "--signature",
            expected,
            "--body",
            &body_path,
        ],
        &[("HOOKWARDEN_SCALEFUSION_SECRET", "sf-secret-123")],
    );
    assert_exit(&verified, 0);
    // None given, both flags given, an empty file: usage errors naming the ways.
    let missing = sign(&[], &[]);
    assert_exit(&missing, 2);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("--secret-file PATH, HOOKWARDEN_SCALEFUSION_SECRET or --secret"),
        "{stderr}"
    );
    assert_exit(
        &sign(&["--secret", "s", "--secret-file", &secret_file], &[]),
        2,
    );
    let empty = write(dir.path(), "empty", b"\n");
    assert_exit(&sign(&["--secret-file", &empty], &[]), 2);

    // OneAccess: signature key and encryption key from files, then from the environment,
    // and the bearer token from a file.
    let msg_path = write(dir.path(), "msg.json", br#"{"username":"zhang.wei"}"#);
    let key = "0123456789abcdef0123456789abcdef";
    let signature_key_file = write(dir.path(), "sig-key", b"sig-key\n");
    let encryption_key_file = write(dir.path(), "enc-key", format!("{key}\n").as_bytes());
    let signed = hookwarden([
        "sign",
        "oneaccess",
        "--signature-key-file",
        &signature_key_file,
        "--encryption-key-file",
        &encryption_key_file,
        "--event-type",
        "CREATE_USER",
        "--msg",
        &msg_path,
    ]);
    assert_exit(&signed, 0);
    let request = write(
        dir.path(),
        "request.json",
        stdout(&signed).trim().as_bytes(),
    );
    assert!(!stdout(&signed).contains("zhang"), "encrypted");
    let token_file = write(dir.path(), "token", b"tok\n");
    let env = [
        ("HOOKWARDEN_ONEACCESS_SIGNATURE_KEY", "sig-key"),
        ("HOOKWARDEN_ONEACCESS_ENCRYPTION_KEY", key),
    ];
    let verify = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["verify", "oneaccess", "--body", &request];
        args.extend_from_slice(extra);
        hookwarden_with_env(&args, env)
    };
    let verified = verify(&["--bearer-token-file", &token_file], &env);
    assert_exit(&verified, 0);
    assert_eq!(
        stdout(&verified),
        "verified: event CREATE_USER, signature hmac-sha256\n{\"username\":\"zhang.wei\"}\n"
    );
    let verified = verify(
        &[],
        &[&env[..], &[("HOOKWARDEN_ONEACCESS_BEARER_TOKEN", "tok")]].concat(),
    );
    assert_exit(&verified, 0);
    // The header the request carried, from a file: a wrong token is a rejection.
    let header_file = write(dir.path(), "authorization", b"Bearer other\n");
    assert_exit(
        &verify(
            &[
                "--bearer-token-file",
                &token_file,
                "--authorization-file",
                &header_file,
            ],
            &env,
        ),
        1,
    );
    // A wrong key from the environment is a rejection too; no signature key at all is a
    // usage error.
    assert_exit(
        &verify(
            &["--bearer-token-file", &token_file],
            &[("HOOKWARDEN_ONEACCESS_SIGNATURE_KEY", "other"), env[1]],
        ),
        1,
    );
    assert_exit(&verify(&["--bearer-token-file", &token_file], &[env[1]]), 2);
    assert_exit(&verify(&[], &env), 2);
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    assert_exit(&hookwarden(["sign", "knox", "--body", "x.json"]), 2);
    assert_exit(&hookwarden(["verify", "nonesuch"]), 2);
    assert_exit(&hookwarden(["sign"]), 2);
    assert_exit(&hookwarden(Vec::<&str>::new()), 2);
    assert_exit(
        &hookwarden([
            "send",
            "knox",
            "x.json",
            "--to",
            "http://127.0.0.1:9/knox",
            "--secret",
            "s",
        ]),
        2,
    );
    let dir = tempfile::tempdir().unwrap();
    let secret_file = write(dir.path(), "secret", b"s");
    assert_exit(
        &hookwarden([
            "send",
            "knox",
            "x.json",
            "--to",
            "http://127.0.0.1:9/knox",
            "--secret-file",
            &secret_file,
        ]),
        2,
    );
    let help = hookwarden(["serve", "--help"]);
    assert_exit(&help, 0);
    assert!(
        stdout(&help).contains("oneaccess_replay_window_secs"),
        "the config shape is documented"
    );
}

/// `hookwarden verify knox` accepts any JOSE header over a valid RS256 signature, as
/// Samsung's verifier does, and refuses the same signature under another header.
#[test]
fn verify_knox_accepts_any_signed_jose_header() {
    use hookwarden_verify::encoding::URL_UNPADDED;
    let dir = tempfile::tempdir().unwrap();
    let keys = support::test_keys_dir();
    let key_pem = std::fs::read_to_string(keys.join("knox-test-key.pem")).unwrap();
    let key = hookwarden_verify::rsa::RsaSigningKey::from_pkcs8_pem(&key_pem).unwrap();
    let cert = keys.join("knox-test-cert.pem");
    let body = write(dir.path(), "body.json", KNOX_BODY.as_bytes());
    let verify = |signature: &str| {
        hookwarden([
            "verify",
            "knox",
            "--cert",
            cert.to_str().unwrap(),
            "--signature",
            signature,
            "--body",
            &body,
        ])
    };
    for header in [r#"{"typ":"JWT"}"#, "{}", r#"{"alg":"none"}"#, "not json"] {
        let protected = base64::Engine::encode(&URL_UNPADDED, header);
        let signature =
            hookwarden_verify::knox::sign_with_header(KNOX_BODY.as_bytes(), &protected, &key)
                .unwrap();
        assert_exit(&verify(&signature), 0);
        let (_, rest) = signature.split_once('.').unwrap();
        let swapped = format!("{}.{rest}", base64::Engine::encode(&URL_UNPADDED, "{}x"));
        assert_exit(&verify(&swapped), 1);
    }
}
