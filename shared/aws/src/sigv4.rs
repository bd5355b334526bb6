//! AWS Signature Version 4 (header form) for the requests hookwarden makes: no query strings,
//! paths already URI-encoded once, every header the request carries signed.
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv_create-signed-request.html>

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key. No `Clone` or `Debug` of the secret parts; `Debug` names the key id only.
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

impl Credentials {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: session_token.map(Zeroizing::new),
        }
    }

    /// The `x-amz-security-token` value of temporary credentials (Lambda's are).
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref().map(String::as_str)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What is signed: `headers` are every header sent (names lowercase, `host` and `x-amz-date`
/// among them), `path` is the request path exactly as sent.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub payload_sha256: &'a str,
}

/// The `Authorization` header value for `request`, made at `amz_date` (`YYYYMMDDTHHMMSSZ`,
/// the request's `x-amz-date`) for `service` in `region`.
pub fn authorization(
    credentials: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
    request: &Request<'_>,
) -> String {
    let mut headers: Vec<(&str, &str)> = request.headers.to_vec();
    headers.sort_unstable_by_key(|(name, _)| *name);
    let signed_headers = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = String::with_capacity(512);
    let _ = write!(canonical, "{}\n{}\n\n", request.method, request.path);
    for (name, value) in &headers {
        let _ = writeln!(canonical, "{name}:{}", trim_value(value));
    }
    let _ = write!(canonical, "\n{signed_headers}\n{}", request.payload_sha256);

    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let secret = Zeroizing::new(format!("AWS4{}", credentials.secret_access_key.as_str()));
    let key = [date, region, service, "aws4_request"]
        .iter()
        .fold(Zeroizing::new(secret.as_bytes().to_vec()), |key, part| {
            Zeroizing::new(hmac(&key, part.as_bytes()).to_vec())
        });
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    )
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Leading and trailing spaces removed, inner runs of spaces made one.
fn trim_value(value: &str) -> std::borrow::Cow<'_, str> {
    let value = value.trim();
    if !value.contains("  ") {
        return value.into();
    }
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .into()
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Appends `key` to `out` as S3 signs it: each byte outside RFC 3986's unreserved set
/// percent-encoded, `/` kept, encoded once.
pub fn encode_path(out: &mut String, key: &str) {
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// The GET Object example of Amazon S3's "Signature Calculations for the Authorization
    /// Header" page.
    #[test]
    fn the_s3_documentation_example() {
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
        );
        let value = authorization(
            &credentials,
            "us-east-1",
            "s3",
            "20130524T000000Z",
            &Request {
                method: "GET",
                path: "/test.txt",
                headers: &[
                    ("range", "bytes=0-9"),
                    ("host", "examplebucket.s3.amazonaws.com"),
                    ("x-amz-date", "20130524T000000Z"),
                    ("x-amz-content-sha256", EMPTY_SHA256),
                ],
                payload_sha256: EMPTY_SHA256,
            },
        );
        assert_eq!(
            value,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn paths_are_encoded_once_with_slashes_kept() {
        let mut out = String::from("/bucket/");
        encode_path(&mut out, "knox/a b/ü+x~y.json");
        assert_eq!(out, "/bucket/knox/a%20b/%C3%BC%2Bx~y.json");
    }

    #[test]
    fn header_values_are_trimmed() {
        assert_eq!(trim_value("  a   b c "), "a b c");
        assert_eq!(trim_value("plain"), "plain");
    }

    #[test]
    fn debug_hides_the_secret_parts() {
        let credentials = Credentials::new("AKID", "very-secret", Some("token-secret".into()));
        let shown = format!("{credentials:?}");
        assert!(shown.contains("AKID"), "{shown}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("token-secret"),
            "{shown}"
        );
    }
}
