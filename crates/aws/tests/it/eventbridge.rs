//! `EventBridgeBus` against moto's EventBridge, events read back through an SQS target.

use std::time::Duration;

use hookwarden_aws::EventBridgeBus;
use hookwarden_pipeline::ports::{BusEntry, EventBus};
use hookwarden_testkit::moto::MotoServer;

use crate::support::clients;

async fn bus(moto: &MotoServer, name: &str) -> EventBridgeBus {
    let timeout = Duration::from_secs(2);
    let clients = clients(&moto.endpoint(), timeout).await;
    EventBridgeBus::new(clients.eventbridge, name, timeout)
}

fn entry(detail: &str) -> BusEntry {
    BusEntry {
        source: "hookwarden.scalefusion".into(),
        detail_type: "device.locked".into(),
        detail: detail.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_arrive_on_the_bus() {
    let moto = MotoServer::start();
    moto.create_event_bus("hookwarden").await;
    let capture = moto.capture_events("hookwarden").await;
    let bus = bus(&moto, "hookwarden").await;

    bus.publish(&entry(r#"{"id":"d-1","provider":"scalefusion"}"#))
        .await
        .unwrap();
    let events = capture.receive(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["source"], "hookwarden.scalefusion");
    assert_eq!(events[0]["detail-type"], "device.locked");
    assert_eq!(
        events[0]["detail"],
        serde_json::json!({"id": "d-1", "provider": "scalefusion"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_entries_and_missing_buses_are_dependency_errors() {
    let moto = MotoServer::start();
    moto.create_event_bus("hookwarden").await;
    let bus = bus(&moto, "hookwarden").await;

    // EventBridge answers 200 with FailedEntryCount 1 for a detail that is not JSON.
    let err = bus
        .publish(&entry("{not json, secret-looking-detail"))
        .await
        .unwrap_err();
    assert_eq!(err.dependency, "eventbridge");
    assert!(
        err.detail.ends_with("rejected the entry: MalformedDetail"),
        "{err}"
    );
    assert!(!err.detail.contains("secret-looking-detail"), "{err}");

    let err = self::bus(&moto, "no-such-bus")
        .await
        .publish(&entry("{}"))
        .await
        .unwrap_err();
    assert!(err.detail.contains("ResourceNotFoundException"), "{err}");
}
