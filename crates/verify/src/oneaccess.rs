//! Huawei OneAccess "synchronization by event callback" (developer guide oneaccess_06_0121..0136,
//! protocols.md §3).
//!
//! A callback is `POST {nonce, timestamp, eventType, data, signature}` with
//! `Authorization: Bearer <security token>`. `signature` = Base64(HMAC-SHA256(signature key,
//! nonce + "&" + timestamp + "&" + eventType + "&" + data)) over each field as sent; `data` is
//! the message itself, or its AES encryption when encryption is on (see `cipher.rs`). The
//! signature is checked before anything is decrypted, as the guide requires.
//!
//! Huawei's "Verifying Callback URL" example carries a 20-byte signature, HMAC-SHA1's size, so
//! a tenant may sign as the example does: Base64(HMAC-SHA1(signature key, the same string)). A
//! signature that decodes to 20 bytes is checked as HMAC-SHA1, one of 32 bytes as HMAC-SHA256,
//! any other length is refused; [`Verified::mac`] records which matched. (The example's key is
//! not published, so the example itself cannot be checked.) ECB is available as a configured
//! mode.

mod cipher;
mod config;
mod reply;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

pub use cipher::{decrypt, encrypt, CipherMode, Encryption};
pub use config::Config;
pub use reply::{error_reply, reply};

use crate::encoding::STANDARD;
use crate::reject::RejectKind;

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// The HMAC a callback's `signature` was computed with. OneAccess names no algorithm in the
/// request; the length of the decoded signature tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    /// Base64(HMAC-SHA256(key, content)), 32 bytes: the current developer guide.
    HmacSha256,
    /// Base64(HMAC-SHA1(key, content)), 20 bytes: the "Verifying Callback URL" example.
    HmacSha1,
}

impl MacAlgorithm {
    /// Both algorithms, the current one first.
    pub const ALL: [Self; 2] = [Self::HmacSha256, Self::HmacSha1];

    /// `"hmac-sha256"` or `"hmac-sha1"`, for envelopes and logs.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha1 => "hmac-sha1",
        }
    }

    /// The MAC's length in bytes (before Base64): 32 or 20.
    pub const fn output_len(&self) -> usize {
        match self {
            Self::HmacSha256 => 32,
            Self::HmacSha1 => 20,
        }
    }

    /// The algorithm whose MAC has `len` bytes, if any.
    pub fn from_output_len(len: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|mac| mac.output_len() == len)
    }

    fn compute(self, key: &[u8], content: &[u8]) -> Vec<u8> {
        match self {
            Self::HmacSha256 => keyed::<HmacSha256>(key, content)
                .finalize()
                .into_bytes()
                .to_vec(),
            Self::HmacSha1 => keyed::<HmacSha1>(key, content)
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    /// Constant-time comparison of `claimed` with the MAC of `content` (`verify_slice`).
    fn matches(self, key: &[u8], content: &[u8], claimed: &[u8]) -> bool {
        match self {
            Self::HmacSha256 => keyed::<HmacSha256>(key, content)
                .verify_slice(claimed)
                .is_ok(),
            Self::HmacSha1 => keyed::<HmacSha1>(key, content)
                .verify_slice(claimed)
                .is_ok(),
        }
    }
}

impl std::fmt::Display for MacAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8], content: &[u8]) -> M {
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(content);
    mac
}

/// Header carrying `Bearer <security token>`, lower-cased as Lambda delivers header names.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// How far `timestamp` may be from now, either way. Huawei documents no window.
pub const DEFAULT_REPLAY_WINDOW_SECS: u64 = 300;

/// Every documented `eventType` (06_0123, 06_0131..0136). Others are answered with a bare
/// success and stored like any event.
pub const EVENT_TYPES: [&str; 7] = [
    "CHECK_URL",
    "CREATE_ORGANIZATION",
    "UPDATE_ORGANIZATION",
    "DELETE_ORGANIZATION",
    "CREATE_USER",
    "UPDATE_USER",
    "DELETE_USER",
];

