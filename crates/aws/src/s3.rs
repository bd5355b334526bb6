//! S3 as the [`ObjectStore`]: conditional creates with `If-None-Match: *`. Objects are
//! encrypted with the bucket's default encryption; nothing is set per put.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use hookwarden_pipeline::ports::{DependencyError, ObjectStore, PutOutcome};

use crate::retry::{self, Failure};

const DEPENDENCY: &str = "s3";
/// S3 answers 409 ConditionalRequestConflict when another conditional write to the same key
/// is in flight; the docs say to retry. Three attempts, then a 503 lets the provider retry.
const CONFLICT_ATTEMPTS: u32 = 3;
const CONFLICT_BACKOFF: Duration = Duration::from_millis(50);
/// Every object hookwarden reads is small: a certificate, a dedupe marker.
const MAX_OBJECT_BYTES: i64 = 1024 * 1024;

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    timeout: Duration,
}

impl S3Store {
    /// `timeout` bounds each operation, retries included.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, timeout: Duration) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            timeout,
        }
    }

    async fn put_object(
        &self,
        key: &str,
        body: &Bytes,
        content_type: &str,
        if_none_match: Option<&str>,
    ) -> Result<(), Failure> {
        retry::call(self.timeout, || {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .set_if_none_match(if_none_match.map(str::to_string))
                .body(ByteStream::from(body.clone()))
                .send()
        })
        .await
        .map(drop)
    }
}

fn failed(operation: &str, key: &str, err: Failure) -> DependencyError {
    err.into_dependency(DEPENDENCY, format_args!("{operation} {key}"))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<PutOutcome, DependencyError> {
        let body = Bytes::from(body);
        for attempt in 1..=CONFLICT_ATTEMPTS {
            let err = match self.put_object(key, &body, content_type, Some("*")).await {
                Ok(()) => return Ok(PutOutcome::Created),
                Err(err) => err,
            };
            // S3 has been seen to carry the precondition error in a 200 answer too, so the code
            // counts as much as the status.
            match (err.status, err.code()) {
                (Some(412), _) | (_, Some("PreconditionFailed")) => {
                    return Ok(PutOutcome::AlreadyExists)
                }
                (Some(409), _) | (_, Some("ConditionalRequestConflict")) => {
                    if attempt == CONFLICT_ATTEMPTS {
                        return Err(DependencyError::new(
                            DEPENDENCY,
                            format_args!(
                                "PutObject {key}: still 409 ConditionalRequestConflict after {CONFLICT_ATTEMPTS} attempts"
                            ),
                        ));
                    }
                    tokio::time::sleep(CONFLICT_BACKOFF * attempt).await;
                }
                _ => return Err(failed("PutObject", key, err)),
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
        self.put_object(key, &Bytes::from(body), content_type, None)
            .await
            .map_err(|err| failed("PutObject", key, err))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DependencyError> {
        let answer = retry::call(self.timeout, || {
            self.client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
        })
        .await;
        let object = match answer {
            Ok(object) => object,
            // NoSuchBucket is a 404 too, and an error.
            Err(err) if err.code() == Some("NoSuchKey") => return Ok(None),
            Err(err) => return Err(failed("GetObject", key, err)),
        };
        if object.content_length.is_some_and(|n| n > MAX_OBJECT_BYTES) {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!("GetObject {key}: larger than {MAX_OBJECT_BYTES} bytes"),
            ));
        }
        let body = tokio::time::timeout(self.timeout, object.body.collect())
            .await
            .map_err(|_| {
                DependencyError::new(
                    DEPENDENCY,
                    format_args!(
                        "GetObject {key}: the body did not arrive within {:?}",
                        self.timeout
                    ),
                )
            })?
            .map_err(|err| {
                DependencyError::new(DEPENDENCY, format_args!("GetObject {key}: {err}"))
            })?;
        Ok(Some(body.to_vec()))
    }

    /// HeadObject answers without a body, so a missing bucket looks like a missing key here
    /// (`Ok(false)`); the conditional put that follows reports it. Without `s3:ListBucket`
    /// S3 answers 403 for a missing key, which is an error, not `false`.
    async fn exists(&self, key: &str) -> Result<bool, DependencyError> {
        let answer = retry::call(self.timeout, || {
            self.client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
        })
        .await;
        match answer {
            Ok(_) => Ok(true),
            Err(err) if err.status == Some(404) => Ok(false),
            Err(err) => Err(failed("HeadObject", key, err)),
        }
    }

    fn location(&self) -> String {
        self.bucket.clone()
    }
}
