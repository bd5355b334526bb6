//! How a rejected callback is answered, shared by every provider so the pipeline maps errors to
//! HTTP statuses in one place.

/// Why a callback was refused. Every provider's error enum has `fn kind(&self) -> RejectKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// The request cannot be a provider callback at all (missing or unparsable header, body
    /// that is not the JSON the provider sends). HTTP 400.
    Malformed,
    /// Well-formed, but the signature does not prove the provider sent this body. HTTP 401.
    Forged,
    /// We hold no key material able to judge the request (no anchor, or every anchor expired or
    /// not yet valid). Our fault, not the sender's: HTTP 503 so the provider retries.
    NoUsableKey,
    /// Authentic but outside the replay window. HTTP 401.
    Stale,
}