/// Timestamps with at most this many digits are read as seconds, longer ones as milliseconds
/// (the realistic example, 1573784783795, is milliseconds).
const MAX_SECONDS_DIGITS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum OneAccessError {
    #[error(
        "body is not a OneAccess callback ({0}); expected a JSON object with nonce, timestamp, \
         eventType, data and signature"
    )]
    NotCallback(String),
    #[error(
        "field `{0}` is missing or null; OneAccess sends nonce, timestamp, eventType and data"
    )]
    MissingField(&'static str),
    #[error("field `{0}` must be a JSON string")]
    NotAString(&'static str),
    #[error("timestamp must be decimal digits (epoch milliseconds), as a JSON number or string")]
    BadTimestamp,
    #[error(
        "field `{0}` contains '&', which would make the signed nonce&timestamp&eventType&data \
         ambiguous; OneAccess never sends one"
    )]
    AmbiguousField(&'static str),
    #[error("no `Authorization: Bearer <token>` header; OneAccess sends the callback's security token there")]
    MissingBearer,
    #[error("bearer token does not match the security token configured for OneAccess")]
    WrongBearer,
    #[error(
        "signature is empty (signing is off in OneAccess); turn signing on in the console, or, \
         if it must stay off, remove signature_key from the secret and set allow_unsigned \
         (never with ECB)"
    )]
    Unsigned,
    #[error(
        "signature does not match nonce, timestamp, eventType and data under the signature key"
    )]
    BadSignature,
    #[error(
        "data does not decrypt with the configured encryption key and mode; check encryption_key \
         and encryption_mode against the OneAccess console"
    )]
    Undecryptable,
    #[error("decrypted data is not 16 letters, '&' and a UTF-8 message")]
    PlaintextLayout,
    #[error(
        "timestamp is {age_secs} s from now (negative: in the future), outside the {window_secs} s \
         replay window; check the clocks of OneAccess and this host"
    )]
    Stale { age_secs: i128, window_secs: u64 },
    #[error("no OneAccess configuration to verify against")]
    NoConfig,
    #[error("the callback is signed but no signature_key is configured; add the console's signature key to the secret")]
    NoSignatureKey,
    #[error("encryption key is {0} bytes; AES needs 16, 24 or 32 (ASCII characters)")]
    KeyLength(usize),
    #[error("OneAccess secret: {0}")]
    BadSecret(String),
}

impl OneAccessError {
    pub fn kind(&self) -> RejectKind {
        match self {
            Self::NotCallback(_)
            | Self::MissingField(_)
            | Self::NotAString(_)
            | Self::BadTimestamp
            | Self::AmbiguousField(_)
            | Self::PlaintextLayout => RejectKind::Malformed,
            // A GCM tag that fails is a forgery test like the signature; a key rotated in the
            // console but not yet in our secret fails here too, so rotation retries on it.
            Self::MissingBearer
            | Self::WrongBearer
            | Self::Unsigned
            | Self::BadSignature
            | Self::Undecryptable => RejectKind::Forged,
            Self::Stale { .. } => RejectKind::Stale,
            // Our configuration cannot judge the request.
            Self::NoConfig | Self::NoSignatureKey | Self::KeyLength(_) | Self::BadSecret(_) => {
                RejectKind::NoUsableKey
            }
        }
    }

    /// The return code of 06_0014 to send as HTTP status and body `code`.
    pub fn return_code(&self) -> u16 {
        match self.kind() {
            RejectKind::Malformed => 400,
            RejectKind::Forged | RejectKind::Stale => 401,
            RejectKind::NoUsableKey => 500,
        }
    }

    /// How far verification got before this error, so that with several candidate configs the
    /// most informative failure is reported.
    fn progress(&self) -> u8 {
        match self {
            Self::WrongBearer => 1,
            Self::Unsigned | Self::BadSignature | Self::NoSignatureKey => 2,
            _ => 3,
        }
    }
}

