//! The Lambda entrypoint end to end: the `echo_function` example binary (built by
//! `cargo test`) runs against the Runtime API harness, as Lambda would run it.

use std::path::PathBuf;
use std::time::Duration;

use hookwarden_testkit::runtime_api::{InvocationError, RuntimeApi};
use serde_json::json;

const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);

/// `target/<profile>/examples/echo_function`, next to this test's `deps/` directory.
fn echo_function() -> PathBuf {
    let test_binary = std::env::current_exe().unwrap();
    let profile_dir = test_binary.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join("echo_function");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test -p hookwarden-aws` (which builds examples) or \
         `cargo build -p hookwarden-aws --example echo_function`",
        path.display()
    );
    path
}

fn event(body: &str, base64: bool) -> serde_json::Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-oneaccess-signature": "abc"},
        "requestContext": {
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.9", "userAgent": "test"},
            "accountId": "123456789012", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
            "domainPrefix": "x", "time": "01/Jan/2026:00:00:00 +0000",
            "requestId": "r-1", "routeKey": "$default", "stage": "$default", "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

fn reply_body(response: &serde_json::Value) -> serde_json::Value {
    assert_eq!(
        response["headers"]["content-type"], "application/json",
        "{response}"
    );
    serde_json::from_str(response["body"].as_str().unwrap()).unwrap()
}

/// lambda_runtime's answer to an event it could not turn into a request: an invocation error
/// whose message says why, and the process goes on serving.
fn assert_invocation_error(error: &InvocationError, message: &str) {
    let InvocationError::Function { body, .. } = error else {
        panic!("expected an invocation error, got {error:?}");
    };
    let text = body["errorMessage"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_decodes_rejects_and_survives_panics() {
    let api = RuntimeApi::start().await;
    // The address as a URL, as emulators set it (cargo-lambda: http://127.0.0.1:9000/.rt).
    let address = format!("http://{}/", api.address());
    let function = api.spawn_function(
        echo_function(),
        &[
            ("ONEACCESS_SECRET_ID", "unused"),
            ("HOOKWARDEN_MAX_BODY_BYTES", "64"),
            ("AWS_LAMBDA_RUNTIME_API", &address),
        ],
    );

    let response = api
        .invoke(event(r#"{"a":1}"#, false), INVOKE_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let echo = reply_body(&response);
    assert_eq!(echo["body"], r#"{"a":1}"#);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["source_ip"], "198.51.100.9");
    assert_eq!(echo["headers"]["x-oneaccess-signature"], "abc");
    // _X_AMZN_TRACE_ID follows the invocation, as Lambda's own runtimes set it.
    let first_trace = echo["xray"].as_str().unwrap_or_default().to_string();
    assert!(first_trace.starts_with("Root=1-"), "{echo}");

    // base64.b64encode(b'{"b":2}') == b'eyJiIjoyfQ=='
    let response = api
        .invoke(event("eyJiIjoyfQ==", true), INVOKE_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(reply_body(&response)["body"], r#"{"b":2}"#);

    // A body marked base64 that is not (only a direct invoke can send one): lambda_http
    // panics building the request, and lambda_runtime reports an invocation error.
    let error = api
        .invoke(event("%%%", true), INVOKE_TIMEOUT)
        .await
        .expect_err("an invocation error, not an HTTP reply");
    assert_invocation_error(
        &error,
        "Lambda panicked: failed to decode aws base64 encoded body",
    );

    let response = api
        .invoke(event(&"x".repeat(65), false), INVOKE_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 413, "{response}");
    assert_eq!(
        reply_body(&response),
        json!({"error": "body exceeds 64 bytes"})
    );

    let error = api
        .invoke(json!({"not": "a function URL event"}), INVOKE_TIMEOUT)
        .await
        .expect_err("an invocation error, not an HTTP reply");
    assert_invocation_error(&error, "failed to deserialize the incoming data");

    let response = api
        .invoke(event("panic", false), INVOKE_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 500, "{response}");
    assert_eq!(reply_body(&response), json!({"error": "internal error"}));

    // Same process, next request.
    let response = api
        .invoke(event("after", false), INVOKE_TIMEOUT)
        .await
        .unwrap();
    let after = reply_body(&response);
    assert_eq!(after["body"], "after");
    assert!(after["xray"]
        .as_str()
        .is_some_and(|t| t.starts_with("Root=1-")));
    assert_ne!(
        after["xray"],
        first_trace.as_str(),
        "each invocation its own trace"
    );

    let stdout = function.stdout();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"))
        })
        .collect();
    let panics: Vec<_> = lines.iter().filter(|l| l["outcome"] == "panic").collect();
    assert_eq!(panics.len(), 1, "{stdout}");
    assert_eq!(panics[0]["level"], "ERROR");
    assert_eq!(panics[0]["panic"], "the test asked for a panic");
    // The invocation span's request id is on the handler's lines.
    assert!(panics[0]["span"]["requestId"].is_string(), "{stdout}");
    assert!(
        lines.iter().filter(|l| l["message"] == "echoed").count() == 3,
        "{stdout}"
    );
    assert_eq!(api.init_error(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_fails_the_cold_start_with_one_clear_line() {
    let api = RuntimeApi::start().await;
    let mut function =
        api.spawn_function(echo_function(), &[("ONEACCESS_REPLAY_WINDOW_SECS", "0")]);
    let status = function
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the function exits");
    assert_eq!(status.code(), Some(1));

    let stdout = function.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(
        line["message"],
        "cold start failed: ONEACCESS_SECRET_ID: required for oneaccess, but not set"
    );

    let init_error = api
        .init_error()
        .expect("the init error reached the Runtime API");
    assert_eq!(init_error["errorMessage"], line["message"]);
    assert_eq!(init_error["errorType"], "Hookwarden.InitError");
}
