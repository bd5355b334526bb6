//! Huawei OneAccess event callbacks: CHECK_URL, then organization and user events.
//!
//! OneAccess reads the reply body (`code`, `message`, `data`) and stores the `id` we return
//! for created records, so every answer — errors included — is OneAccess's JSON shape, with
//! the documented return code in both the HTTP status and the body.

use std::time::Duration;

use async_trait::async_trait;
use hookwarden_verify::oneaccess::{self, Config, OneAccessError};
use hookwarden_verify::reject::RejectKind;

use super::{Common, Failure, Provider};
use crate::delivery::Delivered;
use crate::envelope::{VerifiedBy, VerifiedEvent};
use crate::outcome::{Outcome, Trail};
use crate::request::{Inbound, Reply};
use crate::secrets::{verify_with_rotation, SecretCache};

pub const PROVIDER: &str = "oneaccess";
const CHECK_URL: &str = "CHECK_URL";

pub struct OneAccessHandler {
    common: Common,
    secrets: SecretCache,
    replay_window: Duration,
}

impl OneAccessHandler {
    pub fn new(common: Common, secrets: SecretCache, replay_window: Duration) -> Self {
        Self {
            common,
            secrets,
            replay_window,
        }
    }
}

/// OneAccess's error shape for `code`, with a log reason.
fn failure(code: u16, outcome: Outcome, reason: impl std::fmt::Display) -> Failure {
    Failure::new(
        Reply::json(code, oneaccess::error_reply(code)),
        outcome,
        reason,
    )
}

enum Miss {
    Protocol(OneAccessError),
    Secret(String),
}

/// Keeps a record's content but not its password: CREATE_USER carries one in clear.
fn redact_passwords(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key.eq_ignore_ascii_case("password") {
                    *field = serde_json::Value::String("[redacted]".into());
                } else {
                    redact_passwords(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_passwords),
        _ => {}
    }
}

#[async_trait]
impl Provider for OneAccessHandler {
    const NAME: &'static str = PROVIDER;

    async fn process(
        &self,
        request: &Inbound,
        trail: &mut Trail,
    ) -> Result<(Reply, Outcome), Failure> {
        self.common
            .admit(request)
            .map_err(|f| failure(f.reply.status, f.outcome, f.reason))?;
        let authorization = request
            .single_header(oneaccess::AUTHORIZATION_HEADER)
            .map_err(|problem| failure(400, Outcome::Malformed, problem))?;
        let now = self.common.clock.now();
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let window = self.replay_window.as_secs();
        let body = &request.body;
        let checked = verify_with_rotation(
            &self.secrets,
            |candidates| {
                let configs = candidates
                    .iter()
                    .map(|c| {
                        Config::from_secret_json(&c.text)
                            .map_err(|err| format!("secret version {}: {err}", c.version_id))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(Miss::Secret)?;
                let verified = oneaccess::verify(body, authorization, &configs, now_ms, window)
                    .map_err(Miss::Protocol)?;
                let index = verified.config_index;
                Ok((
                    verified,
                    configs[index].clone(),
                    candidates[index].version_id.clone(),
                ))
            },
            |miss| matches!(miss, Miss::Protocol(err) if err.kind() == RejectKind::Forged),
        )
        .await
        .map_err(|err| failure(500, Outcome::Unavailable, err))?;
        let (verified, config, version_id) = checked.map_err(|miss| match miss {
            Miss::Secret(reason) => failure(500, Outcome::Misconfigured, reason),
            Miss::Protocol(err) => {
                let outcome = match err.kind() {
                    RejectKind::Forged => Outcome::SignatureRejected,
                    RejectKind::Stale => Outcome::Replayed,
                    RejectKind::Malformed | RejectKind::CertificateUnusable => Outcome::Malformed,
                };
                failure(err.return_code(), outcome, err)
            }
        })?;
        trail.event_type = Some(verified.event_type.clone());
        // Identity: exactly what the signature covers. A nonce reused with another timestamp
        // is new signed content (only the key holder can make it), so it is a new event; the
        // same content again is a duplicate.
        let id = hex::encode(verified.signed_content_sha256());
        let scheme = verified.mac.map_or("unsigned", |mac| mac.as_str());
        trail.event_id = Some(id.clone());
        trail.scheme = Some(scheme);

        let reply = |outcome| {
            oneaccess::reply(&verified, &config)
                .map(|body| (Reply::json(200, body), outcome))
                .map_err(|err| failure(500, Outcome::Misconfigured, err))
        };
        // The handshake stores nothing, so it works before any sink is configured.
        if verified.event_type == CHECK_URL {
            return reply(Outcome::Handshake);
        }

        let delivery = self
            .common
            .delivery()
            .map_err(|f| failure(500, f.outcome, f.reason))?;
        let message = match serde_json::from_str::<serde_json::Value>(&verified.msg) {
            Ok(mut value) => {
                redact_passwords(&mut value);
                value
            }
            Err(_) => serde_json::Value::String("[message is not JSON]".into()),
        };
        let event = VerifiedEvent {
            provider: PROVIDER,
            event_type: verified.event_type.clone(),
            id,
            unsigned: Vec::new(),
            received_at: now,
            verified_by: VerifiedBy::Secret { version_id, scheme },
            source_ip: request.source_ip.clone(),
            body: body.clone(),
            message: Some(message),
        };
        match delivery.deliver(&event).await {
            Ok(Delivered::Stored { .. }) => reply(Outcome::Stored),
            // A redelivery gets the same answer as the first delivery: OneAccess needs the id.
            Ok(Delivered::Duplicate { .. }) => reply(Outcome::Duplicate),
            Err(err) => Err(failure(500, Outcome::Unavailable, err)),
        }
    }
}