/// An authenticated, fresh callback.
#[derive(Clone)]
pub struct Verified {
    pub nonce: String,
    /// The timestamp's digits as sent.
    pub timestamp: String,
    /// `eventType` with surrounding whitespace removed (the docs' examples carry a trailing
    /// space); the signature was checked over the untrimmed value.
    pub event_type: String,
    /// The message: decrypted `data`, or `data` itself when encryption is off. CREATE_USER's
    /// carries a password in clear, so it is zeroized on drop and never printed.
    pub msg: Zeroizing<String>,
    /// Which of the candidate configs matched.
    pub config_index: usize,
    /// The HMAC the signature matched under; `None` when the callback came unsigned and the
    /// config allows that.
    pub mac: Option<MacAlgorithm>,
    /// Exactly the bytes the signature covers (or would cover, when unsigned):
    /// `nonce&timestamp&eventType&data` as built by [`signed_content`], with the untrimmed
    /// eventType and the `data` as sent (ciphertext when encryption is on). Without encryption
    /// it holds the message in clear, so it is zeroized on drop and never printed.
    pub signed_content: Zeroizing<Vec<u8>>,
    /// The event's identity, from [`identity`]: HMAC-SHA256 of `signed_content` under the
    /// secret that authenticated it.
    pub identity: [u8; 32],
}

/// The identity of a callback whose signed content is `content`, authenticated by `config`:
/// HMAC-SHA256 of the content under the signature key, or under the bearer token for a
/// configuration that accepts unsigned callbacks (it has no signature key).
///
/// Keyed, because with encryption off the content holds the message in clear (a CREATE_USER's
/// password) and the stored envelope holds every other part of it: an unkeyed hash, stored,
/// published or logged, would confirm password guesses offline. Under the key that
/// authenticated the callback it confirms nothing to whoever lacks that key, while the same
/// content under the same key is always the same identity (whichever MAC the sender used,
/// and a verbatim retry verifies under the same key, during a rotation too). One rule for
/// both modes: over ciphertext it would not matter, and one rule is one thing to explain.
fn identity(content: &[u8], config: &Config) -> [u8; 32] {
    let key = config
        .signature_key
        .as_ref()
        .unwrap_or(&config.bearer_token);
    keyed::<HmacSha256>(key.as_bytes(), content)
        .finalize()
        .into_bytes()
        .into()
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("nonce", &self.nonce)
            .field("timestamp", &self.timestamp)
            .field("event_type", &self.event_type)
            .field("msg", &format_args!("[{} bytes, redacted]", self.msg.len()))
            .field("config_index", &self.config_index)
            .field("mac", &self.mac)
            .field(
                "signed_content",
                &format_args!("[{} bytes, redacted]", self.signed_content.len()),
            )
            .finish()
    }
}

/// The body's fields, borrowed raw so that the timestamp keeps its literal digits and a
/// duplicated key is an error rather than a choice between two values.
#[derive(Deserialize)]
struct RawCallback<'a> {
    #[serde(borrow)]
    nonce: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, rename = "eventType")]
    event_type: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    signature: Option<&'a RawValue>,
}

/// The signed fields of a callback, JSON escapes decoded (the Java sender signs its in-memory
/// strings).
struct Callback {
    nonce: String,
    timestamp: String,
    event_type: String,
    data: String,
    /// Empty when absent or null, as when signing is off.
    signature: String,
}

fn string_field(raw: Option<&RawValue>, name: &'static str) -> Result<String, OneAccessError> {
    let raw = raw.ok_or(OneAccessError::MissingField(name))?;
    serde_json::from_str(raw.get()).map_err(|_| OneAccessError::NotAString(name))
}

