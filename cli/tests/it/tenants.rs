//! `hookwarden serve` and `hookwarden send` with tenants: `/<provider>/<tenant>` is the
//! function URL's `/<tenant>`, tenants are files under `<data>/tenants/<provider>/` (what
//! their Secrets Manager secrets would hold), added while the server runs. Uses the
//! multi-tenant samples in `events/tenants/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use hookwarden_pipeline::local::files_under;

use crate::support::{events_dir, hookwarden, start_serve, stdout};

struct Server {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(data: &Path) -> Self {
        let (child, port, _) = start_serve(data, &[], Stdio::null());
        Self {
            child,
            port,
            data: std::path::absolute(data).unwrap(),
        }
    }

    /// Onboards `tenant` of `provider` with the sample secret of that name.
    fn onboard(&self, provider: &str, tenant: &str) {
        let dir = self.data.join("tenants").join(provider);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            tenants_dir()
                .join("secrets")
                .join(provider)
                .join(format!("{tenant}.json")),
            dir.join(format!("{tenant}.json")),
        )
        .unwrap();
    }

    /// Sends `sample` to `/<provider>` with `--tenant` when given; the HTTP status.
    fn send(&self, provider: &str, sample: &Path, tenant: Option<&str>, extra: &[&str]) -> u16 {
        let to = format!("http://127.0.0.1:{}/{provider}", self.port);
        let mut args = vec!["send", provider, sample.to_str().unwrap(), "--to", &to];
        if let Some(tenant) = tenant {
            args.extend(["--tenant", tenant]);
        }
        args.extend_from_slice(extra);
        let output = hookwarden(&args);
        let out = stdout(&output);
        out.lines()
            .find_map(|line| line.strip_prefix("HTTP/1.1 "))
            .unwrap_or_else(|| panic!("no status in {out:?}"))[..3]
            .parse()
            .unwrap()
    }

    fn stored(&self, under: &str) -> usize {
        files_under(&self.data.join(under))
            .iter()
            .filter(|p| {
                !p.components().any(|c| c.as_os_str() == "_state")
                    && p.extension().is_some_and(|e| e == "json")
            })
            .count()
    }
}

fn tenants_dir() -> PathBuf {
    events_dir().join("tenants")
}

fn secret_file(provider: &str, tenant: &str) -> String {
    tenants_dir()
        .join("secrets")
        .join(provider)
        .join(format!("{tenant}.json"))
        .display()
        .to_string()
}

#[test]
fn serve_and_send_speak_tenant_paths() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let sf = |tenant: &str| {
        tenants_dir()
            .join("scalefusion")
            .join(tenant)
            .join("device.locked.json")
    };
    // The dashboard's Secret Key: the `secret_key` of the tenant's secret.
    let key = |tenant: &str| {
        let text = std::fs::read_to_string(secret_file("scalefusion", tenant)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        format!("--secret={}", value["secret_key"].as_str().unwrap())
    };
    let (acme_secret, globex_secret) = (key("acme"), key("globex"));

    // Not onboarded yet: refused as a forgery to an existing tenant, nothing stored.
    assert_eq!(
        server.send("scalefusion", &sf("acme"), Some("acme"), &[&acme_secret]),
        406
    );
    // Onboarded while the server runs.
    server.onboard("scalefusion", "acme");
    server.onboard("scalefusion", "globex");
    assert_eq!(
        server.send("scalefusion", &sf("acme"), Some("acme"), &[&acme_secret]),
        200
    );
    assert_eq!(
        server.send(
            "scalefusion",
            &sf("globex"),
            Some("globex"),
            &[&globex_secret]
        ),
        200
    );
    // Cross-tenant: globex's sample signed with globex's secret, sent to acme.
    assert_eq!(
        server.send(
            "scalefusion",
            &sf("globex"),
            Some("acme"),
            &[&globex_secret]
        ),
        406
    );
    assert_eq!(server.stored("scalefusion/tenant=acme"), 1);
    assert_eq!(server.stored("scalefusion/tenant=globex"), 1);

    // Knox: one certificate, each tenant's subscriptions.
    server.onboard("knox", "companyA");
    server.onboard("knox", "companyB");
    let knox = |tenant: &str| {
        tenants_dir()
            .join("knox")
            .join(tenant)
            .join("KG_DEVICE_LOCKED.json")
    };
    assert_eq!(
        server.send("knox", &knox("companyA"), Some("companyA"), &[]),
        200
    );
    assert_eq!(
        server.send("knox", &knox("companyB"), Some("companyB"), &[]),
        200
    );
    assert_eq!(
        server.send("knox", &knox("companyB"), Some("companyA"), &[]),
        403
    );
    assert_eq!(
        server.send("knox", &knox("companyA"), Some("companyC"), &[]),
        403
    );
    assert_eq!(server.stored("knox/tenant=companyA"), 1);

    // OneAccess: each tenant's own settings.
    server.onboard("oneaccess", "acme");
    server.onboard("oneaccess", "globex");
    let sample = events_dir().join("oneaccess/plain/CREATE_USER.json");
    let acme = format!("--oneaccess-secret={}", secret_file("oneaccess", "acme"));
    let globex = format!("--oneaccess-secret={}", secret_file("oneaccess", "globex"));
    assert_eq!(
        server.send("oneaccess", &sample, Some("acme"), &[&acme]),
        200
    );
    assert_eq!(
        server.send("oneaccess", &sample, Some("globex"), &[&globex]),
        200
    );
    assert_eq!(
        server.send("oneaccess", &sample, Some("globex"), &[&acme]),
        401
    );
    assert_eq!(server.stored("oneaccess/tenant=acme"), 1);
    assert_eq!(server.stored("oneaccess/tenant=globex"), 1);
}

#[test]
fn send_refuses_a_tenant_name_that_is_not_one() {
    let output = hookwarden([
        "send",
        "scalefusion",
        events_dir()
            .join("scalefusion/device.locked.json")
            .to_str()
            .unwrap(),
        "--to",
        "http://127.0.0.1:9/scalefusion",
        "--tenant",
        "../acme",
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

/// The committed multi-tenant samples verify as they are, for their tenant only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committed_tenant_samples_verify_for_their_tenant_only() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    for (provider, tenant) in [
        ("knox", "companyA"),
        ("knox", "companyB"),
        ("scalefusion", "acme"),
        ("scalefusion", "globex"),
    ] {
        server.onboard(provider, tenant);
    }
    let http = reqwest::Client::new();
    let post = |provider: &'static str, path: String, event: serde_json::Value| {
        let http = &http;
        let url = format!("http://127.0.0.1:{}/{provider}{path}", server.port);
        async move {
            let mut request = http
                .post(url)
                .body(event["body"].as_str().unwrap().to_string());
            for (name, value) in event["headers"].as_object().unwrap() {
                if name.starts_with("x-") || name == "content-type" {
                    request = request.header(name, value.as_str().unwrap());
                }
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    for (provider, tenant, other, refused) in [
        ("knox", "companyA", "companyB", 403),
        ("knox", "companyB", "companyA", 403),
        ("scalefusion", "acme", "globex", 406),
        ("scalefusion", "globex", "acme", 406),
    ] {
        let dir = tenants_dir().join(provider).join(tenant);
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let event: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(event["rawPath"], format!("/{tenant}"));
        let path = event["rawPath"].as_str().unwrap().to_string();
        assert_eq!(
            post(provider, path, event.clone()).await,
            200,
            "{}",
            file.display()
        );
        assert_eq!(
            post(provider, format!("/{other}"), event).await,
            refused,
            "{}",
            file.display()
        );
    }
}
