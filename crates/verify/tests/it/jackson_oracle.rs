//! Differential test of the Knox canonicalizer against Samsung's reference verifier run for
//! real: tests/java/KnoxOracle.java on the machine's JDK 17 with Debian's Jackson
//! (libjackson2-databind-java), one long-lived JVM per test answering thousands of bodies.
//!
//! Generated bodies (key orders, fully and partly colliding keys, enough keys to cross
//! HashMap's resize and treeify thresholds, unicode, lone surrogates, every escape, doubles
//! across the whole range, big integers, nesting, random whitespace) must come out byte for
//! byte as Jackson prints them. Bodies Jackson refuses must be refused; the few Jackson
//! accepts and hookwarden refuses on purpose are pinned one by one. Signatures made by
//! `knox::sign` must verify in Java, and both verifiers must agree on tampered ones.
//!
//! `PROPTEST_CASES` scales every generated test (default: a few thousand bodies in all).

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hookwarden_verify::encoding::{JAVA_URL_DECODER, URL_UNPADDED};
use hookwarden_verify::jackson::{
    canonicalize, CanonicalError, MAX_DEPTH, MAX_NUMBER_DIGITS, MAX_STRING_UNITS,
};
use hookwarden_verify::knox::{self, KnoxError, SignedForm};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support;

const JARS: [&str; 3] = [
    "/usr/share/java/jackson-databind.jar",
    "/usr/share/java/jackson-core.jar",
    "/usr/share/java/jackson-annotations.jar",
];
const INSTALL: &str = "install a JDK 17 and Debian's Jackson with its security updates: \
    apt-get update && apt-get install -y openjdk-17-jdk-headless libjackson2-databind-java \
    libjackson2-core-java (2.14.1-2~deb12u1 or later; bash .ci/run does)";

/// Samsung's verifier in a JVM, fed one command per line (see KnoxOracle.java).
struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _classes: tempfile::TempDir,
}

impl Oracle {
    fn start() -> Self {
        for jar in JARS {
            assert!(Path::new(jar).is_file(), "{jar} is missing: {INSTALL}");
        }
        let classpath = JARS.join(":");
        let classes = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/KnoxOracle.java");
        let javac = Command::new("javac")
            .args(["-cp", &classpath, "-d"])
            .arg(classes.path())
            .arg(&source)
            .output()
            .unwrap_or_else(|err| panic!("cannot run javac ({err}): {INSTALL}"));
        assert!(
            javac.status.success(),
            "javac failed on {}: {}",
            source.display(),
            String::from_utf8_lossy(&javac.stderr)
        );
        let mut child = Command::new("java")
            .arg("-cp")
            .arg(format!("{}:{classpath}", classes.path().display()))
            .arg("KnoxOracle")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run java ({err}): {INSTALL}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut oracle = Oracle {
            child,
            stdin,
            stdout,
            _classes: classes,
        };
        // Double.toString changed in JDK 19; Samsung's verifier was measured on 17.
        let info = oracle.ask("I");
        assert!(
            info.starts_with("17 2.14.") && info.ends_with(" constraints"),
            "the oracle must run JDK 17 with Jackson 2.14 and its StreamReadConstraints \
             (got `{info}`): {INSTALL}"
        );
        oracle
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}")
            .and_then(|()| self.stdin.flush())
            .expect("the Java oracle stopped reading");
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line).unwrap();
        assert!(read > 0, "the Java oracle exited");
        line.truncate(line.trim_end().len());
        line
    }

    /// Jackson's canonical bytes, or the class of the exception it threw.
    fn canonical(&mut self, body: &[u8]) -> Result<Vec<u8>, String> {
        let answer = self.ask(&format!("C {}", STANDARD.encode(body)));
        match answer.split_once(' ') {
            Some(("OK", canonical)) => Ok(STANDARD.decode(canonical).unwrap()),
            Some(("ERR", class)) => Err(class.to_owned()),
            _ => panic!("unexpected answer from the oracle: {answer}"),
        }
    }

    /// Samsung's verdict: `VALID`, `INVALID`, `PARTS <n>` or `ERR <exception class>`.
    fn verify(&mut self, body: &[u8], header: &str, certificate_der: &[u8]) -> String {
        self.ask(&format!(
            "V {} {} {}",
            STANDARD.encode(body),
            STANDARD.encode(header),
            STANDARD.encode(certificate_der)
        ))
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 2000 {
        format!(
            "{}… ({} bytes)",
            &text[..text.floor_char_boundary(2000)],
            bytes.len()
        )
    } else {
        text.into_owned()
    }
}