impl Callback {
    fn parse(body: &[u8]) -> Result<Self, OneAccessError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| OneAccessError::NotCallback("not UTF-8".into()))?;
        let raw: RawCallback = serde_json::from_str(text).map_err(|err| {
            // serde's message may quote body text; position and category may not.
            OneAccessError::NotCallback(format!(
                "{:?} error at line {} column {}",
                err.classify(),
                err.line(),
                err.column()
            ))
        })?;
        // Java prints a long as plain digits; a string is signed as it stands.
        let timestamp_raw = raw
            .timestamp
            .ok_or(OneAccessError::MissingField("timestamp"))?;
        let timestamp = match timestamp_raw.get() {
            quoted if quoted.starts_with('"') => string_field(Some(timestamp_raw), "timestamp")?,
            literal => literal.to_string(),
        };
        if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OneAccessError::BadTimestamp);
        }
        let signature = match raw.signature {
            None => String::new(),
            Some(raw) if raw.get() == "null" => String::new(),
            Some(raw) => string_field(Some(raw), "signature")?,
        };
        let callback = Self {
            nonce: string_field(raw.nonce, "nonce")?,
            timestamp,
            event_type: string_field(raw.event_type, "eventType")?,
            data: string_field(raw.data, "data")?,
            signature,
        };
        unambiguous(&callback.nonce, &callback.event_type)?;
        Ok(callback)
    }
}

/// Refuses a nonce or eventType containing `&`. The signed string joins the fields with `&`
/// and escapes nothing; `timestamp` is digits, so with these two free of `&` the first three
/// `&` are the separators and the string names exactly one (nonce, timestamp, eventType,
/// data). Otherwise `eventType` "CREATE_USER&{…" and a shortened `data` would sign alike.
fn unambiguous(nonce: &str, event_type: &str) -> Result<(), OneAccessError> {
    for (field, value) in [("nonce", nonce), ("eventType", event_type)] {
        if value.contains('&') {
            return Err(OneAccessError::AmbiguousField(field));
        }
    }
    Ok(())
}

/// The bytes OneAccess signs: `nonce&timestamp&eventType&data`, each field's UTF-8 as sent
/// (JSON escapes decoded, eventType untrimmed, `data` encrypted when encryption is on), with
/// nothing escaped, exactly as in OneAccess's scheme. That is ambiguous when the nonce or
/// eventType contains `&`, so [`verify`] refuses those before any MAC is computed.
pub fn signed_content(
    nonce: &str,
    timestamp: &str,
    event_type: &str,
    data: &str,
) -> Zeroizing<Vec<u8>> {
    let parts = [nonce, timestamp, event_type, data];
    let len = parts.iter().map(|part| part.len()).sum::<usize>() + parts.len() - 1;
    let mut content = Zeroizing::new(Vec::with_capacity(len));
    for (index, part) in parts.into_iter().enumerate() {
        if index > 0 {
            content.push(b'&');
        }
        content.extend_from_slice(part.as_bytes());
    }
    content
}

/// The `signature` OneAccess computes: Base64(HMAC-SHA256(key, nonce&timestamp&eventType&data)).
pub fn sign(
    signature_key: &str,
    nonce: &str,
    timestamp: &str,
    event_type: &str,
    data: &str,
) -> String {
    sign_with(
        MacAlgorithm::HmacSha256,
        signature_key,
        nonce,
        timestamp,
        event_type,
        data,
    )
}

/// [`sign`] with a chosen HMAC: Base64(HMAC-SHA1(…)) for [`MacAlgorithm::HmacSha1`].
pub fn sign_with(
    mac: MacAlgorithm,
    signature_key: &str,
    nonce: &str,
    timestamp: &str,
    event_type: &str,
    data: &str,
) -> String {
    let content = signed_content(nonce, timestamp, event_type, data);
    STANDARD.encode(mac.compute(signature_key.as_bytes(), &content))
}

/// The token of `Bearer <token>`; the scheme is case-insensitive (RFC 7235).
fn bearer_token(authorization: Option<&str>) -> Result<&str, OneAccessError> {
    let (scheme, token) = authorization
        .map(str::trim)
        .and_then(|value| value.split_once(' '))
        .ok_or(OneAccessError::MissingBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(OneAccessError::MissingBearer);
    }
    Ok(token)
}

