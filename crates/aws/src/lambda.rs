//! The Lambda entrypoint: function URL invocations (payload format 2.0) through `lambda_http`
//! over `lambda_runtime`, answered by a pipeline [`Handler`].
//!
//! Every function URL request gets an explicit HTTP reply: a body over the limit is a 413, a
//! panicking handler a 500, and the process keeps serving either way. Two events are answered
//! by lambda_runtime instead, with an invocation error (the invoker sees a failed invoke, the
//! process goes on to the next event), and neither can come through a function URL, only
//! from a principal allowed `lambda:InvokeFunction`:
//! - an event that is not a function URL event (lambda_runtime's `DeserializeError`);
//! - a body marked `isBase64Encoded` that is not base64: `aws_lambda_events` panics while
//!   lambda_http builds the request, and lambda_runtime's panic layer reports it. Lambda
//!   encodes function URL bodies itself, so a real request never has that pair.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;
use hookwarden_pipeline::request::{Handler, Inbound, Reply};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt as _};

tokio::task_local! {
    /// The invocation's X-Ray trace header, set on the EventBridge entries it publishes (the
    /// SDK sends it as `X-Amzn-Trace-Id` on every AWS call from `_X_AMZN_TRACE_ID`, which
    /// lambda_runtime sets per invocation). A task-local rather than a read of the variable:
    /// it is scoped to the invocation's future, so tests that run invocations concurrently in
    /// one process each see their own.
    static TRACE_HEADER: Option<String>;
}

/// The X-Ray trace header of the invocation being handled, if tracing is on.
pub(crate) fn trace_header() -> Option<String> {
    TRACE_HEADER.try_with(Clone::clone).ok().flatten()
}

/// Polls the Lambda Runtime API and answers each function URL event through `handler`.
/// Returns only when the Runtime API cannot be reached, after logging why; Lambda then
/// starts a new execution environment.
pub async fn run(handler: Arc<dyn Handler>, max_body: usize) -> std::process::ExitCode {
    let service = lambda_http::service_fn(move |request: lambda_http::Request| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(respond(handler, request, max_body).await) }
    });
    match lambda_http::run(service).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the Lambda Runtime API failed; exiting");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The HTTP response to one function URL request.
pub async fn respond(
    handler: Arc<dyn Handler>,
    request: lambda_http::Request,
    max_body: usize,
) -> http::Response<Body> {
    let trace = request
        .lambda_context_ref()
        .and_then(|context| context.xray_trace_id.clone());
    let reply = TRACE_HEADER
        .scope(trace, handle(handler, request, max_body))
        .await;
    http::Response::builder()
        .status(reply.status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(reply.body))
        .expect("a status the pipeline chose and a fixed header make a response")
}

/// Why an invocation gets no HTTP reply: lambda_runtime answers it with an invocation error.
#[derive(Debug, thiserror::Error)]
pub enum NotAnHttpRequest {
    /// The payload is not a function URL event (lambda_runtime's `Runtime.DeserializeError`).
    #[error("the invocation is not a function URL event")]
    NotAFunctionUrlEvent,
    /// lambda_http panicked building the request: a body marked base64 that is not
    /// (lambda_runtime's `Runtime.Panic`).
    #[error(
        "lambda_http could not build a request from the event (a body marked base64 that is not?)"
    )]
    Unconvertible,
}

/// How the function answers the Runtime API payload `event`: the steps `lambda_http::run`
/// takes (deserialize the event, build the request) then [`respond`]'s, without a Runtime
/// API in between, for tests that drive the entrypoint with many events.
pub async fn invoke(
    handler: Arc<dyn Handler>,
    event: &[u8],
    max_body: usize,
) -> Result<Reply, NotAnHttpRequest> {
    let event: lambda_http::request::LambdaRequest =
        serde_json::from_slice(event).map_err(|_| NotAnHttpRequest::NotAFunctionUrlEvent)?;
    let request = std::panic::catch_unwind(|| lambda_http::Request::from(event))
        .map_err(|_| NotAnHttpRequest::Unconvertible)?;
    Ok(handle(handler, request, max_body).await)
}

async fn handle(
    handler: Arc<dyn Handler>,
    request: lambda_http::Request,
    max_body: usize,
) -> Reply {
    let path = request.raw_http_path().to_string();
    match to_inbound(request, max_body) {
        Ok(request) => call_handler(handler, &path, request).await,
        Err(reply) => {
            tracing::warn!(
                provider = handler.provider().name(),
                outcome = "too_large",
                status = reply.status,
                "request rejected before verification"
            );
            reply
        }
    }
}

