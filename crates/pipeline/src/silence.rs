//! Silence: which event streams — (provider, tenant, event type) — have stored nothing for
//! longer than the operator expects. The watchdog function and `hookwarden streams` both
//! reach their verdicts here, from last-seen times they read in different places (CloudWatch
//! metrics, stored envelopes).
//!
//! Cadences are rules `provider/tenant/event_type=window`, each part a name or `*`, the window
//! a duration (`90m`, `4h`, `1d`) or `off`. The most specific rule matching a stream decides
//! (the one naming the most parts; among equals, the later one), so
//! `knox/*/*=off, knox/*/KAI_BATTERY_STATUS=4h, knox/acme/*=1d` watches every tenant's
//! battery reports and everything tenant `acme` sends. A stream no rule matches is unwatched.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The tenant dimension of events sent to a function's bare path (`/`). Parentheses are not
/// allowed in tenant names, so it names no tenant.
pub const DEFAULT_TENANT: &str = "(default)";
/// The event-type dimension of an event whose type is empty.
pub const NO_EVENT_TYPE: &str = "(none)";
/// CloudWatch's limit on a dimension value's length.
const MAX_DIMENSION_VALUE: usize = 1024;

/// One stream of events: what a silence verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stream {
    pub provider: String,
    pub tenant: String,
    pub event_type: String,
}

impl Stream {
    /// The stream of an event; the names are the metric's dimension values, so the watchdog
    /// (reading metrics) and `hookwarden streams` (reading envelopes) name it alike.
    pub fn new(provider: &str, tenant: Option<&str>, event_type: &str) -> Self {
        Self {
            provider: provider.to_string(),
            tenant: dimension_value(tenant.unwrap_or(DEFAULT_TENANT)),
            event_type: dimension_value(event_type),
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.provider, self.tenant, self.event_type)
    }
}

/// A value CloudWatch accepts as a dimension: non-empty, at most 1024 characters.
pub fn dimension_value(value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return NO_EVENT_TYPE.to_string();
    }
    match trimmed.char_indices().nth(MAX_DIMENSION_VALUE) {
        Some((end, _)) => trimmed[..end].to_string(),
        None => trimmed.to_string(),
    }
}

/// Why a stored object or a cadence rule could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error(
        "not a stored envelope (expected JSON with provider, event_type and received_at): {0}"
    )]
    NotAnEnvelope(String),
    #[error(
        "cadence rule `{0}` is not `provider/tenant/event_type=window` (window like 4h, 90m, 1d, or off)"
    )]
    BadRule(String),
}

/// The fields of a stored envelope a stream is read from.
#[derive(Deserialize)]
struct EnvelopeHead {
    provider: String,
    #[serde(default)]
    tenant: Option<String>,
    event_type: String,
    received_at: String,
}

/// The stream a stored envelope belongs to and when it was received.
pub fn sighting(envelope: &[u8]) -> Result<(Stream, OffsetDateTime), SilenceError> {
    let head: EnvelopeHead = serde_json::from_slice(envelope)
        .map_err(|err| SilenceError::NotAnEnvelope(err.to_string()))?;
    let at = OffsetDateTime::parse(&head.received_at, &Rfc3339)
        .map_err(|err| SilenceError::NotAnEnvelope(format!("received_at: {err}")))?;
    let stream = Stream::new(&head.provider, head.tenant.as_deref(), &head.event_type);
    Ok((stream, at))
}

/// The latest time each stream was seen.
#[derive(Debug, Default, Clone)]
pub struct LastSeen(BTreeMap<Stream, Option<OffsetDateTime>>);

impl LastSeen {
    /// Remembers that `stream` stored an event at `at` (keeps the latest).
    pub fn saw(&mut self, stream: Stream, at: OffsetDateTime) {
        let entry = self.0.entry(stream).or_insert(Some(at));
        if entry.is_none_or(|seen| seen < at) {
            *entry = Some(at);
        }
    }

