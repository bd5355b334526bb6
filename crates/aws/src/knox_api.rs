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
//!
//! What comes back is not trusted for its origin: the certificate cache uses a downloaded
//! certificate only when its public key is pinned (`KNOX_CERT_SPKI_SHA256`). Redirects are
//! followed (up to three) to a path on the API's own origin, or to an `https://` URL whose host
//! is public: never `http://`, never `localhost`, never an address that is loopback,
//! link-local (the instance metadata and Lambda runtime endpoints), private, shared (CGNAT),
//! multicast, unspecified or reserved ([`is_public`]). A host name is held to the same rule
//! where it is resolved: the connection for a redirect goes only to the public addresses the
//! name resolves to ([`PublicOnly`]), so a name pointing at `127.0.0.1` (or rebinding to it
//! after a check) is not reached either.
//!
//! The transport is reqwest: its redirect policy applies the rules above to each hop (and
//! drops the bearer token on any hop to another host), its resolver hook filters the
//! addresses, and proxies from the environment are not used (a proxy would resolve the names
//! itself, out of the filter's reach).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use hookwarden_pipeline::ports::{CertificateFetcher, DependencyError, SecretSource, SecretStage};
use hookwarden_verify::encoding;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{redirect, StatusCode, Url};
use serde::Deserialize;
use zeroize::{Zeroize as _, Zeroizing};

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
/// Connecting to the Knox API takes milliseconds; waiting longer only burns the budget.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub struct KnoxApi {
    credentials: Arc<dyn SecretSource>,
    timeout: Duration,
    /// Built on first download, for one API origin: the TLS setup is not worth paying at every
    /// cold start, and most cold starts find the certificate in S3.
    clients: OnceLock<(String, Clients)>,
}

/// The two HTTP clients of one API origin.
struct Clients {
    /// The token request: no redirect is followed (it would carry the client secret).
    token: reqwest::Client,
    /// The download: redirects as the module docs say, addresses filtered.
    download: reqwest::Client,
}

