//! Several tenants behind one handler (`/<tenant>`), over the local adapters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hookwarden_pipeline::certificate::CertificateCache;
use hookwarden_pipeline::local::{files_under, StaticSecret};
use hookwarden_pipeline::ports::{DependencyError, ObjectStore, SecretSource};
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::tenants::{self, LocalTenants, TenantDirectory, TenantSecret, Tenants};
use hookwarden_pipeline::{Handler, KnoxHandler, ScalefusionHandler};
use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::{knox, scalefusion};

use crate::support::{files, post, Rig, CERT_KEY, KNOX_CERT, KNOX_KEY, NOW};

impl Rig {
    /// Stored envelopes (not state records), as paths below the store.
    fn stored(&self) -> Vec<String> {
        files(&self.root.join("store"))
            .into_iter()
            .filter(|f| !f.contains("/_") && f.ends_with(".json"))
            .collect()
    }

    fn bus(&self) -> Vec<serde_json::Value> {
        files_under(&self.root.join("bus"))
            .iter()
            .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
            .collect()
    }

    fn envelope(&self, key: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.root.join("store").join(key)).unwrap()).unwrap()
    }
}

fn sf_secret(key: &str) -> Arc<dyn SecretSource> {
    Arc::new(StaticSecret::new(
        serde_json::json!({ "secret_key": key }).to_string(),
    ))
}

fn scalefusion_tenants(rig: &Rig, directory: Arc<LocalTenants>, ttl: Duration) -> Tenants {
    let context = rig.context("scalefusion", NOW);
    let default = ScalefusionHandler::new(
        context.clone(),
        SecretCache::new(sf_secret("default-secret"), ttl),
    );
    Tenants::new(
        Arc::new(default),
        directory,
        tenants::scalefusion(context, Duration::from_secs(3600)),
        ttl,
    )
}

async fn send_sf(handler: &Tenants, path: &str, key: &str, body: &[u8]) -> u16 {
    let signature = scalefusion::sign(key.as_bytes(), body);
    handler
        .handle_at(path, post(&[("x-sf-signature", &signature)], body))
        .await
        .status
}

