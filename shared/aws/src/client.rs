//! hookwarden's AWS client: the few S3, Secrets Manager and EventBridge calls the functions
//! make, signed with SigV4 and sent over one HTTP connection pool. Built at cold start from
//! the environment Lambda sets, without any network call.
//!
//! Not the AWS SDK: the SDK's generic machinery (endpoint rules, interceptors, every
//! operation of three services) was half of each event's instructions and most of the
//! binary (README, Performance). What the functions need of it is here: credentials from
//! the environment, regional endpoints or `AWS_ENDPOINT_URL[_<SERVICE>]`, one retry within
//! the operation's time limit, and AWS's error code and message.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookwarden_pipeline::ports::DependencyError;

use crate::https::{self, HttpsClient};
use crate::settings::{read_var, SettingsError};
use crate::sigv4::{self, Credentials};

/// Two attempts: one retry absorbs a transient 5xx or a dropped connection, and both fit in
/// the operation timeout, so a request still gets its 503 inside the Lambda deadline.
const MAX_ATTEMPTS: u32 = 2;
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// A throttle (S3 `SlowDown`, `ThrottlingException`) is retried for as long as the operation
/// timeout allows, with exponential backoff and full jitter from this base up to the cap: a
/// burst's callers spread out instead of retrying in step into the same quota.
const THROTTLE_BACKOFF_BASE: Duration = Duration::from_millis(50);
const THROTTLE_BACKOFF_CAP: Duration = Duration::from_millis(800);
/// Connecting to an AWS endpoint takes milliseconds; waiting longer only burns the budget.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Every answer hookwarden reads is small: a certificate, a dedupe record, a secret, a
/// PutEvents result.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// An error code or message longer than this is cut in logs.
const MAX_ERROR_TEXT: usize = 300;

/// The services hookwarden calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    SecretsManager,
    EventBridge,
}

impl Service {
    const ALL: [Service; 3] = [Service::S3, Service::SecretsManager, Service::EventBridge];

    /// The SigV4 signing name, also the first label of the regional endpoint.
    fn signing_name(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::SecretsManager => "secretsmanager",
            Service::EventBridge => "events",
        }
    }

    /// The service-specific endpoint variable, named as the AWS SDKs name it.
    fn endpoint_variable(self) -> &'static str {
        match self {
            Service::S3 => "AWS_ENDPOINT_URL_S3",
            Service::SecretsManager => "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            Service::EventBridge => "AWS_ENDPOINT_URL_EVENTBRIDGE",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where a service is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    scheme: String,
    /// `host[:port]`, as sent in `Host`.
    authority: String,
    /// A path the endpoint URL carries, without a trailing `/` (usually empty).
    base_path: String,
    /// Set by `AWS_ENDPOINT_URL[_<SERVICE>]`: S3 is then addressed path-style, since local
    /// emulators (moto, MinIO) serve buckets under the path, not as DNS subdomains.
    custom: bool,
}

impl Endpoint {
    fn regional(service: Service, region: &str) -> Endpoint {
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Endpoint {
            scheme: "https".into(),
            authority: format!("{}.{region}.{suffix}", service.signing_name()),
            base_path: String::new(),
            custom: false,
        }
    }

