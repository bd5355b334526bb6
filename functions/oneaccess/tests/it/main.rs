//! `oneaccess-webhook`'s integration tests, in one binary (one link step), each running the
//! built function under the Runtime API against moto:
//! - `lambda`: the CHECK_URL handshake, user events with their passwords redacted, stale
//!   callbacks, the HMAC-SHA1 scheme;
//! - `tenants`: tenants onboarded live, each with its own callback settings.
//!
//! `support` names the function and its secret, and the clock the callbacks are signed at.

mod support;

mod lambda;
mod tenants;
