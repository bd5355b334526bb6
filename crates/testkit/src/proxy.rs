//! A reverse proxy on 127.0.0.1 in front of moto that decides, request by request, what the
//! client gets: the upstream's answer (after an injected delay, standing for an AWS round
//! trip), an answer of its own (S3 `SlowDown`, EventBridge throttling), a dropped connection,
//! or none at all. It counts every request by service and operation, so a test or the
//! benchmark can say how many AWS calls an event cost as the endpoint saw them.
//!
//! It also keeps client connections alive in front of a server that closes each one (moto:
//! werkzeug 3 answers every request with `Connection: close`): AWS endpoints keep
//! connections alive, and without this a benchmark would bill each client a TCP connect and
//! teardown per request that it never pays on Lambda. Each request goes to the upstream on a
//! connection of its own; the proxy's work is in its own process's figures.
//!
//! [`Proxy::listen_tls`] adds an HTTPS listener in front of the same upstream, policy and
//! counts, with a certificate from a test CA ([`crate::tls::TestCa`]): clients then pay a TLS
//! handshake and their TLS library's start-up, as against AWS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

use crate::serve::{response, serve_or_drop, serve_or_drop_tls, LoopbackServer, Response};
use crate::tls::{TestCa, TlsError};

/// Which AWS service a request is for, from its signature's credential scope or target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    S3,
    SecretsManager,
    EventBridge,
    Other,
}

/// What the policy sees of a request.
#[derive(Debug, Clone)]
pub struct Request {
    pub service: Service,
    /// `PUT`, `GET`, `HEAD`… for S3; the `X-Amz-Target` operation (`PutEvents`,
    /// `GetSecretValue`) for the JSON services.
    pub operation: String,
    /// The path, `/bucket/key` for S3 (moto is addressed path-style).
    pub path: String,
    /// The `X-Amzn-Trace-Id` header (X-Ray), if sent.
    pub trace_header: Option<String>,
}

impl Request {
    /// `"s3 PUT"`, `"eventbridge PutEvents"`: the key of [`Proxy::counts`].
    pub fn label(&self) -> String {
        let service = match self.service {
            Service::S3 => "s3",
            Service::SecretsManager => "secretsmanager",
            Service::EventBridge => "eventbridge",
            Service::Other => "other",
        };
        format!("{service} {}", self.operation)
    }
}

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward to the upstream.
    Forward,
    /// Wait, then forward: an AWS round trip longer than loopback's.
    Delay(Duration),
    /// Answer without forwarding (a throttling or server error).
    Answer {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// Close the connection without an answer.
    Drop,
    /// Accept the request and never answer (bounded: the proxy's drop ends it).
    Hang,
}

impl Action {
    /// S3's answer above its per-prefix request rate.
    pub fn s3_slow_down() -> Action {
        Action::Answer {
            status: 503,
            content_type: "application/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into(),
        }
    }

    /// An AWS server error that carries no code a client could act on.
    pub fn internal_error() -> Action {
        Action::Answer {
            status: 500,
            content_type: "application/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>".into(),
        }
    }

    /// EventBridge's answer above the PutEvents request quota.
    pub fn eventbridge_throttled() -> Action {
        Action::Answer {
            status: 400,
            content_type: "application/x-amz-json-1.1",
            body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        }
    }
}

/// Decides each request's fate; called once per request, concurrently.
pub type Policy = Arc<dyn Fn(&Request) -> Action + Send + Sync>;

pub struct Proxy {
    server: LoopbackServer,
    tls: Option<(LoopbackServer, TestCa)>,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: SocketAddr,
    policy: Mutex<Policy>,
    counts: Mutex<BTreeMap<String, u64>>,
    answered: Mutex<BTreeMap<String, u64>>,
}

