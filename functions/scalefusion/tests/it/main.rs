//! `scalefusion-webhook`'s integration tests, in one binary (one link step), each running the
//! built function under the Runtime API against moto:
//! - `lambda`: samples, secret rotation, forgeries, bodies of any shape, large events;
//! - `tenants`: tenants onboarded live, each with its own secret;
//! - `xray`: the invocation's trace header on every AWS request.
//!
//! `support` names the function and its secret.

mod support;

mod lambda;
mod tenants;
mod xray;
