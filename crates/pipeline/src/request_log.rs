//! The request's log line: one JSON line per request naming provider, tenant, event type,
//! event id, outcome, status and latency — never a secret, a signature or a body: reasons
//! come from hookwarden's own error messages, which describe what was wrong without echoing
//! input — and, in the functions, the outcome's metric line ([`crate::outcome::metric_line`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::outcome::{metric_line, Outcome};
use crate::providers::Provider;
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
pub struct RequestLog {
    provider: Provider,
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

impl RequestLog {
    pub fn start(provider: Provider) -> Self {
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
            self.provider.name(),
            self.event_type.as_deref(),
            self.event_id.as_deref(),
            self.scheme,
            self.jose_header.as_deref(),
            self.trace_id.as_deref(),
        );
        let outcome_name = outcome.name();
        let tenant = TENANT.try_with(Clone::clone).ok().flatten();
        let tenant = tenant.as_deref();
        // One field list for the three levels: tracing fixes a callsite's level when it compiles.
        macro_rules! request_line {
            ($level:ident, $($reason:ident,)? $message:literal) => {
                tracing::$level!(
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
                    $($reason,)?
                    $message
                )
            };
        }
        if reply.status >= 500 {
            request_line!(error, reason, "request failed");
        } else if reply.status >= 400 {
            request_line!(warn, reason, "request rejected");
        } else {
            request_line!(info, "request accepted");
        }
        if EMIT_METRICS.load(Ordering::Relaxed) {
            if let Some(line) = metric_line(outcome, provider, tenant, event_type, unix_millis()) {
                println!("{line}");
            }
        }
        reply
    }
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}
