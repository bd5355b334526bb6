//! Cost of the two HMAC providers on a 2 KB callback: Scalefusion (one HMAC-SHA256 over the
//! body) and OneAccess (bearer check, HMAC over the signed fields, AES-256-GCM decryption).
//! The OneAccess encrypted message is 2 KB, so the body is about 2.8 KB of Base64.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hookwarden_verify::oneaccess::{self, CipherMode, Config, Encryption};
use hookwarden_verify::scalefusion;
use zeroize::Zeroizing;

const NOW_MS: i64 = 1_795_000_000_000;
const SIZE: usize = 2048;

/// A Scalefusion-shaped body of `SIZE` bytes.
fn scalefusion_body() -> Vec<u8> {
    let head = r#"{"id":"4f1c2a9e-8d3b-4c6e-9a71-2b5d0e6f7a10","event":"device.enrolled","created_at":"2026-01-01T00:00:00Z","data":{"devices":[{"name":""#;
    let tail = r#""}]}}"#;
    let mut body = head.to_string();
    body.push_str(&"T".repeat(SIZE - head.len() - tail.len()));
    body.push_str(tail);
    assert_eq!(body.len(), SIZE);
    body.into_bytes()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("hmac_providers");
    group.throughput(Throughput::Bytes(SIZE as u64));

    let secret: &[u8] = b"sf-secret-123";
    let body = scalefusion_body();
    let header = scalefusion::sign(secret, &body);
    group.bench_function("scalefusion_verify_2k", |b| {
        b.iter(|| scalefusion::verify(black_box(&body), black_box(&header), &[secret]).unwrap())
    });

    let config = Config {
        signature_key: Some(Zeroizing::new("signature-key-1234".into())),
        bearer_token: Zeroizing::new("token-1".into()),
        encryption: Some(
            Encryption::new("0123456789abcdef0123456789abcdef", CipherMode::Gcm).unwrap(),
        ),
        allow_unsigned: false,
    };
    let head = r#"{"username":"zhang.san","extAttr1":""#;
    let msg = format!("{head}{}\"}}", "x".repeat(SIZE - head.len() - 2));
    assert_eq!(msg.len(), SIZE);
    let request =
        oneaccess::build_request("CREATE_USER", &msg, &config, "bqVHvThFGooCRjSf", NOW_MS).unwrap();
    let configs = [config];
    group.bench_function("oneaccess_verify_gcm_2k", |b| {
        b.iter(|| {
            oneaccess::verify(
                black_box(request.as_bytes()),
                Some("Bearer token-1"),
                &configs,
                NOW_MS,
                300,
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
