//! `hookwarden replay`: re-publishes stored events to the bus after a consumer outage.
//!
//! Each selected envelope goes out exactly as the function publishes it (the pipeline's
//! [`bus_entry`]: same Source, DetailType and detail, the claim check for what is too large),
//! with `replay: {name, at}` added to the detail. A replay is idempotent per (name, event id):
//! after PutEvents accepted an entry, an empty marker
//! `{prefix}[/tenant=<t>]/_state/{shard}/replayed/{name}/{id}` is created (`If-None-Match: *`),
//! and an event with a marker is not published again under that name.
//!
//! Selection reads every envelope under the prefix (one GET each): by `received_at`, the
//! envelope's tenant and event type — never by key.

mod aws;
mod backend;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args as ClapArgs;
use futures_util::StreamExt as _;
use hookwarden_pipeline::bus_event::{
    bus_entry, eventbridge_entry_size, BusPlan, EnvelopeFields, Replay, StoredAt,
};
use hookwarden_pipeline::ports::{BusEntry, PutOutcome};
use hookwarden_pipeline::tenants::valid_tenant;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::failure::Failure;
use backend::{Backend, BackendError};

/// PutEvents takes at most 10 entries per call…
const MAX_BATCH_ENTRIES: usize = 10;
/// …and at most 256 KiB per request; an entry larger than that (up to the 1 MiB entry
/// limit) goes in a call of its own.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Attempts per entry; between them the wait doubles from [`FIRST_BACKOFF`].
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Envelopes read at once.
const READ_CONCURRENCY: usize = 16;
const MAX_NAME: usize = 64;

#[derive(Debug, ClapArgs)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["bucket", "dir"])))]
pub struct Args {
    /// The events bucket (HOOKWARDEN_BUCKET); AWS access from the standard chain
    /// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL…).
    #[arg(long, requires = "event_bus")]
    bucket: Option<String>,
    /// The data directory of `hookwarden serve`; events are published to its
    /// `eventbridge/` directory, as `serve` does.
    #[arg(long, conflicts_with_all = ["bucket", "event_bus"])]
    dir: Option<PathBuf>,
    /// The function's key prefix (HOOKWARDEN_PREFIX: `knox`, `scalefusion`, `oneaccess`).
    #[arg(long)]
    prefix: String,
    /// The EventBridge bus to publish to (name or ARN).
    #[arg(long)]
    event_bus: Option<String>,
    /// Names this replay: an event is published once per name. 1–64 of [A-Za-z0-9._-].
    #[arg(long, value_parser = parse_name)]
    name: String,
    /// Only events received at or after this instant (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    since: Option<OffsetDateTime>,
    /// Only events received before this instant (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    until: Option<OffsetDateTime>,
    /// Only this tenant's events.
    #[arg(long, value_parser = parse_tenant)]
    tenant: Option<String>,
    /// Only events of this type (as the envelope's `event_type`, surrounding spaces ignored).
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Select and count, publish nothing, write no marker.
    #[arg(long)]
    dry_run: bool,
}

fn parse_name(name: &str) -> Result<String, String> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name != "."
        && name != "..";
    ok.then(|| name.to_string())
        .ok_or_else(|| format!("1 to {MAX_NAME} of A-Z a-z 0-9 . _ -"))
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|err| format!("not RFC 3339 ({err})"))
}

fn parse_tenant(name: &str) -> Result<String, String> {
    valid_tenant(name)
        .then(|| name.to_string())
        .ok_or_else(|| "not a tenant name (A-Z a-z 0-9 - _)".into())
}

pub async fn run(args: Args) -> Result<(), Failure> {
    let backend: Box<dyn Backend> = match (&args.bucket, &args.dir) {
        (Some(bucket), _) => {
            let config = crate::aws::config().await;
            Box::new(aws::Aws {
                s3: crate::aws::s3(&config),
                eventbridge: crate::aws::eventbridge(&config),
                bucket: bucket.clone(),
                event_bus: args.event_bus.clone().expect("clap requires --event-bus"),
            })
        }
        (None, Some(dir)) => Box::new(backend::Local::new(dir)),
        (None, None) => unreachable!("clap requires --bucket or --dir"),
    };
    let at = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("now formats as RFC 3339");
    let selection = Selection {
        prefix: args.prefix.trim_matches('/').to_string(),
        since: args.since,
        until: args.until,
        tenant: args.tenant,
        event_type: args.event_type,
    };
    let replay = Replay {
        name: &args.name,
        at: &at,
    };
    let mut progress = Progress::new();
    let counts = replay_events(
        backend.as_ref(),
        &selection,
        replay,
        args.dry_run,
        &mut progress,
    )
    .await
    .map_err(|err| Failure::input(format!("replay stopped: {err}")))?;
    progress.finish();
    print!("{}", counts.report(args.dry_run));
    if counts.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Unfinished(format!(
            "{} of {} selected events not published (listed on stdout); run the same replay again to retry them",
            counts.failed.len(),
            counts.selected
        )))
    }
}

