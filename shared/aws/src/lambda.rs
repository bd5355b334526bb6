//! The Lambda entrypoint for function URL invocations (payload format 2.0).
//!
//! The event is read here (as [`crate::function_url::Event`]) rather than through
//! `lambda_http`, because `lambda_http` panics on a body marked base64 that is not valid
//! base64; here that request gets a 400. Every event gets an explicit reply: a malformed event is a 400, a panicking
//! handler a 500, and the process keeps serving either way.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use base64::Engine as _;
use futures_util::FutureExt as _;
use hookwarden_pipeline::request::{Handler, Inbound, Reply};
use hookwarden_verify::encoding;
use tracing::Instrument as _;

use crate::function_url::{Event, Response};
use crate::runtime_api::{RuntimeApiClient, RuntimeApiError};

tokio::task_local! {
    /// The invocation's X-Ray trace header (`Lambda-Runtime-Trace-Id`): sent as
    /// `X-Amzn-Trace-Id` with every AWS request of the invocation and set on the EventBridge
    /// entries it publishes. A task-local rather than a read of `_X_AMZN_TRACE_ID`: it is
    /// scoped to the invocation's future, so tests that run invocations concurrently in one
    /// process each see their own, and the hot path reads no environment.
    static TRACE_HEADER: Option<String>;
}

/// The variable Lambda's own runtimes set to the trace header of the invocation in hand.
const TRACE_VARIABLE: &str = "_X_AMZN_TRACE_ID";

/// The X-Ray trace header of the invocation being handled, if tracing is on.
pub(crate) fn trace_header() -> Option<String> {
    TRACE_HEADER.try_with(Clone::clone).ok().flatten()
}

/// Polls the Lambda Runtime API and answers each function URL event through `handler`.
/// Returns only when the Runtime API cannot be reached, after logging why; Lambda then
/// starts a new execution environment.
pub async fn run(handler: Arc<dyn Handler>, max_body: usize) -> std::process::ExitCode {
    match serve(handler, max_body).await {
        Ok(never) => match never {},
        Err(err) => {
            tracing::error!(error = %err, "the Lambda Runtime API failed; exiting");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(
    handler: Arc<dyn Handler>,
    max_body: usize,
) -> Result<std::convert::Infallible, RuntimeApiError> {
    let mut api = RuntimeApiClient::from_env()?;
    loop {
        let invocation = api.next().await?;
        // The name and field lambda_runtime gave it: every log line of the invocation carries
        // the request id, which CloudWatch joins with the platform's REPORT line.
        let span = tracing::info_span!(
            "Lambda runtime invoke",
            requestId = %invocation.request_id,
        );
        // As Lambda's runtimes do (lambda_runtime, the Node.js and Python runtimes): code
        // and libraries that read the variable (X-Ray SDKs, OpenTelemetry's Lambda
        // propagator) see this invocation's trace, and none after it if it has none. Set
        // between invocations, when no request of the previous one is in flight, from the
        // one thread the functions' runtime has. (Setting the environment races with C code
        // reading it on another thread: the only such reader here would be a DNS lookup on
        // tokio's blocking pool outliving a timed-out request, as with lambda_runtime, which
        // sets the variable the same way.)
        match &invocation.trace_id {
            Some(trace) => std::env::set_var(TRACE_VARIABLE, trace),
            None => std::env::remove_var(TRACE_VARIABLE),
        }
        let reply = TRACE_HEADER
            .scope(
                invocation.trace_id.clone(),
                respond(handler.clone(), &invocation.event, max_body),
            )
            .instrument(span.clone())
            .await;
        let response = Response::json(reply.status, &reply.body);
        let body = serde_json::to_vec(&response).expect("a response serializes");
        if let Err(err) = api.respond(&invocation.request_id, body).await {
            // The invoker gets Lambda's own error for this one; the next may go through.
            span.in_scope(|| tracing::error!(error = %err, "the response was not accepted"));
        }
    }
}

/// The reply to one function URL event as the Runtime API delivers it: bytes that should be
/// JSON (serde_json refuses invalid UTF-8 as it refuses any other malformed event).
pub async fn respond(handler: Arc<dyn Handler>, event: &[u8], max_body: usize) -> Reply {
    let mut event: Event = match serde_json::from_slice(event) {
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
    let path = event.raw_path.take().unwrap_or_default();
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
    call_handler(handler, &path, request).await
}

/// Translates a function URL event into an [`Inbound`], undoing transport base64.
/// `Err` holds the reply for a body that is too large (413) or not valid base64 (400).
/// Cookies, which function URL events carry apart from the headers, are dropped: no
/// provider signs them.
pub fn to_inbound(event: Event, max_body: usize) -> Result<Inbound, Reply> {
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

/// Runs the handler with its panics caught: a panic ends this invocation with a 500 and the
/// process goes on serving. (Caught in place rather than in a task of its own: spawning cost
/// a scheduler round and a wake-up syscall per event.)
async fn call_handler(handler: Arc<dyn Handler>, path: &str, request: Inbound) -> Reply {
    let provider = handler.provider();
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
        fn provider(&self) -> &'static str {
            "test"
        }
        async fn handle(&self, request: Inbound) -> Reply {
            match request.body.as_ref() {
                b"panic" => panic!("asked to panic"),
                b"trace" => Reply::json(200, format!("{:?}", trace_header())),
                body => Reply::json(200, format!("{{\"len\":{}}}", body.len())),
            }
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
        let reply = respond(handler.clone(), event("panic", false).as_bytes(), 100).await;
        assert_eq!(reply, Reply::error(500, "internal error"));
        let reply = respond(handler, event("fine", false).as_bytes(), 100).await;
        assert_eq!(reply, Reply::json(200, r#"{"len":4}"#));
    }

    /// The handler sees the invocation's trace header, and no other invocation's.
    #[tokio::test(flavor = "current_thread")]
    async fn the_handler_sees_the_invocations_trace_header() {
        let handler: Arc<dyn Handler> = Arc::new(Panics);
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let reply = TRACE_HEADER
            .scope(
                Some(trace.to_string()),
                respond(handler.clone(), event("trace", false).as_bytes(), 100),
            )
            .await;
        assert_eq!(reply.body, format!("{:?}", Some(trace)));
        let reply = respond(handler, event("trace", false).as_bytes(), 100).await;
        assert_eq!(reply.body, "None");
    }

    #[test]
    fn an_event_that_is_not_utf8_gets_400() {
        let handler: Arc<dyn Handler> = Arc::new(Panics);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let reply = runtime.block_on(respond(handler, b"{\"body\": \"\xff\"}", 100));
        assert_eq!(reply.status, 400);
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
                respond(handler.clone(), event.as_bytes(), 100).await.status,
                400,
                "{event}"
            );
        }
    }
}
