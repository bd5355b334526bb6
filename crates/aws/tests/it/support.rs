//! The functions' AWS clients, pointed at a test endpoint.

use std::time::Duration;

use hookwarden_aws::{sdk, Clients};
use hookwarden_testkit::moto::at_endpoint;

/// The functions' AWS clients for `endpoint` (moto, or a stub), as moto's test credentials.
pub async fn clients(endpoint: &str, timeout: Duration) -> Clients {
    let loader = at_endpoint(aws_config::defaults(sdk::behavior_version()), endpoint);
    Clients::from_loader(loader, timeout).await
}
