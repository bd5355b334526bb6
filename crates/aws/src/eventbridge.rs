//! EventBridge as the [`EventBus`]: one PutEvents entry per verified event.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use hookwarden_pipeline::ports::{BusEntry, DependencyError, EventBus};

use crate::retry;

const DEPENDENCY: &str = "eventbridge";

pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
    timeout: Duration,
}

impl EventBridgeBus {
    /// `bus_name` is a bus name or ARN; `timeout` bounds each PutEvents, retries included.
    pub fn new(
        client: aws_sdk_eventbridge::Client,
        bus_name: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
            timeout,
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, entry: &BusEntry) -> Result<(), DependencyError> {
        let request = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&entry.source)
            .detail_type(&entry.detail_type)
            .detail(&entry.detail)
            .set_trace_header(crate::lambda::trace_header())
            .build();
        let answer = retry::call(self.timeout, || {
            self.client.put_events().entries(request.clone()).send()
        })
        .await
        .map_err(|err| err.into_dependency(DEPENDENCY, "PutEvents"))?;
        if answer.failed_entry_count > 0 {
            // The error code only: the message can quote the entry, and the entry is the event.
            let code = answer
                .entries()
                .first()
                .and_then(|e| e.error_code())
                .unwrap_or("no error code given");
            let detail = format_args!("PutEvents to {} rejected the entry: {code}", self.bus_name);
            return Err(match code {
                "ThrottlingException" => DependencyError::throttled(DEPENDENCY, detail),
                _ => DependencyError::new(DEPENDENCY, detail),
            });
        }
        Ok(())
    }
}
