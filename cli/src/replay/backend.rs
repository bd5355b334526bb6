//! Where `replay` reads stored envelopes, keeps its markers and publishes: a small trait so
//! the replay logic is the same for an S3 bucket + EventBridge bus ([`super::aws`]) and for
//! the data directory of `hookwarden serve` ([`Local`]).

use async_trait::async_trait;
use hookwarden_pipeline::local::{files_under, DirStore, FileBus};
use hookwarden_pipeline::ports::{BusEntry, EventBus, ObjectStore, PutOutcome};

/// A call to the store or the bus failed; the message says which and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// What a publish call did with each entry, in order: `None` published, `Some(code)` refused.
pub type EntryResults = Vec<Option<String>>;

#[async_trait]
pub trait Backend: Send + Sync {
    /// Every key under `prefix` (which ends in `/`), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError>;
    /// The object at `key`; `None` when it is gone.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    async fn exists(&self, key: &str) -> Result<bool, BackendError>;
    /// Creates an empty object at `key` unless one exists (S3 `If-None-Match: *`).
    async fn create(&self, key: &str) -> Result<PutOutcome, BackendError>;
    /// Publishes up to 10 entries in one call. `Err`: the call itself failed (throttled,
    /// unreachable): no entry is known to be published.
    async fn publish(&self, entries: &[BusEntry]) -> Result<EntryResults, PublishError>;
    /// The bucket (or directory) named in `stored_at`.
    fn location(&self) -> String;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PublishError(pub String);

/// The data directory of `hookwarden serve`: envelopes and markers in its store, and its
/// bus — the `eventbridge/` directory of numbered files `serve` publishes to. Nothing routes
/// those files further; a replay there shows what would be published, as files.
pub struct Local {
    store: DirStore,
    bus: FileBus,
}

impl Local {
    pub fn new(dir: &std::path::Path) -> Self {
        Self {
            store: DirStore::new(dir),
            bus: FileBus::new(dir.join("eventbridge")),
        }
    }
}

fn local_error(err: impl std::fmt::Display) -> BackendError {
    BackendError(err.to_string())
}

#[async_trait]
impl Backend for Local {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let root = self.store.root();
        Ok(files_under(&root.join(prefix))
            .iter()
            .filter_map(|path| path.strip_prefix(root).ok())
            .filter_map(|path| path.to_str().map(str::to_string))
            .collect())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.store.get(key).await.map_err(local_error)
    }

    async fn exists(&self, key: &str) -> Result<bool, BackendError> {
        self.store.exists(key).await.map_err(local_error)
    }

    async fn create(&self, key: &str) -> Result<PutOutcome, BackendError> {
        self.store
            .put_if_absent(key, Vec::new(), "text/plain")
            .await
            .map_err(local_error)
    }

    async fn publish(&self, entries: &[BusEntry]) -> Result<EntryResults, PublishError> {
        let mut results = Vec::with_capacity(entries.len());
        for entry in entries {
            results.push(self.bus.publish(entry).await.err().map(|e| e.to_string()));
        }
        Ok(results)
    }

    fn location(&self) -> String {
        self.store.location()
    }
}
