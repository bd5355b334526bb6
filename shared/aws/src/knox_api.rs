//! Downloads the Samsung Knox validation certificate from the Knox cloud API: an OAuth 2.0
//! client-credentials token from `POST {base_url}/ams/v1/oauth2/token`, then
//! `GET {base_url}{certificate_path}` with it.
//!
//! Samsung documents the operation only as `GET /downloadCertificate` (its API viewer is not
//! readable here); the full path, the scope it needs and the response format are unconfirmed.
//! The default path follows the other Knox Webhook Notification operations
//! (`/kwn/v1/subscriptions`), and the credentials secret can override base URL, scope and path,
//! so an operator corrects them without a rebuild. The response may be PEM, DER, base64 DER
//! text, or JSON holding one of those; each is handed on as PEM or DER.
//!
//! The credentials secret (`KNOX_API_SECRET_ID`) is JSON:
//! ```json
//! {
//!   "client_id": "…", "client_secret": "…",
//!   "base_url": "https://api.samsungknox.com",
//!   "scope": "…",
//!   "certificate_path": "/kwn/v1/downloadCertificate"
//! }
//! ```
//! `base_url` defaults to [`DEFAULT_BASE_URL`], `certificate_path` to
//! [`DEFAULT_CERTIFICATE_PATH`]; without `scope` none is requested and the token carries the
//! scopes granted to the client in the Knox portal.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hookwarden_pipeline::ports::{CertificateFetcher, DependencyError, SecretSource, SecretStage};
use hookwarden_verify::encoding;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::StatusCode;
use serde::Deserialize;
use zeroize::{Zeroize as _, Zeroizing};

use crate::https::{self, HttpsClient};

const DEPENDENCY: &str = "knox-api";
pub const DEFAULT_BASE_URL: &str = "https://api.samsungknox.com";
pub const DEFAULT_CERTIFICATE_PATH: &str = "/kwn/v1/downloadCertificate";
const TOKEN_PATH: &str = "/ams/v1/oauth2/token";
const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";
/// A certificate is a few KiB; anything much larger is not one.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// A DER certificate starts with a SEQUENCE tag.
const DER_SEQUENCE: u8 = 0x30;
/// Redirects followed on the certificate download (a download may be handed to a file host).
const MAX_REDIRECTS: usize = 3;

pub struct KnoxApi {
    credentials: Arc<dyn SecretSource>,
    timeout: Duration,
    /// Built on first download: the TLS setup is not worth paying at every cold start, and
    /// most cold starts find the certificate in S3.
    http: OnceLock<HttpsClient>,
}

/// An answer read whole: status, `Content-Type` and `Location`, body.
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

/// The credentials secret. No `Debug`: it holds the client secret.
#[derive(Deserialize)]
struct Credentials {
    client_id: String,
    client_secret: String,
    base_url: Option<String>,
    scope: Option<String>,
    certificate_path: Option<String>,
}

