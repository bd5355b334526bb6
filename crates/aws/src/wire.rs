//! Assembles each provider's handler from its settings and the AWS adapters. Nothing here
//! touches the network but [`warm_up`]: credentials, secrets and the certificate are fetched
//! on first use.

use std::sync::Arc;

use hookwarden_pipeline::certificate::CertificateCache;
use hookwarden_pipeline::clock::Clock;
use hookwarden_pipeline::delivery::Delivery;
use hookwarden_pipeline::ports::{CertificateFetcher, EventBus, ObjectStore};
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::tenants::{self, BuildTenant, Tenants};
use hookwarden_pipeline::{Common, Handler, KnoxHandler, OneAccessHandler, ScalefusionHandler};

use crate::sdk::Clients;
use crate::{
    logging, tenants::SecretsManagerTenants, EventBridgeBus, KnoxApi, ProviderSettings, S3Store,
    SecretsManagerSource, Settings,
};

/// JSON logs, settings from the environment (a bad one ends the cold start with one log line
/// naming it), and the AWS SDK's clients.
pub async fn cold_start(provider: &'static str) -> (Settings, Clients) {
    logging::init_json_logs();
    hookwarden_pipeline::outcome::enable_metrics();
    let settings =
        Settings::from_env(provider).unwrap_or_else(|err| logging::fail_cold_start(&err));
    let clients = Clients::from_env(settings.dependency_timeout).await;
    warm_up(&settings, &clients).await;
    (settings, clients)
}

/// The key Init asks S3 about: under the function's own prefix (which its role may read and
/// list, so the answer is a 404, not a 403), never written.
const WARM_UP_KEY: &str = "_state/warm-up";

/// Opens the S3 connection during Init, with one HeadObject: its TLS handshake, and the
/// first use of AWS-LC's random generator (whose CPU-jitter seeding costs tens of
/// milliseconds), run on the boosted CPU Lambda gives Init instead of in the first request,
/// which at 128 MB gets a fourteenth of a core. The answer does not matter: a failure here
/// shows again, and is reported, on the first request that needs S3.
async fn warm_up(settings: &Settings, clients: &Clients) {
    let Some(sink) = &settings.sink else { return };
    let store = S3Store::new(clients.s3.clone(), &sink.bucket, clients.timeout);
    let key = format!("{}/{WARM_UP_KEY}", settings.prefix);
    if let Err(err) = store.exists(&key).await {
        tracing::debug!(error = %err, "the S3 connection was not opened during Init");
    }
}

fn common(settings: &Settings, clients: &Clients) -> Common {
    let delivery = settings.sink.as_ref().map(|sink| {
        let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(
            clients.s3.clone(),
            &sink.bucket,
            clients.timeout,
        ));
        let bus = sink.event_bus.as_ref().map(|name| {
            Arc::new(EventBridgeBus::new(
                clients.eventbridge.clone(),
                name,
                clients.timeout,
            )) as Arc<dyn EventBus>
        });
        Delivery::new(store, sink.store_events, bus, &settings.prefix)
    });
    Common {
        delivery,
        max_body: settings.max_body_bytes,
        clock: Clock::system(),
    }
}

fn secret_cache(settings: &Settings, clients: &Clients, secret_id: &str) -> SecretCache {
    let source =
        SecretsManagerSource::new(clients.secrets_manager.clone(), secret_id, clients.timeout);
    SecretCache::new(Arc::new(source), settings.secret_ttl)
        .with_previous_grace(settings.previous_secret_grace)
}

fn wrong_provider(settings: &Settings, wanted: &str) -> ! {
    logging::fail_cold_start(&format_args!(
        "settings for {} were loaded but the {wanted} handler was asked for",
        settings.provider
    ))
}

pub fn knox(settings: &Settings, clients: &Clients) -> KnoxHandler {
    let ProviderSettings::Knox {
        cert_bucket,
        cert_key,
        api_secret_id,
        cert_spki_sha256,
        subscription_ids,
        quarantine_per_minute,
    } = &settings.provider_settings
    else {
        wrong_provider(settings, "knox")
    };
    let store = Arc::new(S3Store::new(
        clients.s3.clone(),
        cert_bucket,
        clients.timeout,
    ));
    let fetcher = api_secret_id.as_ref().map(|id| {
        let credentials =
            SecretsManagerSource::new(clients.secrets_manager.clone(), id, clients.timeout);
        Arc::new(KnoxApi::new(
            Arc::new(credentials),
            settings.dependency_timeout,
        )) as Arc<dyn CertificateFetcher>
    });
    KnoxHandler::new(
        common(settings, clients),
        CertificateCache::new(store, cert_key, fetcher).pin_keys(cert_spki_sha256.iter().copied()),
    )
    .allow_subscriptions(subscription_ids.iter().cloned())
    .quarantine_per_minute(*quarantine_per_minute)
}

/// `handler` for the bare path, and with `HOOKWARDEN_TENANT_SECRET_PREFIX` set, tenants at
/// `/<tenant>`, each built by `build` from its secret.
fn tenanted(
    settings: &Settings,
    clients: &Clients,
    handler: Arc<dyn Handler>,
    build: impl FnOnce(Common) -> Box<BuildTenant>,
) -> Arc<dyn Handler> {
    let Some(prefix) = &settings.tenant_secret_prefix else {
        return handler;
    };
    let directory = Arc::new(SecretsManagerTenants::new(clients.clone(), prefix));
    Arc::new(Tenants::new(
        handler,
        directory,
        build(common(settings, clients)),
        settings.secret_ttl,
    ))
}

/// The Knox function's handler: [`knox`], with tenants when configured.
pub fn knox_function(settings: &Settings, clients: &Clients) -> Arc<dyn Handler> {
    let handler = knox(settings, clients);
    let certificates = handler.certificates().clone();
    tenanted(settings, clients, Arc::new(handler), |common| {
        tenants::knox(common, certificates)
    })
}

/// The Scalefusion function's handler: [`scalefusion`], with tenants when configured.
pub fn scalefusion_function(settings: &Settings, clients: &Clients) -> Arc<dyn Handler> {
    let grace = settings.previous_secret_grace;
    tenanted(
        settings,
        clients,
        Arc::new(scalefusion(settings, clients)),
        |common| tenants::scalefusion(common, grace),
    )
}

/// The OneAccess function's handler: [`oneaccess`], with tenants when configured.
pub fn oneaccess_function(settings: &Settings, clients: &Clients) -> Arc<dyn Handler> {
    let ProviderSettings::OneAccess { replay_window, .. } = &settings.provider_settings else {
        wrong_provider(settings, "oneaccess")
    };
    let (grace, window) = (settings.previous_secret_grace, *replay_window);
    tenanted(
        settings,
        clients,
        Arc::new(oneaccess(settings, clients)),
        |common| tenants::oneaccess(common, grace, window),
    )
}

pub fn scalefusion(settings: &Settings, clients: &Clients) -> ScalefusionHandler {
    let ProviderSettings::Scalefusion { secret_id } = &settings.provider_settings else {
        wrong_provider(settings, "scalefusion")
    };
    ScalefusionHandler::new(
        common(settings, clients),
        secret_cache(settings, clients, secret_id),
    )
}

pub fn oneaccess(settings: &Settings, clients: &Clients) -> OneAccessHandler {
    let ProviderSettings::OneAccess {
        secret_id,
        replay_window,
    } = &settings.provider_settings
    else {
        wrong_provider(settings, "oneaccess")
    };
    OneAccessHandler::new(
        common(settings, clients),
        secret_cache(settings, clients, secret_id),
        *replay_window,
    )
}
