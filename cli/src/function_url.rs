//! Lambda function URL request events (payload format 2.0): built for the samples under
//! `events/`, read back by `send`.
//!
//! A function URL delivers the body as text when its Content-Type is textual, and base64
//! (`isBase64Encoded: true`) when the Content-Type is missing or binary; both forms are built.

use std::collections::BTreeMap;

use base64::Engine as _;
use hookwarden_verify::encoding::STANDARD;
use serde_json::{json, Value};
use time::macros::format_description;

use crate::failure::Failure;

/// One POST to a function URL, as AWS would describe it.
pub struct Request<'a> {
    /// The 32-character id in `https://<url-id>.lambda-url.<region>.on.aws`.
    pub url_id: &'a str,
    pub request_id: String,
    pub time_epoch_ms: i64,
    pub source_ip: String,
    pub user_agent: &'a str,
    /// `x-amzn-trace-id`, `Root=1-…`.
    pub amzn_trace_id: String,
    /// The provider's own headers, lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `isBase64Encoded: false`, `content-type: application/json`.
    Text,
    /// `isBase64Encoded: true`, no content-type.
    Base64,
}

pub const REGION: &str = "us-east-1";

impl Request<'_> {
    /// The event JSON. Text form needs a UTF-8 body.
    pub fn event(&self, form: Form) -> Result<Value, Failure> {
        let domain = format!("{}.lambda-url.{REGION}.on.aws", self.url_id);
        let mut headers: BTreeMap<String, String> = [
            ("host", domain.clone()),
            ("user-agent", self.user_agent.to_string()),
            (
                "x-amzn-tls-cipher-suite",
                "TLS_AES_128_GCM_SHA256".to_string(),
            ),
            ("x-amzn-tls-version", "TLSv1.3".to_string()),
            ("x-amzn-trace-id", self.amzn_trace_id.clone()),
            ("x-forwarded-for", self.source_ip.clone()),
            ("x-forwarded-port", "443".to_string()),
            ("x-forwarded-proto", "https".to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        headers.extend(self.headers.iter().cloned());
        let body = match form {
            Form::Text => {
                headers.insert("content-type".into(), "application/json".into());
                std::str::from_utf8(self.body)
                    .map_err(|_| Failure::input("a text-form sample needs a UTF-8 body"))?
                    .to_string()
            }
            Form::Base64 => STANDARD.encode(self.body),
        };
        Ok(json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": self.url_id,
                "domainName": domain,
                "domainPrefix": self.url_id,
                "http": {
                    "method": "POST",
                    "path": "/",
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": self.user_agent,
                },
                "requestId": self.request_id,
                "routeKey": "$default",
                "stage": "$default",
                "time": clf_time(self.time_epoch_ms)?,
                "timeEpoch": self.time_epoch_ms,
            },
            "body": body,
            "isBase64Encoded": form == Form::Base64,
        }))
    }
}

/// `23/Nov/2026:08:00:00 +0000`, the format of `requestContext.time`.
fn clf_time(epoch_ms: i64) -> Result<String, Failure> {
    let at = time::OffsetDateTime::from_unix_timestamp(epoch_ms.div_euclid(1000))
        .map_err(|err| Failure::input(format!("time {epoch_ms} ms: {err}")))?;
    at.format(format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    ))
    .map_err(|err| Failure::input(format!("time {epoch_ms} ms: {err}")))
}

/// What `send` needs from a sample event: the exact body bytes and the request headers.
pub struct Sample {
    pub body: Vec<u8>,
    /// Lowercase names.
    pub headers: BTreeMap<String, String>,
}

impl Sample {
    /// Reads a function URL event, undoing transport base64.
    pub fn from_event(json: &[u8], what: &str) -> Result<Self, Failure> {
        let bad = |why: &str| Failure::input(format!("{what} is not a function URL event: {why}"));
        let event: Value = serde_json::from_slice(json).map_err(|err| bad(&err.to_string()))?;
        if event["version"] != "2.0" {
            return Err(bad("\"version\" is not \"2.0\""));
        }
        let body = event["body"]
            .as_str()
            .ok_or_else(|| bad("no string \"body\""))?;
        let body = match event["isBase64Encoded"].as_bool() {
            Some(true) => STANDARD
                .decode(body)
                .map_err(|_| bad("\"isBase64Encoded\" is true but \"body\" is not base64"))?,
            Some(false) => body.as_bytes().to_vec(),
            None => return Err(bad("no boolean \"isBase64Encoded\"")),
        };
        let headers = event["headers"]
            .as_object()
            .ok_or_else(|| bad("no \"headers\" object"))?
            .iter()
            .map(|(name, value)| {
                value
                    .as_str()
                    .map(|value| (name.to_ascii_lowercase(), value.to_string()))
                    .ok_or_else(|| bad(&format!("header {name} is not a string")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { body, headers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_request_time_like_aws() {
        // 2020-03-12T19:03:58Z, the time in AWS's documented example event.
        assert_eq!(
            clf_time(1_584_039_838_390).unwrap(),
            "12/Mar/2020:19:03:58 +0000"
        );
    }

    #[test]
    fn both_forms_read_back_to_the_same_bytes() {
        let request = Request {
            url_id: "abcdefghijklmnopqrstuvwxyz012345",
            request_id: "r".into(),
            time_epoch_ms: 1_584_039_838_390,
            source_ip: "203.0.113.7".into(),
            user_agent: "ua",
            amzn_trace_id: "Root=1-5e6a8b1e-000000000000000000000000".into(),
            headers: vec![("x-sf-signature".into(), "abc".into())],
            body: "{\"a\":\"é\"}".as_bytes(),
        };
        for form in [Form::Text, Form::Base64] {
            let event = request.event(form).unwrap();
            let sample = Sample::from_event(event.to_string().as_bytes(), "test").unwrap();
            assert_eq!(sample.body, request.body);
            assert_eq!(sample.headers["x-sf-signature"], "abc");
            assert_eq!(
                sample.headers.contains_key("content-type"),
                form == Form::Text
            );
        }
    }
}
