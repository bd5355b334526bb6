//! The client side of the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`): long-poll the next
//! invocation, post its response. One HTTP/1.1 connection, kept for the life of the process.
//!
//! hookwarden's own rather than `lambda_runtime`'s: that client leaves the answer to each
//! response post unread, so hyper closes the connection, and opened two new loopback
//! connections per event — a third of each event's CPU was kernel time (README, Performance).
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

const PREFIX: &str = "/2018-06-01/runtime/invocation";
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const TRACE_ID: &str = "lambda-runtime-trace-id";

/// One invocation: its id, X-Ray trace header (when tracing is on) and event.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub trace_id: Option<String>,
    pub event: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeApiError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set: this binary runs as a Lambda function (or under a Runtime API emulator)")]
    NotSet,
    #[error("the Runtime API at {api}: {detail}")]
    Transport { api: String, detail: String },
    #[error("the Runtime API answered {status} to {what}")]
    Status { status: u16, what: &'static str },
    #[error("the Runtime API sent an invocation without a request id")]
    NoRequestId,
}

pub struct RuntimeApiClient {
    /// `AWS_LAMBDA_RUNTIME_API` as given, for messages.
    api: String,
    /// `host:port`: where to connect, and the `Host` header.
    authority: String,
    /// A path the address carries (cargo-lambda's `/.rt`), put before `/2018-06-01/…`;
    /// empty under Lambda.
    base_path: String,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl RuntimeApiClient {
    pub fn from_env() -> Result<Self, RuntimeApiError> {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(RuntimeApiError::NotSet)?;
        Self::new(&api)
    }

    /// A client for the Runtime API at `api`, in any form Lambda and the emulators set:
    /// `host:port` (Lambda, the Runtime Interface Emulator), `http://host:port`, or
    /// `http://host:port/prefix` (cargo-lambda: `http://127.0.0.1:9000/.rt`), whose path
    /// goes before `/2018-06-01/runtime/…`. No connection is made yet.
    pub fn new(api: &str) -> Result<Self, RuntimeApiError> {
        let (authority, base_path) =
            parse_address(api).map_err(|detail| RuntimeApiError::Transport {
                api: api.to_string(),
                detail: detail.to_string(),
            })?;
        Ok(Self {
            api: api.to_string(),
            authority,
            base_path,
            connection: None,
        })
    }

    /// Waits for the next invocation; no time limit, as Lambda freezes the process meanwhile.
    pub async fn next(&mut self) -> Result<Invocation, RuntimeApiError> {
        let (status, headers, event) = self
            .send(
                hyper::Method::GET,
                format!("{}{PREFIX}/next", self.base_path),
                Bytes::new(),
            )
            .await?;
        if !status.is_success() {
            return Err(RuntimeApiError::Status {
                status: status.as_u16(),
                what: "the next-invocation request",
            });
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(Invocation {
            request_id: header(REQUEST_ID).ok_or(RuntimeApiError::NoRequestId)?,
            trace_id: header(TRACE_ID),
            event,
        })
    }

    /// Posts the response to invocation `request_id`.
    pub async fn respond(
        &mut self,
        request_id: &str,
        body: Vec<u8>,
    ) -> Result<(), RuntimeApiError> {
        let path = format!("{}{PREFIX}/{request_id}/response", self.base_path);
        let (status, _, _) = self.send(hyper::Method::POST, path, body.into()).await?;
        if !status.is_success() {
            // 413 (too large) or 410 (invocation timed out): the invoker gets Lambda's error.
            return Err(RuntimeApiError::Status {
                status: status.as_u16(),
                what: "a response",
            });
        }
        Ok(())
    }

    /// Sends one request and reads the whole answer, so the connection stays usable. A
    /// request on a connection the API has closed is sent again on a new one.
    async fn send(
        &mut self,
        method: hyper::Method,
        path: String,
        body: Bytes,
    ) -> Result<(hyper::StatusCode, hyper::HeaderMap, Bytes), RuntimeApiError> {
        let reused = self.connection.is_some();
        match self.try_send(method.clone(), &path, body.clone()).await {
            Err(_) if reused => {
                self.connection = None;
                self.try_send(method, &path, body).await
            }
            result => result,
        }
    }

    async fn try_send(
        &mut self,
        method: hyper::Method,
        path: &str,
        body: Bytes,
    ) -> Result<(hyper::StatusCode, hyper::HeaderMap, Bytes), RuntimeApiError> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("a valid method, path and headers");
        let result = async {
            let connection = match &mut self.connection {
                Some(connection) => connection,
                None => self.connection.insert(self.connect().await?),
            };
            connection.ready().await?;
            let response = connection.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts.status, parts.headers, body))
        }
        .await;
        result.map_err(|err| {
            self.connection = None;
            RuntimeApiError::Transport {
                api: self.api.clone(),
                detail: crate::causes(err.as_ref()),
            }
        })
    }

    async fn connect(
        &self,
    ) -> Result<SendRequest<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
        let stream = tokio::net::TcpStream::connect(&self.authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // Drives the connection; ends when the sender is dropped or the API closes it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// `host:port` and the path prefix (no trailing `/`) of a Runtime API address.
fn parse_address(api: &str) -> Result<(String, String), &'static str> {
    let rest = match api.split_once("://") {
        None => api,
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return Err("the scheme must be http:// (or none: host:port)"),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if path.contains(['?', '#']) || authority.contains('@') {
        return Err("no query, fragment or user name is allowed");
    }
    // The port: after the last ':' that is not inside an IPv6 literal's brackets.
    let port = authority
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty() && (!host.starts_with('[') || host.ends_with(']')))
        .map(|(_, port)| port);
    let authority = match port {
        Some(port) if port.parse::<u16>().is_ok() => authority.to_string(),
        Some(_) => return Err("invalid port value"),
        // `http://host`: HTTP's port.
        None if api.contains("://") && !authority.is_empty() => format!("{authority}:80"),
        None => return Err("expected host:port, http://host:port or http://host:port/prefix"),
    };
    Ok((authority, path.trim_end_matches('/').to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse_address;

    #[test]
    fn every_address_form_lambda_and_the_emulators_use() {
        let parsed = parse_address;
        for (api, authority, base) in [
            ("127.0.0.1:9001", "127.0.0.1:9001", ""),
            ("localhost:9001", "localhost:9001", ""),
            ("[::1]:9001", "[::1]:9001", ""),
            ("http://127.0.0.1:9000", "127.0.0.1:9000", ""),
            ("http://127.0.0.1:9000/", "127.0.0.1:9000", ""),
            ("http://127.0.0.1:9000/.rt", "127.0.0.1:9000", "/.rt"),
            // cargo lambda watch, for the function it starts.
            (
                "http://[::]:9000/.rt/knox-webhook",
                "[::]:9000",
                "/.rt/knox-webhook",
            ),
            ("HTTP://[::1]:9000/a/b/", "[::1]:9000", "/a/b"),
            ("http://runtime", "runtime:80", ""),
        ] {
            assert_eq!(
                parsed(api),
                Ok((authority.to_string(), base.to_string())),
                "{api}"
            );
        }
        for api in [
            "127.0.0.1",
            "127.0.0.1:port",
            "https://127.0.0.1:9000",
            "http://127.0.0.1:9000/.rt?x=1",
            "http://user@127.0.0.1:9000",
            "http://",
            "[::1]",
        ] {
            assert!(parsed(api).is_err(), "{api}");
        }
    }
}