impl Drop for Credentials {
    fn drop(&mut self) {
        self.client_secret.zeroize();
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

impl KnoxApi {
    /// `credentials` yields the JSON secret described in the module docs; `timeout` bounds
    /// each HTTP call.
    pub fn new(credentials: Arc<dyn SecretSource>, timeout: Duration) -> Self {
        Self {
            credentials,
            timeout,
            http: OnceLock::new(),
        }
    }

    /// Sends `request` to `url` and reads the answer, all within the timeout.
    async fn exchange(
        &self,
        url: &str,
        request: http::request::Builder,
        body: Bytes,
    ) -> Result<Answer, DependencyError> {
        let request = request.uri(url).body(body.into());
        let url = shown(url);
        let request = request.map_err(|err| {
            DependencyError::new(DEPENDENCY, format_args!("{url} is not a usable URL: {err}"))
        })?;
        let http = self.http.get_or_init(|| HttpsClient::new(self.timeout));
        let exchange = async {
            let response = http.send(request).await?;
            let header = |name| {
                let value = response.headers().get(name)?.to_str().ok()?;
                Some(value.to_string())
            };
            let (status, content_type, location) =
                (response.status(), header(CONTENT_TYPE), header(LOCATION));
            let body = https::read_limited(response, MAX_RESPONSE_BYTES).await?;
            Ok::<_, String>((status, content_type, location, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{url} timed out after {:?}", self.timeout),
            )),
            Ok(Err(detail)) => Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{url} failed: {detail}"),
            )),
            Ok(Ok((_, _, _, None))) => Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{url} answered more than {MAX_RESPONSE_BYTES} bytes"),
            )),
            Ok(Ok((status, content_type, location, Some(body)))) => Ok(Answer {
                status,
                content_type,
                location,
                body,
            }),
        }
    }

    async fn credentials(&self) -> Result<Credentials, DependencyError> {
        let secret = self
            .credentials
            .fetch(SecretStage::Current)
            .await?
            .ok_or_else(|| {
                DependencyError::new(
                    DEPENDENCY,
                    "the Knox API credentials secret has no AWSCURRENT version",
                )
            })?;
        // serde_json's messages can quote the input; report the position only.
        serde_json::from_str(&secret.text).map_err(|err| {
            DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "the Knox API credentials secret (version {}) is not a JSON object with string fields \
                     client_id and client_secret (and optional base_url, scope, certificate_path): \
                     problem at line {} column {}",
                    secret.version_id,
                    err.line(),
                    err.column()
                ),
            )
        })
    }

    async fn token(
        &self,
        base_url: &str,
        credentials: &Credentials,
    ) -> Result<Zeroizing<String>, DependencyError> {
        let url = format!("{base_url}{TOKEN_PATH}");
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &credentials.client_id)
                .append_pair("client_secret", &credentials.client_secret);
            if let Some(scope) = &credentials.scope {
                form.append_pair("scope", scope);
            }
            Zeroizing::new(form.finish())
        };
        let request = http::Request::post(&url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(CONTENT_LENGTH, form.len());
        // Not followed: a redirect would carry the client secret to wherever it points.
        let answer = self
            .exchange(&url, request, Bytes::copy_from_slice(form.as_bytes()))
            .await?;
        if !answer.status.is_success() {
            let moved = match &answer.location {
                Some(location) if answer.status.is_redirection() => format!(
                    " (a redirect to {}, not followed with the client secret: \
                     set base_url in the Knox API secret to where the API is)",
                    shown(location)
                ),
                _ => oauth_error(&answer.body),
            };
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!("POST {url} answered {}{moved}", answer.status),
            ));
        }
        let body = Zeroizing::new(answer.body);
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            DependencyError::new(
                DEPENDENCY,
                format_args!("POST {url}: no access_token in the JSON answer"),
            )
        })?;
        Ok(Zeroizing::new(token.access_token))
    }
}

#[async_trait]
impl CertificateFetcher for KnoxApi {
    async fn download(&self) -> Result<Vec<u8>, DependencyError> {
        let credentials = self.credentials().await?;
        let base_url = credentials
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        check_base_url(base_url)?;
        let token = self.token(base_url, &credentials).await?;
        let path = credentials
            .certificate_path
            .as_deref()
            .unwrap_or(DEFAULT_CERTIFICATE_PATH);
        let mut url = format!("{base_url}/{}", path.trim_start_matches('/'));
        let api_origin = origin(&url).to_string();
        let mut redirects = 0;
        let answer = loop {
            let mut request = http::Request::get(&url).header(
                ACCEPT,
                "application/x-pem-file, application/pkix-cert, application/json;q=0.9, */*;q=0.5",
            );
            // The token is for the Knox API only, not for a host a redirect names.
            if origin(&url) == api_origin {
                request = request.header(AUTHORIZATION, format!("Bearer {}", token.as_str()));
            }
            let answer = self.exchange(&url, request, Bytes::new()).await?;
            match (&answer.location, answer.status.is_redirection()) {
                (Some(location), true) if redirects < MAX_REDIRECTS => {
                    url = redirect_target(&url, location)?;
                    redirects += 1;
                }
                _ => break answer,
            }
        };
        let status = answer.status;
        let content_type = answer.content_type.as_deref().unwrap_or("none");
        let body = answer.body;
        let url = shown(&url);
        if !status.is_success() {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "GET {url} answered {status}; if the path is wrong, set certificate_path in the Knox API secret"
                ),
            ));
        }
        let Some((certificate, format)) = certificate_bytes(&body) else {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "GET {url} answered {} bytes of {content_type} holding no certificate (neither PEM, DER, \
                     base64 DER nor JSON with one of those); check certificate_path in the Knox API secret",
                    body.len()
                ),
            ));
        };
        // Samsung does not document the answer's form: record what it was.
        tracing::info!(%url, content_type, format, "downloaded the Knox validation certificate");
        Ok(certificate)
    }
}

