//! The function URL event (payload format 2.0) and response, as far as hookwarden reads and
//! writes them: the headers, the body, and the method and source IP of the request context.
//! <https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads>
//!
//! Not `aws_lambda_events`' `ApiGatewayV2httpRequest`: it copies every field of the event
//! (route, stage, times, authorizer, query map) into owned values, 4 % of a warm event's
//! instructions; serde skips those here. `aws_lambda_events` stays in the tests, as the
//! oracle this parser is compared with.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The request path (`/`, or `/<tenant>`), as sent: not percent-decoded.
    #[serde(default)]
    pub raw_path: Option<String>,
    /// Lambda joins repeated headers with commas and lower-cases the names. A name the JSON
    /// holds twice (in any case) is kept twice, so the pipeline refuses it as ambiguous
    /// rather than one copy winning silently.
    #[serde(default, deserialize_with = "headers")]
    pub headers: HeaderMap,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    pub request_context: RequestContext,
}

#[derive(Debug, Deserialize)]
pub struct RequestContext {
    pub http: Http,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    #[serde(deserialize_with = "method")]
    pub method: Method,
    #[serde(default)]
    pub source_ip: Option<String>,
}

/// The response: always a JSON body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response<'a> {
    pub status_code: u16,
    pub headers: JsonContentType,
    /// Always `[]`: optional for Lambda, but cargo-lambda's function URL emulator answers
    /// 500 to a response without it (lambda_http's responses always carry it).
    pub cookies: [&'a str; 0],
    pub body: &'a str,
    pub is_base64_encoded: bool,
}

impl<'a> Response<'a> {
    pub fn json(status_code: u16, body: &'a str) -> Self {
        Self {
            status_code,
            headers: JsonContentType,
            cookies: [],
            body,
            is_base64_encoded: false,
        }
    }
}

/// `{"content-type": "application/json"}`
#[derive(Debug)]
pub struct JsonContentType;

impl Serialize for JsonContentType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("content-type", "application/json")?;
        map.end()
    }
}

fn method<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Method, D::Error> {
    let text = Text::deserialize(deserializer)?;
    Method::from_bytes(text.0.as_bytes())
        .map_err(|_| de::Error::invalid_value(de::Unexpected::Str(&text.0), &"an HTTP method"))
}

/// A map of header names to string values; `null` is no headers.
fn headers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<HeaderMap, D::Error> {
    struct Headers;

    impl<'de> Visitor<'de> for Headers {
        type Value = HeaderMap;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a map of header names to string values")
        }

        fn visit_unit<E: de::Error>(self) -> Result<HeaderMap, E> {
            Ok(HeaderMap::new())
        }

        fn visit_map<M: MapAccess<'de>>(self, mut access: M) -> Result<HeaderMap, M::Error> {
            let mut map = HeaderMap::with_capacity(access.size_hint().unwrap_or(0));
            while let Some((name, value)) = access.next_entry::<Text<'de>, Text<'de>>()? {
                let name = HeaderName::from_bytes(name.0.as_bytes()).map_err(|_| {
                    de::Error::invalid_value(de::Unexpected::Str(&name.0), &"a header name")
                })?;
                let value = HeaderValue::from_str(&value.0).map_err(|_| {
                    de::Error::invalid_value(de::Unexpected::Other("a control character"), &self)
                })?;
                map.append(name, value);
            }
            Ok(map)
        }
    }

    deserializer.deserialize_any(Headers)
}

/// A JSON string, borrowed from the event when it has no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_string())))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}
