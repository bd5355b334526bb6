//! `hookwarden admit`: sends quarantined Knox callbacks to the receiver again, once their
//! subscription is listed (`KNOX_SUBSCRIPTION_IDS`).
//!
//! Each quarantine object holds the request as Knox sent it (body bytes, `X-WSM-SIGNATURE`,
//! trace id, nonce). Re-sending it lets the function itself verify it again and apply its
//! allowlist; its identity is the signed content, so however often it is admitted it is
//! stored and published once. Exit 0 when every callback was admitted (stored, or found
//! stored before), 1 when the receiver refused or quarantined any again, 2 on bad input or
//! an unreachable receiver.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args as ClapArgs;
use hookwarden_pipeline::local::files_under;
use hookwarden_pipeline::quarantine::QuarantinedRequest;

use crate::failure::Failure;
use crate::files;
use crate::send::{post_url, with_causes};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Quarantine objects (`<id>.json`), or directories searched for them: a copy of
    /// `s3://<bucket>/knox/_quarantine/`, or `hookwarden serve`'s `<data>/knox/_quarantine`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The receiver: the Knox function URL (its `/`), or `http://127.0.0.1:8787/knox`.
    #[arg(long, value_name = "URL")]
    to: String,
    /// Delete each file once the receiver has stored its callback.
    #[arg(long)]
    remove: bool,
}

/// What the receiver made of one re-sent callback.
enum Answer {
    Admitted(String),
    NotAdmitted(String),
}

pub async fn run(args: Args) -> Result<(), Failure> {
    let url = post_url(&args.to)?;
    let mut found = Vec::new();
    for path in &args.paths {
        match path.is_dir() {
            true => found.extend(
                files_under(path)
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "json")),
            ),
            false => found.push(path.clone()),
        }
    }
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|err| Failure::input(format!("cannot start an HTTP client: {err}")))?;
    let mut not_admitted = 0usize;
    for path in &found {
        let kept = read(path)?;
        match resend(&client, &url, &kept).await? {
            Answer::Admitted(status) => {
                println!("{} {status} {}", kept.id, path.display());
                if args.remove {
                    std::fs::remove_file(path).map_err(|err| {
                        Failure::input(format!("cannot remove {}: {err}", path.display()))
                    })?;
                }
            }
            Answer::NotAdmitted(why) => {
                not_admitted += 1;
                println!("{} not admitted ({why}) {}", kept.id, path.display());
            }
        }
    }
    match not_admitted {
        0 => Ok(()),
        n => Err(Failure::Rejected(format!(
            "{n} of {} quarantined callbacks not admitted: list their subscription in \
             KNOX_SUBSCRIPTION_IDS first, or leave them to expire",
            found.len()
        ))),
    }
}

fn read(path: &Path) -> Result<QuarantinedRequest, Failure> {
    let bytes = files::read_bytes(path, "quarantine object")?;
    serde_json::from_slice(&bytes).map_err(|err| {
        Failure::input(format!(
            "{}: not a quarantine object ({err})",
            path.display()
        ))
    })
}

async fn resend(
    client: &reqwest::Client,
    url: &reqwest::Url,
    kept: &QuarantinedRequest,
) -> Result<Answer, Failure> {
    let body = kept
        .body()
        .map_err(|err| Failure::input(format!("quarantined {}: body_base64: {err}", kept.id)))?;
    let mut request = client.post(url.clone()).body(body);
    for (name, value) in &kept.headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|err| Failure::input(format!("cannot POST to {url}: {}", with_causes(&err))))?;
    let status = response.status();
    let reply: serde_json::Value = response.json().await.unwrap_or_default();
    let said = reply["status"].as_str().unwrap_or_default().to_string();
    if status.is_success() {
        return Ok(match said.as_str() {
            "stored" | "duplicate" => Answer::Admitted(said),
            _ => Answer::NotAdmitted(format!("answered {status} {said}")),
        });
    }
    if status.is_client_error() {
        let error = reply["error"].as_str().unwrap_or_default();
        return Ok(Answer::NotAdmitted(format!("answered {status} {error}")));
    }
    Err(Failure::input(format!(
        "{url} answered {status}; try again later"
    )))
}
