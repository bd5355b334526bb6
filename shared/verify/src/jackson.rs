//! Samsung's canonical form of a Knox callback body: what Jackson's
//! `writeValueAsString(readValue(body, HashMap.class))` prints, byte for byte.
//!
//! Samsung's reference verifier signs that re-serialization, not the raw bytes, so a receiver
//! must reproduce it exactly:
//! - the top-level object comes out in `java.util.HashMap` iteration order ([`hash_map_order`]);
//! - nested objects keep arrival order (Jackson builds them as `LinkedHashMap`), arrays too;
//! - integers keep their digits at any size (`-0` becomes `0`); numbers with a fraction or an
//!   exponent go through `double` and print as `Double.toString` ([`java_double`]);
//! - strings escape `"` `\` and control characters the way Jackson does; everything else is
//!   raw UTF-8; no whitespace anywhere.
//!
//! One pass over the input with an explicit stack (no recursion, so hostile nesting cannot
//! overflow it): only the top level is buffered, because its order is known only at the end.
//!
//! Deliberately stricter than Jackson, so that no unauthenticated byte reaches storage:
//! duplicate keys, content after the top-level object, and nesting deeper than
//! [`MAX_DEPTH`] are rejected.

mod hash_map_order;
mod java_double;

use std::collections::HashSet;

pub use hash_map_order::TREE_BIN_UNSUPPORTED;

/// Deepest nesting accepted (Jackson 2.15 later set 1000 as its own default limit).
pub const MAX_DEPTH: usize = 512;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    #[error("the body is not UTF-8 (invalid byte at offset {offset}); Knox sends UTF-8 JSON")]
    InvalidUtf8 { offset: usize },
    #[error("the body is not JSON: expected {expected} at offset {offset}")]
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    #[error("the body is JSON but not an object; Knox callbacks are JSON objects")]
    NotAnObject,
    #[error("duplicate key at offset {offset}: which value was signed would be ambiguous")]
    DuplicateKey { offset: usize },
    #[error("nesting deeper than {MAX_DEPTH} levels at offset {offset}")]
    TooDeep { offset: usize },
    #[error("unexpected content after the JSON object at offset {offset}")]
    TrailingContent { offset: usize },
    #[error("{TREE_BIN_UNSUPPORTED}")]
    TreeBin,
}

/// The bytes Samsung's verifier signs (before base64url): Jackson's re-serialization of `body`.
pub fn canonicalize(body: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    let text = std::str::from_utf8(body).map_err(|err| CanonicalError::InvalidUtf8 {
        offset: err.valid_up_to(),
    })?;
    let mut parser = Parser {
        text: text.as_bytes(),
        pos: 0,
    };
    parser.skip_whitespace();
    match parser.peek() {
        Some(b'{') => parser.pos += 1,
        Some(_) => {
            // Any other JSON value is valid JSON, just not what Knox sends.
            return Err(CanonicalError::NotAnObject);
        }
        None => return Err(parser.expected("a JSON object")),
    }

    // Top-level members: key, and the range of its canonical value in `values`.
    let mut keys: Vec<String> = Vec::new();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut values = Vec::with_capacity(body.len());
    let mut seen = HashSet::new();
    parser.skip_whitespace();
    if parser.peek() == Some(b'}') {
        parser.pos += 1;
    } else {
        loop {
            parser.skip_whitespace();
            let key_offset = parser.pos;
            let key = parser.string()?;
            if !seen.insert(key.clone()) {
                return Err(CanonicalError::DuplicateKey { offset: key_offset });
            }
            parser.skip_whitespace();
            parser.expect(b':', "':'")?;
            let start = values.len();
            parser.value(&mut values, 1)?;
            keys.push(key);
            ranges.push((start, values.len()));
            parser.skip_whitespace();
            match parser.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(parser.expected_before("',' or '}'")),
            }
        }
    }
    parser.skip_whitespace();
    if parser.pos != parser.text.len() {
        return Err(CanonicalError::TrailingContent { offset: parser.pos });
    }

    let order = hash_map_order::iteration_order(&keys).ok_or(CanonicalError::TreeBin)?;
    let mut out =
        Vec::with_capacity(values.len() + keys.iter().map(|k| k.len() + 4).sum::<usize>() + 2);
    out.push(b'{');
    for (n, &index) in order.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_string(&mut out, &keys[index]);
        out.push(b':');
        let (start, end) = ranges[index];
        out.extend_from_slice(&values[start..end]);
    }
    out.push(b'}');
    Ok(out)
}

