//! Throughput of the Knox canonicalizer on a realistic ~2 KB callback and a 256 KB one.
//! `cargo bench -p hookwarden-verify --bench jackson`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hookwarden_verify::jackson::canonicalize;

/// A KAI-style callback: the three top-level keys, a payload mixing strings, integers,
/// doubles (some on Double.toString's slow paths), escapes and non-ASCII text.
fn knox_body(apps: usize) -> String {
    let app = |i: usize| {
        format!(
            r#"{{"packageName":"com.example.app{i}","appName":"Exempel-App {i} \u00e9\u4e2d","appVersion":"98.0.{i}","usageTime":{},"batteryDrain":{},"lastUsed":1.70{i}E12,"ratio":0.{i}10,"network":{{"rxBytes":{},"txBytes":{},"roaming":false}},"tags":["a\/b","line\nbreak"]}}"#,
            i * 7919,
            (i as f64) * 0.37 + 1e-5,
            i * 104_729,
            i * 1_299_709
        )
    };
    let apps: Vec<String> = (0..apps).map(app).collect();
    format!(
        r#"{{"subscriptionId":"123456789123","event":"KAI_APP_USAGE_SCREENTIME","payload":{{"imei":"356938035643809","serialNumber":"R58M123ABC","model":"SM-G991B","updatedTime":1700000000000,"timeZone":"Europe/Berlin","apps":[{}]}}}}"#,
        apps.join(",")
    )
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("jackson");
    for (name, apps) in [("2KB", 6), ("256KB", 905)] {
        let body = knox_body(apps);
        canonicalize(body.as_bytes()).expect("the bench body is valid");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("canonicalize {name} ({} bytes)", body.len()), |b| {
            b.iter(|| canonicalize(black_box(body.as_bytes())).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
