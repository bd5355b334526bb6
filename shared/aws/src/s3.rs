//! S3 as the [`ObjectStore`]: conditional creates with `If-None-Match: *`. Objects are
//! encrypted with the bucket's default encryption; nothing is set per put.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use hookwarden_pipeline::ports::{DependencyError, ObjectStore, PutOutcome};

use crate::{causes, dependency_error};

const DEPENDENCY: &str = "s3";
/// S3 answers 409 ConditionalRequestConflict when another conditional write to the same key
/// is in flight; the docs say to retry. Three attempts, then a 503 lets the provider retry.
const CONFLICT_ATTEMPTS: u32 = 3;
const CONFLICT_BACKOFF: Duration = Duration::from_millis(50);

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// What a failed conditional put means.
enum PutFailure {
    Exists,
    Conflict,
    Other,
}

fn classify<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> PutFailure {
    let status = err.raw_response().map(|raw| raw.status().as_u16());
    match (status, err.code()) {
        (Some(412), _) | (_, Some("PreconditionFailed")) => PutFailure::Exists,
        (Some(409), _) | (_, Some("ConditionalRequestConflict")) => PutFailure::Conflict,
        _ => PutFailure::Other,
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<PutOutcome, DependencyError> {
        let body = bytes::Bytes::from(body);
        for attempt in 1..=CONFLICT_ATTEMPTS {
            let result = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .if_none_match("*")
                .content_type(content_type)
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(PutOutcome::Created),
                Err(err) => err,
            };
            match classify(&err) {
                PutFailure::Exists => return Ok(PutOutcome::AlreadyExists),
                PutFailure::Conflict if attempt < CONFLICT_ATTEMPTS => {
                    tokio::time::sleep(CONFLICT_BACKOFF * attempt).await;
                }
                PutFailure::Conflict => {
                    return Err(DependencyError::new(
                        DEPENDENCY,
                        format_args!(
                            "PutObject {key}: still 409 ConditionalRequestConflict after {CONFLICT_ATTEMPTS} attempts"
                        ),
                    ))
                }
                PutFailure::Other => {
                    return Err(dependency_error(DEPENDENCY, &format!("PutObject {key}"), err))
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), DependencyError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| dependency_error(DEPENDENCY, &format!("PutObject {key}"), err))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DependencyError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None)
            }
            Err(err) => {
                return Err(dependency_error(
                    DEPENDENCY,
                    &format!("GetObject {key}"),
                    err,
                ))
            }
        };
        let body = output.body.collect().await.map_err(|err| {
            let detail = causes(&err);
            DependencyError::new(
                DEPENDENCY,
                format_args!("GetObject {key}: reading the body: {detail}"),
            )
        })?;
        Ok(Some(body.to_vec()))
    }

    /// HeadObject answers without a body, so a missing bucket looks like a missing key here
    /// (`Ok(false)`); the conditional put that follows reports it. Without `s3:ListBucket`
    /// S3 answers 403 for a missing key, which is an error, not `false`.
    async fn exists(&self, key: &str) -> Result<bool, DependencyError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(dependency_error(
                DEPENDENCY,
                &format!("HeadObject {key}"),
                err,
            )),
        }
    }

    fn location(&self) -> String {
        self.bucket.clone()
    }
}
