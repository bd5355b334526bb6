//! AWS Signature Version 4 (header form) for the requests hookwarden makes, by the AWS SDK's
//! own signer (`aws-sigv4`): no query strings, paths already URI-encoded once, every header
//! the request carries signed except those the SDK leaves out (`x-amzn-trace-id`).
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv_create-signed-request.html>

use std::fmt::Write as _;
use std::time::SystemTime;

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use sha2::{Digest, Sha256};

/// An access key. No `Clone` of the secret parts; `Debug` names the key id only.
pub struct Credentials {
    access_key_id: String,
    /// The SDK's credentials type keeps the secret parts zeroized on drop and redacted.
    inner: aws_credential_types::Credentials,
}

impl Credentials {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        let access_key_id = access_key_id.into();
        let inner = aws_credential_types::Credentials::new(
            access_key_id.clone(),
            secret_access_key.into(),
            session_token,
            None,
            "environment",
        );
        Self {
            access_key_id,
            inner,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.inner.session_token().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What is signed: `url` is the request's URL exactly as sent (path encoded once), `headers`
/// every header sent besides those the signer adds (names lowercase, `host` among them),
/// `payload_sha256` the body's SHA-256 in lowercase hex.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub payload_sha256: &'a str,
}

/// The headers to add to `request` to sign it at `time` for `service` in `region`:
/// `x-amz-date`, `x-amz-security-token` (temporary credentials), `x-amz-content-sha256`
/// (S3, which checks the body against it) and `authorization`.
pub fn sign_headers(
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    request: &Request<'_>,
) -> Result<Vec<(&'static str, String)>, String> {
    let mut settings = SigningSettings::default();
    if service == "s3" {
        // S3's rules: the path as sent (encoded once, not normalized), the payload hash sent.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let identity = credentials.inner.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|err| err.to_string())?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Precomputed(request.payload_sha256.to_string()),
    )
    .map_err(|err| err.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|err| err.to_string())?
        .into_parts();
    let (headers, _) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|header| (header.name(), header.value().to_string()))
        .collect())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600);
        let headers = sign_headers(
            &credentials,
            "us-east-1",
            "s3",
            time,
            &Request {
                method: "GET",
                url: "https://examplebucket.s3.amazonaws.com/test.txt",
                headers: &[
                    ("range", "bytes=0-9"),
                    ("host", "examplebucket.s3.amazonaws.com"),
                ],
                payload_sha256: EMPTY_SHA256,
            },
        )
        .unwrap();
        let header = |name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-amz-date"), Some("20130524T000000Z"));
        assert_eq!(header("x-amz-content-sha256"), Some(EMPTY_SHA256));
        assert_eq!(header("x-amz-security-token"), None);
        assert_eq!(
            header("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
                 Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            )
        );
    }

    #[test]
    fn paths_are_encoded_once_with_slashes_kept() {
        let mut out = String::from("/bucket/");
        encode_path(&mut out, "knox/a b/ü+x~y.json");
        assert_eq!(out, "/bucket/knox/a%20b/%C3%BC%2Bx~y.json");
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
