//! [`Backend`] over an S3 bucket and an EventBridge bus.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use hookwarden_pipeline::ports::{BusEntry, PutOutcome};

use super::backend::{Backend, BackendError, EntryResults, PublishError};

pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub bucket: String,
    pub event_bus: String,
}

fn s3_error(operation: &str, key: &str, err: impl std::error::Error) -> BackendError {
    BackendError(format!(
        "S3 {operation} {key}: {}",
        DisplayErrorContext(err)
    ))
}

#[async_trait]
impl Backend for Aws {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| s3_error("ListObjectsV2", prefix, err))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.sort();
        Ok(keys)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output
                    .body
                    .collect()
                    .await
                    .map_err(|err| s3_error("GetObject", key, err))?
                    .to_vec(),
            )),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(s3_error("GetObject", key, err)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, BackendError> {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(s3_error("HeadObject", key, err)),
        }
    }

    async fn create(&self, key: &str) -> Result<PutOutcome, BackendError> {
        match self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("text/plain")
            .body(Vec::new().into())
            .send()
            .await
        {
            Ok(_) => Ok(PutOutcome::Created),
            Err(err)
                if err
                    .as_service_error()
                    .and_then(|e| e.code())
                    .is_some_and(|code| code == "PreconditionFailed") =>
            {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(err) => Err(s3_error("PutObject", key, err)),
        }
    }

    async fn publish(&self, entries: &[BusEntry]) -> Result<EntryResults, PublishError> {
        let entries: Vec<PutEventsRequestEntry> = entries
            .iter()
            .map(|entry| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.event_bus)
                    .source(&entry.source)
                    .detail_type(&entry.detail_type)
                    .detail(&entry.detail)
                    .build()
            })
            .collect();
        let sent = entries.len();
        let output = self
            .eventbridge
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| {
                PublishError(format!(
                    "PutEvents to {}: {}",
                    self.event_bus,
                    DisplayErrorContext(err)
                ))
            })?;
        let results: EntryResults = output
            .entries()
            .iter()
            .map(|entry| {
                entry
                    .error_code()
                    .map(str::to_string)
                    .or_else(|| entry.event_id().is_none().then(|| "no event id".into()))
            })
            .collect();
        if results.len() != sent {
            return Err(PublishError(format!(
                "PutEvents to {} answered {} entries for {sent}",
                self.event_bus,
                results.len()
            )));
        }
        Ok(results)
    }

    fn location(&self) -> String {
        self.bucket.clone()
    }
}
