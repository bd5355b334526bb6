//! The JOSE header of `X-WSM-SIGNATURE` (`parts[0]`), read for the log only.
//!
//! Samsung's verifier never decodes `parts[0]`, and neither does [`super::verify`] to decide
//! anything: the header is signed verbatim, and the algorithm and the key are fixed. Once a
//! callback is authenticated its header is described for the outcome log line, so that a
//! change on Samsung's side (another `alg`, a `kid` for a new key) shows. Samsung signed it,
//! but it is still text from outside: every value shown is cut to [`MAX_VALUE_CHARS`]
//! characters of printable ASCII, so nothing in it can break or forge a log line.

use std::fmt;

use base64::Engine as _;
use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::encoding::JAVA_URL_DECODER;

/// Longest header value shown, in characters; a longer one is cut and ends in `...`.
pub const MAX_VALUE_CHARS: usize = 40;

/// What the JOSE header of a verified callback says, made log-safe. Describe it with
/// [`JoseHeader::describe`] (or `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoseHeader {
    /// base64url (padded or not) of a JSON object. Each field is `None` when absent, else its
    /// value: a string's text, any other JSON value as written, at most [`MAX_VALUE_CHARS`]
    /// printable ASCII characters (anything else shows as `?`). A repeated name shows its last
    /// value, as Jackson reads it.
    Object {
        alg: Option<String>,
        typ: Option<String>,
        kid: Option<String>,
    },
    /// `parts[0]` is empty (`.payload.signature`).
    Empty,
    /// `parts[0]` is not base64url (as `java.util.Base64.getUrlDecoder()` reads it).
    NotBase64Url,
    /// `parts[0]` is base64url of something other than one JSON object in UTF-8.
    NotJsonObject,
}

impl JoseHeader {
    /// Reads `parts[0]` exactly as received. Never fails; costs one base64 decode and one JSON
    /// scan of at most [`super::MAX_SIGNATURE_HEADER_LEN`] bytes.
    pub fn read(protected: &str) -> Self {
        if protected.is_empty() {
            return Self::Empty;
        }
        let Ok(json) = JAVA_URL_DECODER.decode(protected) else {
            return Self::NotBase64Url;
        };
        let mut parser = serde_json::Deserializer::from_slice(&json);
        let fields = (&mut parser).deserialize_map(FieldsVisitor);
        match fields.and_then(|fields| parser.end().map(|()| fields)) {
            Ok(fields) => fields,
            Err(_) => Self::NotJsonObject,
        }
    }

    /// The header's `alg`, log-safe, when it is a JSON object that has one.
    pub fn alg(&self) -> Option<&str> {
        match self {
            Self::Object { alg, .. } => alg.as_deref(),
            _ => None,
        }
    }

    /// A short log-safe description: `alg=RS256 typ=JWT kid=abc` (`-` for an absent field),
    /// or `empty`, `not base64url`, `not a JSON object`. At most some 150 printable ASCII
    /// characters.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for JoseHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object { alg, typ, kid } => {
                let show = |value: &Option<String>| value.as_deref().unwrap_or("-").to_owned();
                write!(f, "alg={} typ={} kid={}", show(alg), show(typ), show(kid))
            }
            Self::Empty => f.write_str("empty"),
            Self::NotBase64Url => f.write_str("not base64url"),
            Self::NotJsonObject => f.write_str("not a JSON object"),
        }
    }
}

/// Collects `alg`, `typ` and `kid` from a JSON object, skipping every other member unread.
struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = JoseHeader;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JoseHeader, A::Error> {
        let (mut alg, mut typ, mut kid) = (None, None, None);
        while let Some(name) = map.next_key::<String>()? {
            let slot = match name.as_str() {
                "alg" => &mut alg,
                "typ" => &mut typ,
                "kid" => &mut kid,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value: &RawValue = map.next_value()?;
            *slot = Some(log_safe_value(value));
        }
        Ok(JoseHeader::Object { alg, typ, kid })
    }
}

/// A string's text, or any other value as written (`null`, `1e999999`, `["RS256"]`), log-safe.
fn log_safe_value(value: &RawValue) -> String {
    let text = value.get();
    match serde_json::from_str::<String>(text) {
        Ok(string) if string.is_empty() => "\"\"".to_owned(),
        Ok(string) => log_safe(&string),
        // Not a string, or one with a lone surrogate escape: shown as written.
        Err(_) => log_safe(text),
    }
}

