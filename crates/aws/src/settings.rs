//! Configuration from the environment, read once at cold start. What each variable means,
//! its default and its range: docs/reference/configuration.md, which a test holds to
//! [`var::ALL`].
//!
//! An empty variable counts as unset, so a SAM parameter left blank takes the default.

use std::time::Duration;

use hookwarden_pipeline::delivery::Sinks;
use hookwarden_pipeline::request::DEFAULT_MAX_BODY_BYTES;
use hookwarden_pipeline::Provider;
use hookwarden_verify::x509::{SpkiPin, SAMSUNG_KNOX_SPKI_SHA256};

/// The Lambda request/response payload limit; a larger body can never arrive.
const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Declares each variable's name once: a constant the code reads it by, and [`var::ALL`].
macro_rules! variables {
    ($($name:ident),* $(,)?) => {
        $(pub const $name: &str = stringify!($name);)*
        /// Every variable the receivers read, the configuration reference's rows.
        pub const ALL: &[&str] = &[$($name),*];
    };
}

/// The names of the variables the receivers read.
pub mod var {
    variables!(
        HOOKWARDEN_SINK,
        HOOKWARDEN_BUCKET,
        HOOKWARDEN_PREFIX,
        HOOKWARDEN_EVENT_BUS,
        HOOKWARDEN_MAX_BODY_BYTES,
        HOOKWARDEN_SECRET_TTL_SECS,
        HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS,
        HOOKWARDEN_DEPENDENCY_TIMEOUT_MS,
        HOOKWARDEN_TENANT_SECRET_PREFIX,
        KNOX_CERT_BUCKET,
        KNOX_CERT_KEY,
        KNOX_API_SECRET_ID,
        KNOX_CERT_SPKI_SHA256,
        KNOX_SUBSCRIPTION_IDS,
        KNOX_QUARANTINE_PER_MINUTE,
        SCALEFUSION_SECRET_ID,
        ONEACCESS_SECRET_ID,
        ONEACCESS_REPLAY_WINDOW_SECS,
        RUST_LOG,
    );
}

/// Everything a function needs from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `None` only for OneAccess without `HOOKWARDEN_SINK`.
    pub sink: Option<SinkSettings>,
    pub prefix: String,
    pub max_body_bytes: usize,
    pub secret_ttl: Duration,
    /// How long AWSPREVIOUS verifies after AWSCURRENT was created; zero: never.
    pub previous_secret_grace: Duration,
    pub dependency_timeout: Duration,
    /// `HOOKWARDEN_TENANT_SECRET_PREFIX`: tenants' secrets are this followed by the tenant
    /// name; `None`: no tenants, the path is ignored.
    pub tenant_secret_prefix: Option<String>,
    pub provider_settings: ProviderSettings,
}

/// Where events go (`HOOKWARDEN_SINK`), with the bucket that holds them or, for the
/// `eventbridge` sink alone, the writes that tell a first delivery from a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSettings {
    pub bucket: String,
    /// The bus is named by `HOOKWARDEN_EVENT_BUS`.
    pub sinks: Sinks<String>,
}

