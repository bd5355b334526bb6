//! How every AWS call is attempted: inside one time budget (`HOOKWARDEN_DEPENDENCY_TIMEOUT_MS`),
//! so a slow dependency becomes a 503 the provider retries, never a Lambda timeout.
//!
//! - A transient failure (5xx, `RequestTimeout`, a dropped or refused connection) is tried
//!   once more.
//! - A throttle (S3 `SlowDown`, `ThrottlingException`, 429) is retried for as long as the
//!   budget allows, with exponential backoff and full jitter: a burst's callers spread out
//!   instead of retrying in step into the same quota. When the budget runs out on a throttle,
//!   the failure says so, and the request is answered 503 `throttled` and counted.
//!
//! The SDK's own retry layer is off (`crate::sdk`): it reports a budget that ran out as a
//! timeout, whatever the last attempt met.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use hookwarden_pipeline::ports::DependencyError;

/// Two attempts for a transient failure: one retry absorbs a 5xx or a dropped connection, and
/// both fit in the budget.
const MAX_ATTEMPTS: u32 = 2;
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
const THROTTLE_BACKOFF_BASE: Duration = Duration::from_millis(50);
const THROTTLE_BACKOFF_CAP: Duration = Duration::from_millis(800);
/// An error message longer than this is cut in logs.
const MAX_ERROR_TEXT: usize = 300;

/// Error codes AWS services use for "slow down".
const THROTTLE_CODES: [&str; 6] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// Why a call has no successful answer, reduced to what the adapters decide on.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The HTTP status of a service error.
    pub status: Option<u16>,
    /// The AWS error code (`NoSuchKey`, `ResourceNotFoundException`, …).
    pub code: Option<String>,
    /// What to log: the code, status and message, or the transport failure's causes.
    detail: String,
    transient: bool,
}

impl Failure {
    fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match &err {
            SdkError::ServiceError(context) => {
                let status = context.raw().status().as_u16();
                let error = context.err();
                let code = error.code().map(str::to_string);
                let throttle =
                    status == 429 || code.as_deref().is_some_and(|c| THROTTLE_CODES.contains(&c));
                let detail = format!(
                    "{} (HTTP {status}): {}",
                    code.as_deref().unwrap_or("no error code"),
                    cut(error.message().unwrap_or("no message"))
                );
                Failure {
                    status: Some(status),
                    transient: status >= 500
                        || code.as_deref() == Some("RequestTimeout")
                        || throttle,
                    code,
                    detail,
                }
            }
            // No answer, or one that could not be read: connection refused or reset, DNS,
            // TLS, a body cut short. Worth one more attempt.
            SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_)
            | SdkError::TimeoutError(_) => Failure {
                status: None,
                code: None,
                detail: DisplayErrorContext(&err).to_string(),
                transient: true,
            },
            // The request could not be built (a credential that cannot be had, a value HTTP
            // cannot carry): another attempt builds it the same way.
            _ => Failure {
                status: None,
                code: None,
                detail: DisplayErrorContext(&err).to_string(),
                transient: false,
            },
        }
    }

    fn timeout(budget: Duration) -> Failure {
        Failure {
            status: None,
            code: None,
            detail: format!("no answer within {budget:?} (timed out)"),
            transient: false,
        }
    }

    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The service refused for rate: a quota binds.
    pub fn is_throttle(&self) -> bool {
        self.status == Some(429) || self.code().is_some_and(|c| THROTTLE_CODES.contains(&c))
    }

    /// This failure as the pipeline sees it: `{operation}: {detail}`, a throttle marked as one
    /// so the request's outcome and metric name the quota.
    pub fn into_dependency(
        self,
        dependency: &'static str,
        operation: impl std::fmt::Display,
    ) -> DependencyError {
        let detail = format_args!("{operation}: {}", self.detail);
        match self.is_throttle() {
            true => DependencyError::throttled(dependency, detail),
            false => DependencyError::new(dependency, detail),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Sends the request `send` builds, again while the failure is transient and the `budget`
/// leaves room for the wait and another attempt.
pub(crate) async fn call<T, E, F, Fut>(budget: Duration, mut send: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let deadline = tokio::time::Instant::now() + budget;
    let (mut attempt, mut throttles) = (1, 0);
    let mut last_throttle = None;
    loop {
        let failure = match tokio::time::timeout_at(deadline, send()).await {
            // Out of time after being throttled: the quota is why, so say that.
            Err(_) => return Err(last_throttle.unwrap_or_else(|| Failure::timeout(budget))),
            Ok(Ok(output)) => return Ok(output),
            Ok(Err(err)) => Failure::from_sdk(err),
        };
        let backoff = if failure.is_throttle() {
            throttles += 1;
            throttle_backoff(throttles, jitter())
        } else if attempt < MAX_ATTEMPTS && failure.transient {
            RETRY_BACKOFF
        } else {
            return Err(failure);
        };
        attempt += 1;
        // No time left for the wait and another attempt: give the caller its 503 now.
        if tokio::time::Instant::now() + backoff >= deadline {
            return Err(failure);
        }
        if failure.is_throttle() {
            last_throttle = Some(failure);
        }
        tokio::time::sleep(backoff).await;
    }
}

/// A draw in [0, 1) for backoff jitter: std's per-process random hash keys, so no RNG crate
/// (and no entropy source) is needed for it.
fn jitter() -> f64 {
    use std::hash::BuildHasher as _;
    let bits = std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a wait drawn
/// uniformly below `base × 2^(n-1)`, capped; `unit` is the draw in [0, 1).
fn throttle_backoff(throttles: u32, unit: f64) -> Duration {
    let ceiling = THROTTLE_BACKOFF_BASE
        .saturating_mul(1 << throttles.saturating_sub(1).min(16))
        .min(THROTTLE_BACKOFF_CAP);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str) -> Failure {
        Failure {
            status: Some(status),
            code: Some(code.into()),
            detail: String::new(),
            transient: status >= 500,
        }
    }

    #[test]
    fn throttles_back_off_with_full_jitter_under_a_cap() {
        assert_eq!(throttle_backoff(1, 0.0), Duration::ZERO);
        assert_eq!(throttle_backoff(1, 0.5), THROTTLE_BACKOFF_BASE / 2);
        assert_eq!(throttle_backoff(3, 0.5), THROTTLE_BACKOFF_BASE * 2);
        assert_eq!(
            throttle_backoff(40, 0.999_999),
            THROTTLE_BACKOFF_CAP.mul_f64(0.999_999)
        );
        let draws: Vec<f64> = (0..64).map(|_| jitter()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let distinct: std::collections::BTreeSet<u64> = draws.iter().map(|d| d.to_bits()).collect();
        assert!(distinct.len() > 60, "the jitter varies: {draws:?}");
    }

    #[test]
    fn throttles_are_told_apart_from_other_errors() {
        for throttle in [
            service(503, "SlowDown"),
            service(400, "ThrottlingException"),
            service(429, "TooManyRequestsException"),
        ] {
            assert!(throttle.is_throttle(), "{throttle:?}");
            assert!(
                throttle.into_dependency("s3", "PutObject").throttled,
                "marked for the outcome and the metric"
            );
        }
        for other in [
            service(500, "InternalError"),
            service(412, "PreconditionFailed"),
        ] {
            assert!(!other.is_throttle(), "{other:?}");
        }
        assert!(!Failure::timeout(Duration::from_secs(1)).is_throttle());
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(MAX_ERROR_TEXT + 10);
        assert_eq!(cut(&long).chars().count(), MAX_ERROR_TEXT + 1);
    }
}