/// Both print the same bytes for a body Jackson accepts.
fn same_as_jackson(oracle: &mut Oracle, body: &[u8]) -> Result<(), TestCaseError> {
    let ours = canonicalize(body);
    match (ours, oracle.canonical(body)) {
        (Ok(ours), Ok(theirs)) if ours == theirs => Ok(()),
        (ours, theirs) => Err(TestCaseError::fail(format!(
            "body:    {}\nours:    {:?}\nJackson: {:?}",
            shown(body),
            ours.map(|c| shown(&c)),
            theirs.map(|c| shown(&c))
        ))),
    }
}

fn run(
    cases: u32,
    strategy: impl Strategy<Value = String>,
    test: impl FnMut(&str) -> Result<(), TestCaseError>,
) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(cases, |scale| cases.max(scale));
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 400,
        ..Config::default()
    };
    let test = RefCell::new(test);
    TestRunner::new(config)
        .run(&strategy, |body| (test.borrow_mut())(&body))
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// Generators

/// A regex strategy compiled once (a `&str` strategy recompiles on every case, which
/// dominates the run time of a debug build).
fn regex(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).unwrap()
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => Just(""), 1 => Just(" "), 1 => Just("\n  "), 1 => Just("\t"), 1 => Just("\r\n")]
}

/// How a character is written in a JSON string literal.
#[derive(Clone, Copy, Debug)]
enum Escape {
    Raw,
    Short,
    Lower,
    Upper,
}

#[derive(Clone, Debug)]
enum Piece {
    Char(char, Escape),
    /// An unpaired surrogate, only expressible as a `\u` escape.
    Lone(u16),
}

const SPECIAL_CHARACTERS: [char; 22] = [
    '"',
    '\\',
    '/',
    '\u{8}',
    '\t',
    '\n',
    '\u{c}',
    '\r',
    '\0',
    '\u{1f}',
    '\u{7f}',
    'é',
    '中',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{ffff}',
    '\u{ff61}',
    '\u{e000}',
    '😀',
    '\u{10ffff}',
    '?',
];

/// A piece of string drawn from one random word: mostly letters, often a character that
/// needs care (quotes, controls, line separators, astral, BOM…), sometimes any scalar value
/// or a lone surrogate; written raw or escaped in every way JSON allows. (Built from plain
/// integers because composed strategies are slow to sample in a debug build.)
fn piece(r: u32) -> Piece {
    if r % 16 == 15 {
        return Piece::Lone(0xD800 + (r >> 4) as u16 % 0x800);
    }
    let c = match (r >> 4) % 7 {
        0..=3 => char::from(b'a' + ((r >> 8) % 26) as u8),
        4 | 5 => SPECIAL_CHARACTERS[(r >> 8) as usize % SPECIAL_CHARACTERS.len()],
        _ => char::from_u32((r >> 8) % 0x11_0000).unwrap_or('x'),
    };
    let escape = match r >> 28 {
        0..=9 => Escape::Raw,
        10 | 11 => Escape::Short,
        12 | 13 => Escape::Lower,
        _ => Escape::Upper,
    };
    Piece::Char(c, escape)
}

fn pieces(max: usize) -> impl Strategy<Value = Vec<Piece>> {
    proptest::collection::vec(any::<u32>(), 0..max)
        .prop_map(|words| words.into_iter().map(piece).collect())
}

fn plain(text: &str) -> Vec<Piece> {
    text.chars().map(|c| Piece::Char(c, Escape::Raw)).collect()
}

