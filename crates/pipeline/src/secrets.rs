//! Secrets Manager values cached in the execution environment.
//!
//! Verification uses the cached AWSCURRENT value and, during the grace period after a
//! rotation, AWSPREVIOUS. The grace period starts at AWSCURRENT's creation date (the moment
//! of the rotation) and lasts `previous_grace` (`HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS`);
//! after it the rotated-out value verifies nothing, so rotating a leaked secret ends its use.
//! While a rotation is in grace, AWSPREVIOUS is read together with AWSCURRENT (once per
//! AWSCURRENT version), so a sender still on the old value is accepted without depending on
//! a failed verification to load it.
//!
//! When verification fails, the cache re-reads AWSCURRENT, since a sender may already use a
//! value put after the cache was filled, and the caller verifies again. That happens at most
//! once per [`MIN_REFRESH_INTERVAL`] per execution environment, counted from the last read,
//! so a flood of forged requests costs at most one GetSecretValue a minute.
//!
//! A read that fails is remembered, so that no request reads again at once: AWSCURRENT's
//! failure answers every request 503 for [`FAILED_CURRENT_RETRY`] (nothing can verify without
//! it), AWSPREVIOUS's counts as "no AWSPREVIOUS" for [`MIN_REFRESH_INTERVAL`] (AWSCURRENT
//! verifies on its own meanwhile).

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::ports::{DependencyError, SecretSource, SecretStage, SecretValue};

/// After a failed verification, AWSCURRENT is re-read only when the last read (or refresh
/// attempt) is at least this old.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// After a read of AWSCURRENT failed, requests are answered from that failure, without a new
/// read, for this long: short, because every request fails meanwhile, yet a flood costs at
/// most one read per interval.
pub const FAILED_CURRENT_RETRY: Duration = Duration::from_secs(5);

/// How long AWSPREVIOUS keeps verifying after a rotation, unless configured otherwise: time
/// to change the key in the provider's console after `put-secret-value`, and for deliveries
/// signed just before the switch to arrive, while bounding how long a leaked secret that
/// was rotated out stays usable.
pub const DEFAULT_PREVIOUS_GRACE: Duration = Duration::from_secs(60 * 60);

pub struct SecretCache {
    source: Arc<dyn SecretSource>,
    ttl: Duration,
    previous_grace: Duration,
    min_refresh_interval: Duration,
    failed_current_retry: Duration,
    clock: Clock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// AWSCURRENT and when it was read.
    current: Option<(SecretValue, Instant)>,
    /// AWSPREVIOUS as read while `current` was AWSCURRENT; `Some(None)`: there is none. Read
    /// only while the rotation to `current` is in grace; kept after the grace period only to
    /// say in the log why a request that matches it is refused.
    previous: Option<Option<SecretValue>>,
    /// The last refresh after a failed verification, successful or not.
    last_forced: Option<Instant>,
    /// The last failed read of AWSCURRENT, while it is recent: what requests are answered.
    current_failed: Option<(Instant, DependencyError)>,
    /// The last failed read of AWSPREVIOUS (during a grace period).
    previous_failed: Option<Instant>,
}

/// Whether AWSPREVIOUS may verify, for the rotation to the cached AWSCURRENT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grace {
    /// Until this moment (`None`: with no end, as `hookwarden serve` uses it).
    Open(Option<OffsetDateTime>),
    /// The grace period ended at this moment.
    Ended(OffsetDateTime),
    /// Never: the grace period is 0.
    Off,
    /// Never: AWSCURRENT's creation date is unknown, so the rotation has no start.
    Undated,
}

