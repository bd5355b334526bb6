//! Secrets Manager values cached in the execution environment.
//!
//! Verification first uses the cached AWSCURRENT value. When that fails, the cache refetches
//! AWSCURRENT and also tries AWSPREVIOUS — once per `MIN_REFRESH_INTERVAL`, so forged traffic
//! cannot turn into a flood of Secrets Manager calls — and the caller verifies again. A
//! rotation therefore never drops valid traffic: senders still on the old secret match
//! AWSPREVIOUS, senders already on the new one match the refetched AWSCURRENT.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::ports::{DependencyError, SecretSource, SecretStage, SecretValue};

/// How long a forced refresh blocks the next one.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

pub struct SecretCache {
    source: Arc<dyn SecretSource>,
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    current: Option<(SecretValue, Instant)>,
    /// `Some(None)`: AWSPREVIOUS was looked up and does not exist.
    previous: Option<Option<SecretValue>>,
    last_forced: Option<Instant>,
}

impl SecretCache {
    pub fn new(source: Arc<dyn SecretSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    /// The values to verify with: AWSCURRENT, then AWSPREVIOUS once a miss has fetched it.
    pub async fn candidates(&self) -> Result<Vec<SecretValue>, DependencyError> {
        let mut state = self.state.lock().await;
        let fresh = matches!(&state.current, Some((_, at)) if at.elapsed() < self.ttl);
        if !fresh {
            let current = self.fetch_current().await?;
            state.current = Some((current, Instant::now()));
            // A new AWSCURRENT may have moved the old one to AWSPREVIOUS.
            state.previous = None;
        }
        Ok(state.candidate_list())
    }

    /// After a failed verification: refetch both stages unless that happened moments ago.
    /// `Ok(Some(list))` when there is something new to try.
    pub async fn refresh_after_miss(&self) -> Result<Option<Vec<SecretValue>>, DependencyError> {
        let mut state = self.state.lock().await;
        if state
            .last_forced
            .is_some_and(|at| at.elapsed() < MIN_REFRESH_INTERVAL)
        {
            return Ok(None);
        }
        state.last_forced = Some(Instant::now());
        // Version ids name values in Secrets Manager, so comparing them tells whether anything
        // changed without comparing secret text.
        let versions = |list: &[SecretValue]| -> Vec<String> {
            list.iter().map(|value| value.version_id.clone()).collect()
        };
        let before = versions(&state.candidate_list());
        let current = self.fetch_current().await?;
        let previous = self.source.fetch(SecretStage::Previous).await?;
        state.current = Some((current, Instant::now()));
        state.previous = Some(previous);
        let after = state.candidate_list();
        Ok((versions(&after) != before).then_some(after))
    }

    async fn fetch_current(&self) -> Result<SecretValue, DependencyError> {
        self.source
            .fetch(SecretStage::Current)
            .await?
            .ok_or_else(|| {
                DependencyError::new("secretsmanager", "the secret has no AWSCURRENT value")
            })
    }
}

impl State {
    fn candidate_list(&self) -> Vec<SecretValue> {
        let current = self.current.iter().map(|(value, _)| value.clone());
        let previous = self.previous.iter().flatten().cloned();
        let mut list: Vec<SecretValue> = current.chain(previous).collect();
        list.dedup_by(|a, b| a.version_id == b.version_id);
        list
    }
}

/// Verifies with the cached candidates, and once more after a refresh when that fails with
/// a rejection that a newer or older secret could fix. `attempt` returns `Ok` on a match.
pub async fn verify_with_rotation<T, E>(
    cache: &SecretCache,
    mut attempt: impl FnMut(&[SecretValue]) -> Result<T, E>,
    retry_worthwhile: impl Fn(&E) -> bool,
) -> Result<Result<T, E>, DependencyError> {
    let candidates = cache.candidates().await?;
    match attempt(&candidates) {
        Err(err) if retry_worthwhile(&err) => match cache.refresh_after_miss().await? {
            Some(refreshed) => Ok(attempt(&refreshed)),
            None => Ok(Err(err)),
        },
        other => Ok(other),
    }
}

/// The string field `field` of a JSON secret (`{"secret_key": "..."}`). The error names the
/// version and field, never the value.
pub fn json_field(value: &SecretValue, field: &str) -> Result<zeroize::Zeroizing<String>, String> {
    let parsed: serde_json::Value = serde_json::from_str(&value.text)
        .map_err(|_| format!("secret version {} is not a JSON object", value.version_id))?;
    match parsed.get(field) {
        Some(serde_json::Value::String(text)) if !text.is_empty() => Ok(text.clone().into()),
        _ => Err(format!(
            "secret version {} has no non-empty string field {field:?}",
            value.version_id
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex as StdMutex;

    /// A secret source whose versions the test rotates, counting fetches.
    struct Rotating {
        versions: StdMutex<Vec<&'static str>>,
        fetches: AtomicUsize,
    }

    #[async_trait]
    impl SecretSource for Rotating {
        async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let versions = self.versions.lock().unwrap();
            let index = match stage {
                SecretStage::Current => versions.len().checked_sub(1),
                SecretStage::Previous => versions.len().checked_sub(2),
            };
            Ok(index.map(|i| SecretValue {
                text: versions[i].to_string().into(),
                version_id: format!("v{i}"),
            }))
        }
    }

    fn texts(list: &[SecretValue]) -> Vec<String> {
        list.iter().map(|v| v.text.to_string()).collect()
    }

    #[tokio::test]
    async fn caches_then_finds_previous_and_new_after_rotation() {
        let source = Arc::new(Rotating {
            versions: StdMutex::new(vec!["old"]),
            fetches: AtomicUsize::new(0),
        });
        let cache = SecretCache::new(source.clone(), Duration::from_secs(300));
        assert_eq!(texts(&cache.candidates().await.unwrap()), ["old"]);
        assert_eq!(texts(&cache.candidates().await.unwrap()), ["old"]);
        assert_eq!(
            source.fetches.load(Ordering::SeqCst),
            1,
            "second call served from cache"
        );

        source.versions.lock().unwrap().push("new");
        // The cache still says "old"; a miss refreshes and now offers both stages.
        assert_eq!(
            texts(&cache.refresh_after_miss().await.unwrap().unwrap()),
            ["new", "old"]
        );
        // Rate limited: an immediate second miss does not refetch.
        let fetches = source.fetches.load(Ordering::SeqCst);
        assert!(cache.refresh_after_miss().await.unwrap().is_none());
        assert_eq!(source.fetches.load(Ordering::SeqCst), fetches);
    }

    #[tokio::test]
    async fn verify_with_rotation_retries_once_on_a_miss() {
        let source = Arc::new(Rotating {
            versions: StdMutex::new(vec!["old"]),
            fetches: AtomicUsize::new(0),
        });
        let cache = SecretCache::new(source.clone(), Duration::from_secs(300));
        cache.candidates().await.unwrap();
        source.versions.lock().unwrap().push("new");
        let matched = verify_with_rotation(
            &cache,
            |list| {
                list.iter()
                    .find(|v| v.text.as_str() == "new")
                    .map(|v| v.version_id.clone())
                    .ok_or("miss")
            },
            |_| true,
        )
        .await
        .unwrap();
        assert_eq!(matched, Ok("v1".to_string()));
    }

    #[tokio::test]
    async fn missing_current_is_a_dependency_error() {
        let source = Arc::new(Rotating {
            versions: StdMutex::new(vec![]),
            fetches: AtomicUsize::new(0),
        });
        let cache = SecretCache::new(source, Duration::from_secs(300));
        assert!(cache.candidates().await.is_err());
    }
}
