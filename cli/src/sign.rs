//! `hookwarden sign`: produce what a provider would send for a body, with your keys.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::{knox, scalefusion};

use crate::failure::Failure;
use crate::secret_arg::Sources;
use crate::test_keys;
use crate::{files, ids};

/// Environment variables the secret flags fall back to.
pub const SCALEFUSION_SECRET_ENV: &str = "HOOKWARDEN_SCALEFUSION_SECRET";
pub const SIGNATURE_KEY_ENV: &str = "HOOKWARDEN_ONEACCESS_SIGNATURE_KEY";
pub const ENCRYPTION_KEY_ENV: &str = "HOOKWARDEN_ONEACCESS_ENCRYPTION_KEY";
pub const BEARER_TOKEN_ENV: &str = "HOOKWARDEN_ONEACCESS_BEARER_TOKEN";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the X-WSM-SIGNATURE value Samsung Knox would send with the body.
    Knox {
        /// RSA private key, PKCS#8 PEM (`hookwarden keys knox` writes a test one).
        #[arg(long, value_name = "KEY.pem")]
        key: PathBuf,
        /// The request body, signed byte for byte as read.
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
    },
    /// Print the X-SF-Signature value Scalefusion would send with the body (lowercase hex).
    Scalefusion {
        #[command(flatten)]
        secret: ScalefusionSecret,
        /// The request body, signed byte for byte as read.
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
    },
    /// Print a complete OneAccess callback body for a message.
    ///
    /// The body has a fresh 16-letter nonce, the current time in epoch milliseconds, `data` encrypted when --encryption-key is given,
    /// and the signature. Send it with `Authorization: Bearer <security token>`.
    Oneaccess {
        #[command(flatten)]
        keys: OneAccessKeys,
        /// eventType, e.g. CHECK_URL, CREATE_USER.
        #[arg(long)]
        event_type: String,
        /// The message (`msg`): the event's JSON, or CHECK_URL's random string. UTF-8.
        #[arg(long, value_name = "FILE")]
        msg: PathBuf,
    },
}

/// The Scalefusion dashboard's Secret Key, from a file, the environment or (test keys only)
/// the command line.
#[derive(Debug, Args)]
pub struct ScalefusionSecret {
    /// The Scalefusion dashboard's Secret Key (`send`: instead of the embedded test one).
    /// Other users can read command-line arguments: for test keys only; otherwise use
    /// --secret-file or HOOKWARDEN_SCALEFUSION_SECRET.
    #[arg(long, conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// A file holding the Secret Key (a final line break is ignored).
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
}

impl ScalefusionSecret {
    fn sources(&self) -> Sources<'_> {
        Sources {
            flag: "secret",
            value: self.secret.as_deref(),
            file: self.secret_file.as_deref(),
            env: Some(SCALEFUSION_SECRET_ENV),
        }
    }

    /// The Secret Key: --secret, --secret-file or HOOKWARDEN_SCALEFUSION_SECRET.
    pub fn required(&self) -> Result<String, Failure> {
        self.sources().required()
    }

    /// The Secret Key if one was given any way.
    pub fn optional(&self) -> Result<Option<String>, Failure> {
        self.sources().optional()
    }

    pub fn flag_given(&self) -> bool {
        self.secret.is_some() || self.secret_file.is_some()
    }
}

/// A OneAccess application's signing and encryption settings, as in its console. Each key
/// comes from its flag (test keys only: other users can read command-line arguments), its
/// `-file` flag, or its environment variable.
#[derive(Debug, Args)]
pub struct OneAccessKeys {
    /// The signature key ("signatureSaltValue"); for test keys only, otherwise use
    /// --signature-key-file or HOOKWARDEN_ONEACCESS_SIGNATURE_KEY.
    #[arg(long, conflicts_with = "signature_key_file")]
    pub signature_key: Option<String>,
    /// A file holding the signature key (a final line break is ignored).
    #[arg(long, value_name = "PATH")]
    pub signature_key_file: Option<PathBuf>,
    /// The encryption key (16, 24 or 32 ASCII characters); omit when encryption is off. For
    /// test keys only, otherwise use --encryption-key-file or
    /// HOOKWARDEN_ONEACCESS_ENCRYPTION_KEY.
    #[arg(long, conflicts_with = "encryption_key_file")]
    pub encryption_key: Option<String>,
    /// A file holding the encryption key (a final line break is ignored).
    #[arg(long, value_name = "PATH")]
    pub encryption_key_file: Option<PathBuf>,
    /// The console's encryption algorithm; only read with an encryption key.
    #[arg(long, value_enum, default_value_t = Mode::Gcm)]
    pub encryption_mode: Mode,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// AES/GCM/NoPadding.
    Gcm,
    /// AES/ECB/PKCS5Padding.
    Ecb,
}

impl OneAccessKeys {
    /// The config these settings describe, built through the secret parser so that it
    /// applies the same checks (key lengths) as the Lambda function.
    pub fn config(&self, bearer_token: &str) -> Result<Config, Failure> {
        let signature_key = Sources {
            flag: "signature-key",
            value: self.signature_key.as_deref(),
            file: self.signature_key_file.as_deref(),
            env: Some(SIGNATURE_KEY_ENV),
        }
        .required()?;
        let encryption_key = Sources {
            flag: "encryption-key",
            value: self.encryption_key.as_deref(),
            file: self.encryption_key_file.as_deref(),
            env: Some(ENCRYPTION_KEY_ENV),
        }
        .optional()?;
        let secret = serde_json::json!({
            "bearer_token": bearer_token,
            "signature_key": signature_key,
            "encryption_key": encryption_key,
            "encryption_mode": match self.encryption_mode { Mode::Gcm => "gcm", Mode::Ecb => "ecb" },
        });
        test_keys::oneaccess_config(&secret.to_string(), "OneAccess settings")
    }
}

/// `build_request` puts no token in the body; the config only needs one to be complete.
const BODY_ONLY_TOKEN: &str = "unused-by-the-body";

pub fn run(command: Command) -> Result<(), Failure> {
    let output = match command {
        Command::Knox { key, body } => {
            let key = test_keys::knox_key(
                &files::read_text(&key, "key file")?,
                &key.display().to_string(),
            )?;
            let body = files::read_bytes(&body, "body file")?;
            knox::sign(&body, &key).map_err(|err| Failure::from_verify(err.kind(), err))?
        }
        Command::Scalefusion { secret, body } => scalefusion::sign(
            secret.required()?.as_bytes(),
            &files::read_bytes(&body, "body file")?,
        ),
        Command::Oneaccess {
            keys,
            event_type,
            msg,
        } => {
            let config = keys.config(BODY_ONLY_TOKEN)?;
            let msg = files::read_text(&msg, "msg file")?;
            oneaccess_request(
                &event_type,
                &msg,
                &config,
                &ids::letters(&ids::random(), 16),
                now_ms(),
            )?
        }
    };
    println!("{output}");
    Ok(())
}

/// A OneAccess callback body, as `sign oneaccess`, `send` and the samples build it.
pub fn oneaccess_request(
    event_type: &str,
    msg: &str,
    config: &Config,
    nonce: &str,
    timestamp_ms: i64,
) -> Result<String, Failure> {
    oneaccess::build_request(event_type, msg, config, nonce, timestamp_ms)
        .map_err(|err| Failure::input(format!("cannot build the OneAccess request: {err}")))
}

/// Now, in epoch milliseconds: OneAccess's timestamp unit.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000)
        .expect("epoch milliseconds fit in i64 until the year 292 million")
}