impl SecretCache {
    /// A cache re-reading AWSCURRENT every `ttl`, with the default grace period
    /// ([`DEFAULT_PREVIOUS_GRACE`]) and the system clock.
    pub fn new(source: Arc<dyn SecretSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            previous_grace: DEFAULT_PREVIOUS_GRACE,
            min_refresh_interval: MIN_REFRESH_INTERVAL,
            failed_current_retry: FAILED_CURRENT_RETRY,
            clock: Clock::system(),
            state: Mutex::new(State::default()),
        }
    }

    /// How long after AWSCURRENT's creation AWSPREVIOUS still verifies; zero: never.
    /// [`Duration::MAX`]: for as long as the values are cached (local use only).
    pub fn with_previous_grace(mut self, grace: Duration) -> Self {
        self.previous_grace = grace;
        self
    }

    /// The clock the grace period is measured with.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Starts with `current` as the AWSCURRENT value just read (a tenant's secret, read to
    /// find the tenant), so the first request does not read it again.
    pub fn primed(self, current: SecretValue) -> Self {
        let state = State {
            current: Some((current, Instant::now())),
            ..State::default()
        };
        Self {
            state: Mutex::new(state),
            ..self
        }
    }

    /// The values to verify with: AWSCURRENT, then AWSPREVIOUS while the rotation is in
    /// grace.
    pub async fn candidates(&self) -> Result<Vec<SecretValue>, DependencyError> {
        let mut state = self.state.lock().await;
        let fresh = matches!(&state.current, Some((_, at)) if at.elapsed() < self.ttl);
        if !fresh {
            self.load_current(&mut state).await?;
        }
        self.load_previous(&mut state).await;
        Ok(self.candidate_list(&state))
    }

    /// After a failed verification: re-read AWSCURRENT unless it was read moments ago.
    /// `Ok(Some(list))` when there is something new to try.
    pub async fn refresh_after_miss(&self) -> Result<Option<Vec<SecretValue>>, DependencyError> {
        let mut state = self.state.lock().await;
        let recent = |at: &Instant| at.elapsed() < self.min_refresh_interval;
        if state.last_forced.as_ref().is_some_and(recent)
            || state.current.as_ref().is_some_and(|(_, at)| recent(at))
        {
            return Ok(None);
        }
        state.last_forced = Some(Instant::now());
        // Version ids name values in Secrets Manager, so comparing them tells whether anything
        // changed without comparing secret text.
        let versions = |list: &[SecretValue]| -> Vec<String> {
            list.iter().map(|value| value.version_id.clone()).collect()
        };
        let before = versions(&self.candidate_list(&state));
        self.load_current(&mut state).await?;
        self.load_previous(&mut state).await;
        if let Some((current, _)) = &state.current {
            match self.grace(current) {
                Grace::Ended(ended) => tracing::info!(
                    current_version = %current.version_id,
                    grace_ended = %rfc3339(ended),
                    "a request failed verification; AWSPREVIOUS is not tried: its grace period \
                     after AWSCURRENT was created has ended"
                ),
                Grace::Undated => tracing::warn!(
                    current_version = %current.version_id,
                    "a request failed verification; AWSPREVIOUS is not tried: AWSCURRENT has \
                     no creation date to start its grace period from"
                ),
                Grace::Open(_) | Grace::Off => {}
            }
        }
        let after = self.candidate_list(&state);
        Ok((versions(&after) != before).then_some(after))
    }

    /// Reads AWSCURRENT; a new version forgets the AWSPREVIOUS read for the old one. A recent
    /// failure is returned again without a read.
    async fn load_current(&self, state: &mut State) -> Result<(), DependencyError> {
        if let Some((at, err)) = &state.current_failed {
            if at.elapsed() < self.failed_current_retry {
                return Err(err.clone());
            }
        }
        let read = self.fetch(SecretStage::Current).await.and_then(|value| {
            value.ok_or_else(|| {
                DependencyError::new("secretsmanager", "the secret has no AWSCURRENT value")
            })
        });
        let current = match read {
            Ok(current) => current,
            Err(err) => {
                state.current_failed = Some((Instant::now(), err.clone()));
                return Err(err);
            }
        };
        state.current_failed = None;
        let same =
            matches!(&state.current, Some((cached, _)) if cached.version_id == current.version_id);
        if !same {
            state.previous = None;
            state.previous_failed = None;
        }
        state.current = Some((current, Instant::now()));
        Ok(())
    }

    /// Reads AWSPREVIOUS, once per AWSCURRENT version, while the rotation is in grace. A read
    /// that fails (throttled, no access to the old version's KMS key, no `SecretString`) leaves
    /// AWSCURRENT to verify alone and is tried again after [`MIN_REFRESH_INTERVAL`].
    async fn load_previous(&self, state: &mut State) {
        let in_grace = match &state.current {
            Some((current, _)) => matches!(self.grace(current), Grace::Open(_)),
            None => false,
        };
        let failed_recently = state
            .previous_failed
            .is_some_and(|at| at.elapsed() < self.min_refresh_interval);
        if !in_grace || state.previous.is_some() || failed_recently {
            return;
        }
        match self.fetch(SecretStage::Previous).await {
            Ok(previous) => {
                state.previous = Some(previous);
                state.previous_failed = None;
            }
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    "AWSPREVIOUS could not be read during its grace period; verifying with \
                     AWSCURRENT alone until it is read again"
                );
                state.previous_failed = Some(Instant::now());
            }
        }
    }

    async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
        let value = self.source.fetch(stage).await?;
        Ok(value.map(|value| SecretValue { stage, ..value }))
    }

    fn grace(&self, current: &SecretValue) -> Grace {
        if self.previous_grace.is_zero() {
            return Grace::Off;
        }
        let Some(created) = current.created else {
            return Grace::Undated;
        };
        // A grace period too long to represent has no end.
        let end = time::Duration::try_from(self.previous_grace)
            .ok()
            .and_then(|grace| created.checked_add(grace));
        match end {
            Some(end) if self.clock.now() >= end => Grace::Ended(end),
            end => Grace::Open(end),
        }
    }

    fn candidate_list(&self, state: &State) -> Vec<SecretValue> {
        let Some((current, _)) = &state.current else {
            return Vec::new();
        };
        let mut list = vec![current.clone()];
        if let Some(Some(previous)) = &state.previous {
            if previous.version_id != current.version_id
                && matches!(self.grace(current), Grace::Open(_))
            {
                list.push(previous.clone());
            }
        }
        list
    }

    /// The AWSPREVIOUS read during a grace period that has ended since, and when it ended.
    async fn expired_previous(&self) -> Option<(SecretValue, OffsetDateTime)> {
        let state = self.state.lock().await;
        let (current, _) = state.current.as_ref()?;
        let Grace::Ended(ended) = self.grace(current) else {
            return None;
        };
        let previous = state.previous.clone().flatten()?;
        Some((previous, ended))
    }

    /// When the grace period for the cached rotation ends, for the log.
    async fn grace_end(&self) -> Option<OffsetDateTime> {
        let state = self.state.lock().await;
        match self.grace(&state.current.as_ref()?.0) {
            Grace::Open(end) => end,
            _ => None,
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Verifies with the cached candidates, and once more after a refresh when that fails with
/// a rejection that a newer secret could fix. `attempt` returns, on a match, the index of the
/// candidate that matched and its result.
///
/// Logs (never a secret) when a request verified only through AWSPREVIOUS, and when a
/// rejected request would have matched an AWSPREVIOUS whose grace period has ended.
pub async fn verify_with_rotation<T, E>(
    cache: &SecretCache,
    mut attempt: impl FnMut(&[SecretValue]) -> Result<(usize, T), E>,
    retry_worthwhile: impl Fn(&E) -> bool,
) -> Result<Result<T, E>, DependencyError> {
    let mut candidates = cache.candidates().await?;
    let mut result = attempt(&candidates);
    if let Err(err) = &result {
        if retry_worthwhile(err) {
            if let Some(refreshed) = cache.refresh_after_miss().await? {
                candidates = refreshed;
                result = attempt(&candidates);
            }
        }
    }
    match result {
        Ok((index, value)) => {
            if let Some(matched) = candidates
                .get(index)
                .filter(|matched| matched.stage == SecretStage::Previous)
            {
                let ends = cache.grace_end().await.map(rfc3339);
                tracing::info!(
                    version_id = %matched.version_id,
                    grace_ends = ends.as_deref().unwrap_or("never"),
                    "verified with AWSPREVIOUS: the sender still uses the value rotated out; \
                     switch it to AWSCURRENT before the grace period ends"
                );
            }
            Ok(Ok(value))
        }
        Err(err) => {
            if let Some((previous, ended)) = cache.expired_previous().await {
                if attempt(std::slice::from_ref(&previous)).is_ok() {
                    tracing::warn!(
                        version_id = %previous.version_id,
                        grace_ended = %rfc3339(ended),
                        "refused: the request matches AWSPREVIOUS, whose grace period after \
                         the rotation has ended; the sender still uses the value rotated out"
                    );
                }
            }
            Ok(Err(err))
        }
    }
}

/// The candidates `parse` accepts, each with its index in `candidates`. AWSCURRENT must
/// parse: its error is returned. An AWSPREVIOUS that does not (the placeholder a secret was
/// created with, say) is left out, so that it cannot stop AWSCURRENT from verifying.
pub fn usable_candidates<K>(
    candidates: &[SecretValue],
    parse: impl Fn(&SecretValue) -> Result<K, String>,
) -> Result<Vec<(usize, K)>, String> {
    let mut usable = Vec::with_capacity(candidates.len());
    for (index, candidate) in candidates.iter().enumerate() {
        match parse(candidate) {
            Ok(parsed) => usable.push((index, parsed)),
            Err(reason) if candidate.stage == SecretStage::Previous => tracing::debug!(
                version_id = %candidate.version_id,
                %reason,
                "AWSPREVIOUS left out: it is not a usable secret"
            ),
            Err(reason) => return Err(reason),
        }
    }
    Ok(usable)
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

    /// 2026-11-18T11:06:40Z: when the tests' latest rotation happened.
    const ROTATED: i64 = 1_795_000_000;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    /// A secret source whose versions (text, creation time) the test rotates, counting
    /// fetches; the stages in `unreadable` fail to read.
    struct Rotating {
        versions: StdMutex<Vec<(&'static str, i64)>>,
        unreadable: StdMutex<Vec<SecretStage>>,
        fetches: AtomicUsize,
    }

    impl Rotating {
        fn new(versions: &[(&'static str, i64)]) -> Arc<Self> {
            Arc::new(Self {
                versions: StdMutex::new(versions.to_vec()),
                unreadable: StdMutex::new(Vec::new()),
                fetches: AtomicUsize::new(0),
            })
        }

        fn unreadable(self: Arc<Self>, stages: &[SecretStage]) -> Arc<Self> {
            *self.unreadable.lock().unwrap() = stages.to_vec();
            self
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl SecretSource for Rotating {
        async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            if self.unreadable.lock().unwrap().contains(&stage) {
                return Err(DependencyError::new(
                    "secretsmanager",
                    "AccessDeniedException (KMS)",
                ));
            }
            let versions = self.versions.lock().unwrap();
            let index = match stage {
                SecretStage::Current => versions.len().checked_sub(1),
                SecretStage::Previous => versions.len().checked_sub(2),
            };
            Ok(index.map(|i| SecretValue {
                created: Some(at(versions[i].1)),
                stage,
                ..SecretValue::new(versions[i].0, format!("v{i}"))
            }))
        }
    }

    fn texts(list: &[SecretValue]) -> Vec<String> {
        list.iter().map(|v| v.text.to_string()).collect()
    }

    /// A cache over `source` whose clock reads `now`, refreshing after any miss.
    fn cache_at(source: Arc<Rotating>, now: i64) -> SecretCache {
        let mut cache =
            SecretCache::new(source, Duration::from_secs(300)).with_clock(Clock::fixed(at(now)));
        cache.min_refresh_interval = Duration::ZERO;
        cache
    }

    /// The `attempt` of a handler whose sender signs with `text`: the index of the candidate
    /// holding it, and its version.
    fn signed_with(
        text: &'static str,
    ) -> impl FnMut(&[SecretValue]) -> Result<(usize, String), &'static str> {
        move |list| {
            list.iter()
                .position(|v| v.text.as_str() == text)
                .map(|i| (i, list[i].version_id.clone()))
                .ok_or("miss")
        }
    }

    #[tokio::test]
    async fn caches_then_finds_previous_and_new_after_rotation() {
        let source = Rotating::new(&[("old", ROTATED - 86_400)]);
        let cache = cache_at(source.clone(), ROTATED + 10);
        assert_eq!(texts(&cache.candidates().await.unwrap()), ["old"]);
        assert_eq!(texts(&cache.candidates().await.unwrap()), ["old"]);
        assert_eq!(
            source.fetches(),
            1,
            "second call served from cache; no AWSPREVIOUS read outside a grace period"
        );

        source.versions.lock().unwrap().push(("new", ROTATED));
        // The cache still says "old"; a miss refreshes, finds a rotation in grace, and offers
        // both stages.
        assert_eq!(
            texts(&cache.refresh_after_miss().await.unwrap().unwrap()),
            ["new", "old"]
        );
        assert_eq!(source.fetches(), 3, "AWSCURRENT and AWSPREVIOUS");
        // Nothing changed since: nothing new to try, and AWSPREVIOUS is not read again.
        assert!(cache.refresh_after_miss().await.unwrap().is_none());
        assert_eq!(source.fetches(), 4);
    }

    #[tokio::test]
    async fn previous_verifies_only_during_the_grace_period() {
        // A leaked secret rotated out at ROTATED: its requests verify for the grace period
        // (default one hour from AWSCURRENT's creation), and never after.
        let versions = [("leaked", ROTATED - 30 * 86_400), ("new", ROTATED)];
        for (now, grace, accepted) in [
            (ROTATED, DEFAULT_PREVIOUS_GRACE, true),
            (ROTATED + 3599, DEFAULT_PREVIOUS_GRACE, true),
            (ROTATED + 3600, DEFAULT_PREVIOUS_GRACE, false),
            (ROTATED + 30 * 86_400, DEFAULT_PREVIOUS_GRACE, false),
            (ROTATED + 600, Duration::from_secs(300), false),
            (ROTATED + 600, Duration::from_secs(86_400), true),
            (ROTATED, Duration::ZERO, false),
            (ROTATED + 100 * 365 * 86_400, Duration::MAX, true),
        ] {
            let source = Rotating::new(&versions);
            let cache = cache_at(source.clone(), now).with_previous_grace(grace);
            let matched = verify_with_rotation(&cache, signed_with("leaked"), |_| true)
                .await
                .unwrap();
            assert_eq!(
                matched.is_ok(),
                accepted,
                "now {now}, grace {grace:?}: {matched:?}"
            );
            // The new secret verifies regardless.
            let matched = verify_with_rotation(&cache, signed_with("new"), |_| true)
                .await
                .unwrap();
            assert_eq!(matched, Ok("v1".to_string()));
            if !accepted {
                assert_eq!(texts(&cache.candidates().await.unwrap()), ["new"]);
            }
        }
    }

    #[tokio::test]
    async fn previous_is_refused_without_a_creation_date() {
        struct Undated;
        #[async_trait]
        impl SecretSource for Undated {
            async fn fetch(
                &self,
                stage: SecretStage,
            ) -> Result<Option<SecretValue>, DependencyError> {
                Ok(Some(SecretValue::new(stage.label(), stage.label())))
            }
        }
        let cache = SecretCache::new(Arc::new(Undated), Duration::from_secs(300));
        assert_eq!(texts(&cache.candidates().await.unwrap()), ["AWSCURRENT"]);
    }

    #[tokio::test]
    async fn the_grace_period_ends_while_the_value_is_cached() {
        // Loaded during the grace period, then the clock passes its end: the cached
        // AWSPREVIOUS stops verifying without any new read.
        let source = Rotating::new(&[("leaked", ROTATED - 86_400), ("new", ROTATED)]);
        let during = cache_at(source.clone(), ROTATED + 60);
        assert_eq!(
            texts(&during.candidates().await.unwrap()),
            ["new", "leaked"]
        );
        let state = std::mem::take(&mut *during.state.lock().await);
        let after = cache_at(source.clone(), ROTATED + 3600);
        *after.state.lock().await = state;
        let fetches = source.fetches();
        assert_eq!(texts(&after.candidates().await.unwrap()), ["new"]);
        assert_eq!(source.fetches(), fetches, "served from the cache");
        assert!(after.expired_previous().await.is_some());
    }

    #[tokio::test]
    async fn forged_requests_cost_at_most_one_read_a_minute() {
        for (versions, reads) in [
            // Long after the last rotation: AWSCURRENT only.
            (&[("secret", ROTATED - 86_400)][..], 1),
            // In a grace period: AWSCURRENT and AWSPREVIOUS, once.
            (&[("old", ROTATED - 86_400), ("secret", ROTATED)][..], 2),
        ] {
            let source = Rotating::new(versions);
            let cache = SecretCache::new(source.clone(), Duration::from_secs(300))
                .with_clock(Clock::fixed(at(ROTATED + 60)));
            for _ in 0..1000 {
                let result = verify_with_rotation(&cache, signed_with("forged"), |_| true)
                    .await
                    .unwrap();
                assert_eq!(result, Err("miss"));
            }
            assert_eq!(source.fetches(), reads, "{versions:?}");
        }
    }

    /// Review R4: in a grace period, an AWSPREVIOUS that cannot be read (access denied on the
    /// old version's key, throttling) neither fails requests signed with AWSCURRENT nor is
    /// read again by each request, forged ones included.
    #[tokio::test]
    async fn an_unreadable_previous_never_blocks_current_nor_is_read_per_request() {
        let source = Rotating::new(&[("old", ROTATED - 86_400), ("new", ROTATED)])
            .unreadable(&[SecretStage::Previous]);
        let cache = SecretCache::new(source.clone(), Duration::from_secs(300))
            .with_clock(Clock::fixed(at(ROTATED + 60)));
        for _ in 0..20 {
            let matched = verify_with_rotation(&cache, signed_with("new"), |_| true)
                .await
                .unwrap();
            assert_eq!(matched, Ok("v1".to_string()));
            let forged = verify_with_rotation(&cache, signed_with("forged"), |_| true)
                .await
                .unwrap();
            assert_eq!(forged, Err("miss"));
        }
        assert_eq!(source.fetches(), 2, "AWSCURRENT once, AWSPREVIOUS once");

        // Read again once the interval has passed, and used once readable.
        source.unreadable.lock().unwrap().clear();
        cache.state.lock().await.previous_failed = Some(Instant::now() - MIN_REFRESH_INTERVAL);
        assert_eq!(texts(&cache.candidates().await.unwrap()), ["new", "old"]);
        assert_eq!(source.fetches(), 3);
    }

    /// An AWSCURRENT that cannot be read after its TTL: requests are answered 503 (an error)
    /// from the one failed read until [`FAILED_CURRENT_RETRY`] has passed, then it is read
    /// again.
    #[tokio::test]
    async fn an_unreadable_current_is_read_once_per_retry_interval() {
        let source =
            Rotating::new(&[("secret", ROTATED - 86_400)]).unreadable(&[SecretStage::Current]);
        let cache = SecretCache::new(source.clone(), Duration::from_secs(300));
        for _ in 0..20 {
            assert!(cache.candidates().await.is_err());
            let forged = verify_with_rotation(&cache, signed_with("forged"), |_| true).await;
            assert!(forged.is_err());
        }
        assert_eq!(source.fetches(), 1);

        source.unreadable.lock().unwrap().clear();
        let failed_at = Instant::now() - FAILED_CURRENT_RETRY;
        if let Some((at, _)) = &mut cache.state.lock().await.current_failed {
            *at = failed_at;
        }
        assert_eq!(texts(&cache.candidates().await.unwrap()), ["secret"]);
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test]
    async fn verify_with_rotation_retries_once_on_a_miss() {
        let source = Rotating::new(&[("old", ROTATED - 86_400)]);
        let cache = cache_at(source.clone(), ROTATED + 60);
        cache.candidates().await.unwrap();
        source.versions.lock().unwrap().push(("new", ROTATED));
        let matched = verify_with_rotation(&cache, signed_with("new"), |_| true)
            .await
            .unwrap();
        assert_eq!(matched, Ok("v1".to_string()));
        // Not worth a retry: no refresh.
        source.versions.lock().unwrap().push(("newer", ROTATED + 1));
        let fetches = source.fetches();
        let matched = verify_with_rotation(&cache, signed_with("newer"), |_| false)
            .await
            .unwrap();
        assert_eq!(matched, Err("miss"));
        assert_eq!(source.fetches(), fetches);
    }

    #[tokio::test]
    async fn missing_current_is_a_dependency_error() {
        let source = Rotating::new(&[]);
        let cache = SecretCache::new(source, Duration::from_secs(300));
        assert!(cache.candidates().await.is_err());
    }

    #[test]
    fn usable_candidates_leave_out_an_unusable_previous_only() {
        let current = SecretValue::new(r#"{"k":"a"}"#, "v1");
        let previous = SecretValue {
            stage: SecretStage::Previous,
            ..SecretValue::new(r#"{"k":""}"#, "v0")
        };
        let parse = |value: &SecretValue| json_field(value, "k");
        let usable = usable_candidates(&[current.clone(), previous.clone()], parse).unwrap();
        assert_eq!(usable.len(), 1);
        assert_eq!((usable[0].0, usable[0].1.as_str()), (0, "a"));
        let err = usable_candidates(&[previous.clone(), current], |value| match value.stage {
            SecretStage::Current => Err("bad current".to_string()),
            SecretStage::Previous => Ok(()),
        })
        .unwrap_err();
        assert_eq!(err, "bad current");
    }

    // Log capture for the rotation messages: this thread's tracing events as JSON lines.
    #[derive(Clone, Default)]
    struct Logs(Arc<StdMutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
        type Writer = Logs;

        fn make_writer(&'a self) -> Logs {
            self.clone()
        }
    }

    impl Logs {
        fn text(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn rotation_outcomes_are_logged_without_secrets() {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(logs.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let versions = [("leaked-secret", ROTATED - 86_400), ("new-secret", ROTATED)];

        // In grace: accepted through AWSPREVIOUS, and the log says so and until when.
        let source = Rotating::new(&versions);
        let during = cache_at(source.clone(), ROTATED + 60);
        let matched = verify_with_rotation(&during, signed_with("leaked-secret"), |_| true)
            .await
            .unwrap();
        assert_eq!(matched, Ok("v0".to_string()));
        let text = logs.text();
        assert!(text.contains("verified with AWSPREVIOUS"), "{text}");
        assert!(text.contains("2026-11-18T12:06:40Z"), "{text}");

        // The same cache after the grace period: refused, and the log says why.
        let state = std::mem::take(&mut *during.state.lock().await);
        let after = cache_at(source.clone(), ROTATED + 7200);
        *after.state.lock().await = state;
        let matched = verify_with_rotation(&after, signed_with("leaked-secret"), |_| true)
            .await
            .unwrap();
        assert_eq!(matched, Err("miss"));
        let text = logs.text();
        assert!(
            text.contains("whose grace period after the rotation has ended"),
            "{text}"
        );
        assert!(text.contains("\"version_id\":\"v0\""), "{text}");

        // A fresh environment after the grace period never reads AWSPREVIOUS, and says why
        // it did not try it.
        let fresh = cache_at(Rotating::new(&versions), ROTATED + 7200);
        let matched = verify_with_rotation(&fresh, signed_with("leaked-secret"), |_| true)
            .await
            .unwrap();
        assert_eq!(matched, Err("miss"));
        let text = logs.text();
        assert!(text.contains("AWSPREVIOUS is not tried"), "{text}");
        for secret in ["leaked-secret", "new-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