/// The JSON literal, quotes included.
fn literal(pieces: &[Piece]) -> String {
    let mut out = String::from("\"");
    let unicode = |out: &mut String, c: char, upper: bool| {
        for unit in c.encode_utf16(&mut [0; 2]) {
            out.push_str(&if upper {
                format!("\\u{unit:04X}")
            } else {
                format!("\\u{unit:04x}")
            });
        }
    };
    for piece in pieces {
        match *piece {
            Piece::Lone(unit) => out.push_str(&format!("\\u{unit:04X}")),
            Piece::Char(c, escape) => {
                let short = match c {
                    '"' => Some("\\\""),
                    '\\' => Some("\\\\"),
                    '/' => Some("\\/"),
                    '\u{8}' => Some("\\b"),
                    '\u{c}' => Some("\\f"),
                    '\n' => Some("\\n"),
                    '\r' => Some("\\r"),
                    '\t' => Some("\\t"),
                    _ => None,
                };
                let must_escape = c == '"' || c == '\\' || c < ' ';
                match (escape, short) {
                    (Escape::Raw, _) if !must_escape => out.push(c),
                    (Escape::Raw | Escape::Short, Some(short)) => out.push_str(short),
                    (Escape::Upper, _) => unicode(&mut out, c, true),
                    _ => unicode(&mut out, c, false),
                }
            }
        }
    }
    out.push('"');
    out
}

/// The Java string a literal decodes to, as UTF-16 units: what makes two keys equal.
fn units(pieces: &[Piece]) -> Vec<u16> {
    let mut units = Vec::new();
    for piece in pieces {
        match *piece {
            Piece::Lone(unit) => units.push(unit),
            Piece::Char(c, _) => units.extend(c.encode_utf16(&mut [0; 2]).iter()),
        }
    }
    units
}

/// Concatenations of `n` "Aa"/"BB" pieces: all 2^n share one `String.hashCode`.
fn colliding_words(n: usize) -> Vec<String> {
    (0..1u32 << n)
        .map(|bits| {
            (0..n)
                .map(|i| if bits >> i & 1 == 1 { "Aa" } else { "BB" })
                .collect()
        })
        .collect()
}

fn key() -> impl Strategy<Value = Vec<Piece>> {
    prop_oneof![
        3 => regex("[a-zA-Z_]{0,10}").prop_map(|k| plain(&k)),
        3 => (1usize..=6, any::<u32>()).prop_map(|(n, pick)| {
            let words = colliding_words(n);
            plain(&words[pick as usize % words.len()])
        }),
        1 => select(vec!["subscriptionId", "event", "payload", "imei"]).prop_map(plain),
        2 => pieces(6),
    ]
}

/// Exactly halfway between two doubles: an odd 54-bit integer times 2^exponent, written in
/// full. Both parsers must round it to even.
fn halfway() -> impl Strategy<Value = String> {
    ((1u128 << 53)..(1u128 << 54), -31i32..=70, any::<bool>()).prop_map(|(m, exponent, above)| {
        let m = m | 1;
        let mut text = if exponent >= 0 {
            format!("{}.0", m << exponent)
        } else {
            let k = exponent.unsigned_abs() as usize;
            let digits = format!("{:0>width$}", m * 5u128.pow(k as u32), width = k + 1);
            format!(
                "{}.{}",
                &digits[..digits.len() - k],
                &digits[digits.len() - k..]
            )
        };
        if above {
            // Just above the midpoint: rounds up instead.
            text.push_str("000001");
        }
        text
    })
}