enum Frame {
    /// Keys seen so far, for duplicate detection.
    Object(HashSet<String>),
    Array,
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expected(&self, expected: &'static str) -> CanonicalError {
        CanonicalError::Syntax {
            offset: self.pos,
            expected,
        }
    }

    /// The error for the byte just consumed.
    fn expected_before(&self, expected: &'static str) -> CanonicalError {
        CanonicalError::Syntax {
            offset: self.pos.saturating_sub(1),
            expected,
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), CanonicalError> {
        match self.peek() {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(self.expected(expected)),
        }
    }

    /// Parses one value and appends its canonical form; `depth` counts the enclosing
    /// containers. Iterative: containers live on `stack`, not on the call stack.
    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonicalError> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_whitespace();
            let start = self.pos;
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if depth + stack.len() + 1 > MAX_DEPTH {
                        return Err(CanonicalError::TooDeep { offset: start });
                    }
                    self.pos += 1;
                    out.push(open);
                    self.skip_whitespace();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        out.push(close);
                    } else if open == b'{' {
                        stack.push(Frame::Object(HashSet::new()));
                        self.member_key(&mut stack, out)?;
                        continue 'value;
                    } else {
                        stack.push(Frame::Array);
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    let text = self.string()?;
                    write_string(out, &text);
                }
                Some(b't') => self.literal(b"true", out)?,
                Some(b'f') => self.literal(b"false", out)?,
                Some(b'n') => self.literal(b"null", out)?,
                Some(b'-' | b'0'..=b'9') => self.number(out)?,
                _ => return Err(self.expected("a JSON value")),
            }
            // A value is complete: close every container it completes.
            loop {
                let Some(frame) = stack.last() else {
                    return Ok(());
                };
                self.skip_whitespace();
                let is_object = matches!(frame, Frame::Object(_));
                match (self.next(), is_object) {
                    (Some(b','), true) => {
                        out.push(b',');
                        self.skip_whitespace();
                        self.member_key(&mut stack, out)?;
                        continue 'value;
                    }
                    (Some(b','), false) => {
                        out.push(b',');
                        continue 'value;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        out.push(if is_object { b'}' } else { b']' });
                        stack.pop();
                    }
                    (_, true) => return Err(self.expected_before("',' or '}'")),
                    (_, false) => return Err(self.expected_before("',' or ']'")),
                }
            }
        }
    }

    /// `"key":` inside a nested object, written in arrival order.
    fn member_key(&mut self, stack: &mut [Frame], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        let offset = self.pos;
        let key = self.string()?;
        let Some(Frame::Object(keys)) = stack.last_mut() else {
            unreachable!("member_key is only called inside an object");
        };
        write_string(out, &key);
        if !keys.insert(key) {
            return Err(CanonicalError::DuplicateKey { offset });
        }
        self.skip_whitespace();
        self.expect(b':', "':'")?;
        out.push(b':');
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8], out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            out.extend_from_slice(word);
            Ok(())
        } else {
            Err(self.expected("true, false or null"))
        }
    }

    /// A JSON number. Integers keep their digits (Jackson reads them as int, long or
    /// BigInteger); anything with a fraction or exponent becomes a `double`.
    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.expected("a digit")),
        }
        if matches!(self.peek(), Some(b'0'..=b'9')) {
            // Leading zeros: Jackson rejects them by default.
            return Err(self.expected("no leading zero"));
        }
        let int_end = self.pos;
        let mut floating = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.expected("a digit after '.'"));
            }
            self.digits();
            floating = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.expected("a digit in the exponent"));
            }
            self.digits();
            floating = true;
        }
        if floating {
            let literal = std::str::from_utf8(&self.text[start..self.pos]).expect("ASCII");
            let value: f64 = literal
                .parse()
                .expect("a JSON number literal parses as f64");
            java_double::write(out, value);
        } else {
            let digits = &self.text[int_start..int_end];
            if negative && digits != b"0" {
                out.push(b'-');
            }
            out.extend_from_slice(digits);
        }
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// A JSON string, unescaped. Unpaired surrogates from `\u` escapes become `?`, as
    /// Java's `String.getBytes(UTF_8)` turns them when the verifier encodes the canonical
    /// form.
    fn string(&mut self) -> Result<String, CanonicalError> {
        self.expect(b'"', "'\"'")?;
        let mut text = String::new();
        loop {
            let run_start = self.pos;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The input was checked to be UTF-8 and runs end on ASCII bytes.
            text.push_str(std::str::from_utf8(&self.text[run_start..self.pos]).expect("UTF-8"));
            match self.next() {
                Some(b'"') => return Ok(text),
                Some(b'\\') => self.escape(&mut text)?,
                Some(_) => return Err(self.expected_before("an escaped control character")),
                None => return Err(self.expected("a closing '\"'")),
            }
        }
    }

    fn escape(&mut self, text: &mut String) -> Result<(), CanonicalError> {
        let decoded = match self.next() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate pairs only with an immediately following low one.
                        let rest = &self.text[self.pos..];
                        let low = (rest.len() >= 6 && rest[0] == b'\\' && rest[1] == b'u')
                            .then(|| parse_hex4(&rest[2..6]))
                            .flatten()
                            .filter(|low| (0xDC00..=0xDFFF).contains(low));
                        match low {
                            Some(low) => {
                                self.pos += 6;
                                let code = 0x10000
                                    + ((u32::from(unit) - 0xD800) << 10)
                                    + (u32::from(low) - 0xDC00);
                                char::from_u32(code).expect("a surrogate pair is a scalar value")
                            }
                            None => '?',
                        }
                    }
                    0xDC00..=0xDFFF => '?',
                    _ => char::from_u32(u32::from(unit)).expect("a non-surrogate BMP unit"),
                }
            }
            _ => return Err(self.expected_before("a valid escape")),
        };
        text.push(decoded);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, CanonicalError> {
        let unit = self
            .text
            .get(self.pos..self.pos + 4)
            .and_then(parse_hex4)
            .ok_or_else(|| self.expected("four hex digits"))?;
        self.pos += 4;
        Ok(unit)
    }
}

