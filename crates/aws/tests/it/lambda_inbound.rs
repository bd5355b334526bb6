//! Function URL events (payload format 2.0), as lambda_http reads them, to the pipeline's
//! `Inbound` (`to_inbound`).

use base64::Engine as _;
use hookwarden_aws::lambda::to_inbound;
use hookwarden_pipeline::request::Reply;

/// A function URL event shaped like AWS's documented example (Lambda developer guide,
/// "Invoking Lambda function URLs", request payload format).
fn event_json(body: Option<&str>, base64: bool, content_type: Option<&str>) -> serde_json::Value {
    let mut headers = serde_json::json!({
        "x-amzn-trace-id": "Root=1-5eb33c07-4f6eb7d04ba4a0b26bfe56f0",
        "x-forwarded-proto": "https",
        "host": "abcdefg.lambda-url.us-east-1.on.aws",
        "x-forwarded-port": "443",
        "x-forwarded-for": "203.0.113.7",
        "x-signature": "c2lnbmF0dXJl",
        "user-agent": "Scalefusion-Webhook/1.0"
    });
    if let Some(content_type) = content_type {
        headers["content-type"] = content_type.into();
    }
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefg",
            "domainName": "abcdefg.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefg",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Scalefusion-Webhook/1.0"
            },
            "requestId": "c3ad1c86-a4d7-4bd1-9d33-3e9a0c2a0b49",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000_i64
        },
        "isBase64Encoded": base64
    });
    if let Some(body) = body {
        event["body"] = body.into();
    }
    event
}

fn event(body: Option<&str>, base64: bool, content_type: Option<&str>) -> lambda_http::Request {
    request(event_json(body, base64, content_type))
}

fn request(event: serde_json::Value) -> lambda_http::Request {
    let event: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
    lambda_http::Request::from(event)
}

#[test]
fn text_body_headers_method_and_source_ip() {
    let body = r#"{"event":"device.locked","id":1}"#;
    let inbound = to_inbound(event(Some(body), false, Some("application/json")), 1024).unwrap();
    assert_eq!(inbound.method, http::Method::POST);
    assert_eq!(inbound.body.as_ref(), body.as_bytes());
    assert_eq!(inbound.source_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        inbound.single_header("content-type").unwrap(),
        Some("application/json")
    );
    // Lookups are case-insensitive, as the providers' header names are mixed case.
    assert_eq!(
        inbound.single_header("X-Signature").unwrap(),
        Some("c2lnbmF0dXJl")
    );
}

#[test]
fn base64_body_is_decoded_to_the_exact_bytes() {
    // Bytes that are not UTF-8 survive: signatures cover bytes, not text.
    let raw: Vec<u8> = vec![0x7b, 0xff, 0x00, 0xc3, 0x28, 0x7d];
    // Encoded by Python, independently of the decoder under test:
    // base64.b64encode(bytes([0x7b,0xff,0x00,0xc3,0x28,0x7d])) == b'e/8Awyh9'
    let inbound = to_inbound(
        event(Some("e/8Awyh9"), true, Some("application/octet-stream")),
        1024,
    )
    .unwrap();
    assert_eq!(inbound.body.as_ref(), raw.as_slice());
}

#[test]
fn missing_content_type_and_missing_body() {
    // Function URLs base64-encode bodies that arrive without a content type.
    let encoded = base64::engine::general_purpose::STANDARD.encode("a=1&b=2");
    let inbound = to_inbound(event(Some(&encoded), true, None), 1024).unwrap();
    assert_eq!(inbound.body.as_ref(), b"a=1&b=2");
    assert_eq!(inbound.single_header("content-type").unwrap(), None);

    let inbound = to_inbound(event(None, false, None), 1024).unwrap();
    assert!(inbound.body.is_empty());
}

/// lambda_http (through `aws_lambda_events`) panics on a body marked base64 that is not: the
/// request never reaches `to_inbound`, and lambda_runtime answers the invocation with an error
/// (tests/it/lambda_entrypoint.rs). Only a direct invoke can send such an event.
#[test]
fn invalid_base64_never_becomes_a_request() {
    for bad in ["not base64!", "e/8AwyH", "e/8A wyh9", "e_8AwyH9"] {
        let event = event_json(Some(bad), true, None);
        assert!(
            std::panic::catch_unwind(|| request(event)).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn oversize_bodies_are_a_413_at_the_exact_limit() {
    let limit = 10;
    let exact = "x".repeat(limit);
    assert_eq!(
        to_inbound(event(Some(&exact), false, None), limit)
            .unwrap()
            .body
            .len(),
        limit
    );
    let reply = to_inbound(event(Some(&format!("{exact}x")), false, None), limit).unwrap_err();
    assert_eq!(reply, Reply::too_large(limit));
    assert_eq!(reply.status, 413);

    // Base64: the limit applies to the decoded bytes.
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![b'y'; n]);
    assert_eq!(
        to_inbound(event(Some(&b64(limit)), true, None), limit)
            .unwrap()
            .body
            .len(),
        limit
    );
    for n in [limit + 1, limit + 3, 1000] {
        assert_eq!(
            to_inbound(event(Some(&b64(n)), true, None), limit).unwrap_err(),
            Reply::too_large(limit),
            "{n}"
        );
    }
}

#[test]
fn the_method_comes_from_the_request_context() {
    let mut event = event_json(Some("{}"), false, None);
    event["requestContext"]["http"]["method"] = "GET".into();
    assert_eq!(
        to_inbound(request(event), 1024).unwrap().method,
        http::Method::GET
    );
}
