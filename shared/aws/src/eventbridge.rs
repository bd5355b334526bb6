//! EventBridge as the [`EventBus`]: one PutEvents entry per verified event.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use hookwarden_pipeline::ports::{BusEntry, DependencyError, EventBus};

use crate::dependency_error;

const DEPENDENCY: &str = "eventbridge";
/// Set by the Lambda runtime for each invocation when X-Ray tracing is on.
const TRACE_ENV: &str = "_X_AMZN_TRACE_ID";

pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgeBus {
    /// `bus_name` is a bus name or ARN.
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, entry: &BusEntry) -> Result<(), DependencyError> {
        let request_entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&entry.source)
            .detail_type(&entry.detail_type)
            .detail(&entry.detail)
            .set_trace_header(std::env::var(TRACE_ENV).ok().filter(|t| !t.is_empty()))
            .build();
        let output = self
            .client
            .put_events()
            .entries(request_entry)
            .send()
            .await
            .map_err(|err| dependency_error(DEPENDENCY, "PutEvents", err))?;
        if output.failed_entry_count() > 0 {
            // The error code only: the message can quote the entry, and the entry is the event.
            let code = output
                .entries()
                .first()
                .and_then(|e| e.error_code())
                .unwrap_or("no error code given");
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!("PutEvents to {} rejected the entry: {code}", self.bus_name),
            ));
        }
        Ok(())
    }
}
