//! What goes on the bus for a stored envelope. [`crate::delivery::Delivery`] and
//! `hookwarden replay` both build their entries here, so a replay publishes exactly what the
//! function would: the same Source, DetailType and detail, and the same claim check when the
//! detail is too large for the bus.
//!
//! `Source` is `hookwarden.<provider>` for the function's own events and
//! `hookwarden.<provider>.tenant` for a tenant's ([`bus_source`]): a rule written for the
//! operator's own events (`"source": ["hookwarden.knox"]`) never receives a tenant's.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ports::BusEntry;

/// EventBridge's PutEvents entry limit.
pub const EVENTBRIDGE_MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// The envelope fields a bus event pointing at the stored object leaves out.
const BODY_FIELDS: [&str; 4] = ["body", "body_verbatim_base64", "body_base64", "message"];

/// A stored envelope as its fields, in order, each value exactly as stored: re-serializing
/// through `serde_json::Value` would sort the keys and could rewrite numbers in the body.
#[derive(Debug, Clone)]
pub struct EnvelopeFields(Vec<(String, Box<RawValue>)>);

/// Why a stored object cannot go on the bus.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a JSON object: {0}")]
    NotAnObject(serde_json::Error),
    #[error("the envelope has no string field {0:?}")]
    MissingField(&'static str),
}

impl EnvelopeFields {
    pub fn parse(json: &[u8]) -> Result<Self, EnvelopeError> {
        serde_json::from_slice(json).map_err(EnvelopeError::NotAnObject)
    }

    /// The value of a string field (`id`, `provider`, `event_type`, `received_at`…).
    pub fn string(&self, name: &str) -> Option<String> {
        self.raw(name)
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }

    fn required(&self, name: &'static str) -> Result<String, EnvelopeError> {
        self.string(name).ok_or(EnvelopeError::MissingField(name))
    }

    fn raw(&self, name: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_ref())
    }

    /// Replaces the field's value where it is, or appends it.
    fn set(&mut self, name: &str, value: &impl Serialize) {
        let value = serde_json::value::to_raw_value(value).expect("plain data serializes");
        match self.0.iter_mut().find(|(field, _)| field == name) {
            Some((_, old)) => *old = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    fn remove(&mut self, names: &[&str]) {
        self.0.retain(|(field, _)| !names.contains(&field.as_str()));
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("raw values serialize")
    }
}

impl Serialize for EnvelopeFields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

impl<'de> Deserialize<'de> for EnvelopeFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = EnvelopeFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push(entry);
                }
                Ok(EnvelopeFields(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// Where an envelope is stored: the bucket (or directory) and key.
#[derive(Serialize, Clone, Copy)]
pub struct StoredAt<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
}

/// Marks a re-published event, so consumers can tell it from the first delivery.
#[derive(Serialize, Clone, Copy)]
pub struct Replay<'a> {
    pub name: &'a str,
    /// RFC 3339.
    pub at: &'a str,
}

/// One bus entry for an envelope.
#[derive(Debug, Clone)]
pub struct BusPlan {
    pub entry: BusEntry,
    /// The detail is a pointer to the stored envelope (claim check): the envelope must be
    /// stored at `stored_at` before the entry is published.
    pub by_pointer: bool,
}

/// The bus entry for `envelope`, stored (or to be stored, if it goes by pointer) at
/// `stored_at`. `stored`: the envelope is kept whatever the size (the S3 sink), so the detail
/// names where. `replay` marks a re-publication. A detail too large for the bus leaves the
/// body out and points at the stored envelope.
pub fn bus_entry(
    envelope: &EnvelopeFields,
    stored_at: StoredAt<'_>,
    stored: bool,
    replay: Option<Replay<'_>>,
) -> Result<BusPlan, EnvelopeError> {
    let source = bus_source(
        &envelope.required("provider")?,
        envelope.string("tenant").is_some(),
    );
    let detail_type = bus_detail_type(&envelope.required("event_type")?).to_string();
    let mut detail = envelope.clone();
    if stored {
        detail.set("stored_at", &stored_at);
    }
    if let Some(replay) = &replay {
        detail.set("replay", replay);
    }
    let mut text = detail.to_json();
    let by_pointer =
        eventbridge_entry_size(&source, &detail_type, &text) > EVENTBRIDGE_MAX_ENTRY_BYTES;
    if by_pointer {
        detail.remove(&BODY_FIELDS);
        detail.set("stored_at", &stored_at);
        if let Some(replay) = &replay {
            // After `stored_at`, where a replay of an inline event has it.
            detail.remove(&["replay"]);
            detail.set("replay", replay);
        }
        text = detail.to_json();
    }
    Ok(BusPlan {
        entry: BusEntry {
            source,
            detail_type,
            detail: text,
        },
        by_pointer,
    })
}

/// The bus Source of a provider's events: `hookwarden.<provider>`, or
/// `hookwarden.<provider>.tenant` when they came for a tenant.
pub fn bus_source(provider: &str, for_tenant: bool) -> String {
    match for_tenant {
        true => format!("hookwarden.{provider}.tenant"),
        false => format!("hookwarden.{provider}"),
    }
}

/// AWS's entry-size formula: 14 bytes for `Time`, plus the UTF-8 bytes of Source,
/// DetailType and Detail (no Resources are sent).
pub fn eventbridge_entry_size(source: &str, detail_type: &str, detail: &str) -> usize {
    14 + source.len() + detail_type.len() + detail.len()
}

