//! Tenants as Secrets Manager secrets, against moto: a tenant exists while its secret does;
//! a secret never created, deleted, or scheduled for deletion is no tenant (404), while the
//! function's own secret missing stays an error (503).

use std::time::Duration;

use hookwarden_aws::tenants::SecretsManagerTenants;
use hookwarden_aws::SecretsManagerSource;
use hookwarden_pipeline::ports::{SecretSource, SecretStage};
use hookwarden_pipeline::tenants::TenantDirectory;
use hookwarden_testkit::moto::MotoServer;

use crate::support::clients;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_is_its_secret() {
    let moto = MotoServer::start();
    let version = moto
        .create_secret("stack/tenants/scalefusion/acme", r#"{"secret_key":"a"}"#)
        .await;
    moto.create_secret("stack/tenants/scalefusion/gone", r#"{"secret_key":"g"}"#)
        .await;
    let tenants = SecretsManagerTenants::new(
        clients(&moto.endpoint(), Duration::from_secs(2)).await,
        "stack/tenants/scalefusion/",
    );

    let acme = tenants.open("acme").await.unwrap().expect("acme exists");
    assert_eq!(acme.current.version_id, version);
    assert_eq!(acme.current.text.as_str(), r#"{"secret_key":"a"}"#);
    // The source reads the same secret again (rotation).
    let again = acme
        .source
        .fetch(SecretStage::Current)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version_id, version);

    assert!(tenants.open("initech").await.unwrap().is_none());
    // Names that are no tenant name never reach Secrets Manager.
    assert!(tenants.open("../scalefusion").await.unwrap().is_none());

    // Scheduled for deletion (InvalidRequestException on read): no longer a tenant.
    moto.secrets_manager()
        .await
        .delete_secret()
        .secret_id("stack/tenants/scalefusion/gone")
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert!(tenants.open("gone").await.unwrap().is_none());

    // The function's own secret missing is not "no tenant": it stays an error.
    let own = SecretsManagerSource::new(
        clients(&moto.endpoint(), Duration::from_secs(2))
            .await
            .secrets_manager,
        "stack/own",
        Duration::from_secs(2),
    );
    assert!(own.fetch(SecretStage::Current).await.is_err());
    assert!(own.fetch_if_exists().await.unwrap().is_none());
}