    /// Remembers a stream known to exist whose last event is older than what was read (a
    /// metric listed with no data points in the window queried).
    pub fn known(&mut self, stream: Stream) {
        self.0.entry(stream).or_insert(None);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A part of a rule: a name, or `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Any,
    Name(String),
}

impl Part {
    fn parse(text: &str) -> Self {
        match text.trim() {
            "*" => Part::Any,
            name => Part::Name(name.to_string()),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Part::Any => true,
            Part::Name(name) => name == value,
        }
    }

    fn is_name(&self) -> bool {
        matches!(self, Part::Name(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    provider: Part,
    tenant: Part,
    event_type: Part,
    /// `None`: the stream is not watched (`off`).
    window: Option<Duration>,
}

impl Rule {
    fn matches(&self, stream: &Stream) -> bool {
        self.provider.matches(&stream.provider)
            && self.tenant.matches(&stream.tenant)
            && self.event_type.matches(&stream.event_type)
    }

    fn specificity(&self) -> usize {
        [&self.provider, &self.tenant, &self.event_type]
            .into_iter()
            .filter(|part| part.is_name())
            .count()
    }
}

/// The expected cadence of every stream: rules, most specific wins.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cadences(Vec<Rule>);

impl Cadences {
    /// Reads rules separated by commas, semicolons or line breaks; blank entries are skipped.
    pub fn parse(text: &str) -> Result<Self, SilenceError> {
        let mut cadences = Self::default();
        for entry in text.split([',', ';', '\n']).map(str::trim) {
            if !entry.is_empty() {
                cadences.0.push(parse_rule(entry)?);
            }
        }
        Ok(cadences)
    }

    /// Adds the rules of one tenant's configuration secret: its optional `silence` member maps
    /// event types (or `*`) to windows, e.g. `{"silence": {"KAI_BATTERY_STATUS": "4h"}}`.
    /// They are added after the general rules, so they win among equally specific ones.
    pub fn add_tenant(
        &mut self,
        provider: &str,
        tenant: &str,
        secret: &serde_json::Value,
    ) -> Result<(), SilenceError> {
        let Some(silence) = secret.get("silence") else {
            return Ok(());
        };
        let map = silence
            .as_object()
            .ok_or_else(|| SilenceError::BadRule(format!("{tenant}: silence is not an object")))?;
        for (event_type, window) in map {
            let window = window.as_str().unwrap_or_default();
            let rule = format!("{provider}/{tenant}/{event_type}={window}");
            self.0.push(parse_rule(&rule)?);
        }
        Ok(())
    }

    /// The window `stream` must store an event within, `None` when it is not watched.
    pub fn window(&self, stream: &Stream) -> Option<Duration> {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.matches(stream))
            .max_by_key(|(order, rule)| (rule.specificity(), *order))
            .and_then(|(_, rule)| rule.window)
    }

    /// The longest window any rule sets: how far back a reader must look.
    pub fn longest(&self) -> Option<Duration> {
        self.0.iter().filter_map(|rule| rule.window).max()
    }
}

fn parse_rule(entry: &str) -> Result<Rule, SilenceError> {
    let bad = || SilenceError::BadRule(entry.to_string());
    let (selector, window) = entry.split_once('=').ok_or_else(bad)?;
    let parts: Vec<&str> = selector.split('/').collect();
    let [provider, tenant, event_type] = parts[..] else {
        return Err(bad());
    };
    let window = match window.trim() {
        "off" => None,
        text => Some(humantime::parse_duration(text).map_err(|_| bad())?),
    };
    if window == Some(Duration::ZERO)
        || [provider, tenant, event_type]
            .iter()
            .any(|p| p.trim().is_empty())
    {
        return Err(bad());
    }
    Ok(Rule {
        provider: Part::parse(provider),
        tenant: Part::parse(tenant),
        event_type: Part::parse(event_type),
        window,
    })
}

/// What is said about one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stored an event within its window.
    Live,
    /// Nothing stored for longer than its window.
    Silent,
    /// No rule watches it.
    Unwatched,
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Live => "live",
            Verdict::Silent => "SILENT",
            Verdict::Unwatched => "unwatched",
        }
    }
}

/// One stream's verdict and what it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub stream: Stream,
    /// `None`: known to exist, but nothing within what was read.
    pub last_seen: Option<OffsetDateTime>,
    pub window: Option<Duration>,
    pub verdict: Verdict,
}

impl Report {
    /// Whether the stream crossed its window within `interval` before `now`: what one run of a
    /// watchdog scheduled every `interval` announces, so each silence is announced once (the
    /// alarm on the count of silent streams stays raised while it lasts).
    pub fn fell_silent(&self, now: OffsetDateTime, interval: Duration) -> bool {
        match (&self.verdict, self.last_seen, self.window) {
            (Verdict::Silent, Some(at), Some(window)) => now - (at + window) <= interval,
            _ => false,
        }
    }
}

impl fmt::Display for Report {
    /// The line a notification carries: the stream, when it was last seen, what was expected.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: last seen {}, expected every {}",
            self.stream,
            self.verdict.name(),
            seen_text(self.last_seen),
            window_text(self.window)
        )
    }
}

/// Judges every stream at `now`, in stream order.
pub fn judge(seen: &LastSeen, cadences: &Cadences, now: OffsetDateTime) -> Vec<Report> {
    seen.0
        .iter()
        .map(|(stream, last_seen)| {
            let window = cadences.window(stream);
            let verdict = match (window, last_seen) {
                (None, _) => Verdict::Unwatched,
                (Some(_), None) => Verdict::Silent,
                (Some(window), Some(at)) if now - *at > window => Verdict::Silent,
                (Some(_), Some(_)) => Verdict::Live,
            };
            Report {
                stream: stream.clone(),
                last_seen: *last_seen,
                window,
                verdict,
            }
        })
        .collect()
}

/// The reports as a table, one stream a line, with a header.
pub fn table(reports: &[Report]) -> String {
    let rows: Vec<[String; 6]> = reports
        .iter()
        .map(|report| {
            [
                report.stream.provider.clone(),
                report.stream.tenant.clone(),
                report.stream.event_type.clone(),
                seen_text(report.last_seen),
                window_text(report.window),
                report.verdict.name().to_string(),
            ]
        })
        .collect();
    let header = [
        "PROVIDER",
        "TENANT",
        "EVENT TYPE",
        "LAST SEEN",
        "WINDOW",
        "STATUS",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn seen_text(at: Option<OffsetDateTime>) -> String {
    at.and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| "not within the window read".to_string())
}

fn window_text(window: Option<Duration>) -> String {
    window.map_or_else(
        || "off".to_string(),
        |w| humantime::format_duration(w).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn stream(provider: &str, tenant: Option<&str>, event_type: &str) -> Stream {
        Stream::new(provider, tenant, event_type)
    }

    #[test]
    fn most_specific_rule_decides_and_later_wins_among_equals() {
        let cadences = Cadences::parse(
            "knox/*/*=off, knox/*/KAI_BATTERY_STATUS=4h; knox/acme/*=1d\nknox/*/KAI_BATTERY_STATUS=5h",
        )
        .unwrap();
        let battery = stream("knox", None, "KAI_BATTERY_STATUS");
        assert_eq!(
            cadences.window(&battery),
            Some(Duration::from_secs(5 * 3600))
        );
        assert_eq!(
            cadences.window(&stream("knox", None, "KAI_APP_ANR_FC")),
            None
        );
        assert_eq!(
            cadences.window(&stream("knox", Some("acme"), "KAI_APP_ANR_FC")),
            Some(Duration::from_secs(86400))
        );
        assert_eq!(
            cadences.window(&stream("scalefusion", None, "device.locked")),
            None
        );
        assert_eq!(cadences.longest(), Some(Duration::from_secs(86400)));
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        for bad in [
            "knox=4h",
            "knox/*/*",
            "knox/*/*=soon",
            "knox//*=1h",
            "knox/*/*=0s",
        ] {
            let err = Cadences::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad.split(',').next().unwrap()), "{err}");
        }
    }

    #[test]
    fn tenant_secret_rules_win_over_general_ones() {
        let mut cadences = Cadences::parse("knox/*/KAI_BATTERY_STATUS=4h").unwrap();
        let secret = serde_json::json!({"silence": {"KAI_BATTERY_STATUS": "8h", "*": "off"}});
        cadences.add_tenant("knox", "acme", &secret).unwrap();
        cadences
            .add_tenant("knox", "quiet", &serde_json::json!({}))
            .unwrap();
        let window = |tenant| cadences.window(&stream("knox", Some(tenant), "KAI_BATTERY_STATUS"));
        assert_eq!(window("acme"), Some(Duration::from_secs(8 * 3600)));
        assert_eq!(window("quiet"), Some(Duration::from_secs(4 * 3600)));
        assert_eq!(
            cadences.window(&stream("knox", Some("acme"), "KAI_WIFI_CONNECTIONS")),
            None
        );
    }

    #[test]
    fn verdicts_follow_the_clock() {
        let mut seen = LastSeen::default();
        let battery = stream("knox", None, "KAI_BATTERY_STATUS");
        seen.saw(battery.clone(), datetime!(2026-12-01 09:00 UTC));
        seen.saw(battery.clone(), datetime!(2026-12-01 06:00 UTC));
        seen.saw(
            stream("knox", Some("acme"), "KAI_BATTERY_STATUS"),
            datetime!(2026-12-01 11:00 UTC),
        );
        seen.saw(
            stream("scalefusion", None, "device.locked"),
            datetime!(2026-12-01 00:00 UTC),
        );
        seen.known(stream("knox", Some("gone"), "KAI_BATTERY_STATUS"));
        let cadences = Cadences::parse("knox/*/KAI_BATTERY_STATUS=4h").unwrap();

        let verdicts = |now| -> Vec<(String, &'static str)> {
            judge(&seen, &cadences, now)
                .iter()
                .map(|r| (r.stream.to_string(), r.verdict.name()))
                .collect()
        };
        let at_noon = verdicts(datetime!(2026-12-01 12:00 UTC));
        assert_eq!(
            at_noon,
            [
                ("knox/(default)/KAI_BATTERY_STATUS".to_string(), "live"),
                ("knox/acme/KAI_BATTERY_STATUS".to_string(), "live"),
                ("knox/gone/KAI_BATTERY_STATUS".to_string(), "SILENT"),
                (
                    "scalefusion/(default)/device.locked".to_string(),
                    "unwatched"
                ),
            ]
        );
        let later = verdicts(datetime!(2026-12-01 13:00:01 UTC));
        assert_eq!(later[0].1, "SILENT");
        assert_eq!(later[1].1, "live");

        // Announced by the first run after the window ends, not by the ones after it.
        let quarter = Duration::from_secs(15 * 60);
        let fell = |now| -> Vec<String> {
            judge(&seen, &cadences, now)
                .iter()
                .filter(|r| r.fell_silent(now, quarter))
                .map(|r| r.stream.to_string())
                .collect()
        };
        assert_eq!(
            fell(datetime!(2026-12-01 13:10 UTC)),
            ["knox/(default)/KAI_BATTERY_STATUS"]
        );
        assert!(fell(datetime!(2026-12-01 13:20 UTC)).is_empty());
        assert!(fell(datetime!(2026-12-01 12:50 UTC)).is_empty());
    }

    #[test]
    fn envelopes_name_their_stream() {
        let envelope = br#"{"id":"ab","provider":"knox","tenant":"acme","event_type":"KAI_BATTERY_STATUS","received_at":"2026-12-01T09:00:00Z"}"#;
        let (stream, at) = sighting(envelope).unwrap();
        assert_eq!(stream.to_string(), "knox/acme/KAI_BATTERY_STATUS");
        assert_eq!(at, datetime!(2026-12-01 09:00 UTC));
        let bare =
            br#"{"provider":"oneaccess","event_type":"  ","received_at":"2026-12-01T09:00:00Z"}"#;
        assert_eq!(
            sighting(bare).unwrap().0.to_string(),
            "oneaccess/(default)/(none)"
        );
        assert!(sighting(b"{}").is_err());
    }
}
