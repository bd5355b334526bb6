//! The Samsung Knox validation certificate: read from the object store once, cached, and
//! refreshed through the Knox API when it is missing or expired — the flow Samsung describes
//! ("if there's no locally-stored certificate or if it's expired, call GET
//! /downloadCertificate and store it").
//!
//! **Pins** (`KNOX_CERT_SPKI_SHA256`, [`CertificateCache::pin_keys`]): SHA-256 digests of the
//! SubjectPublicKeyInfo of the keys Knox signatures may be checked with. A downloaded
//! certificate is used and written to the store only when its key is pinned, so whoever
//! answers the download (or redirects it) cannot replace the trust anchor; with no pin
//! nothing downloaded is ever accepted. With pins, a stored certificate whose key is not
//! pinned is not used either, so a write to the object cannot replace the key; without pins
//! the stored certificate is trusted as the operator installed it.
//!
//! **Out of its validity period.** Under a pin, the pin decides and the dates do not: a
//! certificate whose key is pinned keeps verifying after it expires (or before it starts),
//! with a warning, while a current one is looked for in the store and through the download,
//! at most once every [`DOWNLOAD_RETRY_INTERVAL`]. Samsung renews the certificate and keeps
//! the key (research notes, protocols-2.md: the 2022 and 2024 certificates carry one key), so
//! an expired certificate says nothing about its key, and refusing it would turn a late
//! renewal into 503s and, once Knox stops retrying, lost events. Retiring a key is done by
//! removing its pin. Without pins the validity period is the only bound on the anchor and is
//! enforced, as Samsung's own verifier does.
//!
//! **Replaced in the store.** A cached certificate is not re-read on every request. When a
//! signature does not verify with it, the store is read again (at most once every
//! [`RECHECK_INTERVAL`]) and, if the certificate there changed and is usable, the signature is
//! checked again with that one, which is kept: a certificate replaced in the store is picked
//! up by warm environments without a redeploy (review A10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookwarden_verify::knox::{self, KnoxError, Verified};
use hookwarden_verify::reject::RejectKind;
use hookwarden_verify::x509::{KnoxCertificate, SpkiPin};
use tokio::sync::Mutex;

use crate::ports::{CertificateFetcher, DependencyError, ObjectStore};

/// How often a failing download may be retried, and how often a pinned certificate out of its
/// validity period looks for a current one; Knox retries its callbacks, and each one should
/// not become a call to the Knox API.
pub const DOWNLOAD_RETRY_INTERVAL: Duration = Duration::from_secs(60);

/// How often a signature the cached certificate does not verify may re-read the stored one.
/// Forged requests cost at most one GET per interval per execution environment; a callback
/// signed with a rotated key is refused only if it arrives within this interval of a re-read
/// made before the rotated certificate was stored (as the secrets' refresh interval).
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(5);

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
    #[error("the Knox certificate {origin} has a public key (SubjectPublicKeyInfo SHA-256 {spki}) that KNOX_CERT_SPKI_SHA256 does not pin; it is not used{stored}")]
    NotPinned {
        origin: String,
        spki: String,
        stored: &'static str,
    },
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

/// Where certificate bytes came from: a downloaded certificate needs a pin in every case.
#[derive(Clone, Copy)]
enum Origin {
    Store,
    Download,
}

pub struct CertificateCache {
    store: Arc<dyn ObjectStore>,
    key: String,
    fetcher: Option<Arc<dyn CertificateFetcher>>,
    /// `KNOX_CERT_SPKI_SHA256`; empty: no pin.
    pins: Vec<SpkiPin>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Its key passed the pins; out of its validity period only under a pin.
    certificate: Option<Arc<KnoxCertificate>>,
    last_download: Option<Instant>,
    /// The last look for a current certificate (store, then download).
    last_refresh: Option<Instant>,
    /// The last re-read of the store after a signature did not verify.
    last_recheck: Option<Instant>,
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
            pins: Vec::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// Uses only certificates whose public key is one of `pins` (see the module docs). A
    /// downloaded certificate is accepted only under a pin, with or without this call.
    pub fn pin_keys(mut self, pins: impl IntoIterator<Item = SpkiPin>) -> Self {
        self.pins = pins.into_iter().collect();
        self
    }

    fn pinned(&self) -> bool {
        !self.pins.is_empty()
    }

    /// The public keys this cache accepts (empty: no pin).
    pub fn pins(&self) -> &[SpkiPin] {
        &self.pins
    }

