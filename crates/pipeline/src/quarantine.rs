//! Authentic Knox callbacks this deployment has not (yet) claimed: kept apart, never
//! delivered.
//!
//! Samsung signs every Knox customer's callbacks with one key, so a valid signature says
//! nothing about whose callback it is; only the signed `subscriptionId` does, and the
//! operator learns their subscription ids only after the callback URL exists. Until
//! `KNOX_SUBSCRIPTION_IDS` lists them, every verified callback is quarantined: written to
//! `{prefix}/_quarantine/{shard}/{id}.json` (outside the event keys, never published),
//! answered 2xx once that object is durable, and logged with the outcome `quarantined`.
//! Once the subscription is listed, re-sending the kept request (`hookwarden admit`) lets
//! the function verify it again and store it at its normal key, exactly once.
//!
//! A stranger can also make such callbacks (any Knox customer receives signed ones), so
//! the quarantine is bounded: one object per signed content, at most
//! [`Quarantine::per_minute`] new ones a minute per execution environment (beyond that the
//! answer is 503 and Knox retries later), and an S3 lifecycle rule expires the folder.
//!
//! The kept request holds `X-WSM-SIGNATURE`: re-verification needs it. It is Samsung's
//! signature over content naming one subscription, no secret of the operator's; whoever
//! reads it can only re-send that same content, which every deployment either refuses (an
//! allowlist without that subscription), quarantines again under the same key, or stores
//! once under its content id.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::delivery::{shard, Delivery};
use crate::ports::DependencyError;

/// The folder under the function's prefix.
pub const FOLDER: &str = "_quarantine";
/// New quarantine objects one execution environment writes a minute by default
/// (`KNOX_QUARANTINE_PER_MINUTE`).
pub const DEFAULT_PER_MINUTE: u32 = 60;
const WINDOW: Duration = Duration::from_secs(60);

/// A verified request kept as received, with what re-sending it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedRequest {
    /// The content id it would be stored under (`content_sha256`).
    pub id: String,
    pub provider: String,
    /// The signed `subscriptionId`, when the callback has one.
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    pub received_at: String,
    /// Why it was not delivered.
    pub reason: String,
    /// The request headers to send again, lowercase names (the signature, trace id, nonce,
    /// content type).
    pub headers: BTreeMap<String, String>,
    /// The exact body bytes the signature covers.
    pub body_base64: String,
}

impl QuarantinedRequest {
    pub fn body(&self) -> Result<Vec<u8>, base64::DecodeError> {
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &self.body_base64,
        )
    }

    pub fn encode_body(body: &[u8]) -> String {
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body)
    }
}

/// Where the request with content id `id` is kept under `prefix`.
pub fn key(prefix: &str, id: &str) -> String {
    format!("{prefix}/{FOLDER}/{}/{id}.json", shard(id))
}

/// Why a callback could not be quarantined.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("quarantine budget of {0} new objects a minute is spent")]
    OverBudget(u32),
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

/// The quarantine of one handler, with its per-minute budget.
pub struct Quarantine {
    per_minute: u32,
    /// Start of the current window and objects written in it.
    window: std::sync::Mutex<(Instant, u32)>,
}

impl Quarantine {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            window: std::sync::Mutex::new((Instant::now(), 0)),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    fn take(&self) -> bool {
        let mut window = self.window.lock().expect("quarantine window");
        if window.0.elapsed() >= WINDOW {
            *window = (Instant::now(), 0);
        }
        let spent = window.1 >= self.per_minute;
        if !spent {
            window.1 += 1;
        }
        !spent
    }

    /// Writes `request` under `delivery`'s prefix, once per content id; `Ok` only once it is
    /// durable (or was already). Returns its key.
    pub async fn keep(
        &self,
        delivery: &Delivery,
        request: &QuarantinedRequest,
    ) -> Result<String, QuarantineError> {
        let key = key(delivery.prefix(), &request.id);
        if !self.take() {
            return Err(QuarantineError::OverBudget(self.per_minute));
        }
        let json = serde_json::to_vec(request).expect("a quarantined request serializes");
        // Created or already there: either way it is durable now.
        delivery
            .store()
            .put_if_absent(&key, json, "application/json")
            .await?;
        Ok(key)
    }
}

impl Default for Quarantine {
    fn default() -> Self {
        Self::new(DEFAULT_PER_MINUTE)
    }
}
