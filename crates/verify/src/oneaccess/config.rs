//! A OneAccess application's callback settings, read from its Secrets Manager secret.

use serde::Deserialize;
use zeroize::Zeroizing;

use super::{CipherMode, Encryption, OneAccessError};

/// The settings of one OneAccess application, as entered in its "synchronization by event
/// callback" configuration.
#[derive(Clone)]
pub struct Config {
    /// The signature key ("signatureSaltValue"). `None` only with `allow_unsigned`.
    pub signature_key: Option<Zeroizing<String>>,
    /// The security token OneAccess sends as `Authorization: Bearer <token>`.
    pub bearer_token: Zeroizing<String>,
    /// Set when message encryption is on in the console.
    pub encryption: Option<Encryption>,
    /// Accept an empty `signature` (signing switched off in the console); the bearer token is
    /// then the only proof of origin. Only without `signature_key` and without ECB: with a
    /// key an empty signature is always refused (else anyone holding the bearer token could
    /// strip the signature and change eventType, nonce or timestamp), and ECB without a
    /// signature would leave `data` unauthenticated.
    pub allow_unsigned: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "signature_key",
                &self.signature_key.as_ref().map(|_| "[redacted]"),
            )
            .field("bearer_token", &"[redacted]")
            .field("encryption", &self.encryption)
            .field("allow_unsigned", &self.allow_unsigned)
            .finish()
    }
}

/// Every field optional so that a missing one gets our message, not serde's.
#[derive(Deserialize)]
struct SecretJson {
    bearer_token: Option<String>,
    signature_key: Option<String>,
    encryption_key: Option<String>,
    encryption_mode: Option<String>,
    allow_unsigned: Option<bool>,
}

/// An empty string counts as absent: secret templates often carry empty placeholders.
fn present(value: Option<String>) -> Option<Zeroizing<String>> {
    value.filter(|v| !v.is_empty()).map(Zeroizing::new)
}