impl Proxy {
    /// Forwards everything to `upstream` (`http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str) -> Proxy {
        Self::with_policy(upstream, Arc::new(|_: &Request| Action::Forward)).await
    }

    pub async fn with_policy(upstream: &str, policy: Policy) -> Proxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the upstream is http://<ip>:<port>");
        let shared = Arc::new(Shared {
            upstream,
            policy: Mutex::new(policy),
            counts: Mutex::default(),
            answered: Mutex::default(),
        });
        let state = shared.clone();
        let server = serve_or_drop(move |request| handle(state.clone(), request)).await;
        Proxy {
            server,
            tls: None,
            shared,
        }
    }

    /// Also listens for HTTPS, with a server certificate for `localhost` and `127.0.0.1`
    /// from a fresh test CA ([`Proxy::ca_pem`]); same upstream, policy and counts.
    pub async fn listen_tls(&mut self) -> Result<(), TlsError> {
        let ca = TestCa::generate()?;
        let state = self.shared.clone();
        let server = serve_or_drop_tls(
            move |request| handle(state.clone(), request),
            ca.server_config(),
        )
        .await;
        self.tls = Some((server, ca));
        Ok(())
    }

    /// `https://localhost:<port>`, once [`Proxy::listen_tls`] has run.
    pub fn tls_url(&self) -> Option<String> {
        self.tls
            .as_ref()
            .map(|(server, _)| format!("https://localhost:{}", server.addr.port()))
    }

    /// The test CA's certificate (PEM) to trust for [`Proxy::tls_url`].
    pub fn ca_pem(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|(_, ca)| ca.ca_pem())
    }

    /// Replaces the policy for the requests that arrive from now on.
    pub fn set_policy(&self, policy: Policy) {
        *self.shared.policy.lock().expect("policy lock") = policy;
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Requests received so far, by [`Request::label`].
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.shared.counts.lock().expect("counts lock").clone()
    }

    /// Requests the proxy answered itself (throttled, failed), by [`Request::label`].
    pub fn answered(&self) -> BTreeMap<String, u64> {
        self.shared.answered.lock().expect("counts lock").clone()
    }

    /// Forgets the counts.
    pub fn reset_counts(&self) {
        self.shared.counts.lock().expect("counts lock").clear();
        self.shared.answered.lock().expect("counts lock").clear();
    }
}

fn classify(request: &hyper::Request<hyper::body::Incoming>) -> Request {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let target = header("x-amz-target");
    let (service, operation) = match target.split_once('.') {
        Some(("secretsmanager", op)) => (Service::SecretsManager, op.to_string()),
        Some(("AWSEvents", op)) => (Service::EventBridge, op.to_string()),
        _ if header("authorization").contains("/s3/aws4_request") => {
            (Service::S3, request.method().to_string())
        }
        _ => (Service::Other, request.method().to_string()),
    };
    Request {
        service,
        operation,
        path: request.uri().path().to_string(),
        trace_header: request
            .headers()
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<Response, std::io::Error> {
    let info = classify(&request);
    let label = info.label();
    *shared
        .counts
        .lock()
        .expect("counts lock")
        .entry(label.clone())
        .or_default() += 1;
    let policy = shared.policy.lock().expect("policy lock").clone();
    match policy(&info) {
        Action::Forward => {}
        Action::Delay(delay) => tokio::time::sleep(delay).await,
        Action::Answer {
            status,
            content_type,
            body,
        } => {
            *shared
                .answered
                .lock()
                .expect("counts lock")
                .entry(label)
                .or_default() += 1;
            return Ok(response(status, &[("content-type", content_type)], body));
        }
        Action::Drop => return Err(std::io::Error::other("fault injected: connection dropped")),
        Action::Hang => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            return Err(std::io::Error::other("fault injected: hung"));
        }
    }
    Ok(match forward(shared.upstream, request).await {
        Ok(answer) => answer,
        Err(err) => response(
            502,
            &[("content-type", "text/plain")],
            format!("proxy: {err}"),
        ),
    })
}

async fn forward(
    upstream: SocketAddr,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let answer = sender
        .send_request(hyper::Request::from_parts(parts, Full::new(body)))
        .await?;
    let (mut parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    // The upstream's `Connection: close` is about its own connection, not the client's.
    parts.headers.remove(hyper::header::CONNECTION);
    Ok(hyper::Response::from_parts(parts, Full::new(body)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::{Action, Proxy, Request};

    /// Sends one request over TLS to the proxy's HTTPS port, trusting `roots`, and returns
    /// what came back.
    async fn get(proxy: &Proxy, roots: rustls::RootCertStore) -> Result<String, std::io::Error> {
        let url = proxy.tls_url().expect("listening for TLS");
        let port = url.rsplit_once(':').expect("a port").1;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = ServerName::try_from("localhost").expect("a DNS name");
        let mut tls = connector.connect(name, stream).await?;
        tls.write_all(b"GET /bucket/key HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    fn slow_down_policy() -> super::Policy {
        Arc::new(|_: &Request| Action::s3_slow_down())
    }

    #[tokio::test]
    async fn the_https_listener_serves_clients_that_trust_the_test_ca_only() {
        // No upstream is reached: the policy answers itself.
        let mut proxy = Proxy::with_policy("http://127.0.0.1:9", slow_down_policy()).await;
        proxy.listen_tls().await.unwrap();
        assert!(proxy.tls_url().unwrap().starts_with("https://localhost:"));

        let mut trusted = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(proxy.ca_pem().unwrap()).unwrap() {
            trusted.add(cert.unwrap()).unwrap();
        }
        let answer = get(&proxy, trusted).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("SlowDown"), "{answer}");
        assert_eq!(proxy.counts().values().sum::<u64>(), 1);

        let untrusted = get(&proxy, rustls::RootCertStore::empty()).await;
        assert!(untrusted.is_err(), "{untrusted:?}");
        assert_eq!(proxy.counts().values().sum::<u64>(), 1);
    }
}