fn double_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        // Any finite double, in Rust's shortest exponent notation ("1.2345e-7").
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        // 1 to 17 significant digits, the point anywhere, any exponent.
        (
            select(vec!["", "-"]),
            (1u64..100_000_000_000_000_000).prop_map(|n| n.to_string()),
            1usize..18,
            -330i32..310,
            select(vec!["e", "E", "e+", "E-"])
        )
            .prop_map(|(sign, digits, point, exponent, e)| {
                let (int, fraction) = digits.split_at(point.min(digits.len()));
                let fraction = if fraction.is_empty() {
                    String::new()
                } else {
                    format!(".{fraction}")
                };
                let exponent = if e.len() == 2 {
                    exponent.abs()
                } else {
                    exponent
                };
                format!("{sign}{int}{fraction}{e}{exponent}")
            }),
        // Plain notation, in and around Java's plain range.
        (-1e8f64..1e8, 0usize..10).prop_map(|(f, places)| format!("{f:.places$}")),
        (0f64..0.01, 1usize..30).prop_map(|(f, places)| format!("{f:.places$}")),
        halfway(),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (select(vec!["", "-"]), 1u8..10, proptest::collection::vec(0u8..10, 18..80)).prop_map(
            |(sign, first, rest)| {
                let digits: String = rest.iter().map(|d| char::from(b'0' + d)).collect();
                format!("{sign}{first}{digits}")
            }
        ),
        1 => select(vec![
            "0", "-0", "-0.0", "0.0", "0e0", "-0E-0", "1e400", "-1e400", "1e-400", "4.9e-324",
            "2.2250738585072012e-308", "1.7976931348623157e308", "1.7976931348623159e308",
            "1.10", "1.70E12", "0.0001", "100.0", "1e7", "9999999.999", "1E-3", "6.0001E20",
        ]).prop_map(str::to_owned),
        4 => double_literal(),
    ]
}

fn object(members: Vec<(Vec<Piece>, String, &'static str)>) -> String {
    let mut seen = std::collections::HashSet::new();
    let members: Vec<String> = members
        .into_iter()
        // Repeated keys are refused on purpose; they are tested apart.
        .filter(|(key, _, _)| seen.insert(units(key)))
        .map(|(key, value, w)| format!("{w}{}{w}:{w}{value}{w}", literal(&key)))
        .collect();
    format!("{{{}}}", members.join(","))
}

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        number(),
        pieces(12).prop_map(|p| literal(&p)),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((ws(), inner.clone(), ws()), 0..6).prop_map(|items| {
                let items: Vec<String> = items
                    .into_iter()
                    .map(|(a, v, b)| format!("{a}{v}{b}"))
                    .collect();
                format!("[{}]", items.join(","))
            }),
            proptest::collection::vec((key(), inner, ws()), 0..6).prop_map(object),
        ]
    })
}

fn body() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((key(), value(), ws()), 0..50),
        ws(),
        prop_oneof![9 => Just(""), 1 => Just("\u{feff}")],
    )
        .prop_map(|(members, w, bom)| format!("{bom}{w}{}{w}", object(members)))
}

/// `String.hashCode` spread as in `HashMap.hash` (test-side, to build colliding key sets).
fn java_hash(key: &str) -> u32 {
    let h = key
        .encode_utf16()
        .fold(0u32, |h, u| h.wrapping_mul(31).wrapping_add(u32::from(u)));
    h ^ (h >> 16)
}

/// 20 000 short keys grouped by the low 8 bits of their hash.
fn keys_by_bucket() -> &'static Vec<Vec<String>> {
    static POOL: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut buckets = vec![Vec::new(); 256];
        for i in 0..20_000u32 {
            let key = format!("{}{i}", ["k", "id", "x_", "Q"][i as usize % 4]);
            buckets[(java_hash(&key) & 0xFF) as usize].push(key);
        }
        buckets
    })
}

