//! The hyper server loop the loopback harnesses share.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

pub(crate) type Response = hyper::Response<Full<Bytes>>;

/// A server on 127.0.0.1 that stops (connections included) when dropped.
pub(crate) struct LoopbackServer {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn serve<F, Fut>(handler: F) -> LoopbackServer
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let handler = Arc::new(handler);
    serve_or_drop(move |request| {
        let handler = handler.clone();
        async move { Ok(handler(request).await) }
    })
    .await
}

/// [`serve`] for a handler that may answer `Err`: the connection is then closed without an
/// answer, as a dead endpoint does.
pub(crate) async fn serve_or_drop<F, Fut>(handler: F) -> LoopbackServer
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, std::io::Error>> + Send + 'static,
{
    listen(handler, None).await
}

/// [`serve_or_drop`] over TLS with `config` (the handshake is the client's to pay, as with
/// any HTTPS endpoint).
pub(crate) async fn serve_or_drop_tls<F, Fut>(
    handler: F,
    config: Arc<rustls::ServerConfig>,
) -> LoopbackServer
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, std::io::Error>> + Send + 'static,
{
    listen(handler, Some(TlsAcceptor::from(config))).await
}

async fn listen<F, Fut>(handler: F, tls: Option<TlsAcceptor>) -> LoopbackServer
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, std::io::Error>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        // Dropping the set (when this task is aborted) aborts every connection.
        let mut connections = JoinSet::new();
        // Runs until the server is dropped, which aborts this task.
        loop {
            while connections.try_join_next().is_some() {}
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, say: wait rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let handler = handler.clone();
            let tls = tls.clone();
            connections.spawn(async move {
                let service = service_fn(move |request| {
                    let handler = handler.clone();
                    async move { handler(request).await }
                });
                // A client hanging up mid-request (or mid-handshake) is not the server's problem.
                let builder = http1::Builder::new();
                let _ = match tls {
                    None => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Err(_) => return,
                    },
                };
            });
        }
    });
    LoopbackServer { addr, task }
}

pub(crate) fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response {
    let mut builder = hyper::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(body.into()))
        .expect("a valid status and headers")
}
