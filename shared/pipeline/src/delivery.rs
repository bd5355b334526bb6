//! Exactly-once delivery to S3 and/or EventBridge, and nothing acknowledged before it is
//! durable.
//!
//! Layout under the function's prefix:
//! - `{prefix}/{event type}/{yyyy}/{mm}/{dd}/{delivery id}.json` — the envelope;
//! - `{prefix}/_state/ids/{dedupe key}` — the dedupe record, written first with
//!   `If-None-Match: *`. It names the delivery id and the event key, so a retry on a later
//!   day finds the original object instead of writing a second one under a new date;
//! - `{prefix}/_state/published/{delivery id}` — written after PutEvents succeeded. A retry
//!   that finds the event stored but no marker publishes it then, so a crash between the S3
//!   write and the publish never loses the bus event (it may publish twice: consumers dedupe
//!   on the envelope `id`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::envelope::{
    eventbridge_entry_size, Envelope, StoredAt, VerifiedEvent, EVENTBRIDGE_MAX_ENTRY_BYTES,
};
use crate::ids::event_type_segment;
use crate::ports::{BusEntry, DependencyError, EventBus, ObjectStore, PutOutcome};

/// Where verified events go.
#[derive(Clone)]
pub struct Delivery {
    store: Arc<dyn ObjectStore>,
    bus: Option<Arc<dyn EventBus>>,
    store_events: bool,
    prefix: String,
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// First time this delivery was seen; it is now durable.
    Stored { key: String },
    /// Seen before and already durable; nothing new was written (or a missing bus publish
    /// was completed).
    Duplicate { key: String },
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The dedupe key was already used by a different delivery (a OneAccess nonce reused
    /// with another timestamp).
    #[error("dedupe key already used by another delivery")]
    Replayed,
    #[error(transparent)]
    Dependency(#[from] DependencyError),
}

#[derive(Serialize, Deserialize)]
struct DedupeRecord {
    delivery_id: String,
    event_key: String,
}

impl Delivery {
    /// `store` always holds the dedupe state (and oversize bus payloads); `store_events`
    /// says whether the S3 sink is on; `bus` whether the EventBridge sink is.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        store_events: bool,
        bus: Option<Arc<dyn EventBus>>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            store,
            bus,
            store_events,
            prefix: prefix.into(),
        }
    }

