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
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
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
        Ok(Some(SecretValue { text, version_id }))
    }
}