/// Top-level key sets that exercise HashMap: thresholds, full and partial collisions.
fn top_level_keys() -> impl Strategy<Value = Vec<String>> {
    let counts = select(vec![1usize, 12, 13, 24, 25, 48, 49, 96, 97, 192, 193, 400]);
    prop_oneof![
        // Fully colliding words, a shuffled subset (up to 64: tree bins).
        (1usize..=6)
            .prop_flat_map(|n| Just(colliding_words(n)).prop_shuffle())
            .prop_flat_map(|words| {
                let len = words.len();
                (Just(words), 1..=len)
            })
            .prop_map(|(words, take)| words[..take].to_vec()),
        // Plain keys across the resize thresholds.
        counts
            .prop_flat_map(|n| proptest::collection::hash_set(regex("[a-z]{3,8}"), n))
            .prop_map(|keys| keys.into_iter().collect::<Vec<_>>())
            .prop_shuffle(),
        // Keys sharing the low 8 hash bits (one bin until 512 buckets), mixed with others.
        (0usize..256, 5usize..60, 0usize..150, any::<u64>())
            .prop_map(|(bucket, same, others, seed)| {
                let pool = keys_by_bucket();
                let mut keys: Vec<String> = pool[bucket].iter().take(same).cloned().collect();
                let mut n = seed;
                for _ in 0..others {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let bin = &pool[(n >> 33) as usize % 256];
                    keys.push(bin[(n >> 20) as usize % bin.len()].clone());
                }
                keys.sort();
                keys.dedup();
                keys
            })
            .prop_shuffle(),
        // Colliding words mixed into enough plain keys to reach 64+ buckets.
        (
            5usize..=6,
            proptest::collection::hash_set(regex("[a-z]{1,6}"), 40..120)
        )
            .prop_map(|(n, plain)| {
                let mut keys = colliding_words(n);
                keys.extend(plain);
                keys
            })
            .prop_shuffle(),
    ]
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn generated_bodies_match_jackson() {
    let mut oracle = Oracle::start();
    run(500, body(), |body| {
        same_as_jackson(&mut oracle, body.as_bytes())
    });
}

#[test]
fn top_level_order_matches_java_hash_map() {
    let mut oracle = Oracle::start();
    let bodies = (top_level_keys(), ws()).prop_map(|(keys, w)| {
        let members: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{w}\"{k}\"{w}:{i}"))
            .collect();
        format!("{{{}}}", members.join(","))
    });
    run(400, bodies, |body| {
        same_as_jackson(&mut oracle, body.as_bytes())
    });
}

#[test]
fn doubles_print_as_jdk17_double_to_string() {
    let mut oracle = Oracle::start();
    let bodies = proptest::collection::vec(double_literal(), 1..120)
        .prop_map(|numbers| format!("{{\"n\":[{}]}}", numbers.join(",")));
    run(300, bodies, |body| {
        same_as_jackson(&mut oracle, body.as_bytes())
    });
}

/// Broken variants of valid bodies: whatever Jackson refuses must be refused; whatever it
/// accepts must match, unless it is one of the deliberate refusals.
#[test]
fn mutated_bodies_are_refused_when_jackson_refuses_them() {
    let mut oracle = Oracle::start();
    let mutations = (
        body(),
        any::<prop::sample::Index>(),
        0usize..4,
        select(b"{}[]\":,0-.e\\ a".to_vec()),
    );
    let cases = mutations.prop_map(|(body, at, how, byte)| {
        let mut bytes = body.into_bytes();
        let at = at.index(bytes.len() + 1);
        match how {
            0 if at < bytes.len() => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, byte),
            2 => bytes.truncate(at),
            _ => bytes.insert(at.min(bytes.len()), b','),
        }
        // Mutations are byte-level; keep the case only if it is still UTF-8 (others are
        // refused by the UTF-8 check alone).
        String::from_utf8(bytes).unwrap_or_default()
    });
    let mut accepted = 0;
    run(400, cases, |body| {
        let ours = canonicalize(body.as_bytes());
        let theirs = oracle.canonical(body.as_bytes());
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) if a == b => accepted += 1,
            (Err(_), Err(_)) => {}
            (
                Err(
                    CanonicalError::DuplicateKey { .. }
                    | CanonicalError::TrailingContent { .. }
                    | CanonicalError::NotAnObject { .. },
                ),
                Ok(_),
            ) => {}
            _ => {
                return Err(TestCaseError::fail(format!(
                    "body:    {}\nours:    {:?}\nJackson: {:?}",
                    shown(body.as_bytes()),
                    ours.map(|c| shown(&c)),
                    theirs.map(|c| shown(&c))
                )))
            }
        }
        Ok(())
    });
    assert!(
        accepted > 0,
        "no mutated body was valid: the generator is broken"
    );
}

