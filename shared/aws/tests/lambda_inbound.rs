//! Function URL events (payload format 2.0) to the pipeline's `Inbound` (`to_inbound`), and
//! hookwarden's event and response types next to `aws_lambda_events`', the reference.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use hookwarden_aws::function_url::{Event, Response};
use hookwarden_aws::lambda::to_inbound;
use hookwarden_pipeline::request::Reply;
use hookwarden_testkit::samples::samples;

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

fn event(body: Option<&str>, base64: bool, content_type: Option<&str>) -> Event {
    serde_json::from_value(event_json(body, base64, content_type)).unwrap()
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

#[test]
fn invalid_base64_is_a_400() {
    for bad in ["not base64!", "e/8AwyH", "e/8A wyh9", "e_8AwyH9"] {
        let reply = to_inbound(event(Some(bad), true, None), 1024).unwrap_err();
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(
            reply,
            Reply::bad_request("the body is marked base64 but is not valid base64")
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

    // Base64: the limit applies to the decoded bytes. 10 bytes encode to 16 characters, 11
    // to 16 as well, so the decoded length decides; 13 bytes (20 characters) are refused
    // before decoding.
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
    // An oversize body that is also invalid base64 is refused for its size, undecoded.
    let junk = "!".repeat(100);
    assert_eq!(
        to_inbound(event(Some(&junk), true, None), limit)
            .unwrap_err()
            .status,
        413
    );
}

#[test]
fn the_method_comes_from_the_request_context() {
    let mut event = event(Some("{}"), false, None);
    event.request_context.http.method = http::Method::GET;
    assert_eq!(to_inbound(event, 1024).unwrap().method, http::Method::GET);
}

/// Every field hookwarden reads comes out as `aws_lambda_events` reads it, for the documented
/// example and for every sample event in `events/`.
#[test]
fn events_read_as_aws_lambda_events_reads_them() {
    let mut events = vec![
        event_json(Some("{}"), false, Some("application/json")),
        event_json(Some("e/8Awyh9"), true, None),
        event_json(None, false, None),
    ];
    for dir in [
        "knox",
        "scalefusion",
        "oneaccess/encrypted",
        "oneaccess/plain",
    ] {
        events.extend(samples(dir).into_iter().map(|(_, event)| event));
    }
    assert!(events.len() > 10);
    for json in events {
        let text = json.to_string();
        let ours: Event = serde_json::from_str(&text).unwrap();
        let reference: ApiGatewayV2httpRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(ours.headers, reference.headers, "{text}");
        assert_eq!(ours.body, reference.body);
        assert_eq!(ours.is_base64_encoded, reference.is_base64_encoded);
        assert_eq!(
            ours.request_context.http.method,
            reference.request_context.http.method
        );
        assert_eq!(
            ours.request_context.http.source_ip,
            reference.request_context.http.source_ip
        );
    }
}

#[test]
fn headers_null_absent_escaped_repeated_and_invalid() {
    let with_headers = |headers: &str| {
        serde_json::from_str::<Event>(&format!(
            r#"{{"headers": {headers}, "requestContext": {{"http": {{"method": "POST"}}}}}}"#
        ))
    };
    assert!(with_headers("null").unwrap().headers.is_empty());
    let absent: Event =
        serde_json::from_str(r#"{"requestContext": {"http": {"method": "PUT"}}}"#).unwrap();
    assert!(absent.headers.is_empty());
    assert_eq!(absent.request_context.http.method, http::Method::PUT);
    assert_eq!(absent.request_context.http.source_ip, None);

    let escaped = with_headers(r#"{"X-Sig\u0061": "a\"b\u00e9"}"#).unwrap();
    assert_eq!(escaped.headers["x-siga"].as_bytes(), "a\"bé".as_bytes());

    // One name twice (case differs): both kept, so the pipeline sees the ambiguity.
    let twice = with_headers(r#"{"X-WSM-SIGNATURE": "a", "x-wsm-signature": "b"}"#).unwrap();
    assert_eq!(twice.headers.get_all("x-wsm-signature").iter().count(), 2);

    for invalid in [
        r#"{"x": "\u0001"}"#,
        r#"{"bad name": "v"}"#,
        r#"{"x": ["a", "b"]}"#,
        r#"{"x": 1}"#,
        r#"["x"]"#,
    ] {
        assert!(with_headers(invalid).is_err(), "{invalid}");
    }
    assert!(serde_json::from_str::<Event>(
        r#"{"requestContext": {"http": {"method": "BAD METHOD"}}}"#
    )
    .is_err());
    assert!(serde_json::from_str::<Event>(r#"{"headers": {}}"#).is_err());
}

/// The response is what `aws_lambda_events` writes for the same reply, `cookies: []`
/// included (cargo-lambda's emulator refuses a response without it), less its empty
/// `multiValueHeaders` (optional for function URLs).
#[test]
fn responses_are_what_aws_lambda_events_writes() {
    for (status, body) in [
        (200, r#"{"status":"stored","id":"abc"}"#),
        (
            401,
            r#"{"error":"signature does not verify","x":"é\n\u0001"}"#,
        ),
    ] {
        let ours: serde_json::Value = serde_json::to_value(Response::json(status, body)).unwrap();
        let mut reference = ApiGatewayV2httpResponse::default();
        reference.status_code = i64::from(status);
        reference.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        reference.body = Some(Body::Text(body.into()));
        let mut reference = serde_json::to_value(reference).unwrap();
        let fields = reference.as_object_mut().unwrap();
        assert_eq!(fields.get("cookies"), Some(&serde_json::json!([])));
        assert_eq!(
            fields.remove("multiValueHeaders"),
            Some(serde_json::json!({}))
        );
        assert_eq!(ours, reference);
    }
}
