//! `hookwarden serve`: the Lambda functions' pipeline behind a local HTTP server on
//! 127.0.0.1, with files for S3 and EventBridge and the TEST-ONLY keys compiled in, so the
//! whole flow runs with no AWS account.
//!
//! Layout under the data directory:
//! - `<provider>/<shard>/<id>.json` — stored envelopes (`<id>` the SHA-256 of what the
//!   provider signed, `<shard>` its first two hex digits), a tenant's under
//!   `<provider>/tenant=<tenant>/`;
//! - `<provider>/_state/…` — dedupe claims, publish markers and `replay --dir` markers;
//! - `knox/_quarantine/<shard>/<id>.json` — Knox callbacks kept while no subscription is
//!   listed (`knox_subscription_ids`), for `hookwarden admit`;
//! - `eventbridge/<n>.json` — one file per published bus event;
//! - `knox-certificate.pem` — the Knox certificate, written on start;
//! - `tenants/<provider>/<tenant>.json` — tenants, read on every request to
//!   `/<provider>/<tenant>` (what the tenant's Secrets Manager secret would hold), so adding
//!   or deleting a file onboards or removes a tenant while the server runs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clap::Args as ClapArgs;
use hookwarden_pipeline::certificate::CertificateCache;
use hookwarden_pipeline::clock::Clock;
use hookwarden_pipeline::delivery::{Delivery, Sinks};
use hookwarden_pipeline::local::{DirStore, FileBus, StaticSecret};
use hookwarden_pipeline::ports::{EventBus, ObjectStore};
use hookwarden_pipeline::request::DEFAULT_MAX_BODY_BYTES;
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::tenants::{self, DirTenants, Tenants};
use hookwarden_pipeline::{
    Handler, HandlerContext, Inbound, KnoxHandler, OneAccessHandler, Provider, Reply,
    ScalefusionHandler,
};
use hookwarden_verify::oneaccess::DEFAULT_REPLAY_WINDOW_SECS;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::failure::Failure;
use crate::{files, test_keys};

/// Where the Knox certificate is put in the data directory's store.
pub const KNOX_CERT_KEY: &str = "knox-certificate.pem";
/// Secrets are fixed for the life of the process; the cache only needs to hold them.
const SECRET_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Nothing rotates here: a configured previous secret (the embedded plain OneAccess config,
/// say) verifies for as long as the server runs.
const PREVIOUS_GRACE: Duration = Duration::MAX;
/// A client that has not sent its headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The providers' names, as in paths, prefixes and the index.
const PROVIDERS: [&str; 3] = [
    Provider::Knox.name(),
    Provider::Scalefusion.name(),
    Provider::OneAccess.name(),
];

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Port on 127.0.0.1; 0 picks a free one (the start line shows which).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// JSON file replacing the embedded test keys and limits (`--help` shows its shape).
    ///
    /// Every field is optional; paths are relative to the file:
    ///   {"knox_certificate": "cert.pem",
    ///    "scalefusion_secret": "sf.json", "scalefusion_previous_secret": "sf-old.json",
    ///    "oneaccess_secret": "oa.json", "oneaccess_previous_secret": "oa-old.json",
    ///    "oneaccess_replay_window_secs": 300, "max_body_bytes": 1048576,
    ///    "knox_subscription_ids": ["…"]}
    /// Secret files hold what the Secrets Manager secret would:
    ///   Scalefusion {"secret_key": "…"};
    ///   OneAccess {"bearer_token", "signature_key", "encryption_key",
    ///              "encryption_mode": "gcm"|"ecb", "allow_unsigned"}.
    /// Naming a provider's secret replaces both embedded values (current and previous).
    /// Knox subscriptions: with the embedded certificate, the samples' are listed; with
    /// `knox_certificate` (or an empty list) none is unless named, and every verified Knox
    /// callback is quarantined under DATA/knox/_quarantine/ (see `hookwarden admit`).
    #[arg(long, value_name = "FILE", verbatim_doc_comment)]
    config: Option<PathBuf>,
    /// Directory for stored events, dedupe state and bus events.
    #[arg(long, value_name = "DIR", default_value = ".hookwarden")]
    data: PathBuf,
}

