//! Samsung Knox Webhook Notification callbacks.

use std::collections::BTreeSet;

use async_trait::async_trait;
use hookwarden_verify::knox;

use super::{rejection, stored_reply, Failure, HandlerContext, Provider, Steps};
use crate::certificate::{CertificateCache, CertificateProblem};
use crate::envelope::{VerifiedBy, VerifiedEvent};
use crate::ids::safe_id;
use crate::outcome::Outcome;
use crate::quarantine::{Quarantine, QuarantineError, QuarantinedRequest};
use crate::request::{Inbound, Reply};
use crate::request_log::RequestLog;

pub struct KnoxHandler {
    context: HandlerContext,
    /// Shared by every tenant: Samsung signs every customer's callbacks with one key.
    certificates: std::sync::Arc<CertificateCache>,
    /// `KNOX_SUBSCRIPTION_IDS`; empty: nothing is delivered, every verified callback is
    /// quarantined until the operator lists their subscriptions.
    subscriptions: BTreeSet<String>,
    quarantine: Quarantine,
}

impl KnoxHandler {
    pub fn new(context: HandlerContext, certificates: CertificateCache) -> Self {
        Self::sharing(context, std::sync::Arc::new(certificates))
    }

    /// A handler verifying with a certificate cache other handlers use too (one per tenant,
    /// one certificate).
    pub fn sharing(
        context: HandlerContext,
        certificates: std::sync::Arc<CertificateCache>,
    ) -> Self {
        Self {
            context,
            certificates,
            subscriptions: BTreeSet::new(),
            quarantine: Quarantine::default(),
        }
    }

    /// The certificate cache, to share with tenants' handlers.
    pub fn certificates(&self) -> &std::sync::Arc<CertificateCache> {
        &self.certificates
    }

    /// Accepts only callbacks whose signed `subscriptionId` is one of `ids`. Samsung signs
    /// every customer's callbacks with one key, so without this any Knox customer's signed
    /// callbacks verify here.
    ///
    /// With no id listed, a verified callback is never delivered: it is quarantined
    /// ([`crate::quarantine`]).
    pub fn allow_subscriptions(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        self.subscriptions = ids.into_iter().collect();
        self
    }

    /// At most `per_minute` new quarantine objects a minute (`KNOX_QUARANTINE_PER_MINUTE`).
    pub fn quarantine_per_minute(mut self, per_minute: u32) -> Self {
        self.quarantine = Quarantine::new(per_minute);
        self
    }

    /// Keeps a verified callback for a subscription nobody listed, out of the event stream.
    async fn quarantine(
        &self,
        request: &Inbound,
        signature: &str,
        verified: &knox::Verified,
        received_at: String,
    ) -> Result<(Reply, Outcome), Failure> {
        let delivery = self.context.delivery()?;
        let mut headers = std::collections::BTreeMap::new();
        headers.insert(knox::SIGNATURE_HEADER.to_string(), signature.to_string());
        for name in [
            knox::TRACE_ID_HEADER,
            knox::NONCE_HEADER,
            http::header::CONTENT_TYPE.as_str(),
        ] {
            if let Some(value) = request.metadata_header(name) {
                headers.insert(name.to_string(), value);
            }
        }
        let kept = QuarantinedRequest {
            id: verified.content_sha256.clone(),
            provider: Provider::Knox.name().to_string(),
            subscription_id: verified.subscription_id.clone(),
            event_type: verified.event.clone(),
            received_at,
            reason: "KNOX_SUBSCRIPTION_IDS lists no subscription".to_string(),
            headers,
            body_base64: QuarantinedRequest::encode_body(&request.body),
        };
        match self.quarantine.keep(delivery, &kept).await {
            Ok(key) => {
                let body = serde_json::json!({ "status": "quarantined", "id": kept.id });
                tracing::debug!(key, "quarantined");
                Ok((Reply::json(200, body.to_string()), Outcome::Quarantined))
            }
            // 503: Knox retries, and by then the budget has room again.
            Err(err @ QuarantineError::OverBudget(_)) => Err(Failure::new(
                Reply::error(503, "temporarily unavailable, retry later"),
                Outcome::QuarantineFull,
                err,
            )),
            Err(QuarantineError::Dependency(err)) => Err(Failure::from(err)),
        }
    }
}

#[async_trait]
impl Steps for KnoxHandler {
    const PROVIDER: Provider = Provider::Knox;

    async fn process(
        &self,
        request: &Inbound,
        log: &mut RequestLog,
    ) -> Result<(Reply, Outcome), Failure> {
        self.context.admit(request)?;
        let signature = request
            .single_header(knox::SIGNATURE_HEADER)?
            .ok_or_else(|| {
                Failure::new(
                    Reply::error(401, "missing X-WSM-SIGNATURE header"),
                    Outcome::SignatureRejected,
                    "no X-WSM-SIGNATURE",
                )
            })?;
        // Neither is signed: they travel as metadata and never decide identity, so no value of
        // theirs can refuse, split or merge an authentic callback.
        let trace_id = request.metadata_header(knox::TRACE_ID_HEADER);
        log.trace_id = trace_id.as_deref().and_then(safe_id).map(str::to_string);
        let unsigned: Vec<_> = [
            ("trace_id", trace_id),
            ("nonce", request.metadata_header(knox::NONCE_HEADER)),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();

        let now = self.context.clock.now();
        // The key is the pinned certificate's, never the request's; a signature it does not
        // verify makes the cache look once for a certificate replaced in the store.
        let verified = self
            .certificates
            .verify(&request.body, signature, now.unix_timestamp())
            .await
            .map_err(|problem| match problem {
                CertificateProblem::Dependency(err) => Failure::from(err),
                // Knox retries: 503 keeps the event coming back until a certificate is in place.
                other => Failure::unavailable(other),
            })?
            .map_err(|err| {
                let (outcome, status) = rejection(err.kind(), 401);
                let message = if status == 503 {
                    "temporarily unavailable, retry later".to_string()
                } else {
                    err.to_string()
                };
                Failure::new(Reply::error(status, &message), outcome, err)
            })?;
        log.event_type = verified.event.clone();
        log.event_id = Some(verified.content_sha256.clone());
        log.scheme = Some(verified.form.as_str());
        log.jose_header = Some(verified.header.to_string());

        let received_at = now
            .format(&time::format_description::well_known::Rfc3339)
            .expect("an OffsetDateTime always formats as RFC 3339");
        if self.subscriptions.is_empty() {
            return self
                .quarantine(request, signature, &verified, received_at)
                .await;
        }
        let allowed = verified
            .subscription_id
            .as_ref()
            .is_some_and(|id| self.subscriptions.contains(id));
        if !allowed {
            return Err(Failure::new(
                Reply::error(403, "subscription not served by this endpoint"),
                Outcome::ForeignSubscription,
                "subscriptionId not in KNOX_SUBSCRIPTION_IDS",
            ));
        }

        let delivery = self.context.delivery()?;
        let event = VerifiedEvent {
            provider: Provider::Knox.name(),
            event_type: verified
                .event
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            id: verified.content_sha256.clone(),
            unsigned,
            received_at: now,
            verified_by: VerifiedBy::Certificate {
                sha256: verified.certificate_fingerprint.clone(),
                form: verified.form.as_str(),
            },
            source_ip: request.source_ip.clone(),
            body: request.body.clone(),
            message: None,
            redacted: None,
        };
        let delivered = delivery.deliver(&event).await?;
        Ok(stored_reply(&delivered, &event.id))
    }
}