/// Which stored events a replay takes.
pub struct Selection {
    pub prefix: String,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub tenant: Option<String>,
    pub event_type: Option<String>,
}

impl Selection {
    /// Where to list: a tenant's objects are all under its `tenant=` segment.
    fn list_prefix(&self) -> String {
        match &self.tenant {
            Some(tenant) => format!("{}/tenant={tenant}/", self.prefix),
            None => format!("{}/", self.prefix),
        }
    }

    fn takes(&self, envelope: &EnvelopeFields) -> Result<bool, String> {
        let received = envelope
            .string("received_at")
            .ok_or("no received_at")
            .and_then(|at| OffsetDateTime::parse(&at, &Rfc3339).map_err(|_| "bad received_at"))?;
        let in_time = self.since.is_none_or(|since| received >= since)
            && self.until.is_none_or(|until| received < until);
        let of_type = self.event_type.as_deref().is_none_or(|wanted| {
            envelope
                .string("event_type")
                .is_some_and(|t| t.trim() == wanted.trim())
        });
        let of_tenant = self.tenant.is_none() || envelope.string("tenant") == self.tenant;
        Ok(in_time && of_type && of_tenant)
    }
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Counts {
    pub selected: usize,
    pub published: usize,
    pub already_replayed: usize,
    /// Event id (or key, for an object that is no envelope) and why.
    pub failed: Vec<(String, String)>,
    /// Published, but the marker was not written: the same name would publish them again.
    pub unmarked: Vec<String>,
}

impl Counts {
    fn report(&self, dry_run: bool) -> String {
        let mut out = String::new();
        for (id, why) in &self.failed {
            out.push_str(&format!("failed {id}: {why}\n"));
        }
        for id in &self.unmarked {
            out.push_str(&format!("unmarked {id}: published, marker not written\n"));
        }
        let published = if dry_run { "to publish" } else { "published" };
        out.push_str(&format!(
            "selected {}, {published} {}, already replayed {}, failed {}\n",
            self.selected,
            self.published,
            self.already_replayed,
            self.failed.len()
        ));
        out
    }
}

/// An event to publish: its id, its marker, its entry.
struct Pending {
    id: String,
    marker: String,
    entry: BusEntry,
}

/// Selects, publishes and marks. `Err` only when listing fails (nothing was published);
/// every other failure is counted per event.
pub async fn replay_events(
    backend: &dyn Backend,
    selection: &Selection,
    replay: Replay<'_>,
    dry_run: bool,
    progress: &mut Progress,
) -> Result<Counts, BackendError> {
    let keys: Vec<String> = backend
        .list(&selection.list_prefix())
        .await?
        .into_iter()
        .filter(|key| key.ends_with(".json") && !key.contains("/_state/"))
        .collect();
    progress.total = keys.len();
    let location = backend.location();
    let mut counts = Counts::default();
    let mut batch = Batch::default();
    let mut reads = futures_util::stream::iter(keys)
        .map(|key| async move {
            let bytes = backend.get(&key).await;
            (key, bytes)
        })
        .buffered(READ_CONCURRENCY);
    while let Some((key, bytes)) = reads.next().await {
        progress.tick(&counts);
        let pending = match bytes {
            Ok(None) => continue,
            Ok(Some(bytes)) => {
                match prepare(backend, selection, replay, &location, &key, &bytes).await {
                    Ok(Prepared::Skip) => continue,
                    Ok(Prepared::Already) => {
                        counts.selected += 1;
                        counts.already_replayed += 1;
                        continue;
                    }
                    Ok(Prepared::Publish(pending)) => pending,
                    Err(why) => {
                        counts.selected += 1;
                        counts.failed.push((key, why));
                        continue;
                    }
                }
            }
            Err(err) => {
                counts.failed.push((key, err.to_string()));
                continue;
            }
        };
        counts.selected += 1;
        if dry_run {
            counts.published += 1;
            continue;
        }
        if !batch.fits(&pending.entry) {
            publish(backend, std::mem::take(&mut batch), &mut counts).await;
        }
        batch.push(pending);
    }
    publish(backend, batch, &mut counts).await;
    Ok(counts)
}

enum Prepared {
    Skip,
    Already,
    Publish(Pending),
}

async fn prepare(
    backend: &dyn Backend,
    selection: &Selection,
    replay: Replay<'_>,
    location: &str,
    key: &str,
    bytes: &[u8],
) -> Result<Prepared, String> {
    let envelope = EnvelopeFields::parse(bytes).map_err(|err| format!("not an envelope: {err}"))?;
    if !selection.takes(&envelope)? {
        return Ok(Prepared::Skip);
    }
    let id = envelope
        .string("id")
        .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or("the envelope has no event id")?;
    let marker = marker_key(selection, &envelope, replay.name, &id);
    if backend.exists(&marker).await.map_err(|e| e.to_string())? {
        return Ok(Prepared::Already);
    }
    let stored_at = StoredAt {
        bucket: location,
        key,
    };
    // The envelope is stored (it was just read), so the detail names where, as with the S3
    // sink, and a claim check needs no write.
    let BusPlan { entry, .. } =
        bus_entry(&envelope, stored_at, true, Some(replay)).map_err(|err| err.to_string())?;
    Ok(Prepared::Publish(Pending { id, marker, entry }))
}

/// `{prefix}[/tenant=<t>]/_state/{shard}/replayed/{name}/{id}`, from the envelope's tenant
/// (the name and id are checked: no key escapes).
fn marker_key(selection: &Selection, envelope: &EnvelopeFields, name: &str, id: &str) -> String {
    let tenant = envelope
        .string("tenant")
        .filter(|tenant| valid_tenant(tenant))
        .map(|tenant| format!("/tenant={tenant}"))
        .unwrap_or_default();
    format!(
        "{}{tenant}/_state/{}/replayed/{name}/{id}",
        selection.prefix,
        &id[..2]
    )
}

/// Entries for one PutEvents call.
#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    bytes: usize,
}

