//! Scalefusion signatures against Python's `hmac` (the language of the one public receiver,
//! Deep7k/scalefusion-snipeit-sync), plus what an attacker without the secret can try.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;
use hookwarden_verify::reject::RejectKind;
use hookwarden_verify::scalefusion::{self, ScalefusionError};
use proptest::prelude::*;

const SECRET: &[u8] = b"sf-secret-123";

/// For each body on stdin, hex-encoded one per line (`-` for the empty body): `hexdigest()`
/// and standard Base64 of the HMAC.
const SCRIPT: &str = r#"
import base64, hashlib, hmac, sys
secret = sys.argv[1].encode()
for line in sys.stdin.read().split():
    body = b"" if line == "-" else bytes.fromhex(line)
    digest = hmac.new(secret, body, hashlib.sha256)
    print(digest.hexdigest(), base64.b64encode(digest.digest()).decode())
"#;

fn bodies() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        br#"{"id":"4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10","event":"device.reboot","data":{"devices":[]}}"#.to_vec(),
        "{\"name\":\"Tablet-ü\"}\n".as_bytes().to_vec(),
        (0..=255u8).collect(),
        vec![b'x'; 70_000],
    ]
}

#[test]
fn python_hmac_signatures_verify_in_hex_and_base64() {
    let bodies = bodies();
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, std::str::from_utf8(SECRET).unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed for this cross-check");
    let input: String = bodies
        .iter()
        .map(|body| match body.is_empty() {
            true => "-\n".to_string(),
            false => format!("{}\n", hex::encode(body)),
        })
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), bodies.len());
    for (body, line) in bodies.iter().zip(lines) {
        let (hex, base64) = line.split_once(' ').unwrap();
        assert_eq!(scalefusion::sign(SECRET, body), hex);
        assert_eq!(scalefusion::verify(body, hex, &[SECRET]).unwrap(), 0);
        assert_eq!(scalefusion::verify(body, base64, &[SECRET]).unwrap(), 0);
        assert!(matches!(
            scalefusion::verify(body, hex, &[b"sf-secret-124"]),
            Err(ScalefusionError::Mismatch)
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_flipped_body_byte_or_mac_bit_is_refused(
        body in prop::collection::vec(any::<u8>(), 1..2048),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        bit in 0usize..256,
        base64 in any::<bool>(),
    ) {
        let hex = scalefusion::sign(SECRET, &body);
        let mut mac = hex::decode(&hex).unwrap();
        let header = match base64 {
            true => base64::engine::general_purpose::STANDARD.encode(&mac),
            false => hex.clone(),
        };
        prop_assert_eq!(scalefusion::verify(&body, &header, &[SECRET]).unwrap(), 0);

        let mut flipped = body.clone();
        let i = at.index(flipped.len());
        flipped[i] ^= mask;
        let err = scalefusion::verify(&flipped, &header, &[SECRET]).unwrap_err();
        prop_assert_eq!(err.kind(), RejectKind::Forged);

        mac[bit / 8] ^= 1 << (bit % 8);
        let err = scalefusion::verify(&body, &hex::encode(&mac), &[SECRET]).unwrap_err();
        prop_assert_eq!(err.kind(), RejectKind::Forged);
    }

    #[test]
    fn truncated_or_extended_headers_never_verify(body in prop::collection::vec(any::<u8>(), 0..256), cut in 1usize..64) {
        let hex = scalefusion::sign(SECRET, &body);
        prop_assert!(scalefusion::verify(&body, &hex[..64 - cut], &[SECRET]).is_err());
        let extended = format!("{}{}", hex, &hex[..cut]);
        prop_assert!(scalefusion::verify(&body, &extended, &[SECRET]).is_err());
    }
}
