//! Cost of Knox verification: a bare RSA-2048 verify, and whole callbacks of 2 KB and 256 KB
//! (genuine, and forged so that every candidate form is tried).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::{verify_pkcs1_sha256, RsaSigningKey};
use hookwarden_verify::x509::KnoxCertificate;

/// 2026-01-01T00:00:00Z, inside the bench certificate's validity.
const NOW: i64 = 1_767_225_600;

fn anchor() -> (RsaSigningKey, KnoxCertificate) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["knox-bench.test".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2027, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    (
        RsaSigningKey::from_pkcs8_der(&key.serialize_der()).unwrap(),
        KnoxCertificate::parse(cert.der()).unwrap(),
    )
}

/// A KAI-shaped callback of about `size` bytes, pretty-printed so it is not canonical.
fn body(size: usize) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut len = 0;
    for i in 0.. {
        if len >= size {
            break;
        }
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
    let (key, cert) = anchor();
    let anchors = std::slice::from_ref(&cert);

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
        let header = knox::sign(&body, &key).unwrap();
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