/// At most [`MAX_VALUE_CHARS`] characters of `text`, each printable ASCII other than space
/// (anything else becomes `?`), then `...` when `text` was longer.
fn log_safe(text: &str) -> String {
    let mut shown = String::with_capacity(MAX_VALUE_CHARS + 3);
    for (count, c) in text.chars().enumerate() {
        if count == MAX_VALUE_CHARS {
            shown.push_str("...");
            break;
        }
        shown.push(if c.is_ascii_graphic() { c } else { '?' });
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{STANDARD, URL_PADDED, URL_UNPADDED};

    fn describe_json(json: &str) -> String {
        JoseHeader::read(&URL_UNPADDED.encode(json)).describe()
    }

    #[test]
    fn describes_the_fields_of_an_object() {
        for (json, expected) in [
            (r#"{"alg":"RS256"}"#, "alg=RS256 typ=- kid=-"),
            (
                r#"{"kid":"abc","typ":"JWT","alg":"RS256","x5c":["MIIB"]}"#,
                "alg=RS256 typ=JWT kid=abc",
            ),
            (r#"{"typ":"JWT"}"#, "alg=- typ=JWT kid=-"),
            (r#"{}"#, "alg=- typ=- kid=-"),
            (r#" { "alg" : "rs256" } "#, "alg=rs256 typ=- kid=-"),
            (r#"{"alg":"RSA256"}"#, "alg=RSA256 typ=- kid=-"),
            (r#"{"alg":"none"}"#, "alg=none typ=- kid=-"),
            (r#"{"alg":"HS256"}"#, "alg=HS256 typ=- kid=-"),
            (r#"{"x5t":"dGh1bWI"}"#, "alg=- typ=- kid=-"),
            (r#"{"\u0061lg":"RS\u003256"}"#, "alg=RS256 typ=- kid=-"),
            // Jackson keeps the last of a repeated name.
            (r#"{"alg":"none","alg":"RS256"}"#, "alg=RS256 typ=- kid=-"),
            // Values that are not strings are shown as written.
            (
                r#"{"alg":null,"typ":1e999999,"kid":["a",{"b":2}]}"#,
                r#"alg=null typ=1e999999 kid=["a",{"b":2}]"#,
            ),
            (
                r#"{"alg":"","kid":"\ud800"}"#,
                r#"alg="" typ=- kid="\ud800""#,
            ),
        ] {
            assert_eq!(describe_json(json), expected, "{json}");
        }
        // Padded base64url decodes too, as java.util.Base64's URL decoder takes it.
        let padded = URL_PADDED.encode(r#"{"alg":"RS256" }"#);
        assert!(padded.ends_with('='), "{padded}");
        assert_eq!(
            JoseHeader::read(&padded).describe(),
            "alg=RS256 typ=- kid=-"
        );
        assert_eq!(
            JoseHeader::read(&URL_UNPADDED.encode(r#"{"alg":"RS256"}"#)).alg(),
            Some("RS256")
        );
    }

    #[test]
    fn describes_what_is_not_an_object() {
        assert_eq!(JoseHeader::read(""), JoseHeader::Empty);
        assert_eq!(JoseHeader::Empty.describe(), "empty");
        for protected in [
            r#"{"alg":"RS256"}"#,
            "eyJhbGciOiJSUzI1NiJ9+",
            "eyJhbGciOiJSUzI1NiJ9 ",
            "e",
        ] {
            assert_eq!(
                JoseHeader::read(protected),
                JoseHeader::NotBase64Url,
                "{protected}"
            );
        }
        // Standard-alphabet base64 is not base64url.
        let standard = STANDARD.encode(r#"{"alg":"RS256","x":"???"}"#);
        assert!(standard.contains('/'), "{standard}");
        assert_eq!(JoseHeader::read(&standard).describe(), "not base64url");

        // Members skipped are scanned without recursion: deep nesting is still an object.
        let deep = format!(
            r#"{{"alg":"RS256","x":{}1{}}}"#,
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert_eq!(describe_json(&deep), "alg=RS256 typ=- kid=-");
        let unclosed = format!(r#"{{"alg":"RS256","x":{}"#, "[".repeat(5000));
        for json in [
            "not json",
            r#"["RS256"]"#,
            r#""RS256""#,
            "null",
            r#"{"alg":"RS256""#,
            r#"{"alg":"RS256"} x"#,
            r#"{"alg":"RS256"}{}"#,
            &unclosed,
        ] {
            assert_eq!(describe_json(json), "not a JSON object", "{json}");
        }
        let not_utf8 = URL_UNPADDED.encode(b"{\"alg\":\"\xff\"}");
        assert_eq!(JoseHeader::read(&not_utf8), JoseHeader::NotJsonObject);
        assert_eq!(JoseHeader::read(&not_utf8).alg(), None);
    }

    #[test]
    fn values_are_cut_and_restricted_to_printable_ascii() {
        let long = "k".repeat(5000);
        let described = describe_json(&format!(
            r#"{{"alg":"RS256\n\u001b[31mFAKE LOG LINE","typ":"Gerät ✓","kid":"{long}"}}"#
        ));
        assert_eq!(
            described,
            format!(
                "alg=RS256??[31mFAKE?LOG?LINE typ=Ger?t?? kid={}...",
                "k".repeat(MAX_VALUE_CHARS)
            )
        );
        assert!(described.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
        let exactly = "x".repeat(MAX_VALUE_CHARS);
        assert_eq!(
            describe_json(&format!(r#"{{"kid":"{exactly}"}}"#)),
            format!("alg=- typ=- kid={exactly}")
        );
    }
}