/// Only HTTPS carries the client secret, except to a loopback test server.
fn check_base_url(base_url: &str) -> Result<(), DependencyError> {
    if secure(base_url) {
        return Ok(());
    }
    Err(DependencyError::new(
        DEPENDENCY,
        format_args!("base_url {base_url:?} in the Knox API secret must be an https:// URL"),
    ))
}

/// An absolute `https://` URL, or `http://` to a loopback host; no user name.
fn secure(url: &str) -> bool {
    http::Uri::try_from(url).is_ok_and(|uri| {
        let Some(authority) = uri.authority().filter(|a| !a.as_str().contains('@')) else {
            return false;
        };
        match uri.scheme_str() {
            Some("https") => true,
            Some("http") => crate::is_loopback(authority.host()),
            _ => false,
        }
    })
}

/// `url` as logs and errors show it: without its query, which may be a credential (a
/// redirect to a presigned download URL carries its signature there).
fn shown(url: &str) -> &str {
    url.split_once('?').map_or(url, |(before, _)| before)
}

/// `scheme://authority` of an absolute URL.
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    &url[..end]
}

/// Where a redirect from `url` to `location` leads: an absolute URL held to the same rule as
/// `base_url`, or a path on the same origin.
fn redirect_target(url: &str, location: &str) -> Result<String, DependencyError> {
    let target = if location.starts_with('/') && !location.starts_with("//") {
        format!("{}{location}", origin(url))
    } else {
        location.to_string()
    };
    if secure(&target) {
        return Ok(target);
    }
    Err(DependencyError::new(
        DEPENDENCY,
        format_args!(
            "{} redirected to {:?}, which is not an https:// URL; not followed",
            shown(url),
            shown(location)
        ),
    ))
}

/// `: invalid_client` from an OAuth error answer; the code is a fixed token and safe to log,
/// unlike a free-text description that may quote the request.
fn oauth_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e)
            if e.error.len() <= 64
                && e.error
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            format!(": {}", e.error)
        }
        _ => String::new(),
    }
}

/// The certificate in a download answer, as PEM or DER, and which form the answer had.
pub fn certificate_bytes(body: &[u8]) -> Option<(Vec<u8>, &'static str)> {
    if body.first() == Some(&DER_SEQUENCE) {
        return Some((body.to_vec(), "der"));
    }
    let text = std::str::from_utf8(body).ok()?.trim();
    // JSON first: a PEM inside a JSON string has its line breaks escaped.
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
        let mut strings = Vec::new();
        collect_strings(&json, &mut strings);
        if let Some(pem) = strings.iter().find_map(|s| pem_block(s)) {
            return Some((pem.as_bytes().to_vec(), "json-pem"));
        }
        return strings
            .iter()
            .find_map(|s| base64_der(s.trim()))
            .map(|der| (der, "json-base64-der"));
    }
    if let Some(pem) = pem_block(text) {
        return Some((pem.as_bytes().to_vec(), "pem"));
    }
    base64_der(text).map(|der| (der, "base64-der"))
}

/// The first complete `CERTIFICATE` PEM block in `text`.
fn pem_block(text: &str) -> Option<&str> {
    let start = text.find(PEM_BEGIN)?;
    let end = text[start..].find(PEM_END)? + start + PEM_END.len();
    Some(&text[start..end])
}

