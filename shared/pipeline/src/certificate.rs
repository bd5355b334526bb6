//! The Samsung Knox validation certificate: read from the object store once, cached, and
//! refreshed through the Knox API when it is missing or expired — the flow Samsung describes
//! ("if there's no locally-stored certificate or if it's expired, call GET
//! /downloadCertificate and store it").

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookwarden_verify::x509::KnoxCertificate;
use tokio::sync::Mutex;

use crate::ports::{CertificateFetcher, DependencyError, ObjectStore};

/// How often a failing download may be retried; Knox retries its callbacks, and each one
/// should not become a call to the Knox API.
pub const DOWNLOAD_RETRY_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum CertificateProblem {
    #[error("no Knox certificate at {key} and no Knox API configured to download one")]
    Missing { key: String },
    #[error(
        "the Knox certificate at {key} is outside its validity period and no refresh succeeded"
    )]
    Expired { key: String },
    #[error("the Knox certificate at {key} cannot be parsed: {detail}")]
    Unreadable { key: String, detail: String },
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

pub struct CertificateCache {
    store: Arc<dyn ObjectStore>,
    key: String,
    fetcher: Option<Arc<dyn CertificateFetcher>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    certificate: Option<Arc<KnoxCertificate>>,
    last_download: Option<Instant>,
}

impl CertificateCache {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        key: impl Into<String>,
        fetcher: Option<Arc<dyn CertificateFetcher>>,
    ) -> Self {
        Self {
            store,
            key: key.into(),
            fetcher,
            state: Mutex::new(State::default()),
        }
    }

    /// A certificate valid at `now_unix`, from the cache, the store, or a fresh download
    /// (which is then written back to the store).
    pub async fn current(&self, now_unix: i64) -> Result<Arc<KnoxCertificate>, CertificateProblem> {
        let mut state = self.state.lock().await;
        if let Some(cert) = state
            .certificate
            .as_ref()
            .filter(|c| c.is_valid_at(now_unix))
        {
            return Ok(cert.clone());
        }
        let stored = match self.store.get(&self.key).await? {
            Some(bytes) => match self.parse(&bytes) {
                Ok(cert) => Some(cert),
                // A download can replace an unreadable object; without one, say what is wrong.
                Err(problem) if self.fetcher.is_some() => {
                    tracing::warn!(%problem, "replacing the stored Knox certificate");
                    None
                }
                Err(problem) => return Err(problem),
            },
            None => None,
        };
        if let Some(cert) = stored.filter(|c| c.is_valid_at(now_unix)) {
            let cert = Arc::new(cert);
            state.certificate = Some(cert.clone());
            return Ok(cert);
        }
        let Some(fetcher) = &self.fetcher else {
            return Err(
                match state.certificate.is_some() || self.store.exists(&self.key).await? {
                    true => CertificateProblem::Expired {
                        key: self.key.clone(),
                    },
                    false => CertificateProblem::Missing {
                        key: self.key.clone(),
                    },
                },
            );
        };
        if state
            .last_download
            .is_some_and(|at| at.elapsed() < DOWNLOAD_RETRY_INTERVAL)
        {
            return Err(CertificateProblem::Expired {
                key: self.key.clone(),
            });
        }
        state.last_download = Some(Instant::now());
        let bytes = fetcher.download().await?;
        let cert = self.parse(&bytes)?;
        if !cert.is_valid_at(now_unix) {
            return Err(CertificateProblem::Expired {
                key: self.key.clone(),
            });
        }
        let content_type = if bytes.starts_with(b"-----BEGIN") {
            "application/x-pem-file"
        } else {
            "application/pkix-cert"
        };
        self.store.put(&self.key, bytes, content_type).await?;
        tracing::info!(
            fingerprint = cert.fingerprint_sha256(),
            not_after = cert.not_after(),
            "downloaded and stored a new Knox validation certificate"
        );
        let cert = Arc::new(cert);
        state.certificate = Some(cert.clone());
        Ok(cert)
    }

    fn parse(&self, bytes: &[u8]) -> Result<KnoxCertificate, CertificateProblem> {
        KnoxCertificate::parse(bytes).map_err(|err| CertificateProblem::Unreadable {
            key: self.key.clone(),
            detail: err.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::DirStore;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const CERT: &str = include_str!("../../../events/test-keys/knox-test-cert.pem");
    const KEY: &str = "knox/_certificate/knox.pem";
    const NOW: i64 = 1_795_000_000;

    /// Stands for Knox's `GET /downloadCertificate`, counting calls.
    struct Download(AtomicUsize);

    #[async_trait]
    impl CertificateFetcher for Download {
        async fn download(&self) -> Result<Vec<u8>, DependencyError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(CERT.as_bytes().to_vec())
        }
    }

    #[tokio::test]
    async fn a_missing_certificate_is_downloaded_stored_and_cached() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::new(dir.path()));
        let fetcher = Arc::new(Download(AtomicUsize::new(0)));
        let cache = CertificateCache::new(store.clone(), KEY, Some(fetcher.clone()));
        let cert = cache.current(NOW).await.unwrap();
        assert_eq!(
            store.get(KEY).await.unwrap().unwrap(),
            CERT.as_bytes(),
            "written back"
        );
        assert_eq!(
            cache.current(NOW).await.unwrap().fingerprint_sha256(),
            cert.fingerprint_sha256()
        );
        assert_eq!(
            fetcher.0.load(Ordering::SeqCst),
            1,
            "served from the cache afterwards"
        );
    }

    #[tokio::test]
    async fn an_expired_certificate_without_a_downloader_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::new(dir.path()));
        store.put(KEY, CERT.as_bytes().to_vec(), "").await.unwrap();
        let cache = CertificateCache::new(store, KEY, None);
        let after_expiry = cache.current(NOW).await.unwrap().not_after() + 1;
        assert!(matches!(
            cache.current(after_expiry).await,
            Err(CertificateProblem::Expired { .. })
        ));
    }
}
