//! Differential test against Samsung's reference verification steps run on the real JDK with
//! Jackson (protocols.md §1.3): every input class below gets Samsung's verdict and hookwarden's
//! `knox::verify` verdict, and the pairs must be exactly those of [`EXPECTED`], where each
//! difference has its reason. A new difference, or a known one that went away, fails the test.
//! It prints the table as Markdown (docs/providers/knox.md#differential-table):
//! `cargo test -p hookwarden-verify --test it knox_java -- --nocapture`.
//! Needs `java` and Debian's libjackson2-databind-java (`.ci/run` installs both).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use hookwarden_verify::encoding::{JAVA_URL_DECODER, URL_PADDED, URL_UNPADDED};
use hookwarden_verify::jackson::{self, CanonicalError};
use hookwarden_verify::knox::{self, KnoxError, SignedForm};
use hookwarden_verify::reject::RejectKind;
use hookwarden_verify::rsa::RsaSigningKey;

use crate::support::{shared_anchor, NOW, PRETTY_BODY, VECTOR_BODY};

const JACKSON_JARS: [&str; 3] = [
    "/usr/share/java/jackson-databind.jar",
    "/usr/share/java/jackson-core.jar",
    "/usr/share/java/jackson-annotations.jar",
];

/// For case i: verify `header-i` over `body-i` exactly as Samsung's sample does (split, exactly
/// 3 parts, Jackson `readValue(HashMap)`/`writeValueAsString`, padded URL base64,
/// `parts[0] + "." + b64`, URL base64 decoding of `parts[2]`, `SHA256withRSA`), then sign
/// `body-i` the way Samsung does. Prints `<verdict> <Samsung's header for body-i, or ->` per
/// case.
const REFERENCE: &str = r#"
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;

public class KnoxReference {
    static final ObjectMapper MAPPER = new ObjectMapper();

    /** Base64url WITH padding of Jackson's re-serialization; null when Jackson refuses the body. */
    static String canonicalB64(byte[] body) {
        try {
            String canonical = MAPPER.writeValueAsString(MAPPER.readValue(body, HashMap.class));
            return Base64.getUrlEncoder().encodeToString(canonical.getBytes(StandardCharsets.UTF_8));
        } catch (Exception | StackOverflowError e) {
            return null;
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Paths.get(args[0]);
        X509Certificate cert;
        try (var in = Files.newInputStream(dir.resolve("cert.pem"))) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        PrivateKey key = KeyFactory.getInstance("RSA")
            .generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(dir.resolve("key.der"))));
        String protectedPart = Base64.getUrlEncoder().withoutPadding()
            .encodeToString("{\"alg\":\"RS256\"}".getBytes(StandardCharsets.UTF_8));
        int count = Integer.parseInt(args[1]);
        for (int i = 0; i < count; i++) {
            byte[] body = Files.readAllBytes(dir.resolve("body-" + i));
            String b64 = canonicalB64(body);
            String[] parts = Files.readString(dir.resolve("header-" + i)).split("\\.");
            String verdict;
            if (parts.length != 3) {
                verdict = "parts";
            } else if (b64 == null) {
                verdict = "body";
            } else {
                Signature verifier = Signature.getInstance("SHA256withRSA");
                verifier.initVerify(cert.getPublicKey());
                verifier.update((parts[0] + "." + b64).getBytes(StandardCharsets.UTF_8));
                try {
                    verdict = verifier.verify(Base64.getUrlDecoder().decode(parts[2])) ? "valid" : "invalid";
                } catch (IllegalArgumentException e) {
                    verdict = "encoding";
                } catch (SignatureException e) {
                    verdict = "exception";
                }
            }
            String signed = "-";
            if (b64 != null) {
                String input = protectedPart + "." + b64;
                Signature signer = Signature.getInstance("SHA256withRSA");
                signer.initSign(key);
                signer.update(input.getBytes(StandardCharsets.UTF_8));
                signed = input + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(signer.sign());
            }
            System.out.println(verdict + " " + signed);
        }
    }
}
"#;