/// Checks the bearer token and the signature (over `content`, the callback's
/// [`signed_content`]) against one config; returns the HMAC that matched, `None` when unsigned
/// and allowed.
fn authenticate(
    callback: &Callback,
    content: &[u8],
    token: &str,
    config: &Config,
) -> Result<Option<MacAlgorithm>, OneAccessError> {
    if !bool::from(token.as_bytes().ct_eq(config.bearer_token.as_bytes())) {
        return Err(OneAccessError::WrongBearer);
    }
    if callback.signature.is_empty() {
        return match unsigned_allowed(config) {
            true => Ok(None),
            false => Err(OneAccessError::Unsigned),
        };
    }
    let key = config
        .signature_key
        .as_ref()
        .ok_or(OneAccessError::NoSignatureKey)?;
    // The strict decoder has one spelling per MAC, so this equals Java's String.equals.
    let claimed = STANDARD
        .decode(&callback.signature)
        .map_err(|_| OneAccessError::BadSignature)?;
    // The length is public (it is in the request); only the comparison must be constant-time.
    let mac = MacAlgorithm::from_output_len(claimed.len()).ok_or(OneAccessError::BadSignature)?;
    match mac.matches(key.as_bytes(), content, &claimed) {
        true => Ok(Some(mac)),
        false => Err(OneAccessError::BadSignature),
    }
}

/// Whether `config` accepts a callback with an empty signature: only with `allow_unsigned`,
/// no signature key (a key means OneAccess signs, so an empty signature is a stripped one,
/// not a downgrade to allow) and no ECB (which then nothing would authenticate).
/// [`Config::from_secret_json`] refuses the other combinations; this also holds for configs
/// built in code.
fn unsigned_allowed(config: &Config) -> bool {
    let ecb = matches!(&config.encryption, Some(e) if e.mode == CipherMode::Ecb);
    config.allow_unsigned && config.signature_key.is_none() && !ecb
}

/// Refuses a timestamp more than `window_secs` before or after `now_ms`.
fn check_window(timestamp: &str, now_ms: i64, window_secs: u64) -> Result<(), OneAccessError> {
    let value: u64 = timestamp
        .parse()
        .map_err(|_| OneAccessError::BadTimestamp)?;
    let sent_ms = match timestamp.len() <= MAX_SECONDS_DIGITS {
        true => i128::from(value) * 1000,
        false => i128::from(value),
    };
    let age_ms = i128::from(now_ms) - sent_ms;
    if age_ms.abs() > i128::from(window_secs) * 1000 {
        return Err(OneAccessError::Stale {
            age_secs: age_ms / 1000,
            window_secs,
        });
    }
    Ok(())
}

/// Verifies a callback against the candidate configs (current first, then previous during a
/// rotation); the first config whose bearer token, signature and encryption key all fit wins.
/// Order: body shape, bearer token, signature, replay window, then decryption. The nonce's
/// uniqueness is the caller's to check (it needs a store).
pub fn verify(
    body: &[u8],
    authorization: Option<&str>,
    configs: &[Config],
    now_ms: i64,
    window_secs: u64,
) -> Result<Verified, OneAccessError> {
    let callback = Callback::parse(body)?;
    if configs.is_empty() {
        return Err(OneAccessError::NoConfig);
    }
    let token = bearer_token(authorization)?;
    let content = signed_content(
        &callback.nonce,
        &callback.timestamp,
        &callback.event_type,
        &callback.data,
    );
    let mut failure: Option<OneAccessError> = None;
    let mut fresh = false;
    for (config_index, config) in configs.iter().enumerate() {
        let attempt = authenticate(&callback, &content, token, config).and_then(|mac| {
            if !fresh {
                check_window(&callback.timestamp, now_ms, window_secs)?;
                fresh = true;
            }
            let msg = match &config.encryption {
                Some(encryption) => decrypt(&callback.data, encryption)?,
                None => Zeroizing::new(callback.data.clone()),
            };
            Ok((mac, msg))
        });
        match attempt {
            Ok((mac, msg)) => {
                let identity = identity(&content, config);
                return Ok(Verified {
                    nonce: callback.nonce,
                    timestamp: callback.timestamp,
                    event_type: callback.event_type.trim().to_string(),
                    msg,
                    config_index,
                    mac,
                    signed_content: content,
                    identity,
                });
            }
            // Authentic but stale: no other config can make it fresh.
            Err(err @ OneAccessError::Stale { .. }) => return Err(err),
            Err(err) => {
                if failure
                    .as_ref()
                    .is_none_or(|kept| err.progress() > kept.progress())
                {
                    failure = Some(err);
                }
            }
        }
    }
    Err(failure.expect("configs is not empty"))
}