    /// The store behind this delivery (nonce records live there too).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn state_key(&self, kind: &str, id: &str) -> String {
        format!("{}/_state/{kind}/{id}", self.prefix)
    }

    fn event_key(&self, event: &VerifiedEvent) -> String {
        let date = event.received_at.date();
        format!(
            "{}/{}/{:04}/{:02}/{:02}/{}.json",
            self.prefix,
            event_type_segment(&event.event_type),
            date.year(),
            u8::from(date.month()),
            date.day(),
            event.delivery_id
        )
    }

    pub async fn deliver(&self, event: &VerifiedEvent) -> Result<Delivered, DeliveryError> {
        let (key, fresh) = self.claim(event).await?;
        let envelope = event.envelope();
        let mut recovered = false;
        if self.store_events {
            let outcome = self
                .store
                .put_if_absent(&key, envelope.to_json(), "application/json")
                .await?;
            // A claim without its object means an earlier attempt died between the two
            // writes: this attempt completes it.
            recovered = !fresh && outcome == PutOutcome::Created;
        }
        let first = fresh || recovered;
        if let Some(bus) = &self.bus {
            let marker = self.state_key("published", &event.delivery_id);
            if first || !self.store.exists(&marker).await? {
                self.publish(bus.as_ref(), event, &envelope, &key).await?;
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

    /// Writes the dedupe record, or reads the one an earlier attempt wrote. Returns the event
    /// key and whether this is the first attempt.
    async fn claim(&self, event: &VerifiedEvent) -> Result<(String, bool), DeliveryError> {
        let claim_key = self.state_key("ids", &event.dedupe_key);
        let record = DedupeRecord {
            delivery_id: event.delivery_id.clone(),
            event_key: self.event_key(event),
        };
        let bytes = serde_json::to_vec(&record).expect("the dedupe record serializes");
        match self
            .store
            .put_if_absent(&claim_key, bytes, "application/json")
            .await?
        {
            PutOutcome::Created => Ok((record.event_key, true)),
            PutOutcome::AlreadyExists => {
                let existing = self.store.get(&claim_key).await?.ok_or_else(|| {
                    DependencyError::new("s3", "dedupe record vanished between put and get")
                })?;
                let existing: DedupeRecord = serde_json::from_slice(&existing).map_err(|err| {
                    DependencyError::new(
                        "s3",
                        format!("dedupe record {claim_key} unreadable: {err}"),
                    )
                })?;
                if existing.delivery_id != event.delivery_id {
                    return Err(DeliveryError::Replayed);
                }
                Ok((existing.event_key, false))
            }
        }
    }

    async fn publish(
        &self,
        bus: &dyn EventBus,
        event: &VerifiedEvent,
        envelope: &Envelope<'_>,
        key: &str,
    ) -> Result<(), DependencyError> {
        let source = format!("hookwarden.{}", event.provider);
        let detail_type = event.event_type.trim().to_string();
        let location = self.store.location();
        let stored_at = StoredAt {
            bucket: &location,
            key,
        };
        let mut detail_envelope = envelope.clone();
        detail_envelope.stored_at = self.store_events.then_some(stored_at);
        let mut detail =
            String::from_utf8(detail_envelope.to_json()).expect("serde_json writes UTF-8");
        if eventbridge_entry_size(&source, &detail_type, &detail) > EVENTBRIDGE_MAX_ENTRY_BYTES {
            // Claim check: the bus carries a pointer, the body lives in S3.
            if !self.store_events {
                self.store
                    .put_if_absent(key, envelope.to_json(), "application/json")
                    .await?;
            }
            detail_envelope.drop_body();
            detail_envelope.stored_at = Some(stored_at);
            detail = String::from_utf8(detail_envelope.to_json()).expect("serde_json writes UTF-8");
        }
        bus.publish(&BusEntry {
            source,
            detail_type,
            detail,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::VerifiedBy;
    use crate::local::{DirStore, FileBus};
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

    fn event(id: &str, day: i64, body: &str) -> VerifiedEvent {
        VerifiedEvent {
            provider: "scalefusion",
            event_type: "device.enrolled".into(),
            delivery_id: id.into(),
            dedupe_key: id.into(),
            received_at: OffsetDateTime::from_unix_timestamp(1_767_225_600 + day * 86_400).unwrap(),
            verified_by: VerifiedBy::Secret {
                version_id: "v1".into(),
            },
            source_ip: None,
            body: bytes::Bytes::from(body.to_string()),
            message: None,
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
        fn delivery(&self, store_events: bool, with_bus: bool) -> Delivery {
            let bus: Option<Arc<dyn EventBus>> =
                with_bus.then(|| self.bus.clone() as Arc<dyn EventBus>);
            Delivery::new(
                Arc::new(DirStore::new(self.root.join("store"))),
                store_events,
                bus,
                "sf",
            )
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

    #[tokio::test]
    async fn stores_once_even_when_the_retry_comes_on_another_day() {
        let s = setup();
        let delivery = s.delivery(true, false);
        let first = delivery
            .deliver(&event("id-1", 0, "{\"a\":1}"))
            .await
            .unwrap();
        assert_eq!(
            first,
            Delivered::Stored {
                key: "sf/device.enrolled/2026/01/01/id-1.json".into()
            }
        );
        let retry = delivery
            .deliver(&event("id-1", 1, "{\"a\":1}"))
            .await
            .unwrap();
        assert_eq!(
            retry,
            Delivered::Duplicate {
                key: "sf/device.enrolled/2026/01/01/id-1.json".into()
            }
        );
        let files = files_under(&s.root.join("store"));
        assert_eq!(
            files,
            [
                "sf/_state/ids/id-1",
                "sf/device.enrolled/2026/01/01/id-1.json"
            ]
        );
    }

    #[tokio::test]
    async fn a_dedupe_key_reused_by_another_delivery_is_a_replay() {
        let s = setup();
        let delivery = s.delivery(true, false);
        delivery.deliver(&event("nonce-a", 0, "{}")).await.unwrap();
        let mut other = event("nonce-a", 0, "{}");
        other.delivery_id = "nonce-a-other-timestamp".into();
        assert!(matches!(
            delivery.deliver(&other).await,
            Err(DeliveryError::Replayed)
        ));
    }

    #[tokio::test]
    async fn completes_a_delivery_that_died_between_claim_and_object() {
        let s = setup();
        let delivery = s.delivery(true, false);
        let ev = event("id-2", 0, "{}");
        // What the first attempt left behind before dying: the claim only.
        let record = serde_json::json!({"delivery_id": "id-2", "event_key": "sf/device.enrolled/2026/01/01/id-2.json"});
        delivery
            .store()
            .put_if_absent("sf/_state/ids/id-2", record.to_string().into_bytes(), "")
            .await
            .unwrap();
        assert!(matches!(
            delivery.deliver(&ev).await.unwrap(),
            Delivered::Stored { .. }
        ));
        assert!(delivery
            .store()
            .exists("sf/device.enrolled/2026/01/01/id-2.json")
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_failed_publish_is_completed_by_the_retry_and_published_once() {
        let s = setup();
        let delivery = s.delivery(true, true);
        let ev = event("id-3", 0, "{\"b\":2}");
        s.bus.down.store(true, Ordering::SeqCst);
        assert!(matches!(
            delivery.deliver(&ev).await,
            Err(DeliveryError::Dependency(_))
        ));
        assert!(s.published().is_empty());
        s.bus.down.store(false, Ordering::SeqCst);
        assert!(delivery.deliver(&ev).await.is_ok());
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
        assert_eq!(detail["id"], "id-3");
        assert_eq!(detail["body"]["b"], 2);
        assert_eq!(
            detail["stored_at"]["key"],
            "sf/device.enrolled/2026/01/01/id-3.json"
        );
        assert_eq!(s.published()[0]["source"], "hookwarden.scalefusion");
    }

    #[tokio::test]
    async fn oversize_bodies_travel_by_pointer_even_without_the_s3_sink() {
        let s = setup();
        let delivery = s.delivery(false, true);
        let big = format!(
            "{{\"pad\":\"{}\"}}",
            "x".repeat(EVENTBRIDGE_MAX_ENTRY_BYTES)
        );
        delivery.deliver(&event("id-4", 0, &big)).await.unwrap();
        let detail = &s.published()[0]["detail"];
        assert!(detail.get("body").is_none());
        let key = detail["stored_at"]["key"].as_str().unwrap();
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
            .deliver(&event("id-5", 0, "{\"small\":true}"))
            .await
            .unwrap();
        let detail = &s.published()[1]["detail"];
        assert_eq!(detail["body"]["small"], true);
        assert!(detail.get("stored_at").is_none());
    }
}