/// `--config FILE`: what to use instead of the embedded TEST-ONLY keys.
///
/// ```json
/// {
///   "knox_certificate": "knox-cert.pem",
///   "scalefusion_secret": "scalefusion.json",
///   "scalefusion_previous_secret": "scalefusion-old.json",
///   "oneaccess_secret": "oneaccess.json",
///   "oneaccess_previous_secret": "oneaccess-old.json",
///   "oneaccess_replay_window_secs": 300,
///   "max_body_bytes": 1048576,
///   "knox_subscription_ids": ["123456789123"]
/// }
/// ```
///
/// Every field is optional; paths are relative to the config file. A provider's secret files
/// hold what its Secrets Manager secret would (AWSCURRENT, and AWSPREVIOUS for the
/// `_previous_` ones). Naming a provider's current secret replaces both embedded values for
/// that provider, so its previous one is then only what the file names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub knox_certificate: Option<PathBuf>,
    pub scalefusion_secret: Option<PathBuf>,
    pub scalefusion_previous_secret: Option<PathBuf>,
    pub oneaccess_secret: Option<PathBuf>,
    pub oneaccess_previous_secret: Option<PathBuf>,
    pub oneaccess_replay_window_secs: Option<u64>,
    pub max_body_bytes: Option<usize>,
    /// `KNOX_SUBSCRIPTION_IDS`; unset: the samples' with the embedded certificate, none
    /// (quarantine) with a configured one.
    pub knox_subscription_ids: Option<Vec<String>>,
}

/// Key material in the form the pipeline reads it, checked before the server starts.
struct Keys {
    knox_certificate: Vec<u8>,
    scalefusion: (String, Option<String>),
    oneaccess: (String, Option<String>),
}

impl ServeConfig {
    fn load(path: &Path) -> Result<Self, Failure> {
        let text = files::read_bytes(path, "config file")?;
        serde_json::from_slice(&text).map_err(|err| {
            Failure::input(format!(
                "config file {}: {err} (see `hookwarden serve --help`)",
                path.display()
            ))
        })
    }

    fn keys(&self, base: &Path) -> Result<Keys, Failure> {
        let read = |path: &PathBuf, what: &str| files::read_text(&base.join(path), what);
        let pair = |current: &Option<PathBuf>,
                    previous: &Option<PathBuf>,
                    embedded: (&str, Option<&str>),
                    name: &str|
         -> Result<(String, Option<String>), Failure> {
            match (current, previous) {
                (Some(current), previous) => Ok((
                    read(current, &format!("{name}_secret"))?,
                    previous
                        .as_ref()
                        .map(|p| read(p, &format!("{name}_previous_secret")))
                        .transpose()?,
                )),
                (None, Some(_)) => Err(Failure::input(format!(
                    "config file: {name}_previous_secret needs {name}_secret as well"
                ))),
                (None, None) => Ok((embedded.0.to_string(), embedded.1.map(str::to_string))),
            }
        };
        let knox_certificate = match &self.knox_certificate {
            Some(path) => files::read_bytes(&base.join(path), "knox_certificate")?,
            None => test_keys::KNOX_CERT_PEM.as_bytes().to_vec(),
        };
        Ok(Keys {
            knox_certificate,
            scalefusion: pair(
                &self.scalefusion_secret,
                &self.scalefusion_previous_secret,
                (test_keys::SCALEFUSION_SECRET_JSON, None),
                "scalefusion",
            )?,
            // Two configs with different signature keys: each sample's signature picks its own.
            oneaccess: pair(
                &self.oneaccess_secret,
                &self.oneaccess_previous_secret,
                (
                    test_keys::ONEACCESS_ENCRYPTED_JSON,
                    Some(test_keys::ONEACCESS_PLAIN_JSON),
                ),
                "oneaccess",
            )?,
        })
    }
}

