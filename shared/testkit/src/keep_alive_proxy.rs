//! A reverse proxy on 127.0.0.1 that keeps client connections alive, in front of a server
//! that closes each one (moto: werkzeug 3 answers every request with `Connection: close`).
//! AWS endpoints keep connections alive; without this a benchmark would bill each client a
//! TCP connect and teardown per request that it never pays on Lambda. Each request goes to
//! the upstream on a connection of its own; the proxy's work is in its own process's figures.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

use crate::serve::{response, serve, LoopbackServer, Response};

pub struct KeepAliveProxy {
    server: LoopbackServer,
}

impl KeepAliveProxy {
    /// Forwards to `upstream` (`http://127.0.0.1:<port>`).
    pub async fn start(upstream: &str) -> KeepAliveProxy {
        let address: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the upstream is http://<ip>:<port>");
        let server = serve(move |request| forward(address, request)).await;
        KeepAliveProxy { server }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }
}

async fn forward(upstream: SocketAddr, request: hyper::Request<hyper::body::Incoming>) -> Response {
    match try_forward(upstream, request).await {
        Ok(answer) => answer,
        Err(err) => response(
            502,
            &[("content-type", "text/plain")],
            format!("proxy: {err}"),
        ),
    }
}

async fn try_forward(
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
