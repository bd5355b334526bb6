//! The Lambda entrypoint for function URL invocations (payload format 2.0).
//!
//! Built on `lambda_runtime` with the raw API Gateway v2 event rather than `lambda_http`,
//! because `lambda_http` panics on a body marked base64 that is not valid base64; here that
//! request gets a 400. Every event gets an explicit reply: a malformed event is a 400, a
//! panicking handler a 500, and the process keeps serving either way.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use hookwarden_pipeline::request::{Handler, Inbound, Reply};
use hookwarden_verify::encoding;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use tracing::Instrument as _;

/// Polls the Lambda Runtime API and answers each function URL event through `handler`.
/// Returns only when the Runtime API fails.
pub async fn run(handler: Arc<dyn Handler>, max_body: usize) -> Result<(), lambda_runtime::Error> {
    // The event arrives raw so that an event we cannot read is answered (400) instead of
    // failing the invocation (which a function URL turns into an opaque 502).
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let handler = handler.clone();
        async move {
            Ok::<_, Infallible>(to_response(
                respond(handler, event.payload.get(), max_body).await,
            ))
        }
    }))
    .await
}

/// The reply to one function URL event, given as JSON text.
pub async fn respond(handler: Arc<dyn Handler>, event_json: &str, max_body: usize) -> Reply {
    let event: ApiGatewayV2httpRequest = match serde_json::from_str(event_json) {
        Ok(event) => event,
        Err(err) => {
            // The position only: serde's message can quote header values.
            tracing::warn!(
                provider = handler.provider(),
                outcome = "malformed",
                status = 400,
                line = err.line(),
                column = err.column(),
                "the invocation is not a function URL event"
            );
            return Reply::bad_request("the request could not be read");
        }
    };
    let request = match to_inbound(event, max_body) {
        Ok(request) => request,
        Err(reply) => {
            let outcome = if reply.status == 413 {
                "too_large"
            } else {
                "malformed"
            };
            tracing::warn!(
                provider = handler.provider(),
                outcome,
                status = reply.status,
                "request rejected before verification"
            );
            return reply;
        }
    };
    call_handler(handler, request).await
}

/// Translates a function URL event into an [`Inbound`], undoing transport base64.
/// `Err` holds the reply for a body that is too large (413) or not valid base64 (400).
/// Cookies, which function URL events carry apart from the headers, are dropped: no
/// provider signs them.
pub fn to_inbound(event: ApiGatewayV2httpRequest, max_body: usize) -> Result<Inbound, Reply> {
    let body = match event.body {
        None => bytes::Bytes::new(),
        Some(text) if event.is_base64_encoded => {
            // Bound the work before decoding: base64 of `max_body` bytes is at most this long.
            if text.len() > max_body.div_ceil(3).saturating_mul(4) {
                return Err(Reply::too_large(max_body));
            }
            let decoded = encoding::STANDARD.decode(text.as_bytes()).map_err(|_| {
                Reply::bad_request("the body is marked base64 but is not valid base64")
            })?;
            bytes::Bytes::from(decoded)
        }
        Some(text) => bytes::Bytes::from(text),
    };
    if body.len() > max_body {
        return Err(Reply::too_large(max_body));
    }
    let http = event.request_context.http;
    Ok(Inbound {
        method: http.method,
        headers: event.headers,
        body,
        source_ip: http.source_ip,
    })
}

/// The function URL response for `reply`: always JSON.
pub fn to_response(reply: Reply) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(reply.status);
    response.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.body = Some(Body::Text(reply.body));
    response
}

/// Runs the handler in its own task so that a panic ends that task only: the caller gets a
/// 500 and this process goes on serving.
async fn call_handler(handler: Arc<dyn Handler>, request: Inbound) -> Reply {
    let provider = handler.provider();
    // The task carries the invocation's span (request id) so its log lines stay attributed.
    let task = async move { handler.handle(request).await }.instrument(tracing::Span::current());
    match tokio::spawn(task).await {
        Ok(reply) => reply,
        Err(err) => {
            let panic = match err.try_into_panic() {
                Ok(payload) => panic_message(payload.as_ref()),
                Err(_) => "the handler task was cancelled".to_string(),
            };
            tracing::error!(
                provider,
                outcome = "panic",
                status = 500,
                panic,
                "the handler panicked"
            );
            Reply::error(500, "internal error")
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;

    struct Panics;

    #[async_trait]
    impl Handler for Panics {
        fn provider(&self) -> &'static str {
            "test"
        }
        async fn handle(&self, request: Inbound) -> Reply {
            if request.body.as_ref() == b"panic" {
                panic!("asked to panic");
            }
            Reply::json(200, format!("{{\"len\":{}}}", request.body.len()))
        }
    }

    fn event(body: &str, base64: bool) -> String {
        serde_json::json!({
            "version": "2.0",
            "rawPath": "/",
            "headers": {"content-type": "text/plain"},
            "requestContext": {"http": {"method": "POST", "path": "/", "sourceIp": "203.0.113.7"}},
            "body": body,
            "isBase64Encoded": base64,
        })
        .to_string()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_handler_gets_500_and_the_next_request_is_served() {
        let handler: Arc<dyn Handler> = Arc::new(Panics);
        let reply = respond(handler.clone(), &event("panic", false), 100).await;
        assert_eq!(reply, Reply::error(500, "internal error"));
        let reply = respond(handler, &event("fine", false), 100).await;
        assert_eq!(reply, Reply::json(200, r#"{"len":4}"#));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unreadable_event_gets_400() {
        let handler: Arc<dyn Handler> = Arc::new(Panics);
        for event in [
            "[]",
            "{}",
            r#"{"requestContext": {"http": {"method": "POST"}}, "headers": {"x": "\u0001"}}"#,
        ] {
            assert_eq!(
                respond(handler.clone(), event, 100).await.status,
                400,
                "{event}"
            );
        }
    }

    #[test]
    fn responses_are_json() {
        let response = to_response(Reply::json(201, "{}"));
        assert_eq!(response.status_code, 201);
        assert_eq!(response.headers["content-type"], "application/json");
        assert_eq!(response.body, Some(Body::Text("{}".into())));
        assert!(!response.is_base64_encoded);
    }
}
