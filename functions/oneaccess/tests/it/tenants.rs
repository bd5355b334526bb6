//! Several OneAccess tenants behind one `oneaccess-webhook` under the Runtime API against
//! moto: each tenant's callback settings in its own secret, onboarded while the function
//! runs; a callback built with another tenant's settings, or for an unknown tenant, stores
//! nothing; a tenant whose secret is missing or unusable fails alone.

use hookwarden_testkit::deployment::Deployment;
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::oneaccess::{self, Config, MacAlgorithm};

use crate::support::{now_ms, BINARY, SECRET_ID};

const PREFIX: &str = "hookwarden/tenants/oneaccess/";

fn request(path: &str, config: &Config, msg: &str, nonce: &str) -> serde_json::Value {
    let body = oneaccess::build_request_with(
        MacAlgorithm::HmacSha256,
        "CREATE_ORGANIZATION",
        msg,
        config,
        nonce,
        now_ms(),
    )
    .unwrap();
    let bearer = format!("Bearer {}", config.bearer_token.as_str());
    let mut event = with_request(
        &samples("oneaccess/encrypted")[0].1,
        body.as_bytes(),
        &[("authorization", &bearer)],
        false,
    );
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event
}

/// A tenant's settings: the committed test settings with its own token and keys.
fn tenant_settings(base: &str, tenant: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(&test_key(base)).unwrap();
    value["bearer_token"] = format!("TEST-ONLY-{tenant}-token").into();
    value["signature_key"] = format!("TEST-ONLY-{tenant}-signature-key").into();
    if value.get("encryption_key").is_some() {
        value["encryption_key"] =
            format!("TEST-ONLY-{tenant}-aes-key-0123456789abcdef")[..32].into();
    }
    value.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_verify_with_their_own_settings() {
    let mut deployment = Deployment::prepare(BINARY).await;
    let own = test_key("oneaccess-encrypted.json");
    deployment.moto.create_secret(SECRET_ID, &own).await;
    deployment.start(
        Some("s3"),
        &[
            ("ONEACCESS_SECRET_ID", SECRET_ID),
            ("HOOKWARDEN_TENANT_SECRET_PREFIX", PREFIX),
        ],
    );
    // Onboarded after the start: an encrypted tenant, a plain one, and one whose secret is
    // not OneAccess settings.
    let acme = tenant_settings("oneaccess-encrypted.json", "acme");
    let globex = tenant_settings("oneaccess-plain.json", "globex");
    for (tenant, value) in [("acme", &acme), ("globex", &globex)] {
        deployment
            .moto
            .create_secret(&format!("{PREFIX}{tenant}"), value)
            .await;
    }
    deployment
        .moto
        .create_secret(&format!("{PREFIX}broken"), "not json")
        .await;
    let (own, acme, globex) = (
        Config::from_secret_json(&own).unwrap(),
        Config::from_secret_json(&acme).unwrap(),
        Config::from_secret_json(&globex).unwrap(),
    );
    let msg = r#"{"code":"1000003","name":"Wuhan branch"}"#;
    for (path, config, nonce) in [
        ("/", &own, "nonce-own-000001"),
        ("/acme", &acme, "nonce-acme-00001"),
        ("/globex", &globex, "nonce-globex-001"),
    ] {
        let (status, reply) = deployment.invoke(request(path, config, msg, nonce)).await;
        assert_eq!(status, 200, "{path}: {reply}");
    }
    let keys = deployment.events("oneaccess").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    for tenant in ["acme", "globex"] {
        let key = keys
            .iter()
            .find(|k| k.starts_with(&format!("oneaccess/tenant={tenant}/")))
            .unwrap_or_else(|| panic!("{tenant} in {keys:?}"));
        assert_eq!(deployment.envelope(key).await["tenant"], tenant);
    }

    // Another tenant's settings, an unknown tenant, the unusable secret: nothing stored.
    for (path, config, nonce, refused) in [
        ("/acme", &globex, "nonce-x-00000001", 401),
        ("/globex", &acme, "nonce-x-00000002", 401),
        ("/acme", &own, "nonce-x-00000003", 401),
        ("/", &acme, "nonce-x-00000004", 401),
        // Unknown: refused as a wrong token for an existing tenant.
        ("/initech", &acme, "nonce-x-00000005", 401),
        // OneAccess's own answer to a server-side failure: 500 "system busy".
        ("/broken", &acme, "nonce-x-00000006", 500),
    ] {
        let (status, reply) = deployment.invoke(request(path, config, msg, nonce)).await;
        assert_eq!(status, refused, "{path}: {reply}");
    }
    assert_eq!(deployment.events("oneaccess").await.len(), 3);
    let (status, reply) = deployment
        .invoke(request("/acme", &acme, msg, "nonce-acme-00002"))
        .await;
    assert_eq!(status, 200, "{reply}");
    deployment.assert_logs_clean(&[
        acme.bearer_token.to_string(),
        globex.bearer_token.to_string(),
    ]);
}
