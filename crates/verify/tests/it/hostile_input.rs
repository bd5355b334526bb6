//! Hostile input against every parser a request reaches before it is authenticated: the Knox
//! JWS, the Jackson canonicalizer, the base64 flavours, the OneAccess envelope and its AES
//! data, the Scalefusion header and body, and the Knox certificate. The Knox JOSE header is
//! signed verbatim and read only once the signature verified (for the log), and is tested here
//! too, signed over hostile content.
//!
//! The property for all of them: no panic, time bounded, memory bounded, for any input. Two
//! parts prove it:
//! - a fixed corpus of the inputs that break parsers (100,000 `[`, 10 MB bodies, invalid
//!   UTF-8, lone surrogates in `\u` escapes, `1e999999`, a 100,000-digit integer, 50,000 keys
//!   whose Java hash codes all collide) with time and allocation bounds per call;
//! - proptest properties over random bytes, token soup that looks like JSON, and valid JSON.
//!
//! Memory is measured with a counting global allocator (per thread, so tests running in
//! parallel, this binary's other suites included, do not disturb each other): the peak of live heap bytes during one call. aws-lc
//! allocates outside Rust's allocator, but only fixed-size RSA state.
//!
//! CI runs 256 cases per property (the whole suite takes about 30 s on two cores in a debug
//! build). For a longer run:
//! `PROPTEST_CASES=100000 cargo test --release -p hookwarden-verify --test it hostile_input`.
//! cargo-fuzz would need a nightly toolchain, which this project does not use.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hookwarden_verify::encoding::{
    decode_lenient, JAVA_URL_DECODER, STANDARD, URL_PADDED, URL_UNPADDED,
};
use hookwarden_verify::jackson;
use hookwarden_verify::knox;
use hookwarden_verify::oneaccess::{self, CipherMode, Config, Encryption};
use hookwarden_verify::reject::RejectKind;
use hookwarden_verify::scalefusion;
use hookwarden_verify::x509::KnoxCertificate;
use proptest::prelude::*;
use zeroize::Zeroizing;

use crate::support::{shared_anchor, NOW};

// ---------------------------------------------------------------------------------------------
// Measuring one call: wall time and peak heap.

/// The system allocator, counting live bytes per thread.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: during thread teardown the counters may be gone; nothing to measure then.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

