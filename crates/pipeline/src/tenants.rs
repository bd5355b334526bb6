//! Many customers behind one function: the request path `/<tenant>` selects a tenant, the
//! bare path `/` is the function's own (single-tenant) configuration.
//!
//! A tenant is its configuration secret: it exists when [`TenantDirectory::open`] finds one
//! (Secrets Manager `<HOOKWARDEN_TENANT_SECRET_PREFIX><tenant>` in Lambda), so onboarding is
//! creating that secret and removing is deleting it — no redeploy, no code. Each tenant gets
//! its own handler, built on first use from the secret and kept for the secret TTL:
//! its own secret (Scalefusion, OneAccess) or subscription allowlist (Knox), its own key
//! prefix (`{prefix}/tenant={tenant}/…`, so dedupe is per tenant) and its name in every
//! envelope. A tenant whose secret is unusable answers 503 on its own path only.
//!
//! Unknown names cost little and tell nothing:
//! - "no such tenant" is remembered for [`NEGATIVE_TTL`], so a scan of one path costs one
//!   lookup a minute; at most [`MAX_CACHED_TENANTS`] tenants are remembered.
//! - Lookups of names not known here share one budget ([`LOOKUP_BURST`], then one per
//!   [`LOOKUP_REFILL`]), since a scan of random names never hits the per-name memory. Past
//!   it such a name is answered 503 with no lookup; tenants already known are refreshed
//!   outside the budget, so they keep working during a scan.
//! - An unknown tenant is answered as a forged request to an existing one would be: by the
//!   provider's own handler over a configuration no sender holds (a decoy), so its status and
//!   body do not say whether the name exists. Its log line says `unknown_tenant`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::certificate::CertificateCache;
use crate::outcome::Outcome;
use crate::ports::{DependencyError, SecretSource, SecretValue};
use crate::providers::HandlerContext;
use crate::providers::Provider;
use crate::request::{Handler, Inbound, Reply};
use crate::request_log::{RequestLog, TENANT, UNKNOWN_TENANT};
use crate::secrets::SecretCache;
use crate::{KnoxHandler, OneAccessHandler, ScalefusionHandler};

/// The longest tenant name: what fits in a Secrets Manager name and an S3 key with room to
/// spare.
pub const MAX_TENANT_NAME: usize = 64;
/// How long "no such tenant" is remembered before the directory is asked again (and so how
/// long a tenant probed just before it was onboarded keeps answering 404).
pub const NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// How many tenants (known or not) one execution environment remembers.
pub const MAX_CACHED_TENANTS: usize = 1024;
/// How many lookups of names not known here may run back to back...
pub const LOOKUP_BURST: u32 = 10;
/// ...and how often one more is allowed after that: at most 60 reads a minute per execution
/// environment, whatever a scan sends.
pub const LOOKUP_REFILL: Duration = Duration::from_secs(1);

/// What a request path selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/` (or an empty path): the function's own configuration.
    Default,
    /// `/<tenant>`, the name checked.
    Tenant(&'a str),
    /// Anything else: never a tenant, never a key.
    NotFound,
}

/// Reads a function URL path: `/` or `/<tenant>`, the name 1 to [`MAX_TENANT_NAME`] ASCII
/// letters, digits, `-` and `_`. Everything else (more segments, dots, percent-escapes) is
/// [`Route::NotFound`], so no unchecked text reaches a secret name or an S3 key.
pub fn route(path: &str) -> Route<'_> {
    let name = match path.strip_prefix('/') {
        None if path.is_empty() => return Route::Default,
        None => return Route::NotFound,
        Some("") => return Route::Default,
        Some(name) => name,
    };
    match valid_tenant(name) {
        true => Route::Tenant(name),
        false => Route::NotFound,
    }
}