/// EventBridge refuses a DetailType that is empty or over 128 characters; an entry it refuses
/// would fail on every retry, so such a type is published as `unknown` (the envelope keeps the
/// type as sent).
pub fn bus_detail_type(event_type: &str) -> &str {
    let trimmed = event_type.trim();
    match trimmed.chars().count() {
        1..=128 => trimmed,
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = r#"{"format":2,"id":"ab12","provider":"knox","event_type":" KG_DEVICE_LOCKED ","body":{"z":1.10,"a":[1e3]},"body_verbatim_base64":"eyB9"}"#;
    const AT: StoredAt<'static> = StoredAt {
        bucket: "b",
        key: "knox/ab/ab12.json",
    };

    #[test]
    fn detail_type_is_one_eventbridge_accepts() {
        assert_eq!(bus_detail_type(" device.locked "), "device.locked");
        assert_eq!(bus_detail_type(""), "unknown");
        assert_eq!(bus_detail_type("  "), "unknown");
        assert_eq!(bus_detail_type(&"é".repeat(128)), "é".repeat(128));
        assert_eq!(bus_detail_type(&"x".repeat(129)), "unknown");
    }

    #[test]
    fn entry_size_follows_aws_formula() {
        // Time (14) + "a" + "bb" + "ccc"
        assert_eq!(eventbridge_entry_size("a", "bb", "ccc"), 20);
        assert_eq!(eventbridge_entry_size("é", "", ""), 16);
    }

    #[test]
    fn the_detail_is_the_envelope_verbatim_plus_location_and_replay() {
        let fields = EnvelopeFields::parse(ENVELOPE.as_bytes()).unwrap();
        let plan = bus_entry(&fields, AT, false, None).unwrap();
        assert_eq!(plan.entry.detail, ENVELOPE, "key order and numbers kept");
        assert_eq!(plan.entry.source, "hookwarden.knox");
        assert_eq!(plan.entry.detail_type, "KG_DEVICE_LOCKED");
        assert!(!plan.by_pointer);

        let replay = Replay {
            name: "outage-1",
            at: "2026-12-07T00:00:00Z",
        };
        let plan = bus_entry(&fields, AT, true, Some(replay)).unwrap();
        let expected = format!(
            "{},\"stored_at\":{{\"bucket\":\"b\",\"key\":\"knox/ab/ab12.json\"}},\"replay\":{{\"name\":\"outage-1\",\"at\":\"2026-12-07T00:00:00Z\"}}}}",
            &ENVELOPE[..ENVELOPE.len() - 1]
        );
        assert_eq!(plan.entry.detail, expected);
    }

    #[test]
    fn an_oversize_envelope_goes_by_pointer_with_its_replay_mark() {
        let big = format!(
            r#"{{"id":"ab12","provider":"knox","event_type":"T","body":{{"pad":"{}"}},"message":{{}}}}"#,
            "x".repeat(EVENTBRIDGE_MAX_ENTRY_BYTES)
        );
        let fields = EnvelopeFields::parse(big.as_bytes()).unwrap();
        let replay = Replay { name: "r", at: "t" };
        let plan = bus_entry(&fields, AT, false, Some(replay)).unwrap();
        assert!(plan.by_pointer);
        assert_eq!(
            plan.entry.detail,
            r#"{"id":"ab12","provider":"knox","event_type":"T","stored_at":{"bucket":"b","key":"knox/ab/ab12.json"},"replay":{"name":"r","at":"t"}}"#
        );
    }

    #[test]
    fn an_envelope_of_format_1_is_published_as_stored() {
        // Before `format`, the body was embedded as received, line breaks and all.
        let old = "{\"id\":\"ab12\",\"provider\":\"knox\",\"event_type\":\"T\",\"body\":{\n  \"n\": 1.10\n}}";
        let fields = EnvelopeFields::parse(old.as_bytes()).unwrap();
        let plan = bus_entry(&fields, AT, false, None).unwrap();
        assert_eq!(plan.entry.detail, old);
    }

    #[test]
    fn an_object_that_is_no_envelope_is_named() {
        assert!(matches!(
            EnvelopeFields::parse(b"[1]"),
            Err(EnvelopeError::NotAnObject(_))
        ));
        let fields = EnvelopeFields::parse(br#"{"provider":"knox"}"#).unwrap();
        assert!(matches!(
            bus_entry(&fields, AT, false, None),
            Err(EnvelopeError::MissingField("event_type"))
        ));
    }

    #[test]
    fn a_tenants_event_has_its_own_source() {
        let own = EnvelopeFields::parse(ENVELOPE.as_bytes()).unwrap();
        let own = bus_entry(&own, AT, false, None).unwrap().entry;
        assert_eq!(own.source, "hookwarden.knox");
        let tenant = ENVELOPE.replace(
            r#""provider":"knox","#,
            r#""provider":"knox","tenant":"acme","#,
        );
        let tenant = EnvelopeFields::parse(tenant.as_bytes()).unwrap();
        let entry = bus_entry(&tenant, AT, false, None).unwrap().entry;
        assert_eq!(entry.source, "hookwarden.knox.tenant");
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["tenant"], "acme");
    }
}
