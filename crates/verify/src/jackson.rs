//! Samsung's canonical form of a Knox callback body: the bytes of
//! `new ObjectMapper().writeValueAsString(new ObjectMapper().readValue(body, HashMap.class))`
//! encoded as UTF-8, which is what Samsung's reference verifier signs (protocols.md §1.3).
//!
//! Reproduced byte for byte, and checked against Jackson 2.14 on JDK 17 by
//! `tests/it/jackson_oracle.rs`:
//! - the top-level object comes out in `java.util.HashMap` iteration order, tree bins
//!   included ([`hash_map_order`]); nested objects keep arrival order (Jackson builds them
//!   as `LinkedHashMap`), arrays too;
//! - integers keep their digits at any size, except that `-0` becomes `0` (Jackson reads
//!   them as `Integer`, `Long` or `BigInteger`); a number with a fraction or an exponent is
//!   read as a `double` and printed by JDK 17's `Double.toString` ([`java_double`]); one
//!   that overflows prints as the string `"Infinity"` or `"-Infinity"` (Jackson's default
//!   `QUOTE_NON_NUMERIC_NUMBERS`);
//! - strings are decoded and re-escaped the way Jackson writes them, and lone surrogates
//!   from `\uD800`-style escapes become `?` ([`java_string`]);
//! - no whitespace; a leading UTF-8 byte-order mark is skipped, as Jackson does.
//!
//! Refused like Jackson refuses them: invalid JSON (comments, single quotes, trailing
//! commas, leading zeros, `NaN`, unescaped control characters…), nesting deeper than
//! [`MAX_DEPTH`], numbers longer than [`MAX_NUMBER_DIGITS`] digits and string values longer
//! than [`MAX_STRING_UNITS`] UTF-16 units (the `StreamReadConstraints` defaults of Debian's
//! Jackson, which are also upstream's since 2.15).
//!
//! Refused on purpose although Jackson accepts them, because part of the body would then
//! go unauthenticated or be ambiguous: bytes after the top-level object (Jackson stops
//! reading there), duplicate keys in any object (Jackson keeps the last value), a
//! top-level value other than an object (`null` included), and anything but UTF-8 (Jackson
//! also sniffs UTF-16/32 and decodes some invalid UTF-8 such as overlong forms). Also
//! refused, to bound memory before authentication: more than [`MAX_TOP_LEVEL_KEYS`]
//! top-level keys.
//!
//! One pass over the input with an explicit stack: hostile nesting cannot overflow the call
//! stack, and time and memory stay linear in the body (plus `n log n` for the top-level
//! ordering and duplicate checks). Only the top level is buffered, as (key, range of
//! canonical value) pairs, because its order is known only once every key is in.

mod hash_map_order;
mod java_double;
mod java_string;

use std::ops::Range;

/// Deepest nesting accepted, the top-level object counting as 1: Jackson's
/// `StreamReadConstraints.DEFAULT_MAX_DEPTH`.
pub const MAX_DEPTH: usize = 1000;
/// Longest number accepted, in digits (integer, fraction and exponent digits together):
/// Jackson's `StreamReadConstraints.DEFAULT_MAX_NUM_LEN`.
pub const MAX_NUMBER_DIGITS: usize = 1000;
/// Longest string value accepted, in UTF-16 code units: Jackson's
/// `StreamReadConstraints.DEFAULT_MAX_STRING_LEN` (keys are not limited).
pub const MAX_STRING_UNITS: usize = 20_000_000;
/// Most top-level keys accepted. Not a Jackson limit: a Knox callback has a handful (`event`,
/// `subscriptionId`, `payload`…), while replaying Java's `HashMap` costs some 240 bytes of heap
/// and a tree-bin walk per key before the signature can be checked, so a flood of short keys
/// would turn a 6 MB body into hundreds of MB. Nested objects are not limited: they keep
/// arrival order and cost some 40 bytes per key while their object is open.
pub const MAX_TOP_LEVEL_KEYS: usize = 10_000;

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    #[error("the body is not valid UTF-8 (byte offset {offset}); Knox callbacks are UTF-8 JSON")]
    InvalidUtf8 { offset: usize },
    #[error("the body is not valid JSON: expected {expected} at byte offset {offset}")]
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    #[error("the body must be a JSON object; the value at byte offset {offset} is not one")]
    NotAnObject { offset: usize },
    #[error("the key at byte offset {offset} repeats an earlier key of the same object; such a body is refused because Jackson would silently keep only the last value")]
    DuplicateKey { offset: usize },
    #[error("the value at byte offset {offset} is nested deeper than {MAX_DEPTH} levels, which Jackson refuses")]
    TooDeep { offset: usize },
    #[error("the number at byte offset {offset} has more than {MAX_NUMBER_DIGITS} digits, which Jackson refuses")]
    NumberTooLong { offset: usize },
    #[error("the string at byte offset {offset} is longer than {MAX_STRING_UNITS} UTF-16 code units, which Jackson refuses")]
    StringTooLong { offset: usize },
    #[error("the key at byte offset {offset} is top-level key number {}, more than a Knox callback ever has; such a body is refused to bound the work done before its signature is checked", MAX_TOP_LEVEL_KEYS + 1)]
    TooManyKeys { offset: usize },
    #[error("there is content after the JSON object, at byte offset {offset}; Samsung's verifier would ignore it, so it could not be authenticated")]
    TrailingContent { offset: usize },
}