/// Whether `name` is a tenant name: 1 to [`MAX_TENANT_NAME`] of `A-Z a-z 0-9 - _`.
pub fn valid_tenant(name: &str) -> bool {
    (1..=MAX_TENANT_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A tenant's configuration secret: where to read it again, and its AWSCURRENT value.
#[derive(Clone)]
pub struct TenantSecret {
    pub source: Arc<dyn SecretSource>,
    pub current: SecretValue,
}

/// Where tenants are found.
#[async_trait]
pub trait TenantDirectory: Send + Sync {
    /// The configuration secret of `tenant` (a checked name); `Ok(None)` when there is no
    /// such tenant.
    async fn open(&self, tenant: &str) -> Result<Option<TenantSecret>, DependencyError>;
}

/// Builds a tenant's handler from its name and secret; `Err` names what is wrong with the
/// secret (never its value): the tenant then answers 503 until the secret is fixed.
pub type BuildTenant =
    dyn Fn(&str, &TenantSecret) -> Result<Arc<dyn Handler>, String> + Send + Sync;

/// The function's handler with tenants: routes `/` to `default` and `/<tenant>` to the
/// tenant's own handler.
pub struct Tenants {
    provider: Provider,
    default: Arc<dyn Handler>,
    directory: Arc<dyn TenantDirectory>,
    build: Box<BuildTenant>,
    ttl: Duration,
    negative_ttl: Duration,
    max_cached: usize,
    slots: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    budget: LookupBudget,
    /// Answers unknown tenants; `None` only if the provider cannot build one (then 404).
    decoy: Option<Arc<dyn Handler>>,
}

/// Lookups of names not known here, shared by every name: a token bucket.
struct LookupBudget {
    burst: u32,
    refill: Duration,
    /// Tokens left, and when they were counted.
    state: std::sync::Mutex<(f64, Instant)>,
}

impl LookupBudget {
    fn new(burst: u32, refill: Duration) -> Self {
        Self {
            burst,
            refill,
            state: std::sync::Mutex::new((f64::from(burst), Instant::now())),
        }
    }

    fn take(&self) -> bool {
        let mut state = self.state.lock().expect("lookup budget");
        let (tokens, counted) = &mut *state;
        let earned = match self.refill.is_zero() {
            true => f64::INFINITY,
            false => counted.elapsed().as_secs_f64() / self.refill.as_secs_f64(),
        };
        *tokens = (*tokens + earned).min(f64::from(self.burst));
        *counted = Instant::now();
        match *tokens >= 1.0 {
            true => {
                *tokens -= 1.0;
                true
            }
            false => false,
        }
    }
}

/// Why a tenant's handler is not there.
enum Missing {
    /// No such tenant.
    Unknown,
    /// It could not be found out, or the tenant is broken: answer this.
    Refused(Reply, Outcome, String),
}

/// The decoy's configuration: every provider's fields (each reads its own), random values no
/// sender holds, and a subscription id no callback carries.
fn decoy_secret() -> TenantSecret {
    use rand::RngCore as _;
    let random = || {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    let text = serde_json::json!({
        "secret_key": random(),
        "bearer_token": random(),
        "signature_key": random(),
        KNOX_SUBSCRIPTIONS_FIELD: [random()],
    })
    .to_string();
    let current = SecretValue::new(text, "decoy");
    TenantSecret {
        source: Arc::new(FixedSecret(current.clone())),
        current,
    }
}

enum Slot {
    /// Not looked up yet.
    Empty,
    Known {
        handler: Arc<dyn Handler>,
        version: String,
        checked: Instant,
    },
    /// The secret exists but does not make a handler.
    Broken {
        reason: String,
        version: String,
        checked: Instant,
    },
    Unknown {
        checked: Instant,
    },
}

impl Tenants {
    /// `ttl`: how long a tenant's secret is trusted before it is read again (a new version
    /// rebuilds the tenant's handler; a deleted secret makes it unknown).
    pub fn new(
        default: Arc<dyn Handler>,
        directory: Arc<dyn TenantDirectory>,
        build: Box<BuildTenant>,
        ttl: Duration,
    ) -> Self {
        let decoy = build("unknown", &decoy_secret())
            .inspect_err(|reason| tracing::error!(%reason, "no decoy for unknown tenants; they are answered 404"))
            .ok();
        Self {
            provider: default.provider(),
            default,
            directory,
            build,
            ttl,
            negative_ttl: NEGATIVE_TTL,
            max_cached: MAX_CACHED_TENANTS,
            slots: std::sync::Mutex::new(HashMap::new()),
            budget: LookupBudget::new(LOOKUP_BURST, LOOKUP_REFILL),
            decoy,
        }
    }

    /// The budget for lookups of names not known here (tests change it).
    pub fn with_lookup_budget(mut self, burst: u32, refill: Duration) -> Self {
        self.budget = LookupBudget::new(burst, refill);
        self
    }

    /// How long an unknown tenant is remembered (tests shorten it).
    pub fn with_negative_ttl(mut self, negative_ttl: Duration) -> Self {
        self.negative_ttl = negative_ttl;
        self
    }

    /// How many tenants are remembered at most.
    pub fn with_max_cached(mut self, max_cached: usize) -> Self {
        self.max_cached = max_cached.max(1);
        self
    }

    /// How many tenants are remembered now.
    pub fn cached(&self) -> usize {
        self.slots.lock().expect("tenant slots").len()
    }

    fn slot(&self, tenant: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().expect("tenant slots");
        if let Some(slot) = slots.get(tenant) {
            return slot.clone();
        }
        if slots.len() >= self.max_cached {
            // Forget unknown tenants first (a path scan fills the map with them), then any
            // tenant not in use right now; a forgotten tenant is looked up again when needed.
            slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || !matches!(
                        slot.try_lock().as_deref(),
                        Ok(Slot::Unknown { .. } | Slot::Empty)
                    )
            });
            if slots.len() >= self.max_cached {
                let idle = slots
                    .iter()
                    .find(|(_, slot)| Arc::strong_count(slot) == 1)
                    .map(|(name, _)| name.clone());
                if let Some(name) = idle {
                    slots.remove(&name);
                }
            }
        }
        let slot = Arc::new(tokio::sync::Mutex::new(Slot::Empty));
        slots.insert(tenant.to_string(), slot.clone());
        slot
    }

    /// The tenant's handler, looking it up when it is not known or its lookup is stale.
    async fn handler(&self, tenant: &str) -> Result<Arc<dyn Handler>, Missing> {
        let slot = self.slot(tenant);
        let mut slot = slot.lock().await;
        let fresh = match &*slot {
            Slot::Empty => false,
            Slot::Known { checked, .. } | Slot::Broken { checked, .. } => {
                checked.elapsed() < self.ttl
            }
            Slot::Unknown { checked } => checked.elapsed() < self.negative_ttl,
        };
        let known = matches!(&*slot, Slot::Known { .. } | Slot::Broken { .. });
        if !fresh && !known && !self.budget.take() {
            // Existing or not, the name is not looked up now: the provider retries a 503.
            return Err(Missing::Refused(
                Reply::error(503, "temporarily unavailable, retry later"),
                Outcome::Throttled,
                "tenant lookups are over budget (a scan of tenant names?); not looked up".into(),
            ));
        }
        if !fresh {
            match self.directory.open(tenant).await {
                Ok(None) => {
                    *slot = Slot::Unknown {
                        checked: Instant::now(),
                    }
                }
                Ok(Some(secret)) => {
                    let checked = Instant::now();
                    let unchanged = match &mut *slot {
                        Slot::Known {
                            version,
                            checked: at,
                            ..
                        }
                        | Slot::Broken {
                            version,
                            checked: at,
                            ..
                        } if *version == secret.current.version_id => {
                            *at = checked;
                            true
                        }
                        _ => false,
                    };
                    if !unchanged {
                        let version = secret.current.version_id.clone();
                        *slot = match (self.build)(tenant, &secret) {
                            Ok(handler) => Slot::Known {
                                handler,
                                version,
                                checked,
                            },
                            Err(reason) => Slot::Broken {
                                reason,
                                version,
                                checked,
                            },
                        };
                    }
                }
                Err(err) => match &mut *slot {
                    // Keep serving what was known; look again after another TTL.
                    Slot::Known { checked, .. } | Slot::Broken { checked, .. } => {
                        tracing::warn!(tenant, error = %err, "tenant lookup failed; keeping the tenant as last read");
                        *checked = Instant::now();
                    }
                    _ => {
                        let failure = crate::providers::Failure::from(err);
                        return Err(Missing::Refused(
                            failure.reply,
                            failure.outcome,
                            failure.reason,
                        ));
                    }
                },
            }
        }
        match &*slot {
            Slot::Known { handler, .. } => Ok(handler.clone()),
            Slot::Broken { reason, .. } => Err(Missing::Refused(
                Reply::error(503, "temporarily unavailable, retry later"),
                Outcome::Misconfigured,
                format!("tenant secret unusable: {reason}"),
            )),
            Slot::Unknown { .. } | Slot::Empty => Err(Missing::Unknown),
        }
    }
}

fn unknown(reason: &str) -> (Reply, Outcome, String) {
    (
        Reply::error(404, "unknown tenant"),
        Outcome::UnknownTenant,
        reason.to_string(),
    )
}

#[async_trait]
impl Handler for Tenants {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn handle(&self, request: Inbound) -> Reply {
        self.default.handle(request).await
    }

    async fn handle_at(&self, path: &str, request: Inbound) -> Reply {
        let tenant = match route(path) {
            Route::Default => return self.default.handle(request).await,
            Route::Tenant(tenant) => tenant,
            Route::NotFound => {
                let (reply, outcome, reason) = unknown("the path is not /<tenant>");
                return RequestLog::start(self.provider).finish(reply, outcome, Some(&reason));
            }
        };
        let name: Arc<str> = Arc::from(tenant);
        TENANT
            .scope(Some(name), async {
                match (self.handler(tenant).await, &self.decoy) {
                    (Ok(handler), _) => handler.handle(request).await,
                    (Err(Missing::Unknown), Some(decoy)) => {
                        UNKNOWN_TENANT.scope(true, decoy.handle(request)).await
                    }
                    (Err(Missing::Unknown), None) => {
                        let (reply, outcome, reason) = unknown("no such tenant");
                        RequestLog::start(self.provider).finish(reply, outcome, Some(&reason))
                    }
                    (Err(Missing::Refused(reply, outcome, reason)), _) => {
                        RequestLog::start(self.provider).finish(reply, outcome, Some(&reason))
                    }
                }
            })
            .await
    }
}

/// The field of a Knox tenant's secret listing its subscription ids.
pub const KNOX_SUBSCRIPTIONS_FIELD: &str = "subscription_ids";

/// Scalefusion tenants: each verifies with its own secret (the single-tenant shape,
/// `{"secret_key": …}`), rotated as the function's own.
pub fn scalefusion(context: HandlerContext, previous_grace: Duration) -> Box<BuildTenant> {
    Box::new(move |tenant, secret| {
        let cache = tenant_cache(&context, previous_grace, secret);
        Ok(
            Arc::new(ScalefusionHandler::new(for_tenant(&context, tenant), cache))
                as Arc<dyn Handler>,
        )
    })
}

/// OneAccess tenants: each with its own callback settings (the single-tenant shape).
pub fn oneaccess(
    context: HandlerContext,
    previous_grace: Duration,
    replay_window: Duration,
) -> Box<BuildTenant> {
    Box::new(move |tenant, secret| {
        let cache = tenant_cache(&context, previous_grace, secret);
        Ok(Arc::new(OneAccessHandler::new(
            for_tenant(&context, tenant),
            cache,
            replay_window,
        )) as Arc<dyn Handler>)
    })
}

/// Knox tenants: one certificate for all (Samsung signs every customer with one key), each
/// tenant's own subscription allowlist from its secret, `{"subscription_ids": ["…"]}`. The
/// list is required: without it any Knox customer's callbacks would verify as the tenant's.
///
/// A tenant that needs its own certificate names it in its secret: `"certificate_key"`, an
/// object in the events bucket under `{prefix}/_certificates/` (which the function may read
/// and never overwrites), and optionally `"certificate_spki_sha256"`, its pins (comma-separated
/// hex; default: the function's `KNOX_CERT_SPKI_SHA256`). It is never downloaded.
pub fn knox(context: HandlerContext, certificates: Arc<CertificateCache>) -> Box<BuildTenant> {
    Box::new(move |tenant, secret| {
        let ids = knox_subscriptions(&secret.current)?;
        let own = knox_certificate(&context, &certificates, &secret.current)?;
        let certificates = own.map(Arc::new).unwrap_or_else(|| certificates.clone());
        Ok(Arc::new(
            KnoxHandler::sharing(for_tenant(&context, tenant), certificates)
                .allow_subscriptions(ids),
        ) as Arc<dyn Handler>)
    })
}

/// The tenant's own certificate cache, when its secret names one.
fn knox_certificate(
    context: &HandlerContext,
    shared: &CertificateCache,
    value: &SecretValue,
) -> Result<Option<CertificateCache>, String> {
    let parsed: serde_json::Value = serde_json::from_str(&value.text)
        .map_err(|_| format!("secret version {} is not JSON", value.version_id))?;
    let Some(key) = parsed.get("certificate_key") else {
        return Ok(None);
    };
    let delivery = context
        .delivery
        .as_ref()
        .ok_or("a tenant certificate needs HOOKWARDEN_BUCKET")?;
    let folder = format!("{}/_certificates/", delivery.prefix());
    let key = key
        .as_str()
        .filter(|key| {
            key.strip_prefix(&folder).is_some_and(|name| {
                !name.is_empty()
                    && name.split('/').all(|part| !matches!(part, "" | "." | ".."))
                    && name.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/')
                    })
            })
        })
        .ok_or_else(|| {
            format!(
                "secret version {}: certificate_key must be an object key under {folder}",
                value.version_id
            )
        })?;
    let pins = match parsed.get("certificate_spki_sha256") {
        None => shared.pins().to_vec(),
        Some(text) => text
            .as_str()
            .and_then(|text| hookwarden_verify::x509::SpkiPin::parse_list(text).ok())
            .ok_or_else(|| {
                format!(
                    "secret version {}: certificate_spki_sha256 must be SHA-256 digests (64 hex digits) separated by commas",
                    value.version_id
                )
            })?,
    };
    Ok(Some(
        CertificateCache::new(delivery.store().clone(), key, None).pin_keys(pins),
    ))
}

