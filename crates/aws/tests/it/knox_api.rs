//! `KnoxApi` against a stub Knox cloud API on loopback: the OAuth client-credentials token,
//! then the certificate download in each answer form. Certificates come from `openssl`, an
//! X.509 writer independent of the parser that reads them.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hookwarden_aws::KnoxApi;
use hookwarden_pipeline::local::StaticSecret;
use hookwarden_pipeline::ports::CertificateFetcher;
use hookwarden_testkit::http_stub::{Answer, Recorded, StubServer};
use hookwarden_verify::x509::KnoxCertificate;

const CLIENT_SECRET: &str = "s3cr3t-client-value";
const TOKEN: &str = "tok-123";

/// A self-signed RSA certificate: (PEM, DER).
fn openssl_certificate() -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("cert.pem");
    let der = dir.path().join("cert.der");
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .output()
            .expect("running openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=knox-validation.test",
        "-keyout",
        dir.path().join("key.pem").to_str().unwrap(),
        "-out",
        pem.to_str().unwrap(),
    ]);
    run(&[
        "x509",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    (
        std::fs::read_to_string(pem).unwrap(),
        std::fs::read(der).unwrap(),
    )
}

fn credentials(base_url: &str, extra: serde_json::Value) -> Arc<StaticSecret> {
    let mut secret = serde_json::json!({"client_id": "client-1", "client_secret": CLIENT_SECRET, "base_url": base_url});
    secret
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Arc::new(StaticSecret::new(secret.to_string()))
}

/// The OAuth token endpoint's answer: `TOKEN`.
fn token_answer() -> Answer {
    Answer::new(
        200,
        "application/json",
        format!(
            r#"{{"access_token":"{TOKEN}","scope":"kwn","expires_in":599,"token_type":"Bearer"}}"#
        ),
    )
}

/// Downloads from a Knox API at `url` with default credentials; the download must fail.
async fn download_error(url: String) -> hookwarden_pipeline::ports::DependencyError {
    KnoxApi::new(
        credentials(&url, serde_json::json!({})),
        Duration::from_secs(5),
    )
    .download()
    .await
    .unwrap_err()
}

/// A Knox API that hands out `TOKEN` and answers the certificate path with `certificate`.
async fn knox(certificate: Answer, certificate_path: &'static str) -> StubServer {
    StubServer::start(move |request: &Recorded, _| {
        match (request.method.as_str(), request.target.as_str()) {
            ("POST", "/ams/v1/oauth2/token") => token_answer(),
            ("GET", path) if path == certificate_path => {
                if request.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
                    certificate.clone()
                } else {
                    Answer::new(401, "application/json", r#"{"error":"unauthorized"}"#)
                }
            }
            _ => Answer::new(404, "text/html", "<html>Not Found</html>"),
        }
    })
    .await
}

fn form(request: &Recorded) -> Vec<(String, String)> {
    request
        .body_text()
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_pem_der_and_json_wrapped_certificates() {
    let (pem, der) = openssl_certificate();
    let expected = KnoxCertificate::parse(&der).unwrap();
    let json = serde_json::json!({"certificate": pem}).to_string();
    for answer in [
        Answer::new(200, "application/x-pem-file", pem.clone()),
        Answer::new(200, "application/pkix-cert", der.clone()),
        Answer::new(200, "application/json", json),
    ] {
        let stub = knox(answer, "/kwn/v1/downloadCertificate").await;
        let api = KnoxApi::new(
            credentials(&stub.url(), serde_json::json!({})),
            Duration::from_secs(5),
        );
        let bytes = api.download().await.unwrap();
        let parsed = KnoxCertificate::parse(&bytes).unwrap();
        assert_eq!(parsed.fingerprint_sha256(), expected.fingerprint_sha256());

        let requests = stub.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            requests[0].header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            form(&requests[0]),
            [
                ("grant_type".to_string(), "client_credentials".to_string()),
                ("client_id".into(), "client-1".into()),
                ("client_secret".into(), CLIENT_SECRET.into()),
            ]
        );
        assert_eq!(requests[1].target, "/kwn/v1/downloadCertificate");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_overrides_path_and_scope() {
    let (pem, _) = openssl_certificate();
    let stub = knox(
        Answer::new(200, "text/plain", pem.clone()),
        "/kcs/v1/kwn/certificate",
    )
    .await;
    let secret =
        serde_json::json!({"certificate_path": "kcs/v1/kwn/certificate", "scope": "kwn kai"});
    let api = KnoxApi::new(
        credentials(&format!("{}/", stub.url()), secret),
        Duration::from_secs(5),
    );
    assert_eq!(api.download().await.unwrap(), pem.trim().as_bytes());
    let requests = stub.requests();
    assert!(
        form(&requests[0]).contains(&("scope".into(), "kwn+kai".into())),
        "{}",
        requests[0].body_text()
    );
    assert_eq!(requests[1].target, "/kcs/v1/kwn/certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_explain_themselves_without_leaking_the_secret() {
    let (pem, _) = openssl_certificate();
    let wrong_path = knox(
        Answer::new(200, "application/x-pem-file", pem),
        "/somewhere/else",
    )
    .await;
    let refusing = StubServer::start(|_, _| {
        Answer::new(
            401,
            "application/json",
            r#"{"error":"invalid_client","error_description":"bad s3cr3t"}"#,
        )
    })
    .await;
    let html = knox(
        Answer::new(200, "text/html", "<html>login</html>"),
        "/kwn/v1/downloadCertificate",
    )
    .await;
    let broken_secret = KnoxApi::new(
        Arc::new(StaticSecret::new(format!(
            r#"{{"client_id": "c", "client_secret": {CLIENT_SECRET}}}"#
        ))),
        Duration::from_secs(5),
    );

    let errors = [
        (download_error(wrong_path.url()).await, "/kwn/v1/downloadCertificate answered 404 Not Found; if the path is wrong, set certificate_path"),
        (download_error(refusing.url()).await, "/ams/v1/oauth2/token answered 401 Unauthorized: invalid_client"),
        (download_error(html.url()).await, "answered 18 bytes of text/html holding no certificate"),
        (download_error("http://api.samsungknox.com".into()).await, "must be an https:// URL"),
        (broken_secret.download().await.unwrap_err(), "not a JSON object with string fields client_id and client_secret"),
    ];
    for (err, expected) in errors {
        assert_eq!(err.dependency, "knox-api");
        assert!(err.detail.contains(expected), "{err}\nexpected: {expected}");
        assert!(
            !err.to_string().contains(CLIENT_SECRET) && !err.to_string().contains("s3cr3t"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_api_times_out() {
    // Accepts connections, never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = KnoxApi::new(
        credentials(&url, serde_json::json!({})),
        Duration::from_millis(500),
    );
    let started = std::time::Instant::now();
    let err = api.download().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(err.detail.contains("timed out"), "{err}");
    drop(listener);
}

fn redirect(status: u16, location: &str) -> Answer {
    let mut answer = Answer::new(status, "text/plain", "moved");
    answer.headers.push(("location".into(), location.into()));
    answer
}

/// A certificate download may be handed on: a redirect to a path on the Knox API is
/// followed, with the token (which goes to the API's origin only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_on_the_api_is_followed_with_the_token() {
    let (pem, _) = openssl_certificate();
    let api_stub = {
        let pem = pem.clone();
        StubServer::start(move |request: &Recorded, _| match request.target.as_str() {
            "/ams/v1/oauth2/token" => token_answer(),
            "/kwn/v1/downloadCertificate" => redirect(302, "/kwn/v1/certificates/current"),
            "/kwn/v1/certificates/current" => {
                Answer::new(200, "application/x-pem-file", pem.clone())
            }
            _ => Answer::new(404, "text/plain", "no"),
        })
        .await
    };
    let api = KnoxApi::new(
        credentials(&api_stub.url(), serde_json::json!({})),
        Duration::from_secs(5),
    );
    assert_eq!(api.download().await.unwrap(), pem.trim().as_bytes());

    let bearer = format!("Bearer {TOKEN}");
    let at_api = api_stub.requests();
    assert_eq!(at_api.len(), 3);
    for request in &at_api[1..] {
        assert_eq!(
            request.header("authorization"),
            Some(bearer.as_str()),
            "{}",
            request.target
        );
    }
}

/// A11: whoever answers the download cannot send it to loopback (the Lambda Runtime API
/// listens there), link-local (the metadata services) or private addresses: not over
/// `http://`, not by IP address, not by `localhost`, not by a name that resolves there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_loopback_link_local_or_private_addresses_are_not_followed() {
    let (pem, _) = openssl_certificate();
    let inside =
        StubServer::start(move |_, _| Answer::new(200, "application/x-pem-file", pem.clone()))
            .await;
    let port = inside.url().rsplit_once(':').unwrap().1.to_owned();
    let mut cases = vec![
        (
            format!("http://127.0.0.1:{port}/2018-06-01/runtime/invocation/next"),
            "which is not an https:// URL; not followed",
        ),
        (
            format!("https://127.0.0.1:{port}/knox.pem"),
            "which is a loopback, link-local or private address; not followed",
        ),
        (
            format!("https://[::1]:{port}/knox.pem"),
            "which is a loopback, link-local or private address; not followed",
        ),
        (
            format!("https://localhost:{port}/knox.pem"),
            "which is a loopback, link-local or private address; not followed",
        ),
        (
            "https://169.254.169.254/latest/meta-data/iam/security-credentials/".to_owned(),
            "which is a loopback, link-local or private address; not followed",
        ),
        (
            "https://10.0.0.1/knox.pem".to_owned(),
            "which is a loopback, link-local or private address; not followed",
        ),
    ];
    // A host name that resolves to loopback: this machine's own name, where /etc/hosts maps
    // it to 127.x (Debian's default). Checked where it is resolved, not by its spelling.
    let own_name = std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    let resolves_to_loopback = !own_name.is_empty()
        && std::net::ToSocketAddrs::to_socket_addrs(&(own_name.as_str(), 443))
            .is_ok_and(|mut addrs| addrs.all(|a| a.ip().is_loopback()));
    if resolves_to_loopback {
        cases.push((
            format!("https://{own_name}:{port}/knox.pem"),
            "resolves only to loopback, link-local or private addresses; not connected",
        ));
    } else {
        eprintln!("skipped the resolved-name case: {own_name:?} does not resolve to loopback only");
    }
    for (location, expected) in cases {
        let api_stub = {
            let location = location.clone();
            StubServer::start(move |request: &Recorded, _| match request.target.as_str() {
                "/ams/v1/oauth2/token" => token_answer(),
                _ => redirect(302, &location),
            })
            .await
        };
        let err = download_error(api_stub.url()).await;
        assert!(err.detail.contains(expected), "{location}: {err}");
        assert!(inside.requests().is_empty(), "{location} was reached");
    }
}

/// Redirects that would carry a secret somewhere unchecked are not followed, and say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_that_are_not_followed() {
    let token_moved = StubServer::start(|_, _| redirect(307, "https://oauth.example/token")).await;
    let to_plain_http = StubServer::start(|request: &Recorded, _| match request.target.as_str() {
        "/ams/v1/oauth2/token" => token_answer(),
        _ => redirect(301, "http://files.example/knox.pem?X-Amz-Signature=abc123"),
    })
    .await;
    let looping = StubServer::start(|request: &Recorded, _| match request.target.as_str() {
        "/ams/v1/oauth2/token" => token_answer(),
        _ => redirect(302, "/again"),
    })
    .await;
    let err = download_error(token_moved.url()).await;
    assert!(err.detail.contains("answered 307 Temporary Redirect (a redirect to https://oauth.example/token, not followed with the client secret"), "{err}");
    assert_eq!(token_moved.requests().len(), 1);

    let err = download_error(to_plain_http.url()).await;
    assert!(
        err.detail.contains(
            r#"redirected to "http://files.example/knox.pem", which is not an https:// URL"#
        ),
        "{err}"
    );
    assert!(
        !err.detail.contains("abc123"),
        "a URL's query is not shown: {err}"
    );

    let err = download_error(looping.url()).await;
    assert!(err.detail.contains("/again answered 302 Found"), "{err}");
    // The token, the download, then three redirects followed.
    assert_eq!(looping.requests().len(), 5);
}
