//! Scalefusion device-event webhooks.

use async_trait::async_trait;
use hookwarden_verify::reject::RejectKind;
use hookwarden_verify::scalefusion::{self, ScalefusionError};

use super::{rejection, stored_reply, Failure, HandlerContext, Provider, Steps};
use crate::envelope::{VerifiedBy, VerifiedEvent};
use crate::ids::sha256_hex;
use crate::outcome::Outcome;
use crate::request::{Inbound, Reply};
use crate::request_log::RequestLog;
use crate::secrets::{json_field, usable_candidates, verify_with_rotation, SecretCache};

/// The field of the Secrets Manager JSON secret that holds the dashboard's Secret Key.
pub const SECRET_FIELD: &str = "secret_key";
/// Scalefusion's documented answer to a signature mismatch.
pub const MISMATCH_STATUS: u16 = 406;

pub struct ScalefusionHandler {
    context: HandlerContext,
    secrets: SecretCache,
}

impl ScalefusionHandler {
    pub fn new(context: HandlerContext, secrets: SecretCache) -> Self {
        Self { context, secrets }
    }
}

enum VerifyFailure {
    Signature(ScalefusionError),
    Secret(String),
}

#[async_trait]
impl Steps for ScalefusionHandler {
    const PROVIDER: Provider = Provider::Scalefusion;

    async fn process(
        &self,
        request: &Inbound,
        log: &mut RequestLog,
    ) -> Result<(Reply, Outcome), Failure> {
        self.context.admit(request)?;
        let header = request
            .single_header(scalefusion::SIGNATURE_HEADER)?
            .ok_or_else(|| {
                Failure::new(
                    Reply::error(
                        MISMATCH_STATUS,
                        "Signatures mismatch: missing X-SF-Signature header",
                    ),
                    Outcome::SignatureRejected,
                    "no X-SF-Signature",
                )
            })?;
        let body = &request.body;
        let checked = verify_with_rotation(
            &self.secrets,
            |candidates| {
                let usable = usable_candidates(candidates, |c| json_field(c, SECRET_FIELD))
                    .map_err(VerifyFailure::Secret)?;
                let keys: Vec<&[u8]> = usable.iter().map(|(_, k)| k.as_bytes()).collect();
                let matched = scalefusion::verify(body, header, &keys).map_err(VerifyFailure::Signature)?;
                let index = usable[matched].0;
                Ok((index, candidates[index].version_id.clone()))
            },
            |problem| matches!(problem, VerifyFailure::Signature(err) if err.kind() == RejectKind::Forged),
        )
        .await
        .map_err(Failure::unavailable)?;
        let version_id = checked.map_err(|problem| match problem {
            VerifyFailure::Secret(reason) => Failure::new(
                Reply::error(503, "temporarily unavailable, retry later"),
                Outcome::Misconfigured,
                reason,
            ),
            VerifyFailure::Signature(err) => {
                let (outcome, status) = rejection(err.kind(), MISMATCH_STATUS);
                let message = match status {
                    MISMATCH_STATUS => "Signatures mismatch".to_string(),
                    _ => err.to_string(),
                };
                Failure::new(Reply::error(status, &message), outcome, err)
            }
        })?;

        // Authentic from here on: whatever its shape, the body is stored. Its identity is the
        // raw body Scalefusion signed; a body field (`id`) is not documented as unique.
        let event_type = scalefusion::event_type(body);
        log.event_type = event_type.clone();
        let verified = VerifiedEvent {
            provider: Provider::Scalefusion.name(),
            event_type: event_type.unwrap_or_else(|| "unknown".to_string()),
            id: sha256_hex(body),
            unsigned: Vec::new(),
            received_at: self.context.clock.now(),
            verified_by: VerifiedBy::Secret {
                version_id,
                scheme: "hmac-sha256",
            },
            source_ip: request.source_ip.clone(),
            body: body.clone(),
            message: None,
            redacted: None,
        };
        log.event_id = Some(verified.id.clone());
        log.scheme = Some("hmac-sha256");
        let delivery = self.context.delivery()?;
        let delivered = delivery.deliver(&verified).await?;
        Ok(stored_reply(&delivered, &verified.id))
    }
}