impl Config {
    /// Parses the Secrets Manager secret of a OneAccess application:
    ///
    /// ```json
    /// {
    ///   "bearer_token": "<security token from the console>",
    ///   "signature_key": "<signature key; may be absent only when allow_unsigned is true>",
    ///   "encryption_key": "<16, 24 or 32 ASCII characters; absent when encryption is off>",
    ///   "encryption_mode": "gcm",
    ///   "allow_unsigned": false
    /// }
    /// ```
    ///
    /// `encryption_mode` is `"gcm"` (the default) or `"ecb"`, and only read when
    /// `encryption_key` is set. `allow_unsigned: true` is refused together with a
    /// `signature_key` (it would let the signature be stripped) and with ECB (nothing would
    /// authenticate `data`). Other fields are ignored. Errors never quote secret values.
    pub fn from_secret_json(text: &str) -> Result<Self, OneAccessError> {
        let bad = |reason: String| OneAccessError::BadSecret(reason);
        let raw: SecretJson = serde_json::from_str(text).map_err(|err| {
            // serde's message can quote a value; position and category cannot.
            bad(format!(
                "not a JSON object of strings and a boolean ({:?} error at line {} column {})",
                err.classify(),
                err.line(),
                err.column()
            ))
        })?;
        let bearer_token = present(raw.bearer_token).ok_or_else(|| {
            bad("bearer_token is missing or empty; copy the console's security token".into())
        })?;
        let allow_unsigned = raw.allow_unsigned.unwrap_or(false);
        let signature_key = present(raw.signature_key);
        match (&signature_key, allow_unsigned) {
            (None, false) => {
                return Err(bad(
                    "signature_key is missing; copy the console's signature key, or set \
                     allow_unsigned to true if signing is off"
                        .into(),
                ))
            }
            (Some(_), true) => {
                return Err(bad(
                    "allow_unsigned is true but a signature_key is set: anyone holding the \
                     bearer token could then strip the signature; set allow_unsigned to false \
                     (signing on), or remove signature_key (signing off in the console)"
                        .into(),
                ))
            }
            _ => {}
        }
        let encryption = match present(raw.encryption_key) {
            None => None,
            Some(key) => {
                let mode = match raw.encryption_mode.as_deref().map(str::to_ascii_lowercase) {
                    None => CipherMode::Gcm,
                    Some(mode) if mode == "gcm" => CipherMode::Gcm,
                    Some(mode) if mode == "ecb" => CipherMode::Ecb,
                    Some(_) => {
                        return Err(bad("encryption_mode must be \"gcm\" or \"ecb\"".into()))
                    }
                };
                if allow_unsigned && mode == CipherMode::Ecb {
                    return Err(bad(
                        "allow_unsigned with encryption_mode \"ecb\": ECB does not authenticate \
                         data, so without a signature nothing would; turn signing on, or use gcm"
                            .into(),
                    ));
                }
                Some(Encryption::new(&key, mode)?)
            }
        };
        Ok(Self {
            signature_key,
            bearer_token,
            encryption,
            allow_unsigned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::RejectKind;

    #[test]
    fn reads_the_documented_shape() {
        let config = Config::from_secret_json(
            r#"{"bearer_token":"tok","signature_key":"sig","encryption_key":"0123456789abcdef","encryption_mode":"ECB","allow_unsigned":false,"note":"x"}"#,
        )
        .unwrap();
        assert_eq!(config.bearer_token.as_str(), "tok");
        assert_eq!(
            config.signature_key.as_deref().map(String::as_str),
            Some("sig")
        );
        let encryption = config.encryption.unwrap();
        assert_eq!(
            (encryption.key.as_str(), encryption.mode),
            ("0123456789abcdef", CipherMode::Ecb)
        );
        assert!(!config.allow_unsigned);
    }

    #[test]
    fn defaults_to_gcm_and_treats_empty_as_absent() {
        let config = Config::from_secret_json(
            r#"{"bearer_token":"tok","signature_key":"sig","encryption_key":"0123456789abcdef"}"#,
        )
        .unwrap();
        assert_eq!(config.encryption.unwrap().mode, CipherMode::Gcm);
        let config = Config::from_secret_json(
            r#"{"bearer_token":"tok","signature_key":"","encryption_key":"","allow_unsigned":true}"#,
        )
        .unwrap();
        assert!(
            config.signature_key.is_none() && config.encryption.is_none() && config.allow_unsigned
        );
    }

    #[test]
    fn refuses_incomplete_or_wrong_secrets_without_quoting_them() {
        for text in [
            r#"{"signature_key":"sig"}"#,
            r#"{"bearer_token":"","signature_key":"sig"}"#,
            r#"{"bearer_token":"tok"}"#,
            r#"{"bearer_token":"tok","signature_key":"sig","encryption_key":"too-short"}"#,
            r#"{"bearer_token":"tok","signature_key":"sig","encryption_key":"0123456789abcdef","encryption_mode":"cbc"}"#,
            r#"{"bearer_token":"tok","signature_key":"sig","allow_unsigned":"secret-value"}"#,
            r#"{"bearer_token":"secret-value" "#,
            "[]",
        ] {
            match Config::from_secret_json(text) {
                Ok(config) => panic!("{text} gave {config:?}"),
                Err(err) => {
                    assert_eq!(err.kind(), RejectKind::NoUsableKey, "{err}");
                    assert!(!err.to_string().contains("secret-value"), "{err}");
                }
            }
        }
    }

    #[test]
    fn refuses_allow_unsigned_with_a_signature_key_or_ecb() {
        for (text, says) in [
            (
                r#"{"bearer_token":"tok","signature_key":"sig","allow_unsigned":true}"#,
                "strip the signature",
            ),
            (
                r#"{"bearer_token":"tok","signature_key":"sig","encryption_key":"0123456789abcdef","allow_unsigned":true}"#,
                "strip the signature",
            ),
            (
                r#"{"bearer_token":"tok","encryption_key":"0123456789abcdef","encryption_mode":"ecb","allow_unsigned":true}"#,
                "ECB does not authenticate",
            ),
        ] {
            let err = Config::from_secret_json(text).unwrap_err();
            assert_eq!(err.kind(), RejectKind::NoUsableKey, "{err}");
            assert!(err.to_string().contains(says), "{text}: {err}");
            assert!(!err.to_string().contains("sig\""), "{err}");
        }
        // Signing off with GCM or no encryption stays possible; ECB with a signature too.
        for text in [
            r#"{"bearer_token":"tok","encryption_key":"0123456789abcdef","allow_unsigned":true}"#,
            r#"{"bearer_token":"tok","allow_unsigned":true}"#,
            r#"{"bearer_token":"tok","signature_key":"sig","encryption_key":"0123456789abcdef","encryption_mode":"ecb"}"#,
        ] {
            assert!(Config::from_secret_json(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let config = Config::from_secret_json(
            r#"{"bearer_token":"tok-123","signature_key":"sig-456","encryption_key":"0123456789abcdef"}"#,
        )
        .unwrap();
        let shown = format!("{config:?}");
        for secret in ["tok-123", "sig-456", "0123456789abcdef"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
