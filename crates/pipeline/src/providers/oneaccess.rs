//! Huawei OneAccess event callbacks: CHECK_URL, then organization and user events.
//!
//! OneAccess reads the reply body (`code`, `message`, `data`) and stores the `id` we return
//! for created records, so every answer — errors included — is OneAccess's JSON shape, with
//! the documented return code in both the HTTP status and the body.

use std::time::Duration;

use async_trait::async_trait;
use hookwarden_verify::oneaccess::{self, Config, OneAccessError};
use hookwarden_verify::reject::RejectKind;

use super::{Failure, HandlerContext, Provider, Steps};
use crate::delivery::Delivered;
use crate::envelope::{Redacted, VerifiedBy, VerifiedEvent};
use crate::outcome::Outcome;
use crate::request::{Inbound, Reply};
use crate::request_log::RequestLog;
use crate::secrets::{usable_candidates, verify_with_rotation, SecretCache};

const CHECK_URL: &str = "CHECK_URL";

pub struct OneAccessHandler {
    context: HandlerContext,
    secrets: SecretCache,
    replay_window: Duration,
}

impl OneAccessHandler {
    pub fn new(context: HandlerContext, secrets: SecretCache, replay_window: Duration) -> Self {
        Self {
            context,
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

enum VerifyFailure {
    Protocol(OneAccessError),
    Secret(String),
}

/// Whether a field's name says it holds a password (`password`, `newPassword`, `userPwd`,
/// `PASSWD`, `passphrase`…), in any case.
fn names_a_password(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "pwd", "passphrase"]
        .iter()
        .any(|word| key.contains(word))
}

/// Keeps a record's content but not its passwords: CREATE_USER and UPDATE_USER carry one in
/// clear. Returns the paths replaced, under `path`.
fn redact_passwords(value: &mut serde_json::Value, path: &str, removed: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                let here = format!("{path}.{key}");
                if names_a_password(key) {
                    *field = serde_json::Value::String("[redacted]".into());
                    removed.push(here);
                } else {
                    redact_passwords(field, &here, removed);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (n, item) in items.iter_mut().enumerate() {
                redact_passwords(item, &format!("{path}[{n}]"), removed);
            }
        }
        _ => {}
    }
}

/// The body as stored: `data` replaced, since it is the message itself when encryption is off
/// (a user's password in clear) and ciphertext of it otherwise. The decrypted, redacted
/// message travels as the envelope's `message`.
fn body_without_data(body: &[u8]) -> Option<bytes::Bytes> {
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).ok()?;
    let data = fields.get_mut("data")?;
    *data = serde_json::Value::String("[removed: see message]".into());
    Some(serde_json::to_vec(&fields).ok()?.into())
}

#[async_trait]
impl Steps for OneAccessHandler {
    const PROVIDER: Provider = Provider::OneAccess;