/// The settings only one provider reads; which variant it is says which provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSettings {
    Knox(KnoxSettings),
    Scalefusion(ScalefusionSettings),
    OneAccess(OneAccessSettings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnoxSettings {
    pub cert_bucket: String,
    pub cert_key: String,
    pub api_secret_id: Option<String>,
    /// `KNOX_CERT_SPKI_SHA256`; empty: no pin (and then no API secret).
    pub cert_spki_sha256: Vec<SpkiPin>,
    /// Empty: every verified callback is quarantined, none delivered.
    pub subscription_ids: Vec<String>,
    pub quarantine_per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalefusionSettings {
    pub secret_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneAccessSettings {
    pub secret_id: String,
    pub replay_window: Duration,
}

/// A variable that is missing or wrong; the message names it and says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub problem: String,
}

impl SettingsError {
    pub(crate) fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }

    fn required(variable: &'static str, why: &str) -> Self {
        Self::new(variable, format!("required {why}, but not set"))
    }
}

/// `name`'s value through `lookup`, trimmed; `None` when unset or blank, which count alike.
pub(crate) fn read_var(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Settings {
    /// Reads the settings for `provider` from the process environment.
    pub fn from_env(provider: Provider) -> Result<Settings, SettingsError> {
        Self::from_lookup(provider, |name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(
        provider: Provider,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let var = |name: &str| read_var(&lookup, name);
        let number = |name, default, range| number(name, var(name), default, range);
        let bucket = var(var::HOOKWARDEN_BUCKET);
        let sink = match var(var::HOOKWARDEN_SINK) {
            Some(text) => Some(parse_sink(
                &text,
                bucket.clone(),
                var(var::HOOKWARDEN_EVENT_BUS),
            )?),
            None if provider == Provider::OneAccess => None,
            None => {
                return Err(SettingsError::required(
                    var::HOOKWARDEN_SINK,
                    "(s3, eventbridge or s3,eventbridge)",
                ))
            }
        };
        let prefix = match var(var::HOOKWARDEN_PREFIX) {
            Some(prefix) => check_prefix(prefix)?,
            None => provider.name().to_string(),
        };
        let max_body_bytes = number(
            var::HOOKWARDEN_MAX_BODY_BYTES,
            DEFAULT_MAX_BODY_BYTES as u64,
            1..=LAMBDA_PAYLOAD_LIMIT as u64,
        )? as usize;
        let secret_ttl = number(var::HOOKWARDEN_SECRET_TTL_SECS, 300, 0..=86_400)?;
        let previous_secret_grace = number(
            var::HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS,
            hookwarden_pipeline::secrets::DEFAULT_PREVIOUS_GRACE.as_secs(),
            0..=604_800,
        )?;
        let timeout_ms = number(var::HOOKWARDEN_DEPENDENCY_TIMEOUT_MS, 3000, 100..=60_000)?;
        let required = |name: &'static str| {
            var(name).ok_or_else(|| SettingsError::required(name, &format!("for {provider}")))
        };
        let provider_settings = match provider {
            Provider::Knox => ProviderSettings::Knox(KnoxSettings {
                cert_bucket: var(var::KNOX_CERT_BUCKET).or(bucket).ok_or_else(|| {
                    SettingsError::required(
                        var::KNOX_CERT_BUCKET,
                        &format!("for knox when {} is unset", var::HOOKWARDEN_BUCKET),
                    )
                })?,
                cert_key: required(var::KNOX_CERT_KEY)?,
                cert_spki_sha256: knox_pins(
                    var(var::KNOX_CERT_SPKI_SHA256),
                    var(var::KNOX_API_SECRET_ID).is_some(),
                )?,
                api_secret_id: var(var::KNOX_API_SECRET_ID),
                subscription_ids: var(var::KNOX_SUBSCRIPTION_IDS)
                    .map(|text| parse_subscription_ids(&text))
                    .transpose()?
                    .unwrap_or_default(),
                quarantine_per_minute: number(
                    var::KNOX_QUARANTINE_PER_MINUTE,
                    hookwarden_pipeline::quarantine::DEFAULT_PER_MINUTE.into(),
                    1..=10_000,
                )? as u32,
            }),
            Provider::Scalefusion => ProviderSettings::Scalefusion(ScalefusionSettings {
                secret_id: required(var::SCALEFUSION_SECRET_ID)?,
            }),
            Provider::OneAccess => ProviderSettings::OneAccess(OneAccessSettings {
                secret_id: required(var::ONEACCESS_SECRET_ID)?,
                replay_window: Duration::from_secs(number(
                    var::ONEACCESS_REPLAY_WINDOW_SECS,
                    300,
                    1..=3600,
                )?),
            }),
        };
        check_endpoints(&var)?;
        Ok(Settings {
            sink,
            prefix,
            max_body_bytes,
            secret_ttl: Duration::from_secs(secret_ttl),
            previous_secret_grace: Duration::from_secs(previous_secret_grace),
            dependency_timeout: Duration::from_millis(timeout_ms),
            tenant_secret_prefix: var(var::HOOKWARDEN_TENANT_SECRET_PREFIX)
                .map(check_tenant_secret_prefix)
                .transpose()?,
            provider_settings,
        })
    }

    pub fn provider(&self) -> Provider {
        match self.provider_settings {
            ProviderSettings::Knox(_) => Provider::Knox,
            ProviderSettings::Scalefusion(_) => Provider::Scalefusion,
            ProviderSettings::OneAccess(_) => Provider::OneAccess,
        }
    }
}

/// The endpoint variables the AWS SDK reads (`AWS_ENDPOINT_URL` and the per-service ones the
/// functions call).
const ENDPOINT_VARIABLES: [&str; 4] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
];

/// Every AWS request carries the session token in a header: over plain HTTP it would cross
/// the network readable, so `http://` endpoints are for loopback emulators (moto, MinIO) only.
fn check_endpoints(var: &impl Fn(&str) -> Option<String>) -> Result<(), SettingsError> {
    for variable in ENDPOINT_VARIABLES {
        let Some(url) = var(variable) else { continue };
        let Ok(uri) = http::Uri::try_from(url.as_str()) else {
            return Err(SettingsError::new(
                variable,
                format!("{url:?} is not a URL; expected e.g. https://s3.eu-west-1.amazonaws.com"),
            ));
        };
        if uri.scheme_str() == Some("http") && !uri.host().is_some_and(crate::is_loopback) {
            return Err(SettingsError::new(
                variable,
                format!("{url:?}: http:// is accepted for loopback addresses only (moto, a local MinIO); use https://"),
            ));
        }
    }
    Ok(())
}

/// `KNOX_CERT_SPKI_SHA256`: public-key pins separated by commas. Required with a Knox API
/// secret: a downloaded certificate is accepted only when its key is pinned, so without a pin
/// the download could never succeed (and before pins, whoever answered it set the anchor).
fn knox_pins(text: Option<String>, downloads: bool) -> Result<Vec<SpkiPin>, SettingsError> {
    match text {
        Some(text) => SpkiPin::parse_list(&text)
            .map_err(|err| SettingsError::new(var::KNOX_CERT_SPKI_SHA256, err.to_string())),
        None if downloads => Err(SettingsError::required(
            var::KNOX_CERT_SPKI_SHA256,
            &format!(
                "with {} (a downloaded certificate is used only when its public key is pinned; \
                 Samsung's is {SAMSUNG_KNOX_SPKI_SHA256})",
                var::KNOX_API_SECRET_ID
            ),
        )),
        None => Ok(Vec::new()),
    }
}

/// `KNOX_SUBSCRIPTION_IDS`: ids separated by commas, each trimmed; an empty entry is a typo,
/// not "any", so it is refused.
fn parse_subscription_ids(text: &str) -> Result<Vec<String>, SettingsError> {
    text.split(',')
        .map(|id| {
            let id = id.trim();
            match id.is_empty() || id.chars().any(char::is_control) {
                true => Err(SettingsError::new(
                    var::KNOX_SUBSCRIPTION_IDS,
                    format!("expected subscription ids separated by commas, got {text:?}"),
                )),
                false => Ok(id.to_string()),
            }
        })
        .collect()
}

fn parse_sink(
    text: &str,
    bucket: Option<String>,
    event_bus: Option<String>,
) -> Result<SinkSettings, SettingsError> {
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    let (s3, eventbridge) = (names.contains(&"s3"), names.contains(&"eventbridge"));
    let known = names.iter().all(|n| matches!(*n, "s3" | "eventbridge"));
    if !known || names.len() != usize::from(s3) + usize::from(eventbridge) {
        return Err(SettingsError::new(
            var::HOOKWARDEN_SINK,
            format!("expected s3, eventbridge or s3,eventbridge, got {text:?}"),
        ));
    }
    let bucket = bucket.ok_or_else(|| {
        SettingsError::required(
            var::HOOKWARDEN_BUCKET,
            &format!(
                "when {} is set (events and dedupe state live there)",
                var::HOOKWARDEN_SINK
            ),
        )
    })?;
    let sinks = match (s3, eventbridge, event_bus) {
        (_, true, None) => {
            return Err(SettingsError::required(
                var::HOOKWARDEN_EVENT_BUS,
                "with the eventbridge sink",
            ))
        }
        (true, true, Some(bus)) => Sinks::S3AndEventBridge(bus),
        (false, true, Some(bus)) => Sinks::EventBridge(bus),
        // A bus named without the sink would be silently unused: say so instead.
        (_, false, Some(_)) => {
            return Err(SettingsError::new(
                var::HOOKWARDEN_EVENT_BUS,
                format!(
                    "set, but {sink} is {text:?}; add eventbridge to {sink} or unset it",
                    sink = var::HOOKWARDEN_SINK
                ),
            ))
        }
        (_, false, None) => Sinks::S3,
    };
    Ok(SinkSettings { bucket, sinks })
}

/// A Secrets Manager name is at most 512 characters of `A-Z a-z 0-9 / _ + = . @ -`; the
/// prefix leaves room for a tenant name (64) and the ARN's random suffix.
fn check_tenant_secret_prefix(prefix: String) -> Result<String, SettingsError> {
    let bad = |why: String| {
        Err(SettingsError::new(
            var::HOOKWARDEN_TENANT_SECRET_PREFIX,
            format!("{why}, got {prefix:?}"),
        ))
    };
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return bad(format!(
            "a Secrets Manager name prefix: letters, digits and / _ + = . @ -, not {c:?}"
        ));
    }
    if prefix.len() > 448 {
        return bad("at most 448 characters".to_string());
    }
    Ok(prefix)
}

fn check_prefix(prefix: String) -> Result<String, SettingsError> {
    let bad = |why: &str| {
        Err(SettingsError::new(
            var::HOOKWARDEN_PREFIX,
            format!("{why}, got {prefix:?}"),
        ))
    };
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return bad(&format!(
            "only letters, digits and . _ - / are allowed, not {c:?}"
        ));
    }
    if prefix.starts_with('/') || prefix.ends_with('/') {
        return bad("must not start or end with /");
    }
    if prefix
        .split('/')
        .any(|segment| matches!(segment, "" | "." | ".."))
    {
        return bad("must not contain an empty, . or .. segment");
    }
    Ok(prefix)
}

