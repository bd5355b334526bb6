//! Configuration from the environment, read once at cold start.
//!
//! An empty variable counts as unset, so a SAM parameter left blank takes the default.
//!
//! | variable | meaning |
//! |---|---|
//! | `HOOKWARDEN_SINK` | Where verified events go: `s3`, `eventbridge` or `s3,eventbridge`. Required, except for OneAccess, which without it answers only the CHECK_URL handshake and 503s everything else. |
//! | `HOOKWARDEN_BUCKET` | S3 bucket holding events and the dedupe state. Required whenever `HOOKWARDEN_SINK` is set (the `eventbridge` sink needs it too: dedupe records and oversize payloads live there). |
//! | `HOOKWARDEN_PREFIX` | Key prefix inside the bucket. Default: the provider name (`knox`, `scalefusion`, `oneaccess`). Letters, digits and `. _ - /`; no leading or trailing `/`, no empty, `.` or `..` segment. |
//! | `HOOKWARDEN_EVENT_BUS` | EventBridge bus name or ARN. Required with the `eventbridge` sink. |
//! | `HOOKWARDEN_MAX_BODY_BYTES` | Largest accepted body in bytes (after transport base64 is undone); larger ones get 413. Default 1048576; at most 6291456 (the Lambda payload limit). |
//! | `HOOKWARDEN_SECRET_TTL_SECS` | How long a fetched secret is reused before it is read again. Default 300; 0 reads it on every request; at most 86400. |
//! | `HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS` | How long after a rotation (AWSCURRENT's creation date) the rotated-out value, AWSPREVIOUS, still verifies. Default 3600; 0 never accepts AWSPREVIOUS; at most 604800. |
//! | `HOOKWARDEN_DEPENDENCY_TIMEOUT_MS` | Time limit for each AWS call, retries included, so a slow dependency becomes a 503 inside the Lambda deadline. Default 3000; between 100 and 60000. |
//! | `HOOKWARDEN_TENANT_SECRET_PREFIX` | Optional: turns on tenants. A request to `/<tenant>` is served with the Secrets Manager secret named this prefix followed by the tenant name (`hookwarden/tenants/scalefusion/` + `acme`); no such secret: 404. Unset: the path is ignored, as before tenants. Letters, digits and `/ _ + = . @ -`, at most 448 characters. |
//! | `KNOX_CERT_BUCKET` | Knox only: bucket holding the Samsung Knox validation certificate. Default: `HOOKWARDEN_BUCKET`. |
//! | `KNOX_CERT_KEY` | Knox only, required: object key of that certificate (PEM or DER). |
//! | `KNOX_API_SECRET_ID` | Knox only, optional: Secrets Manager secret with Knox API credentials; when set, a missing or expired certificate is downloaded and written back to `KNOX_CERT_KEY`. Needs `KNOX_CERT_SPKI_SHA256`. |
//! | `KNOX_CERT_SPKI_SHA256` | Knox only: comma-separated SHA-256 digests (64 hex digits each) of the public keys (DER SubjectPublicKeyInfo) the certificate may carry; several during a key rotation. Set: a certificate with another key is never used, whether stored or downloaded, and one with a pinned key verifies even outside its validity period. Unset: the stored certificate is trusted as installed, only inside its validity period, and no download is accepted — so it is required with `KNOX_API_SECRET_ID`. Samsung's key: `c7bd4723b0358695a301338180fc0d296aeb4973c3c1d88dd7ef197dfdd23527` (the template's default). |
//! | `KNOX_SUBSCRIPTION_IDS` | Knox only: comma-separated Knox subscription ids this deployment serves; a validly signed callback whose `subscriptionId` is not listed gets 403 and nothing is stored. Unset (onboarding: the ids exist only once the callback URL does): nothing is delivered; every verified callback is quarantined under `{prefix}/_quarantine/`, answered 200, and admitted once its subscription is listed (docs/guides/knox-onboarding.md). Samsung signs every customer's callbacks with one key, so no list can mean "accept all". |
//! | `KNOX_QUARANTINE_PER_MINUTE` | Knox only: new quarantine objects one execution environment writes a minute; beyond it a callback to quarantine gets 503 (Knox retries later). Default 60; between 1 and 10000. |
//! | `SCALEFUSION_SECRET_ID` | Scalefusion only, required: Secrets Manager secret holding the webhook signing secret. |
//! | `ONEACCESS_SECRET_ID` | OneAccess only, required: Secrets Manager secret holding the callback signing/encryption settings. |
//! | `ONEACCESS_REPLAY_WINDOW_SECS` | OneAccess only: how far a callback timestamp may be from now. Default 300; between 1 and 3600. |

