//! Assembles each provider's handler from its settings and the AWS adapters. Nothing here
//! touches the network: credentials, secrets and the certificate are fetched on first use.

use std::sync::Arc;

use hookwarden_pipeline::certificate::CertificateCache;
use hookwarden_pipeline::clock::Clock;
use hookwarden_pipeline::delivery::Delivery;
use hookwarden_pipeline::ports::{CertificateFetcher, EventBus, ObjectStore};
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::{Common, KnoxHandler, OneAccessHandler, ScalefusionHandler};

use crate::{
    logging, Clients, EventBridgeBus, KnoxApi, ProviderSettings, S3Store, SecretsManagerSource,
    Settings,
};

/// JSON logs, settings from the environment (a bad one ends the cold start with one log line
/// naming it), and SDK clients.
pub async fn cold_start(provider: &'static str) -> (Settings, Clients) {
    logging::init_json_logs();
    hookwarden_pipeline::outcome::enable_metrics();
    let settings =
        Settings::from_env(provider).unwrap_or_else(|err| logging::fail_cold_start(&err));
    let clients = Clients::load(settings.dependency_timeout).await;
    (settings, clients)
}

fn common(settings: &Settings, clients: &Clients) -> Common {
    let delivery = settings.sink.as_ref().map(|sink| {
        let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(clients.s3(), &sink.bucket));
        let bus = sink.event_bus.as_ref().map(|name| {
            Arc::new(EventBridgeBus::new(clients.eventbridge(), name)) as Arc<dyn EventBus>
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
    let source = SecretsManagerSource::new(clients.secrets_manager(), secret_id);
    SecretCache::new(Arc::new(source), settings.secret_ttl)
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
    } = &settings.provider_settings
    else {
        wrong_provider(settings, "knox")
    };
    let store = Arc::new(S3Store::new(clients.s3(), cert_bucket));
    let fetcher = api_secret_id.as_ref().map(|id| {
        let credentials = SecretsManagerSource::new(clients.secrets_manager(), id);
        Arc::new(KnoxApi::new(
            Arc::new(credentials),
            settings.dependency_timeout,
        )) as Arc<dyn CertificateFetcher>
    });
    KnoxHandler::new(
        common(settings, clients),
        CertificateCache::new(store, cert_key, fetcher),
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
