//! hookwarden-verify's integration tests, in one binary (one link step):
//! - `knox_verify`, `knox_proptest`: Knox `X-WSM-SIGNATURE` verification, by example and over
//!   arbitrary tampering;
//! - `knox_java`, `jackson_oracle`: differential tests against Samsung's reference steps and
//!   Jackson on the machine's JDK;
//! - `oneaccess_verify`, `oneaccess_proptest`, `oneaccess_python`: OneAccess callbacks through
//!   the public API, against an attacker without the keys, and against Python's
//!   `cryptography`;
//! - `scalefusion_verify`: Scalefusion signatures against Python's `hmac`;
//! - `hostile_input`: every parser a request reaches before it is authenticated, bounded in
//!   time and memory. Its counting allocator is the global allocator of this whole binary; it
//!   counts per thread, so the other suites running beside it do not move its figures.
//!
//! `support` holds the Knox test anchors.

mod support;

mod hostile_input;
mod jackson_oracle;
mod knox_java;
mod knox_proptest;
mod knox_verify;
mod oneaccess_proptest;
mod oneaccess_python;
mod oneaccess_verify;
mod scalefusion_verify;