    /// Verifies a Knox callback with the current certificate: `Err` when no certificate can
    /// be had (a 503: our outage), otherwise the verdict. A signature the certificate does not
    /// verify makes the cache re-read the store (rate-limited) and, when the certificate
    /// there changed, verify again with it.
    pub async fn verify(
        &self,
        body: &[u8],
        signature: &str,
        now_unix: i64,
    ) -> Result<Result<Verified, KnoxError>, CertificateProblem> {
        let certificate = self.current(now_unix).await?;
        let verdict = self.verify_with(&certificate, body, signature, now_unix);
        if !matches!(&verdict, Err(err) if err.kind() == RejectKind::Forged) {
            return Ok(verdict);
        }
        Ok(match self.recheck(&certificate, now_unix).await? {
            Some(replaced) => self.verify_with(&replaced, body, signature, now_unix),
            None => verdict,
        })
    }

    fn verify_with(
        &self,
        certificate: &KnoxCertificate,
        body: &[u8],
        signature: &str,
        now_unix: i64,
    ) -> Result<Verified, KnoxError> {
        let anchors = std::slice::from_ref(certificate);
        match self.pinned() {
            true => knox::verify_pinned(body, signature, anchors, &self.pins),
            false => knox::verify(body, signature, anchors, now_unix),
        }
    }

    /// A certificate to verify with at `now_unix`, from the cache, the store, or a fresh
    /// download (which is then written back to the store): valid now or, under a pin, with a
    /// pinned key (see the module docs).
    pub async fn current(&self, now_unix: i64) -> Result<Arc<KnoxCertificate>, CertificateProblem> {
        let mut state = self.state.lock().await;
        let held = state.certificate.clone();
        if let Some(cert) = &held {
            let looked_lately = state
                .last_refresh
                .is_some_and(|at| at.elapsed() < DOWNLOAD_RETRY_INTERVAL);
            if cert.is_valid_at(now_unix) || (self.pinned() && looked_lately) {
                return Ok(cert.clone());
            }
        }
        let cert = match (self.load(&mut state, now_unix).await, held) {
            (Ok(cert), _) => cert,
            (Err(problem), Some(cert)) if self.pinned() => {
                tracing::warn!(
                    %problem,
                    not_before = cert.not_before(),
                    not_after = cert.not_after(),
                    spki_sha256 = %cert.spki_sha256(),
                    "no Knox certificate valid now; verifying with the pinned key of the one held"
                );
                cert
            }
            (Err(problem), _) => return Err(problem),
        };
        if !cert.is_valid_at(now_unix) {
            // Pinned, out of its period: look for a current one again later, not per request.
            state.last_refresh = Some(Instant::now());
        }
        state.certificate = Some(cert.clone());
        Ok(cert)
    }

    /// The stored certificate if it is valid now; otherwise a downloaded one (written back);
    /// under a pin, failing both, the stored one out of its period.
    async fn load(
        &self,
        state: &mut State,
        now_unix: i64,
    ) -> Result<Arc<KnoxCertificate>, CertificateProblem> {
        let (present, stored) = match self.store.get(&self.key).await? {
            None => (false, None),
            Some(bytes) => match self.accept(&bytes, Origin::Store) {
                Ok(cert) => (true, Some(cert)),
                // A download can replace an unusable object; without one, say what is wrong.
                Err(problem) if self.fetcher.is_some() => {
                    tracing::warn!(%problem, "replacing the stored Knox certificate");
                    (true, None)
                }
                Err(problem) => return Err(problem),
            },
        };
        let stored = match stored {
            Some(cert) if cert.is_valid_at(now_unix) => return Ok(Arc::new(cert)),
            other => other,
        };
        let downloaded = match &self.fetcher {
            Some(fetcher) => self.download(fetcher.as_ref(), state, now_unix).await,
            None if present || state.certificate.is_some() => Err(CertificateProblem::Expired {
                key: self.key.clone(),
            }),
            None => Err(CertificateProblem::Missing {
                key: self.key.clone(),
            }),
        };
        match (downloaded, stored) {
            (Ok(cert), _) => Ok(cert),
            (Err(problem), Some(cert)) if self.pinned() => {
                tracing::warn!(
                    %problem,
                    not_before = cert.not_before(),
                    not_after = cert.not_after(),
                    spki_sha256 = %cert.spki_sha256(),
                    "the stored Knox certificate is outside its validity period; verifying with its pinned key"
                );
                Ok(Arc::new(cert))
            }
            (Err(problem), _) => Err(problem),
        }
    }

