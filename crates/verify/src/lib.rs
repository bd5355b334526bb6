//! Verification of webhook callbacks from Samsung Knox (KWN), Scalefusion and Huawei OneAccess.
//!
//! Everything here is pure: bytes in, a verdict out. No I/O, no clock reads (callers pass
//! `now`), no async runtime, no AWS. The Lambda functions, the CLI and `hookwarden serve` all
//! build on these functions, so there is exactly one implementation of each protocol.

#![forbid(unsafe_code)]

pub mod encoding;
pub mod jackson;
pub mod knox;
pub mod oneaccess;
pub mod reject;
pub mod rsa;
pub mod scalefusion;
pub mod x509;