/// The subscription ids of a Knox tenant's secret; the error names the version, never text.
pub fn knox_subscriptions(value: &SecretValue) -> Result<Vec<String>, String> {
    let wrong = || {
        format!(
            "secret version {} is not {{\"{KNOX_SUBSCRIPTIONS_FIELD}\": [\"<id>\", …]}} with at least one non-empty id",
            value.version_id
        )
    };
    let parsed: serde_json::Value = serde_json::from_str(&value.text).map_err(|_| wrong())?;
    let ids = parsed
        .get(KNOX_SUBSCRIPTIONS_FIELD)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(wrong)?;
    let ids: Vec<String> = ids
        .iter()
        .map(|id| match id.as_str().map(str::trim) {
            Some(id) if !id.is_empty() && !id.chars().any(char::is_control) => Ok(id.to_string()),
            _ => Err(wrong()),
        })
        .collect::<Result<_, _>>()?;
    match ids.is_empty() {
        true => Err(wrong()),
        false => Ok(ids),
    }
}

fn for_tenant(context: &HandlerContext, tenant: &str) -> HandlerContext {
    HandlerContext {
        delivery: context.delivery.as_ref().map(|d| d.for_tenant(tenant)),
        ..context.clone()
    }
}

/// The tenant's secret cache, starting from the value just read. It is not re-read on a
/// timer: [`Tenants`] reads the secret every TTL and rebuilds the handler when its version
/// changed, so one read per TTL serves both. After a failed verification it re-reads as
/// every cache does.
fn tenant_cache(
    context: &HandlerContext,
    previous_grace: Duration,
    secret: &TenantSecret,
) -> SecretCache {
    SecretCache::new(secret.source.clone(), Duration::MAX)
        .with_previous_grace(previous_grace)
        .with_clock(context.clock.clone())
        .primed(secret.current.clone())
}