/// An answer read whole: status, `Content-Type` and `Location`, the URL it came from, body.
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    location: Option<String>,
    url: Url,
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
            clients: OnceLock::new(),
        }
    }

    /// The clients for `api` (`scheme://authority`), built once; a secret that later names
    /// another origin gets clients of its own.
    fn clients(&self, api: &Url) -> Result<Clients, DependencyError> {
        let origin = api.origin().ascii_serialization();
        if let Some((built_for, clients)) = self.clients.get() {
            if *built_for == origin {
                return Ok(clients.clone());
            }
        }
        let clients = Clients::new(api, self.timeout)?;
        let _ = self.clients.set((origin, clients.clone()));
        Ok(clients)
    }

    /// Sends `request` and reads the answer, all within the timeout.
    async fn exchange(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, DependencyError> {
        let shown_url = without_query(url.as_str());
        let exchange = async {
            let mut response = request.send().await.map_err(|err| err.without_url())?;
            let header = |name| {
                let value = response.headers().get(name)?.to_str().ok()?;
                Some(value.to_string())
            };
            let (status, content_type, location) = (
                response.status(),
                header(CONTENT_TYPE),
                header(reqwest::header::LOCATION),
            );
            let url = response.url().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|err| err.without_url())? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Some(Answer {
                status,
                content_type,
                location,
                url,
                body,
            }))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{shown_url} timed out after {:?}", self.timeout),
            )),
            Ok(Err(err)) => Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{shown_url} failed: {}", crate::causes(&err)),
            )),
            Ok(Ok(None)) => Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{shown_url} answered more than {MAX_RESPONSE_BYTES} bytes"),
            )),
            Ok(Ok(Some(answer))) => Ok(answer),
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
        clients: &Clients,
        base_url: &str,
        credentials: &Credentials,
    ) -> Result<Zeroizing<String>, DependencyError> {
        let url = parse_url(&format!("{base_url}{TOKEN_PATH}"))?;
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
        let request = clients
            .token
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.as_bytes().to_vec());
        let answer = self.exchange(&url, request).await?;
        if !answer.status.is_success() {
            let moved = match &answer.location {
                Some(location) if answer.status.is_redirection() => format!(
                    " (a redirect to {}, not followed with the client secret: \
                     set base_url in the Knox API secret to where the API is)",
                    without_query(location)
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

impl Clone for Clients {
    fn clone(&self) -> Self {
        Self {
            token: self.token.clone(),
            download: self.download.clone(),
        }
    }
}

impl Clients {
    fn new(api: &Url, timeout: Duration) -> Result<Clients, DependencyError> {
        let build = |builder: reqwest::ClientBuilder| {
            builder
                .use_preconfigured_tls(crate::tls::client_config().as_ref().clone())
                .no_proxy()
                .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
                .build()
                .map_err(|err| {
                    DependencyError::new(
                        DEPENDENCY,
                        format_args!(
                            "the HTTP client could not be built: {}",
                            crate::causes(&err)
                        ),
                    )
                })
        };
        let api_origin = api.origin();
        let api_host = api.host_str().unwrap_or_default().to_string();
        Ok(Clients {
            token: build(reqwest::Client::builder().redirect(redirect::Policy::none()))?,
            download: build(
                reqwest::Client::builder()
                    .redirect(redirect::Policy::custom(move |attempt| {
                        if attempt.previous().len() > MAX_REDIRECTS {
                            return attempt.stop();
                        }
                        let from = attempt.previous().last().map_or("", Url::as_str);
                        match redirect_refusal(&api_origin, attempt.url()) {
                            None => attempt.follow(),
                            Some(why) => {
                                let refused = RedirectRefused(format!(
                                    "{} redirected to {:?}, which {why}; not followed",
                                    without_query(from),
                                    without_query(attempt.url().as_str())
                                ));
                                attempt.error(refused)
                            }
                        }
                    }))
                    .dns_resolver(Arc::new(PublicOnly { api_host })),
            )?,
        })
    }
}

/// A redirect the rules refuse, named with where it came from and where it led.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RedirectRefused(String);

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
        let path = credentials
            .certificate_path
            .as_deref()
            .unwrap_or(DEFAULT_CERTIFICATE_PATH);
        let url = parse_url(&format!("{base_url}/{}", path.trim_start_matches('/')))?;
        let clients = self.clients(&url)?;
        let token = self.token(&clients, base_url, &credentials).await?;
        // reqwest drops the token on a redirect to another host: it is for the Knox API only.
        let request = clients
            .download
            .get(url.clone())
            .header(
                ACCEPT,
                "application/x-pem-file, application/pkix-cert, application/json;q=0.9, */*;q=0.5",
            )
            .bearer_auth(token.as_str());
        let answer = self.exchange(&url, request).await?;
        let status = answer.status;
        let content_type = answer.content_type.as_deref().unwrap_or("none");
        let body = answer.body;
        let url = without_query(answer.url.as_str());
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

fn parse_url(text: &str) -> Result<Url, DependencyError> {
    Url::parse(text).map_err(|err| {
        DependencyError::new(
            DEPENDENCY,
            format_args!("{} is not a usable URL: {err}", without_query(text)),
        )
    })
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
fn without_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(before, _)| before)
}

/// Why a redirect to `next` is not followed, or `None` to follow it: on the API's own origin
/// anything goes; elsewhere only an `https://` URL with no user name whose host is not
/// `localhost` nor a non-public IP address (a host name's addresses are checked when it is
/// resolved, by [`PublicOnly`]).
fn redirect_refusal(api: &url::Origin, next: &Url) -> Option<&'static str> {
    if next.origin() == *api {
        return None;
    }
    if next.scheme() != "https" || !next.username().is_empty() || next.password().is_some() {
        return Some("is not an https:// URL");
    }
    let local = match next.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => !is_public_v4(ip),
        Some(url::Host::Ipv6(ip)) => !is_public_v6(ip),
        None => true,
    };
    local.then_some("is a loopback, link-local or private address")
}

/// Whether `ip` is an address on the public internet: not unspecified, loopback, private
/// (RFC 1918, unique local), shared (RFC 6598), link-local (169.254/16 holds the instance
/// metadata service and fe80::/10), multicast, broadcast, documentation, benchmarking or
/// reserved. IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) is judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded = |high: usize| {
        Ipv4Addr::new(
            (segments[high] >> 8) as u8,
            segments[high] as u8,
            (segments[high + 1] >> 8) as u8,
            segments[high + 1] as u8,
        )
    };
    match segments {
        // Unspecified, loopback and IPv4-compatible (::a.b.c.d).
        [0, 0, 0, 0, 0, 0, _, _] => segments[6] != 0 && is_public_v4(embedded(6)),
        // IPv4-mapped.
        [0, 0, 0, 0, 0, 0xffff, _, _] => is_public_v4(embedded(6)),
        // NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => is_public_v4(embedded(6)),
        [0x64, 0xff9b, 1, ..] => false,
        // 6to4 carries an IPv4 address in its second and third segments.
        [0x2002, ..] => is_public_v4(embedded(1)),
        // Teredo, ORCHID and documentation.
        [0x2001, 0, ..] | [0x2001, 0x10..=0x2f, ..] | [0x2001, 0xdb8, ..] => false,
        // Discard-only.
        [0x100, 0, 0, 0, ..] => false,
        // Unique local, link-local, site-local, multicast.
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (first & 0xff00) == 0xff00)
        }
    }
}

