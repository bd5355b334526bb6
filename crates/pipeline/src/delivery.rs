//! Exactly-once delivery to S3 and/or EventBridge, and nothing acknowledged before it is
//! durable.
//!
//! An event's id is the SHA-256 of exactly the bytes its provider signed (`content_sha256`),
//! so the key of everything written for it follows from the content alone: a retry on a later
//! day, or a replay under fresh unsigned headers, lands on the same key, and two events the
//! provider signed differently never share one.
//!
//! Layout under the function's prefix (`{shard}` is the id's first two hex digits, so a
//! fleet-wide burst spreads over 256 key ranges S3 can partition apart):
//! - `{prefix}/{shard}/{id}.json` — the envelope, written once with `If-None-Match: *`.
//!   With the S3 sink this one conditional write is the whole first delivery; a 412 means
//!   the same signed content was stored before. The key holds nothing derived from the
//!   content (no event type): a derivation a later release changes must never move an
//!   event to a second key, so two deliveries of one signed content meet on one object
//!   whatever release handles each.
//! - `{prefix}/_state/{shard}/claimed/{id}` — EventBridge-only sink: the empty conditional
//!   write that dedupes, in place of the envelope the user chose not to keep.
//! - `{prefix}/_state/{shard}/published/{id}` — written after PutEvents succeeded. A
//!   duplicate that finds no marker publishes then, so a crash between the durable write and
//!   the publish never loses the bus event (it may publish twice: consumers dedupe on the
//!   envelope `id`).
//! - `{prefix}/_state/{shard}/replayed/{name}/{id}` — written by `hookwarden replay` after
//!   it re-published the event under replay `name`.

use std::sync::Arc;

use crate::bus_event::{bus_entry, EnvelopeFields, StoredAt};
use crate::envelope::VerifiedEvent;
use crate::ports::{DependencyError, EventBus, ObjectStore, PutOutcome};

/// The sinks `HOOKWARDEN_SINK` names: `s3`, `eventbridge` or `s3,eventbridge`. `B` is
/// the bus: its name in the settings, its adapter in a [`Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sinks<B> {
    S3,
    EventBridge(B),
    S3AndEventBridge(B),
}

impl<B> Sinks<B> {
    /// Whether envelopes are written to the bucket (the `s3` sink).
    pub fn stores_events(&self) -> bool {
        matches!(self, Sinks::S3 | Sinks::S3AndEventBridge(_))
    }

    pub fn bus(&self) -> Option<&B> {
        match self {
            Sinks::S3 => None,
            Sinks::EventBridge(bus) | Sinks::S3AndEventBridge(bus) => Some(bus),
        }
    }

    pub fn map_bus<C>(self, f: impl FnOnce(B) -> C) -> Sinks<C> {
        match self {
            Sinks::S3 => Sinks::S3,
            Sinks::EventBridge(bus) => Sinks::EventBridge(f(bus)),
            Sinks::S3AndEventBridge(bus) => Sinks::S3AndEventBridge(f(bus)),
        }
    }
}

/// Where verified events go.
#[derive(Clone)]
pub struct Delivery {
    store: Arc<dyn ObjectStore>,
    sinks: Sinks<Arc<dyn EventBus>>,
    prefix: String,
    /// The tenant these events are for (`/<tenant>`); `None`: the function's own.
    tenant: Option<Arc<str>>,
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// First time this signed content was seen; it is now durable.
    Stored { key: String },
    /// The same signed content was stored before; nothing new was written (or a missing bus
    /// publish was completed).
    Duplicate { key: String },
}

