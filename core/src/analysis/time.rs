//! RFC 3339 time stamps as the result documents write them, to seconds since
//! the Unix epoch, so that points sort by time and ages can be computed from
//! a `now` the caller passes in.

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 time stamp
/// (`2026-08-10T09:30:00Z`, `2026-08-10T11:30:00.25+02:00`); `None` if it
/// is not one. Leap seconds (`:60`) are accepted and count as `:59`.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let t = &rest[1..];
            if t.len() != 5 || t.as_bytes()[2] != b':' || !t[..2].bytes().chain(t[3..].bytes()).all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (t[..2].parse().ok()?, t[3..].parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
    Some(secs as f64 + frac)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// civil-days algorithm, written from its description).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn known_time_stamps() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1970-01-01T00:00:00Z", Some(0.0)),
            ("2000-03-01T00:00:00Z", Some(951_868_800.0)),
            ("2026-08-10T09:30:00Z", Some(1_786_354_200.0)),
            ("2026-08-10T11:30:00+02:00", Some(1_786_354_200.0)),
            ("2026-08-10T09:30:00.250Z", Some(1_786_354_200.25)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800.0)),
            ("1969-12-31T23:59:59Z", Some(-1.0)),
            ("2023-02-29T00:00:00Z", None),
            ("2026-08-10 09:30", None),
            ("2026-08-10T09:30:00", None),
            ("2026-08-10T09:30:00+0200", None),
            ("2026-13-10T09:30:00Z", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_rfc3339(s), *want, "{s}");
        }
    }
}