/// Tenants held in memory (for `hookwarden serve` and tests); they can be added and removed
/// while the handler runs, as secrets are in Secrets Manager.
#[derive(Default)]
pub struct LocalTenants {
    tenants: std::sync::Mutex<HashMap<String, Arc<dyn SecretSource>>>,
}

impl LocalTenants {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&self, tenant: impl Into<String>, source: Arc<dyn SecretSource>) {
        self.tenants
            .lock()
            .expect("local tenants")
            .insert(tenant.into(), source);
    }

    pub fn remove(&self, tenant: &str) {
        self.tenants.lock().expect("local tenants").remove(tenant);
    }
}

#[async_trait]
impl TenantDirectory for LocalTenants {
    async fn open(&self, tenant: &str) -> Result<Option<TenantSecret>, DependencyError> {
        let source = self
            .tenants
            .lock()
            .expect("local tenants")
            .get(tenant)
            .cloned();
        let Some(source) = source else {
            return Ok(None);
        };
        let current = source
            .fetch(crate::ports::SecretStage::Current)
            .await?
            .ok_or_else(|| DependencyError::new("local-tenants", "no current value"))?;
        Ok(Some(TenantSecret { source, current }))
    }
}

/// Tenants as files `<dir>/<tenant>.json`, each holding what the tenant's Secrets Manager
/// secret would (`hookwarden serve`): adding, editing or deleting a file onboards, changes or
/// removes a tenant while the server runs. The version id is the content's SHA-256.
pub struct DirTenants {
    dir: std::path::PathBuf,
}

