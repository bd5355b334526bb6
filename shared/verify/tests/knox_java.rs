//! Differential test against Samsung's reference verification steps run on the real JDK with
//! Jackson (protocols.md §1.3): the same headers must get the same verdicts, except where
//! hookwarden deliberately differs (it also checks `alg`, and accepts the other body forms).
//! Needs `java` and Debian's libjackson2-databind-java (`.ci/run` installs both).

mod knox_fixture;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use hookwarden_verify::encoding::{JAVA_URL_DECODER, URL_PADDED, URL_UNPADDED};
use hookwarden_verify::knox::{self, KnoxError, SignedForm};
use knox_fixture::{shared_anchor, NOW};

const JACKSON_JARS: [&str; 3] = [
    "/usr/share/java/jackson-databind.jar",
    "/usr/share/java/jackson-core.jar",
    "/usr/share/java/jackson-annotations.jar",
];

/// For case i: verify `header-i` over `body-i` exactly as Samsung's sample does (split, Jackson
/// `readValue(HashMap)`/`writeValueAsString`, padded URL base64, `SHA256withRSA`), then sign
/// `body-i` the way Samsung does. Prints `<verdict> <java header>` per case.
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

    static String signingInput(String protectedPart, byte[] body) throws Exception {
        String canonical = MAPPER.writeValueAsString(MAPPER.readValue(body, HashMap.class));
        return protectedPart + "." + Base64.getUrlEncoder()
            .encodeToString(canonical.getBytes(StandardCharsets.UTF_8));
    }

    public static void main(String[] args) throws Exception {
        Path dir = Paths.get(args[0]);
        X509Certificate cert;
        try (var in = Files.newInputStream(dir.resolve("cert.pem"))) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        PrivateKey key = KeyFactory.getInstance("RSA")
            .generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(dir.resolve("key.der"))));
        int count = Integer.parseInt(args[1]);
        for (int i = 0; i < count; i++) {
            byte[] body = Files.readAllBytes(dir.resolve("body-" + i));
            String[] parts = Files.readString(dir.resolve("header-" + i)).split("\\.");
            String verdict;
            if (parts.length != 3) {
                verdict = "parts";
            } else {
                Signature verifier = Signature.getInstance("SHA256withRSA");
                verifier.initVerify(cert.getPublicKey());
                verifier.update(signingInput(parts[0], body).getBytes(StandardCharsets.UTF_8));
                try {
                    verdict = verifier.verify(Base64.getUrlDecoder().decode(parts[2])) ? "valid" : "invalid";
                } catch (SignatureException e) {
                    verdict = "exception";
                }
            }
            String protectedPart = Base64.getUrlEncoder().withoutPadding()
                .encodeToString("{\"alg\":\"RS256\"}".getBytes(StandardCharsets.UTF_8));
            String input = signingInput(protectedPart, body);
            Signature signer = Signature.getInstance("SHA256withRSA");
            signer.initSign(key);
            signer.update(input.getBytes(StandardCharsets.UTF_8));
            System.out.println(verdict + " " + input + "."
                + Base64.getUrlEncoder().withoutPadding().encodeToString(signer.sign()));
        }
    }
}
"#;

const VECTOR_BODY: &str = r#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.70E12,"ratio":1.10,"note":"a/b\u001f"}}"#;
const PRETTY_BODY: &str = "{\n  \"event\": \"KG_DEVICE_LOCKED\",\n  \"subscriptionId\": \"sub-1\",\n  \"payload\": {\"imei\": \"356938035643809\", \"ratio\": 1.10}\n}\n";
const UNICODE_BODY: &str = "{\"event\":\"KC_DEVICE_STATUS_CHANGE\",\"subscriptionId\":\"s\",\"payload\":{\"name\":\"Gerät ✓ 😀\",\"tags\":[\"a\",\"b\"],\"n\":-0.5,\"big\":12345678901234567890}}";

/// What Samsung's verifier says about a header.
#[derive(Debug, PartialEq)]
enum Java {
    Valid,
    Invalid,
    /// `Signature.verify` threw (wrong signature length).
    Exception,
    /// Not 3 parts after `split("\\.")`.
    Parts,
}

struct Case {
    name: &'static str,
    body: String,
    header: String,
    java: Java,
    /// `Ok(form)` or the error hookwarden must return.
    ours: Result<SignedForm, fn(&KnoxError) -> bool>,
}

fn run_reference(dir: &Path, count: usize) -> Vec<(Java, String)> {
    std::fs::write(dir.join("KnoxReference.java"), REFERENCE).unwrap();
    let output = Command::new("java")
        .arg("-cp")
        .arg(JACKSON_JARS.join(":"))
        .arg(dir.join("KnoxReference.java"))
        .arg(dir)
        .arg(count.to_string())
        .output()
        .expect("a JDK must be installed (apt-get install default-jdk-headless)");
    assert!(
        output.status.success(),
        "java failed (is libjackson2-databind-java installed?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (verdict, header) = line.split_once(' ').unwrap();
            let verdict = match verdict {
                "valid" => Java::Valid,
                "invalid" => Java::Invalid,
                "exception" => Java::Exception,
                "parts" => Java::Parts,
                other => panic!("unexpected verdict {other}"),
            };
            (verdict, header.to_owned())
        })
        .collect()
}