    fn parse(variable: &'static str, text: &str) -> Result<Endpoint, SettingsError> {
        let invalid = |why: &str| {
            SettingsError::new(
                variable,
                format!("{text:?} is not a usable endpoint URL ({why}); expected e.g. http://127.0.0.1:5000"),
            )
        };
        let url = http::Uri::try_from(text).map_err(|err| invalid(&err.to_string()))?;
        let scheme = url.scheme_str().unwrap_or_default();
        if !matches!(scheme, "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        let authority = url.authority().ok_or_else(|| invalid("no host"))?;
        // `Uri` drops a fragment silently: look for it in the text.
        if authority.as_str().contains('@') || url.query().is_some() || text.contains('#') {
            return Err(invalid("no query, fragment or user name is allowed"));
        }
        // Every request carries the session token in a header: over plain HTTP it would cross
        // the network readable.
        if scheme == "http" && !crate::is_loopback(authority.host()) {
            return Err(invalid(
                "http:// is accepted for loopback addresses only (moto, a local MinIO); use https://",
            ));
        }
        Ok(Endpoint {
            scheme: scheme.to_string(),
            authority: authority.as_str().to_ascii_lowercase(),
            base_path: url.path().trim_end_matches('/').to_string(),
            custom: true,
        })
    }
}

/// One call: a method, the object it addresses (S3) or none (`/`, the JSON services), extra
/// headers to send and sign, and the body.
pub(crate) struct Call<'a> {
    pub service: Service,
    pub method: http::Method,
    pub object: Option<(&'a str, &'a str)>,
    pub headers: &'a [(&'static str, &'a str)],
    pub body: Bytes,
}

/// Where a call goes: the URL, and the `Host` it is signed with.
struct Target {
    url: String,
    authority: String,
}

/// Why a call has no successful answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error (after the retry, if the error was transient).
    #[error("{code} (HTTP {status}): {message}")]
    Service {
        status: u16,
        code: String,
        message: String,
    },
    #[error("no answer within {0:?} (timed out)")]
    Timeout(Duration),
    /// No answer: connection refused or reset, DNS, TLS.
    #[error("{0}")]
    Transport(String),
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// A header value the environment supplied (the session token) is not valid in HTTP.
    #[error("the request could not be built: {0}")]
    Unsendable(String),
    /// URL parsers resolve `.` and `..` path segments, so such a key would be written
    /// elsewhere; hookwarden never builds one.
    #[error("the key {0:?} has a '.' or '..' segment")]
    UnaddressableKey(String),
}

impl CallError {
    /// This failure as the pipeline sees it: `{operation}: {self}`, a throttle marked as one
    /// so the request's outcome and metric name the quota.
    pub(crate) fn into_dependency(
        self,
        dependency: &'static str,
        operation: impl std::fmt::Display,
    ) -> DependencyError {
        let detail = format_args!("{operation}: {self}");
        match self.is_throttle() {
            true => DependencyError::throttled(dependency, detail),
            false => DependencyError::new(dependency, detail),
        }
    }

    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The AWS error code of a service error (`NoSuchKey`, `ResourceNotFoundException`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The service refused for rate: a quota binds.
    pub fn is_throttle(&self) -> bool {
        match self {
            CallError::Service { status, code, .. } => {
                *status == 429
                    || matches!(
                        code.as_str(),
                        "Throttling"
                            | "ThrottlingException"
                            | "ThrottledException"
                            | "TooManyRequestsException"
                            | "RequestLimitExceeded"
                            | "SlowDown"
                    )
            }
            _ => false,
        }
    }

    fn is_transient(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Service { status, code, .. } => {
                *status >= 500 || code == "RequestTimeout" || self.is_throttle()
            }
            CallError::Timeout(_)
            | CallError::TooLarge
            | CallError::Unsendable(_)
            | CallError::UnaddressableKey(_) => false,
        }
    }
}

/// The client: shared by every adapter, cheap to clone.
#[derive(Clone, Debug)]
pub struct AwsClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: HttpsClient,
    region: String,
    credentials: Credentials,
    endpoints: [Endpoint; 3],
    timeout: Duration,
}