impl DirTenants {
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl TenantDirectory for DirTenants {
    async fn open(&self, tenant: &str) -> Result<Option<TenantSecret>, DependencyError> {
        if !valid_tenant(tenant) {
            return Ok(None);
        }
        let path = self.dir.join(format!("{tenant}.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(DependencyError::new(
                    "local-tenants",
                    format!("{}: {err}", path.display()),
                ))
            }
        };
        let version = crate::ids::sha256_hex(text.as_bytes());
        let current = SecretValue {
            created: Some(time::OffsetDateTime::now_utc()),
            ..SecretValue::new(text, version)
        };
        let source: Arc<dyn SecretSource> = Arc::new(FixedSecret(current.clone()));
        Ok(Some(TenantSecret { source, current }))
    }
}

/// One value as AWSCURRENT, no AWSPREVIOUS.
struct FixedSecret(SecretValue);

#[async_trait]
impl SecretSource for FixedSecret {
    async fn fetch(
        &self,
        stage: crate::ports::SecretStage,
    ) -> Result<Option<SecretValue>, DependencyError> {
        Ok((stage == crate::ports::SecretStage::Current).then(|| self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_a_checked_tenant_or_nothing() {
        assert_eq!(route("/"), Route::Default);
        assert_eq!(route(""), Route::Default);
        assert_eq!(route("/acme"), Route::Tenant("acme"));
        assert_eq!(route("/Acme_2-b"), Route::Tenant("Acme_2-b"));
        let long = format!("/{}", "a".repeat(MAX_TENANT_NAME + 1));
        for path in [
            "acme",
            "/acme/",
            "/a/b",
            "/..",
            "/.",
            "/a.b",
            "/%2e%2e",
            "/a%2Fb",
            "//",
            "/tenant=x",
            "/ä",
            long.as_str(),
        ] {
            assert_eq!(route(path), Route::NotFound, "{path:?}");
        }
    }
}
