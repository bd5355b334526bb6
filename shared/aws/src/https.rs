//! The HTTP client behind every outbound call (AWS and the Knox certificate API): hyper's
//! pooled HTTP/1.1 client over rustls with the roots of [`crate::tls`].
//!
//! hyper directly rather than `reqwest`: reqwest's URL parsing (IDNA included), redirect and
//! timeout layers were about 4 % of a warm event's CPU (README, Performance), and hookwarden
//! needs none of them — AWS answers are never redirects to follow, time limits are the
//! callers', and the one redirect it follows (the Knox certificate download) is followed in
//! `knox_api`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// S3 closes idle connections after about 20 s; a pooled one older than that is not reused.
/// Checked when a connection is taken from the pool, so no timer task runs in between (Lambda
/// freezes the process there anyway).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// TCP keep-alive probes, so a connection whose peer vanished is noticed.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

pub(crate) type Request = http::Request<Full<Bytes>>;
pub(crate) type Response = http::Response<Incoming>;

/// Cheap to clone: clones share the connection pool. `R` resolves host names: the system's
/// resolver, or one that filters the addresses a host may be reached at (the Knox
/// certificate download's redirects, `knox_api::PublicOnly`).
#[derive(Clone, Debug)]
pub(crate) struct HttpsClient<R = GaiResolver> {
    client: Client<HttpsConnector<HttpConnector<R>>, Full<Bytes>>,
}

impl HttpsClient {
    /// `http://` URLs are sent in the clear: callers accept them for loopback hosts only.
    pub fn new(connect_timeout: Duration) -> Self {
        Self::with_resolver(connect_timeout, GaiResolver::new())
    }
}

impl<R> HttpsClient<R>
where
    R: tower_service::Service<Name> + Clone + Send + Sync + 'static,
    R::Response: Iterator<Item = std::net::SocketAddr>,
    R::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    R::Future: Send,
{
    /// As [`HttpsClient::new`], resolving host names with `resolver`. An IP address in the
    /// URL is connected to as it is, without the resolver.
    pub fn with_resolver(connect_timeout: Duration, resolver: R) -> Self {
        let mut tcp = HttpConnector::new_with_resolver(resolver);
        // The HTTPS connector below decides the scheme.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_keepalive(Some(TCP_KEEPALIVE));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client_config().as_ref().clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Self { client }
    }

    /// Sends `request`; the error names every layer of the failure (connect, TLS, reset).
    pub async fn send(&self, request: Request) -> Result<Response, String> {
        self.client
            .request(request)
            .await
            .map_err(|err| crate::causes(&err))
    }
}

/// The body of `response`, or `Ok(None)` as soon as it passes `limit` bytes (the rest is not
/// read): every answer hookwarden reads is small, and a large one is a fault to report.
pub(crate) async fn read_limited(
    response: Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, String> {
    let mut body = response.into_body();
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| crate::causes(&err))?;
        if let Some(chunk) = frame.data_ref() {
            if read.len() + chunk.len() > limit {
                return Ok(None);
            }
            read.extend_from_slice(chunk);
        }
    }
    Ok(Some(read))
}
