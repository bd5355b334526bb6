//! The `hookwarden` CLI's integration tests, in one binary (one link step), each running the
//! built `hookwarden` binary:
//! - `sign_verify`: keys → sign → verify for each provider, and the exit codes;
//! - `samples`: the sample events under `events/` verify and regenerate;
//! - `serve`, `tenants`: `hookwarden serve` and `send` over real HTTP, with and without
//!   tenants;
//! - `history`, `streams`: the stored history, its queries and replay, and which streams are
//!   silent;
//! - `load`: 10,000 deliveries through `hookwarden serve` (`scripts/load.sh` runs it alone
//!   and shows its figures).
//!
//! `support` runs the binary and starts `hookwarden serve`.

mod support;

mod history;
mod load;
mod samples;
mod serve;
mod sign_verify;
mod streams;
mod tenants;