impl Keys {
    /// Fails now, with the file named, rather than with a 503 on the first request.
    fn check(&self, now_unix: i64) -> Result<(), Failure> {
        let certificate = test_keys::knox_certificate(&self.knox_certificate, "knox certificate")?;
        if !certificate.is_valid_at(now_unix) {
            return Err(Failure::input(format!(
                "the knox certificate is valid only from {} to {} (unix seconds)",
                certificate.not_before(),
                certificate.not_after()
            )));
        }
        let (current, previous) = &self.scalefusion;
        for text in std::iter::once(current).chain(previous) {
            test_keys::scalefusion_secret(text, "scalefusion secret")?;
        }
        let (current, previous) = &self.oneaccess;
        for text in std::iter::once(current).chain(previous) {
            test_keys::oneaccess_config(text, "oneaccess secret")?;
        }
        Ok(())
    }
}

/// The three handlers (each with its tenants) and what `GET /` reports.
struct App {
    knox: Arc<dyn Handler>,
    scalefusion: Arc<dyn Handler>,
    oneaccess: Arc<dyn Handler>,
    max_body: usize,
    index: String,
}

fn source(pair: (String, Option<String>)) -> Arc<StaticSecret> {
    let secret = StaticSecret::new(pair.0);
    Arc::new(match pair.1 {
        Some(previous) => secret.with_previous(previous),
        None => secret,
    })
}

impl App {
    async fn build(
        data: &Path,
        config: &ServeConfig,
        keys: Keys,
        keys_from: &str,
    ) -> Result<Self, Failure> {
        let store = Arc::new(DirStore::new(data));
        store
            .put(
                KNOX_CERT_KEY,
                keys.knox_certificate,
                "application/x-pem-file",
            )
            .await
            .map_err(|err| Failure::input(format!("cannot write the knox certificate: {err}")))?;
        let store: Arc<dyn ObjectStore> = store;
        let bus: Arc<dyn EventBus> = Arc::new(FileBus::new(data.join("eventbridge")));
        let max_body = config.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        let context = |provider: Provider| HandlerContext {
            delivery: Some(Delivery::new(
                store.clone(),
                Sinks::S3AndEventBridge(bus.clone()),
                provider.name(),
            )),
            max_body,
            clock: Clock::system(),
        };
        let replay_window = config
            .oneaccess_replay_window_secs
            .unwrap_or(DEFAULT_REPLAY_WINDOW_SECS);
        let index = serde_json::json!({
            "service": "hookwarden serve",
            "routes": PROVIDERS.map(|p| serde_json::json!({"method": "POST", "path": format!("/{p}"), "provider": p})),
            "tenant_routes": PROVIDERS.map(|p| serde_json::json!({"method": "POST", "path": format!("/{p}/<tenant>"), "provider": p, "tenants": data.join("tenants").join(p).display().to_string()})),
            "data_dir": data.display().to_string(),
            "events": PROVIDERS.map(|p| data.join(p).display().to_string()),
            "eventbridge": data.join("eventbridge").display().to_string(),
            "keys": keys_from,
            "max_body_bytes": max_body,
            "oneaccess_replay_window_secs": replay_window,
        });
        let subscriptions = match (&config.knox_subscription_ids, &config.knox_certificate) {
            (Some(ids), _) => ids.clone(),
            (None, None) => test_keys::sample_knox_subscriptions(),
            (None, Some(_)) => Vec::new(),
        };
        let knox = KnoxHandler::new(
            context(Provider::Knox),
            CertificateCache::new(store.clone(), KNOX_CERT_KEY, None),
        )
        .allow_subscriptions(subscriptions);
        let certificates = knox.certificates().clone();
        let replay_window = Duration::from_secs(replay_window);
        // Tenants are files, read on every request: no cache to wait out after an edit.
        let with_tenants = |provider: &str, handler: Arc<dyn Handler>, build| {
            let directory = Arc::new(DirTenants::new(data.join("tenants").join(provider)));
            Arc::new(
                Tenants::new(handler, directory, build, Duration::ZERO)
                    .with_negative_ttl(Duration::ZERO),
            ) as Arc<dyn Handler>
        };
        Ok(Self {
            knox: with_tenants(
                "knox",
                Arc::new(knox),
                tenants::knox(context(Provider::Knox), certificates),
            ),
            scalefusion: with_tenants(
                "scalefusion",
                Arc::new(ScalefusionHandler::new(
                    context(Provider::Scalefusion),
                    SecretCache::new(source(keys.scalefusion), SECRET_TTL)
                        .with_previous_grace(PREVIOUS_GRACE),
                )),
                tenants::scalefusion(context(Provider::Scalefusion), PREVIOUS_GRACE),
            ),
            oneaccess: with_tenants(
                "oneaccess",
                Arc::new(OneAccessHandler::new(
                    context(Provider::OneAccess),
                    SecretCache::new(source(keys.oneaccess), SECRET_TTL)
                        .with_previous_grace(PREVIOUS_GRACE),
                    replay_window,
                )),
                tenants::oneaccess(context(Provider::OneAccess), PREVIOUS_GRACE, replay_window),
            ),
            max_body,
            index: index.to_string(),
        })
    }