    /// Downloads a certificate and writes it back to the store, at most once every
    /// [`DOWNLOAD_RETRY_INTERVAL`]. Only a certificate valid now whose key is pinned is
    /// written or used: anything else the download returns is dropped.
    async fn download(
        &self,
        fetcher: &dyn CertificateFetcher,
        state: &mut State,
        now_unix: i64,
    ) -> Result<Arc<KnoxCertificate>, CertificateProblem> {
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
        let cert = self.accept(&bytes, Origin::Download)?;
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
            spki_sha256 = %cert.spki_sha256(),
            not_after = cert.not_after(),
            "downloaded and stored a new Knox validation certificate"
        );
        Ok(Arc::new(cert))
    }

    /// After a signature `held` did not verify: the stored certificate when it is no longer
    /// `held` and usable now (replaced in the store by an operator or another environment).
    /// Reads the store at most once every [`RECHECK_INTERVAL`].
    async fn recheck(
        &self,
        held: &KnoxCertificate,
        now_unix: i64,
    ) -> Result<Option<Arc<KnoxCertificate>>, CertificateProblem> {
        let mut state = self.state.lock().await;
        // Another request may have switched already.
        if let Some(cert) = state.certificate.as_ref().filter(|c| c.der() != held.der()) {
            return Ok(Some(cert.clone()));
        }
        if state
            .last_recheck
            .is_some_and(|at| at.elapsed() < RECHECK_INTERVAL)
        {
            return Ok(None);
        }
        state.last_recheck = Some(Instant::now());
        let Some(bytes) = self.store.get(&self.key).await? else {
            return Ok(None);
        };
        let cert = match self.accept(&bytes, Origin::Store) {
            Ok(cert) if cert.der() == held.der() => return Ok(None),
            Ok(cert) if cert.is_valid_at(now_unix) || self.pinned() => cert,
            Ok(cert) => {
                tracing::warn!(
                    fingerprint = cert.fingerprint_sha256(),
                    not_before = cert.not_before(),
                    not_after = cert.not_after(),
                    "the stored Knox certificate changed but is outside its validity period; keeping the one held"
                );
                return Ok(None);
            }
            Err(problem) => {
                tracing::warn!(%problem, "the stored Knox certificate changed but cannot be used; keeping the one held");
                return Ok(None);
            }
        };
        tracing::info!(
            fingerprint = cert.fingerprint_sha256(),
            spki_sha256 = %cert.spki_sha256(),
            not_after = cert.not_after(),
            "the stored Knox certificate changed; verifying with the new one"
        );
        let cert = Arc::new(cert);
        state.certificate = Some(cert.clone());
        Ok(Some(cert))
    }

    /// Parses `bytes`; refuses a key the pins do not cover. A download always needs a pin.
    fn accept(&self, bytes: &[u8], origin: Origin) -> Result<KnoxCertificate, CertificateProblem> {
        let cert = KnoxCertificate::parse(bytes).map_err(|err| CertificateProblem::Unreadable {
            key: self.key.clone(),
            detail: err.to_string(),
        })?;
        let needs_pin = matches!(origin, Origin::Download) || self.pinned();
        if needs_pin && !cert.key_is_pinned(&self.pins) {
            return Err(CertificateProblem::NotPinned {
                origin: match origin {
                    Origin::Store => format!("at {}", self.key),
                    Origin::Download => "downloaded from the Knox API".to_owned(),
                },
                spki: cert.spki_sha256().to_string(),
                stored: match origin {
                    Origin::Store => "",
                    Origin::Download => " nor stored",
                },
            });
        }
        Ok(cert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::DirStore;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const CERT: &str = include_str!("../../../events/test-keys/knox-test-cert.pem");
    const SIGNING_KEY: &str = include_str!("../../../events/test-keys/knox-test-key.pem");
    const KEY: &str = "_certificates/knox.pem";
    const NOW: i64 = 1_795_000_000;
    const BODY: &[u8] = br#"{"event":"KAI_BATTERY_STATUS","subscriptionId":"s-1"}"#;

    /// Stands for Knox's `GET /downloadCertificate`, counting calls.
    struct Download(AtomicUsize);

    #[async_trait]
    impl CertificateFetcher for Download {
        async fn download(&self) -> Result<Vec<u8>, DependencyError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(CERT.as_bytes().to_vec())
        }
    }

    /// A download answering whatever its host chose, counting calls; `None` fails.
    struct Answer(AtomicUsize, Option<Vec<u8>>);

    #[async_trait]
    impl CertificateFetcher for Answer {
        async fn download(&self) -> Result<Vec<u8>, DependencyError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1
                .clone()
                .ok_or_else(|| DependencyError::new("knox-api", "GET answered 404 Not Found"))
        }
    }

    /// A [`DirStore`] counting reads.
    struct Counted(DirStore, AtomicUsize);

    #[async_trait]
    impl ObjectStore for Counted {
        async fn put_if_absent(
            &self,
            key: &str,
            body: Vec<u8>,
            content_type: &str,
        ) -> Result<crate::ports::PutOutcome, DependencyError> {
            self.0.put_if_absent(key, body, content_type).await
        }
        async fn put(&self, key: &str, body: Vec<u8>, ct: &str) -> Result<(), DependencyError> {
            self.0.put(key, body, ct).await
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DependencyError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.get(key).await
        }
        async fn exists(&self, key: &str) -> Result<bool, DependencyError> {
            self.0.exists(key).await
        }
        fn location(&self) -> String {
            self.0.location()
        }
    }

    fn test_pin() -> SpkiPin {
        KnoxCertificate::parse(CERT.as_bytes())
            .unwrap()
            .spki_sha256()
    }

    /// A certificate for another key, valid around `NOW`, and that key: what a host answering
    /// the download, or a writer of the object, could put in place.
    fn other_anchor() -> (String, hookwarden_verify::rsa::RsaSigningKey) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["knox.attacker.test".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let signer =
            hookwarden_verify::rsa::RsaSigningKey::from_pkcs8_der(&key.serialize_der()).unwrap();
        (cert.pem(), signer)
    }

    fn signed_by(key: &hookwarden_verify::rsa::RsaSigningKey) -> String {
        knox::sign(BODY, key).unwrap()
    }

    fn test_signer() -> hookwarden_verify::rsa::RsaSigningKey {
        hookwarden_verify::rsa::RsaSigningKey::from_pkcs8_pem(SIGNING_KEY).unwrap()
    }

    #[tokio::test]
    async fn a_missing_certificate_is_downloaded_stored_and_cached() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::new(dir.path()));
        let fetcher = Arc::new(Download(AtomicUsize::new(0)));
        let cache =
            CertificateCache::new(store.clone(), KEY, Some(fetcher.clone())).pin_keys([test_pin()]);
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

    /// A5: whoever answers the download (or a redirect of it) cannot install another key.
    #[tokio::test]
    async fn a_downloaded_certificate_whose_key_is_not_pinned_is_neither_stored_nor_used() {
        let (foreign, _) = other_anchor();
        for pins in [vec![test_pin()], vec![]] {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(DirStore::new(dir.path()));
            let fetcher = Arc::new(Answer(AtomicUsize::new(0), Some(foreign.clone().into())));
            let cache = CertificateCache::new(store.clone(), KEY, Some(fetcher.clone()))
                .pin_keys(pins.clone());
            let problem = cache.current(NOW).await.unwrap_err();
            assert!(
                matches!(&problem, CertificateProblem::NotPinned { .. }),
                "{problem}"
            );
            assert!(
                problem.to_string().contains("downloaded from the Knox API")
                    && problem.to_string().ends_with("not used nor stored"),
                "{problem}"
            );
            assert_eq!(fetcher.0.load(Ordering::SeqCst), 1);
            assert_eq!(store.get(KEY).await.unwrap(), None, "nothing written");
        }
    }

    /// With a pin, the object in the store cannot change the key either.
    #[tokio::test]
    async fn a_stored_certificate_whose_key_is_not_pinned_is_not_used() {
        let (foreign, signer) = other_anchor();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::new(dir.path()));
        store.put(KEY, foreign.into(), "").await.unwrap();
        let cache = CertificateCache::new(store.clone(), KEY, None).pin_keys([test_pin()]);
        let problem = cache
            .verify(BODY, &signed_by(&signer), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(&problem, CertificateProblem::NotPinned { .. }),
            "{problem}"
        );

        // A download replaces it, with the pinned certificate only.
        let fetcher = Arc::new(Download(AtomicUsize::new(0)));
        let cache = CertificateCache::new(store.clone(), KEY, Some(fetcher)).pin_keys([test_pin()]);
        let verdict = cache.verify(BODY, &signed_by(&test_signer()), NOW).await;
        assert!(matches!(verdict, Ok(Ok(_))));
        assert_eq!(store.get(KEY).await.unwrap().unwrap(), CERT.as_bytes());
    }

    /// Under a pin an expired certificate keeps verifying while a current one is looked for,
    /// at most once a minute; without a pin it does not.
    #[tokio::test]
    async fn a_pinned_certificate_past_its_validity_keeps_verifying_while_a_new_one_is_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Counted(DirStore::new(dir.path()), AtomicUsize::new(0)));
        store.put(KEY, CERT.as_bytes().to_vec(), "").await.unwrap();
        let after_expiry = KnoxCertificate::parse(CERT.as_bytes()).unwrap().not_after() + 1;
        let signature = signed_by(&test_signer());

        let failing = Arc::new(Answer(AtomicUsize::new(0), None));
        let cache =
            CertificateCache::new(store.clone(), KEY, Some(failing.clone())).pin_keys([test_pin()]);
        // Loaded while valid, then past its end.
        assert!(matches!(
            cache.verify(BODY, &signature, NOW).await,
            Ok(Ok(_))
        ));
        let reads = store.1.load(Ordering::SeqCst);
        for _ in 0..3 {
            let verdict = cache.verify(BODY, &signature, after_expiry).await;
            assert!(matches!(verdict, Ok(Ok(_))), "{verdict:?}");
        }
        assert_eq!(
            failing.0.load(Ordering::SeqCst),
            1,
            "one download attempt a minute"
        );
        assert_eq!(
            store.1.load(Ordering::SeqCst),
            reads + 1,
            "one store read a minute"
        );

        // A cold start finds it expired in the store: the same.
        let cold = CertificateCache::new(store.clone(), KEY, None).pin_keys([test_pin()]);
        assert!(matches!(
            cold.verify(BODY, &signature, after_expiry).await,
            Ok(Ok(_))
        ));

        // Without a pin the validity period decides: 503 until a current one is installed.
        let unpinned = CertificateCache::new(store.clone(), KEY, None);
        assert!(matches!(
            unpinned.verify(BODY, &signature, after_expiry).await,
            Err(CertificateProblem::Expired { .. })
        ));
    }

    /// A10: a certificate replaced in the store is used by a warm cache after the first
    /// signature the old one does not verify, without a redeploy; forged requests re-read
    /// the store at most once per interval.
    #[tokio::test]
    async fn a_certificate_replaced_in_the_store_is_picked_up_after_a_mismatch() {
        let (rotated, rotated_signer) = other_anchor();
        let rotated_pin = KnoxCertificate::parse(rotated.as_bytes())
            .unwrap()
            .spki_sha256();
        for pins in [vec![], vec![test_pin(), rotated_pin]] {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(Counted(DirStore::new(dir.path()), AtomicUsize::new(0)));
            store.put(KEY, CERT.as_bytes().to_vec(), "").await.unwrap();
            let cache = CertificateCache::new(store.clone(), KEY, None).pin_keys(pins.clone());
            assert!(matches!(
                cache.verify(BODY, &signed_by(&test_signer()), NOW).await,
                Ok(Ok(_))
            ));

            store.put(KEY, rotated.clone().into(), "").await.unwrap();
            let verified = cache
                .verify(BODY, &signed_by(&rotated_signer), NOW)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                verified.certificate_fingerprint,
                KnoxCertificate::parse(rotated.as_bytes())
                    .unwrap()
                    .fingerprint_sha256()
            );
            // The old key no longer verifies: the store decides, not the cache's history.
            let reads = store.1.load(Ordering::SeqCst);
            for _ in 0..5 {
                let verdict = cache.verify(BODY, &signed_by(&test_signer()), NOW).await;
                assert!(
                    matches!(verdict, Ok(Err(KnoxError::BadSignature))),
                    "{pins:?}"
                );
            }
            // Within RECHECK_INTERVAL of the re-read that switched: no further read.
            assert_eq!(
                store.1.load(Ordering::SeqCst),
                reads,
                "rate-limited re-read"
            );
        }
    }

    /// A replacement the pins do not cover is not switched to.
    #[tokio::test]
    async fn an_unpinned_replacement_in_the_store_is_not_switched_to() {
        let (foreign, signer) = other_anchor();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::new(dir.path()));
        store.put(KEY, CERT.as_bytes().to_vec(), "").await.unwrap();
        let cache = CertificateCache::new(store.clone(), KEY, None).pin_keys([test_pin()]);
        assert!(matches!(
            cache.verify(BODY, &signed_by(&test_signer()), NOW).await,
            Ok(Ok(_))
        ));
        store.put(KEY, foreign.into(), "").await.unwrap();
        assert!(matches!(
            cache.verify(BODY, &signed_by(&signer), NOW).await,
            Ok(Err(KnoxError::BadSignature))
        ));
        assert!(matches!(
            cache.verify(BODY, &signed_by(&test_signer()), NOW).await,
            Ok(Ok(_))
        ));
    }
}
