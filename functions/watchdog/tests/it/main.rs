//! `silence-watchdog`'s integration tests, in one binary: `watchdog` runs the built function
//! under the Runtime API against moto. One suite with its own fixtures, so no support module.

mod watchdog;
