//! `knox-webhook`'s integration tests, in one binary (one link step), each running the built
//! function as Lambda runs it (polling a Runtime API on loopback) against moto:
//! - `lambda`: samples, forgeries, identity, certificates (stored, downloaded, pinned,
//!   rotated), the largest body;
//! - `tenants`: tenants with their own subscriptions and certificates;
//! - `function_url`: what only a function URL event can carry, and hostile events straight
//!   into the entrypoint;
//! - `faults`: AWS failing, hanging or refusing at each step that reaches it;
//! - `load`: 10,000 deliveries through 32 function processes (`scripts/load.sh` runs it
//!   alone and shows its figures);
//! - `chaos`, `scale`: the simulations, exactly-once under faults and SIGKILL, and a burst
//!   against scaled AWS quotas. `scripts/test.sh` skips them in the workspace run and runs them
//!   by name, with their output shown.
//!
//! The suites run as threads of this one process. The ones that saturate both cores (`load`,
//! `chaos`, `scale`) hold [`support::MACHINE`] exclusively, every other test that starts
//! function processes holds it shared: no timing measures another test's load.

mod support;

mod chaos;
mod faults;
mod function_url;
mod lambda;
mod load;
mod scale;
mod tenants;
