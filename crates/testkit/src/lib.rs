//! Harnesses for hookwarden's tests: real servers on loopback, no hand-made fakes.
//!
//! - [`moto`]: moto's AWS server (S3, Secrets Manager, EventBridge, SQS) as a child process.
//! - [`runtime_api`]: the Lambda Runtime API, to run a built function binary as Lambda would.
//! - [`deployment`]: a built function under the Runtime API against moto.
//! - [`emf`]: log lines read as CloudWatch reads Embedded Metric Format.
//! - [`samples`]: the committed sample events and test keys.
//! - [`proxy`]: a counting, fault- and delay-injecting keep-alive proxy in front of moto,
//!   over plain HTTP and, with a test CA ([`tls`]), HTTPS.
//! - [`http_stub`]: an HTTP server answering from a closure and recording what it received.
//! - [`load`]: the load tests' delivery order and percentiles.
//! - [`history`]: checks on stored envelopes (one line, bytes as sent) and the DuckDB queries.
//! - [`log_audit`]: `scripts/log-audit.sh` on the logs a test collected.

#![forbid(unsafe_code)]

pub mod configuration_reference;
pub mod deployment;
pub mod emf;
pub mod history;
pub mod http_stub;
pub mod load;
pub mod log_audit;
pub mod moto;
pub mod proxy;
pub mod runtime_api;
pub mod samples;
mod serve;
pub mod tls;

/// A TCP port that was free a moment ago on 127.0.0.1, for servers that must be told their
/// port up front (moto).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}
