//! The outside world as the pipeline sees it. Each port has an AWS adapter
//! (`hookwarden-aws`) and a local one (`crate::local`); tests and `hookwarden serve` pick local
//! ones, the Lambda functions pick AWS.

use async_trait::async_trait;

/// A dependency (S3, Secrets Manager, EventBridge, the Knox API) failed or timed out. The
/// request is answered 503 so the provider retries; `detail` goes to the log, never to the
/// caller.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{dependency} unavailable: {detail}")]
pub struct DependencyError {
    pub dependency: &'static str,
    pub detail: String,
    /// The service refused for rate (S3 `SlowDown`, EventBridge throttling) even after
    /// backing off: a quota binds, which the log and metrics name
    /// apart from an outage.
    pub throttled: bool,
}

impl DependencyError {
    pub fn new(dependency: &'static str, detail: impl std::fmt::Display) -> Self {
        Self {
            dependency,
            detail: detail.to_string(),
            throttled: false,
        }
    }

    pub fn throttled(dependency: &'static str, detail: impl std::fmt::Display) -> Self {
        Self {
            throttled: true,
            ..Self::new(dependency, detail)
        }
    }
}

/// What a conditional create found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object did not exist and is now durably stored.
    Created,
    /// An object already existed under that key (S3 answered 412); nothing was written.
    AlreadyExists,
}

/// An object store with create-once semantics (S3 `If-None-Match: *`, or `O_EXCL` files).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Writes `body` at `key` only if no object exists there.
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<PutOutcome, DependencyError>;
    /// Writes `body` at `key`, replacing what is there (the Knox certificate only).
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), DependencyError>;
    /// Reads the object at `key`; `Ok(None)` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DependencyError>;
    /// Whether an object exists at `key`.
    async fn exists(&self, key: &str) -> Result<bool, DependencyError>;
    /// Where objects land, for pointers in bus events: the bucket name, or a directory.
    fn location(&self) -> String;
}

/// One EventBridge entry, already sized to fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEntry {
    pub source: String,
    pub detail_type: String,
    pub detail: String,
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes one entry; a rejected entry (`FailedEntryCount > 0`) is an error.
    async fn publish(&self, entry: &BusEntry) -> Result<(), DependencyError>;
}

/// Secrets Manager version stages hookwarden reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretStage {
    Current,
    Previous,
}

impl SecretStage {
    pub fn label(self) -> &'static str {
        match self {
            SecretStage::Current => "AWSCURRENT",
            SecretStage::Previous => "AWSPREVIOUS",
        }
    }
}

/// A secret's text and the version id that identifies it in envelopes.
/// No `PartialEq`: comparing secret text must go through a constant-time MAC check, never `==`.
#[derive(Clone)]
pub struct SecretValue {
    pub text: zeroize::Zeroizing<String>,
    pub version_id: String,
    /// When this version was created (Secrets Manager's `CreatedDate`). For AWSCURRENT that
    /// is the moment of the last rotation, from which AWSPREVIOUS's grace period runs.
    /// `None` when unknown: AWSPREVIOUS is then never accepted.
    pub created: Option<time::OffsetDateTime>,
    /// The stage the value was read under.
    pub stage: SecretStage,
}

impl SecretValue {
    /// An AWSCURRENT value of unknown age; [`SecretValue::created`] and
    /// [`SecretValue::stage`] say otherwise.
    pub fn new(text: impl Into<String>, version_id: impl Into<String>) -> Self {
        Self {
            text: zeroize::Zeroizing::new(text.into()),
            version_id: version_id.into(),
            created: None,
            stage: SecretStage::Current,
        }
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("text", &"<redacted>")
            .field("version_id", &self.version_id)
            .field("created", &self.created)
            .field("stage", &self.stage)
            .finish()
    }
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret at `stage`; `Ok(None)` when that stage does not exist (no previous version yet).
    /// Sources fill in [`SecretValue::created`] when they know it: without it a rotation has
    /// no start, and AWSPREVIOUS is refused.
    async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError>;
}

/// Downloads a fresh Samsung Knox validation certificate (`GET /downloadCertificate`).
#[async_trait]
pub trait CertificateFetcher: Send + Sync {
    /// The certificate bytes as Knox serves them (PEM or DER).
    async fn download(&self) -> Result<Vec<u8>, DependencyError>;
}
