//! `hookwarden sign`: produce what a provider would send for a body, with your keys.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use hookwarden_verify::oneaccess::{self, Config};
use hookwarden_verify::{knox, scalefusion};

use crate::failure::Failure;
use crate::test_keys;
use crate::{files, ids};

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
        /// The dashboard's Secret Key.
        #[arg(long)]
        secret: String,
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

/// A OneAccess application's signing and encryption settings, as in its console.
#[derive(Debug, Args)]
pub struct OneAccessKeys {
    /// The signature key ("signatureSaltValue").
    #[arg(long)]
    pub signature_key: String,
    /// The encryption key (16, 24 or 32 ASCII characters); omit when encryption is off.
    #[arg(long)]
    pub encryption_key: Option<String>,
    /// The console's encryption algorithm; only read with --encryption-key.
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
        let secret = serde_json::json!({
            "bearer_token": bearer_token,
            "signature_key": self.signature_key,
            "encryption_key": self.encryption_key,
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
        Command::Scalefusion { secret, body } => {
            scalefusion::sign(secret.as_bytes(), &files::read_bytes(&body, "body file")?)
        }
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