impl Batch {
    fn size(entry: &BusEntry) -> usize {
        eventbridge_entry_size(&entry.source, &entry.detail_type, &entry.detail)
    }

    fn fits(&self, entry: &BusEntry) -> bool {
        self.pending.is_empty()
            || (self.pending.len() < MAX_BATCH_ENTRIES
                && self.bytes + Self::size(entry) <= MAX_BATCH_BYTES)
    }

    fn push(&mut self, pending: Pending) {
        self.bytes += Self::size(&pending.entry);
        self.pending.push(pending);
    }
}

/// Publishes a batch, retrying the entries refused (throttled or failed) with backoff, and
/// marks each one published.
async fn publish(backend: &dyn Backend, batch: Batch, counts: &mut Counts) {
    let mut pending = batch.pending;
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        if pending.is_empty() {
            return;
        }
        let entries: Vec<BusEntry> = pending.iter().map(|p| p.entry.clone()).collect();
        let refused: Vec<(Pending, String)> = match backend.publish(&entries).await {
            Ok(results) => {
                let mut refused = Vec::new();
                for (item, result) in pending.into_iter().zip(results) {
                    match result {
                        None => mark(backend, item, counts).await,
                        Some(code) => refused.push((item, code)),
                    }
                }
                refused
            }
            Err(err) => pending
                .into_iter()
                .map(|item| (item, err.0.clone()))
                .collect(),
        };
        if attempt == ATTEMPTS {
            counts
                .failed
                .extend(refused.into_iter().map(|(item, why)| (item.id, why)));
            return;
        }
        pending = refused.into_iter().map(|(item, _)| item).collect();
        if !pending.is_empty() {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

async fn mark(backend: &dyn Backend, item: Pending, counts: &mut Counts) {
    counts.published += 1;
    match backend.create(&item.marker).await {
        Ok(PutOutcome::Created | PutOutcome::AlreadyExists) => {}
        Err(_) => counts.unmarked.push(item.id),
    }
}

/// A count on stderr while the replay runs, only when stderr is a terminal.
pub struct Progress {
    on: bool,
    total: usize,
    seen: usize,
}

impl Progress {
    fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            total: 0,
            seen: 0,
        }
    }

    fn tick(&mut self, counts: &Counts) {
        self.seen += 1;
        if self.on && (self.seen.is_multiple_of(50) || self.seen == self.total) {
            eprint!(
                "\rreplay: read {}/{}, published {}, failed {}",
                self.seen,
                self.total,
                counts.published,
                counts.failed.len()
            );
        }
    }

    fn finish(&self) {
        if self.on && self.seen > 0 {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(detail_bytes: usize) -> Pending {
        Pending {
            id: "a".repeat(64),
            marker: String::new(),
            entry: BusEntry {
                source: "hookwarden.knox".into(),
                detail_type: "T".into(),
                detail: "x".repeat(detail_bytes),
            },
        }
    }

    /// How `sizes` split into PutEvents calls.
    fn batches(sizes: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut batch = Batch::default();
        for &size in sizes {
            let item = pending(size);
            if !batch.fits(&item.entry) {
                out.push(std::mem::take(&mut batch).pending.len());
            }
            batch.push(item);
        }
        out.push(batch.pending.len());
        out
    }

    #[test]
    fn batches_hold_ten_entries_and_256_kib() {
        assert_eq!(batches(&[100; 25]), [10, 10, 5]);
        assert_eq!(batches(&[100 * 1024; 5]), [2, 2, 1]);
        // An entry over the request limit (up to the 1 MiB entry limit) goes alone.
        assert_eq!(batches(&[100, 900 * 1024, 100]), [1, 1, 1]);
    }

    #[test]
    fn replay_names_are_key_segments() {
        assert!(parse_name("outage-2026-12-04_1.a").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(65)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
    }
}
