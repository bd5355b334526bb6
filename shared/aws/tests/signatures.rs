//! The requests as sent checked against the AWS SDK's own signer (`aws-sigv4`, which also
//! signs them): every request the adapters send reaches a stub server, which re-signs what it
//! received (method, path, headers, body, `x-amz-date`) with `aws-sigv4` and compares
//! `Authorization`. So what goes on the wire (the path as encoded, the headers added after
//! signing) is what AWS verifies, for keys with spaces, Unicode and reserved characters,
//! with a session token, for S3 (single-encoded path, signed payload) and the JSON services.
//! The S3 paths themselves are compared with the ones the SDK's S3 client sends for the same
//! keys: a path both sides sign alike would still fail at S3 if it were not S3's encoding.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use hookwarden_aws::sigv4::Credentials;
use hookwarden_aws::{AwsClient, EventBridgeBus, S3Store, SecretsManagerSource};
use hookwarden_pipeline::ports::{BusEntry, EventBus, ObjectStore, SecretSource, SecretStage};
use hookwarden_testkit::http_stub::{Answer, Recorded, StubServer};

const ACCESS_KEY: &str = "ASIAEXAMPLEKEYID";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE//session+token=";
const REGION: &str = "eu-central-1";

/// Headers the HTTP client adds after signing; AWS ignores unsigned ones.
const TRANSPORT_HEADERS: [&str; 3] = ["accept", "content-length", "authorization"];

fn answer(request: &Recorded, _: &[Recorded]) -> Answer {
    match request.header("x-amz-target") {
        Some("secretsmanager.GetSecretValue") => Answer::new(
            200,
            "application/x-amz-json-1.1",
            r#"{"SecretString":"s","VersionId":"v1"}"#,
        ),
        Some("AWSEvents.PutEvents") => Answer::new(
            200,
            "application/x-amz-json-1.1",
            r#"{"FailedEntryCount":0,"Entries":[{"EventId":"1"}]}"#,
        ),
        _ => Answer::new(200, "application/xml", ""),
    }
}

/// `Authorization` as `aws-sigv4` computes it for `request`.
fn sdk_authorization(request: &Recorded, host_url: &str) -> String {
    let service = match request.header("x-amz-target") {
        Some(target) if target.starts_with("secretsmanager.") => "secretsmanager",
        Some(target) if target.starts_with("AWSEvents.") => "events",
        _ => "s3",
    };
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let amz_date = request.header("x-amz-date").expect("x-amz-date is sent");
    let time = time::PrimitiveDateTime::parse(
        amz_date,
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .expect("x-amz-date is YYYYMMDDTHHMMSSZ")
    .assume_utc();
    let identity = aws_credential_types::Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        Some(TOKEN.to_string()),
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::from(time))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers = request
        .headers
        .iter()
        .filter(|(name, _)| !TRANSPORT_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap()));
    let signable = SignableRequest::new(
        &request.method,
        format!("{host_url}{}", request.target),
        headers,
        SignableBody::Bytes(&request.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (headers, _) = instructions.into_parts();
    headers
        .iter()
        .find(|header| header.name() == "authorization")
        .map(|header| header.value().to_string())
        .expect("aws-sigv4 gives an Authorization header")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_signed_as_the_aws_sdk_signs_it() {
    let stub = StubServer::start(answer).await;
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, Some(TOKEN.to_string()));
    let client =
        AwsClient::for_endpoint(&stub.url(), REGION, credentials, Duration::from_secs(5)).unwrap();
    let store = S3Store::new(client.clone(), "hookwarden-events");
    let keys = [
        "knox/enrollment/2026/11/23/a1b2.json",
        "knox/_state/ids/with space+plus=equals&amp;",
        "oneaccess/ünïcödé/日本/~tilde_(paren)*star'quote",
    ];
    for key in keys {
        store
            .put_if_absent(key, br#"{"event":"x"}"#.to_vec(), "application/json")
            .await
            .unwrap();
        store.put(key, b"".to_vec(), "text/plain").await.unwrap();
        store.get(key).await.unwrap();
        store.exists(key).await.unwrap();
    }
    SecretsManagerSource::new(client.clone(), "hookwarden/scalefusion")
        .fetch(SecretStage::Previous)
        .await
        .unwrap();
    EventBridgeBus::new(
        client,
        "arn:aws:events:eu-central-1:123456789012:event-bus/hooks",
    )
    .publish(&BusEntry {
        source: "hookwarden.knox".into(),
        detail_type: "Device Enrolled".into(),
        detail: r#"{"ünïcödé":"value with  two spaces"}"#.into(),
    })
    .await
    .unwrap();

    let requests = stub.requests();
    assert_eq!(requests.len(), keys.len() * 4 + 2);
    for request in &requests {
        let sent = request
            .header("authorization")
            .expect("every request is signed");
        let expected = sdk_authorization(request, &stub.url());
        assert_eq!(sent, expected, "{} {}", request.method, request.target);
        assert_eq!(request.header("x-amz-security-token"), Some(TOKEN));
    }
    // S3 gets the payload hash, and the conditional header is signed, not just sent.
    let put = &requests[0];
    assert_eq!(
        put.header("x-amz-content-sha256"),
        Some(hookwarden_aws::sigv4::sha256_hex(&put.body).as_str())
    );
    let signed = put.header("authorization").unwrap();
    assert!(signed.contains("if-none-match"), "{signed}");
    assert!(
        put.target.starts_with("/hookwarden-events/knox/"),
        "{}",
        put.target
    );
}

/// The path (query dropped) of each request `stub` received.
fn paths(stub: &StubServer) -> Vec<String> {
    stub.requests()
        .iter()
        .map(|r| r.target.split('?').next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_paths_are_encoded_as_the_aws_sdk_encodes_them() {
    let keys = [
        "knox/_state/ids/with space+plus=equals&amp;",
        "oneaccess/ünïcödé/日本/~tilde_(paren)*star'quote!$,;:@",
        "a/%41/b#c?d",
        "certs//double/slash",
    ];
    let ours = StubServer::start(answer).await;
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None);
    let client =
        AwsClient::for_endpoint(&ours.url(), REGION, credentials, Duration::from_secs(5)).unwrap();
    let store = S3Store::new(client, "hookwarden-events");
    for key in keys {
        store.put(key, b"x".to_vec(), "text/plain").await.unwrap();
    }

    let sdks = StubServer::start(answer).await;
    let sdk = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .endpoint_url(sdks.url())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_credential_types::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .force_path_style(true)
            .build(),
    );
    for key in keys {
        sdk.put_object()
            .bucket("hookwarden-events")
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(paths(&ours), paths(&sdks));
}
