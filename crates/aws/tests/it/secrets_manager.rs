//! `SecretsManagerSource` against moto's Secrets Manager.

use std::time::{Duration, Instant};

use hookwarden_aws::SecretsManagerSource;
use hookwarden_pipeline::ports::{SecretSource, SecretStage};
use hookwarden_testkit::moto::MotoServer;

use crate::support::clients;

async fn source(moto: &MotoServer, secret_id: &str) -> SecretsManagerSource {
    let timeout = Duration::from_secs(2);
    let clients = clients(&moto.endpoint(), timeout).await;
    SecretsManagerSource::new(clients.secrets_manager, secret_id, timeout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_and_previous_follow_rotation() {
    let moto = MotoServer::start();
    let first = moto
        .create_secret("hookwarden/scalefusion", "first-secret")
        .await;
    let source = source(&moto, "hookwarden/scalefusion").await;

    let current = source.fetch(SecretStage::Current).await.unwrap().unwrap();
    assert_eq!(
        (current.text.as_str(), current.version_id.as_str()),
        ("first-secret", first.as_str())
    );
    // Never rotated: there is no AWSPREVIOUS.
    assert!(source.fetch(SecretStage::Previous).await.unwrap().is_none());

    let second = moto
        .put_secret_value("hookwarden/scalefusion", "second-secret")
        .await;
    assert_ne!(first, second);
    let current = source.fetch(SecretStage::Current).await.unwrap().unwrap();
    let previous = source.fetch(SecretStage::Previous).await.unwrap().unwrap();
    assert_eq!(
        (current.text.as_str(), current.version_id.as_str()),
        ("second-secret", second.as_str())
    );
    assert_eq!(
        (previous.text.as_str(), previous.version_id.as_str()),
        ("first-secret", first.as_str())
    );
    assert_eq!(
        (current.stage, previous.stage),
        (SecretStage::Current, SecretStage::Previous)
    );
    // CreatedDate is read: the rotation just happened. It starts AWSPREVIOUS's grace period.
    let now = time::OffsetDateTime::now_utc();
    for value in [&current, &previous] {
        let created = value.created.expect("GetSecretValue returns CreatedDate");
        assert!(
            (now - created).whole_seconds().abs() < 120,
            "{created} is not now ({now})"
        );
    }
    assert!(current.created >= previous.created);
    // Debug output never shows the value.
    assert!(!format!("{current:?}").contains("second-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_or_service_is_a_dependency_error() {
    let mut moto = MotoServer::start();
    let source = source(&moto, "no-such-secret").await;
    // Only a missing *previous* stage is normal; a missing secret is a configuration error.
    let err = source.fetch(SecretStage::Current).await.unwrap_err();
    assert_eq!(err.dependency, "secrets-manager");
    assert!(
        err.detail
            .contains("GetSecretValue no-such-secret AWSCURRENT"),
        "{err}"
    );
    assert!(err.detail.contains("ResourceNotFoundException"), "{err}");

    moto.stop();
    let started = Instant::now();
    let err = source.fetch(SecretStage::Current).await.unwrap_err();
    assert_eq!(err.dependency, "secrets-manager");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