const UNICODE_BODY: &str = "{\"event\":\"KC_DEVICE_STATUS_CHANGE\",\"subscriptionId\":\"s\",\"payload\":{\"name\":\"Gerät ✓ 😀\",\"tags\":[\"a\",\"b\"],\"n\":-0.5,\"big\":12345678901234567890}}";

/// The differential table: (input class, Samsung's verdict, hookwarden's verdict, why they
/// differ). The reason is empty exactly when both accept or both refuse.
#[rustfmt::skip]
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    // JOSE header: Samsung's verifier signs `parts[0]` verbatim and never decodes it.
    ("Header `{\"alg\":\"RS256\"}` (what Samsung sends)", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}`", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{\"typ\":\"JWT\"}`", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{}`", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{\"alg\":\"rs256\"}`", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{\"alg\":\"RSA256\"}`", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{\"x5t\":\"…\"}`", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{\"alg\":\"none\"}`, valid RS256 signature", "accepts", "accepts (canonical-padded)", ""),
    ("Header `{\"alg\":\"HS256\"}`, valid RS256 signature", "accepts", "accepts (canonical-padded)", ""),
    ("Header base64url of `not json`", "accepts", "accepts (canonical-padded)", ""),
    ("Header base64url with `=` padding", "accepts", "accepts (canonical-padded)", ""),
    ("Header not base64url (`{\"alg\":\"RS256\"}` as is)", "accepts", "accepts (canonical-padded)", ""),
    ("Header empty (`.payload.signature`)", "accepts", "accepts (canonical-padded)", ""),
    ("Header changed after signing (`{\"alg\":\"none\"}`)", "refuses: signature does not match", "refuses 401: signature does not match", ""),
    ("Header `{\"alg\":\"none\"}`, empty signature", "refuses: not 3 parts", "refuses 400: 2 parts", ""),
    ("Header `{\"alg\":\"HS256\"}`, HMAC keyed with the certificate", "refuses: SignatureException (length)", "refuses 401: signature length", ""),
    ("Header and signature over 16 KiB, validly signed", "accepts", "refuses 400: JOSE header and signature over 16 KiB", "bounds the bytes hashed and decoded before authentication; Samsung's header is 20 bytes"),
    // Signature encoding.
    ("Signature base64url with `=` padding", "accepts", "accepts (canonical-padded)", ""),
    ("Signature base64url with non-zero trailing bits", "accepts", "accepts (canonical-padded)", ""),
    ("Signature in the standard alphabet (`+`, `/`)", "refuses: signature not base64url", "refuses 400: signature not base64url", ""),
    ("Signature one byte short", "refuses: SignatureException (length)", "refuses 401: signature length", ""),
    ("Signature of the right length, wrong bytes", "refuses: signature does not match", "refuses 401: signature does not match", ""),
    // How the header splits (Java's `split("\\.")`).
    ("Split: one trailing dot", "accepts", "accepts (canonical-padded)", ""),
    ("Split: three trailing dots", "accepts", "accepts (canonical-padded)", ""),
    ("Split: empty payload part", "accepts", "accepts (canonical-padded)", ""),
    ("Split: payload part not the body", "accepts", "accepts (canonical-padded)", ""),
    ("Split: four parts", "refuses: not 3 parts", "refuses 400: 4 parts", ""),
    ("Split: two parts", "refuses: not 3 parts", "refuses 400: 2 parts", ""),
    // Body.
    ("Body pretty-printed, keys in another order", "accepts", "accepts (canonical-padded)", ""),
    ("Body with a UTF-8 byte-order mark", "accepts", "accepts (canonical-padded)", ""),
    ("Body with trailing whitespace", "accepts", "accepts (canonical-padded)", ""),
    ("Body with unicode and a 20-digit integer", "accepts", "accepts (canonical-padded)", ""),
    ("Body with `1e400`", "accepts", "accepts (canonical-padded)", ""),
    ("Body with a 1000-digit integer", "accepts", "accepts (canonical-padded)", ""),
    ("Body with a 1001-digit integer", "refuses: Jackson cannot read the body", "refuses 400: number over 1000 digits", ""),
    ("Body nested 1000 deep", "accepts", "accepts (canonical-padded)", ""),
    ("Body nested 1001 deep", "refuses: Jackson cannot read the body", "refuses 400: nested over 1000 deep", ""),
    ("Body with 10,000 top-level keys", "accepts", "accepts (canonical-padded)", ""),
    ("Body with 10,001 top-level keys", "accepts", "refuses 400: over 10,000 top-level keys", "bounds the memory spent before the signature is checked; a callback has a handful of keys"),
    ("Body with a second JSON object after the first", "accepts", "refuses 400: content after the object", "Jackson stops after the first object, so the rest would be stored unauthenticated"),
    ("Body with a duplicate key", "accepts", "refuses 400: duplicate key", "Jackson keeps the last value; which one was meant is ambiguous"),
    ("Body changed under the same signature", "refuses: signature does not match", "refuses 401: signature does not match", ""),
    // What the signature covers besides Samsung's form.
    ("Signed: canonical form, base64url unpadded", "refuses: signature does not match", "accepts (canonical-unpadded)", "RFC 7515 encoding of the same canonical form; derived from the body alone"),
    ("Signed: raw body, base64url padded", "refuses: signature does not match", "accepts (raw-padded)", "the received bytes themselves; derived from the body alone"),
    ("Signed: raw body, base64url unpadded", "refuses: signature does not match", "accepts (raw-unpadded)", "the received bytes themselves; derived from the body alone"),
];

/// Samsung's `X-WSM-SIGNATURE` for a case's body (as the JDK signed it), and the key it used.
struct Samsung<'a> {
    header: &'a str,
    key: &'a RsaSigningKey,
}

impl Samsung<'_> {
    fn part(&self, index: usize) -> &str {
        self.header.split('.').nth(index).unwrap()
    }

    /// `protected.payload.signature`, the signature made over `protected.signed` by Samsung's
    /// key, the payload part Samsung's.
    fn signed_over(&self, protected: &str, signed: &str) -> String {
        let signature = self
            .key
            .sign_pkcs1_sha256(format!("{protected}.{signed}").as_bytes());
        format!(
            "{protected}.{}.{}",
            self.part(1),
            URL_UNPADDED.encode(signature)
        )
    }

    /// What Samsung would send with another JOSE header: `protected` signed verbatim.
    fn with_protected(&self, protected: &str) -> String {
        self.signed_over(protected, self.part(1))
    }

    /// Samsung's header with its signature part replaced.
    fn with_signature(&self, signature: &str) -> String {
        format!("{}.{}.{signature}", self.part(0), self.part(1))
    }

    fn signature_bytes(&self) -> Vec<u8> {
        JAVA_URL_DECODER.decode(self.part(2)).unwrap()
    }
}

