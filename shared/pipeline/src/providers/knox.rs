//! Samsung Knox Webhook Notification callbacks.

use async_trait::async_trait;
use hookwarden_verify::knox;

use super::{rejection, stored_reply, Common, Failure, Provider};
use crate::certificate::{CertificateCache, CertificateProblem};
use crate::envelope::{VerifiedBy, VerifiedEvent};
use crate::ids::{safe_id, sha256_hex};
use crate::outcome::{Outcome, Trail};
use crate::ports::PutOutcome;
use crate::request::{Inbound, Reply};

pub const PROVIDER: &str = "knox";

pub struct KnoxHandler {
    common: Common,
    certificates: CertificateCache,
}

impl KnoxHandler {
    pub fn new(common: Common, certificates: CertificateCache) -> Self {
        Self {
            common,
            certificates,
        }
    }
}

#[async_trait]
impl Provider for KnoxHandler {
    const NAME: &'static str = PROVIDER;

    async fn process(
        &self,
        request: &Inbound,
        trail: &mut Trail,
    ) -> Result<(Reply, Outcome), Failure> {
        self.common.admit(request)?;
        let signature = request
            .single_header(knox::SIGNATURE_HEADER)?
            .ok_or_else(|| {
                Failure::new(
                    Reply::error(401, "missing X-WSM-SIGNATURE header"),
                    Outcome::SignatureRejected,
                    "no X-WSM-SIGNATURE",
                )
            })?;
        // The trace id and nonce are not covered by the signature: they only key storage,
        // so they must be safe to put in an S3 key.
        let delivery_id = match request.single_header(knox::TRACE_ID_HEADER)? {
            Some(trace) => safe_id(trace)
                .ok_or_else(|| {
                    Failure::malformed(
                        "X-WSM-TRACEID must be 1 to 200 characters of A-Z a-z 0-9 . _ : -",
                    )
                })?
                .to_string(),
            None => sha256_hex(&request.body),
        };
        trail.delivery_id = Some(delivery_id.clone());
        let nonce = match request.single_header(knox::NONCE_HEADER)? {
            Some(nonce) => Some(safe_id(nonce).ok_or_else(|| {
                Failure::malformed(
                    "x-knox-nonce must be 1 to 200 characters of A-Z a-z 0-9 . _ : -",
                )
            })?),
            None => None,
        };

        let now = self.common.clock.now();
        let certificate = self
            .certificates
            .current(now.unix_timestamp())
            .await
            .map_err(|problem| match problem {
                CertificateProblem::Dependency(err) => Failure::unavailable(err),
                // Knox retries: 503 keeps the event coming back until a certificate is in place.
                other => Failure::unavailable(other),
            })?;
        let verified = knox::verify(
            &request.body,
            signature,
            std::slice::from_ref(&*certificate),
            now.unix_timestamp(),
        )
        .map_err(|err| {
            let (outcome, status) = rejection(err.kind(), 401);
            let message = if status == 503 {
                "temporarily unavailable, retry later".to_string()
            } else {
                err.to_string()
            };
            Failure::new(Reply::error(status, &message), outcome, err)
        })?;
        trail.event_type = verified.event.clone();

        let delivery = self.common.delivery()?;
        let nonce_key = nonce.map(|n| delivery.state_key("knox-nonces", n));
        if let Some(key) = &nonce_key {
            if let Some(seen_for) = delivery
                .store()
                .get(key)
                .await
                .map_err(Failure::unavailable)?
            {
                if seen_for != delivery_id.as_bytes() {
                    return Err(Failure::new(
                        Reply::error(409, "x-knox-nonce already used"),
                        Outcome::Replayed,
                        "nonce reused by another delivery",
                    ));
                }
            }
        }
        let event = VerifiedEvent {
            provider: PROVIDER,
            event_type: verified
                .event
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            delivery_id: delivery_id.clone(),
            dedupe_key: delivery_id.clone(),
            received_at: now,
            verified_by: VerifiedBy::Certificate {
                sha256: verified.certificate_fingerprint.clone(),
            },
            source_ip: request.source_ip.clone(),
            body: request.body.clone(),
            message: None,
        };
        let delivered = delivery.deliver(&event).await?;
        if let Some(key) = nonce_key {
            // Recorded only now that the event is durable, so a failed attempt can be retried
            // with the same nonce.
            match delivery
                .store()
                .put_if_absent(&key, delivery_id.clone().into_bytes(), "text/plain")
                .await
            {
                Ok(PutOutcome::Created | PutOutcome::AlreadyExists) => {}
                Err(err) => tracing::warn!(dependency = err.dependency, "knox nonce not recorded"),
            }
        }
        Ok(stored_reply(&delivered, &delivery_id))
    }
}
