//! Several Knox tenants behind one `knox-webhook` under the Runtime API against moto: one
//! certificate (Samsung signs every customer with one key), each tenant's subscription
//! allowlist in its own secret, onboarded while the function runs. A callback of one
//! tenant's subscription sent to another tenant's path, or to an unknown tenant, stores
//! nothing; a tenant whose secret is unusable fails alone.

use hookwarden_testkit::deployment::{Deployment, BUCKET};
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::knox;
use hookwarden_verify::rsa::RsaSigningKey;

use crate::support::{BINARY, CERT_KEY, MACHINE};

const PREFIX: &str = "hookwarden/tenants/knox/";

fn signed(path: &str, subscription: &str, device: &str) -> serde_json::Value {
    signed_with(&test_key("knox-test-key.pem"), path, subscription, device)
}

fn signed_with(key: &str, path: &str, subscription: &str, device: &str) -> serde_json::Value {
    let body = format!(
        r#"{{"subscriptionId":"{subscription}","event":"KG_DEVICE_LOCKED","payload":{{"deviceUid":"{device}"}}}}"#
    );
    let key = RsaSigningKey::from_pkcs8_pem(key).unwrap();
    let signature = knox::sign(body.as_bytes(), &key).unwrap();
    let mut event = with_request(
        &samples("knox")[0].1,
        body.as_bytes(),
        &[("x-wsm-signature", &signature)],
        false,
    );
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_keep_their_own_subscriptions() {
    let _machine = MACHINE.read().await;
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment
        .moto
        .put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
    deployment.start(
        Some("s3"),
        &[
            ("KNOX_CERT_KEY", CERT_KEY),
            ("KNOX_SUBSCRIPTION_IDS", "sub-own"),
            ("HOOKWARDEN_TENANT_SECRET_PREFIX", PREFIX),
        ],
    );
    let ids = |ids: &[&str]| serde_json::json!({ "subscription_ids": ids }).to_string();
    deployment
        .moto
        .create_secret(&format!("{PREFIX}companyA"), &ids(&["sub-a"]))
        .await;
    deployment
        .moto
        .create_secret(&format!("{PREFIX}companyB"), &ids(&["sub-b1", "sub-b2"]))
        .await;
    deployment
        .moto
        .create_secret(&format!("{PREFIX}companyC"), r#"{"subscription_ids": []}"#)
        .await;

    for (path, subscription) in [
        ("/", "sub-own"),
        ("/companyA", "sub-a"),
        ("/companyB", "sub-b2"),
    ] {
        let (status, reply) = deployment.invoke(signed(path, subscription, "d1")).await;
        assert_eq!(status, 200, "{path}: {reply}");
    }
    let keys = deployment.events("knox").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    let key = keys
        .iter()
        .find(|k| k.starts_with("knox/tenant=companyA/"))
        .expect("companyA's event under its prefix");
    assert_eq!(deployment.envelope(key).await["tenant"], "companyA");

    for (path, subscription, refused) in [
        ("/companyA", "sub-b1", 403),
        ("/companyB", "sub-a", 403),
        ("/companyA", "sub-own", 403),
        ("/", "sub-a", 403),
        // Unknown: refused as a subscription an existing tenant does not list.
        ("/companyD", "sub-a", 403),
        ("/companyC", "sub-a", 503),
    ] {
        let (status, reply) = deployment.invoke(signed(path, subscription, "d2")).await;
        assert_eq!(status, refused, "{path} {subscription}: {reply}");
    }
    assert_eq!(deployment.events("knox").await.len(), 3);
    assert_eq!(
        deployment
            .invoke(signed("/companyB", "sub-b1", "d3"))
            .await
            .0,
        200
    );
}

/// A tenant with its own certificate (`certificate_key` under `knox/_certificates/`, its own
/// pin): its key verifies there, and only there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_its_own_certificate() {
    let _machine = MACHINE.read().await;
    let own = |name: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../events/tenants/test-keys")
                .join(name),
        )
        .unwrap()
    };
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment
        .moto
        .put_object(BUCKET, CERT_KEY, test_key("knox-test-cert.pem"))
        .await;
    deployment
        .moto
        .put_object(
            BUCKET,
            "knox/_certificates/companyX.pem",
            own("companyX-knox-test-cert.pem"),
        )
        .await;
    deployment.start(
        Some("s3"),
        &[
            ("KNOX_CERT_KEY", CERT_KEY),
            ("HOOKWARDEN_TENANT_SECRET_PREFIX", PREFIX),
        ],
    );
    let secret = serde_json::json!({
        "subscription_ids": ["sub-x"],
        "certificate_key": "knox/_certificates/companyX.pem",
        "certificate_spki_sha256": "b0c4f569e98ccc73ff4055dc90ed6ec0e4d40036cc7b2ea3a004fbf0e5d3844c",
    });
    deployment
        .moto
        .create_secret(&format!("{PREFIX}companyX"), &secret.to_string())
        .await;
    deployment
        .moto
        .create_secret(
            &format!("{PREFIX}companyA"),
            r#"{"subscription_ids": ["sub-a"]}"#,
        )
        .await;
    let own_key = own("companyX-knox-test-key.pem");
    let shared_key = test_key("knox-test-key.pem");
    for (key, path, subscription, expected) in [
        (&own_key, "/companyX", "sub-x", 200),
        (&shared_key, "/companyA", "sub-a", 200),
        (&shared_key, "/companyX", "sub-x", 401),
        (&own_key, "/companyA", "sub-a", 401),
    ] {
        let (status, reply) = deployment
            .invoke(signed_with(key, path, subscription, "d1"))
            .await;
        assert_eq!(status, expected, "{path}: {reply}");
    }
    let keys: Vec<_> = deployment
        .events("knox")
        .await
        .into_iter()
        .filter(|k| !k.starts_with("knox/_certificates/"))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
}
