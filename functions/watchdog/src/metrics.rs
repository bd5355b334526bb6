//! Reading the streams back from CloudWatch: every `EventsStored` metric with the stream
//! dimensions (ListMetrics lists those with data in the last two weeks), and the latest
//! five-minute period each stored an event in (GetMetricData).

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatch::Client;
use aws_smithy_types::DateTime;
use hookwarden_pipeline::outcome::{EVENTS_STORED, NAMESPACE};
use hookwarden_pipeline::silence::{LastSeen, Stream};
use time::OffsetDateTime;

/// The resolution of a last-seen time: CloudWatch keeps five-minute data for 63 days.
const PERIOD_SECS: i32 = 300;
/// GetMetricData's limit on queries per request.
const QUERIES_PER_REQUEST: usize = 500;
/// How far back a stream is read; ListMetrics forgets a metric after two weeks anyway.
const MAX_LOOKBACK: Duration = Duration::from_secs(14 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("CloudWatch ListMetrics failed: {0}")]
    List(String),
    #[error("CloudWatch GetMetricData failed: {0}")]
    Data(String),
}

/// Every stream with an `EventsStored` metric, and when it last stored an event within
/// `lookback` of `now` (capped at two weeks); a stream with no event in that time is known but
/// has no last-seen time.
pub async fn last_seen(
    cloudwatch: &Client,
    now: OffsetDateTime,
    lookback: Duration,
) -> Result<LastSeen, ReadError> {
    let mut streams = Vec::new();
    let mut pages = cloudwatch
        .list_metrics()
        .namespace(NAMESPACE)
        .metric_name(EVENTS_STORED)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| ReadError::List(describe(&err)))?;
        streams.extend(page.metrics().iter().filter_map(stream_of));
    }
    let mut seen = LastSeen::default();
    let start = now - lookback.min(MAX_LOOKBACK);
    for batch in streams.chunks(QUERIES_PER_REQUEST) {
        let queries = batch
            .iter()
            .enumerate()
            .map(|(i, stream)| query(i, stream))
            .collect::<Vec<_>>();
        let mut pages = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(DateTime::from_secs(start.unix_timestamp()))
            .end_time(DateTime::from_secs(
                now.unix_timestamp() + i64::from(PERIOD_SECS),
            ))
            .scan_by(ScanBy::TimestampDescending)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| ReadError::Data(describe(&err)))?;
            for result in page.metric_data_results() {
                let Some(stream) = result
                    .id()
                    .and_then(|id| id.strip_prefix('m'))
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| batch.get(i))
                else {
                    continue;
                };
                let latest = result
                    .timestamps()
                    .iter()
                    .zip(result.values())
                    .filter(|(_, value)| **value > 0.0)
                    .map(|(at, _)| at.secs())
                    .max();
                match latest.and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok()) {
                    // The period's start: the event came within the following five minutes.
                    Some(at) => seen.saw(stream.clone(), at),
                    None => seen.known(stream.clone()),
                }
            }
        }
        for stream in batch {
            seen.known(stream.clone());
        }
    }
    Ok(seen)
}

/// The stream a listed metric counts, if it carries exactly the stream dimensions.
fn stream_of(metric: &Metric) -> Option<Stream> {
    let value = |name: &str| {
        metric
            .dimensions()
            .iter()
            .find(|d| d.name() == Some(name))
            .and_then(Dimension::value)
    };
    if metric.dimensions().len() != 3 {
        return None;
    }
    Some(Stream {
        provider: value("Provider")?.to_string(),
        tenant: value("Tenant")?.to_string(),
        event_type: value("EventType")?.to_string(),
    })
}

fn query(i: usize, stream: &Stream) -> MetricDataQuery {
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let metric = Metric::builder()
        .namespace(NAMESPACE)
        .metric_name(EVENTS_STORED)
        .dimensions(dimension("Provider", &stream.provider))
        .dimensions(dimension("Tenant", &stream.tenant))
        .dimensions(dimension("EventType", &stream.event_type))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(PERIOD_SECS)
        .stat("Sum")
        .build();
    MetricDataQuery::builder()
        .id(format!("m{i}"))
        .metric_stat(stat)
        .return_data(true)
        .build()
}

/// An SDK error as one line, the service's message and code included when it answered.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_cloudwatch::error::DisplayErrorContext(err).to_string()
}
