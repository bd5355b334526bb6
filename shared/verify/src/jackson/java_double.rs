//! `Double.toString` as Jackson prints a `double`.
//!
//! Java prints the decimal digits that identify the double (here: Rust's shortest
//! round-trip digits) in plain notation for 10^-3 <= |x| < 10^7 and in computerized
//! scientific notation (`1.0E7`, `1.0E-4`) otherwise, always with at least one fractional
//! digit. JDK 19 and later print the shortest digits exactly; JDK 18 and earlier
//! occasionally print one more digit for doubles that need 16 or 17 significant digits
//! (JDK-4511638), which this does not reproduce. Infinities come out as the strings
//! `"Infinity"`/`"-Infinity"` (Jackson's default QUOTE_NON_NUMERIC_NUMBERS); JSON cannot
//! express NaN.

pub(super) fn write(out: &mut Vec<u8>, value: f64) {
    if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
        return;
    }
    if value.is_sign_negative() {
        out.push(b'-');
    }
    if value == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    // `{:e}` gives the shortest round-trip digits: "1.7e12", "1e-4", "1.2345e6". Java
    // always prints two digits at least, and picks the two-digit decimal nearest the exact
    // value; that differs from "d.0" only where doubles are sparse (Double.MIN_VALUE prints
    // 4.9E-324, not 5.0E-324).
    let mut scientific = format!("{:e}", value.abs());
    if !scientific.contains('.') {
        let two_digits = format!("{:.1e}", value.abs());
        if two_digits.as_bytes()[2] != b'0' && two_digits.parse::<f64>() == Ok(value.abs()) {
            scientific = two_digits;
        }
    }
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponents are integers");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    match exponent {
        0..=6 => {
            // Plain, x >= 1: integer digits, then the rest (or "0").
            let int_len = exponent as usize + 1;
            for i in 0..int_len {
                out.push(*digits.get(i).unwrap_or(&b'0'));
            }
            out.push(b'.');
            match digits.get(int_len..) {
                Some(rest) if !rest.is_empty() => out.extend_from_slice(rest),
                _ => out.push(b'0'),
            }
        }
        -3..=-1 => {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-exponent - 1) as usize, b'0');
            out.extend_from_slice(&digits);
        }
        _ => {
            out.push(digits[0]);
            out.push(b'.');
            match &digits[1..] {
                [] => out.push(b'0'),
                rest => out.extend_from_slice(rest),
            }
            out.push(b'E');
            out.extend_from_slice(exponent.to_string().as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    fn java(value: f64) -> String {
        let mut out = Vec::new();
        super::write(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_double_to_string() {
        // Expected values are what Java's Double.toString prints for these doubles.
        let cases = [
            (1.1, "1.1"),
            (1e7, "1.0E7"),
            (1e-4, "1.0E-4"),
            (100.0, "100.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.001, "0.001"),
            (9999999.0, "9999999.0"),
            (1234567.125, "1234567.125"),
            (1.7e12, "1.7E12"),
            (123.456, "123.456"),
            (0.5, "0.5"),
            (-2.5e-7, "-2.5E-7"),
            (1.0e23, "1.0E23"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "4.9E-324"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (value, expected) in cases {
            assert_eq!(java(value), expected, "{value:e}");
        }
    }
}
