//! The outcomes a request can have, and the `EventsStored`, `SignatureRejected`, `Throttled`
//! and `Quarantined` metrics they are counted by (CloudWatch Embedded Metric Format).

use crate::silence::Stream;

/// The outcomes a request can have; the names appear in logs and docs/reference/status-codes.md.
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

/// The CloudWatch metric counting stored events: its `Provider` dimension feeds the per-provider
/// silence alarms, its `Provider`/`Tenant`/`EventType` dimensions the watchdog's per-stream
/// verdicts ([`crate::silence`]).
pub const EVENTS_STORED: &str = "EventsStored";
/// The namespace of hookwarden's metrics.
pub const NAMESPACE: &str = "Hookwarden";

/// The Embedded Metric Format line CloudWatch turns into this outcome's metric, if it has
/// one: `SignatureRejected`/`Throttled` by provider, and `EventsStored` by provider and by
/// stream. Duplicates count nothing: a stream is live when it stores new events.
pub fn metric_line(
    outcome: Outcome,
    provider: &str,
    tenant: Option<&str>,
    event_type: Option<&str>,
    timestamp_ms: u128,
) -> Option<serde_json::Value> {
    let (metric, dimensions) = match outcome {
        Outcome::Stored => (
            EVENTS_STORED,
            serde_json::json!([["Provider"], ["Provider", "Tenant", "EventType"]]),
        ),
        other => (other.metric()?, serde_json::json!([["Provider"]])),
    };
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": [{"Name": metric, "Unit": "Count"}]
            }]
        },
        "Provider": provider,
    });
    if outcome == Outcome::Stored {
        let stream = Stream::new(provider, tenant, event_type.unwrap_or_default());
        line["Tenant"] = stream.tenant.into();
        line["EventType"] = stream.event_type.into();
    }
    line[metric] = 1.into();
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_events_count_by_provider_and_by_stream_and_duplicates_count_nothing() {
        let line = metric_line(
            Outcome::Stored,
            "knox",
            Some("acme"),
            Some("KAI_BATTERY_STATUS"),
            7,
        )
        .expect("a stored event is counted");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Hookwarden");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Provider"], ["Provider", "Tenant", "EventType"]])
        );
        assert_eq!(directive["Metrics"][0]["Name"], "EventsStored");
        assert_eq!(line["_aws"]["Timestamp"], 7);
        assert_eq!(
            (&line["Provider"], &line["Tenant"]),
            (&"knox".into(), &"acme".into())
        );
        assert_eq!(
            (&line["EventType"], &line["EventsStored"]),
            (&"KAI_BATTERY_STATUS".into(), &1.into())
        );

        let bare = metric_line(Outcome::Stored, "oneaccess", None, Some(""), 7).unwrap();
        assert_eq!(
            (&bare["Tenant"], &bare["EventType"]),
            (&"(default)".into(), &"(none)".into())
        );

        assert!(metric_line(
            Outcome::Duplicate,
            "knox",
            None,
            Some("KAI_BATTERY_STATUS"),
            7
        )
        .is_none());
        let rejected = metric_line(Outcome::SignatureRejected, "knox", None, None, 7).unwrap();
        assert_eq!(
            rejected["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Provider"]])
        );
        assert!(rejected.get("Tenant").is_none());
    }
}