#[test]
fn hand_picked_bodies_match_jackson() {
    let mut oracle = Oracle::start();
    let many: Vec<String> = (0..300).map(|i| format!("\"k{i}\":{i}")).collect();
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.70E12,"ratio":1.10,"note":"a/b\u001f"}}"#.to_vec(),
        b"\n{\n  \"event\" : \"KG_DEVICE_LOCKED\",\n  \"subscriptionId\" : \"sub-1\",\n  \"payload\" : { \"imei\" : \"356938035643809\", \"ratio\" : 1.10 }\n}\n".to_vec(),
        b"\xEF\xBB\xBF{\"a\":1}".to_vec(),
        b"{}".to_vec(),
        b" { } ".to_vec(),
        br#"{"":""}"#.to_vec(),
        format!("{{{}}}", many.join(",")).into_bytes(),
        br#"{"a":-0,"b":-0.0,"c":-0e5,"d":0e0,"e":1e6,"f":1E+2}"#.to_vec(),
        br#"{"a":1e400,"b":-1e400,"c":1e-400,"d":1e99999999999999999999,"e":1e-99999999999999999999}"#.to_vec(),
        br#"{"a":[4.9e-324,2.4703282292062327e-324,2.4703282292062328e-324,1.7976931348623157e308,1.7976931348623158e308]}"#.to_vec(),
        br#"{"a":9007199254740993.0,"b":9007199254740993e0,"c":2.2250738585072012e-308,"d":12345678901234567890123}"#.to_vec(),
        br#"{"a":[6.0001E20,2e23,1e23,8.41E21,1e21,1e22,12345678.9,99999999.0,9.999999e-4]}"#.to_vec(),
        br#"{"a":"\ud800x\udc00\ud83d\ude00","b":"\ud83d\ud83d\ude00","c":"\ude00\ud83d"}"#.to_vec(),
        br#"{"\ud800":1,"?":2,"\ud83d\ude00":3}"#.to_vec(),
        br#"{"x":{"\ud800":1,"?":2}}"#.to_vec(),
        br#"{"\u0000":"\u001f\u007f","a":"\u00e9\/\b\f\n\r\t\"\\"}"#.to_vec(),
        "{\"\u{7f}\":\"\u{2028}\u{2029}\u{feff}\u{ffff}😀\u{10ffff}\"}".as_bytes().to_vec(),
        br#"{"a":[1,2,[3,[4,{"b":[]}]]],"b":true,"c":false,"d":null}"#.to_vec(),
        // Nesting, number length and string length right at Jackson's limits, and past them.
        format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1)).into_bytes(),
        format!("{{\"a\":{}1{}}}", "{\"a\":".repeat(MAX_DEPTH - 1), "}".repeat(MAX_DEPTH - 1)).into_bytes(),
        format!("{{\"a\":-{}}}", "7".repeat(MAX_NUMBER_DIGITS)).into_bytes(),
        format!("{{\"a\":-{}.{}E-{}}}", "1".repeat(500), "2".repeat(497), "300").into_bytes(),
        format!("{{\"a\":0.{}1}}", "0".repeat(MAX_NUMBER_DIGITS - 2)).into_bytes(),
        format!("{{\"a\":1e{}1}}", "0".repeat(MAX_NUMBER_DIGITS - 2)).into_bytes(),
    ];
    for body in &bodies {
        same_as_jackson(&mut oracle, body).unwrap();
    }
}