/// The bytes Samsung's verifier signs (before base64url): Jackson's re-serialization of `body`.
pub fn canonicalize(body: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    if let Err(err) = std::str::from_utf8(body) {
        return Err(CanonicalError::InvalidUtf8 {
            offset: err.valid_up_to(),
        });
    }
    let start = if body.starts_with(BYTE_ORDER_MARK) {
        BYTE_ORDER_MARK.len()
    } else {
        0
    };
    Canonicalizer {
        input: body,
        pos: start,
        out: Vec::with_capacity(body.len() + body.len() / 8 + 16),
        keys: Vec::new(),
        members: Vec::new(),
        frames: Vec::new(),
        scratch: Vec::new(),
        sort_scratch: Vec::new(),
    }
    .run()
}

/// One key of an object still open: its decoded text in `Canonicalizer::keys`, where it
/// started in the body (for errors) and, at the top level, where its value's canonical
/// bytes lie in `Canonicalizer::out`.
struct Member {
    key: Range<usize>,
    offset: usize,
    value: Range<usize>,
}

/// A container open below the top-level object.
enum Frame {
    /// Its keys are `members[first_member..]`.
    Object {
        first_member: usize,
    },
    Array,
}

struct Canonicalizer<'a> {
    /// Valid UTF-8.
    input: &'a [u8],
    pos: usize,
    /// Canonical bytes of the top-level values, one after the other.
    out: Vec<u8>,
    /// Decoded (WTF-8) keys of every open object, outermost first.
    keys: Vec<u8>,
    /// Members of every open object, outermost first; the top level's stay to the end.
    members: Vec<Member>,
    frames: Vec<Frame>,
    /// A string value with escapes, decoded before it is re-escaped.
    scratch: Vec<u8>,
    sort_scratch: Vec<usize>,
}