/// `text` as base64 of a DER SEQUENCE (line breaks allowed, as in PEM bodies).
fn base64_der(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = encoding::decode_lenient(&compact)?;
    (der.first() == Some(&DER_SEQUENCE)).then_some(der)
}

fn collect_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Not a real certificate: the extraction only looks at the framing.
    const DER: &[u8] = &[0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x00];
    const DER_B64: &str = "MIIBCgIBAA==";

    fn pem() -> String {
        format!("{PEM_BEGIN}\n{DER_B64}\n{PEM_END}")
    }

    #[test]
    fn der_and_pem_pass_through() {
        assert_eq!(certificate_bytes(DER), Some((DER.to_vec(), "der")));
        let wrapped = format!("subject=CN=x\n{}\ntrailing", pem());
        assert_eq!(
            certificate_bytes(wrapped.as_bytes()),
            Some((pem().into_bytes(), "pem"))
        );
    }

    #[test]
    fn base64_der_text_is_decoded() {
        assert_eq!(
            certificate_bytes(format!("{DER_B64}\n").as_bytes()),
            Some((DER.to_vec(), "base64-der"))
        );
        // Base64 of something that is not a DER SEQUENCE is no certificate.
        assert_eq!(certificate_bytes(b"aGVsbG8="), None);
    }

    #[test]
    fn json_wrappers() {
        let nested =
            serde_json::json!({"result": {"certificate": pem(), "format": "PEM"}}).to_string();
        assert_eq!(
            certificate_bytes(nested.as_bytes()),
            Some((pem().into_bytes(), "json-pem"))
        );
        let as_string = serde_json::Value::String(pem()).to_string();
        assert_eq!(
            certificate_bytes(as_string.as_bytes()),
            Some((pem().into_bytes(), "json-pem"))
        );
        let base64 = serde_json::json!({"status": "ok", "data": [DER_B64]}).to_string();
        assert_eq!(
            certificate_bytes(base64.as_bytes()),
            Some((DER.to_vec(), "json-base64-der"))
        );
    }

    #[test]
    fn answers_without_a_certificate() {
        for body in [
            &b""[..],
            b"<html><body>Not Found</body></html>",
            br#"{"code": "404", "message": "no such operation"}"#,
            format!("{PEM_BEGIN}\ntruncated").as_bytes(),
            &[0xff, 0xfe, 0x00],
        ] {
            assert_eq!(
                certificate_bytes(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn oauth_error_codes_only() {
        assert_eq!(
            oauth_error(br#"{"error":"invalid_client","error_description":"id x"}"#),
            ": invalid_client"
        );
        assert_eq!(oauth_error(br#"{"error":"has spaces and secrets"}"#), "");
        assert_eq!(oauth_error(b"not json"), "");
    }

    #[test]
    fn redirect_targets() {
        let from = "https://api.samsungknox.com/kwn/v1/downloadCertificate";
        assert_eq!(origin(from), "https://api.samsungknox.com");
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            redirect_target(from, "/kwn/v2/cert").unwrap(),
            "https://api.samsungknox.com/kwn/v2/cert"
        );
        assert_eq!(
            redirect_target(from, "https://cdn.example/c.pem").unwrap(),
            "https://cdn.example/c.pem"
        );
        for location in [
            "//cdn.example/c.pem",
            "c.pem",
            "http://cdn.example/c.pem",
            "ftp://x/c",
        ] {
            assert!(redirect_target(from, location).is_err(), "{location}");
        }
    }

    #[test]
    fn base_url_must_be_https_or_loopback() {
        assert!(check_base_url("https://api.samsungknox.com").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://[::1]:8080/").is_ok());
        assert!(check_base_url("http://api.samsungknox.com").is_err());
        assert!(check_base_url("http://127.0.0.1.evil.example:80").is_err());
        assert!(check_base_url("http://127.0.0.1:80@evil.example").is_err());
        assert!(check_base_url("api.samsungknox.com").is_err());
    }
}
