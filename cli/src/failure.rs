//! How a command fails: one line on stderr and an exit status scripts can branch on.

use std::process::ExitCode;

use hookwarden_verify::reject::RejectKind;

/// Why a command did not succeed. The message is printed as the single stderr line, so it
/// says what was wrong and what to do, and never quotes a secret, signature or body.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The input was read and checked, and it is not authentic: wrong signature, wrong
    /// bearer token, outside the replay window; or, for `send`, the server answered 4xx.
    #[error("{0}")]
    Rejected(String),
    /// The command could not do its job: bad usage, an unreadable or malformed file, a key
    /// that does not parse, a server that cannot be reached or answered other than 2xx/4xx.
    #[error("{0}")]
    Input(String),
    /// The command ran and part of its work is not done (`replay`: entries the bus did not
    /// take); running it again does the rest.
    #[error("{0}")]
    Unfinished(String),
}

impl Failure {
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    /// A protocol error from `hookwarden-verify`: forged and stale requests are rejections
    /// (exit 1); malformed requests and unusable keys are bad input (exit 2).
    pub fn from_verify(kind: RejectKind, error: impl std::fmt::Display) -> Self {
        match kind {
            RejectKind::Forged | RejectKind::Stale => Self::Rejected(format!("rejected: {error}")),
            RejectKind::Malformed | RejectKind::NoUsableKey => Self::Input(error.to_string()),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Rejected(_) => ExitCode::from(1),
            Self::Input(_) => ExitCode::from(2),
            Self::Unfinished(_) => ExitCode::from(3),
        }
    }
}