impl AwsClient {
    /// From the process environment: `AWS_REGION` (or `AWS_DEFAULT_REGION`), the credentials
    /// Lambda sets (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and
    /// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`. `timeout` bounds each operation,
    /// retry included.
    pub fn from_env(timeout: Duration) -> Result<AwsClient, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok(), timeout)
    }

    /// As [`AwsClient::from_env`], through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        timeout: Duration,
    ) -> Result<AwsClient, SettingsError> {
        let var = |name: &str| read_var(&lookup, name);
        for variable in ["AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"] {
            if var(variable).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                return Err(SettingsError::new(
                    variable,
                    "is not supported by hookwarden; set AWS_ENDPOINT_URL_S3, \
                     AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_EVENTBRIDGE to the \
                     endpoints to use instead",
                ));
            }
        }
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                SettingsError::new(
                    "AWS_REGION",
                    "not set; Lambda sets it, elsewhere export the region (e.g. us-east-1)",
                )
            })?;
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Credentials::new(id, secret, var("AWS_SESSION_TOKEN")),
            (id, _) => {
                return Err(SettingsError::new(
                    if id.is_none() {
                        "AWS_ACCESS_KEY_ID"
                    } else {
                        "AWS_SECRET_ACCESS_KEY"
                    },
                    "not set; Lambda sets the execution role's credentials, elsewhere export \
                     them (aws configure export-credentials --format env)",
                ))
            }
        };
        let general = var("AWS_ENDPOINT_URL");
        let endpoints = Service::ALL.map(|service| {
            let variable = service.endpoint_variable();
            match (var(variable), &general) {
                (Some(url), _) => Endpoint::parse(variable, &url),
                (None, Some(url)) => Endpoint::parse("AWS_ENDPOINT_URL", url),
                (None, None) => Ok(Endpoint::regional(service, &region)),
            }
        });
        let [s3, secrets_manager, eventbridge] = endpoints;
        Self::build(
            &region,
            credentials,
            [s3?, secrets_manager?, eventbridge?],
            timeout,
        )
    }

    /// A client for one endpoint serving every service (moto, a stub), for tests and tools.
    pub fn for_endpoint(
        endpoint_url: &str,
        region: &str,
        credentials: Credentials,
        timeout: Duration,
    ) -> Result<AwsClient, SettingsError> {
        let endpoint = Endpoint::parse("AWS_ENDPOINT_URL", endpoint_url)?;
        Self::build(
            region,
            credentials,
            [endpoint.clone(), endpoint.clone(), endpoint],
            timeout,
        )
    }

    fn build(
        region: &str,
        credentials: Credentials,
        endpoints: [Endpoint; 3],
        timeout: Duration,
    ) -> Result<AwsClient, SettingsError> {
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SettingsError::new(
                "AWS_REGION",
                format!("{region:?} is not a region name (e.g. eu-west-1)"),
            ));
        }
        Ok(AwsClient {
            inner: Arc::new(Inner {
                http: HttpsClient::new(timeout.min(MAX_CONNECT_TIMEOUT)),
                region: region.to_string(),
                credentials,
                endpoints,
                timeout,
            }),
        })
    }

    /// Sends `call`, retrying within the operation timeout when the failure is transient:
    /// once for an error or a dropped connection, and with jittered exponential backoff for
    /// as long as the timeout allows when the service throttles. Returns the body of a 2xx
    /// answer.
    pub(crate) async fn call(&self, call: Call<'_>) -> Result<Bytes, CallError> {
        let timeout = self.inner.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let target = self.target(&call)?;
        let payload_sha256 = sigv4::sha256_hex(&call.body);
        let (mut attempt, mut throttles) = (1, 0);
        let mut last_throttle = None;
        loop {
            let sent = self.attempt(&call, &target, &payload_sha256);
            let error = match tokio::time::timeout_at(deadline, sent).await {
                // Out of time after being throttled: the quota is why, so say that.
                Err(_) => return Err(last_throttle.unwrap_or(CallError::Timeout(timeout))),
                Ok(Ok(body)) => return Ok(body),
                Ok(Err(error)) => error,
            };
            let backoff = if error.is_throttle() {
                throttles += 1;
                throttle_backoff(throttles, jitter())
            } else if attempt < MAX_ATTEMPTS && error.is_transient() {
                RETRY_BACKOFF
            } else {
                return Err(error);
            };
            attempt += 1;
            // No time left for the wait and another attempt: give the caller its 503 now.
            if tokio::time::Instant::now() + backoff >= deadline {
                return Err(error);
            }
            if error.is_throttle() {
                last_throttle = Some(error);
            }
            tokio::time::sleep(backoff).await;
        }
    }

    fn target(&self, call: &Call<'_>) -> Result<Target, CallError> {
        let endpoint = &self.inner.endpoints[call.service.index()];
        let mut authority = endpoint.authority.clone();
        let mut path = endpoint.base_path.clone();
        match call.object {
            None => path.push('/'),
            Some((bucket, key)) => {
                if key.split('/').any(|segment| matches!(segment, "." | "..")) {
                    return Err(CallError::UnaddressableKey(key.to_string()));
                }
                if !endpoint.custom && virtual_host_compatible(bucket) {
                    authority = format!("{bucket}.{authority}");
                } else {
                    path.push('/');
                    sigv4::encode_path(&mut path, bucket);
                }
                path.push('/');
                sigv4::encode_path(&mut path, key);
            }
        }
        Ok(Target {
            url: format!("{}://{authority}{path}", endpoint.scheme),
            authority,
        })
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        target: &Target,
        payload_sha256: &str,
    ) -> Result<Bytes, CallError> {
        let inner = &*self.inner;
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(4 + call.headers.len());
        headers.push(("host", target.authority.as_str()));
        headers.extend(call.headers.iter().copied());
        let signed = sigv4::sign_headers(
            &inner.credentials,
            &inner.region,
            call.service.signing_name(),
            std::time::SystemTime::now(),
            &sigv4::Request {
                method: call.method.as_str(),
                url: &target.url,
                headers: &headers,
                payload_sha256,
            },
        )
        .map_err(CallError::Unsendable)?;
        // An AWS answer is never a redirect to follow (a 301 means the wrong region): any
        // non-2xx answer is reported with its error code.
        let mut request = http::Request::builder()
            .method(call.method.clone())
            .uri(&target.url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        // The invocation's X-Ray trace header, as the AWS SDK sends it (not signed: the SDK
        // leaves it out of the signature, as proxies may rewrite it).
        if let Some(trace) = crate::lambda::trace_header() {
            request = request.header("x-amzn-trace-id", trace);
        }
        if call.method == http::Method::PUT || call.method == http::Method::POST {
            // hyper sends no length for an empty body, and S3 answers 411 to a PUT without.
            request = request.header(http::header::CONTENT_LENGTH, call.body.len());
        }
        let request = request
            .body(call.body.clone().into())
            .map_err(|err| CallError::Unsendable(err.to_string()))?;
        let response = inner
            .http
            .send(request)
            .await
            .map_err(CallError::Transport)?;
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = https::read_limited(response, MAX_ANSWER_BYTES)
            .await
            .map_err(CallError::Transport)?
            .ok_or(CallError::TooLarge)?;
        if status.is_success() {
            return Ok(Bytes::from(body));
        }
        let (code, message) = match call.service {
            Service::S3 => xml_error(&body),
            Service::SecretsManager | Service::EventBridge => json_error(&body, error_type),
        };
        Err(CallError::Service {
            status: status.as_u16(),
            code: cut(code.unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("no error code")
                    .replace(' ', "")
            })),
            message: cut(message.unwrap_or_else(|| "no message".into())),
        })
    }
}

