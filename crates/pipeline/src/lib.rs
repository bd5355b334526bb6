//! The request pipeline every hookwarden entrypoint shares: route → admit → verify →
//! identify → deliver → reply. It talks to the outside world only through the ports in [`ports`]; the
//! Lambda functions plug in AWS adapters (`hookwarden-aws`), `hookwarden serve` and the tests
//! plug in [`local`] ones.

#![forbid(unsafe_code)]

pub mod bus_event;
pub mod certificate;
pub mod clock;
pub mod delivery;
pub mod envelope;
pub mod ids;
pub mod local;
pub mod outcome;
pub mod ports;
pub mod providers;
pub mod quarantine;
pub mod request;
pub mod request_log;
pub mod secrets;
pub mod silence;
pub mod tenants;

pub use providers::knox::KnoxHandler;
pub use providers::oneaccess::OneAccessHandler;
pub use providers::scalefusion::ScalefusionHandler;
pub use providers::{HandlerContext, Provider};
pub use request::{Handler, Inbound, Reply};
