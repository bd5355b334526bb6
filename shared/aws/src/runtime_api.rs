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
    /// `host:port`
    api: String,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl RuntimeApiClient {
    pub fn from_env() -> Result<Self, RuntimeApiError> {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(RuntimeApiError::NotSet)?;
        Ok(Self {
            api,
            connection: None,
        })
    }

    /// Waits for the next invocation; no time limit, as Lambda freezes the process meanwhile.
    pub async fn next(&mut self) -> Result<Invocation, RuntimeApiError> {
        let (status, headers, event) = self
            .send(hyper::Method::GET, format!("{PREFIX}/next"), Bytes::new())
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
        let path = format!("{PREFIX}/{request_id}/response");
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
            .header(hyper::header::HOST, &self.api)
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
        let stream = tokio::net::TcpStream::connect(&self.api).await?;
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