/// A bucket that can be a DNS label under the S3 endpoint, with a certificate that covers it
/// (no dots).
fn virtual_host_compatible(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-')
}

/// `<Code>` and `<Message>` of an S3 error document.
fn xml_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&format!("</{name}>"))?;
        Some(xml_unescape(&text[start..end]))
    };
    (element("Code"), element("Message"))
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The error type and message of a JSON-protocol error (`__type` or the `x-amzn-ErrorType`
/// header, either possibly qualified: `ns#Code`, `Code:http://…`).
fn json_error(body: &[u8], header: Option<String>) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct JsonError {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let parsed = serde_json::from_slice::<JsonError>(body).ok();
    let (kind, message) = parsed.map_or((None, None), |e| (e.kind, e.message));
    let code = header.or(kind).map(|code| {
        let code = code.rsplit('#').next().unwrap_or_default();
        code.split(':').next().unwrap_or_default().to_string()
    });
    (code.filter(|c| !c.is_empty()), message)
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_ERROR_TEXT {
        let mut end = MAX_ERROR_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// A draw in [0, 1) for backoff jitter: std's per-process random hash keys, so no RNG crate
/// for one number per throttle.
fn jitter() -> f64 {
    use std::hash::BuildHasher as _;
    let bits = std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a wait drawn
/// uniformly below `base × 2^(n-1)`, capped; `unit` is the draw in [0, 1).
fn throttle_backoff(throttles: u32, unit: f64) -> Duration {
    let ceiling = THROTTLE_BACKOFF_BASE
        .saturating_mul(1 << throttles.saturating_sub(1).min(16))
        .min(THROTTLE_BACKOFF_CAP);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn client(env: &[(&str, &str)]) -> Result<AwsClient, SettingsError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AwsClient::from_lookup(|name| env.get(name).cloned(), Duration::from_secs(2))
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    /// A GET of `object` (or of the service's root) without headers or body.
    fn bodiless<'a>(service: Service, object: Option<(&'a str, &'a str)>) -> Call<'a> {
        Call {
            service,
            method: http::Method::GET,
            object,
            headers: &[],
            body: Bytes::new(),
        }
    }

    fn address(client: &AwsClient, service: Service, object: Option<(&str, &str)>) -> String {
        client.target(&bodiless(service, object)).unwrap().url
    }

    #[test]
    fn regional_endpoints_and_s3_addressing() {
        let client = client(&LAMBDA).unwrap();
        assert_eq!(
            address(&client, Service::S3, Some(("my-bucket", "knox/a b.json"))),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/knox/a%20b.json"
        );
        // Dots would break the wildcard certificate: path-style.
        assert_eq!(
            address(&client, Service::S3, Some(("my.bucket", "k"))),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/k"
        );
        assert_eq!(
            address(&client, Service::SecretsManager, None),
            "https://secretsmanager.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            address(&client, Service::EventBridge, None),
            "https://events.eu-west-1.amazonaws.com/"
        );
        let china = self::client(&[
            ("AWS_REGION", "cn-north-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ])
        .unwrap();
        assert_eq!(
            address(&china, Service::EventBridge, None),
            "https://events.cn-north-1.amazonaws.com.cn/"
        );
    }

    #[test]
    fn endpoint_overrides_general_and_per_service() {
        let mut env = LAMBDA.to_vec();
        env.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/"));
        env.push((
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "http://localhost:4566/base/",
        ));
        env.push((
            "AWS_ENDPOINT_URL_EVENTBRIDGE",
            "https://events.vpce.example:8443",
        ));
        let client = client(&env).unwrap();
        assert_eq!(
            address(&client, Service::S3, Some(("my-bucket", "a/b"))),
            "http://127.0.0.1:5000/my-bucket/a/b"
        );
        assert_eq!(
            address(&client, Service::SecretsManager, None),
            "http://localhost:4566/base/"
        );
        assert_eq!(
            address(&client, Service::EventBridge, None),
            "https://events.vpce.example:8443/"
        );
    }

    #[test]
    fn missing_or_unsupported_settings_are_named() {
        let without = |name: &str| {
            let env: Vec<_> = LAMBDA.iter().copied().filter(|(k, _)| *k != name).collect();
            client(&env).unwrap_err().variable
        };
        assert_eq!(without("AWS_REGION"), "AWS_REGION");
        assert_eq!(without("AWS_ACCESS_KEY_ID"), "AWS_ACCESS_KEY_ID");
        assert_eq!(without("AWS_SECRET_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY");
        let long_lived: Vec<_> = LAMBDA[..3].to_vec();
        assert!(client(&long_lived).is_ok(), "a session token is optional");

        for (variable, value) in [
            ("AWS_USE_FIPS_ENDPOINT", "true"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "TRUE"),
            ("AWS_ENDPOINT_URL", "ftp://x"),
            ("AWS_ENDPOINT_URL", "http://10.0.0.5:9000"),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://events.internal"),
            ("AWS_ENDPOINT_URL_S3", "not a url"),
            ("AWS_REGION", "EU West"),
        ] {
            let mut env = LAMBDA.to_vec();
            env.retain(|(k, _)| *k != variable);
            env.push((variable, value));
            let err = client(&env).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn keys_with_dot_segments_are_refused() {
        let client = client(&LAMBDA).unwrap();
        // Empty segments are kept by URL parsers and are legal S3 keys.
        assert_eq!(
            address(&client, Service::S3, Some(("bucket", "certs//knox.pem"))),
            "https://bucket.s3.eu-west-1.amazonaws.com/certs//knox.pem"
        );
        for key in ["a/../b", "./a", "..", "a/."] {
            assert!(matches!(
                client.target(&bodiless(Service::S3, Some(("bucket", key)))),
                Err(CallError::UnaddressableKey(_))
            ));
        }
    }

    /// A session token HTTP cannot carry fails the call at once: nothing is sent (port 9
    /// would refuse the connection, a transport error) and nothing is retried.
    #[tokio::test(flavor = "current_thread")]
    async fn a_token_http_cannot_carry_is_not_sent() {
        let client = AwsClient::for_endpoint(
            "http://127.0.0.1:9",
            "us-east-1",
            Credentials::new("ASIAEXAMPLE", "secret", Some("token\nX-Injected: 1".into())),
            Duration::from_secs(2),
        )
        .unwrap();
        let call = bodiless(Service::S3, Some(("bucket", "key")));
        let err = client.call(call).await.unwrap_err();
        assert!(matches!(err, CallError::Unsendable(_)), "{err}");
        assert!(!err.is_transient());
    }

    #[test]
    fn error_documents() {
        assert_eq!(
            xml_error(b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &amp; more</Message></Error>"),
            (Some("NoSuchKey".into()), Some("The key & more".into()))
        );
        assert_eq!(xml_error(b""), (None, None));
        assert_eq!(
            json_error(
                br#"{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException","message":"gone"}"#,
                None
            ),
            (Some("ResourceNotFoundException".into()), Some("gone".into()))
        );
        assert_eq!(
            json_error(
                br#"{"Message":"slow down"}"#,
                Some("ThrottlingException:http://internal.amazon.com/".into())
            ),
            (Some("ThrottlingException".into()), Some("slow down".into()))
        );
        assert_eq!(cut("é".repeat(200)).chars().count(), MAX_ERROR_TEXT / 2 + 1);
    }

    #[test]
    fn throttles_back_off_with_full_jitter_under_a_cap() {
        assert_eq!(throttle_backoff(1, 0.0), Duration::ZERO);
        assert_eq!(throttle_backoff(1, 0.5), THROTTLE_BACKOFF_BASE / 2);
        assert_eq!(throttle_backoff(3, 0.5), THROTTLE_BACKOFF_BASE * 2);
        assert_eq!(
            throttle_backoff(40, 0.999_999),
            THROTTLE_BACKOFF_CAP.mul_f64(0.999_999)
        );
        let draws: Vec<f64> = (0..64).map(|_| jitter()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let distinct: std::collections::BTreeSet<u64> = draws.iter().map(|d| d.to_bits()).collect();
        assert!(distinct.len() > 60, "the jitter varies: {draws:?}");
    }

    #[test]
    fn throttles_are_told_apart_from_other_errors() {
        let service = |status, code: &str| CallError::Service {
            status,
            code: code.into(),
            message: String::new(),
        };
        for throttle in [
            service(503, "SlowDown"),
            service(400, "ThrottlingException"),
            service(429, "TooManyRequestsException"),
        ] {
            assert!(
                throttle.is_throttle() && throttle.is_transient(),
                "{throttle}"
            );
        }
        for other in [
            service(500, "InternalError"),
            service(412, "PreconditionFailed"),
        ] {
            assert!(!other.is_throttle(), "{other}");
        }
        assert!(!CallError::Transport("reset".into()).is_throttle());
    }
}