#[tokio::test]
async fn scalefusion_tenants_verify_with_their_own_secret_and_store_apart() {
    let rig = Rig::new();
    let directory = Arc::new(LocalTenants::new());
    directory.insert("acme", sf_secret("acme-secret"));
    directory.insert("globex", sf_secret("globex-secret"));
    // A tenant whose secret lacks its field: only that tenant fails.
    directory.insert(
        "broken",
        Arc::new(StaticSecret::new(r#"{"other": "x"}"#)) as Arc<dyn SecretSource>,
    );
    let handler = scalefusion_tenants(&rig, directory.clone(), Duration::from_secs(300));
    let body = br#"{"event":"device.enrolled","id":1}"#;

    // One body, three tenants: three events, each under its tenant's prefix.
    assert_eq!(send_sf(&handler, "/", "default-secret", body).await, 200);
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", body).await, 200);
    assert_eq!(
        send_sf(&handler, "/globex", "globex-secret", body).await,
        200
    );
    // Dedupe is per tenant.
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", body).await, 200);
    let stored = rig.stored();
    assert_eq!(stored.len(), 3, "{stored:?}");
    let acme: Vec<_> = stored
        .iter()
        .filter(|k| k.starts_with("scalefusion/tenant=acme/"))
        .collect();
    assert_eq!(acme.len(), 1, "{stored:?}");
    assert_eq!(rig.envelope(acme[0])["tenant"], "acme");
    let default: Vec<_> = stored.iter().filter(|k| !k.contains("tenant=")).collect();
    assert_eq!(default.len(), 1);
    assert!(rig.envelope(default[0]).get("tenant").is_none());
    let mut bus_tenants: Vec<_> = rig
        .bus()
        .iter()
        .map(|e| e["detail"]["tenant"].as_str().unwrap_or("-").to_string())
        .collect();
    bus_tenants.sort();
    assert_eq!(bus_tenants, ["-", "acme", "globex"]);

    // Cross-tenant forgeries: signed with another tenant's (or the default) secret.
    let other = br#"{"event":"device.enrolled","id":2}"#;
    assert_eq!(
        send_sf(&handler, "/acme", "globex-secret", other).await,
        406
    );
    assert_eq!(
        send_sf(&handler, "/globex", "acme-secret", other).await,
        406
    );
    assert_eq!(
        send_sf(&handler, "/acme", "default-secret", other).await,
        406
    );
    assert_eq!(send_sf(&handler, "/", "acme-secret", other).await, 406);
    // An unknown tenant: refused as a forgery to an existing one is.
    assert_eq!(
        send_sf(&handler, "/initech", "acme-secret", other).await,
        406
    );
    // Paths that are no tenant name: 404.
    for path in ["/acme/x", "/..", "/a%2Fb", "/tenant=acme"] {
        assert_eq!(
            send_sf(&handler, path, "acme-secret", other).await,
            404,
            "{path}"
        );
    }
    // The misconfigured tenant is 503; the others keep working.
    assert_eq!(send_sf(&handler, "/broken", "x", other).await, 503);
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", other).await, 200);
    assert_eq!(
        rig.stored().len(),
        4,
        "nothing stored for the refused requests"
    );
}

#[tokio::test]
async fn tenants_are_onboarded_and_removed_without_a_restart() {
    let rig = Rig::new();
    let directory = Arc::new(LocalTenants::new());
    // TTL 0: every request reads the directory again (the negative answer too).
    let handler = scalefusion_tenants(&rig, directory.clone(), Duration::ZERO)
        .with_negative_ttl(Duration::ZERO);
    let body = br#"{"event":"device.enrolled","id":3}"#;
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", body).await, 406);
    directory.insert("acme", sf_secret("acme-secret"));
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", body).await, 200);
    directory.remove("acme");
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", body).await, 406);
    assert_eq!(rig.stored().len(), 1);
}

#[tokio::test]
async fn an_unknown_tenant_is_remembered_and_the_cache_is_bounded() {
    let rig = Rig::new();
    let directory = Arc::new(LocalTenants::new());
    let handler =
        scalefusion_tenants(&rig, directory.clone(), Duration::from_secs(300)).with_max_cached(8);
    let body = br#"{"event":"device.enrolled","id":4}"#;
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", body).await, 406);
    // Onboarded since: still unknown until the negative answer expires (a minute).
    directory.insert("acme", sf_secret("acme-secret"));
    assert_eq!(send_sf(&handler, "/acme", "acme-secret", body).await, 406);
    for n in 0..50 {
        send_sf(&handler, &format!("/scan{n}"), "x", body).await;
    }
    assert!(handler.cached() <= 8, "{}", handler.cached());
    assert!(rig.stored().is_empty());
}

/// A Knox handler with the test certificate stored: `/` lists `own` subscriptions (none:
/// the onboarding quarantine), and each `(tenant, subscriptions)` is a tenant.
async fn knox_tenants(rig: &Rig, own: &[&str], tenants: &[(&str, &[&str])]) -> Tenants {
    rig.store
        .put(CERT_KEY, KNOX_CERT.as_bytes().to_vec(), "")
        .await
        .unwrap();
    let context = rig.context("knox", NOW);
    let default = KnoxHandler::new(
        context.clone(),
        CertificateCache::new(rig.store.clone(), CERT_KEY, None),
    )
    .allow_subscriptions(own.iter().map(|id| id.to_string()));
    let directory = Arc::new(LocalTenants::new());
    for (tenant, ids) in tenants {
        let config = serde_json::json!({ "subscription_ids": ids }).to_string();
        directory.insert(*tenant, Arc::new(StaticSecret::new(config)));
    }
    let build = tenants::knox(context, default.certificates().clone());
    Tenants::new(
        Arc::new(default),
        directory,
        build,
        Duration::from_secs(300),
    )
}

/// A callback of `subscription`, signed with the test key, sent to `path`.
async fn send_knox(
    handler: &Tenants,
    path: &str,
    subscription: &str,
) -> hookwarden_pipeline::Reply {
    let key = RsaSigningKey::from_pkcs8_pem(KNOX_KEY).unwrap();
    let body = format!(r#"{{"subscriptionId":"{subscription}","event":"KAI_BATTERY_STATUS"}}"#);
    let signature = knox::sign(body.as_bytes(), &key).unwrap();
    handler
        .handle_at(
            path,
            post(&[("x-wsm-signature", &signature)], body.as_bytes()),
        )
        .await
}

#[tokio::test]
async fn knox_tenants_share_the_certificate_and_keep_their_own_subscriptions() {
    let rig = Rig::new();
    let handler = knox_tenants(
        &rig,
        &["sub-default"],
        &[
            ("acme", &["sub-acme"]),
            ("globex", &["sub-globex", "sub-globex-2"]),
            ("empty", &[]),
        ],
    )
    .await;
    let send = |path: &'static str, subscription: &'static str| {
        let handler = &handler;
        async move { send_knox(handler, path, subscription).await.status }
    };
    assert_eq!(send("/acme", "sub-acme").await, 200);
    assert_eq!(send("/globex", "sub-globex-2").await, 200);
    assert_eq!(send("/", "sub-default").await, 200);
    // Another tenant's subscription, sent to the wrong path: refused, nothing stored.
    assert_eq!(send("/acme", "sub-globex").await, 403);
    assert_eq!(send("/globex", "sub-acme").await, 403);
    assert_eq!(send("/", "sub-acme").await, 403);
    // An unknown tenant: refused as a subscription an existing one does not list.
    assert_eq!(send("/initech", "sub-acme").await, 403);
    // A tenant with no allowlist is misconfigured, not open to every Knox customer.
    assert_eq!(send("/empty", "sub-acme").await, 503);
    let stored = rig.stored();
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert_eq!(
        stored
            .iter()
            .filter(|k| k.starts_with("knox/tenant=acme/"))
            .count(),
        1
    );
}

const OWN_KEY: &str =
    include_str!("../../../../events/tenants/test-keys/companyX-knox-test-key.pem");
const OWN_CERT: &str =
    include_str!("../../../../events/tenants/test-keys/companyX-knox-test-cert.pem");
const OWN_PIN: &str = "b0c4f569e98ccc73ff4055dc90ed6ec0e4d40036cc7b2ea3a004fbf0e5d3844c";

/// A tenant that needs its own certificate names it in its secret; the other tenants keep
/// the shared one, and neither key verifies for the other.
#[tokio::test]
async fn a_knox_tenant_can_have_its_own_certificate() {
    let rig = Rig::new();
    rig.store
        .put(CERT_KEY, KNOX_CERT.as_bytes().to_vec(), "")
        .await
        .unwrap();
    rig.store
        .put(
            "knox/_certificates/companyX.pem",
            OWN_CERT.as_bytes().to_vec(),
            "",
        )
        .await
        .unwrap();
    let context = rig.context("knox", NOW);
    let default = KnoxHandler::new(
        context.clone(),
        CertificateCache::new(rig.store.clone(), CERT_KEY, None),
    );
    let directory = Arc::new(LocalTenants::new());
    let config = |value: serde_json::Value| -> Arc<dyn SecretSource> {
        Arc::new(StaticSecret::new(value.to_string()))
    };
    directory.insert(
        "companyA",
        config(serde_json::json!({"subscription_ids": ["sub-a"]})),
    );
    directory.insert(
        "companyX",
        config(serde_json::json!({
            "subscription_ids": ["sub-x"],
            "certificate_key": "knox/_certificates/companyX.pem",
            "certificate_spki_sha256": OWN_PIN,
        })),
    );
    // Pinned to another key than the certificate's: never used.
    directory.insert(
        "companyP",
        config(serde_json::json!({
            "subscription_ids": ["sub-x"],
            "certificate_key": "knox/_certificates/companyX.pem",
            "certificate_spki_sha256": "ab".repeat(32),
        })),
    );
    // Outside the certificates folder, or no object there: misconfigured / unavailable.
    directory.insert(
        "companyE",
        config(serde_json::json!({
            "subscription_ids": ["sub-x"],
            "certificate_key": "knox/../secret.pem",
        })),
    );
    directory.insert(
        "companyM",
        config(serde_json::json!({
            "subscription_ids": ["sub-x"],
            "certificate_key": "knox/_certificates/missing.pem",
        })),
    );
    let build = tenants::knox(context, default.certificates().clone());
    let handler = Tenants::new(
        Arc::new(default),
        directory,
        build,
        Duration::from_secs(300),
    );
    let shared_key = RsaSigningKey::from_pkcs8_pem(KNOX_KEY).unwrap();
    let own_key = RsaSigningKey::from_pkcs8_pem(OWN_KEY).unwrap();
    let send = |path: &'static str, subscription: &'static str, key: &'static str| {
        let body = format!(r#"{{"subscriptionId":"{subscription}","event":"KG_DEVICE_LOCKED"}}"#);
        let key = if key == "own" { &own_key } else { &shared_key };
        let signature = knox::sign(body.as_bytes(), key).unwrap();
        let handler = &handler;
        async move {
            handler
                .handle_at(
                    path,
                    post(&[("x-wsm-signature", &signature)], body.as_bytes()),
                )
                .await
                .status
        }
    };
    assert_eq!(send("/companyX", "sub-x", "own").await, 200);
    assert_eq!(send("/companyA", "sub-a", "shared").await, 200);
    // Each key verifies only where its certificate is used.
    assert_eq!(send("/companyX", "sub-x", "shared").await, 401);
    assert_eq!(send("/companyA", "sub-a", "own").await, 401);
    assert_eq!(send("/", "sub-x", "own").await, 401);
    assert_eq!(send("/companyP", "sub-x", "own").await, 503);
    assert_eq!(send("/companyE", "sub-x", "own").await, 503);
    assert_eq!(send("/companyM", "sub-x", "own").await, 503);
    assert_eq!(rig.stored().len(), 2, "{:?}", rig.stored());
}

/// A directory that counts its lookups (Secrets Manager reads, in Lambda).
struct Counting {
    inner: Arc<LocalTenants>,
    opens: AtomicUsize,
}

#[async_trait::async_trait]
impl TenantDirectory for Counting {
    async fn open(&self, tenant: &str) -> Result<Option<TenantSecret>, DependencyError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.inner.open(tenant).await
    }
}

/// Review R3: a scan of 300 random tenant names costs a bounded number of directory reads
/// (the lookup budget, not one per name), a real tenant keeps working throughout, its
/// secret's TTL expiring mid-scan included, and before a signature is checked an unknown
/// name is answered exactly as an existing one is.
#[tokio::test]
async fn a_scan_of_random_tenant_names_costs_a_bounded_number_of_reads() {
    let rig = Rig::new();
    let local = Arc::new(LocalTenants::new());
    local.insert("acme", sf_secret("acme-secret"));
    let directory = Arc::new(Counting {
        inner: local,
        opens: AtomicUsize::new(0),
    });
    let context = rig.context("scalefusion", NOW);
    // TTL 0: acme's secret is read again on every request, during the scan too.
    let handler = Tenants::new(
        Arc::new(ScalefusionHandler::new(
            context.clone(),
            SecretCache::new(sf_secret("default-secret"), Duration::ZERO),
        )),
        directory.clone(),
        tenants::scalefusion(context, Duration::from_secs(3600)),
        Duration::ZERO,
    );
    let started = std::time::Instant::now();
    let forged = |n: usize| format!(r#"{{"event":"device.enrolled","id":{n}}}"#);
    let mut acme_reads = 0;
    for n in 0..300 {
        let body = forged(n);
        let status = send_sf(
            &handler,
            &format!("/r{n:x}q{}", n * 7919),
            "guess",
            body.as_bytes(),
        )
        .await;
        assert!(matches!(status, 406 | 503), "{n}: {status}");
        if n % 50 == 0 {
            let real = format!(r#"{{"event":"device.enrolled","id":"real-{n}"}}"#);
            assert_eq!(
                send_sf(&handler, "/acme", "acme-secret", real.as_bytes()).await,
                200,
                "the real tenant during the scan ({n})"
            );
            acme_reads += 1;
        }
    }
    let budget = tenants::LOOKUP_BURST as usize
        + (started.elapsed().as_secs_f64() / tenants::LOOKUP_REFILL.as_secs_f64()).ceil() as usize;
    let reads = directory.opens.load(Ordering::SeqCst);
    assert!(
        reads <= acme_reads + budget,
        "{reads} reads for 300 unknown names and {acme_reads} real requests"
    );
    assert_eq!(rig.stored().len(), acme_reads);

    // Not told apart before a signature is checked: a forged request to acme and one to a
    // name that does not exist get the same status and body.
    let fresh = scalefusion_tenants(
        &rig,
        Arc::new(LocalTenants::new()),
        Duration::from_secs(300),
    );
    let known = scalefusion_tenants(
        &rig,
        {
            let local = Arc::new(LocalTenants::new());
            local.insert("acme", sf_secret("acme-secret"));
            local
        },
        Duration::from_secs(300),
    );
    let body = br#"{"event":"device.enrolled","id":"forged"}"#;
    for headers in [vec![("x-sf-signature", "00")], vec![]] {
        let unknown = fresh.handle_at("/acme", post(&headers, body)).await;
        let existing = known.handle_at("/acme", post(&headers, body)).await;
        assert_eq!(
            (unknown.status, &unknown.body),
            (existing.status, &existing.body)
        );
    }
}

/// R2: with tenants on, the bare path follows the function's own rule: while no subscription
/// is listed for it, a callback there (a tenant's, or a stranger's) is quarantined, never
/// stored as the operator's own event nor published.
#[tokio::test]
async fn the_bare_path_quarantines_every_subscription_while_none_is_listed() {
    let rig = Rig::new();
    let handler = knox_tenants(&rig, &[], &[("acme", &["sub-acme"])]).await;
    let send =
        |path: &'static str, subscription: &'static str| send_knox(&handler, path, subscription);
    for subscription in ["sub-acme", "sub-stranger"] {
        let reply = send("/", subscription).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains("\"quarantined\""), "{}", reply.body);
    }
    assert!(rig.stored().is_empty(), "{:?}", rig.stored());
    assert!(rig.bus().is_empty());
    let quarantined: Vec<String> = files(&rig.root.join("store"))
        .into_iter()
        .filter(|f| f.starts_with("knox/_quarantine/"))
        .collect();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    // The tenant's own path keeps its allowlist: delivered there, refused elsewhere.
    assert_eq!(send("/acme", "sub-acme").await.status, 200);
    assert_eq!(send("/acme", "sub-stranger").await.status, 403);
    assert_eq!(rig.stored().len(), 1);
    assert_eq!(rig.bus()[0]["source"], "hookwarden.knox.tenant");
}
