//! One handler per provider, each the same shape: admit → verify → identify → deliver →
//! reply (the route step, `/` or `/<tenant>`, is [`crate::tenants`]).

pub mod knox;
pub mod oneaccess;
pub mod scalefusion;

use async_trait::async_trait;
use hookwarden_verify::reject::RejectKind;

use crate::clock::Clock;
use crate::delivery::{Delivered, Delivery};
use crate::outcome::Outcome;
use crate::ports::DependencyError;
use crate::request::{Handler, HeaderProblem, Inbound, Reply};
use crate::request_log::RequestLog;

/// The providers hookwarden receives callbacks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Knox,
    Scalefusion,
    OneAccess,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Knox, Provider::Scalefusion, Provider::OneAccess];

    /// The name in keys, envelopes, bus sources, logs and metrics, and the default prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Provider::Knox => "knox",
            Provider::Scalefusion => "scalefusion",
            Provider::OneAccess => "oneaccess",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What every handler needs besides its own secrets.
#[derive(Clone)]
pub struct HandlerContext {
    /// `None` when no sink is configured: only OneAccess's CHECK_URL can then be answered.
    pub delivery: Option<Delivery>,
    pub max_body: usize,
    pub clock: Clock,
}

/// Why a request ends early: the reply to send, the outcome to log and a reason for the log
/// (never shown to the caller when it may carry internal detail).
pub struct Failure {
    pub reply: Reply,
    pub outcome: Outcome,
    pub reason: String,
}

impl Failure {
    pub fn new(reply: Reply, outcome: Outcome, reason: impl std::fmt::Display) -> Self {
        Self {
            reply,
            outcome,
            reason: reason.to_string(),
        }
    }

    /// A dependency failed: 503 to the caller with no detail, the detail to the log.
    pub fn unavailable(reason: impl std::fmt::Display) -> Self {
        Self::new(
            Reply::error(503, "temporarily unavailable, retry later"),
            Outcome::Unavailable,
            reason,
        )
    }

    pub fn malformed(reason: impl std::fmt::Display) -> Self {
        let reason = reason.to_string();
        Self::new(Reply::bad_request(&reason), Outcome::Malformed, reason)
    }
}

impl From<HeaderProblem> for Failure {
    fn from(problem: HeaderProblem) -> Self {
        Failure::malformed(problem)
    }
}

impl HandlerContext {
    /// Method and size checks that come before anything is parsed.
    pub fn admit(&self, request: &Inbound) -> Result<(), Failure> {
        if request.method != http::Method::POST {
            return Err(Failure::new(
                Reply::error(405, "only POST is accepted"),
                Outcome::MethodNotAllowed,
                format!("method {}", request.method),
            ));
        }
        if request.body.len() > self.max_body {
            return Err(Failure::new(
                Reply::too_large(self.max_body),
                Outcome::TooLarge,
                format!("{} bytes", request.body.len()),
            ));
        }
        Ok(())
    }

    pub fn delivery(&self) -> Result<&Delivery, Failure> {
        self.delivery.as_ref().ok_or_else(|| {
            Failure::unavailable("no sink configured (HOOKWARDEN_SINK): nowhere to store the event")
        })
    }
}

impl From<DependencyError> for Failure {
    /// 503 either way, so the provider retries; a throttle is its own outcome and metric,
    /// since it says a quota binds rather than that a service is down.
    fn from(err: DependencyError) -> Self {
        match err.throttled {
            true => Failure::new(
                Reply::error(503, "temporarily unavailable, retry later"),
                Outcome::Throttled,
                err,
            ),
            false => Failure::unavailable(err),
        }
    }
}

/// 200 with what happened, for providers that ignore the reply body.
pub fn stored_reply(delivered: &Delivered, id: &str) -> (Reply, Outcome) {
    let (status, outcome) = match delivered {
        Delivered::Stored { .. } => ("stored", Outcome::Stored),
        Delivered::Duplicate { .. } => ("duplicate", Outcome::Duplicate),
    };
    let body = serde_json::json!({ "status": status, "id": id });
    (Reply::json(200, body.to_string()), outcome)
}

/// The outcome and HTTP status for a verification failure; `forged_status` is the
/// provider's answer to a bad signature (401, or Scalefusion's 406).
pub fn rejection(kind: RejectKind, forged_status: u16) -> (Outcome, u16) {
    match kind {
        RejectKind::Malformed => (Outcome::Malformed, 400),
        RejectKind::Forged => (Outcome::SignatureRejected, forged_status),
        RejectKind::Stale => (Outcome::Replayed, 401),
        RejectKind::NoUsableKey => (Outcome::Unavailable, 503),
    }
}

/// A provider's steps from admit to reply; every provider is a `Handler` through it, so the
/// log line around each request is written once.
#[async_trait]
pub trait Steps: Send + Sync {
    const PROVIDER: Provider;
    async fn process(
        &self,
        request: &Inbound,
        log: &mut RequestLog,
    ) -> Result<(Reply, Outcome), Failure>;
}

#[async_trait]
impl<P: Steps> Handler for P {
    fn provider(&self) -> Provider {
        P::PROVIDER
    }

    async fn handle(&self, request: Inbound) -> Reply {
        let mut log = RequestLog::start(P::PROVIDER);
        match self.process(&request, &mut log).await {
            Ok((reply, outcome)) => log.finish(reply, outcome, None),
            Err(failure) => log.finish(failure.reply, failure.outcome, Some(&failure.reason)),
        }
    }
}
