//! `hookwarden send`: replay a sample function URL event against a running receiver, signed
//! afresh, as the provider would send it. Exit 0 on 2xx, 1 on 4xx, 2 otherwise.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args as ClapArgs, ValueEnum};
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::{knox, scalefusion};

use crate::failure::Failure;
use crate::function_url::Sample;
use crate::sign::{now_ms, oneaccess_request, ScalefusionSecret};
use crate::test_keys::{self, TestKeys};
use crate::{files, ids};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    Knox,
    Scalefusion,
    Oneaccess,
}

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The provider the sample belongs to.
    #[arg(value_enum)]
    provider: Provider,
    /// A sample function URL event, e.g. events/knox/KAI_BATTERY_STATUS.json.
    ///
    /// Its body is sent (base64 undone) with its content-type; Knox gets a new signature, trace id and
    /// x-knox-nonce; Scalefusion a new signature; OneAccess a message decrypted with the
    /// test configs and rebuilt with a new nonce and the current time.
    event: PathBuf,
    /// Where to POST, e.g. http://127.0.0.1:8787/knox.
    #[arg(long, value_name = "URL")]
    to: String,
    /// Send to this tenant: `/<tenant>` is added to the URL's path (a function URL's
    /// `/acme`, `hookwarden serve`'s `/scalefusion/acme`). Sign with the tenant's secret
    /// (`--secret-file`, `--oneaccess-secret`).
    #[arg(long, value_name = "NAME")]
    tenant: Option<String>,
    /// Knox: sign with this PKCS#8 PEM key instead of the embedded test key.
    #[arg(long, value_name = "KEY.pem")]
    key: Option<PathBuf>,
    // Scalefusion: --secret, --secret-file or HOOKWARDEN_SCALEFUSION_SECRET instead of the
    // embedded test secret.
    #[command(flatten)]
    secret: ScalefusionSecret,
    /// OneAccess: sign and encrypt with this secret JSON ({"bearer_token", "signature_key",
    /// "encryption_key", "encryption_mode"}) instead of the test config that built the sample.
    #[arg(long, value_name = "FILE")]
    oneaccess_secret: Option<PathBuf>,
    /// Send the identical request this many times, as a provider retrying would.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=10))]
    times: u8,
}

/// A request ready to POST.
struct Outgoing {
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

pub async fn run(args: Args) -> Result<(), Failure> {
    check_flags(&args)?;
    let mut url = post_url(&args.to)?;
    if let Some(tenant) = &args.tenant {
        if !hookwarden_pipeline::tenants::valid_tenant(tenant) {
            return Err(Failure::input(format!(
                "--tenant {tenant:?}: 1 to 64 letters, digits, - and _"
            )));
        }
        url.path_segments_mut()
            .map_err(|()| Failure::input(format!("--to {}: not a URL with a path", args.to)))?
            .pop_if_empty()
            .push(tenant);
    }
    let sample = Sample::from_event(
        &files::read_bytes(&args.event, "event file")?,
        &args.event.display().to_string(),
    )?;
    let outgoing = signed_afresh(&args, sample)?;

    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|err| Failure::input(format!("cannot start an HTTP client: {err}")))?;
    let mut rejected = None;
    for _ in 0..args.times {
        let mut request = client.post(url.clone()).body(outgoing.body.clone());
        for (name, value) in &outgoing.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|err| {
            Failure::input(format!("cannot POST to {url}: {}", with_causes(&err)))
        })?;
        let (version, status) = (response.version(), response.status());
        let body = response.text().await.map_err(|err| {
            Failure::input(format!(
                "cannot read the answer from {url}: {}",
                with_causes(&err)
            ))
        })?;
        println!("{version:?} {status}");
        println!("{body}");
        if status.is_client_error() {
            rejected.get_or_insert(status);
        } else if !status.is_success() {
            return Err(Failure::input(format!("{url} answered {status}")));
        }
    }
    match rejected {
        Some(status) => Err(Failure::Rejected(format!("{url} answered {status}"))),
        None => Ok(()),
    }
}

