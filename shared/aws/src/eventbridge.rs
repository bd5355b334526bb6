//! EventBridge as the [`EventBus`]: one PutEvents entry per verified event.

use async_trait::async_trait;
use hookwarden_pipeline::ports::{BusEntry, DependencyError, EventBus};
use serde::{Deserialize, Serialize};

use crate::client::{AwsClient, Call, Service};

const DEPENDENCY: &str = "eventbridge";

pub struct EventBridgeBus {
    client: AwsClient,
    bus_name: String,
}

impl EventBridgeBus {
    /// `bus_name` is a bus name or ARN.
    pub fn new(client: AwsClient, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Request<'a> {
    entries: [Entry<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry<'a> {
    event_bus_name: &'a str,
    source: &'a str,
    detail_type: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_header: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    #[serde(default)]
    failed_entry_count: u64,
    #[serde(default)]
    entries: Vec<AnswerEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AnswerEntry {
    error_code: Option<String>,
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, entry: &BusEntry) -> Result<(), DependencyError> {
        let request = Request {
            entries: [Entry {
                event_bus_name: &self.bus_name,
                source: &entry.source,
                detail_type: &entry.detail_type,
                detail: &entry.detail,
                trace_header: crate::lambda::trace_header(),
            }],
        };
        let body = serde_json::to_vec(&request).expect("the PutEvents request serializes");
        let answer = self
            .client
            .call(Call {
                service: Service::EventBridge,
                method: http::Method::POST,
                object: None,
                headers: &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", "AWSEvents.PutEvents"),
                ],
                body: body.into(),
            })
            .await
            .map_err(|err| err.into_dependency(DEPENDENCY, "PutEvents"))?;
        let answer: Answer = serde_json::from_slice(&answer).map_err(|err| {
            DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "PutEvents: the answer is not PutEvents' JSON (line {} column {})",
                    err.line(),
                    err.column()
                ),
            )
        })?;
        if answer.failed_entry_count > 0 {
            // The error code only: the message can quote the entry, and the entry is the event.
            let code = answer
                .entries
                .first()
                .and_then(|e| e.error_code.as_deref())
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