/// `variable`'s value `text` as a whole number in `range`; `default` when unset.
fn number(
    variable: &'static str,
    text: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, SettingsError> {
    let Some(text) = text else { return Ok(default) };
    match text.parse::<u64>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(SettingsError::new(
            variable,
            format!(
                "expected a whole number from {} to {}, got {text:?}",
                range.start(),
                range.end()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(provider: Provider, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(provider, |name| map.get(name).cloned())
    }

    /// docs/reference/configuration.md has a row for every variable the receivers read, once,
    /// and none for another: its rows are `var::ALL`, and what `from_lookup` asks for, for each
    /// provider from an environment that sets everything, is in `var::ALL` (or is one the page
    /// lists as read by the runtime and the SDK, which the code only checks).
    #[test]
    fn the_configuration_reference_lists_every_variable_the_receivers_read() {
        use hookwarden_testkit::configuration_reference as reference;
        use std::collections::BTreeSet;

        reference::assert_lists_exactly("The receivers", var::ALL.iter().copied());

        let runtime = reference::runtime_and_sdk_variables();
        let everything: HashMap<&str, String> = [
            (var::HOOKWARDEN_SINK, "s3,eventbridge".to_string()),
            (var::HOOKWARDEN_BUCKET, "b".into()),
            (var::HOOKWARDEN_PREFIX, "p".into()),
            (var::HOOKWARDEN_EVENT_BUS, "bus".into()),
            (var::HOOKWARDEN_MAX_BODY_BYTES, "1".into()),
            (var::HOOKWARDEN_SECRET_TTL_SECS, "1".into()),
            (var::HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS, "1".into()),
            (var::HOOKWARDEN_DEPENDENCY_TIMEOUT_MS, "100".into()),
            (var::HOOKWARDEN_TENANT_SECRET_PREFIX, "t/".into()),
            (var::KNOX_CERT_BUCKET, "c".into()),
            (var::KNOX_CERT_KEY, "k".into()),
            (var::KNOX_API_SECRET_ID, "api".into()),
            (var::KNOX_CERT_SPKI_SHA256, SAMSUNG_KNOX_SPKI_SHA256.into()),
            (var::KNOX_SUBSCRIPTION_IDS, "s".into()),
            (var::KNOX_QUARANTINE_PER_MINUTE, "1".into()),
            (var::SCALEFUSION_SECRET_ID, "sf".into()),
            (var::ONEACCESS_SECRET_ID, "oa".into()),
            (var::ONEACCESS_REPLAY_WINDOW_SECS, "1".into()),
        ]
        .into_iter()
        .collect();
        for provider in Provider::ALL {
            let asked = std::cell::RefCell::new(BTreeSet::new());
            Settings::from_lookup(provider, |name| {
                asked.borrow_mut().insert(name.to_string());
                everything.get(name).cloned()
            })
            .unwrap();
            let asked = asked.into_inner();
            let unknown: Vec<_> = asked
                .iter()
                .filter(|name| !var::ALL.contains(&name.as_str()) && !runtime.contains(name))
                .collect();
            assert!(
                unknown.is_empty(),
                "{provider} reads {unknown:?}, not in var::ALL"
            );
        }
    }

    fn problem(provider: Provider, vars: &[(&str, &str)]) -> String {
        settings(provider, vars).unwrap_err().to_string()
    }

    #[test]
    fn scalefusion_defaults() {
        let s = settings(
            Provider::Scalefusion,
            &[
                ("HOOKWARDEN_SINK", "s3"),
                ("HOOKWARDEN_BUCKET", "b"),
                ("SCALEFUSION_SECRET_ID", "sf"),
            ],
        )
        .unwrap();
        assert_eq!(
            s,
            Settings {
                sink: Some(SinkSettings {
                    bucket: "b".into(),
                    sinks: Sinks::S3,
                }),
                prefix: "scalefusion".into(),
                max_body_bytes: 1_048_576,
                secret_ttl: Duration::from_secs(300),
                previous_secret_grace: Duration::from_secs(3600),
                dependency_timeout: Duration::from_millis(3000),
                tenant_secret_prefix: None,
                provider_settings: ProviderSettings::Scalefusion(ScalefusionSettings {
                    secret_id: "sf".into()
                }),
            }
        );
    }

    #[test]
    fn knox_with_both_sinks_and_overrides() {
        let s = settings(
            Provider::Knox,
            &[
                ("HOOKWARDEN_SINK", "s3,eventbridge"),
                ("HOOKWARDEN_BUCKET", "events"),
                ("HOOKWARDEN_EVENT_BUS", "bus"),
                ("HOOKWARDEN_PREFIX", "prod/knox-1.v2"),
                ("HOOKWARDEN_MAX_BODY_BYTES", "2048"),
                ("HOOKWARDEN_SECRET_TTL_SECS", "0"),
                ("HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS", "0"),
                ("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS", "1500"),
                ("KNOX_CERT_KEY", "certs/knox.pem"),
                ("KNOX_API_SECRET_ID", "knox-api"),
                ("KNOX_CERT_SPKI_SHA256", SAMSUNG_KNOX_SPKI_SHA256),
                ("KNOX_CERT_BUCKET", ""),
                (
                    "KNOX_SUBSCRIPTION_IDS",
                    " 123456789123, 566797f70f280325c20ff234 ",
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            s.sink,
            Some(SinkSettings {
                bucket: "events".into(),
                sinks: Sinks::S3AndEventBridge("bus".into()),
            })
        );
        assert_eq!(s.prefix, "prod/knox-1.v2");
        assert_eq!(s.max_body_bytes, 2048);
        assert_eq!(s.secret_ttl, Duration::ZERO);
        assert_eq!(s.previous_secret_grace, Duration::ZERO);
        assert_eq!(s.dependency_timeout, Duration::from_millis(1500));
        // An empty KNOX_CERT_BUCKET falls back to HOOKWARDEN_BUCKET.
        assert_eq!(
            s.provider_settings,
            ProviderSettings::Knox(KnoxSettings {
                cert_bucket: "events".into(),
                cert_key: "certs/knox.pem".into(),
                api_secret_id: Some("knox-api".into()),
                cert_spki_sha256: vec![SpkiPin::from_hex(SAMSUNG_KNOX_SPKI_SHA256).unwrap()],
                subscription_ids: vec!["123456789123".into(), "566797f70f280325c20ff234".into()],
                quarantine_per_minute: 60,
            })
        );
        for typo in ["a,,b", "a,", "a,\u{7}"] {
            let err = settings(
                Provider::Knox,
                &[
                    ("HOOKWARDEN_SINK", "s3"),
                    ("HOOKWARDEN_BUCKET", "events"),
                    ("KNOX_CERT_KEY", "k"),
                    ("KNOX_SUBSCRIPTION_IDS", typo),
                ],
            )
            .unwrap_err();
            assert_eq!(err.variable, "KNOX_SUBSCRIPTION_IDS", "{typo:?}");
        }
    }

    /// A4/A5: a certificate download is only ever configured with a key pin.
    #[test]
    fn knox_certificate_pins() {
        let base = [
            ("HOOKWARDEN_SINK", "s3"),
            ("HOOKWARDEN_BUCKET", "events"),
            ("KNOX_CERT_KEY", "_certificates/knox.pem"),
        ];
        let pins = |vars: &[(&str, &str)]| {
            settings(Provider::Knox, &[&base[..], vars].concat()).map(|s| {
                match s.provider_settings {
                    ProviderSettings::Knox(knox) => knox.cert_spki_sha256,
                    _ => unreachable!(),
                }
            })
        };
        assert_eq!(pins(&[]).unwrap(), []);
        let rotation = format!("{SAMSUNG_KNOX_SPKI_SHA256}, {}", "AB".repeat(32));
        assert_eq!(
            pins(&[("KNOX_CERT_SPKI_SHA256", &rotation)]).unwrap(),
            [
                SpkiPin::from_hex(SAMSUNG_KNOX_SPKI_SHA256).unwrap(),
                SpkiPin::from_hex(&"ab".repeat(32)).unwrap()
            ]
        );
        let err = pins(&[("KNOX_API_SECRET_ID", "knox-api")]).unwrap_err();
        assert_eq!(err.variable, "KNOX_CERT_SPKI_SHA256");
        assert!(
            err.problem.starts_with("required with KNOX_API_SECRET_ID")
                && err.problem.contains(SAMSUNG_KNOX_SPKI_SHA256),
            "{err}"
        );
        for bad in ["c7bd", "sha256:ab", &format!("{SAMSUNG_KNOX_SPKI_SHA256},")] {
            let err = pins(&[("KNOX_CERT_SPKI_SHA256", bad)]).unwrap_err();
            assert_eq!(err.variable, "KNOX_CERT_SPKI_SHA256", "{bad}");
        }
    }

    #[test]
    fn sink_spellings() {
        let base = [
            ("HOOKWARDEN_BUCKET", "b"),
            ("HOOKWARDEN_EVENT_BUS", "bus"),
            ("SCALEFUSION_SECRET_ID", "sf"),
        ];
        for spelling in ["s3,eventbridge", "eventbridge,s3", " s3 , eventbridge "] {
            let s = settings(
                Provider::Scalefusion,
                &[&base[..], &[("HOOKWARDEN_SINK", spelling)]].concat(),
            )
            .unwrap();
            let sink = s.sink.unwrap();
            assert!(
                sink.sinks == Sinks::S3AndEventBridge("bus".into()),
                "{spelling}"
            );
        }
        let s = settings(
            Provider::Scalefusion,
            &[&base[..], &[("HOOKWARDEN_SINK", "eventbridge")]].concat(),
        )
        .unwrap();
        assert_eq!(
            s.sink.unwrap(),
            SinkSettings {
                bucket: "b".into(),
                sinks: Sinks::EventBridge("bus".into()),
            }
        );
    }

    #[test]
    fn oneaccess_without_sink_is_allowed() {
        let s = settings(
            Provider::OneAccess,
            &[
                ("ONEACCESS_SECRET_ID", "oa"),
                ("ONEACCESS_REPLAY_WINDOW_SECS", "60"),
            ],
        )
        .unwrap();
        assert_eq!(s.sink, None);
        assert_eq!(
            s.provider_settings,
            ProviderSettings::OneAccess(OneAccessSettings {
                secret_id: "oa".into(),
                replay_window: Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn errors_name_the_variable_and_the_problem() {
        let sf = [("SCALEFUSION_SECRET_ID", "sf"), ("HOOKWARDEN_BUCKET", "b")];
        assert_eq!(
            problem(
                Provider::Scalefusion,
                &[&sf[..], &[("HOOKWARDEN_SINK", "sqs")]].concat()
            ),
            "HOOKWARDEN_SINK: expected s3, eventbridge or s3,eventbridge, got \"sqs\""
        );
        for bad in [
            "s3,",
            "s3,s3",
            "S3",
            "s3;eventbridge",
            ",",
            "eventbridge,s3,sqs",
        ] {
            assert!(
                problem(
                    Provider::Scalefusion,
                    &[&sf[..], &[("HOOKWARDEN_SINK", bad)]].concat()
                )
                .starts_with("HOOKWARDEN_SINK: expected s3, eventbridge or s3,eventbridge, got"),
                "{bad}"
            );
        }
        assert_eq!(
            problem(Provider::Scalefusion, &sf),
            "HOOKWARDEN_SINK: required (s3, eventbridge or s3,eventbridge), but not set"
        );
        assert_eq!(
            problem(Provider::Scalefusion, &[("SCALEFUSION_SECRET_ID", "sf"), ("HOOKWARDEN_SINK", "s3")]),
            "HOOKWARDEN_BUCKET: required when HOOKWARDEN_SINK is set (events and dedupe state live there), but not set"
        );
        assert_eq!(
            problem(
                Provider::Scalefusion,
                &[&sf[..], &[("HOOKWARDEN_SINK", "eventbridge")]].concat()
            ),
            "HOOKWARDEN_EVENT_BUS: required with the eventbridge sink, but not set"
        );
        assert!(problem(
            Provider::Scalefusion,
            &[
                &sf[..],
                &[("HOOKWARDEN_SINK", "s3"), ("HOOKWARDEN_EVENT_BUS", "bus")]
            ]
            .concat()
        )
        .starts_with("HOOKWARDEN_EVENT_BUS: set, but HOOKWARDEN_SINK is \"s3\""));
        assert_eq!(
            problem(
                Provider::Scalefusion,
                &[("HOOKWARDEN_SINK", "s3"), ("HOOKWARDEN_BUCKET", "b")]
            ),
            "SCALEFUSION_SECRET_ID: required for scalefusion, but not set"
        );
        assert_eq!(
            problem(Provider::OneAccess, &[]),
            "ONEACCESS_SECRET_ID: required for oneaccess, but not set"
        );
        assert_eq!(
            problem(
                Provider::Knox,
                &[("HOOKWARDEN_SINK", "s3"), ("HOOKWARDEN_BUCKET", "b")]
            ),
            "KNOX_CERT_KEY: required for knox, but not set"
        );
        let s3 = [
            ("HOOKWARDEN_SINK", "s3"),
            ("HOOKWARDEN_BUCKET", "b"),
            ("SCALEFUSION_SECRET_ID", "sf"),
        ];
        for (variable, value, expected) in [
            (
                "HOOKWARDEN_MAX_BODY_BYTES",
                "0",
                "expected a whole number from 1 to 6291456, got \"0\"",
            ),
            (
                "HOOKWARDEN_MAX_BODY_BYTES",
                "1MB",
                "expected a whole number from 1 to 6291456, got \"1MB\"",
            ),
            (
                "HOOKWARDEN_DEPENDENCY_TIMEOUT_MS",
                "-5",
                "expected a whole number from 100 to 60000, got \"-5\"",
            ),
            (
                "HOOKWARDEN_SECRET_TTL_SECS",
                "86401",
                "expected a whole number from 0 to 86400, got \"86401\"",
            ),
            (
                "HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS",
                "604801",
                "expected a whole number from 0 to 604800, got \"604801\"",
            ),
        ] {
            assert_eq!(
                problem(
                    Provider::Scalefusion,
                    &[&s3[..], &[(variable, value)]].concat()
                ),
                format!("{variable}: {expected}")
            );
        }
    }

    #[test]
    fn prefix_rules() {
        let base = [
            ("HOOKWARDEN_SINK", "s3"),
            ("HOOKWARDEN_BUCKET", "b"),
            ("SCALEFUSION_SECRET_ID", "sf"),
        ];
        let with = |prefix: &'static str| {
            settings(
                Provider::Scalefusion,
                &[&base[..], &[("HOOKWARDEN_PREFIX", prefix)]].concat(),
            )
        };
        for good in ["a", "A.b_c-d/e", "x/y/z"] {
            assert_eq!(with(good).unwrap().prefix, good);
        }
        for bad in ["/a", "a/", "a//b", "a/../b", "./a", "a b", "ä", "a*"] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.variable, "HOOKWARDEN_PREFIX", "{bad}");
        }
    }
    #[test]
    fn tenant_secret_prefix_is_a_secrets_manager_name_prefix() {
        let with = |prefix: &str| {
            settings(
                Provider::Scalefusion,
                &[
                    ("HOOKWARDEN_SINK", "s3"),
                    ("HOOKWARDEN_BUCKET", "b"),
                    ("SCALEFUSION_SECRET_ID", "sf"),
                    ("HOOKWARDEN_TENANT_SECRET_PREFIX", prefix),
                ],
            )
        };
        assert_eq!(with("").unwrap().tenant_secret_prefix, None);
        assert_eq!(
            with("hw/tenants/scalefusion/")
                .unwrap()
                .tenant_secret_prefix,
            Some("hw/tenants/scalefusion/".into())
        );
        let long = "a".repeat(449);
        for bad in ["hw/tenants/*", "hw tenants/", "hw/ä/", long.as_str()] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.variable, "HOOKWARDEN_TENANT_SECRET_PREFIX", "{bad}");
        }
    }

    #[test]
    fn plain_http_endpoints_only_on_loopback() {
        let base = [
            ("HOOKWARDEN_SINK", "s3"),
            ("HOOKWARDEN_BUCKET", "b"),
            ("SCALEFUSION_SECRET_ID", "s"),
        ];
        for url in [
            "http://127.0.0.1:5000",
            "http://localhost:4566",
            "https://s3.example",
        ] {
            let vars = [base.as_slice(), &[("AWS_ENDPOINT_URL_S3", url)]].concat();
            assert!(settings(Provider::Scalefusion, &vars).is_ok(), "{url}");
        }
        for variable in ENDPOINT_VARIABLES {
            let vars = [base.as_slice(), &[(variable, "http://s3.example")]].concat();
            let err = settings(Provider::Scalefusion, &vars).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.problem.contains("loopback addresses only"), "{err}");
        }
    }
}
