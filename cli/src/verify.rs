//! `hookwarden verify`: check a body and its signature as the Lambda functions do.
//! Exit 0 verified, 1 rejected (not authentic or stale), 2 bad input.

use std::path::PathBuf;

use clap::Subcommand;
use hookwarden_verify::oneaccess::{self, DEFAULT_REPLAY_WINDOW_SECS};
use hookwarden_verify::{knox, scalefusion};
use sha2::Digest as _;

use crate::failure::Failure;
use crate::secret_arg::Sources;
use crate::sign::{now_ms, OneAccessKeys, ScalefusionSecret, BEARER_TOKEN_ENV};
use crate::{files, test_keys};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify an X-WSM-SIGNATURE against a body and the Knox validation certificate; prints
    /// the event and the certificate's SHA-256 fingerprint.
    Knox {
        /// The Samsung Knox validation certificate (or a test one), PEM or DER.
        #[arg(long, value_name = "CERT.pem")]
        cert: PathBuf,
        /// The X-WSM-SIGNATURE header value.
        #[arg(long, value_name = "SIG")]
        signature: String,
        /// The request body, byte for byte as received.
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
    },
    /// Verify an X-SF-Signature against a body; prints the event and its id.
    Scalefusion {
        #[command(flatten)]
        secret: ScalefusionSecret,
        /// The X-SF-Signature header value.
        #[arg(long, value_name = "SIG")]
        signature: String,
        /// The request body, byte for byte as received.
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
    },
    /// Verify a OneAccess callback body (signature, replay window, decryption); print a line
    /// naming the event and the MAC that matched, then the decrypted message.
    ///
    /// The check always includes the bearer token, so it is required (--bearer-token-file,
    /// HOOKWARDEN_ONEACCESS_BEARER_TOKEN or --bearer-token). A body file carries no header, so
    /// the request is taken to have carried `Authorization: Bearer <token>` unless
    /// --authorization(-file) gives the header it really carried.
    Oneaccess {
        #[command(flatten)]
        keys: OneAccessKeys,
        /// The security token configured in the OneAccess console; for test keys only,
        /// otherwise use --bearer-token-file or HOOKWARDEN_ONEACCESS_BEARER_TOKEN.
        #[arg(long, conflicts_with = "bearer_token_file")]
        bearer_token: Option<String>,
        /// A file holding the security token (a final line break is ignored).
        #[arg(long, value_name = "PATH")]
        bearer_token_file: Option<PathBuf>,
        /// The Authorization header the request carried, e.g. "Bearer abc"; it holds the
        /// token, so for test keys only, otherwise use --authorization-file.
        #[arg(long, value_name = "HEADER", conflicts_with = "authorization_file")]
        authorization: Option<String>,
        /// A file holding that Authorization header (a final line break is ignored).
        #[arg(long, value_name = "PATH")]
        authorization_file: Option<PathBuf>,
        /// How far the body's timestamp may be from now, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_REPLAY_WINDOW_SECS)]
        replay_window: u64,
        /// The request body, byte for byte as received.
        #[arg(long, value_name = "FILE")]
        body: PathBuf,
    },
}

pub fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Knox {
            cert,
            signature,
            body,
        } => {
            let certificate = test_keys::knox_certificate(
                &files::read_bytes(&cert, "certificate")?,
                &cert.display().to_string(),
            )?;
            let body = files::read_bytes(&body, "body file")?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let verified = knox::verify(&body, &signature, std::slice::from_ref(&certificate), now)
                .map_err(|err| Failure::from_verify(err.kind(), err))?;
            println!(
                "verified: event {}, certificate sha256 {}",
                verified.event.as_deref().unwrap_or("(none)"),
                verified.certificate_fingerprint
            );
        }
        Command::Scalefusion {
            secret,
            signature,
            body,
        } => {
            let secret = secret.required()?;
            let body = files::read_bytes(&body, "body file")?;
            scalefusion::verify(&body, &signature, &[secret.as_bytes()])
                .map_err(|err| Failure::from_verify(err.kind(), err))?;
            // The signature covers any bytes; the event name is only described when it is there.
            println!(
                "verified: event {}, content sha256 {}",
                scalefusion::event_type(&body)
                    .as_deref()
                    .unwrap_or("(none)"),
                hex::encode(sha2::Sha256::digest(&body))
            );
        }
        Command::Oneaccess {
            keys,
            bearer_token,
            bearer_token_file,
            authorization,
            authorization_file,
            replay_window,
            body,
        } => {
            let bearer_token = Sources {
                flag: "bearer-token",
                value: bearer_token.as_deref(),
                file: bearer_token_file.as_deref(),
                env: Some(BEARER_TOKEN_ENV),
            }
            .required()?;
            let config = keys.config(&bearer_token)?;
            let authorization = Sources {
                flag: "authorization",
                value: authorization.as_deref(),
                file: authorization_file.as_deref(),
                env: None,
            }
            .optional()?
            .unwrap_or_else(|| format!("Bearer {bearer_token}"));
            let body = files::read_bytes(&body, "body file")?;
            let verified = oneaccess::verify(
                &body,
                Some(&authorization),
                &[config],
                now_ms(),
                replay_window,
            )
            .map_err(|err| Failure::from_verify(err.kind(), err))?;
            println!(
                "verified: event {}, signature {}",
                verified.event_type,
                verified.mac.map_or("none (unsigned)", |mac| mac.as_str())
            );
            println!("{}", verified.msg.as_str());
        }
    }
    Ok(())
}
