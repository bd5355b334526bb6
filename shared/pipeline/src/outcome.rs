//! One JSON log line per request, and the `SignatureRejected` and `Throttled` metrics.
//!
//! The line names provider, event type, event id, outcome, status and latency — never a
//! secret, a signature or a body: reasons come from hookwarden's own error messages, which
//! describe what was wrong without echoing input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::request::Reply;

static EMIT_METRICS: AtomicBool = AtomicBool::new(false);

tokio::task_local! {
    /// The tenant the request being handled was sent to (`/<tenant>`), for its log line.
    pub static TENANT: Option<std::sync::Arc<str>>;
    /// Set while a request to a tenant that does not exist is answered by the decoy (as a
    /// forged request would be): its log line says `unknown_tenant`, not what the decoy saw.
    pub static UNKNOWN_TENANT: bool;
}

/// Turns on CloudWatch Embedded Metric Format lines on stdout (the Lambda functions do;
/// `hookwarden serve` does not).
pub fn enable_metrics() {
    EMIT_METRICS.store(true, Ordering::Relaxed);
}

/// What a request's handling is remembered by.
pub struct Trail {
    provider: &'static str,
    started: Instant,
    pub event_type: Option<String>,
    /// The event's id (`content_sha256`), once the signature verified.
    pub event_id: Option<String>,
    /// How it verified: the MAC that matched, or the Knox signed form.
    pub scheme: Option<&'static str>,
    /// Knox: the JOSE header's `alg`/`typ`/`kid`, so the first real callback shows operators
    /// what Samsung sends (the header is signed verbatim and decides nothing).
    pub jose_header: Option<String>,
    /// Knox: `X-WSM-TRACEID` when it is a plain id (unsigned; for correlation only).
    pub trace_id: Option<String>,
}

impl Trail {
    pub fn start(provider: &'static str) -> Self {
        Self {
            provider,
            started: Instant::now(),
            event_type: None,
            event_id: None,
            scheme: None,
            jose_header: None,
            trace_id: None,
        }
    }

    /// Logs the outcome and hands back the reply.
    pub fn finish(
        self,
        reply: Reply,
        outcome: Outcome,
        reason: Option<&dyn std::fmt::Display>,
    ) -> Reply {
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut reason = reason.map(|r| r.to_string());
        let mut outcome = outcome;
        if UNKNOWN_TENANT.try_with(|unknown| *unknown).unwrap_or(false) {
            reason = Some(format!(
                "no such tenant (answered as {} would be)",
                outcome.name()
            ));
            outcome = Outcome::UnknownTenant;
        }
        let (provider, event_type, event_id, scheme, jose_header, trace_id) = (
            self.provider,
            self.event_type.as_deref(),
            self.event_id.as_deref(),
            self.scheme,
            self.jose_header.as_deref(),
            self.trace_id.as_deref(),
        );
        let outcome_name = outcome.name();
        let tenant = TENANT.try_with(Clone::clone).ok().flatten();
        let tenant = tenant.as_deref();
        if reply.status >= 500 {
            tracing::error!(
                provider,
                tenant,
                event_type,
                event_id,
                scheme,
                jose_header,
                trace_id,
                outcome = outcome_name,
                status = reply.status,
                latency_ms,
                reason,
                "request failed"
            );
        } else if reply.status >= 400 {
            tracing::warn!(
                provider,
                tenant,
                event_type,
                event_id,
                scheme,
                jose_header,
                trace_id,
                outcome = outcome_name,
                status = reply.status,
                latency_ms,
                reason,
                "request rejected"
            );
        } else {
            tracing::info!(
                provider,
                tenant,
                event_type,
                event_id,
                scheme,
                jose_header,
                trace_id,
                outcome = outcome_name,
                status = reply.status,
                latency_ms,
                "request accepted"
            );
        }
        if let Some(metric) = outcome.metric() {
            emit_metric(self.provider, metric);
        }
        reply
    }
}

/// The outcomes a request can have; the names appear in logs and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    Duplicate,
    /// OneAccess's CHECK_URL handshake, answered without storing anything.
    Handshake,
    SignatureRejected,
    /// Knox: authentic, but for a subscription `KNOX_SUBSCRIPTION_IDS` does not list.
    ForeignSubscription,
    /// Knox: authentic, but no subscription is listed yet: kept under `_quarantine/`, not
    /// delivered (answered 200 once durable).
    Quarantined,
    /// Knox: would be quarantined, but this environment's quarantine budget is spent
    /// (answered 503, so Knox retries later).
    QuarantineFull,
    Replayed,
    Malformed,
    TooLarge,
    MethodNotAllowed,
    Unavailable,
    /// A dependency kept refusing for rate (S3 `SlowDown`, EventBridge throttling) through
    /// the backoff: a quota binds. Answered like `Unavailable` (503, the provider retries).
    Throttled,
    /// A setting or secret is wrong: the operator must fix it.
    Misconfigured,
    /// The path names no tenant (`/<tenant>` with no such tenant, or not a tenant name).
    UnknownTenant,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Duplicate => "duplicate",
            Outcome::Handshake => "handshake",
            Outcome::SignatureRejected => "signature_rejected",
            Outcome::ForeignSubscription => "foreign_subscription",
            Outcome::Quarantined => "quarantined",
            Outcome::QuarantineFull => "quarantine_full",
            Outcome::Replayed => "replayed",
            Outcome::Malformed => "malformed",
            Outcome::TooLarge => "too_large",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::Unavailable => "unavailable",
            Outcome::Throttled => "throttled",
            Outcome::Misconfigured => "misconfigured",
            Outcome::UnknownTenant => "unknown_tenant",
        }
    }
}

impl Outcome {
    /// The CloudWatch metric (namespace `Hookwarden`, dimension `Provider`) counting this
    /// outcome, for the outcomes an alarm watches.
    pub fn metric(self) -> Option<&'static str> {
        match self {
            Outcome::SignatureRejected => Some("SignatureRejected"),
            Outcome::Throttled => Some("Throttled"),
            // Callbacks kept out of the stream: the subscription list is missing (or a
            // stranger is sending another customer's callbacks).
            Outcome::Quarantined | Outcome::QuarantineFull => Some("Quarantined"),
            _ => None,
        }
    }
}

fn emit_metric(provider: &str, metric: &str) {
    if !EMIT_METRICS.load(Ordering::Relaxed) {
        return;
    }
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    // EMF: CloudWatch turns this log line into the Hookwarden/<metric> metric.
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "Hookwarden",
                "Dimensions": [["Provider"]],
                "Metrics": [{"Name": metric, "Unit": "Count"}]
            }]
        },
        "Provider": provider,
    });
    line[metric] = 1.into();
    println!("{line}");
}