impl Canonicalizer<'_> {
    fn run(mut self) -> Result<Vec<u8>, CanonicalError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.pos += 1,
            Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                return Err(CanonicalError::NotAnObject { offset: self.pos });
            }
            _ => return Err(self.expected("'{' opening a JSON object")),
        }
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.members.len() == MAX_TOP_LEVEL_KEYS {
                    return Err(CanonicalError::TooManyKeys { offset: self.pos });
                }
                self.key()?;
                let start = self.out.len();
                self.value()?;
                let end = self.out.len();
                if let Some(member) = self.members.last_mut() {
                    member.value = start..end;
                }
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.expected("',' or '}' after an object member")),
                }
            }
        }
        self.skip_whitespace();
        if self.pos < self.input.len() {
            return Err(CanonicalError::TrailingContent { offset: self.pos });
        }
        self.check_duplicates(0)?;
        Ok(self.assemble())
    }

    /// The output: top-level members in `HashMap` order.
    fn assemble(&self) -> Vec<u8> {
        let key_of = |i: usize| &self.keys[self.members[i].key.clone()];
        let hashes: Vec<i32> = (0..self.members.len())
            .map(|i| hash_map_order::spread_hash(java_string::utf16_units(key_of(i))))
            .collect();
        let order = hash_map_order::iteration_order(&hashes, |a, b| {
            java_string::compare(key_of(a), key_of(b))
        });
        let mut canonical =
            Vec::with_capacity(self.out.len() + self.keys.len() + 4 * self.members.len() + 2);
        canonical.push(b'{');
        for (n, &i) in order.iter().enumerate() {
            if n > 0 {
                canonical.push(b',');
            }
            java_string::write_json(&mut canonical, key_of(i));
            canonical.push(b':');
            canonical.extend_from_slice(&self.out[self.members[i].value.clone()]);
        }
        canonical.push(b'}');
        canonical
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
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

    /// The error for `byte`, just consumed (`None`: the body ended).
    fn unexpected(&self, byte: Option<u8>, expected: &'static str) -> CanonicalError {
        let offset = if byte.is_some() {
            self.pos - 1
        } else {
            self.pos
        };
        CanonicalError::Syntax { offset, expected }
    }

    /// Parses one value after a `:` (or in an array) and appends its canonical bytes to
    /// `out`. Containers are kept on `frames`, not on the call stack.
    fn value(&mut self) -> Result<(), CanonicalError> {
        let base = self.frames.len();
        'value: loop {
            self.skip_whitespace();
            let start = self.pos;
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    // The top-level object, the open frames and this one.
                    if self.frames.len() + 2 > MAX_DEPTH {
                        return Err(CanonicalError::TooDeep { offset: start });
                    }
                    self.pos += 1;
                    self.out.push(open);
                    self.skip_whitespace();
                    if open == b'{' {
                        if self.peek() == Some(b'}') {
                            self.pos += 1;
                            self.out.push(b'}');
                        } else {
                            self.frames.push(Frame::Object {
                                first_member: self.members.len(),
                            });
                            self.key()?;
                            continue 'value;
                        }
                    } else if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.out.push(b']');
                    } else {
                        self.frames.push(Frame::Array);
                        continue 'value;
                    }
                }
                Some(b'"') => self.string_value()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.expected("a JSON value")),
            }
            // A value is complete: close every container it completes.
            while self.frames.len() > base {
                self.skip_whitespace();
                let byte = self.peek();
                if byte.is_some() {
                    self.pos += 1;
                }
                match (self.frames.last(), byte) {
                    (Some(Frame::Object { .. }), Some(b',')) => {
                        self.out.push(b',');
                        self.skip_whitespace();
                        self.key()?;
                        continue 'value;
                    }
                    (Some(Frame::Array), Some(b',')) => {
                        self.out.push(b',');
                        continue 'value;
                    }
                    (Some(&Frame::Object { first_member }), Some(b'}')) => {
                        self.check_duplicates(first_member)?;
                        if let Some(first) = self.members.get(first_member) {
                            self.keys.truncate(first.key.start);
                        }
                        self.members.truncate(first_member);
                        self.frames.pop();
                        self.out.push(b'}');
                    }
                    (Some(Frame::Array), Some(b']')) => {
                        self.frames.pop();
                        self.out.push(b']');
                    }
                    (Some(Frame::Object { .. }), _) => {
                        return Err(self.unexpected(byte, "',' or '}' after an object member"));
                    }
                    _ => return Err(self.unexpected(byte, "',' or ']' after an array element")),
                }
            }
            return Ok(());
        }
    }

    /// `"key":` — records the key; inside a nested object also writes it out (arrival order).
    fn key(&mut self) -> Result<(), CanonicalError> {
        let offset = self.pos;
        if self.peek() != Some(b'"') {
            return Err(self.expected("'\"' opening an object key"));
        }
        let key_start = self.keys.len();
        let mut keys = std::mem::take(&mut self.keys);
        let decoded = self.string(&mut keys);
        self.keys = keys;
        decoded?;
        let key = key_start..self.keys.len();
        if !self.frames.is_empty() {
            java_string::write_json(&mut self.out, &self.keys[key.clone()]);
            self.out.push(b':');
        }
        self.members.push(Member {
            key,
            offset,
            value: 0..0,
        });
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.expected("':' after an object key"));
        }
        self.pos += 1;
        Ok(())
    }

    /// A string value, re-escaped into `out`. Without escapes it is copied as it is: a raw
    /// JSON string holds no quote, backslash or control character, so Jackson would write
    /// the same bytes.
    fn string_value(&mut self) -> Result<(), CanonicalError> {
        let offset = self.pos;
        let raw_start = self.pos + 1;
        let raw_end = raw_start
            + self.input[raw_start..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(self.input.len() - raw_start);
        if self.input.get(raw_end) == Some(&b'"') {
            if raw_end - raw_start > MAX_STRING_UNITS
                && utf16_len(&self.input[raw_start..raw_end]) > MAX_STRING_UNITS
            {
                return Err(CanonicalError::StringTooLong { offset });
            }
            self.out.reserve(raw_end - raw_start + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(&self.input[raw_start..raw_end]);
            self.out.push(b'"');
            self.pos = raw_end + 1;
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let decoded = self.string(&mut scratch);
        if decoded.is_ok() {
            if scratch.len() > MAX_STRING_UNITS && utf16_len(&scratch) > MAX_STRING_UNITS {
                self.scratch = scratch;
                return Err(CanonicalError::StringTooLong { offset });
            }
            java_string::write_json(&mut self.out, &scratch);
        }
        self.scratch = scratch;
        decoded
    }

    /// Decodes the string literal at `pos` into `into` as WTF-8.
    fn string(&mut self, into: &mut Vec<u8>) -> Result<(), CanonicalError> {
        self.pos += 1; // the opening quote
        loop {
            let run_start = self.pos;
            let run_len = self.input[run_start..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let Some(run_len) = run_len else {
                self.pos = self.input.len();
                return Err(self.expected("'\"' closing the string"));
            };
            self.pos += run_len;
            into.extend_from_slice(&self.input[run_start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(into)?;
                }
                _ => {
                    return Err(
                        self.expected("a character other than a raw control character (escape it)")
                    )
                }
            }
        }
    }

    fn escape(&mut self, into: &mut Vec<u8>) -> Result<(), CanonicalError> {
        let escaped = self.peek();
        if escaped.is_some() {
            self.pos += 1;
        }
        let code_point = match escaped {
            Some(b'"') => u32::from(b'"'),
            Some(b'\\') => u32::from(b'\\'),
            Some(b'/') => u32::from(b'/'),
            Some(b'b') => 0x08,
            Some(b'f') => 0x0C,
            Some(b'n') => u32::from(b'\n'),
            Some(b'r') => u32::from(b'\r'),
            Some(b't') => u32::from(b'\t'),
            Some(b'u') => {
                let unit = self.hex4()?;
                let low = match unit {
                    // A high surrogate pairs with a low one escaped right after it.
                    0xD800..=0xDBFF if self.input[self.pos..].starts_with(b"\\u") => {
                        parse_hex4(self.input.get(self.pos + 2..self.pos + 6))
                            .filter(|low| (0xDC00..=0xDFFF).contains(low))
                    }
                    _ => None,
                };
                match low {
                    Some(low) => {
                        self.pos += 6;
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    None => unit,
                }
            }
            _ => return Err(self.unexpected(escaped, "one of \" \\ / b f n r t u after '\\'")),
        };
        java_string::push_code_point(into, code_point);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, CanonicalError> {
        let unit = parse_hex4(self.input.get(self.pos..self.pos + 4))
            .ok_or_else(|| self.expected("four hex digits after '\\u'"))?;
        self.pos += 4;
        Ok(unit)
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), CanonicalError> {
        if !self.input[self.pos..].starts_with(word) {
            return Err(self.expected("a JSON value (true, false or null)"));
        }
        self.pos += word.len();
        self.out.extend_from_slice(word);
        Ok(())
    }

    /// A JSON number. An integer keeps its digits (Jackson reads `Integer`, `Long` or
    /// `BigInteger`, all printed back as they were, but `-0` is just 0); a fraction or an
    /// exponent makes it a `double`.
    fn number(&mut self) -> Result<(), CanonicalError> {
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
            return Err(self.expected("no leading zero (JSON numbers do not have them)"));
        }
        let int_digits = int_start..self.pos;
        let mut digit_count = int_digits.len();
        let mut floating = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let fraction_start = self.pos;
            self.digits();
            if self.pos == fraction_start {
                return Err(self.expected("a digit after the decimal point"));
            }
            digit_count += self.pos - fraction_start;
            floating = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exponent_start = self.pos;
            self.digits();
            if self.pos == exponent_start {
                return Err(self.expected("a digit in the exponent"));
            }
            digit_count += self.pos - exponent_start;
            floating = true;
        }
        if digit_count > MAX_NUMBER_DIGITS {
            return Err(CanonicalError::NumberTooLong { offset: start });
        }
        if !floating {
            let digits = &self.input[int_digits];
            if negative && digits != b"0" {
                self.out.push(b'-');
            }
            self.out.extend_from_slice(digits);
            return Ok(());
        }
        // The literal is ASCII and matches Rust's float grammar, which rounds correctly like
        // Java's `Double.parseDouble`.
        let value: f64 = std::str::from_utf8(&self.input[start..self.pos])
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or(CanonicalError::Syntax {
                offset: start,
                expected: "a number",
            })?;
        if value.is_infinite() {
            self.out.extend_from_slice(if value > 0.0 {
                b"\"Infinity\""
            } else {
                b"\"-Infinity\""
            });
        } else {
            java_double::write(&mut self.out, value);
        }
        Ok(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// Refuses a repeated key among `members[first..]` (one object), reporting the first
    /// repetition in the body.
    fn check_duplicates(&mut self, first: usize) -> Result<(), CanonicalError> {
        let members = &self.members[first..];
        let key = |i: usize| &self.keys[members[i].key.clone()];
        let mut repeated: Option<usize> = None;
        if members.len() <= 16 {
            'outer: for j in 1..members.len() {
                for i in 0..j {
                    if key(i) == key(j) {
                        repeated = Some(j);
                        break 'outer;
                    }
                }
            }
        } else {
            let sorted = &mut self.sort_scratch;
            sorted.clear();
            sorted.extend(0..members.len());
            sorted.sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
            for pair in sorted.windows(2) {
                if key(pair[0]) == key(pair[1]) && repeated.is_none_or(|r| pair[1] < r) {
                    repeated = Some(pair[1]);
                }
            }
        }
        match repeated {
            Some(j) => Err(CanonicalError::DuplicateKey {
                offset: members[j].offset,
            }),
            None => Ok(()),
        }
    }
}

/// Number of UTF-16 code units in valid UTF-8 (or WTF-8).
fn utf16_len(text: &[u8]) -> usize {
    text.iter()
        .map(|&b| match b {
            0x80..=0xBF => 0,
            0xF0..=0xFF => 2,
            _ => 1,
        })
        .sum()
}

fn parse_hex4(digits: Option<&[u8]>) -> Option<u32> {
    let digits = digits?;
    if digits.len() != 4 {
        return None;
    }
    digits.iter().try_fold(0u32, |unit, &d| {
        Some(unit * 16 + char::from(d).to_digit(16)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(body: &[u8]) -> String {
        String::from_utf8(canonicalize(body).unwrap()).unwrap()
    }

    #[test]
    fn research_vector_5_1() {
        // protocols.md §5.1, produced with Jackson 2.14 on JDK 17.
        let raw = br#"{"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS","payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.70E12,"ratio":1.10,"note":"a/b\u001f"}}"#;
        assert_eq!(
            canon(raw),
            r#"{"payload":{"imei":"123456789","batteryLevel":85,"updatedTime":1.7E12,"ratio":1.1,"note":"a/b\u001F"},"subscriptionId":"123456789123","event":"KAI_BATTERY_STATUS"}"#
        );
    }

    // The expected outputs below were printed by tests/java/KnoxOracle.java (Jackson
    // 2.14, OpenJDK 17.0.15); tests/it/jackson_oracle.rs re-checks them against the JDK.

    #[test]
    fn whitespace_goes_nested_order_stays() {
        assert_eq!(
            canon(b"\xEF\xBB\xBF {\n \"a\" : { \"z\" : 1 , \"b\" : [ 1 , { } , [ ] ] } \n}\r\n"),
            r#"{"a":{"z":1,"b":[1,{},[]]}}"#
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            canon(br#"{"a":-0,"b":-0.0,"c":-0e5,"d":0e0,"e":1e6,"f":1E+2}"#),
            r#"{"a":0,"b":-0.0,"c":-0.0,"d":0.0,"e":1000000.0,"f":100.0}"#
        );
        assert_eq!(
            canon(br#"{"a":1e400,"b":-1e400,"c":1e-400}"#),
            r#"{"a":"Infinity","b":"-Infinity","c":0.0}"#
        );
        assert_eq!(
            canon(br#"{"a":12345678901234567890123}"#),
            r#"{"a":12345678901234567890123}"#
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            canon(br#"{"\u0000":"\u001f\u007f","a":"\u00e9\/\b\f"}"#),
            "{\"\\u0000\":\"\\u001F\u{7f}\",\"a\":\"\u{e9}/\\b\\f\"}"
        );
        assert_eq!(
            canon(br#"{"a":"\ud800x\udc00\ud83d\ude00"}"#),
            "{\"a\":\"?x?\u{1F600}\"}"
        );
        // Two different Java keys that print the same.
        assert_eq!(canon(br#"{"\ud800":1,"?":2}"#), r#"{"?":1,"?":2}"#);
    }

    #[test]
    fn refuses_what_jackson_refuses() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":[1,]}",
            b"{'a':1}",
            b"{a:1}",
            b"{\"a\":01}",
            b"{\"a\":-}",
            b"{\"a\":1.}",
            b"{\"a\":.5}",
            b"{\"a\":+1}",
            b"{\"a\":1.5e}",
            b"{\"a\":NaN}",
            b"{\"a\":Infinity}",
            b"{\"a\":tru}",
            b"{\"a\":true",
            b"{\"a\":\"x}",
            b"{\"a\":\"\t\"}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":\"\\u12G4\"}",
            b"{\"a\":\"\\U0041\"}",
            b"{\"a\" : 1 /* c */}",
            b"\x0c{\"a\":1}",
            b"{\"a\":[1 2]}",
            b"{\"a\"  1}",
        ] {
            assert!(
                matches!(canonicalize(bad), Err(CanonicalError::Syntax { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        for not_object in [&b"[]"[..], b"\"x\"", b" null ", b"1"] {
            assert!(matches!(
                canonicalize(not_object),
                Err(CanonicalError::NotAnObject { .. })
            ));
        }
    }

    #[test]
    fn refuses_on_purpose_what_jackson_accepts() {
        use CanonicalError::*;
        assert_eq!(
            canonicalize(br#"{"a":1,"a":2}"#),
            Err(DuplicateKey { offset: 7 })
        );
        assert_eq!(
            canonicalize(br#"{"o":{"b":1,"b":2}}"#),
            Err(DuplicateKey { offset: 12 })
        );
        assert_eq!(
            canonicalize(br#"{"\u0061":1,"a":2}"#),
            Err(DuplicateKey { offset: 12 })
        );
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let repeated = format!("{{{},\"k7\":0}}", many.join(","));
        assert_eq!(
            canonicalize(repeated.as_bytes()),
            Err(DuplicateKey {
                offset: repeated.len() - 7
            })
        );
        assert_eq!(
            canonicalize(br#"{"a":1} x"#),
            Err(TrailingContent { offset: 8 })
        );
        assert_eq!(
            canonicalize(br#"{"a":1}{}"#),
            Err(TrailingContent { offset: 7 })
        );
        assert_eq!(canonicalize(b"null"), Err(NotAnObject { offset: 0 }));

        let members = |n: usize| -> String {
            let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\":1")).collect();
            format!("{{{}}}", keys.join(","))
        };
        let most = members(MAX_TOP_LEVEL_KEYS);
        assert_eq!(
            canonicalize(most.as_bytes()).map(|c| c.len()),
            Ok(most.len())
        );
        let over = members(MAX_TOP_LEVEL_KEYS + 1);
        let last_key = over.rfind(",\"").unwrap() + 1;
        assert_eq!(
            canonicalize(over.as_bytes()),
            Err(TooManyKeys { offset: last_key })
        );
        // Nested objects are not limited.
        let nested = format!("{{\"payload\":{over}}}");
        assert_eq!(
            canonicalize(nested.as_bytes()).map(|c| c.len()),
            Ok(nested.len())
        );
        assert_eq!(
            canonicalize(b"{\"a\":\"\xed\xa0\x80\"}"),
            Err(InvalidUtf8 { offset: 6 })
        );
        assert_eq!(
            canonicalize(b"{\"a\":\"\xc0\x80\"}"),
            Err(InvalidUtf8 { offset: 6 })
        );
    }

    #[test]
    fn limits_are_jacksons() {
        let nested = |levels: usize| {
            let arrays = levels - 1;
            format!("{{\"a\":{}{}}}", "[".repeat(arrays), "]".repeat(arrays))
        };
        assert!(canonicalize(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            canonicalize(nested(MAX_DEPTH + 1).as_bytes()),
            Err(CanonicalError::TooDeep {
                offset: 5 + MAX_DEPTH - 1
            })
        );
        // An explicit stack: far deeper input is refused, not a stack overflow.
        assert!(matches!(
            canonicalize(nested(1_000_000).as_bytes()),
            Err(CanonicalError::TooDeep { .. })
        ));

        let number = |text: String| canonicalize(format!("{{\"a\":{text}}}").as_bytes());
        assert!(number(format!("-{}", "1".repeat(MAX_NUMBER_DIGITS))).is_ok());
        assert_eq!(
            number("1".repeat(MAX_NUMBER_DIGITS + 1)),
            Err(CanonicalError::NumberTooLong { offset: 5 })
        );
        // Integer, fraction and exponent digits count together; signs, '.' and 'e' do not.
        assert!(number(format!("-{}.{}e+1", "1".repeat(500), "0".repeat(499))).is_ok());
        assert!(number(format!("{}.{}e1", "1".repeat(500), "0".repeat(500))).is_err());
    }
}
