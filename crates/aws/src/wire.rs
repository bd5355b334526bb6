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
use hookwarden_pipeline::{
    Handler, HandlerContext, KnoxHandler, OneAccessHandler, Provider, ScalefusionHandler,
};

use crate::sdk::Clients;
use crate::{
    logging, tenants::SecretsManagerTenants, EventBridgeBus, KnoxApi, KnoxSettings,
    OneAccessSettings, ProviderSettings, S3Store, ScalefusionSettings, SecretsManagerSource,
    Settings,
};

/// JSON logs, settings from the environment (a bad one ends the cold start with one log line
/// naming it), and the AWS SDK's clients.
pub async fn cold_start(provider: Provider) -> (Settings, Clients) {
    logging::init_json_logs();
    hookwarden_pipeline::request_log::enable_metrics();
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

fn context(settings: &Settings, clients: &Clients) -> HandlerContext {
    let delivery = settings.sink.as_ref().map(|sink| {
        let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(
            clients.s3.clone(),
            &sink.bucket,
            clients.timeout,
        ));
        let sinks = sink.sinks.clone().map_bus(|name| {
            Arc::new(EventBridgeBus::new(
                clients.eventbridge.clone(),
                &name,
                clients.timeout,
            )) as Arc<dyn EventBus>
        });
        Delivery::new(store, sinks, &settings.prefix)
    });
    HandlerContext {
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

/// The function's handler: its provider's, for the bare path, and with
/// `HOOKWARDEN_TENANT_SECRET_PREFIX` set, tenants at `/<tenant>`.
pub fn handler(settings: &Settings, clients: &Clients) -> Arc<dyn Handler> {
    let grace = settings.previous_secret_grace;
    match &settings.provider_settings {
        ProviderSettings::Knox(knox_settings) => {
            let handler = knox(settings, knox_settings, clients);
            let certificates = handler.certificates().clone();
            tenanted(settings, clients, Arc::new(handler), |context| {
                tenants::knox(context, certificates)
            })
        }
        ProviderSettings::Scalefusion(ScalefusionSettings { secret_id }) => {
            let handler = ScalefusionHandler::new(
                context(settings, clients),
                secret_cache(settings, clients, secret_id),
            );
            tenanted(settings, clients, Arc::new(handler), |context| {
                tenants::scalefusion(context, grace)
            })
        }
        ProviderSettings::OneAccess(OneAccessSettings {
            secret_id,
            replay_window,
        }) => {
            let handler = OneAccessHandler::new(
                context(settings, clients),
                secret_cache(settings, clients, secret_id),
                *replay_window,
            );
            let window = *replay_window;
            tenanted(settings, clients, Arc::new(handler), |context| {
                tenants::oneaccess(context, grace, window)
            })
        }
    }
}

fn knox(settings: &Settings, knox: &KnoxSettings, clients: &Clients) -> KnoxHandler {
    let store = Arc::new(S3Store::new(
        clients.s3.clone(),
        &knox.cert_bucket,
        clients.timeout,
    ));
    let fetcher = knox.api_secret_id.as_ref().map(|id| {
        let credentials =
            SecretsManagerSource::new(clients.secrets_manager.clone(), id, clients.timeout);
        Arc::new(KnoxApi::new(
            Arc::new(credentials),
            settings.dependency_timeout,
        )) as Arc<dyn CertificateFetcher>
    });
    KnoxHandler::new(
        context(settings, clients),
        CertificateCache::new(store, &knox.cert_key, fetcher)
            .pin_keys(knox.cert_spki_sha256.iter().copied()),
    )
    .allow_subscriptions(knox.subscription_ids.iter().cloned())
    .quarantine_per_minute(knox.quarantine_per_minute)
}

/// `handler` for the bare path, and with `HOOKWARDEN_TENANT_SECRET_PREFIX` set, tenants at
/// `/<tenant>`, each built by `build` from its secret.
fn tenanted(
    settings: &Settings,
    clients: &Clients,
    handler: Arc<dyn Handler>,
    build: impl FnOnce(HandlerContext) -> Box<BuildTenant>,
) -> Arc<dyn Handler> {
    let Some(prefix) = &settings.tenant_secret_prefix else {
        return handler;
    };
    let directory = Arc::new(SecretsManagerTenants::new(clients.clone(), prefix));
    Arc::new(Tenants::new(
        handler,
        directory,
        build(context(settings, clients)),
        settings.secret_ttl,
    ))
}