    async fn process(
        &self,
        request: &Inbound,
        log: &mut RequestLog,
    ) -> Result<(Reply, Outcome), Failure> {
        self.context
            .admit(request)
            .map_err(|f| failure(f.reply.status, f.outcome, f.reason))?;
        let authorization = request
            .single_header(oneaccess::AUTHORIZATION_HEADER)
            .map_err(|problem| failure(400, Outcome::Malformed, problem))?;
        let now = self.context.clock.now();
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let window = self.replay_window.as_secs();
        let body = &request.body;
        let checked = verify_with_rotation(
            &self.secrets,
            |candidates| {
                let usable = usable_candidates(candidates, |c| {
                    Config::from_secret_json(&c.text)
                        .map_err(|err| format!("secret version {}: {err}", c.version_id))
                })
                .map_err(VerifyFailure::Secret)?;
                let (indexes, configs): (Vec<usize>, Vec<Config>) = usable.into_iter().unzip();
                let verified = oneaccess::verify(body, authorization, &configs, now_ms, window)
                    .map_err(VerifyFailure::Protocol)?;
                let index = indexes[verified.config_index];
                let config = configs[verified.config_index].clone();
                Ok((
                    index,
                    (verified, config, candidates[index].version_id.clone()),
                ))
            },
            // Only a sender holding a configured bearer token gets past it, so a token that
            // is missing or wrong never makes the function re-read the secret: a bare POST
            // cannot cost a GetSecretValue.
            |problem| {
                matches!(problem, VerifyFailure::Protocol(err) if err.kind() == RejectKind::Forged
                    && !matches!(err, OneAccessError::MissingBearer | OneAccessError::WrongBearer))
            },
        )
        .await
        .map_err(|err| failure(500, Outcome::Unavailable, err))?;
        let (verified, config, version_id) = checked.map_err(|problem| match problem {
            VerifyFailure::Secret(reason) => failure(500, Outcome::Misconfigured, reason),
            VerifyFailure::Protocol(err) => {
                let outcome = match err.kind() {
                    RejectKind::Forged => Outcome::SignatureRejected,
                    RejectKind::Stale => Outcome::Replayed,
                    RejectKind::Malformed | RejectKind::NoUsableKey => Outcome::Malformed,
                };
                failure(err.return_code(), outcome, err)
            }
        })?;
        log.event_type = Some(verified.event_type.clone());
        // Identity: exactly what the signature covers, keyed (see `oneaccess::Verified`). A
        // nonce reused with another timestamp is new signed content (only the key holder can
        // make it), so it is a new event; the same content again is a duplicate.
        let id = hex::encode(verified.identity);
        let scheme = verified.mac.map_or("unsigned", |mac| mac.as_str());
        log.event_id = Some(id.clone());
        log.scheme = Some(scheme);

        // The answer is settled before anything is written, so an event is never stored and
        // then answered with an error.
        let answer = oneaccess::reply(&verified, &config)
            .map_err(|err| failure(500, Outcome::Misconfigured, err))?;
        let reply = |outcome| Ok((Reply::json(200, answer.clone()), outcome));
        // The handshake stores nothing, so it works before any sink is configured.
        if verified.event_type == CHECK_URL {
            return reply(Outcome::Handshake);
        }

        let delivery = self
            .context
            .delivery()
            .map_err(|f| failure(500, f.outcome, f.reason))?;
        let mut removed = Vec::new();
        // The verifier read the body as a JSON object with a string `data`, so the whole body
        // is dropped only if that changed under our feet.
        let stored_body = body_without_data(body);
        removed.push(
            if stored_body.is_some() {
                "body.data"
            } else {
                "body"
            }
            .to_string(),
        );
        let message = match serde_json::from_str::<serde_json::Value>(&verified.msg) {
            Ok(mut value) => {
                redact_passwords(&mut value, "message", &mut removed);
                value
            }
            Err(_) => serde_json::Value::String("[message is not JSON]".into()),
        };
        let event = VerifiedEvent {
            provider: Provider::OneAccess.name(),
            event_type: verified.event_type.clone(),
            id,
            unsigned: Vec::new(),
            received_at: now,
            verified_by: VerifiedBy::Secret { version_id, scheme },
            source_ip: request.source_ip.clone(),
            body: body.clone(),
            message: Some(message),
            redacted: Some(Redacted {
                body: stored_body.unwrap_or_else(|| bytes::Bytes::from_static(b"{}")),
                removed,
            }),
        };
        match delivery.deliver(&event).await {
            Ok(Delivered::Stored { .. }) => reply(Outcome::Stored),
            // A redelivery gets the same answer as the first delivery: OneAccess needs the id.
            Ok(Delivered::Duplicate { .. }) => reply(Outcome::Duplicate),
            // OneAccess's "system busy" either way; the outcome tells a quota apart.
            Err(err) => {
                let dependency = Failure::from(err);
                Err(failure(500, dependency.outcome, dependency.reason))
            }
        }
    }
}
