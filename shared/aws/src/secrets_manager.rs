//! Secrets Manager as the [`SecretSource`]: one secret, read by version stage so a rotation
//! keeps both the new (AWSCURRENT) and the old (AWSPREVIOUS) value usable.

use async_trait::async_trait;
use hookwarden_pipeline::ports::{DependencyError, SecretSource, SecretStage, SecretValue};
use zeroize::Zeroizing;

use crate::dependency_error;

const DEPENDENCY: &str = "secrets-manager";

pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn fetch(&self, stage: SecretStage) -> Result<Option<SecretValue>, DependencyError> {
        let operation = || format!("GetSecretValue {} {}", self.secret_id, stage.label());
        let result = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage.label())
            .send()
            .await;
        let mut output = match result {
            Ok(output) => output,
            // A secret that was never rotated has no AWSPREVIOUS version: Secrets Manager
            // answers ResourceNotFoundException for the stage.
            Err(err)
                if stage == SecretStage::Previous
                    && err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(dependency_error(DEPENDENCY, &operation(), err)),
        };
        let Some(text) = output.secret_string.take().map(Zeroizing::new) else {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "{}: the secret has no SecretString; store it as text",
                    operation()
                ),
            ));
        };
        let Some(version_id) = output.version_id.take() else {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{}: no VersionId", operation()),
            ));
        };
        Ok(Some(SecretValue { text, version_id }))
    }
}