    async fn respond(&self, request: hyper::Request<Incoming>, peer: SocketAddr) -> Reply {
        let path = request.uri().path();
        if path == "/" {
            return match request.method() == http::Method::GET {
                true => Reply::json(200, self.index.clone()),
                false => Reply::error(405, "only GET is served at /"),
            };
        }
        // `/<provider>` is the function URL's `/`, `/<provider>/<tenant>` its `/<tenant>`.
        let (provider, rest) = match path[1..].split_once('/') {
            Some((provider, rest)) => (provider, format!("/{rest}")),
            None => (&path[1..], "/".to_string()),
        };
        let handler = match provider {
            "knox" => self.knox.clone(),
            "scalefusion" => self.scalefusion.clone(),
            "oneaccess" => self.oneaccess.clone(),
            _ => {
                return Reply::error(
                    404,
                    "no such route; POST to /knox, /scalefusion or /oneaccess, or to \
                     /<provider>/<tenant>",
                )
            }
        };
        let (parts, body) = request.into_parts();
        let body = match read_capped(body, self.max_body).await {
            Ok(body) => body,
            Err(_) => return Reply::bad_request("the request body could not be read"),
        };
        let request = Inbound {
            method: parts.method,
            headers: parts.headers,
            body,
            source_ip: Some(peer.ip().to_string()),
        };
        handler.handle_at(&rest, request).await
    }
}

/// At most `cap + 1` bytes of the body: enough for the handler to answer 413, never an
/// unbounded buffer.
async fn read_capped(mut body: Incoming, cap: usize) -> Result<Bytes, hyper::Error> {
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = cap + 1 - buffer.len();
            buffer.extend_from_slice(&data[..data.len().min(room)]);
            if buffer.len() > cap {
                break;
            }
        }
    }
    Ok(buffer.freeze())
}

fn to_response(reply: Reply) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

pub async fn run(args: Args) -> Result<(), Failure> {
    let (config, base, keys_from) = match &args.config {
        Some(path) => {
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (
                ServeConfig::load(path)?,
                base,
                format!("from {}", path.display()),
            )
        }
        None => (
            ServeConfig::default(),
            PathBuf::new(),
            "embedded TEST-ONLY keys from events/test-keys".to_string(),
        ),
    };
    let keys = config.keys(&base)?;
    keys.check(time::OffsetDateTime::now_utc().unix_timestamp())?;
    std::fs::create_dir_all(&args.data).map_err(|err| {
        Failure::input(format!(
            "cannot create the data directory {}: {err}",
            args.data.display()
        ))
    })?;
    let data = std::path::absolute(&args.data)
        .map_err(|err| Failure::input(format!("data directory {}: {err}", args.data.display())))?;
    let app = Arc::new(App::build(&data, &config, keys, &keys_from).await?);

    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|err| {
            Failure::input(format!("cannot listen on 127.0.0.1:{}: {err}", args.port))
        })?;
    let port = listener
        .local_addr()
        .map_err(|err| Failure::input(format!("cannot read the listening address: {err}")))?
        .port();
    init_logging();
    println!(
        "hookwarden serve: listening on http://127.0.0.1:{port} ({}); events under {}",
        PROVIDERS.join(", "),
        data.display()
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(to_response(app.respond(request, peer).await)) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
}

/// Request log lines on stderr (`RUST_LOG`: a level and/or `target=level` pairs; default
/// info); stdout keeps the start line.
fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let _ = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(std::io::stderr)
        .finish()
        .with(filter)
        .try_init();
}