#[test]
fn what_jackson_refuses_is_refused() {
    let mut oracle = Oracle::start();
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"[]".to_vec(),
        b"\"x\"".to_vec(),
        b"1".to_vec(),
        b"{".to_vec(),
        br#"{"a":}"#.to_vec(),
        br#"{"a":1,}"#.to_vec(),
        br#"{"a":[1,]}"#.to_vec(),
        b"{'a':1}".to_vec(),
        b"{a:1}".to_vec(),
        br#"{"a":01}"#.to_vec(),
        br#"{"a":-01}"#.to_vec(),
        br#"{"a":-}"#.to_vec(),
        br#"{"a":1.}"#.to_vec(),
        br#"{"a":.5}"#.to_vec(),
        br#"{"a":+1}"#.to_vec(),
        br#"{"a":1.5e}"#.to_vec(),
        br#"{"a":1e+}"#.to_vec(),
        br#"{"a":NaN}"#.to_vec(),
        br#"{"a":Infinity}"#.to_vec(),
        br#"{"a":-Infinity}"#.to_vec(),
        br#"{"a":tru}"#.to_vec(),
        br#"{"a":true"#.to_vec(),
        br#"{"a":"x}"#.to_vec(),
        b"{\"a\":\"\t\"}".to_vec(),
        b"{\"a\":\"\x01\"}".to_vec(),
        br#"{"a":"\x"}"#.to_vec(),
        br#"{"a":"\'"}"#.to_vec(),
        br#"{"a":"\u12G4"}"#.to_vec(),
        br#"{"a":"\u12"}"#.to_vec(),
        br#"{"a":"\U0041"}"#.to_vec(),
        br#"{"a" : 1 /* c */}"#.to_vec(),
        b"{\"a\":1 # c\n}".to_vec(),
        b"\x0c{\"a\":1}".to_vec(),
        b"\xC2\xA0{\"a\":1}".to_vec(),
        br#"{"a":[1 2]}"#.to_vec(),
        br#"{"a"  1}"#.to_vec(),
        br#"{"a":1 "b":2}"#.to_vec(),
        br#"{,"a":1}"#.to_vec(),
        br#"{"a":0x10}"#.to_vec(),
        br#"{"a":1.5.5}"#.to_vec(),
        br#"{"a":[}"#.to_vec(),
        br#"{"a":{]}"#.to_vec(),
        format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        )
        .into_bytes(),
        format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        format!("{{\"a\":-{}}}", "7".repeat(MAX_NUMBER_DIGITS + 1)).into_bytes(),
        format!(
            "{{\"a\":{}.{}E-{}}}",
            "1".repeat(500),
            "2".repeat(498),
            "300"
        )
        .into_bytes(),
        format!("{{\"a\":1e{}1}}", "0".repeat(MAX_NUMBER_DIGITS - 1)).into_bytes(),
    ];
    for body in &bodies {
        let theirs = oracle.canonical(body);
        assert!(theirs.is_err(), "Jackson accepts {}", shown(body));
        let ours = canonicalize(body);
        assert!(
            ours.is_err(),
            "we accept {}: {:?}",
            shown(body),
            ours.map(|c| shown(&c))
        );
    }
}

/// Java's HashMap order depends on the insertion order inside a tree bin, so feeding the
/// canonical form back in can reorder it. Samsung's form is not a fixed point, and neither
/// is ours: whoever stores the canonical form must not expect re-canonicalizing it to give
/// the signed bytes back.
#[test]
fn canonical_form_is_not_always_a_fixed_point() {
    let mut oracle = Oracle::start();
    let mut words = colliding_words(4);
    words.rotate_left(5);
    let members: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| format!("\"{w}\":{i}"))
        .collect();
    let body = format!("{{{}}}", members.join(","));
    let once = canonicalize(body.as_bytes()).unwrap();
    let twice = canonicalize(&once).unwrap();
    assert_eq!(Ok(once.clone()), oracle.canonical(body.as_bytes()));
    assert_eq!(Ok(twice.clone()), oracle.canonical(&once));
    assert_ne!(
        once, twice,
        "16 colliding keys make a tree bin whose order depends on arrival"
    );
}

