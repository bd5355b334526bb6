//! A webhook request and its reply, independent of how they travelled (function URL event,
//! local HTTP server, test).

use crate::providers::Provider;
use async_trait::async_trait;

/// Bodies larger than this are answered 413 before any parsing, unless configured otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request as the provider sent it: `body` holds the exact bytes on the wire (after any
/// transport base64 has been undone), because that is what the signatures cover.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub method: http::Method,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
    pub source_ip: Option<String>,
}

impl Inbound {
    /// The value of header `name` when it is present once, is visible ASCII and is not blank.
    /// Duplicated headers are ambiguous (which one did the provider sign?), so they count as
    /// malformed rather than picking one. A blank value carries no more than an absent header
    /// (nothing signed, no token), so it is answered the same way: `None`.
    pub fn single_header(&self, name: &str) -> Result<Option<&str>, HeaderProblem> {
        let mut values = self.headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(HeaderProblem::Duplicated(name.to_string()));
        }
        let text = first
            .to_str()
            .map_err(|_| HeaderProblem::NotText(name.to_string()))?;
        Ok(Some(text).filter(|text| !text.trim_ascii().is_empty()))
    }
}

impl Inbound {
    /// An unsigned header kept as metadata: every value, joined by `, ` as HTTP joins
    /// repeated fields, bytes that are not UTF-8 replaced. It decides nothing, so no value of
    /// it is refused.
    pub fn metadata_header(&self, name: &str) -> Option<String> {
        let values: Vec<_> = self
            .headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()))
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderProblem {
    #[error("header {0} appears more than once")]
    Duplicated(String),
    #[error("header {0} is not visible ASCII")]
    NotText(String),
}

/// What goes back to the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Always JSON.
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }

    /// A reply whose body is `{"error": message}`; `message` must never carry internal
    /// detail (dependency errors, secrets).
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, serde_json::json!({ "error": message }).to_string())
    }

    pub fn too_large(limit: usize) -> Self {
        Self::error(413, &format!("body exceeds {limit} bytes"))
    }

    pub fn bad_request(message: &str) -> Self {
        Self::error(400, message)
    }
}

/// One provider's request handling. The Lambda entrypoint and `hookwarden serve` both call
/// this, so they behave identically.
#[async_trait]
pub trait Handler: Send + Sync {
    fn provider(&self) -> Provider;
    async fn handle(&self, request: Inbound) -> Reply;

    /// Answers a request that arrived at `path` (the function URL's `rawPath`). A handler
    /// without tenants ignores the path; see [`crate::tenants::Tenants`].
    async fn handle_at(&self, path: &str, request: Inbound) -> Reply {
        let _ = path;
        self.handle(request).await
    }
}
