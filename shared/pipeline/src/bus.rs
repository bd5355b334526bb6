//! The EventBridge entry of a stored envelope: one function decides Source, DetailType and
//! detail, so the first publish and any later republish of the same envelope (a replay
//! tool reading it back from S3) put the same entry on the bus.
//!
//! - `Source` is `hookwarden.<provider>` for the function's own events and
//!   `hookwarden.<provider>.tenant` for a tenant's ([`source`]): a rule written for the
//!   operator's own events (`"source": ["hookwarden.knox"]`) never receives a tenant's.
//! - `DetailType` is the event type as EventBridge accepts it ([`bus_detail_type`]).
//! - `detail` is the envelope, with `stored_at` naming the S3 object when the body is
//!   stored; an envelope too large for one entry travels without its body (claim check).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::envelope::{
    bus_detail_type, eventbridge_entry_size, StoredAt, EVENTBRIDGE_MAX_ENTRY_BYTES,
};
use crate::ports::BusEntry;

/// What the bus carries for one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusPayload {
    /// The whole envelope fits in the entry.
    Inline(BusEntry),
    /// Too large: the entry points at the envelope (`stored_at`), which must be stored at
    /// that key before the entry is published.
    ByPointer(BusEntry),
}

/// The envelope fields the entry's Source and DetailType come from.
#[derive(Deserialize)]
struct Routing {
    provider: String,
    #[serde(default)]
    tenant: Option<String>,
    event_type: String,
}

/// Envelope fields a pointer leaves out; readers follow `stored_at` for them.
const BODY_FIELDS: [&str; 3] = ["body", "body_base64", "message"];

/// The `Source` of a provider's events: `hookwarden.<provider>`, or
/// `hookwarden.<provider>.tenant` when they came for a tenant.
pub fn source(provider: &str, for_tenant: bool) -> String {
    match for_tenant {
        true => format!("hookwarden.{provider}.tenant"),
        false => format!("hookwarden.{provider}"),
    }
}

/// The bus entry for `envelope` (the stored JSON). `stored_at` is where that envelope is or
/// would be stored; `body_is_stored` says whether the S3 sink keeps it there (then the detail
/// names it even when the body fits inline).
pub fn bus_entry(
    envelope: &[u8],
    stored_at: StoredAt<'_>,
    body_is_stored: bool,
) -> Result<BusPayload, serde_json::Error> {
    let routing: Routing = serde_json::from_slice(envelope)?;
    let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(envelope)?;
    let source = source(&routing.provider, routing.tenant.is_some());
    let detail_type = bus_detail_type(&routing.event_type).to_string();
    let pointer = serde_json::value::to_raw_value(&stored_at)?;
    fields.remove("stored_at");
    if body_is_stored {
        fields.insert("stored_at".into(), pointer.clone());
    }
    let detail = serde_json::to_string(&fields)?;
    if eventbridge_entry_size(&source, &detail_type, &detail) <= EVENTBRIDGE_MAX_ENTRY_BYTES {
        return Ok(BusPayload::Inline(BusEntry {
            source,
            detail_type,
            detail,
        }));
    }
    for field in BODY_FIELDS {
        fields.remove(field);
    }
    fields.insert("stored_at".into(), pointer);
    Ok(BusPayload::ByPointer(BusEntry {
        source,
        detail_type,
        detail: serde_json::to_string(&fields)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: StoredAt<'static> = StoredAt {
        bucket: "b",
        key: "knox/ab/abc.json",
    };

    /// An envelope as stored, `body` embedded verbatim.
    fn envelope(tenant: Option<&str>, body: &str) -> Vec<u8> {
        let tenant = tenant
            .map(|t| format!(",\"tenant\":\"{t}\""))
            .unwrap_or_default();
        format!(
            "{{\"id\":\"abc\",\"provider\":\"knox\"{tenant},\"event_type\":\" KG_DEVICE_LOCKED \",\"body\":{body}}}"
        )
        .into_bytes()
    }

    fn inline(payload: BusPayload) -> BusEntry {
        match payload {
            BusPayload::Inline(entry) => entry,
            other => panic!("expected inline, got {other:?}"),
        }
    }

    #[test]
    fn a_tenants_event_has_its_own_source() {
        let own = inline(bus_entry(&envelope(None, "{}"), AT, false).unwrap());
        let tenant = inline(bus_entry(&envelope(Some("acme"), "{}"), AT, false).unwrap());
        assert_eq!(own.source, "hookwarden.knox");
        assert_eq!(tenant.source, "hookwarden.knox.tenant");
        assert_eq!(own.detail_type, "KG_DEVICE_LOCKED");
        let detail: serde_json::Value = serde_json::from_str(&tenant.detail).unwrap();
        assert_eq!(detail["tenant"], "acme");
        assert!(detail.get("stored_at").is_none());
    }

    #[test]
    fn the_body_is_kept_byte_for_byte_and_the_pointer_named_when_stored() {
        let entry = inline(bus_entry(&envelope(None, "{\"n\":1.10}"), AT, true).unwrap());
        assert!(entry.detail.contains("\"n\":1.10"), "{}", entry.detail);
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["stored_at"]["key"], AT.key);
    }

    #[test]
    fn an_oversize_envelope_travels_by_pointer() {
        let big = format!(
            "{{\"pad\":\"{}\"}}",
            "x".repeat(EVENTBRIDGE_MAX_ENTRY_BYTES)
        );
        let BusPayload::ByPointer(entry) = bus_entry(&envelope(None, &big), AT, false).unwrap()
        else {
            panic!("expected a pointer")
        };
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert!(detail.get("body").is_none());
        assert_eq!(detail["stored_at"]["bucket"], "b");
        assert_eq!(detail["id"], "abc");
    }
}