fn parse_hex4(digits: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(digits).ok()?;
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

/// Jackson's string output: `"` and `\` escaped, `\b \t \n \f \r` short, other control
/// characters `\u00XX` with uppercase hex, everything else raw.
fn write_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            b'\t' => b't',
            b'\n' => b'n',
            0x0C => b'f',
            b'\r' => b'r',
            0x00..=0x1F => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..i]);
        run_start = i + 1;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ]);
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(body: &str) -> String {
        String::from_utf8(canonicalize(body.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn research_vector_5_1() {
        // protocols.md §5.1, produced with Jackson 2.14 on JDK 17.
        let raw = r#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.70E12,"ratio":1.10,"note":"a/b\u001f"}}"#;
        assert_eq!(
            canon(raw),
            r#"{"payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.7E12,"ratio":1.1,"note":"a/b\u001F"},"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS"}"#
        );
    }

    #[test]
    fn whitespace_goes_nested_order_stays() {
        assert_eq!(
            canon(" {\n \"a\" : { \"z\" : 1 , \"b\" : [ 1 , { } , [ ] ] } \n}\r\n"),
            r#"{"a":{"z":1,"b":[1,{},[]]}}"#
        );
    }

    #[test]
    fn numbers_follow_jackson() {
        assert_eq!(
            canon(
                r#"{"a":[-0,0,123456789012345678901234567890,-5,1.10,1e7,0.0001,100.0,-0.0,1E-3,9999999.0,1e400,-1e400,1e-400]}"#
            ),
            r#"{"a":[0,0,123456789012345678901234567890,-5,1.1,1.0E7,1.0E-4,100.0,-0.0,0.001,9999999.0,"Infinity","-Infinity",0.0]}"#
        );
    }

    #[test]
    fn strings_follow_jackson() {
        assert_eq!(
            canon("{\"s\":\"\\/ \\b\\t\\n\\f\\r \\u0000\\u001f\\u007f é \u{2028} 😀 \\ud83d\\ude00 \\ud800 x\\udc00\"}"),
            "{\"s\":\"/ \\b\\t\\n\\f\\r \\u0000\\u001F\u{7f} é \u{2028} 😀 😀 ? x?\"}"
        );
    }

    #[test]
    fn rejects_what_jackson_rejects_and_what_we_refuse() {
        for bad in [
            "",
            "[]",
            "1",
            "\"s\"",
            "{",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{'a':1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":+1}",
            "{\"a\":NaN}",
            "{\"a\":tru}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":1}x",
            "{\"a\":1}{}",
            "{\"a\":1,\"a\":2}",
            "{\"o\":{\"a\":1,\"a\":2}}",
            "{/*c*/\"a\":1}",
        ] {
            assert!(canonicalize(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(
            canonicalize(b"{\"a\":\"\xff\"}"),
            Err(CanonicalError::InvalidUtf8 { offset: 6 })
        );
        assert_eq!(canonicalize(b"[1]"), Err(CanonicalError::NotAnObject));
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            canonicalize(deep.as_bytes()),
            Err(CanonicalError::TooDeep { .. })
        ));
        let ok = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(canonicalize(ok.as_bytes()).is_ok());
    }
}
