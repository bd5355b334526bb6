//! Assembles each provider's handler from its settings and the AWS adapters. Nothing here
//! touches the network: credentials, secrets and the certificate are fetched on first use.

use std::sync::Arc;

use hookwarden_pipeline::certificate::CertificateCache;
use hookwarden_pipeline::clock::Clock;
use hookwarden_pipeline::delivery::Delivery;
use hookwarden_pipeline::ports::{CertificateFetcher, EventBus, ObjectStore};
use hookwarden_pipeline::secrets::SecretCache;
use hookwarden_pipeline::tenants::{self, BuildTenant, Tenants};
use hookwarden_pipeline::{Common, Handler, KnoxHandler, OneAccessHandler, ScalefusionHandler};

use crate::{
    logging, tenants::SecretsManagerTenants, AwsClient, EventBridgeBus, KnoxApi, ProviderSettings,
    S3Store, SecretsManagerSource, Settings,
};

/// JSON logs, settings from the environment (a bad one ends the cold start with one log line
/// naming it), and the AWS client.
pub fn cold_start(provider: &'static str) -> (Settings, AwsClient) {
    logging::init_json_logs();
    hookwarden_pipeline::outcome::enable_metrics();
    let settings =
        Settings::from_env(provider).unwrap_or_else(|err| logging::fail_cold_start(&err));
    let client = AwsClient::from_env(settings.dependency_timeout)
        .unwrap_or_else(|err| logging::fail_cold_start(&err));
    (settings, client)
}

fn common(settings: &Settings, client: &AwsClient) -> Common {
    let delivery = settings.sink.as_ref().map(|sink| {
        let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(client.clone(), &sink.bucket));
        let bus = sink
            .event_bus
            .as_ref()
            .map(|name| Arc::new(EventBridgeBus::new(client.clone(), name)) as Arc<dyn EventBus>);
        Delivery::new(store, sink.store_events, bus, &settings.prefix)
    });
    Common {
        delivery,
        max_body: settings.max_body_bytes,
        clock: Clock::system(),
    }
}

fn secret_cache(settings: &Settings, client: &AwsClient, secret_id: &str) -> SecretCache {
    let source = SecretsManagerSource::new(client.clone(), secret_id);
    SecretCache::new(Arc::new(source), settings.secret_ttl)
        .with_previous_grace(settings.previous_secret_grace)
}

fn wrong_provider(settings: &Settings, wanted: &str) -> ! {
    logging::fail_cold_start(&format_args!(
        "settings for {} were loaded but the {wanted} handler was asked for",
        settings.provider
    ))
}

pub fn knox(settings: &Settings, client: &AwsClient) -> KnoxHandler {
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
    let store = Arc::new(S3Store::new(client.clone(), cert_bucket));
    let fetcher = api_secret_id.as_ref().map(|id| {
        let credentials = SecretsManagerSource::new(client.clone(), id);
        Arc::new(KnoxApi::new(
            Arc::new(credentials),
            settings.dependency_timeout,
        )) as Arc<dyn CertificateFetcher>
    });
    KnoxHandler::new(
        common(settings, client),
        CertificateCache::new(store, cert_key, fetcher).pin_keys(cert_spki_sha256.iter().copied()),
    )
    .allow_subscriptions(subscription_ids.iter().cloned())
    .quarantine_per_minute(*quarantine_per_minute)
}

/// `handler` for the bare path, and with `HOOKWARDEN_TENANT_SECRET_PREFIX` set, tenants at
/// `/<tenant>`, each built by `build` from its secret.
fn tenanted(
    settings: &Settings,
    client: &AwsClient,
    handler: Arc<dyn Handler>,
    build: impl FnOnce(Common) -> Box<BuildTenant>,
) -> Arc<dyn Handler> {
    let Some(prefix) = &settings.tenant_secret_prefix else {
        return handler;
    };
    let directory = Arc::new(SecretsManagerTenants::new(client.clone(), prefix));
    Arc::new(Tenants::new(
        handler,
        directory,
        build(common(settings, client)),
        settings.secret_ttl,
    ))
}

/// The Knox function's handler: [`knox`], with tenants when configured.
pub fn knox_function(settings: &Settings, client: &AwsClient) -> Arc<dyn Handler> {
    let handler = knox(settings, client);
    let certificates = handler.certificates().clone();
    tenanted(settings, client, Arc::new(handler), |common| {
        tenants::knox(common, certificates)
    })
}

/// The Scalefusion function's handler: [`scalefusion`], with tenants when configured.
pub fn scalefusion_function(settings: &Settings, client: &AwsClient) -> Arc<dyn Handler> {
    let grace = settings.previous_secret_grace;
    tenanted(
        settings,
        client,
        Arc::new(scalefusion(settings, client)),
        |common| tenants::scalefusion(common, grace),
    )
}

/// The OneAccess function's handler: [`oneaccess`], with tenants when configured.
pub fn oneaccess_function(settings: &Settings, client: &AwsClient) -> Arc<dyn Handler> {
    let ProviderSettings::OneAccess { replay_window, .. } = &settings.provider_settings else {
        wrong_provider(settings, "oneaccess")
    };
    let (grace, window) = (settings.previous_secret_grace, *replay_window);
    tenanted(
        settings,
        client,
        Arc::new(oneaccess(settings, client)),
        |common| tenants::oneaccess(common, grace, window),
    )
}

pub fn scalefusion(settings: &Settings, client: &AwsClient) -> ScalefusionHandler {
    let ProviderSettings::Scalefusion { secret_id } = &settings.provider_settings else {
        wrong_provider(settings, "scalefusion")
    };
    ScalefusionHandler::new(
        common(settings, client),
        secret_cache(settings, client, secret_id),
    )
}

pub fn oneaccess(settings: &Settings, client: &AwsClient) -> OneAccessHandler {
    let ProviderSettings::OneAccess {
        secret_id,
        replay_window,
    } = &settings.provider_settings
    else {
        wrong_provider(settings, "oneaccess")
    };
    OneAccessHandler::new(
        common(settings, client),
        secret_cache(settings, client, secret_id),
        *replay_window,
    )
}
