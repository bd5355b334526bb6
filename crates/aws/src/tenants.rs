//! Tenants as Secrets Manager secrets named `<HOOKWARDEN_TENANT_SECRET_PREFIX><tenant>`.
//!
//! Why Secrets Manager and not an S3 object listing the tenants: a tenant's own secret has
//! to live there anyway (Scalefusion, OneAccess), so one secret per tenant is one place to
//! onboard, rotate and remove it; the function's role reads exactly the names under the prefix
//! (one IAM pattern, whatever the number of tenants); CloudTrail records every read and change
//! per tenant; and a lookup costs one GetSecretValue per tenant per TTL, off the hot path of
//! every other tenant (an index object would be read in full for every tenant and change
//! under concurrent edits).

use async_trait::async_trait;
use hookwarden_pipeline::ports::DependencyError;
use hookwarden_pipeline::tenants::{valid_tenant, TenantDirectory, TenantSecret};

use crate::sdk::Clients;
use crate::SecretsManagerSource;

pub struct SecretsManagerTenants {
    clients: Clients,
    prefix: String,
}

impl SecretsManagerTenants {
    pub fn new(clients: Clients, prefix: impl Into<String>) -> Self {
        Self {
            clients,
            prefix: prefix.into(),
        }
    }
}

#[async_trait]
impl TenantDirectory for SecretsManagerTenants {
    async fn open(&self, tenant: &str) -> Result<Option<TenantSecret>, DependencyError> {
        if !valid_tenant(tenant) {
            return Ok(None);
        }
        let source = SecretsManagerSource::new(
            self.clients.secrets_manager.clone(),
            format!("{}{tenant}", self.prefix),
            self.clients.timeout,
        );
        let Some(current) = source.fetch_if_exists().await? else {
            return Ok(None);
        };
        Ok(Some(TenantSecret {
            source: std::sync::Arc::new(source),
            current,
        }))
    }
}
