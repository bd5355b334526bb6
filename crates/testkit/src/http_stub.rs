//! An HTTP server on 127.0.0.1 that answers every request from a closure and records the
//! requests, for testing clients of third-party APIs (the Knox cloud API, a 409 from "S3").

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt as _;

use crate::serve::{response, serve, LoopbackServer};

/// A request as the stub received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the stub answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }
}

pub struct StubServer {
    server: LoopbackServer,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl StubServer {
    /// Starts the stub; `answer` sees each request and every request recorded before it.
    pub async fn start(
        answer: impl Fn(&Recorded, &[Recorded]) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let log = requests.clone();
        let server = serve(move |request: hyper::Request<hyper::body::Incoming>| {
            let (answer, log) = (answer.clone(), log.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let recorded = Recorded {
                    method: parts.method.to_string(),
                    target: parts
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    headers: parts.headers,
                    body,
                };
                let reply = {
                    let mut log = log.lock().expect("stub log lock");
                    let reply = answer(&recorded, &log);
                    log.push(recorded);
                    reply
                };
                let headers: Vec<(&str, &str)> = reply
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                response(reply.status, &headers, reply.body)
            }
        })
        .await;
        Self { server, requests }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("stub log lock").clone()
    }
}
