//! Several Scalefusion tenants behind one `scalefusion-webhook` under the Runtime API against
//! moto: tenants onboarded after the function started (no restart), each verified with its
//! own secret, cross-tenant forgeries and unknown tenants refused with nothing stored, a
//! tenant whose secret is unusable failing alone, and a removed tenant refused like a forgery.

use hookwarden_testkit::deployment::{Deployment, BUS, INVOKE_TIMEOUT};
use hookwarden_testkit::samples::{samples, test_key, with_request};
use hookwarden_verify::scalefusion;

use crate::support::{BINARY, SECRET_ID};

const PREFIX: &str = "hookwarden/tenants/scalefusion/";

fn secret(key: &str) -> String {
    serde_json::json!({ "secret_key": key }).to_string()
}

fn signed(path: &str, key: &str, body: &[u8]) -> serde_json::Value {
    let mut event = with_request(
        &samples("scalefusion")[0].1,
        body,
        &[("x-sf-signature", &scalefusion::sign(key.as_bytes(), body))],
        false,
    );
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_onboarded_live_and_kept_apart() {
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment
        .moto
        .create_secret(SECRET_ID, &test_key("scalefusion-secret.json"))
        .await;
    deployment.start(
        Some("s3,eventbridge"),
        &[
            ("SCALEFUSION_SECRET_ID", SECRET_ID),
            ("HOOKWARDEN_TENANT_SECRET_PREFIX", PREFIX),
            // Every request reads the tenant's secret again, so a removal shows at once.
            ("HOOKWARDEN_SECRET_TTL_SECS", "0"),
        ],
    );
    let capture = deployment.moto.capture_events(BUS).await;
    let body = br#"{"id":"t-1","event":"device.locked","data":{"devices":[{"name":"Tablet-01"}]}}"#;
    let default_key =
        serde_json::from_str::<serde_json::Value>(&test_key("scalefusion-secret.json")).unwrap()
            ["secret_key"]
            .as_str()
            .unwrap()
            .to_string();

    // The function is running; tenants are onboarded now, by creating their secrets.
    let (acme, globex) = ("acme-TEST-ONLY-secret", "globex-TEST-ONLY-secret");
    deployment
        .moto
        .create_secret(&format!("{PREFIX}acme"), &secret(acme))
        .await;
    deployment
        .moto
        .create_secret(&format!("{PREFIX}globex"), &secret(globex))
        .await;
    deployment
        .moto
        .create_secret(&format!("{PREFIX}broken"), r#"{"wrong_field":"x"}"#)
        .await;

    for (path, key) in [
        ("/", default_key.as_str()),
        ("/acme", acme),
        ("/globex", globex),
    ] {
        let (status, reply) = deployment.invoke(signed(path, key, body)).await;
        assert_eq!(status, 200, "{path}: {reply}");
        assert_eq!(reply["status"], "stored", "{path}: {reply}");
    }
    // Per-tenant dedupe: the same body again for acme is its duplicate.
    let (status, reply) = deployment.invoke(signed("/acme", acme, body)).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));

    let keys = deployment.events("scalefusion").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    for tenant in ["acme", "globex"] {
        let key = keys
            .iter()
            .find(|k| k.starts_with(&format!("scalefusion/tenant={tenant}/")))
            .unwrap_or_else(|| panic!("{tenant} in {keys:?}"));
        assert_eq!(deployment.envelope(key).await["tenant"], tenant);
    }
    let events = capture.receive(3, INVOKE_TIMEOUT).await;
    let mut tenants: Vec<_> = events
        .iter()
        .map(|e| e["detail"]["tenant"].as_str().unwrap_or("-").to_string())
        .collect();
    tenants.sort();
    assert_eq!(tenants, ["-", "acme", "globex"]);

    // Cross-tenant forgeries, unknown tenants, the misconfigured tenant: nothing stored.
    let other = br#"{"id":"t-2","event":"device.lost"}"#;
    let refused = [
        ("/acme", globex, 406),
        ("/globex", acme, 406),
        ("/acme", default_key.as_str(), 406),
        ("/", acme, 406),
        // Unknown: refused as a forgery to an existing tenant.
        ("/initech", acme, 406),
        ("/acme/..", acme, 404),
        ("/tenant=acme", acme, 404),
        ("/broken", "x", 503),
    ];
    for (path, key, expected) in refused {
        let (status, reply) = deployment.invoke(signed(path, key, other)).await;
        assert_eq!(status, expected, "{path}: {reply}");
    }
    assert_eq!(deployment.events("scalefusion").await.len(), 3);
    // The others still work beside the broken one.
    assert_eq!(
        deployment.invoke(signed("/globex", globex, other)).await.0,
        200
    );

    // Removing a tenant: delete its secret.
    deployment
        .moto
        .secrets_manager()
        .await
        .delete_secret()
        .secret_id(format!("{PREFIX}globex"))
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let third = br#"{"id":"t-3","event":"device.found"}"#;
    assert_eq!(
        deployment.invoke(signed("/globex", globex, third)).await.0,
        406
    );
    assert_eq!(deployment.invoke(signed("/acme", acme, third)).await.0, 200);
    assert_eq!(deployment.events("scalefusion").await.len(), 5);

    let logs = deployment.logs();
    assert!(logs.contains(r#""tenant":"acme""#), "{logs}");
    deployment.assert_logs_clean(&[acme.to_string(), globex.to_string(), default_key]);
}

/// Review R3 end to end: 300 requests to random tenant names cost a bounded number of
/// GetSecretValue calls (counted by a proxy in front of moto), not one each, while a real
/// tenant keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_of_random_tenant_names_costs_a_bounded_number_of_secret_reads() {
    let mut deployment = Deployment::prepare(BINARY).await;
    deployment
        .moto
        .create_secret(SECRET_ID, &test_key("scalefusion-secret.json"))
        .await;
    let acme = "acme-TEST-ONLY-secret";
    deployment
        .moto
        .create_secret(&format!("{PREFIX}acme"), &secret(acme))
        .await;
    let proxy = hookwarden_testkit::proxy::Proxy::start(&deployment.moto.endpoint()).await;
    let endpoint = proxy.url();
    deployment.start(
        Some("s3"),
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("SCALEFUSION_SECRET_ID", SECRET_ID),
            ("HOOKWARDEN_TENANT_SECRET_PREFIX", PREFIX),
        ],
    );
    let started = std::time::Instant::now();
    let mut real = 0;
    for n in 0..300u32 {
        let body = format!(r#"{{"id":"scan-{n}","event":"device.locked"}}"#);
        let path = format!("/t{:08x}", n.wrapping_mul(2_654_435_761));
        let (status, reply) = deployment
            .invoke(signed(&path, "a-guess", body.as_bytes()))
            .await;
        assert!(matches!(status, 406 | 503), "{path}: {status} {reply}");
        if n % 100 == 0 {
            let body = format!(r#"{{"id":"real-{n}","event":"device.locked"}}"#);
            let (status, reply) = deployment
                .invoke(signed("/acme", acme, body.as_bytes()))
                .await;
            assert_eq!(status, 200, "the real tenant during the scan: {reply}");
            real += 1;
        }
    }
    let reads = proxy
        .counts()
        .get("secretsmanager GetSecretValue")
        .copied()
        .unwrap_or(0);
    // The budget (10, then one a second) plus acme's own reads (at most one per request).
    let bound = 10 + started.elapsed().as_secs() + 1 + real;
    assert!(
        reads <= bound,
        "{reads} GetSecretValue for 300 unknown names (bound {bound})"
    );
    assert_eq!(deployment.events("scalefusion").await.len(), real as usize);
}
