//! `silence-watchdog`: run on a schedule, finds every event stream (provider, tenant, event
//! type) the webhook functions counted in `EventsStored`, judges each against the cadence
//! rules (`hookwarden_pipeline::silence`, the verdicts `hookwarden streams` prints), and
//! reports:
//! - one EMF line with `SilentStreams` (alarmed on) and `WatchdogRuns` — the heartbeat, whose
//!   alarm treats missing data as breaching, so a watchdog that stopped or fails is itself
//!   reported;
//! - a log line per silent stream, and a message on the alarm topic naming the streams that
//!   fell silent since the previous run.
//!
//! Configuration: docs/reference/configuration.md (a test holds its watchdog table to what
//! [`Settings::from_lookup`] reads).

#![forbid(unsafe_code)]

mod metrics;

use std::time::Duration;

use hookwarden_pipeline::outcome::NAMESPACE;
use hookwarden_pipeline::silence::{self, Cadences, Report, Verdict};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};
use time::OffsetDateTime;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// The watchdog's own metrics' dimension: `Watchdog = streams`.
const DIMENSION: (&str, &str) = ("Watchdog", "streams");

/// The silence rules, `provider/tenant/event_type=window`, comma separated.
const STREAM_CADENCES: &str = "HOOKWARDEN_STREAM_CADENCES";
/// The SNS topic ARN for the message; unset: log only.
const ALARM_TOPIC: &str = "HOOKWARDEN_ALARM_TOPIC";
/// How often the schedule runs the watchdog.
const WATCHDOG_INTERVAL_SECS: &str = "HOOKWARDEN_WATCHDOG_INTERVAL_SECS";

#[derive(Debug, thiserror::Error)]
enum WatchdogError {
    #[error("{STREAM_CADENCES}: {0}")]
    Cadences(#[from] silence::SilenceError),
    #[error("{WATCHDOG_INTERVAL_SECS} must be a whole number of seconds above 0")]
    Interval,
    #[error(transparent)]
    Read(#[from] metrics::ReadError),
    #[error("publishing to the alarm topic failed: {0}")]
    Notify(String),
}

impl From<WatchdogError> for lambda_runtime::Diagnostic {
    fn from(err: WatchdogError) -> Self {
        Self {
            error_type: "Hookwarden.WatchdogError".to_string(),
            error_message: err.to_string(),
        }
    }
}

/// What the watchdog reads from its environment.
struct Settings {
    cadences: Cadences,
    interval: Duration,
    topic: Option<String>,
}

impl Settings {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, WatchdogError> {
        let var = |name| lookup(name).unwrap_or_default();
        let cadences = Cadences::parse(&var(STREAM_CADENCES))?;
        let interval = match var(WATCHDOG_INTERVAL_SECS).as_str() {
            "" => DEFAULT_INTERVAL,
            text => text
                .parse::<u64>()
                .ok()
                .filter(|secs| *secs > 0)
                .map(Duration::from_secs)
                .ok_or(WatchdogError::Interval)?,
        };
        let topic = Some(var(ALARM_TOPIC)).filter(|t| !t.is_empty());
        Ok(Self {
            cadences,
            interval,
            topic,
        })
    }
}

struct Watchdog {
    settings: Settings,
    cloudwatch: aws_sdk_cloudwatch::Client,
    sns: aws_sdk_sns::Client,
}

impl Watchdog {
    async fn from_env() -> Result<Self, WatchdogError> {
        let settings = Settings::from_lookup(|name| std::env::var(name).ok())?;
        let config = aws_config::load_from_env().await;
        Ok(Self {
            settings,
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
        })
    }

    /// One run: read, judge, report. An error leaves the heartbeat out.
    async fn run(&self, now: OffsetDateTime) -> Result<Value, WatchdogError> {
        let lookback =
            self.settings.cadences.longest().unwrap_or_default() + self.settings.interval;
        let seen = metrics::last_seen(&self.cloudwatch, now, lookback).await?;
        let reports = silence::judge(&seen, &self.settings.cadences, now);
        let silent: Vec<&Report> = reports
            .iter()
            .filter(|r| r.verdict == Verdict::Silent)
            .collect();
        for report in &silent {
            println!(
                "{}",
                json!({ "level": "WARN", "message": "stream silent", "stream": report.stream.to_string(),
                        "detail": report.to_string() })
            );
        }
        let fell: Vec<&&Report> = silent
            .iter()
            .filter(|r| r.fell_silent(now, self.settings.interval))
            .collect();
        if let (Some(topic), false) = (&self.settings.topic, fell.is_empty()) {
            let mut message = String::from("These event streams stopped storing events:\n");
            for report in &fell {
                message.push_str(&format!("- {report}\n"));
            }
            message.push_str(&format!(
                "\n{} of {} streams are silent now. Check the provider's console (delivery logs, \
                 subscription state), then the tenant's secret and the function's log.\n",
                silent.len(),
                reports.len()
            ));
            self.sns
                .publish()
                .topic_arn(topic)
                .subject("hookwarden: event streams fell silent")
                .message(message)
                .send()
                .await
                .map_err(|err| {
                    WatchdogError::Notify(aws_sdk_sns::error::DisplayErrorContext(&err).to_string())
                })?;
        }
        let watched = reports
            .iter()
            .filter(|r| r.verdict != Verdict::Unwatched)
            .count();
        println!("{}", heartbeat(now, silent.len(), watched));
        Ok(json!({
            "streams": reports.len(),
            "watched": watched,
            "silent": silent.iter().map(|r| r.stream.to_string()).collect::<Vec<_>>(),
            "announced": fell.iter().map(|r| r.stream.to_string()).collect::<Vec<_>>(),
        }))
    }
}

/// The EMF line of a completed run: `WatchdogRuns` (the heartbeat), `SilentStreams`,
/// `StreamsWatched`.
fn heartbeat(now: OffsetDateTime, silent: usize, watched: usize) -> Value {
    let (name, value) = DIMENSION;
    json!({
        "_aws": {
            "Timestamp": now.unix_timestamp() * 1000,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[name]],
                "Metrics": [
                    {"Name": "WatchdogRuns", "Unit": "Count"},
                    {"Name": "SilentStreams", "Unit": "Count"},
                    {"Name": "StreamsWatched", "Unit": "Count"}
                ]
            }]
        },
        name: value,
        "WatchdogRuns": 1,
        "SilentStreams": silent,
        "StreamsWatched": watched,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let watchdog = match Watchdog::from_env().await {
        Ok(watchdog) => watchdog,
        Err(err) => {
            println!(
                "{}",
                json!({ "level": "ERROR", "message": format!("cold start failed: {err}") })
            );
            return Err(err.into());
        }
    };
    let watchdog = &watchdog;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        watchdog
            .run(OffsetDateTime::now_utc())
            .await
            .inspect_err(|err| {
                println!(
                    "{}",
                    json!({ "level": "ERROR", "message": err.to_string() })
                );
            })
    }))
    .await
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use hookwarden_testkit::configuration_reference as reference;

    use super::*;

    /// docs/reference/configuration.md's watchdog table lists exactly what the watchdog asks
    /// its environment for, each once.
    #[test]
    fn the_configuration_reference_lists_every_variable_the_watchdog_reads() {
        let asked = RefCell::new(Vec::new());
        Settings::from_lookup(|name| {
            asked.borrow_mut().push(name.to_string());
            None
        })
        .unwrap();
        let asked = asked.into_inner();
        reference::assert_lists_exactly("The silence watchdog", asked.iter().map(String::as_str));
    }
}