/// Jackson accepts these; hookwarden refuses them on purpose (module docs of `jackson`).
#[test]
fn deliberate_refusals_are_bodies_jackson_accepts() {
    use CanonicalError::*;
    let mut oracle = Oracle::start();
    let cases: Vec<(&[u8], CanonicalError)> = vec![
        (br#"{"a":1,"a":2}"#, DuplicateKey { offset: 7 }),
        (br#"{"o":{"b":1,"b":2}}"#, DuplicateKey { offset: 12 }),
        (br#"{"\u0061":1,"a":2}"#, DuplicateKey { offset: 12 }),
        (
            "{\"\\ud83d\\ude00\":1,\"😀\":2}".as_bytes(),
            DuplicateKey { offset: 18 },
        ),
        (br#"{"a":1} x"#, TrailingContent { offset: 8 }),
        (br#"{"a":1}{"b":2}"#, TrailingContent { offset: 7 }),
        (br#"{"a":1}}"#, TrailingContent { offset: 7 }),
        (b"{\"a\":1}\x00", TrailingContent { offset: 7 }),
        (b"null", NotAnObject { offset: 0 }),
        (b" null ", NotAnObject { offset: 1 }),
        // CESU-8 surrogate and overlong NUL: Jackson decodes them, UTF-8 does not allow them.
        (b"{\"a\":\"\xED\xA0\x80\"}", InvalidUtf8 { offset: 6 }),
        (b"{\"a\":\"\xC0\x80\"}", InvalidUtf8 { offset: 6 }),
    ];
    for (body, refusal) in cases {
        assert!(
            oracle.canonical(body).is_ok(),
            "Jackson refuses {}",
            shown(body)
        );
        assert_eq!(canonicalize(body), Err(refusal), "{}", shown(body));
    }
}

/// Jackson's 20 000 000-unit limit on string values, counted in UTF-16 units.
#[test]
fn string_length_limit_matches_jackson() {
    let mut oracle = Oracle::start();
    let astral = "😀".repeat(MAX_STRING_UNITS / 2);
    for (body, accepted) in [
        (format!("{{\"a\":\"{astral}\"}}"), true),
        (format!("{{\"a\":[\"{astral}\\n\"]}}"), false),
    ] {
        let ours = canonicalize(body.as_bytes());
        let theirs = oracle.canonical(body.as_bytes());
        assert_eq!(
            theirs.is_ok(),
            accepted,
            "Jackson on a {}-byte body",
            body.len()
        );
        assert_eq!(ours.ok(), theirs.ok(), "on a {}-byte body", body.len());
    }
}

/// Samsung's whole verifier (split, Jackson, padded base64url, SHA256withRSA) against
/// `knox::verify`, on headers made by `knox::sign` and tampered variants of them.
#[test]
fn signatures_agree_with_samsungs_verifier() {
    let oracle = RefCell::new(Oracle::start());
    let anchor = support::shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    let cert = anchor.certificate_der.as_slice();
    let check = |body: &[u8],
                 header: &str,
                 java: &str,
                 ours: Result<SignedForm, fn(&KnoxError) -> bool>| {
        let theirs = oracle.borrow_mut().verify(body, header, cert);
        prop_assert!(
            theirs.starts_with(java),
            "Java said {theirs} for {}",
            shown(body)
        );
        let verdict = knox::verify(body, header, anchors, support::NOW);
        match (ours, &verdict) {
            (Ok(form), Ok(verified)) => prop_assert_eq!(verified.form, form),
            (Err(expected), Err(err)) if expected(err) => {}
            _ => prop_assert!(false, "ours: {:?} for {}", verdict, shown(body)),
        }
        Ok(())
    };
    let cases = (body(), any::<prop::sample::Index>(), any::<u8>());
    let config = Config {
        cases: 60,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config)
        .run(&cases, |(body, at, flip)| {
            let body = body.as_bytes();
            let header = knox::sign(body, &anchor.signing_key).unwrap();
            check(body, &header, "VALID", Ok(SignedForm::CanonicalPadded))?;

            // Trailing whitespace leaves the canonical form alone.
            let spaced = [body, b"\n \t"].concat();
            check(&spaced, &header, "VALID", Ok(SignedForm::CanonicalPadded))?;

            // One more top-level member (no generated key is that long).
            let open = body.iter().position(|&b| b == b'{').unwrap();
            let empty = canonicalize(body).unwrap() == b"{}";
            let member: &[u8] = if empty {
                br#""hookwarden-tampered":1"#
            } else {
                br#""hookwarden-tampered":1,"#
            };
            let changed = [&body[..=open], member, &body[open + 1..]].concat();
            check(
                &changed,
                &header,
                "INVALID",
                Err(|e| matches!(e, KnoxError::BadSignature)),
            )?;

            // One signature byte flipped; then one byte short.
            let (signed, signature) = header.rsplit_once('.').unwrap();
            let mut signature = JAVA_URL_DECODER.decode(signature).unwrap();
            let i = at.index(signature.len());
            signature[i] ^= flip | 1;
            let flipped = format!("{signed}.{}", URL_UNPADDED.encode(&signature));
            check(
                body,
                &flipped,
                "INVALID",
                Err(|e| matches!(e, KnoxError::BadSignature)),
            )?;
            let short = format!("{signed}.{}", URL_UNPADDED.encode(&signature[1..]));
            check(
                body,
                &short,
                "ERR java.security.SignatureException",
                Err(|e| matches!(e, KnoxError::SignatureLength { .. })),
            )?;
            Ok(())
        })
        .unwrap();
}