/// Translates a function URL request into an [`Inbound`] (lambda_http has undone transport
/// base64). `Err` holds the reply for a body that is too large (413). Cookies, which
/// lambda_http turns back into a `Cookie` header, are left as they are: no provider signs
/// them.
pub fn to_inbound(request: lambda_http::Request, max_body: usize) -> Result<Inbound, Reply> {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    let (parts, body) = request.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(text) => bytes::Bytes::from(text),
        Body::Binary(bytes) => bytes::Bytes::from(bytes),
        _ => bytes::Bytes::new(),
    };
    if body.len() > max_body {
        return Err(Reply::too_large(max_body));
    }
    Ok(Inbound {
        method: parts.method,
        headers: parts.headers,
        body,
        source_ip,
    })
}

/// Runs the handler with its panics caught: a panic ends this invocation with a 500 and the
/// process goes on serving. (Caught here rather than by lambda_runtime's panic layer, which
/// would answer an invocation error instead of the caller's 500.)
async fn call_handler(handler: Arc<dyn Handler>, path: &str, request: Inbound) -> Reply {
    let provider = handler.provider().name();
    match AssertUnwindSafe(handler.handle_at(path, request))
        .catch_unwind()
        .await
    {
        Ok(reply) => reply,
        Err(payload) => {
            tracing::error!(
                provider,
                outcome = "panic",
                status = 500,
                panic = panic_message(payload.as_ref()),
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
        fn provider(&self) -> hookwarden_pipeline::Provider {
            hookwarden_pipeline::Provider::Scalefusion
        }
        async fn handle(&self, request: Inbound) -> Reply {
            match request.body.as_ref() {
                b"panic" => panic!("asked to panic"),
                b"trace" => Reply::json(200, format!("{:?}", trace_header())),
                body => Reply::json(200, format!("{{\"len\":{}}}", body.len())),
            }
        }
    }

    /// A function URL event as lambda_http reads it from the Runtime API.
    fn request(body: &str, base64: bool, trace: Option<&str>) -> lambda_http::Request {
        let event = serde_json::json!({
            "version": "2.0",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": {"content-type": "text/plain"},
            "requestContext": {
                "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "t"},
                "accountId": "123456789012", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
                "domainPrefix": "x", "requestId": "r", "routeKey": "$default", "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0
            },
            "body": body,
            "isBase64Encoded": base64,
        });
        let event: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
        let mut context = lambda_runtime::Context::default();
        context.xray_trace_id = trace.map(str::to_string);
        lambda_http::Request::from(event).with_lambda_context(context)
    }

    async fn reply(handler: &Arc<dyn Handler>, request: lambda_http::Request) -> (u16, String) {
        let response = respond(handler.clone(), request, 100).await;
        let status = response.status().as_u16();
        let Body::Text(body) = response.into_body() else {
            panic!("replies are JSON text")
        };
        (status, body)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_handler_gets_500_and_the_next_request_is_served() {
        let handler: Arc<dyn Handler> = Arc::new(Panics);
        let (status, body) = reply(&handler, request("panic", false, None)).await;
        assert_eq!(
            (status, body),
            (500, Reply::error(500, "internal error").body)
        );
        let (status, body) = reply(&handler, request("fine", false, None)).await;
        assert_eq!((status, body.as_str()), (200, r#"{"len":4}"#));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn transport_base64_is_undone_and_the_limit_counts_the_bytes_sent() {
        let handler: Arc<dyn Handler> = Arc::new(Panics);
        let (status, body) = reply(&handler, request("AAEC/w==", true, None)).await;
        assert_eq!((status, body.as_str()), (200, r#"{"len":4}"#));
        let (status, _) = reply(&handler, request(&"x".repeat(101), false, None)).await;
        assert_eq!(status, 413);
    }

    /// The handler sees the invocation's trace header, and no other invocation's.
    #[tokio::test(flavor = "current_thread")]
    async fn the_handler_sees_the_invocations_trace_header() {
        let handler: Arc<dyn Handler> = Arc::new(Panics);
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let (_, body) = reply(&handler, request("trace", false, Some(trace))).await;
        assert_eq!(body, format!("{:?}", Some(trace)));
        let (_, body) = reply(&handler, request("trace", false, None)).await;
        assert_eq!(body, "None");
    }

    /// What lambda_http does with a body marked base64 that is not (only a direct invoke can
    /// send one): it panics building the request, before the handler runs; lambda_runtime's
    /// panic layer turns that into an invocation error (tests/it/lambda_entrypoint.rs).
    #[test]
    fn invalid_transport_base64_panics_inside_lambda_http() {
        let caught = std::panic::catch_unwind(|| request("not base64!", true, None));
        assert!(caught.is_err(), "aws_lambda_events decodes with expect()");
    }
}
