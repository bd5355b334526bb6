//! S3 as the [`ObjectStore`]: conditional creates with `If-None-Match: *`. Objects are
//! encrypted with the bucket's default encryption; nothing is set per put.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hookwarden_pipeline::ports::{DependencyError, ObjectStore, PutOutcome};
use http::Method;

use crate::client::{AwsClient, Call, CallError, Service};

const DEPENDENCY: &str = "s3";
/// S3 answers 409 ConditionalRequestConflict when another conditional write to the same key
/// is in flight; the docs say to retry. Three attempts, then a 503 lets the provider retry.
const CONFLICT_ATTEMPTS: u32 = 3;
const CONFLICT_BACKOFF: Duration = Duration::from_millis(50);

pub struct S3Store {
    client: AwsClient,
    bucket: String,
}

impl S3Store {
    pub fn new(client: AwsClient, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    async fn call(
        &self,
        method: Method,
        key: &str,
        headers: &[(&'static str, &str)],
        body: Bytes,
    ) -> Result<Bytes, CallError> {
        self.client
            .call(Call {
                service: Service::S3,
                method,
                object: Some((&self.bucket, key)),
                headers,
                body,
            })
            .await
    }
}

fn failed(operation: &str, key: &str, err: CallError) -> DependencyError {
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
        let headers = [("content-type", content_type), ("if-none-match", "*")];
        for attempt in 1..=CONFLICT_ATTEMPTS {
            let err = match self.call(Method::PUT, key, &headers, body.clone()).await {
                Ok(_) => return Ok(PutOutcome::Created),
                Err(err) => err,
            };
            match (err.status(), err.code()) {
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
        self.call(
            Method::PUT,
            key,
            &[("content-type", content_type)],
            Bytes::from(body),
        )
        .await
        .map_err(|err| failed("PutObject", key, err))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DependencyError> {
        match self.call(Method::GET, key, &[], Bytes::new()).await {
            Ok(body) => Ok(Some(body.to_vec())),
            // NoSuchBucket is a 404 too, and an error.
            Err(err) if err.code() == Some("NoSuchKey") => Ok(None),
            Err(err) => Err(failed("GetObject", key, err)),
        }
    }

    /// HeadObject answers without a body, so a missing bucket looks like a missing key here
    /// (`Ok(false)`); the conditional put that follows reports it. Without `s3:ListBucket`
    /// S3 answers 403 for a missing key, which is an error, not `false`.
    async fn exists(&self, key: &str) -> Result<bool, DependencyError> {
        match self.call(Method::HEAD, key, &[], Bytes::new()).await {
            Ok(_) => Ok(true),
            Err(err) if err.status() == Some(404) => Ok(false),
            Err(err) => Err(failed("HeadObject", key, err)),
        }
    }

    fn location(&self) -> String {
        self.bucket.clone()
    }
}
