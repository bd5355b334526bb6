//! hookwarden-pipeline's integration tests, in one binary (one link step), all over the local
//! adapters (a directory as the store, files as the bus) and the committed test keys:
//! - `handlers`: the three handlers end to end;
//! - `tenants`: several tenants behind one handler;
//! - `bad_input_matrix`: every rejection with its status, its one log line, and nothing
//!   written.
//!
//! `support` holds the rig they share.

mod support;

mod bad_input_matrix;
mod handlers;
mod tenants;