#[derive(Serialize)]
struct Outgoing<'a> {
    nonce: &'a str,
    timestamp: i64,
    #[serde(rename = "eventType")]
    event_type: &'a str,
    data: &'a str,
    signature: &'a str,
}

/// A callback body as OneAccess would send it under `config`: `msg` encrypted when encryption
/// is on, signed (HMAC-SHA256) when a signature key is set (else `signature` is empty),
/// `timestamp` a JSON number. For the CLI, sample events and tests.
pub fn build_request(
    event_type: &str,
    msg: &str,
    config: &Config,
    nonce: &str,
    timestamp_ms: i64,
) -> Result<String, OneAccessError> {
    build_request_with(
        MacAlgorithm::HmacSha256,
        event_type,
        msg,
        config,
        nonce,
        timestamp_ms,
    )
}

/// [`build_request`] signed with a chosen HMAC (HMAC-SHA1 as the older tenants send).
pub fn build_request_with(
    mac: MacAlgorithm,
    event_type: &str,
    msg: &str,
    config: &Config,
    nonce: &str,
    timestamp_ms: i64,
) -> Result<String, OneAccessError> {
    unambiguous(nonce, event_type)?;
    let data = match &config.encryption {
        Some(encryption) => encrypt(msg, encryption)?,
        None => msg.to_string(),
    };
    let timestamp = timestamp_ms.to_string();
    let signature = match &config.signature_key {
        Some(key) => sign_with(mac, key, nonce, &timestamp, event_type, &data),
        None => String::new(),
    };
    let outgoing = Outgoing {
        nonce,
        timestamp: timestamp_ms,
        event_type,
        data: &data,
        signature: &signature,
    };
    Ok(serde_json::to_string(&outgoing).expect("strings and numbers always serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "signature-key-1234";
    const NOW_MS: i64 = 1_795_000_000_000;

    fn config() -> Config {
        Config {
            signature_key: Some(Zeroizing::new(KEY.into())),
            bearer_token: Zeroizing::new("token-1".into()),
            encryption: None,
            allow_unsigned: false,
        }
    }

    #[test]
    fn known_answer_from_the_documented_java_snippet() {
        // protocols.md §5.3: the guide's Java code on JDK 17, cross-checked with Python hmac.
        let signature = sign(
            KEY,
            "jmgjjEAJbrMzWmUw",
            "15093849585",
            "CHECK_URL",
            "random string",
        );
        assert_eq!(signature, "HMEP+hrpJnBGCTkbYHzD5qgEkLOEWNTwBQedGiU4DrM=");
        let body = format!(
            r#"{{"nonce":"jmgjjEAJbrMzWmUw","timestamp":15093849585,"eventType":"CHECK_URL","data":"random string","signature":"{signature}"}}"#
        );
        // 15093849585 has 11 digits: milliseconds, i.e. June 1970.
        let verified = verify(
            body.as_bytes(),
            Some("Bearer token-1"),
            &[config()],
            15_093_849_585,
            300,
        )
        .unwrap();
        assert_eq!(verified.msg.as_str(), "random string");
        assert_eq!(verified.timestamp, "15093849585");
        assert_eq!(verified.mac, Some(MacAlgorithm::HmacSha256));
        assert_eq!(
            verified.signed_content.as_slice(),
            b"jmgjjEAJbrMzWmUw&15093849585&CHECK_URL&random string"
        );
    }

    #[test]
    fn known_answer_for_hmac_sha1() {
        // Python: base64.b64encode(hmac.new(key, content, hashlib.sha1).digest()).
        let signature = sign_with(
            MacAlgorithm::HmacSha1,
            KEY,
            "jmgjjEAJbrMzWmUw",
            "15093849585",
            "CHECK_URL",
            "random string",
        );
        assert_eq!(signature, "Yn/qWJtWYx5GvhXpcOf7fWbHXuM=");
        let body = format!(
            r#"{{"nonce":"jmgjjEAJbrMzWmUw","timestamp":15093849585,"eventType":"CHECK_URL","data":"random string","signature":"{signature}"}}"#
        );
        let verified = verify(
            body.as_bytes(),
            Some("Bearer token-1"),
            &[config()],
            15_093_849_585,
            300,
        )
        .unwrap();
        assert_eq!(verified.mac, Some(MacAlgorithm::HmacSha1));
        assert_eq!(verified.mac.unwrap().as_str(), "hmac-sha1");
    }

    #[test]
    fn mac_algorithm_lengths_and_names() {
        assert_eq!(
            MacAlgorithm::from_output_len(32),
            Some(MacAlgorithm::HmacSha256)
        );
        assert_eq!(
            MacAlgorithm::from_output_len(20),
            Some(MacAlgorithm::HmacSha1)
        );
        for len in [0, 16, 19, 21, 28, 31, 33, 48, 64] {
            assert_eq!(MacAlgorithm::from_output_len(len), None, "{len}");
        }
        for mac in MacAlgorithm::ALL {
            assert_eq!(mac.compute(b"k", b"c").len(), mac.output_len());
            assert_eq!(mac.to_string(), mac.as_str());
        }
        assert_eq!(MacAlgorithm::HmacSha256.as_str(), "hmac-sha256");
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("bearer  abc ")).unwrap(), "abc");
        for value in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer   "),
            Some("Basic abc"),
            Some("abc"),
        ] {
            assert!(
                matches!(bearer_token(value), Err(OneAccessError::MissingBearer)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn window_reads_seconds_and_milliseconds() {
        let now_s = NOW_MS / 1000;
        assert!(check_window(&now_s.to_string(), NOW_MS, 300).is_ok());
        assert!(check_window(&(now_s - 300).to_string(), NOW_MS, 300).is_ok());
        assert!(check_window(&(now_s - 301).to_string(), NOW_MS, 300).is_err());
        assert!(check_window(&(NOW_MS + 300_000).to_string(), NOW_MS, 300).is_ok());
        assert!(check_window(&(NOW_MS + 300_001).to_string(), NOW_MS, 300).is_err());
        assert!(matches!(
            check_window("99999999999999999999999", NOW_MS, 300),
            Err(OneAccessError::BadTimestamp)
        ));
    }

    #[test]
    fn body_shape_errors_are_malformed_and_quote_nothing() {
        let cases: [&[u8]; 9] = [
            b"\xff",
            b"\"secret-looking text\"",
            b"{",
            br#"{"timestamp":1,"eventType":"X","data":"d"}"#,
            br#"{"nonce":"n","timestamp":1,"eventType":"X","data":{"a":1}}"#,
            br#"{"nonce":"n","timestamp":-1,"eventType":"X","data":"d"}"#,
            br#"{"nonce":"n","timestamp":1.5e12,"eventType":"X","data":"d"}"#,
            br#"{"nonce":"n","timestamp":"12a","eventType":"X","data":"d"}"#,
            br#"{"nonce":"n","nonce":"m","timestamp":1,"eventType":"X","data":"d"}"#,
        ];
        for body in cases {
            let err = verify(body, Some("Bearer token-1"), &[config()], NOW_MS, 300).unwrap_err();
            assert_eq!(
                (err.kind(), err.return_code()),
                (RejectKind::Malformed, 400),
                "{err}"
            );
            assert!(!err.to_string().contains("secret-looking"), "{err}");
        }
    }

    #[test]
    fn verified_debug_redacts_the_message() {
        let body = build_request(
            "CREATE_USER",
            r#"{"password":"hunter2"}"#,
            &config(),
            "n",
            NOW_MS,
        )
        .unwrap();
        let verified = verify(
            body.as_bytes(),
            Some("Bearer token-1"),
            &[config()],
            NOW_MS,
            300,
        )
        .unwrap();
        assert!(!format!("{verified:?}").contains("hunter2"));
    }
}