#[allow(
    unsafe_code,
    reason = "GlobalAlloc is an unsafe trait; this one counts, then calls System"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            track(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Wall-clock limit for one call on one hostile input of up to 10 MB in a debug build, on a
/// busy two-core machine. The slowest input, 50,000 top-level keys in one Java HashMap tree
/// bin, takes about 6 s there (0.25 s in a release build); a quadratic parser would need
/// minutes to hours.
const CORPUS_TIME_LIMIT: Duration = Duration::from_secs(20);
/// Wall-clock limit for one call on a proptest input (at most a few KiB).
const CASE_TIME_LIMIT: Duration = Duration::from_secs(2);
/// Peak heap for one call: this many times the input, plus a fixed allowance. The worst
/// cases are many short keys: nested ones cost the canonicalizer about 10 bytes of heap per
/// input byte (kept until their object closes, for the duplicate check), top-level ones about
/// 240 bytes per key, which the 10,000-key limit caps near 2.5 MB; the Knox verifier adds
/// the base64 of the canonical form.
const HEAP_PER_INPUT_BYTE: usize = 16;
const HEAP_ALLOWANCE: usize = 3 << 20;

/// Runs `call`, returning its result, how long it took and the peak of extra live heap.
fn measure<T>(call: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let started = Instant::now();
    let result = call();
    let elapsed = started.elapsed();
    let peak = PEAK.with(Cell::get) - base;
    (result, elapsed, peak.max(0) as usize)
}

/// Runs `call` on `input` and checks the corpus bounds; `what` names the parser and input.
fn bounded<T>(what: &str, input_len: usize, call: impl FnOnce() -> T) -> T {
    let (result, elapsed, peak) = measure(call);
    let heap_limit = HEAP_PER_INPUT_BYTE * input_len + HEAP_ALLOWANCE;
    eprintln!("{what}: {input_len} bytes in {elapsed:?}, peak heap {peak} bytes");
    assert!(
        elapsed < CORPUS_TIME_LIMIT,
        "{what}: {elapsed:?} for {input_len} bytes"
    );
    assert!(
        peak <= heap_limit,
        "{what}: peak heap {peak} bytes for {input_len} input bytes (limit {heap_limit})"
    );
    result
}

/// Heap allowed per input byte for parsers that only ever see authenticated bodies
/// (`scalefusion::event_type` builds a `serde_json::Value`, about 21 bytes of heap per byte of
/// `{},{},…`): bounded, but not by the pre-authentication limit.
const AUTHENTICATED_HEAP_PER_INPUT_BYTE: usize = 32;

/// [`bounded`] for a parser that runs only after the signature matched.
fn bounded_after_authentication<T>(what: &str, input_len: usize, call: impl FnOnce() -> T) -> T {
    let (result, elapsed, peak) = measure(call);
    let heap_limit = AUTHENTICATED_HEAP_PER_INPUT_BYTE * input_len + HEAP_ALLOWANCE;
    eprintln!("{what}: {input_len} bytes in {elapsed:?}, peak heap {peak} bytes");
    assert!(elapsed < CORPUS_TIME_LIMIT, "{what}: {elapsed:?}");
    assert!(
        peak <= heap_limit,
        "{what}: peak heap {peak} bytes (limit {heap_limit})"
    );
    result
}

// ---------------------------------------------------------------------------------------------
// The corpus.

const MB: usize = 1024 * 1024;

/// `n` keys built from `bits` two-character blocks, each "Aa" or "BB": every key has the same
/// `String.hashCode()` (both blocks hash to 2112), the classic Java HashMap flood.
fn colliding_keys(n: usize) -> Vec<String> {
    let bits = usize::BITS - n.saturating_sub(1).leading_zeros();
    (0..n)
        .map(|i| {
            (0..bits)
                .map(|b| if i >> b & 1 == 0 { "Aa" } else { "BB" })
                .collect()
        })
        .collect()
}

/// `n` distinct keys of three letters: the shortest members, so the most per byte.
fn three_letter_keys(n: usize) -> impl Iterator<Item = String> {
    const LETTERS: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    (0..n).map(|i| {
        [i % 64, i / 64 % 64, i / 4096 % 64]
            .map(|l| char::from(LETTERS[l]))
            .iter()
            .collect()
    })
}

fn object_of(keys: impl IntoIterator<Item = String>) -> Vec<u8> {
    let members: Vec<String> = keys.into_iter().map(|k| format!("\"{k}\":1")).collect();
    format!("{{{}}}", members.join(",")).into_bytes()
}

/// `bytes` as "10 MB", "1 MB", for case names.
fn megabytes(bytes: usize) -> String {
    format!("{} MB", bytes / MB)
}

/// Bodies that break parsers, by name; the large ones are `big` bytes (doubles a fortieth of
/// that: each costs an exact `Double.toString`, some 150 µs in a debug build and 2.5 µs in a
/// release build for `1.5e300`). Each is wrapped in
/// a JSON object where that matters, so the hostile part is reached rather than refused at
/// the first byte.
fn hostile_bodies(big: usize) -> Vec<(String, Vec<u8>)> {
    let deep = 100_000;
    let wrap = |inner: &[u8]| [b"{\"payload\":".as_slice(), inner, b"}"].concat();
    let digits = "7".repeat(100_000);
    let string = format!("{{\"s\":\"{}\"}}", "x".repeat(big));
    let escapes = format!("{{\"s\":\"{}\"}}", "\\u00e9".repeat(big / 6));
    let doubles = format!("{{\"n\":[{}0]}}", "1.5e300,".repeat(big / 40 / 8));
    let sized: Vec<(String, Vec<u8>)> = vec![
        (format!("{} string", megabytes(big)), string.into_bytes()),
        (
            format!("{} of escapes", megabytes(big)),
            escapes.into_bytes(),
        ),
        (
            format!("{} kB of doubles", big / 40 / 1000),
            doubles.into_bytes(),
        ),
        (
            format!("{} of whitespace", megabytes(big)),
            [b"{".as_slice(), &vec![b' '; big], b"}"].concat(),
        ),
        (format!("{} of 0xff", megabytes(big)), vec![0xff; big]),
        (format!("{} of NUL", megabytes(big)), vec![0; big]),
    ];
    let fixed: Vec<(&str, Vec<u8>)> = vec![
        ("100k open brackets", "[".repeat(deep).into_bytes()),
        (
            "100k nested arrays",
            wrap(format!("{}{}", "[".repeat(deep), "]".repeat(deep)).as_bytes()),
        ),
        (
            "100k nested objects",
            wrap(format!("{}1{}", "{\"a\":".repeat(deep), "}".repeat(deep)).as_bytes()),
        ),
        (
            "100k unclosed objects",
            wrap("{\"a\":".repeat(deep).as_bytes()),
        ),
        (
            "invalid UTF-8 in a string",
            b"{\"a\":\"\xc3\x28\xa0\xa1\xf0\x28\x8c\x28\"}".to_vec(),
        ),
        (
            "overlong UTF-8",
            b"{\"a\":\"\xc0\xaf\xe0\x80\xaf\"}".to_vec(),
        ),
        (
            "UTF-8-encoded surrogate",
            b"{\"a\":\"\xed\xa0\x80\"}".to_vec(),
        ),
        ("lone high surrogate", br#"{"a":"\ud800"}"#.to_vec()),
        ("lone low surrogate", br#"{"a":"\udc00"}"#.to_vec()),
        ("reversed pair", br#"{"a":"\udc00\ud800"}"#.to_vec()),
        (
            "high surrogate then BMP",
            br#"{"a":"\ud800\u0041"}"#.to_vec(),
        ),
        ("surrogate at the end of input", br#"{"a":"\ud800"#.to_vec()),
        ("truncated escape", br#"{"a":"\u12"#.to_vec()),
        (
            "surrogate keys",
            br#"{"\ud800":1,"\udbff":2,"?":3}"#.to_vec(),
        ),
        ("1e999999", br#"{"a":1e999999}"#.to_vec()),
        ("-1e-999999", br#"{"a":-1e-999999}"#.to_vec()),
        (
            "exponent of 30 digits",
            br#"{"a":1e999999999999999999999999999999}"#.to_vec(),
        ),
        (
            "100k-digit integer",
            format!("{{\"a\":{digits}}}").into_bytes(),
        ),
        (
            "100k-digit negative integer",
            format!("{{\"a\":-{digits}}}").into_bytes(),
        ),
        (
            "100k-digit fraction",
            format!("{{\"a\":0.{digits}}}").into_bytes(),
        ),
        (
            "100k digits and a huge negative exponent",
            format!("{{\"a\":{digits}.{digits}e-99999999}}").into_bytes(),
        ),
        (
            "100k-digit top-level key",
            format!("{{\"{digits}\":{digits}}}").into_bytes(),
        ),
        (
            "100k three-letter keys",
            object_of(three_letter_keys(100_000)),
        ),
        (
            "100k three-letter nested keys",
            wrap(&object_of(three_letter_keys(100_000))),
        ),
        (
            "10k distinct keys",
            object_of((0..10_000).map(|i| format!("key{i}"))),
        ),
        (
            "10k distinct nested keys",
            wrap(&object_of((0..10_000).map(|i| format!("key{i}")))),
        ),
        (
            "10k duplicate keys",
            object_of((0..10_000).map(|_| "same".to_string())),
        ),
        // As many top-level keys as the canonicalizer accepts, all in one Java tree bin.
        ("10k colliding keys", object_of(colliding_keys(10_000))),
        ("50k colliding keys", object_of(colliding_keys(50_000))),
        (
            "50k colliding nested keys",
            wrap(&object_of(colliding_keys(50_000))),
        ),
        (
            "1M empty objects",
            format!("{{\"a\":[{}{{}}]}}", "{},".repeat(MB)).into_bytes(),
        ),
        ("BOM before the object", b"\xef\xbb\xbf{\"a\":1}".to_vec()),
        ("object then garbage", b"{\"a\":1}\x00\xff{}".to_vec()),
        ("empty", Vec::new()),
    ];
    let fixed = fixed
        .into_iter()
        .map(|(name, body)| (name.to_string(), body));
    sized.into_iter().chain(fixed).collect()
}

/// The corpus at the size the pipeline lets through by default (1 MiB), plus one 10 MB body:
/// enough to show the cost is linear without hashing 10 MB dozens of times in a debug build.
fn hostile_bodies_for_verifiers() -> Vec<(String, Vec<u8>)> {
    let mut bodies = hostile_bodies(MB);
    let ten_mb = format!("{{\"s\":\"{}\"}}", "x".repeat(10 * MB));
    bodies.push(("10 MB string".to_string(), ten_mb.into_bytes()));
    bodies
}

fn anchors() -> &'static [KnoxCertificate] {
    std::slice::from_ref(&shared_anchor().certificate)
}

/// A well-formed `X-WSM-SIGNATURE` (over another body), so verification reaches the body.
fn valid_header() -> &'static str {
    static HEADER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HEADER.get_or_init(|| {
        knox::sign(
            br#"{"event":"KG_DEVICE_LOCKED"}"#,
            &shared_anchor().signing_key,
        )
        .unwrap()
    })
}

/// Canonicalizing a canonical form gives the same bytes, so no input makes the output drift,
/// with two exceptions that Java has too:
/// - `getBytes(UTF_8)` turns unpaired surrogates into `?`, so keys that differed only there
///   (`"\ud800"`, `"\udbff"`, `"?"`) are duplicates afterwards;
/// - a HashMap tree bin (9 or more top-level keys in one bucket) iterates in an order that
///   depends on the insertion order, so re-reading the output reorders those members (JDK 17:
///   32 keys of "Aa"/"BB" blocks put in a HashMap, then put again in its iteration order, come
///   out in another order). The members must still be the same.
fn is_fixed_point(body: &[u8], canonical: &[u8]) -> bool {
    match jackson::canonicalize(canonical) {
        Ok(again) if again == canonical => true,
        Ok(again) => {
            let parse = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
            matches!((parse(&again), parse(canonical)), (Some(a), Some(b)) if a == b)
        }
        Err(jackson::CanonicalError::DuplicateKey { .. }) => {
            // A `\uD800`–`\uDFFF` escape in the input.
            let lower = body.to_ascii_lowercase();
            lower
                .windows(4)
                .any(|w| w[..3] == *b"\\ud" && b"89abcdef".contains(&w[3]))
        }
        Err(_) => false,
    }
}

#[test]
fn jackson_survives_the_corpus() {
    for (name, body) in hostile_bodies(10 * MB) {
        let result = bounded(
            &format!("jackson::canonicalize({name})"),
            body.len(),
            || jackson::canonicalize(&body),
        );
        if let Ok(canonical) = result {
            assert!(
                is_fixed_point(&body, &canonical),
                "{name}: the canonical form is not a fixed point"
            );
        }
    }
}

#[test]
fn knox_verify_survives_the_corpus_and_accepts_none_of_it() {
    for (name, body) in hostile_bodies_for_verifiers() {
        let result = bounded(&format!("knox::verify({name})"), body.len(), || {
            knox::verify(&body, valid_header(), anchors(), NOW)
        });
        let err = result.expect_err(&name);
        assert!(
            matches!(err.kind(), RejectKind::Malformed | RejectKind::Forged),
            "{name}: {err}"
        );
    }
}

/// `X-WSM-SIGNATURE` values that break JWS parsers.
fn hostile_headers() -> Vec<(&'static str, String)> {
    let b64 = |json: &str| URL_UNPADDED.encode(json);
    let max = knox::MAX_SIGNATURE_HEADER_LEN;
    let (protected, payload, signature) = {
        let mut parts = valid_header().split('.');
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    };
    let deep_header = b64(&"[".repeat(max / 2));
    vec![
        ("empty", String::new()),
        ("only dots", ".".repeat(max)),
        ("one byte too long", "A".repeat(max + 1)),
        ("10 MB", "A".repeat(10 * MB)),
        ("thousands of parts", "a.".repeat(max / 2)),
        ("two parts", format!("{protected}.{signature}")),
        (
            "four parts",
            format!("{protected}.{payload}.{signature}.{signature}"),
        ),
        (
            "header is deep JSON",
            format!("{deep_header}.{payload}.{signature}"),
        ),
        (
            "header is a huge number",
            format!("{}.{payload}.{signature}", b64(&"9".repeat(8000))),
        ),
        (
            "header has 1e999999",
            format!("{}.{payload}.{signature}", b64(r#"{"alg":1e999999}"#)),
        ),
        (
            "header with a lone surrogate",
            format!("{}.{payload}.{signature}", b64(r#"{"alg":"RS256\ud800"}"#)),
        ),
        (
            "header is not UTF-8",
            format!(
                "{}.{payload}.{signature}",
                URL_UNPADDED.encode(b"{\"alg\":\"\xff\"}")
            ),
        ),
        (
            "duplicate alg",
            format!(
                "{}.{payload}.{signature}",
                b64(r#"{"alg":"none","alg":"RS256"}"#)
            ),
        ),
        (
            "alg none, no signature",
            format!("{}.{payload}.", b64(r#"{"alg":"none"}"#)),
        ),
        (
            "alg none with a signature",
            format!("{}.{payload}.{signature}", b64(r#"{"alg":"none"}"#)),
        ),
        (
            "alg HS256",
            format!(
                "{}.{payload}.{}",
                b64(r#"{"alg":"HS256"}"#),
                URL_UNPADDED.encode([7u8; 32])
            ),
        ),
        (
            "non-ASCII",
            format!("{protected}\u{00e9}.{payload}.{signature}\u{1F600}"),
        ),
        (
            "standard alphabet",
            format!(
                "{protected}.{payload}.{}",
                signature.replace('-', "+").replace('_', "/")
            ),
        ),
        (
            "signature of 12k bytes",
            format!(
                "{protected}.{payload}.{}",
                URL_UNPADDED.encode(vec![1u8; 12_000])
            ),
        ),
        ("signature one byte short", {
            let bytes = JAVA_URL_DECODER.decode(signature).unwrap();
            format!("{protected}.{payload}.{}", URL_UNPADDED.encode(&bytes[1..]))
        }),
        (
            "whitespace inside",
            format!("{protected} .{payload}.{signature}"),
        ),
        ("NUL bytes", format!("{protected}\0.{payload}.{signature}")),
    ]
}

/// JOSE headers (`parts[0]`) Samsung's verifier would accept under a valid signature, as
/// hostile as they come: each verifies, and what the log shows of it is short printable ASCII.
fn hostile_protected_headers() -> Vec<(&'static str, String)> {
    let b64 = |json: &str| URL_UNPADDED.encode(json);
    // Leaves room for the 342 characters of an RSA-2048 signature under the bound.
    let room = knox::MAX_SIGNATURE_HEADER_LEN - 342;
    let long = "k".repeat(room * 3 / 4 - 40);
    vec![
        ("deep JSON", b64(&"[".repeat(room * 3 / 4))),
        (
            "deep JSON inside an object",
            b64(&format!(
                r#"{{"alg":"RS256","x":{}1{}}}"#,
                "[".repeat(room * 3 / 8 - 20),
                "]".repeat(room * 3 / 8 - 20)
            )),
        ),
        ("a huge number", b64(&"9".repeat(8000))),
        ("alg 1e999999", b64(r#"{"alg":1e999999}"#)),
        ("lone surrogate", b64(r#"{"alg":"RS256\ud800","kid":"\udc00"}"#)),
        ("not UTF-8", URL_UNPADDED.encode(b"{\"alg\":\"\xff\"}")),
        ("duplicate alg", b64(r#"{"alg":"none","alg":"RS256"}"#)),
        (
            "log injection",
            b64("{\"alg\":\"RS256\\n{\\\"outcome\\\":\\\"stored\\\"}\\u001b[2K\",\"kid\":\"\\u2028\\u0000\"}"),
        ),
        ("a long kid", b64(&format!(r#"{{"kid":"{long}"}}"#))),
        ("raw JSON", r#"{"alg":"none"}"#.to_owned()),
        ("control characters", "\u{1b}[31m\r\n\0\u{7f}".to_owned()),
        ("non-ASCII", "h\u{e9}ader \u{1F600} \u{2028}".to_owned()),
        ("empty", String::new()),
        ("at the bound", "A".repeat(room)),
    ]
}

#[test]
fn knox_verifies_any_signed_jose_header_and_logs_it_safely() {
    let body = br#"{"event":"KG_DEVICE_LOCKED"}"#;
    let payload = URL_PADDED.encode(jackson::canonicalize(body).unwrap());
    for (name, protected) in hostile_protected_headers() {
        let input = format!("{protected}.{payload}");
        let signature = shared_anchor()
            .signing_key
            .sign_pkcs1_sha256(input.as_bytes());
        let header = format!("{input}.{}", URL_UNPADDED.encode(signature));
        let verified = bounded_after_authentication(
            &format!("knox::verify(signed JOSE header: {name})"),
            header.len(),
            || knox::verify(body, &header, anchors(), NOW),
        )
        .unwrap_or_else(|err| panic!("{name}: {err}"));
        let logged = verified.header.describe();
        eprintln!("{name}: {logged}");
        assert!(logged.len() <= 160, "{name}: {logged}");
        assert!(
            logged.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
            "{name}: {logged}"
        );
        // The same header under a signature over Samsung's header is a forgery.
        let (_, genuine) = valid_header().rsplit_once('.').unwrap();
        let forged = format!("{protected}.{payload}.{genuine}");
        if protected != valid_header().split('.').next().unwrap() {
            let err = knox::verify(body, &forged, anchors(), NOW).unwrap_err();
            assert_eq!(err.kind(), RejectKind::Forged, "{name}: {err}");
        }
    }
}

#[test]
fn knox_headers_are_refused_without_panic() {
    let body = br#"{"event":"KG_DEVICE_LOCKED"}"#;
    for (name, header) in hostile_headers() {
        let result = bounded(
            &format!("knox::verify(header: {name})"),
            header.len(),
            || knox::verify(body, &header, anchors(), NOW),
        );
        let err = result.expect_err(name);
        assert!(
            matches!(err.kind(), RejectKind::Malformed | RejectKind::Forged),
            "{name}: {err}"
        );
    }
}

const ONEACCESS_SIGNATURE_KEY: &str = "signature-key";

fn oneaccess_configs() -> Vec<Config> {
    let encryption = [
        None,
        Some(("0123456789abcdef", CipherMode::Gcm)),
        Some(("0123456789abcdef01234567", CipherMode::Gcm)),
        Some(("0123456789abcdef0123456789abcdef", CipherMode::Gcm)),
        Some(("0123456789abcdef", CipherMode::Ecb)),
    ];
    encryption
        .into_iter()
        .map(|encryption| Config {
            signature_key: Some(Zeroizing::new(ONEACCESS_SIGNATURE_KEY.into())),
            bearer_token: Zeroizing::new("token".into()),
            encryption: encryption.map(|(key, mode)| Encryption::new(key, mode).unwrap()),
            allow_unsigned: false,
        })
        .collect()
}

/// A OneAccess envelope with the given fields, signed as OneAccess signs; `timestamp` is put
/// in verbatim as a JSON literal.
fn oneaccess_body(nonce: &str, timestamp: &str, event: &str, data: &str) -> Vec<u8> {
    let signature = oneaccess::sign(ONEACCESS_SIGNATURE_KEY, nonce, timestamp, event, data);
    let fields = serde_json::json!({
        "nonce": nonce, "eventType": event, "data": data, "signature": signature,
    });
    fields
        .to_string()
        .replacen('{', &format!("{{\"timestamp\":{timestamp},"), 1)
        .into_bytes()
}

/// OneAccess envelopes with hostile fields, and whether each is authentic (signed with the
/// right key, timestamp inside the window): only those may verify, and only under a config
/// without encryption, since none of the data is a real ciphertext.
fn hostile_oneaccess_bodies() -> Vec<(String, Vec<u8>, bool)> {
    let now = NOW_MS.to_string();
    let mut bodies: Vec<(String, Vec<u8>, bool)> = hostile_bodies_for_verifiers()
        .into_iter()
        .map(|(name, body)| (name, body, false))
        .collect();
    let signed = |name: &str, nonce: &str, timestamp: &str, data: &str, authentic: bool| {
        (
            name.to_string(),
            oneaccess_body(nonce, timestamp, "CREATE_USER", data),
            authentic,
        )
    };
    let raw = |name: &str, body: &[u8]| (name.to_string(), body.to_vec(), false);
    let deep_data = format!(
        "{{\"nonce\":\"n\",\"timestamp\":1,\"eventType\":\"E\",\"data\":{}}}",
        "[".repeat(100_000)
    );
    bodies.extend([
        signed("1 MB data", "n", &now, &"A".repeat(MB), true),
        signed(
            "1 MB base64 data",
            "n",
            &now,
            &STANDARD.encode(vec![9u8; MB * 3 / 4]),
            true,
        ),
        signed("data shorter than IV and tag", "n", &now, "AAAA", true),
        signed("data not base64", "n", &now, "not base64!", true),
        signed(
            "URL-safe base64 data",
            "n",
            &now,
            &URL_UNPADDED.encode([0xfb; 64]),
            true,
        ),
        signed("1 MB nonce", &"n".repeat(MB), &now, "d", true),
        signed(
            "100k-digit timestamp",
            "n",
            &"9".repeat(100_000),
            "d",
            false,
        ),
        signed("timestamp 1e999999", "n", "1e999999", "d", false),
        signed("negative timestamp", "n", "-1", "d", false),
        signed(
            "timestamp u64::MAX + 1",
            "n",
            "18446744073709551616",
            "d",
            false,
        ),
        raw(
            "lone surrogate nonce",
            br#"{"nonce":"\ud800","timestamp":1,"eventType":"E","data":"d","signature":"s"}"#,
        ),
        raw(
            "fields of every type",
            br#"{"nonce":[],"timestamp":{},"eventType":true,"data":null,"signature":1}"#,
        ),
        raw(
            "duplicate fields",
            br#"{"nonce":"a","nonce":"b","timestamp":1,"eventType":"E","data":"d"}"#,
        ),
        raw("deep data", deep_data.as_bytes()),
    ]);
    bodies
}

const NOW_MS: i64 = NOW * 1000;

#[test]
fn oneaccess_survives_the_corpus_and_accepts_none_of_it() {
    let configs = oneaccess_configs();
    for (name, body, authentic) in hostile_oneaccess_bodies() {
        for config in &configs {
            let what = format!("oneaccess::verify({name}, {:?})", config.encryption);
            let result = bounded(&what, body.len(), || {
                oneaccess::verify(
                    &body,
                    Some("Bearer token"),
                    std::slice::from_ref(config),
                    NOW_MS,
                    300,
                )
            });
            let expected = authentic && config.encryption.is_none();
            assert_eq!(result.is_ok(), expected, "{what}: {:?}", result.err());
        }
    }
}

#[test]
fn oneaccess_decrypt_survives_the_corpus() {
    let data: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("1 MB of A", "A".repeat(MB)),
        (
            "1 MB of base64 zeros",
            STANDARD.encode(vec![0u8; MB * 3 / 4]),
        ),
        ("not base64", "***".into()),
        ("IV only", STANDARD.encode([0u8; 12])),
        ("IV and tag, no ciphertext", STANDARD.encode([0u8; 28])),
        ("one block", STANDARD.encode([0u8; 16])),
        ("odd length", STANDARD.encode([0u8; 17])),
        ("non-ASCII", "é".repeat(1000)),
    ];
    for config in oneaccess_configs() {
        let Some(encryption) = &config.encryption else {
            continue;
        };
        for (name, text) in &data {
            let what = format!("oneaccess::decrypt({name}, {encryption:?})");
            let result = bounded(&what, text.len(), || oneaccess::decrypt(text, encryption));
            assert!(result.is_err(), "{what} decrypted");
        }
    }
}

#[test]
fn scalefusion_survives_the_corpus() {
    let secrets: [&[u8]; 2] = [b"current-secret", b"previous-secret"];
    let header = scalefusion::sign(secrets[0], b"another body");
    for (name, body) in hostile_bodies_for_verifiers() {
        let verdict = bounded(&format!("scalefusion::verify({name})"), body.len(), || {
            scalefusion::verify(&body, &header, &secrets)
        });
        assert!(verdict.is_err(), "{name}");
        // The body parser runs only after a MAC matched; give it the hostile body anyway.
        let _ = bounded_after_authentication(
            &format!("scalefusion::event_type({name})"),
            body.len(),
            || scalefusion::event_type(&body),
        );
    }
    let headers = [
        String::new(),
        "sha256=".into(),
        "SHA256=".repeat(10_000),
        "é".repeat(100),
        "0".repeat(64 * 1024),
        "g".repeat(64),
        format!("sha256={}", "A".repeat(43)),
        "=".repeat(44),
        " \t ".into(),
        "\u{1F600}sha256=".into(),
    ];
    for header in headers {
        let verdict = bounded("scalefusion::verify(hostile header)", header.len(), || {
            scalefusion::verify(b"{}", &header, &secrets)
        });
        assert!(verdict.is_err(), "{header:?}");
    }
}

#[test]
fn certificates_survive_hostile_bytes() {
    let der = shared_anchor().certificate_der.clone();
    let pem = shared_anchor().certificate_pem.clone();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("SEQUENCE tag only", vec![0x30]),
        (
            "SEQUENCE claiming 2^64 bytes",
            vec![0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        ("100k nested SEQUENCEs", [0x30, 0x80].repeat(100_000)),
        ("truncated DER", der[..der.len() / 2].to_vec()),
        (
            "DER with trailing bytes",
            [der.as_slice(), &[0u8; 16]].concat(),
        ),
        (
            "PEM without END",
            pem.lines()
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        ),
        ("PEM with bad base64", pem.replace('A', "*").into_bytes()),
        (
            "10 MB PEM body",
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
                "A".repeat(10 * MB)
            )
            .into_bytes(),
        ),
        ("invalid UTF-8", vec![0xff; 1000]),
    ];
    for (name, bytes) in cases {
        let result = bounded(
            &format!("KnoxCertificate::parse({name})"),
            bytes.len(),
            || KnoxCertificate::parse(&bytes),
        );
        assert!(result.is_err(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// `default_cases` unless `PROPTEST_CASES` says otherwise.
fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

/// Checks the per-case bounds of one call on a small input.
fn case<T>(input_len: usize, call: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    let (result, elapsed, peak) = measure(call);
    prop_assert!(
        elapsed < CASE_TIME_LIMIT,
        "{:?} for {} bytes",
        elapsed,
        input_len
    );
    let limit = HEAP_PER_INPUT_BYTE * input_len + HEAP_ALLOWANCE;
    prop_assert!(peak <= limit, "peak heap {} for {} bytes", peak, input_len);
    Ok(result)
}

/// Text that looks like JSON to a tokenizer: brackets, strings with and without escapes,
/// numbers of every shape, literals, whitespace and stray bytes, in any order.
fn json_soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"a\"".to_string()),
        "\"[^\"\\\\]{0,6}\"",
        "\"(\\\\u[dD][89abAB][0-9a-fA-F]{2}){1,2}\"",
        "\"\\\\u[0-9a-fA-F]{0,4}\"",
        "\"\\\\[\"\\\\/bfnrtx0]\"",
        "-?[0-9]{1,25}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{0,12})?",
        Just("true".to_string()),
        Just("fals".to_string()),
        Just("null".to_string()),
        Just(" \t\r\n".to_string()),
        any::<char>().prop_map(String::from),
    ];
    (
        any::<bool>(),
        prop::collection::vec(token, 0..64),
        prop::collection::vec(any::<u8>(), 0..3),
    )
        .prop_map(|(wrapped, tokens, stray)| {
            let mut text = tokens.concat().into_bytes();
            if wrapped {
                text = [b"{\"k\":".as_slice(), &text, b"}"].concat();
            }
            text.extend(stray);
            text
        })
}

/// Valid JSON text for any value, with arbitrary Unicode strings and numbers Jackson must
/// rewrite.
fn json_value() -> impl Strategy<Value = String> {
    let number = "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?";
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        number.prop_map(|n| n.to_string()),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        "\\\\u[dD][89a-fA-F][0-9a-fA-F]{2}".prop_map(|escape| format!("\"{escape}\"")),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::btree_map(any::<String>(), inner, 0..8).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// A valid JSON object of at most 8 members, whitespace sprinkled between tokens.
fn json_object() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::btree_map(any::<String>(), json_value(), 0..8).prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(k, v)| format!(" {} : {v} ", serde_json::to_string(&k).unwrap()))
            .collect();
        format!("\n{{{}}}\r\n", members.join(",")).into_bytes()
    })
}

/// Strings that resemble a JWS: base64url runs and dots, sometimes around real parts.
fn jws_like() -> impl Strategy<Value = String> {
    let (protected, payload, signature) = {
        let mut parts = valid_header().split('.');
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    };
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_=+/. -]{0,700}",
        (any::<u8>(), "[A-Za-z0-9_-]{0,400}").prop_map(move |(which, junk)| match which % 3 {
            0 => format!("{junk}.{payload}.{signature}"),
            1 => format!("{protected}.{junk}.{signature}"),
            _ => format!("{protected}.{payload}.{junk}"),
        }),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn jackson_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(canonical) = case(body.len(), || jackson::canonicalize(&body))? {
            prop_assert!(is_fixed_point(&body, &canonical));
        }
    }

    #[test]
    fn jackson_never_panics_on_json_soup(body in json_soup()) {
        let result = case(body.len(), || jackson::canonicalize(&body))?;
        if let Ok(canonical) = result {
            prop_assert!(is_fixed_point(&body, &canonical), "{}", String::from_utf8_lossy(&canonical));
        }
    }

    /// Any JSON object is accepted (keys are unique, nesting is shallow, and 8 keys cannot
    /// fill a HashMap bucket), and its canonical form is valid JSON and a fixed point.
    #[test]
    fn jackson_accepts_every_object_and_is_idempotent(body in json_object()) {
        let canonical = case(body.len(), || jackson::canonicalize(&body))?;
        let canonical = canonical.map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&canonical).is_ok());
        prop_assert_eq!(jackson::canonicalize(&canonical), Ok(canonical));
    }

    #[test]
    fn knox_never_panics_nor_accepts_a_random_header(header in jws_like(), body in json_soup()) {
        let result = case(body.len() + header.len(), || knox::verify(&body, &header, anchors(), NOW))?;
        let err = result.expect_err("a random header verified");
        prop_assert!(matches!(err.kind(), RejectKind::Malformed | RejectKind::Forged), "{}", err);
    }

    #[test]
    fn knox_never_accepts_a_random_body_under_a_real_signature(body in json_object()) {
        let result = case(body.len(), || knox::verify(&body, valid_header(), anchors(), NOW))?;
        prop_assert!(result.is_err());
    }

    #[test]
    fn base64_decoders_never_panic_and_round_trip(text in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _decoded = case(text.len(), || (decode_lenient(&text), JAVA_URL_DECODER.decode(&text), STANDARD.decode(&text)))?;
        for encoded in [STANDARD.encode(&bytes), URL_UNPADDED.encode(&bytes), URL_PADDED.encode(&bytes)] {
            prop_assert_eq!(decode_lenient(&encoded), Some(bytes.clone()), "{}", encoded);
        }
        prop_assert_eq!(JAVA_URL_DECODER.decode(URL_PADDED.encode(&bytes)).ok(), Some(bytes.clone()));
        prop_assert_eq!(JAVA_URL_DECODER.decode(URL_UNPADDED.encode(&bytes)).ok(), Some(bytes));
    }

    #[test]
    fn oneaccess_never_panics_nor_accepts_random_input(
        body in prop_oneof![json_soup(), json_object(), prop::collection::vec(any::<u8>(), 0..1024)],
        authorization in prop::option::of(prop_oneof![any::<String>(), Just("Bearer token".to_string())]),
    ) {
        let configs = oneaccess_configs();
        let result = case(body.len(), || oneaccess::verify(&body, authorization.as_deref(), &configs, NOW_MS, 300))?;
        prop_assert!(result.is_err());
    }

    /// Every field of a OneAccess envelope replaced by arbitrary JSON.
    #[test]
    fn oneaccess_fields_of_any_type_are_refused(fields in prop::collection::vec(json_value(), 5)) {
        let names = ["nonce", "timestamp", "eventType", "data", "signature"];
        let members: Vec<String> = names.iter().zip(&fields).map(|(n, v)| format!("\"{n}\":{v}")).collect();
        let body = format!("{{{}}}", members.join(","));
        let configs = oneaccess_configs();
        let result = case(body.len(), || oneaccess::verify(body.as_bytes(), Some("Bearer token"), &configs, NOW_MS, 300))?;
        prop_assert!(result.is_err());
    }

    #[test]
    fn oneaccess_decrypt_never_panics(data in prop_oneof![any::<String>(), prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| STANDARD.encode(b))]) {
        for config in oneaccess_configs() {
            if let Some(encryption) = &config.encryption {
                let result = case(data.len(), || oneaccess::decrypt(&data, encryption))?;
                prop_assert!(result.is_err());
            }
        }
    }

    #[test]
    fn scalefusion_never_panics_nor_accepts_random_input(header in any::<String>(), body in json_soup()) {
        let secrets: [&[u8]; 1] = [b"secret"];
        let verdict = case(body.len() + header.len(), || scalefusion::verify(&body, &header, &secrets))?;
        prop_assert!(verdict.is_err());
        let _event = case(body.len(), || scalefusion::event_type(&body))?;
    }

    #[test]
    fn certificate_parser_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        flip in (any::<prop::sample::Index>(), 1u8..=255),
    ) {
        let _parsed = case(bytes.len(), || KnoxCertificate::parse(&bytes))?;
        let mut der = shared_anchor().certificate_der.clone();
        let at = flip.0.index(der.len());
        der[at] ^= flip.1;
        let _parsed = case(der.len(), || KnoxCertificate::parse(&der))?;
    }

    #[test]
    fn oneaccess_secret_parser_never_panics(text in prop_oneof![any::<String>(), json_object().prop_map(|b| String::from_utf8(b).unwrap())]) {
        let _config = case(text.len(), || Config::from_secret_json(&text))?;
    }
}