use std::time::Duration;

use hookwarden_pipeline::request::DEFAULT_MAX_BODY_BYTES;
use hookwarden_verify::x509::{SpkiPin, SAMSUNG_KNOX_SPKI_SHA256};

/// The Lambda request/response payload limit; a larger body can never arrive.
const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Everything a function needs from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `knox`, `scalefusion` or `oneaccess`.
    pub provider: &'static str,
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

/// Where events and dedupe state go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSettings {
    pub bucket: String,
    /// The `s3` sink: verified events are written to the bucket.
    pub store_events: bool,
    /// The `eventbridge` sink: the bus events are published to.
    pub event_bus: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSettings {
    Knox {
        cert_bucket: String,
        cert_key: String,
        api_secret_id: Option<String>,
        /// `KNOX_CERT_SPKI_SHA256`; empty: no pin (and then no API secret).
        cert_spki_sha256: Vec<SpkiPin>,
        /// Empty: every verified callback is quarantined, none delivered.
        subscription_ids: Vec<String>,
        /// `KNOX_QUARANTINE_PER_MINUTE`.
        quarantine_per_minute: u32,
    },
    Scalefusion {
        secret_id: String,
    },
    OneAccess {
        secret_id: String,
        replay_window: Duration,
    },
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
    pub fn from_env(provider: &'static str) -> Result<Settings, SettingsError> {
        Self::from_lookup(provider, |name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    ///
    /// # Panics
    /// When `provider` is not `knox`, `scalefusion` or `oneaccess`: a programming error.
    pub fn from_lookup(
        provider: &'static str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let var = |name: &str| read_var(&lookup, name);
        let bucket = var("HOOKWARDEN_BUCKET");
        let sink = match var("HOOKWARDEN_SINK") {
            Some(text) => Some(parse_sink(
                &text,
                bucket.clone(),
                var("HOOKWARDEN_EVENT_BUS"),
            )?),
            None if provider == "oneaccess" => None,
            None => {
                return Err(SettingsError::required(
                    "HOOKWARDEN_SINK",
                    "(s3, eventbridge or s3,eventbridge)",
                ))
            }
        };
        let prefix = match var("HOOKWARDEN_PREFIX") {
            Some(prefix) => check_prefix(prefix)?,
            None => provider.to_string(),
        };
        let max_body_bytes = number(
            var("HOOKWARDEN_MAX_BODY_BYTES"),
            "HOOKWARDEN_MAX_BODY_BYTES",
            DEFAULT_MAX_BODY_BYTES as u64,
            1..=LAMBDA_PAYLOAD_LIMIT as u64,
        )? as usize;
        let secret_ttl = number(
            var("HOOKWARDEN_SECRET_TTL_SECS"),
            "HOOKWARDEN_SECRET_TTL_SECS",
            300,
            0..=86_400,
        )?;
        let previous_secret_grace = number(
            var("HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS"),
            "HOOKWARDEN_PREVIOUS_SECRET_GRACE_SECS",
            hookwarden_pipeline::secrets::DEFAULT_PREVIOUS_GRACE.as_secs(),
            0..=604_800,
        )?;
        let timeout_ms = number(
            var("HOOKWARDEN_DEPENDENCY_TIMEOUT_MS"),
            "HOOKWARDEN_DEPENDENCY_TIMEOUT_MS",
            3000,
            100..=60_000,
        )?;
        let required = |name: &'static str| {
            var(name).ok_or_else(|| SettingsError::required(name, &format!("for {provider}")))
        };
        let provider_settings = match provider {
            "knox" => ProviderSettings::Knox {
                cert_bucket: var("KNOX_CERT_BUCKET").or(bucket).ok_or_else(|| {
                    SettingsError::required(
                        "KNOX_CERT_BUCKET",
                        "for knox when HOOKWARDEN_BUCKET is unset",
                    )
                })?,
                cert_key: required("KNOX_CERT_KEY")?,
                cert_spki_sha256: knox_pins(
                    var("KNOX_CERT_SPKI_SHA256"),
                    var("KNOX_API_SECRET_ID").is_some(),
                )?,
                api_secret_id: var("KNOX_API_SECRET_ID"),
                subscription_ids: var("KNOX_SUBSCRIPTION_IDS")
                    .map(|text| parse_subscription_ids(&text))
                    .transpose()?
                    .unwrap_or_default(),
                quarantine_per_minute: number(
                    var("KNOX_QUARANTINE_PER_MINUTE"),
                    "KNOX_QUARANTINE_PER_MINUTE",
                    hookwarden_pipeline::quarantine::DEFAULT_PER_MINUTE.into(),
                    1..=10_000,
                )? as u32,
            },
            "scalefusion" => ProviderSettings::Scalefusion {
                secret_id: required("SCALEFUSION_SECRET_ID")?,
            },
            "oneaccess" => ProviderSettings::OneAccess {
                secret_id: required("ONEACCESS_SECRET_ID")?,
                replay_window: Duration::from_secs(number(
                    var("ONEACCESS_REPLAY_WINDOW_SECS"),
                    "ONEACCESS_REPLAY_WINDOW_SECS",
                    300,
                    1..=3600,
                )?),
            },
            other => panic!("unknown provider {other:?}: expected knox, scalefusion or oneaccess"),
        };
        check_endpoints(&var)?;
        Ok(Settings {
            provider,
            sink,
            prefix,
            max_body_bytes,
            secret_ttl: Duration::from_secs(secret_ttl),
            previous_secret_grace: Duration::from_secs(previous_secret_grace),
            dependency_timeout: Duration::from_millis(timeout_ms),
            tenant_secret_prefix: var("HOOKWARDEN_TENANT_SECRET_PREFIX")
                .map(check_tenant_secret_prefix)
                .transpose()?,
            provider_settings,
        })
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
            .map_err(|err| SettingsError::new("KNOX_CERT_SPKI_SHA256", err.to_string())),
        None if downloads => Err(SettingsError::required(
            "KNOX_CERT_SPKI_SHA256",
            &format!(
                "with KNOX_API_SECRET_ID (a downloaded certificate is used only when its public key is pinned; \
                 Samsung's is {SAMSUNG_KNOX_SPKI_SHA256})"
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
                    "KNOX_SUBSCRIPTION_IDS",
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
    let (store_events, eventbridge) = (names.contains(&"s3"), names.contains(&"eventbridge"));
    let known = names.iter().all(|n| matches!(*n, "s3" | "eventbridge"));
    if !known || names.len() != usize::from(store_events) + usize::from(eventbridge) {
        return Err(SettingsError::new(
            "HOOKWARDEN_SINK",
            format!("expected s3, eventbridge or s3,eventbridge, got {text:?}"),
        ));
    }
    let bucket = bucket.ok_or_else(|| {
        SettingsError::required(
            "HOOKWARDEN_BUCKET",
            "when HOOKWARDEN_SINK is set (events and dedupe state live there)",
        )
    })?;
    let event_bus = match (eventbridge, event_bus) {
        (true, None) => {
            return Err(SettingsError::required("HOOKWARDEN_EVENT_BUS", "with the eventbridge sink"))
        }
        (true, bus) => bus,
        // A bus named without the sink would be silently unused: say so instead.
        (false, Some(_)) => {
            return Err(SettingsError::new(
                "HOOKWARDEN_EVENT_BUS",
                format!("set, but HOOKWARDEN_SINK is {text:?}; add eventbridge to HOOKWARDEN_SINK or unset it"),
            ))
        }
        (false, None) => None,
    };
    Ok(SinkSettings {
        bucket,
        store_events,
        event_bus,
    })
}

/// A Secrets Manager name is at most 512 characters of `A-Z a-z 0-9 / _ + = . @ -`; the
/// prefix leaves room for a tenant name (64) and the ARN's random suffix.
fn check_tenant_secret_prefix(prefix: String) -> Result<String, SettingsError> {
    let bad = |why: String| {
        Err(SettingsError::new(
            "HOOKWARDEN_TENANT_SECRET_PREFIX",
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
            "HOOKWARDEN_PREFIX",
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

fn number(
    text: Option<String>,
    variable: &'static str,
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

    fn settings(provider: &'static str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(provider, |name| map.get(name).cloned())
    }

    fn problem(provider: &'static str, vars: &[(&str, &str)]) -> String {
        settings(provider, vars).unwrap_err().to_string()
    }

    #[test]
    fn scalefusion_defaults() {
        let s = settings(
            "scalefusion",
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
                provider: "scalefusion",
                sink: Some(SinkSettings {
                    bucket: "b".into(),
                    store_events: true,
                    event_bus: None
                }),
                prefix: "scalefusion".into(),
                max_body_bytes: 1_048_576,
                secret_ttl: Duration::from_secs(300),
                previous_secret_grace: Duration::from_secs(3600),
                dependency_timeout: Duration::from_millis(3000),
                tenant_secret_prefix: None,
                provider_settings: ProviderSettings::Scalefusion {
                    secret_id: "sf".into()
                },
            }
        );
    }

    #[test]
    fn knox_with_both_sinks_and_overrides() {
        let s = settings(
            "knox",
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
                store_events: true,
                event_bus: Some("bus".into())
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
            ProviderSettings::Knox {
                cert_bucket: "events".into(),
                cert_key: "certs/knox.pem".into(),
                api_secret_id: Some("knox-api".into()),
                cert_spki_sha256: vec![SpkiPin::from_hex(SAMSUNG_KNOX_SPKI_SHA256).unwrap()],
                subscription_ids: vec!["123456789123".into(), "566797f70f280325c20ff234".into()],
                quarantine_per_minute: 60,
            }
        );
        for typo in ["a,,b", "a,", "a,\u{7}"] {
            let err = settings(
                "knox",
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
            settings("knox", &[&base[..], vars].concat()).map(|s| match s.provider_settings {
                ProviderSettings::Knox {
                    cert_spki_sha256, ..
                } => cert_spki_sha256,
                _ => unreachable!(),
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
                "scalefusion",
                &[&base[..], &[("HOOKWARDEN_SINK", spelling)]].concat(),
            )
            .unwrap();
            let sink = s.sink.unwrap();
            assert!(
                sink.store_events && sink.event_bus.as_deref() == Some("bus"),
                "{spelling}"
            );
        }
        let s = settings(
            "scalefusion",
            &[&base[..], &[("HOOKWARDEN_SINK", "eventbridge")]].concat(),
        )
        .unwrap();
        assert_eq!(
            s.sink.unwrap(),
            SinkSettings {
                bucket: "b".into(),
                store_events: false,
                event_bus: Some("bus".into())
            }
        );
    }

    #[test]
    fn oneaccess_without_sink_is_allowed() {
        let s = settings(
            "oneaccess",
            &[
                ("ONEACCESS_SECRET_ID", "oa"),
                ("ONEACCESS_REPLAY_WINDOW_SECS", "60"),
            ],
        )
        .unwrap();
        assert_eq!(s.sink, None);
        assert_eq!(
            s.provider_settings,
            ProviderSettings::OneAccess {
                secret_id: "oa".into(),
                replay_window: Duration::from_secs(60)
            }
        );
    }

    #[test]
    fn errors_name_the_variable_and_the_problem() {
        let sf = [("SCALEFUSION_SECRET_ID", "sf"), ("HOOKWARDEN_BUCKET", "b")];
        assert_eq!(
            problem(
                "scalefusion",
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
                    "scalefusion",
                    &[&sf[..], &[("HOOKWARDEN_SINK", bad)]].concat()
                )
                .starts_with("HOOKWARDEN_SINK: expected s3, eventbridge or s3,eventbridge, got"),
                "{bad}"
            );
        }
        assert_eq!(
            problem("scalefusion", &sf),
            "HOOKWARDEN_SINK: required (s3, eventbridge or s3,eventbridge), but not set"
        );
        assert_eq!(
            problem("scalefusion", &[("SCALEFUSION_SECRET_ID", "sf"), ("HOOKWARDEN_SINK", "s3")]),
            "HOOKWARDEN_BUCKET: required when HOOKWARDEN_SINK is set (events and dedupe state live there), but not set"
        );
        assert_eq!(
            problem(
                "scalefusion",
                &[&sf[..], &[("HOOKWARDEN_SINK", "eventbridge")]].concat()
            ),
            "HOOKWARDEN_EVENT_BUS: required with the eventbridge sink, but not set"
        );
        assert!(problem(
            "scalefusion",
            &[
                &sf[..],
                &[("HOOKWARDEN_SINK", "s3"), ("HOOKWARDEN_EVENT_BUS", "bus")]
            ]
            .concat()
        )
        .starts_with("HOOKWARDEN_EVENT_BUS: set, but HOOKWARDEN_SINK is \"s3\""));
        assert_eq!(
            problem(
                "scalefusion",
                &[("HOOKWARDEN_SINK", "s3"), ("HOOKWARDEN_BUCKET", "b")]
            ),
            "SCALEFUSION_SECRET_ID: required for scalefusion, but not set"
        );
        assert_eq!(
            problem("oneaccess", &[]),
            "ONEACCESS_SECRET_ID: required for oneaccess, but not set"
        );
        assert_eq!(
            problem(
                "knox",
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
                problem("scalefusion", &[&s3[..], &[(variable, value)]].concat()),
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
                "scalefusion",
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
                "scalefusion",
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
            assert!(settings("scalefusion", &vars).is_ok(), "{url}");
        }
        for variable in ENDPOINT_VARIABLES {
            let vars = [base.as_slice(), &[(variable, "http://s3.example")]].concat();
            let err = settings("scalefusion", &vars).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.problem.contains("loopback addresses only"), "{err}");
        }
    }
}