type HeaderFn = Box<dyn Fn(&Samsung) -> String>;

struct Case {
    class: &'static str,
    body: Vec<u8>,
    /// Builds `X-WSM-SIGNATURE` from Samsung's header for `body` (for a body the JDK cannot
    /// read, from Samsung's header for [`VECTOR_BODY`]).
    header: HeaderFn,
}

fn case(class: &'static str, body: impl Into<Vec<u8>>, header: HeaderFn) -> Case {
    Case {
        class,
        body: body.into(),
        header,
    }
}

/// As Samsung sends it.
fn as_sent() -> HeaderFn {
    Box::new(|samsung| samsung.header.to_owned())
}

/// With another JOSE header, signed.
fn protected_json(json: &'static str) -> HeaderFn {
    Box::new(move |samsung| samsung.with_protected(&URL_UNPADDED.encode(json)))
}

/// A body around a hostile part, so that it reads as a callback.
fn callback_with(member: &str) -> String {
    format!(r#"{{"event":"KG_DEVICE_LOCKED","subscriptionId":"s","payload":{member}}}"#)
}

fn nested(depth: usize) -> String {
    // The top-level object is level 1.
    callback_with(&format!(
        "{}1{}",
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    ))
}

fn top_level_keys(count: usize) -> String {
    let members: Vec<String> = (0..count).map(|i| format!(r#""k{i}":{i}"#)).collect();
    format!("{{{}}}", members.join(","))
}

fn cases() -> Vec<Case> {
    let canonical = |body: &str| jackson::canonicalize(body.as_bytes()).unwrap();
    vec![
        case(
            "Header `{\"alg\":\"RS256\"}` (what Samsung sends)",
            VECTOR_BODY,
            as_sent(),
        ),
        case(
            "Header `{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}`",
            VECTOR_BODY,
            protected_json(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#),
        ),
        case(
            "Header `{\"typ\":\"JWT\"}`",
            VECTOR_BODY,
            protected_json(r#"{"typ":"JWT"}"#),
        ),
        case("Header `{}`", VECTOR_BODY, protected_json("{}")),
        case(
            "Header `{\"alg\":\"rs256\"}`",
            VECTOR_BODY,
            protected_json(r#"{"alg":"rs256"}"#),
        ),
        case(
            "Header `{\"alg\":\"RSA256\"}`",
            VECTOR_BODY,
            protected_json(r#"{"alg":"RSA256"}"#),
        ),
        case(
            "Header `{\"x5t\":\"…\"}`",
            VECTOR_BODY,
            protected_json(r#"{"x5t":"NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg"}"#),
        ),
        case(
            "Header `{\"alg\":\"none\"}`, valid RS256 signature",
            VECTOR_BODY,
            protected_json(r#"{"alg":"none"}"#),
        ),
        case(
            "Header `{\"alg\":\"HS256\"}`, valid RS256 signature",
            VECTOR_BODY,
            protected_json(r#"{"alg":"HS256"}"#),
        ),
        case(
            "Header base64url of `not json`",
            VECTOR_BODY,
            protected_json("not json"),
        ),
        case(
            "Header base64url with `=` padding",
            VECTOR_BODY,
            Box::new(|samsung| {
                let padded = URL_PADDED.encode(r#"{"alg":"RS256" }"#);
                assert!(padded.ends_with('='));
                samsung.with_protected(&padded)
            }),
        ),
        case(
            "Header not base64url (`{\"alg\":\"RS256\"}` as is)",
            VECTOR_BODY,
            Box::new(|samsung| samsung.with_protected(r#"{"alg":"RS256"}"#)),
        ),
        case(
            "Header empty (`.payload.signature`)",
            VECTOR_BODY,
            Box::new(|samsung| samsung.with_protected("")),
        ),
        case(
            "Header changed after signing (`{\"alg\":\"none\"}`)",
            VECTOR_BODY,
            Box::new(|samsung| {
                let none = URL_UNPADDED.encode(r#"{"alg":"none"}"#);
                format!("{none}.{}.{}", samsung.part(1), samsung.part(2))
            }),
        ),
        case(
            "Header `{\"alg\":\"none\"}`, empty signature",
            VECTOR_BODY,
            Box::new(|samsung| {
                let none = URL_UNPADDED.encode(r#"{"alg":"none"}"#);
                format!("{none}.{}.", samsung.part(1))
            }),
        ),
        case(
            "Header `{\"alg\":\"HS256\"}`, HMAC keyed with the certificate",
            VECTOR_BODY,
            Box::new(|samsung| {
                let hs256 = URL_UNPADDED.encode(r#"{"alg":"HS256"}"#);
                let input = format!("{hs256}.{}", samsung.part(1));
                let mac = hookwarden_verify::scalefusion::sign(
                    shared_anchor().certificate_pem.as_bytes(),
                    input.as_bytes(),
                );
                let mac = hex::decode(mac).unwrap();
                format!("{input}.{}", URL_UNPADDED.encode(mac))
            }),
        ),
        case(
            "Header and signature over 16 KiB, validly signed",
            VECTOR_BODY,
            Box::new(|samsung| {
                let filler = "y".repeat(knox::MAX_SIGNATURE_HEADER_LEN);
                samsung.with_protected(
                    &URL_UNPADDED.encode(format!(r#"{{"alg":"RS256","x":"{filler}"}}"#)),
                )
            }),
        ),
        case(
            "Signature base64url with `=` padding",
            VECTOR_BODY,
            Box::new(|samsung| {
                samsung.with_signature(&URL_PADDED.encode(samsung.signature_bytes()))
            }),
        ),
        case(
            "Signature base64url with non-zero trailing bits",
            VECTOR_BODY,
            Box::new(|samsung| {
                // 256 bytes are 341 characters and 2 bits: the last character's low 4 bits
                // are unused, and java.util.Base64 ignores them.
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let mut signature = samsung.part(2).to_owned();
                assert_eq!(signature.len(), 342);
                let last = signature.pop().unwrap();
                let index = ALPHABET.iter().position(|&c| c == last as u8).unwrap();
                assert_eq!(index & 0x0f, 0);
                signature.push(char::from(ALPHABET[index | 0x0f]));
                samsung.with_signature(&signature)
            }),
        ),
        case(
            "Signature in the standard alphabet (`+`, `/`)",
            VECTOR_BODY,
            Box::new(|samsung| {
                let signature = samsung.part(2);
                // Each of the 342 characters is `-` or `_` with probability 1/32.
                assert!(
                    signature.contains(['-', '_']),
                    "this signature reads the same in both alphabets; run again: {signature}"
                );
                samsung.with_signature(&signature.replace('-', "+").replace('_', "/"))
            }),
        ),
        case(
            "Signature one byte short",
            VECTOR_BODY,
            Box::new(|samsung| {
                samsung.with_signature(&URL_UNPADDED.encode(&samsung.signature_bytes()[1..]))
            }),
        ),
        case(
            "Signature of the right length, wrong bytes",
            VECTOR_BODY,
            Box::new(|samsung| samsung.with_signature(&URL_UNPADDED.encode([7u8; 256]))),
        ),
        case(
            "Split: one trailing dot",
            VECTOR_BODY,
            Box::new(|samsung| format!("{}.", samsung.header)),
        ),
        case(
            "Split: three trailing dots",
            VECTOR_BODY,
            Box::new(|samsung| format!("{}...", samsung.header)),
        ),
        case(
            "Split: empty payload part",
            VECTOR_BODY,
            Box::new(|samsung| format!("{}..{}", samsung.part(0), samsung.part(2))),
        ),
        case(
            "Split: payload part not the body",
            VECTOR_BODY,
            Box::new(|samsung| format!("{}.ignored.{}", samsung.part(0), samsung.part(2))),
        ),
        case(
            "Split: four parts",
            VECTOR_BODY,
            Box::new(|samsung| format!("{}.extra", samsung.header)),
        ),
        case(
            "Split: two parts",
            VECTOR_BODY,
            Box::new(|samsung| format!("{}.{}", samsung.part(0), samsung.part(2))),
        ),
        case(
            "Body pretty-printed, keys in another order",
            PRETTY_BODY,
            as_sent(),
        ),
        case(
            "Body with a UTF-8 byte-order mark",
            format!("\u{feff}{VECTOR_BODY}"),
            as_sent(),
        ),
        case(
            "Body with trailing whitespace",
            format!("{VECTOR_BODY} \r\n\t\n"),
            as_sent(),
        ),
        case(
            "Body with unicode and a 20-digit integer",
            UNICODE_BODY,
            as_sent(),
        ),
        case("Body with `1e400`", callback_with("1e400"), as_sent()),
        case(
            "Body with a 1000-digit integer",
            callback_with(&"7".repeat(1000)),
            as_sent(),
        ),
        case(
            "Body with a 1001-digit integer",
            callback_with(&"7".repeat(1001)),
            as_sent(),
        ),
        case("Body nested 1000 deep", nested(1000), as_sent()),
        case("Body nested 1001 deep", nested(1001), as_sent()),
        case(
            "Body with 10,000 top-level keys",
            top_level_keys(10_000),
            as_sent(),
        ),
        case(
            "Body with 10,001 top-level keys",
            top_level_keys(10_001),
            as_sent(),
        ),
        case(
            "Body with a second JSON object after the first",
            format!(r#"{VECTOR_BODY}{{"event":"KG_DEVICE_UNLOCKED"}}"#),
            as_sent(),
        ),
        case(
            "Body with a duplicate key",
            r#"{"event":"KG_DEVICE_LOCKED","subscriptionId":"s","event":"KG_DEVICE_UNLOCKED"}"#,
            as_sent(),
        ),
        case(
            "Body changed under the same signature",
            VECTOR_BODY.replace("85", "86"),
            Box::new(|_| {
                let original = knox::sign(VECTOR_BODY.as_bytes(), &shared_anchor().signing_key);
                original.unwrap()
            }),
        ),
        case(
            "Signed: canonical form, base64url unpadded",
            VECTOR_BODY,
            Box::new(move |samsung| {
                let canonical = canonical(VECTOR_BODY);
                assert_ne!(canonical.len() % 3, 0);
                samsung.signed_over(samsung.part(0), &URL_UNPADDED.encode(canonical))
            }),
        ),
        case(
            "Signed: raw body, base64url padded",
            PRETTY_BODY,
            Box::new(|samsung| {
                samsung.signed_over(samsung.part(0), &URL_PADDED.encode(PRETTY_BODY))
            }),
        ),
        case(
            "Signed: raw body, base64url unpadded",
            PRETTY_BODY,
            Box::new(|samsung| {
                assert_ne!(PRETTY_BODY.len() % 3, 0);
                samsung.signed_over(samsung.part(0), &URL_UNPADDED.encode(PRETTY_BODY))
            }),
        ),
    ]
}

/// Samsung's verdict, from the reference program's output.
fn samsung_verdict(word: &str) -> &'static str {
    match word {
        "valid" => "accepts",
        "invalid" => "refuses: signature does not match",
        // `Signature.verify` throws for a signature whose length is not the key's.
        "exception" => "refuses: SignatureException (length)",
        "encoding" => "refuses: signature not base64url",
        "parts" => "refuses: not 3 parts",
        "body" => "refuses: Jackson cannot read the body",
        other => panic!("unexpected verdict {other}"),
    }
}

/// hookwarden's verdict: the signed form, or the HTTP status and the reason.
fn hookwarden_verdict(result: &Result<knox::Verified, KnoxError>) -> String {
    let err = match result {
        Ok(verified) => return format!("accepts ({})", verified.form.as_str()),
        Err(err) => err,
    };
    let status = match err.kind() {
        RejectKind::Malformed => 400,
        RejectKind::Forged | RejectKind::Stale => 401,
        RejectKind::NoUsableKey => 503,
    };
    let reason = match err {
        KnoxError::HeaderTooLong { .. } => "JOSE header and signature over 16 KiB".to_owned(),
        KnoxError::PartCount { parts } => format!("{parts} parts"),
        KnoxError::SignatureEncoding => "signature not base64url".to_owned(),
        KnoxError::Body(body) => match body {
            CanonicalError::DuplicateKey { .. } => "duplicate key".to_owned(),
            CanonicalError::TrailingContent { .. } => "content after the object".to_owned(),
            CanonicalError::TooManyKeys { .. } => "over 10,000 top-level keys".to_owned(),
            CanonicalError::TooDeep { .. } => "nested over 1000 deep".to_owned(),
            CanonicalError::NumberTooLong { .. } => "number over 1000 digits".to_owned(),
            other => format!("body: {other}"),
        },
        KnoxError::SignatureLength { .. } => "signature length".to_owned(),
        KnoxError::BadSignature => "signature does not match".to_owned(),
        other => other.to_string(),
    };
    format!("refuses {status}: {reason}")
}

/// Runs [`REFERENCE`] over `dir`'s `body-i` and `header-i`: per case, Samsung's verdict and
/// Samsung's header for the body (`None` when Jackson cannot read it).
fn run_reference(dir: &Path, count: usize) -> Vec<(&'static str, Option<String>)> {
    let source = dir.join("KnoxReference.java");
    std::fs::write(&source, REFERENCE).unwrap();
    let output = Command::new("java")
        .arg("-cp")
        .arg(JACKSON_JARS.join(":"))
        .arg(&source)
        .arg(dir)
        .arg(count.to_string())
        .output()
        .expect("a JDK must be installed (apt-get install default-jdk-headless)");
    assert!(
        output.status.success(),
        "java failed (is libjackson2-databind-java installed?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<(&'static str, Option<String>)> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (verdict, header) = line.split_once(' ').unwrap();
            let header = (header != "-").then(|| header.to_owned());
            (samsung_verdict(verdict), header)
        })
        .collect();
    assert_eq!(lines.len(), count);
    lines
}

fn write_case_files(dir: &Path, cases: &[Case], headers: &[String]) {
    for (i, (case, header)) in cases.iter().zip(headers).enumerate() {
        std::fs::write(dir.join(format!("body-{i}")), &case.body).unwrap();
        std::fs::write(dir.join(format!("header-{i}")), header).unwrap();
    }
}

/// The table as Markdown, for docs/providers/knox.md.
fn markdown(rows: &[(String, String, String, String)]) -> String {
    let mut table = String::from(
        "| Input | Samsung's verifier | hookwarden | Why they differ |\n|---|---|---|---|\n",
    );
    for (class, samsung, ours, reason) in rows {
        table.push_str(&format!("| {class} | {samsung} | {ours} | {reason} |\n"));
    }
    table
}

fn accepts(verdict: &str) -> bool {
    verdict.starts_with("accepts")
}

#[test]
fn verdicts_match_the_differential_table() {
    let anchor = shared_anchor();
    let anchors = std::slice::from_ref(&anchor.certificate);
    let cases = cases();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), &anchor.certificate_pem).unwrap();
    std::fs::write(dir.path().join("key.der"), &anchor.private_key_der).unwrap();

    // First run: Samsung's header for each body. Second run: the verdicts on each case's header.
    let placeholders = vec!["x.y.z".to_owned(); cases.len()];
    write_case_files(dir.path(), &cases, &placeholders);
    let signed = run_reference(dir.path(), cases.len());
    let vector = knox::sign(VECTOR_BODY.as_bytes(), &anchor.signing_key).unwrap();
    let headers: Vec<String> = cases
        .iter()
        .zip(&signed)
        .map(|(case, (_, samsung))| {
            (case.header)(&Samsung {
                header: samsung.as_deref().unwrap_or(&vector),
                key: &anchor.signing_key,
            })
        })
        .collect();
    write_case_files(dir.path(), &cases, &headers);
    let verdicts = run_reference(dir.path(), cases.len());

    let mut observed = Vec::new();
    for ((case, header), (samsung, java_header)) in cases.iter().zip(&headers).zip(verdicts) {
        let ours = hookwarden_verdict(&knox::verify(&case.body, header, anchors, NOW));
        observed.push((case.class.to_owned(), samsung.to_owned(), ours));

        // What Java signs, we verify; and we sign byte-identically (PKCS#1 v1.5 is
        // deterministic). Bodies we refuse are in the table.
        if let (Some(java_header), Ok(_)) = (java_header, jackson::canonicalize(&case.body)) {
            let verified = knox::verify(&case.body, &java_header, anchors, NOW)
                .unwrap_or_else(|e| panic!("{}: Java-signed header rejected: {e}", case.class));
            assert_eq!(verified.form, SignedForm::CanonicalPadded);
            assert_eq!(
                java_header,
                knox::sign(&case.body, &anchor.signing_key).unwrap(),
                "{}",
                case.class
            );
        }
    }

    let reason_of = |class: &str| {
        EXPECTED
            .iter()
            .find(|row| row.0 == class)
            .map_or("NOT IN THE TABLE", |row| row.3)
    };
    let rows: Vec<(String, String, String, String)> = observed
        .iter()
        .map(|(class, samsung, ours)| {
            let reason = reason_of(class).to_owned();
            (class.clone(), samsung.clone(), ours.clone(), reason)
        })
        .collect();
    println!("{}", markdown(&rows));

    let expected: Vec<(String, String, String)> = EXPECTED
        .iter()
        .map(|(class, samsung, ours, _)| (class.to_string(), samsung.to_string(), ours.to_string()))
        .collect();
    let differences: Vec<String> = observed
        .iter()
        .zip(&expected)
        .filter(|(seen, want)| seen != want)
        .map(|(seen, want)| format!("observed {seen:?}\n  table {want:?}"))
        .collect();
    assert!(
        differences.is_empty() && observed.len() == expected.len(),
        "verdicts differ from the table ({} observed, {} in the table):\n{}",
        observed.len(),
        expected.len(),
        differences.join("\n")
    );
    for (class, samsung, ours, reason) in EXPECTED {
        assert_eq!(
            reason.is_empty(),
            accepts(samsung) == accepts(ours),
            "{class}: a reason is given exactly for a difference"
        );
    }
}
