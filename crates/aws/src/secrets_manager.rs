//! Secrets Manager as the [`SecretSource`]: one secret, read by version stage so a rotation
//! keeps both the new (AWSCURRENT) and the old (AWSPREVIOUS) value usable.

use std::time::Duration;

use async_trait::async_trait;
use hookwarden_pipeline::ports::{DependencyError, SecretSource, SecretStage, SecretValue};
use zeroize::Zeroizing;

use crate::retry;

const DEPENDENCY: &str = "secrets-manager";

pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    timeout: Duration,
}

impl SecretsManagerSource {
    /// `timeout` bounds each read, retries included.
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            timeout,
        }
    }
}

/// `CreatedDate` as a time, to the millisecond (what Secrets Manager sends); `None` when
/// absent or out of range, which leaves the rotation undated: AWSPREVIOUS is then refused,
/// never accepted without limit.
fn created(date: Option<&aws_smithy_types::DateTime>) -> Option<time::OffsetDateTime> {
    let date = date?;
    let nanos = i128::from(date.to_millis().ok()?).checked_mul(1_000_000)?;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
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
        let answer = retry::call(self.timeout, || {
            self.client
                .get_secret_value()
                .secret_id(&self.secret_id)
                .version_stage(stage.label())
                .send()
        })
        .await;
        let mut answer = match answer {
            Ok(answer) => answer,
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
            Err(err) => return Err(err.into_dependency(DEPENDENCY, operation())),
        };
        let Some(text) = answer.secret_string.take().map(Zeroizing::new) else {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!(
                    "{}: the secret has no SecretString; store it as text",
                    operation()
                ),
            ));
        };
        let Some(version_id) = answer.version_id.take() else {
            return Err(DependencyError::new(
                DEPENDENCY,
                format_args!("{}: no VersionId", operation()),
            ));
        };
        Ok(Some(SecretValue {
            text,
            version_id,
            created: created(answer.created_date.as_ref()),
            stage,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::DateTime;

    #[test]
    fn created_date_is_kept_to_the_millisecond() {
        let at = created(Some(&DateTime::from_fractional_secs(1_523_477_145, 0.713))).unwrap();
        assert_eq!(at.unix_timestamp(), 1_523_477_145);
        assert_eq!(at.millisecond(), 713);
        let at = created(Some(&DateTime::from_secs(1_795_000_000))).unwrap();
        assert_eq!(at.unix_timestamp(), 1_795_000_000);
        assert_eq!(created(None), None);
        // Past what a time can hold: undated, so AWSPREVIOUS is refused.
        assert_eq!(created(Some(&DateTime::from_secs(i64::MAX / 1000))), None);
    }
}
