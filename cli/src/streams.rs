//! `hookwarden streams`: every event stream (provider, tenant, event type) in a store, when it
//! last stored an event, and whether it is silent against the cadence rules — the verdicts the
//! watchdog function reaches, from the same code (`hookwarden_pipeline::silence`).
//!
//! Keys carry no event type, so both modes read the envelopes: `--data` the files of
//! `hookwarden serve`, `--bucket` the objects of a deployment (one GET per object; `--since`
//! bounds what is read by the object's modification time).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::Args as ClapArgs;
use futures_util::{StreamExt as _, TryStreamExt as _};
use hookwarden_pipeline::local::files_under;
use hookwarden_pipeline::silence::{self, Cadences, LastSeen, Verdict};
use hookwarden_pipeline::Provider;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::failure::Failure;

/// The providers' names, as in paths, prefixes and the index.
const PROVIDERS: [&str; 3] = [
    Provider::Knox.name(),
    Provider::Scalefusion.name(),
    Provider::OneAccess.name(),
];
/// Objects read at once from a bucket.
const CONCURRENT_GETS: usize = 16;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Data directory of `hookwarden serve`; its tenant files' `silence` members add rules.
    #[arg(
        long,
        alias = "dir",
        value_name = "DIR",
        required_unless_present = "bucket"
    )]
    data: Option<PathBuf>,
    /// Events bucket of a deployment (credentials, region and AWS_ENDPOINT_URL as the AWS CLI
    /// reads them).
    #[arg(long, conflicts_with = "data")]
    bucket: Option<String>,
    /// Key prefix of a provider's events in the bucket (repeatable).
    #[arg(long, value_name = "PREFIX", default_values = PROVIDERS, requires = "bucket")]
    prefix: Vec<String>,
    /// Cadence rule `provider/tenant/event_type=window` (`*` for any part, window like 4h or
    /// `off`); repeatable, or several separated by commas. The most specific rule decides.
    #[arg(long = "cadence", value_name = "RULE")]
    cadences: Vec<String>,
    /// Read only events stored within this long before now (e.g. 7d); older streams are not
    /// listed.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    since: Option<Duration>,
    /// Judge as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

/// Prints the table; fails (exit 1) when a stream is silent, so a script can alarm on it.
pub async fn run(args: Args) -> Result<(), Failure> {
    let now = match &args.now {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339).map_err(|err| {
            Failure::input(format!("--now {text:?} is not an RFC 3339 time: {err}"))
        })?,
        None => OffsetDateTime::now_utc(),
    };
    let mut cadences =
        Cadences::parse(&args.cadences.join(",")).map_err(|e| Failure::input(e.to_string()))?;
    let stored_after = args
        .since
        .map(|since| SystemTime::from(now) - since)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let seen = match (&args.data, &args.bucket) {
        (Some(data), _) => {
            add_tenant_rules(data, &mut cadences)?;
            read_dir(data, stored_after)?
        }
        (None, Some(bucket)) => read_bucket(bucket, &args.prefix, stored_after).await?,
        (None, None) => return Err(Failure::input("give --data DIR or --bucket NAME")),
    };
    let reports = silence::judge(&seen, &cadences, now);
    print!("{}", silence::table(&reports));
    let silent = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Silent)
        .count();
    match silent {
        0 => Ok(()),
        n => Err(Failure::Rejected(format!(
            "{n} of {} streams silent",
            reports.len()
        ))),
    }
}

/// The `silence` members of the tenant files under `<data>/tenants/<provider>/`.
fn add_tenant_rules(data: &Path, cadences: &mut Cadences) -> Result<(), Failure> {
    for provider in PROVIDERS {
        for path in files_under(&data.join("tenants").join(provider)) {
            let Some(tenant) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let secret: serde_json::Value = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .ok_or_else(|| {
                    Failure::input(format!("{}: not a JSON tenant file", path.display()))
                })?;
            cadences
                .add_tenant(provider, tenant, &secret)
                .map_err(|err| Failure::input(format!("{}: {err}", path.display())))?;
        }
    }
    Ok(())
}

/// Envelopes under `<data>/<provider>/`, the dedupe state left out.
fn read_dir(data: &Path, stored_after: SystemTime) -> Result<LastSeen, Failure> {
    let mut seen = LastSeen::default();
    for provider in PROVIDERS {
        for path in files_under(&data.join(provider)) {
            let is_event = path.extension().is_some_and(|e| e == "json")
                && !path.components().any(|c| c.as_os_str() == "_state");
            let modified = std::fs::metadata(&path).and_then(|m| m.modified());
            if !is_event || modified.is_ok_and(|at| at < stored_after) {
                continue;
            }
            let bytes = std::fs::read(&path)
                .map_err(|err| Failure::input(format!("{}: {err}", path.display())))?;
            let (stream, at) = silence::sighting(&bytes)
                .map_err(|err| Failure::input(format!("{}: {err}", path.display())))?;
            seen.saw(stream, at);
        }
    }
    Ok(seen)
}

/// Envelopes under `<prefix>/` of `bucket`, the dedupe state and certificate left out.
async fn read_bucket(
    bucket: &str,
    prefixes: &[String],
    stored_after: SystemTime,
) -> Result<LastSeen, Failure> {
    let s3 = crate::aws::s3(&crate::aws::config().await);
    let aws_failure = |what: String| move |err: String| Failure::input(format!("{what}: {err}"));
    let mut keys = Vec::new();
    for prefix in prefixes {
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(format!("{}/", prefix.trim_end_matches('/')))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
                .map_err(aws_failure(format!("listing s3://{bucket}/{prefix}/")))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let recent = object
                    .last_modified()
                    .and_then(|at| SystemTime::try_from(*at).ok())
                    .is_none_or(|at| at >= stored_after);
                if recent && !key.contains("/_state/") && !key.contains("/_certificate/") {
                    keys.push(key.to_string());
                }
            }
        }
    }
    let sightings: Vec<_> = futures_util::stream::iter(keys)
        .map(|key| {
            let s3 = s3.clone();
            async move {
                let object = s3
                    .get_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
                    .map_err(aws_failure(format!("reading s3://{bucket}/{key}")))?;
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| Failure::input(format!("reading s3://{bucket}/{key}: {e}")))?
                    .into_bytes();
                silence::sighting(&bytes)
                    .map_err(|err| Failure::input(format!("s3://{bucket}/{key}: {err}")))
            }
        })
        .buffer_unordered(CONCURRENT_GETS)
        .try_collect()
        .await?;
    let mut seen = LastSeen::default();
    for (stream, at) in sightings {
        seen.saw(stream, at);
    }
    Ok(seen)
}
