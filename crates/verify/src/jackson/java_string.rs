//! Java `String`s as the canonicalizer holds them: WTF-8, i.e. UTF-8 that may also encode
//! lone surrogates (`ED A0..BF xx`). A JSON `\uD800` escape is a legal Java string that no
//! Rust `str` can hold; Jackson hashes, compares and stores it as it is, and only the
//! verifier's final `String.getBytes(UTF_8)` turns it into `?`. Keeping the surrogate until
//! output gives keys their Java identity: `"\uD800"` and `"?"` are different keys with
//! different hash codes.
//!
//! Strings are built only by [`push_code_point`], which never splits a surrogate pair (the
//! parser pairs adjacent `\uD83D\uDE00` escapes), so every sequence here is well-formed WTF-8.

use std::cmp::Ordering;

/// Appends `code_point` (any value up to 0x10FFFF, surrogates included) in (generalized) UTF-8.
pub(super) fn push_code_point(out: &mut Vec<u8>, code_point: u32) {
    match code_point {
        0..=0x7F => out.push(code_point as u8),
        0x80..=0x7FF => out.extend_from_slice(&[
            0xC0 | (code_point >> 6) as u8,
            0x80 | (code_point & 0x3F) as u8,
        ]),
        0x800..=0xFFFF => out.extend_from_slice(&[
            0xE0 | (code_point >> 12) as u8,
            0x80 | ((code_point >> 6) & 0x3F) as u8,
            0x80 | (code_point & 0x3F) as u8,
        ]),
        _ => out.extend_from_slice(&[
            0xF0 | (code_point >> 18) as u8,
            0x80 | ((code_point >> 12) & 0x3F) as u8,
            0x80 | ((code_point >> 6) & 0x3F) as u8,
            0x80 | (code_point & 0x3F) as u8,
        ]),
    }
}

/// The UTF-16 code units of a WTF-8 string, as Java's `String.charAt` sees them.
pub(super) fn utf16_units(wtf8: &[u8]) -> impl Iterator<Item = u16> + '_ {
    let mut rest = wtf8;
    let mut pending_low: Option<u16> = None;
    std::iter::from_fn(move || {
        if let Some(low) = pending_low.take() {
            return Some(low);
        }
        let (&lead, tail) = rest.split_first()?;
        let continuation = |i: usize| u32::from(tail.get(i).copied().unwrap_or(0x80) & 0x3F);
        let (code_point, len) = match lead {
            0x00..=0x7F => (u32::from(lead), 1),
            0xC0..=0xDF => ((u32::from(lead & 0x1F) << 6) | continuation(0), 2),
            0xE0..=0xEF => (
                (u32::from(lead & 0x0F) << 12) | (continuation(0) << 6) | continuation(1),
                3,
            ),
            _ => (
                (u32::from(lead & 0x07) << 18)
                    | (continuation(0) << 12)
                    | (continuation(1) << 6)
                    | continuation(2),
                4,
            ),
        };
        rest = rest.get(len..).unwrap_or_default();
        if code_point >= 0x10000 {
            let offset = code_point - 0x10000;
            pending_low = Some(0xDC00 | (offset & 0x3FF) as u16);
            Some(0xD800 | (offset >> 10) as u16)
        } else {
            Some(code_point as u16)
        }
    })
}

/// `String.compareTo`: code unit by code unit, then by length (it differs from UTF-8 byte
/// order for characters above U+FFFF against U+E000..U+FFFF).
pub(super) fn compare(a: &[u8], b: &[u8]) -> Ordering {
    utf16_units(a).cmp(utf16_units(b))
}

/// Appends the string as Jackson writes it and Samsung's verifier encodes it: quoted, `"` and
/// `\` escaped, `\b \t \n \f \r` for those controls, `\u00XX` (uppercase hex) for the other
/// characters below U+0020, everything else raw; a lone surrogate becomes `?`, which is what
/// `String.getBytes(UTF_8)` makes of it.
pub(super) fn write_json(out: &mut Vec<u8>, wtf8: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(wtf8.len() + 2);
    out.push(b'"');
    let mut run_start = 0;
    let mut i = 0;
    while i < wtf8.len() {
        let byte = wtf8[i];
        let (replacement, len): (&[u8], usize) = match byte {
            b'"' => (b"\\\"", 1),
            b'\\' => (b"\\\\", 1),
            0x08 => (b"\\b", 1),
            b'\t' => (b"\\t", 1),
            b'\n' => (b"\\n", 1),
            0x0C => (b"\\f", 1),
            b'\r' => (b"\\r", 1),
            0x00..=0x1F => (&[], 1),
            0xED if wtf8.get(i + 1).is_some_and(|&next| next >= 0xA0) => (b"?", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&wtf8[run_start..i]);
        if replacement.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ]);
        } else {
            out.extend_from_slice(replacement);
        }
        i += len;
        run_start = i.min(wtf8.len());
    }
    out.extend_from_slice(&wtf8[run_start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wtf8(units: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for decoded in char::decode_utf16(units.iter().copied()) {
            match decoded {
                Ok(c) => push_code_point(&mut out, u32::from(c)),
                Err(lone) => push_code_point(&mut out, u32::from(lone.unpaired_surrogate())),
            }
        }
        out
    }

    #[test]
    fn units_round_trip_including_lone_surrogates() {
        let units = [
            0x41, 0xE9, 0x2028, 0xD83D, 0xDE00, 0xD800, 0x41, 0xDC00, 0xFFFF,
        ];
        assert_eq!(utf16_units(&wtf8(&units)).collect::<Vec<_>>(), units);
        assert_eq!(wtf8(&units[..5]), "Aé\u{2028}😀".as_bytes());
    }

    #[test]
    fn compare_is_by_utf16_units() {
        // U+FF61 sorts after U+1F600 in UTF-16 (0xFF61 > 0xD83D) but before it in UTF-8.
        assert_eq!(
            compare("\u{ff61}".as_bytes(), "😀".as_bytes()),
            Ordering::Greater
        );
        assert_eq!(compare(b"ab", b"abc"), Ordering::Less);
        assert_eq!(compare(b"b", b"abc"), Ordering::Greater);
    }

    #[test]
    fn written_as_jackson_then_get_bytes() {
        let mut out = Vec::new();
        let mut text = b"q\"b\\ \x08\t\n\x0c\r \x00\x1f\x7f /".to_vec();
        text.extend(wtf8(&[0xD800, 0x20, 0xD83D, 0xDE00]));
        write_json(&mut out, &text);
        assert_eq!(
            out,
            "\"q\\\"b\\\\ \\b\\t\\n\\f\\r \\u0000\\u001F\u{7f} /? 😀\"".as_bytes()
        );
    }
}