impl Delivery {
    /// `store` is the bucket whatever the sinks: it holds the envelopes with the `s3` sink,
    /// and the conditional writes that tell a first delivery from a duplicate (and oversize
    /// bus payloads) with either.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        sinks: Sinks<Arc<dyn EventBus>>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            store,
            sinks,
            prefix: prefix.into(),
            tenant: None,
        }
    }

    /// The same sinks for `tenant` (a name [`crate::tenants::valid_tenant`] accepts): its
    /// objects under `{prefix}/tenant={tenant}/`, so its dedupe is its own, and its name in
    /// every envelope. The `tenant=` segment never collides with the function's own keys
    /// (`{shard}` is two hex digits, `_state` has no `=`) and is a Hive-style partition for
    /// Athena.
    pub fn for_tenant(&self, tenant: &str) -> Self {
        assert!(
            crate::tenants::valid_tenant(tenant),
            "tenant names are checked before they reach a key"
        );
        Self {
            prefix: format!("{}/tenant={tenant}", self.prefix),
            tenant: Some(Arc::from(tenant)),
            ..self.clone()
        }
    }

    /// The key prefix everything of this delivery is under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The store behind this delivery.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn state_key(&self, kind: &str, event: &VerifiedEvent) -> String {
        format!(
            "{}/_state/{}/{kind}/{}",
            self.prefix,
            shard(&event.id),
            event.id
        )
    }

    /// Where the envelope of `event` is (or would be) stored.
    pub fn event_key(&self, event: &VerifiedEvent) -> String {
        event_key(&self.prefix, &event.id)
    }

    pub async fn deliver(&self, event: &VerifiedEvent) -> Result<Delivered, DependencyError> {
        let key = self.event_key(event);
        let mut envelope = event.envelope();
        envelope.tenant = self.tenant.as_deref();
        let envelope = envelope.to_json();
        // The one conditional write that decides first delivery or duplicate.
        let outcome = if self.sinks.stores_events() {
            self.store
                .put_if_absent(&key, envelope.clone(), "application/json")
                .await?
        } else {
            self.store
                .put_if_absent(&self.state_key("claimed", event), Vec::new(), "text/plain")
                .await?
        };
        let first = outcome == PutOutcome::Created;
        if let Some(bus) = self.sinks.bus() {
            let marker = self.state_key("published", event);
            if first || !self.store.exists(&marker).await? {
                self.publish(bus.as_ref(), envelope, &key).await?;
                if let Err(err) = self
                    .store
                    .put_if_absent(&marker, Vec::new(), "text/plain")
                    .await
                {
                    // The event is on the bus; without the marker a retry may publish it
                    // again, which consumers absorb by deduping on the envelope id.
                    tracing::warn!(dependency = err.dependency, "published marker not written");
                }
            }
        }
        Ok(if first {
            Delivered::Stored { key }
        } else {
            Delivered::Duplicate { key }
        })
    }

    async fn publish(
        &self,
        bus: &dyn EventBus,
        envelope: Vec<u8>,
        key: &str,
    ) -> Result<(), DependencyError> {
        let location = self.store.location();
        let stored_at = StoredAt {
            bucket: &location,
            key,
        };
        let fields = EnvelopeFields::parse(&envelope)
            .expect("the envelope just serialized is a JSON object");
        let stores_events = self.sinks.stores_events();
        let plan = bus_entry(&fields, stored_at, stores_events, None)
            .expect("the envelope has a provider and an event type");
        if plan.by_pointer && !stores_events {
            // Claim check: the bus carries a pointer, the body lives in S3.
            self.store
                .put_if_absent(key, envelope, "application/json")
                .await?;
        }
        bus.publish(&plan.entry).await
    }
}

/// The key of the envelope with `id` under `prefix` (a tenant's prefix ends in
/// `tenant=<name>`): `{prefix}/{shard}/{id}.json`.
pub fn event_key(prefix: &str, id: &str) -> String {
    format!("{prefix}/{}/{id}.json", shard(id))
}

