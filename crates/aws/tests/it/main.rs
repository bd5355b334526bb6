//! hookwarden-aws's integration tests, in one binary (one link step):
//! - `s3_store`, `secrets_manager`, `eventbridge`, `tenant_secrets`: the adapters against
//!   moto's server (and a stub for what moto never sends);
//! - `knox_api`: the Knox certificate API client against a stub API on loopback;
//! - `lambda_inbound`, `lambda_entrypoint`, `tenant_paths`: function URL events to the
//!   pipeline, and the entrypoint under the Runtime API harness.
//!
//! `tests/tls.rs` is a binary of its own: it sets `SSL_CERT_FILE` for its whole process.
//!
//! `support` holds the functions' AWS clients pointed at a test endpoint.

mod support;

mod eventbridge;
mod knox_api;
mod lambda_entrypoint;
mod lambda_inbound;
mod s3_store;
mod secrets_manager;
mod tenant_paths;
mod tenant_secrets;
