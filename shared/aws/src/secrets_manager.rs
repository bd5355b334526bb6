//! Secrets Manager as the [`SecretSource`]: one secret, read by version stage so a rotation
//! keeps both the new (AWSCURRENT) and the old (AWSPREVIOUS) value usable.

use async_trait::async_trait;
use hookwarden_pipeline::ports::{DependencyError, SecretSource, SecretStage, SecretValue};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::client::{AwsClient, Call, Service};

const DEPENDENCY: &str = "secrets-manager";

pub struct SecretsManagerSource {
    client: AwsClient,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: AwsClient, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

/// The part of GetSecretValue's answer hookwarden reads.
#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "SecretString")]
    secret_string: Option<Zeroizing<String>>,
    #[serde(rename = "VersionId")]
    version_id: Option<String>,
    /// Epoch seconds, a JSON number that may carry a fraction (`1.523477145713E9`).
    #[serde(rename = "CreatedDate")]
    created_date: Option<f64>,
}

/// `CreatedDate` as a time, to the millisecond (what Secrets Manager sends); `None` when
/// absent or out of range, which leaves the rotation undated: AWSPREVIOUS is then refused,
/// never accepted without limit.
fn created(seconds: Option<f64>) -> Option<time::OffsetDateTime> {
    let millis = (seconds.filter(|s| s.is_finite())? * 1000.0).round() as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(millis.checked_mul(1_000_000)?).ok()
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
        self.get(stage, false).await
    }
}

impl SecretsManagerSource {
    /// AWSCURRENT, or `Ok(None)` when the secret does not exist (ResourceNotFoundException)
    /// or is scheduled for deletion (InvalidRequestException): a tenant's lookup.
    pub async fn fetch_if_exists(&self) -> Result<Option<SecretValue>, DependencyError> {
        self.get(SecretStage::Current, true).await
    }

    async fn get(
        &self,
        stage: SecretStage,
        missing_ok: bool,
    ) -> Result<Option<SecretValue>, DependencyError> {
        let operation = || format!("GetSecretValue {} {}", self.secret_id, stage.label());
        let request =
            serde_json::json!({"SecretId": self.secret_id, "VersionStage": stage.label()});
        let result = self
            .client
            .call(Call {
                service: Service::SecretsManager,
                method: http::Method::POST,
                object: None,
                headers: &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", "secretsmanager.GetSecretValue"),
                ],
                body: request.to_string().into(),
            })
            .await;
        let body = match result {
            Ok(body) => body,
            // A secret that was never rotated has no AWSPREVIOUS version: Secrets Manager
            // answers ResourceNotFoundException for the stage.
            Err(err)
                if stage == SecretStage::Previous
                    && err.code() == Some("ResourceNotFoundException") =>
            {
                return Ok(None)
            }
            Err(err)
                if missing_ok
                    && matches!(
                        err.code(),
                        Some("ResourceNotFoundException" | "InvalidRequestException")
                    ) =>
            {
                return Ok(None)
            }
            Err(err) => {
                return Err(DependencyError::new(
                    DEPENDENCY,
                    format_args!("{}: {err}", operation()),
                ))
            }
        };
        // serde_json's messages can quote the input, and the input is the secret.
        let answer: Answer = serde_json::from_slice(&body).map_err(|err| {
            DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "{}: the answer is not GetSecretValue's JSON (line {} column {})",
                    operation(),
                    err.line(),
                    err.column()
                ),
            )
        })?;
        let Some(text) = answer.secret_string else {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "{}: the secret has no SecretString; store it as text",
                    operation()
                ),
            ));
        };
        let Some(version_id) = answer.version_id else {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{}: no VersionId", operation()),
            ));
        };
        Ok(Some(SecretValue {
            text,
            version_id,
            created: created(answer.created_date),
            stage,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_date_is_epoch_seconds_with_or_without_a_fraction() {
        let answer: Answer = serde_json::from_str(
            r#"{"SecretString":"s","VersionId":"v","CreatedDate":1.523477145713E9}"#,
        )
        .unwrap();
        let at = created(answer.created_date).unwrap();
        assert_eq!(at.unix_timestamp(), 1_523_477_145);
        assert_eq!(at.millisecond(), 713);
        let answer: Answer = serde_json::from_str(
            r#"{"SecretString":"s","VersionId":"v","CreatedDate":1795000000}"#,
        )
        .unwrap();
        assert_eq!(
            created(answer.created_date).unwrap().unix_timestamp(),
            1_795_000_000
        );
        for text in [
            r#"{"SecretString":"s","VersionId":"v"}"#,
            r#"{"SecretString":"s","VersionId":"v","CreatedDate":1e300}"#,
        ] {
            let answer: Answer = serde_json::from_str(text).unwrap();
            assert_eq!(created(answer.created_date), None, "{text}");
        }
    }
}
