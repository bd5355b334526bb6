//! Local adapters: a directory as the object store, files as the event bus, fixed secrets.
//! `hookwarden serve` and the pipeline's own tests use them; no AWS account needed.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::ports::{
    BusEntry, DependencyError, EventBus, ObjectStore, PutOutcome, SecretSource, SecretStage,
    SecretValue,
};

/// Every file below `dir`, sorted (none if `dir` does not exist): what a [`DirStore`] or a
/// [`FileBus`] holds, for whoever inspects it (the tests, a `hookwarden serve` user).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// An object store in a directory; `put_if_absent` uses `O_EXCL` (create-new), which is
/// atomic on local filesystems, so concurrent duplicates store once here too.
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, DependencyError> {
        let relative = Path::new(key);
        // Keys are built from checked ids, but a store must not trust its callers with `..`.
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(DependencyError::new(
                "local-store",
                format!("key {key:?} escapes the store"),
            ));
        }
        Ok(self.root.join(relative))
    }

    fn write(
        &self,
        key: &str,
        body: &[u8],
        create_new: bool,
    ) -> Result<PutOutcome, DependencyError> {
        let path = self.path(key)?;
        let err = |e: std::io::Error| {
            DependencyError::new("local-store", format!("{}: {e}", path.display()))
        };
        std::fs::create_dir_all(path.parent().expect("a joined key has a parent")).map_err(err)?;
        if !create_new {
            // Write then rename, so a reader never sees half a certificate.
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, body).map_err(err)?;
            std::fs::rename(&tmp, &path).map_err(err)?;
            return Ok(PutOutcome::Created);
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(body)
                    .and_then(|()| file.sync_all())
                    .map_err(err)?;
                Ok(PutOutcome::Created)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(err(e)),
        }
    }
}

#[async_trait]
impl ObjectStore for DirStore {
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<PutOutcome, DependencyError> {
        self.write(key, &body, true)
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), DependencyError> {
        self.write(key, &body, false).map(|_| ())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DependencyError> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DependencyError::new(
                "local-store",
                format!("{}: {e}", path.display()),
            )),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, DependencyError> {
        Ok(self.path(key)?.exists())
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }
}

/// Publishes each bus entry as one JSON file `{dir}/{n}.json` holding source, detail-type
/// and detail, numbered in publish order.
pub struct FileBus {
    dir: PathBuf,
    next: AtomicU64,
}

impl FileBus {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            next: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl EventBus for FileBus {
    async fn publish(&self, entry: &BusEntry) -> Result<(), DependencyError> {
        let err = |e: std::io::Error| DependencyError::new("local-bus", e);
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let document = serde_json::json!({
            "source": entry.source,
            "detail-type": entry.detail_type,
            "detail": serde_json::from_str::<serde_json::Value>(&entry.detail)
                .map_err(|e| DependencyError::new("local-bus", e))?,
        });
        loop {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            let path = self.dir.join(format!("{n:08}.json"));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    return file.write_all(document.to_string().as_bytes()).map_err(err)
                }
                // Another process (an earlier `serve`) used this number: take the next.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(err(e)),
            }
        }
    }
}

/// Secrets fixed at start: `current` and optionally `previous`. The rotation that made
/// `current` AWSCURRENT is dated when the source is built (see [`StaticSecret::rotated_at`]),
/// so `previous` verifies for a grace period from then. Counts its reads.
pub struct StaticSecret {
    current: SecretValue,
    previous: Option<SecretValue>,
    fetches: AtomicU64,
}

impl StaticSecret {
    pub fn new(current: impl Into<String>) -> Self {
        Self {
            current: SecretValue {
                created: Some(time::OffsetDateTime::now_utc()),
                ..SecretValue::new(current, "local-current")
            },
            previous: None,
            fetches: AtomicU64::new(0),
        }
    }

    pub fn with_previous(mut self, previous: impl Into<String>) -> Self {
        self.previous = Some(SecretValue {
            stage: SecretStage::Previous,
            ..SecretValue::new(previous, "local-previous")
        });
        self
    }

    /// Dates the rotation: `current`'s creation, from which `previous`'s grace period runs.
    pub fn rotated_at(mut self, at: time::OffsetDateTime) -> Self {
        self.current.created = Some(at);
        self
    }

    /// How many times a stage was read.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretSource for StaticSecret {
    async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(match stage {
            SecretStage::Current => Some(self.current.clone()),
            SecretStage::Previous => self.previous.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dir_store_creates_once_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        assert_eq!(
            store
                .put_if_absent("a/b.json", b"1".to_vec(), "")
                .await
                .unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            store
                .put_if_absent("a/b.json", b"2".to_vec(), "")
                .await
                .unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(store.get("a/b.json").await.unwrap().unwrap(), b"1");
        assert!(store.exists("a/b.json").await.unwrap());
        assert_eq!(store.get("a/missing").await.unwrap(), None);
        store.put("a/b.json", b"3".to_vec(), "").await.unwrap();
        assert_eq!(store.get("a/b.json").await.unwrap().unwrap(), b"3");
        assert!(store.put_if_absent("../x", vec![], "").await.is_err());
        assert!(store.get("/etc/passwd").await.is_err());
    }

    #[tokio::test]
    async fn file_bus_numbers_entries() {
        let dir = tempfile::tempdir().unwrap();
        let bus = FileBus::new(dir.path());
        for n in 0..3 {
            let entry = BusEntry {
                source: "s".into(),
                detail_type: "t".into(),
                detail: format!("{{\"n\":{n}}}"),
            };
            bus.publish(&entry).await.unwrap();
        }
        let second: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("00000001.json")).unwrap())
                .unwrap();
        assert_eq!(second["detail"]["n"], 1);
        assert_eq!(second["detail-type"], "t");
    }
}