fn check_flags(args: &Args) -> Result<(), Failure> {
    let misplaced = [
        (args.key.is_some(), "--key", Provider::Knox, "knox"),
        (
            args.secret.flag_given(),
            "--secret (or --secret-file)",
            Provider::Scalefusion,
            "scalefusion",
        ),
        (
            args.oneaccess_secret.is_some(),
            "--oneaccess-secret",
            Provider::Oneaccess,
            "oneaccess",
        ),
    ];
    for (given, flag, provider, name) in misplaced {
        if given && args.provider != provider {
            return Err(Failure::input(format!(
                "{flag} applies to {name} samples only"
            )));
        }
    }
    Ok(())
}

fn signed_afresh(args: &Args, sample: Sample) -> Result<Outgoing, Failure> {
    let mut headers: Vec<(String, String)> = sample
        .headers
        .get("content-type")
        .map(|value| ("content-type".to_string(), value.clone()))
        .into_iter()
        .collect();
    headers.push((
        "user-agent".into(),
        concat!("hookwarden-send/", env!("CARGO_PKG_VERSION")).into(),
    ));
    let body = match args.provider {
        Provider::Knox => {
            let key = match &args.key {
                Some(path) => test_keys::knox_key(
                    &files::read_text(path, "key file")?,
                    &path.display().to_string(),
                )?,
                None => test_keys::knox_key(test_keys::KNOX_KEY_PEM, "the embedded Knox test key")?,
            };
            let signature = knox::sign(&sample.body, &key)
                .map_err(|err| Failure::from_verify(err.kind(), err))?;
            headers.push((knox::SIGNATURE_HEADER.into(), signature));
            headers.push((knox::TRACE_ID_HEADER.into(), ids::uuid(&ids::random())));
            headers.push((knox::NONCE_HEADER.into(), ids::uuid(&ids::random())));
            sample.body
        }
        Provider::Scalefusion => {
            let secret = match args.secret.optional()? {
                Some(secret) => secret,
                None => test_keys::scalefusion_secret(
                    test_keys::SCALEFUSION_SECRET_JSON,
                    "the embedded test secret",
                )?,
            };
            headers.push((
                scalefusion::SIGNATURE_HEADER.into(),
                scalefusion::sign(secret.as_bytes(), &sample.body),
            ));
            sample.body
        }
        Provider::Oneaccess => {
            let (event_type, msg, config) = read_oneaccess(args, &sample)?;
            let body = oneaccess_request(
                &event_type,
                &msg,
                &config,
                &ids::letters(&ids::random(), 16),
                now_ms(),
            )?;
            headers.push((
                oneaccess::AUTHORIZATION_HEADER.into(),
                format!("Bearer {}", config.bearer_token.as_str()),
            ));
            body.into_bytes()
        }
    };
    Ok(Outgoing { body, headers })
}

/// The sample's event type and message (opened with whichever test config built it, its age
/// ignored), and the config to send it with.
fn read_oneaccess(args: &Args, sample: &Sample) -> Result<(String, String, Config), Failure> {
    let keys = TestKeys::embedded()?;
    let configs = [keys.oneaccess_encrypted, keys.oneaccess_plain];
    let authorization = sample
        .headers
        .get(oneaccess::AUTHORIZATION_HEADER)
        .map(String::as_str);
    let verified = oneaccess::verify(&sample.body, authorization, &configs, now_ms(), u64::MAX)
        .map_err(|err| {
            Failure::input(format!(
            "{} does not open with the embedded OneAccess test configs ({err}); rebuild it with \
             `hookwarden events regenerate`",
            args.event.display()
        ))
        })?;
    let config = match &args.oneaccess_secret {
        Some(path) => test_keys::oneaccess_config(
            &files::read_text(path, "secret file")?,
            &path.display().to_string(),
        )?,
        None => configs[verified.config_index].clone(),
    };
    Ok((
        verified.event_type.clone(),
        verified.msg.to_string(),
        config,
    ))
}

/// An error and its sources on one line: reqwest's own message omits the cause ("connection
/// refused").
/// `--to`: an http or https URL.
pub(crate) fn post_url(to: &str) -> Result<reqwest::Url, Failure> {
    let url = reqwest::Url::parse(to).map_err(|err| Failure::input(format!("--to {to}: {err}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        _ => Err(Failure::input(format!(
            "--to {to}: only http and https URLs can be sent to"
        ))),
    }
}

pub(crate) fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
