//! Cost of Knox verification: a bare RSA-2048 verify, and whole callbacks of 2 KB and 256 KB
//! (genuine, and forged so that every candidate form is tried).

#[path = "../tests/it/support.rs"]
#[allow(
    dead_code,
    reason = "the test binary's Knox fixtures; the bench uses only the anchor"
)]
mod support;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::verify_pkcs1_sha256;
use support::{anchor, NOW};

/// A KAI-shaped callback of about `size` bytes, pretty-printed so it is not canonical.
fn body(size: usize) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut len = 0;
    // Each entry adds at least 60 bytes, so this ends after size / 60 rounds.
    while len < size {
        let i = entries.len();
        let entry = format!(
            "{{ \"packageName\": \"com.example.app{i}\", \"appVersion\": \"98.0.{i}.89\", \"ratio\": 1.10, \"anr\": {i} }}"
        );
        len += entry.len() + 2;
        entries.push(entry);
    }
    format!(
        "{{\n  \"subscriptionId\": \"123456789123\",\n  \"event\": \"KAI_APP_ANR_FC\",\n  \"payload\": {{ \"imei\": \"123456789\", \"apps\": [{}] }}\n}}",
        entries.join(", ")
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let anchor = anchor();
    let (key, cert) = (&anchor.signing_key, &anchor.certificate);
    let anchors = std::slice::from_ref(cert);

    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJldmVudCI6IktHX0RFVklDRV9MT0NLRUQifQ==";
    let signature = key.sign_pkcs1_sha256(message);
    c.bench_function("rsa2048_verify_pkcs1_sha256", |b| {
        b.iter(|| {
            assert!(verify_pkcs1_sha256(
                cert.public_key(),
                black_box(message),
                black_box(&signature)
            ))
        })
    });

    let mut group = c.benchmark_group("knox_verify");
    for (name, size) in [("2KB", 2 * 1024), ("256KB", 256 * 1024)] {
        let body = body(size);
        let header = knox::sign(&body, key).unwrap();
        // Same length, wrong bytes: every form is encoded and RSA-checked before rejection.
        let (signed, _) = header.rsplit_once('.').unwrap();
        let forged = format!("{signed}.{}", "A".repeat(342));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("genuine", name), &body, |b, body| {
            b.iter(|| knox::verify(black_box(body), &header, anchors, NOW).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("forged", name), &body, |b, body| {
            b.iter(|| knox::verify(black_box(body), &forged, anchors, NOW).unwrap_err())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