/// The download's resolver: the API's own host resolves as the system resolves it; any
/// other name (one a redirect led to) keeps only its public addresses ([`is_public`]), and a
/// name with none is an error, so the connection is never made. The addresses checked are
/// the ones connected to: a name that rebinds between a check and the connection cannot slip
/// through. An IP address in a URL is connected to without a lookup (and judged by
/// [`redirect_refusal`]).
struct PublicOnly {
    api_host: String,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let filtered = !host.eq_ignore_ascii_case(&self.api_host);
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = match filtered {
                false => addresses,
                true => addresses
                    .into_iter()
                    .filter(|a| is_public(a.ip()))
                    .collect(),
            };
            if kept.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "{host} resolves only to loopback, link-local or private addresses; not connected"
                    ),
                )
                .into());
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
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

    fn refusal(location: &str) -> Option<&'static str> {
        let api = Url::parse("https://api.samsungknox.com/kwn/v1/downloadCertificate").unwrap();
        redirect_refusal(&api.origin(), &api.join(location).unwrap())
    }

    #[test]
    fn redirect_targets() {
        for location in [
            "/kwn/v2/cert",
            "cert",
            "https://cdn.example/c.pem",
            "//cdn.example/c.pem",
            "https://8.8.8.8/c.pem",
            "https://[2606:4700::1111]/c.pem",
            "https://cdn.example:8443/c.pem?X-Amz-Signature=abc",
        ] {
            assert_eq!(refusal(location), None, "{location}");
        }
        for location in [
            "http://cdn.example/c.pem",
            "ftp://x/c",
            "https://user@cdn.example/c.pem",
            "https://user:pw@cdn.example/c.pem",
        ] {
            assert_eq!(
                refusal(location),
                Some("is not an https:// URL"),
                "{location}"
            );
        }
    }

    /// A11: no redirect reaches the Lambda Runtime API, the metadata service or a private
    /// network, whatever the scheme.
    #[test]
    fn redirects_to_non_public_addresses_are_refused() {
        assert_eq!(
            refusal("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next"),
            Some("is not an https:// URL")
        );
        for location in [
            "https://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "https://127.1.2.3/",
            "https://[::1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/",
            "https://10.0.0.1/",
            "https://172.16.0.1/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[fd00:ec2::254]/",
            "https://[64:ff9b::a00:1]/",
            "https://[2002:7f00:1::]/",
            "https://localhost:9001/",
            "https://LocalHost./",
            "https://runtime.localhost/",
            // A URL parser reads these numbers as IPv4 addresses: 2130706433 is 127.0.0.1.
            "https://2130706433/",
            "https://0x7f.1/",
        ] {
            assert_eq!(
                refusal(location),
                Some("is a loopback, link-local or private address"),
                "{location}"
            );
        }
    }

    #[test]
    fn public_addresses() {
        for public in [
            "8.8.8.8",
            "52.94.76.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.3.1",
            "2606:4700::1111",
            "2a05:d018::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "0.1.2.3",
            "10.255.0.1",
            "127.0.0.1",
            "169.254.170.2",
            "172.16.0.1",
            "192.168.0.1",
            "100.127.255.255",
            "192.0.0.9",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001::1",
            "2001:db8::1",
            "2001:20::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    /// The resolver behind redirects: a name whose addresses are all non-public is not
    /// connected to, unless it is the API's own host.
    #[tokio::test]
    async fn the_redirect_resolver_drops_non_public_addresses() {
        use reqwest::dns::Resolve as _;
        let resolver = PublicOnly {
            api_host: "api.internal".into(),
        };
        let err = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost was resolved"),
            Err(err) => err,
        };
        assert!(
            err.to_string()
                .contains("localhost resolves only to loopback, link-local or private"),
            "{err}"
        );
        let api = PublicOnly {
            api_host: "localhost".into(),
        };
        let addresses: Vec<SocketAddr> = match api.resolve("localhost".parse().unwrap()).await {
            Ok(addresses) => addresses.collect(),
            Err(err) => panic!("the API's own host resolves: {err}"),
        };
        assert!(
            addresses.iter().all(|a| a.ip().is_loopback()),
            "{addresses:?}"
        );
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
