//! The TEST-ONLY keys published under `events/test-keys/`, and reading key material in
//! general. They are compiled in so that `serve` and `send` work from any directory without
//! an AWS account. Never use them in production: anyone can sign with them.

use std::path::Path;

use hookwarden_pipeline::ports::SecretValue;
use hookwarden_pipeline::providers::scalefusion::SECRET_FIELD;
use hookwarden_pipeline::secrets::json_field;
use hookwarden_verify::oneaccess::Config;
use hookwarden_verify::rsa::RsaSigningKey;
use hookwarden_verify::x509::KnoxCertificate;

use crate::failure::Failure;
use crate::files;

pub const KNOX_KEY_FILE: &str = "knox-test-key.pem";
pub const KNOX_CERT_FILE: &str = "knox-test-cert.pem";
pub const SCALEFUSION_SECRET_FILE: &str = "scalefusion-secret.json";
pub const ONEACCESS_ENCRYPTED_FILE: &str = "oneaccess-encrypted.json";
pub const ONEACCESS_PLAIN_FILE: &str = "oneaccess-plain.json";

/// The Knox subscriptions of the samples under `events/knox/`: what `hookwarden serve` lists
/// while it verifies with the embedded test certificate.
pub fn sample_knox_subscriptions() -> Vec<String> {
    (123_456_789_123_u64..=123_456_789_147)
        .map(|id| id.to_string())
        .collect()
}

pub const KNOX_KEY_PEM: &str = include_str!("../../events/test-keys/knox-test-key.pem");
pub const KNOX_CERT_PEM: &str = include_str!("../../events/test-keys/knox-test-cert.pem");
pub const SCALEFUSION_SECRET_JSON: &str =
    include_str!("../../events/test-keys/scalefusion-secret.json");
pub const ONEACCESS_ENCRYPTED_JSON: &str =
    include_str!("../../events/test-keys/oneaccess-encrypted.json");
pub const ONEACCESS_PLAIN_JSON: &str = include_str!("../../events/test-keys/oneaccess-plain.json");

/// Everything needed to sign a sample of each provider.
pub struct TestKeys {
    pub knox_key: RsaSigningKey,
    pub knox_certificate: KnoxCertificate,
    pub scalefusion_secret: String,
    /// AES-GCM encryption on.
    pub oneaccess_encrypted: Config,
    /// Encryption off.
    pub oneaccess_plain: Config,
}

impl TestKeys {
    /// The keys compiled into this binary.
    pub fn embedded() -> Result<Self, Failure> {
        Ok(Self {
            knox_key: knox_key(KNOX_KEY_PEM, "the embedded Knox test key")?,
            knox_certificate: knox_certificate(
                KNOX_CERT_PEM.as_bytes(),
                "the embedded Knox test certificate",
            )?,
            scalefusion_secret: scalefusion_secret(
                SCALEFUSION_SECRET_JSON,
                "the embedded Scalefusion test secret",
            )?,
            oneaccess_encrypted: oneaccess_config(
                ONEACCESS_ENCRYPTED_JSON,
                "the embedded OneAccess test config",
            )?,
            oneaccess_plain: oneaccess_config(
                ONEACCESS_PLAIN_JSON,
                "the embedded OneAccess test config",
            )?,
        })
    }

    /// The keys in a directory laid out like `events/test-keys/`.
    pub fn from_dir(dir: &Path) -> Result<Self, Failure> {
        let text = |name: &str| {
            let path = dir.join(name);
            files::read_text(&path, "test key file").map(|text| (text, path.display().to_string()))
        };
        let (key, key_path) = text(KNOX_KEY_FILE)?;
        let (cert, cert_path) = text(KNOX_CERT_FILE)?;
        let (scalefusion, scalefusion_path) = text(SCALEFUSION_SECRET_FILE)?;
        let (encrypted, encrypted_path) = text(ONEACCESS_ENCRYPTED_FILE)?;
        let (plain, plain_path) = text(ONEACCESS_PLAIN_FILE)?;
        Ok(Self {
            knox_key: knox_key(&key, &key_path)?,
            knox_certificate: knox_certificate(cert.as_bytes(), &cert_path)?,
            scalefusion_secret: scalefusion_secret(&scalefusion, &scalefusion_path)?,
            oneaccess_encrypted: oneaccess_config(&encrypted, &encrypted_path)?,
            oneaccess_plain: oneaccess_config(&plain, &plain_path)?,
        })
    }
}

/// A PKCS#8 RSA private key; `what` names it in the error.
pub fn knox_key(pem: &str, what: &str) -> Result<RsaSigningKey, Failure> {
    RsaSigningKey::from_pkcs8_pem(pem).map_err(|err| {
        Failure::input(format!(
            "{what}: {err} (`hookwarden keys knox --out DIR` writes one)"
        ))
    })
}

/// A Knox validation certificate, PEM or DER.
pub fn knox_certificate(bytes: &[u8], what: &str) -> Result<KnoxCertificate, Failure> {
    KnoxCertificate::parse(bytes).map_err(|err| Failure::input(format!("{what}: {err}")))
}

/// The Secret Key in a Scalefusion secret JSON (`{"secret_key": "..."}`), read the way the
/// Lambda function reads it.
pub fn scalefusion_secret(json: &str, what: &str) -> Result<String, Failure> {
    let value = SecretValue::new(json, what);
    json_field(&value, SECRET_FIELD)
        .map(|key| key.to_string())
        .map_err(Failure::input)
}

/// A OneAccess secret JSON (`{"bearer_token", "signature_key", "encryption_key", ...}`).
pub fn oneaccess_config(json: &str, what: &str) -> Result<Config, Failure> {
    Config::from_secret_json(json).map_err(|err| Failure::input(format!("{what}: {err}")))
}