#[test]
fn verdicts_agree_with_samsungs_reference_verifier() {
    let anchor = shared_anchor();
    let sign = |body: &str| knox::sign(body.as_bytes(), &anchor.signing_key).unwrap();
    let vector_header = sign(VECTOR_BODY);
    let (vector_signed, vector_signature) = vector_header.rsplit_once('.').unwrap();
    let signature_bytes = JAVA_URL_DECODER.decode(vector_signature).unwrap();
    let alg_none = URL_UNPADDED.encode(r#"{"alg":"none"}"#);
    let alg_none_input = format!("{alg_none}.{}", vector_signed.split_once('.').unwrap().1);
    let raw_input = format!(
        "{}.{}",
        vector_signed.split_once('.').unwrap().0,
        URL_PADDED.encode(PRETTY_BODY)
    );
    let signed_over = |input: &str| {
        format!(
            "{input}.{}",
            URL_UNPADDED.encode(anchor.signing_key.sign_pkcs1_sha256(input.as_bytes()))
        )
    };

    let cases = vec![
        Case {
            name: "vector",
            body: VECTOR_BODY.into(),
            header: vector_header.clone(),
            java: Java::Valid,
            ours: Ok(SignedForm::CanonicalPadded),
        },
        Case {
            name: "pretty-printed body",
            body: PRETTY_BODY.into(),
            header: sign(PRETTY_BODY),
            java: Java::Valid,
            ours: Ok(SignedForm::CanonicalPadded),
        },
        Case {
            name: "unicode and big numbers",
            body: UNICODE_BODY.into(),
            header: sign(UNICODE_BODY),
            java: Java::Valid,
            ours: Ok(SignedForm::CanonicalPadded),
        },
        Case {
            name: "trailing dots",
            body: VECTOR_BODY.into(),
            header: format!("{vector_header}.."),
            java: Java::Valid,
            ours: Ok(SignedForm::CanonicalPadded),
        },
        Case {
            name: "padded signature",
            body: VECTOR_BODY.into(),
            header: format!("{vector_signed}.{}", URL_PADDED.encode(&signature_bytes)),
            java: Java::Valid,
            ours: Ok(SignedForm::CanonicalPadded),
        },
        Case {
            name: "changed value",
            body: VECTOR_BODY.replace("85", "86"),
            header: vector_header.clone(),
            java: Java::Invalid,
            ours: Err(|e| matches!(e, KnoxError::BadSignature)),
        },
        Case {
            name: "same-length wrong signature",
            body: VECTOR_BODY.into(),
            header: format!("{vector_signed}.{}", URL_UNPADDED.encode([7u8; 256])),
            java: Java::Invalid,
            ours: Err(|e| matches!(e, KnoxError::BadSignature)),
        },
        Case {
            name: "truncated signature",
            body: VECTOR_BODY.into(),
            header: format!(
                "{vector_signed}.{}",
                URL_UNPADDED.encode(&signature_bytes[1..])
            ),
            java: Java::Exception,
            ours: Err(|e| matches!(e, KnoxError::SignatureLength { actual: 255 })),
        },
        Case {
            name: "two parts",
            body: VECTOR_BODY.into(),
            header: format!(
                "{}.{vector_signature}",
                vector_signed.split_once('.').unwrap().0
            ),
            java: Java::Parts,
            ours: Err(|e| matches!(e, KnoxError::PartCount { parts: 2 })),
        },
        // Deliberate differences. The reference never reads `alg`; we refuse anything but RS256.
        Case {
            name: "alg none, validly signed",
            body: VECTOR_BODY.into(),
            header: signed_over(&alg_none_input),
            java: Java::Valid,
            ours: Err(|e| matches!(e, KnoxError::UnsupportedAlgorithm)),
        },
        // The reference only knows the canonical padded form; we also take the raw body.
        Case {
            name: "raw body form",
            body: PRETTY_BODY.into(),
            header: signed_over(&raw_input),
            java: Java::Invalid,
            ours: Ok(SignedForm::RawPadded),
        },
    ];

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), &anchor.certificate_pem).unwrap();
    std::fs::write(dir.path().join("key.der"), &anchor.private_key_der).unwrap();
    for (i, case) in cases.iter().enumerate() {
        std::fs::write(dir.path().join(format!("body-{i}")), &case.body).unwrap();
        std::fs::write(dir.path().join(format!("header-{i}")), &case.header).unwrap();
    }
    let reference = run_reference(dir.path(), cases.len());
    assert_eq!(reference.len(), cases.len());

    let anchors = std::slice::from_ref(&anchor.certificate);
    for (case, (java, java_header)) in cases.iter().zip(reference) {
        assert_eq!(java, case.java, "{}: Java's verdict", case.name);
        let ours = knox::verify(case.body.as_bytes(), &case.header, anchors, NOW);
        match (&case.ours, &ours) {
            (Ok(form), Ok(verified)) => assert_eq!(verified.form, *form, "{}", case.name),
            (Err(expected), Err(err)) => assert!(expected(err), "{}: {err}", case.name),
            _ => panic!(
                "{}: expected {:?}, got {ours:?}",
                case.name,
                case.ours.as_ref().ok()
            ),
        }

        // What Java signs, we verify; and we sign byte-identically (PKCS#1 v1.5 is deterministic).
        let verified = knox::verify(case.body.as_bytes(), &java_header, anchors, NOW)
            .unwrap_or_else(|e| panic!("{}: Java-signed header rejected: {e}", case.name));
        assert_eq!(verified.form, SignedForm::CanonicalPadded);
        assert_eq!(java_header, sign(&case.body), "{}", case.name);
    }
}