/// The key range an event's objects fall in: the first two hex digits of its id.
pub(crate) fn shard(id: &str) -> &str {
    id.get(..2).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus_event::EVENTBRIDGE_MAX_ENTRY_BYTES;
    use crate::envelope::VerifiedBy;
    use crate::ids::sha256_hex;
    use crate::local::{DirStore, FileBus};
    use crate::ports::BusEntry;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicBool, Ordering};
    use time::OffsetDateTime;

    /// A bus that can be switched off, to stand for PutEvents failing.
    struct SwitchableBus {
        inner: FileBus,
        down: AtomicBool,
    }

    #[async_trait]
    impl EventBus for SwitchableBus {
        async fn publish(&self, entry: &BusEntry) -> Result<(), DependencyError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(DependencyError::new("eventbridge", "FailedEntryCount 1"));
            }
            self.inner.publish(entry).await
        }
    }

    /// An event whose signed content is `body`, received on `day`, with unsigned `trace`.
    fn event(trace: &str, day: i64, body: &str) -> VerifiedEvent {
        VerifiedEvent {
            provider: "scalefusion",
            event_type: "device.enrolled".into(),
            id: sha256_hex(body.as_bytes()),
            unsigned: vec![("trace_id", trace.into())],
            received_at: OffsetDateTime::from_unix_timestamp(1_767_225_600 + day * 86_400).unwrap(),
            verified_by: VerifiedBy::Secret {
                version_id: "v1".into(),
                scheme: "hmac-sha256",
            },
            source_ip: None,
            body: bytes::Bytes::from(body.to_string()),
            message: None,
            redacted: None,
        }
    }

    /// The files below `dir`, as paths relative to it.
    fn files_under(dir: &std::path::Path) -> Vec<String> {
        crate::local::files_under(dir)
            .iter()
            .map(|path| path.strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    struct Setup {
        _dir: tempfile::TempDir,
        root: std::path::PathBuf,
        bus: Arc<SwitchableBus>,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let bus = Arc::new(SwitchableBus {
            inner: FileBus::new(root.join("bus")),
            down: AtomicBool::new(false),
        });
        Setup {
            _dir: dir,
            root,
            bus,
        }
    }

    impl Setup {
        fn delivery(&self, sinks: Sinks<()>) -> Delivery {
            let bus = self.bus.clone() as Arc<dyn EventBus>;
            Delivery::new(
                Arc::new(DirStore::new(self.root.join("store"))),
                sinks.map_bus(|()| bus),
                "sf",
            )
        }

        fn stored(&self) -> Vec<String> {
            files_under(&self.root.join("store"))
        }

        fn published(&self) -> Vec<serde_json::Value> {
            files_under(&self.root.join("bus"))
                .iter()
                .map(|f| {
                    serde_json::from_slice(&std::fs::read(self.root.join("bus").join(f)).unwrap())
                        .unwrap()
                })
                .collect()
        }
    }

    fn key_of(body: &str) -> String {
        let id = sha256_hex(body.as_bytes());
        format!("sf/{}/{id}.json", &id[..2])
    }

    #[tokio::test]
    async fn the_same_signed_content_is_stored_once_whatever_day_or_unsigned_id() {
        let s = setup();
        let delivery = s.delivery(Sinks::S3);
        let body = "{\"a\":1}";
        let first = delivery.deliver(&event("t-1", 0, body)).await.unwrap();
        assert_eq!(first, Delivered::Stored { key: key_of(body) });
        for (trace, day) in [("t-1", 1), ("a-new-trace-id", 0), ("", 30)] {
            let again = delivery.deliver(&event(trace, day, body)).await.unwrap();
            assert_eq!(again, Delivered::Duplicate { key: key_of(body) });
        }
        assert_eq!(s.stored(), [key_of(body)]);
        let stored: serde_json::Value =
            serde_json::from_slice(&delivery.store().get(&key_of(body)).await.unwrap().unwrap())
                .unwrap();
        assert_eq!(
            stored["unsigned"]["trace_id"], "t-1",
            "the first delivery's"
        );
    }

    /// R7: the key holds nothing a release derives from the content, so a delivery handled
    /// by a release that derives another event type meets the first on one object.
    #[tokio::test]
    async fn one_signed_content_is_one_object_whatever_event_type_a_release_derives() {
        for sinks in [
            Sinks::S3,
            Sinks::EventBridge(()),
            Sinks::S3AndEventBridge(()),
        ] {
            let (store_events, with_bus) = (sinks.stores_events(), sinks.bus().is_some());
            let s = setup();
            let delivery = s.delivery(sinks.clone());
            let body = "{\"type\":\"device.enrolled\"}";
            let first = event("t-1", 0, body);
            let mut later_release = event("t-1", 0, body);
            later_release.event_type = "device_enrolled (renamed)".into();
            assert!(matches!(
                delivery.deliver(&first).await.unwrap(),
                Delivered::Stored { .. }
            ));
            assert_eq!(
                delivery.deliver(&later_release).await.unwrap(),
                Delivered::Duplicate { key: key_of(body) },
                "store_events={store_events} bus={with_bus}"
            );
            let events: Vec<String> = s
                .stored()
                .into_iter()
                .filter(|k| !k.contains("_state"))
                .collect();
            assert_eq!(events.len(), usize::from(store_events), "{events:?}");
            if with_bus {
                assert_eq!(s.published().len(), 1);
            }
        }
    }

    /// R6: existing rules on `hookwarden.<provider>` never receive a tenant's events.
    #[tokio::test]
    async fn a_tenants_bus_events_are_told_apart_from_the_operators_own() {
        let s = setup();
        let own = s.delivery(Sinks::S3AndEventBridge(()));
        let tenant = own.for_tenant("acme");
        own.deliver(&event("t", 0, "{\"own\":1}")).await.unwrap();
        tenant
            .deliver(&event("t", 0, "{\"tenant\":1}"))
            .await
            .unwrap();
        let published = s.published();
        assert_eq!(published.len(), 2);
        let by_body = |field: &str| {
            published
                .iter()
                .find(|entry| entry["detail"]["body"].get(field).is_some())
                .unwrap()
                .clone()
        };
        let (own, tenant) = (by_body("own"), by_body("tenant"));
        assert_eq!(own["source"], "hookwarden.scalefusion");
        assert_eq!(tenant["source"], "hookwarden.scalefusion.tenant");
        assert_ne!(own["source"], tenant["source"]);
        assert!(own["detail"].get("tenant").is_none());
        assert_eq!(tenant["detail"]["tenant"], "acme");
        let id = sha256_hex(b"{\"tenant\":1}");
        assert_eq!(
            tenant["detail"]["stored_at"]["key"],
            format!("sf/tenant=acme/{}/{id}.json", &id[..2])
        );
    }

    #[tokio::test]
    async fn different_signed_content_under_one_unsigned_id_is_two_events() {
        let s = setup();
        let delivery = s.delivery(Sinks::S3);
        let locked = delivery
            .deliver(&event("trace-1", 0, "{\"s\":\"LOCKED\"}"))
            .await
            .unwrap();
        let unlocked = delivery
            .deliver(&event("trace-1", 0, "{\"s\":\"UNLOCKED\"}"))
            .await
            .unwrap();
        assert!(matches!(locked, Delivered::Stored { .. }));
        assert!(matches!(unlocked, Delivered::Stored { .. }));
        let mut expected = vec![key_of("{\"s\":\"LOCKED\"}"), key_of("{\"s\":\"UNLOCKED\"}")];
        expected.sort();
        assert_eq!(s.stored(), expected);
    }

    #[tokio::test]
    async fn eventbridge_only_dedupes_on_an_empty_claim() {
        let s = setup();
        let delivery = s.delivery(Sinks::EventBridge(()));
        let ev = event("t", 0, "{\"c\":3}");
        assert!(matches!(
            delivery.deliver(&ev).await.unwrap(),
            Delivered::Stored { .. }
        ));
        assert!(matches!(
            delivery.deliver(&ev).await.unwrap(),
            Delivered::Duplicate { .. }
        ));
        assert_eq!(s.published().len(), 1);
        let id = &ev.id;
        assert_eq!(
            s.stored(),
            [
                format!("sf/_state/{}/claimed/{id}", &id[..2]),
                format!("sf/_state/{}/published/{id}", &id[..2]),
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_publish_is_completed_by_the_retry_and_published_once() {
        for sinks in [Sinks::S3AndEventBridge(()), Sinks::EventBridge(())] {
            let store_events = sinks.stores_events();
            let s = setup();
            let delivery = s.delivery(sinks);
            let ev = event("t", 0, "{\"b\":2}");
            s.bus.down.store(true, Ordering::SeqCst);
            assert!(delivery.deliver(&ev).await.is_err());
            assert!(s.published().is_empty());
            s.bus.down.store(false, Ordering::SeqCst);
            assert!(matches!(
                delivery.deliver(&ev).await.unwrap(),
                Delivered::Duplicate { .. }
            ));
            assert_eq!(
                s.published().len(),
                1,
                "the retry published the stored event"
            );
            delivery.deliver(&ev).await.unwrap();
            assert_eq!(
                s.published().len(),
                1,
                "a third attempt finds the marker and publishes nothing"
            );
            let detail = &s.published()[0]["detail"];
            assert_eq!(detail["id"], ev.id);
            assert_eq!(detail["content_sha256"], ev.id);
            assert_eq!(detail["body"]["b"], 2);
            if store_events {
                assert_eq!(detail["stored_at"]["key"], key_of("{\"b\":2}"));
            } else {
                assert!(detail.get("stored_at").is_none());
            }
            assert_eq!(s.published()[0]["source"], "hookwarden.scalefusion");
        }
    }

    #[tokio::test]
    async fn an_event_type_eventbridge_would_refuse_is_published_as_unknown() {
        let s = setup();
        let delivery = s.delivery(Sinks::EventBridge(()));
        for event_type in ["", &"x".repeat(200)] {
            let mut ev = event("t", 0, &format!("{{\"t\":{}}}", event_type.len()));
            ev.event_type = event_type.to_string();
            delivery.deliver(&ev).await.unwrap();
        }
        let published = s.published();
        assert_eq!(published.len(), 2);
        for entry in published {
            assert_eq!(entry["detail-type"], "unknown", "{entry}");
        }
    }

    #[tokio::test]
    async fn oversize_bodies_travel_by_pointer_even_without_the_s3_sink() {
        let s = setup();
        let delivery = s.delivery(Sinks::EventBridge(()));
        let big = format!(
            "{{\"pad\":\"{}\"}}",
            "x".repeat(EVENTBRIDGE_MAX_ENTRY_BYTES)
        );
        delivery.deliver(&event("t", 0, &big)).await.unwrap();
        let detail = &s.published()[0]["detail"];
        assert!(detail.get("body").is_none());
        let key = detail["stored_at"]["key"].as_str().unwrap();
        assert_eq!(key, key_of(&big));
        let stored = delivery
            .store()
            .get(key)
            .await
            .unwrap()
            .expect("claim-check object stored");
        let stored: serde_json::Value = serde_json::from_slice(&stored).unwrap();
        assert_eq!(
            stored["body"]["pad"].as_str().unwrap().len(),
            EVENTBRIDGE_MAX_ENTRY_BYTES
        );

        // A body that fits goes inline and, with no S3 sink, names no stored object.
        delivery
            .deliver(&event("t", 0, "{\"small\":true}"))
            .await
            .unwrap();
        let detail = &s.published()[1]["detail"];
        assert_eq!(detail["body"]["small"], true);
        assert!(detail.get("stored_at").is_none());
    }
}
