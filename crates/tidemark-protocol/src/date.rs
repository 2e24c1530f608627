//! The protocol's date formats: ISO-8601 with 0–7 fractional digits and `Z` or `±hh:mm` on the
//! way in (stock peers send 3, our server 6, .NET clients 7), `/Date(ms)/` from old clients,
//! and UTC with a `Z` on the way out.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone,
    Utc,
};

/// Fractional digits `parse_date` accepts: 7 is .NET's tick resolution (100 ns).
const MAX_FRACTION_DIGITS: usize = 7;
/// How much of a bad input an error message repeats.
const ECHO_CHARS: usize = 64;

/// Why a date string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date '{input}': {reason}")]
pub struct DateError {
    input: String,
    reason: &'static str,
}

impl DateError {
    fn new(input: &str, reason: &'static str) -> Self {
        Self {
            input: input.chars().take(ECHO_CHARS).collect(),
            reason,
        }
    }

    /// What is wrong with the input, without the input itself.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Parses an ISO-8601 date-time with an offset (`2024-05-01T10:00:00.123Z`,
/// `2024-05-01T12:00:00+02:00`) or the old JSON form `/Date(1714557600000)/`.
pub fn parse_date(s: &str) -> Result<DateTime<Utc>, DateError> {
    if let Some(inner) = s
        .strip_prefix("/Date(")
        .and_then(|rest| rest.strip_suffix(")/"))
    {
        return parse_json_date(inner).map_err(|reason| DateError::new(s, reason));
    }
    let (naive, offset) =
        parse_iso(s, MAX_FRACTION_DIGITS).map_err(|reason| DateError::new(s, reason))?;
    let offset =
        offset.ok_or_else(|| DateError::new(s, "expected 'Z' or an offset like +00:00"))?;
    with_offset(naive, offset)
        .map(|dt| dt.with_timezone(&Utc))
        .ok_or_else(|| DateError::new(s, "out of range"))
}

/// Formats as our server's `updatedAt`: UTC, exactly 6 fractional digits, `Z`.
pub fn format_date(dt: &DateTime<Utc>) -> String {
    // Every row of every page carries dates, so the fixed RFC 3339 writer is used rather than
    // a strftime pattern (parsed again on each call); it covers years 0–9999 only.
    if (0..=9999).contains(&dt.year()) {
        dt.to_rfc3339_opts(SecondsFormat::Micros, true)
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// Formats as stock peers do: UTC, exactly 3 fractional digits, `Z`.
pub fn format_date_millis(dt: &DateTime<Utc>) -> String {
    if (0..=9999).contains(&dt.year()) {
        dt.to_rfc3339_opts(SecondsFormat::Millis, true)
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// Microseconds since the Unix epoch (the resolution of our server's change clock).
pub fn to_micros(dt: &DateTime<Utc>) -> i64 {
    dt.timestamp_micros()
}

/// The instant `micros` microseconds after the Unix epoch, if representable.
pub fn from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// Attaches `offset` to a local date-time; `None` only at the edges of chrono's range.
pub(crate) fn with_offset(
    naive: NaiveDateTime,
    offset: FixedOffset,
) -> Option<DateTime<FixedOffset>> {
    offset.from_local_datetime(&naive).single()
}

/// The inside of `/Date(…)/`: signed milliseconds, optionally followed by a `±hhmm` offset that
/// .NET writes for information only (the milliseconds are already UTC).
fn parse_json_date(inner: &str) -> Result<DateTime<Utc>, &'static str> {
    let digits_start = usize::from(inner.starts_with('-'));
    let digits_end = inner[digits_start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(inner.len(), |i| i + digits_start);
    let (millis, offset) = inner.split_at(digits_end);
    if millis.len() == digits_start {
        return Err("expected milliseconds in /Date(…)/");
    }
    let offset_ok = offset.is_empty()
        || (offset.len() == 5
            && (offset.starts_with('+') || offset.starts_with('-'))
            && offset[1..].bytes().all(|b| b.is_ascii_digit()));
    if !offset_ok {
        return Err("unexpected text after the milliseconds in /Date(…)/");
    }
    let millis: i64 = millis.parse().map_err(|_| "milliseconds out of range")?;
    DateTime::from_timestamp_millis(millis).ok_or("milliseconds out of range")
}

/// A byte cursor over an ASCII date; non-ASCII input simply fails the digit checks.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), &'static str> {
        if self.eat(b) { Ok(()) } else { Err(reason) }
    }

    /// Exactly `n` digits as a number.
    fn digits(&mut self, n: usize, reason: &'static str) -> Result<u32, &'static str> {
        let mut value = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(b) if b.is_ascii_digit() => {
                    value = value * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(reason),
            }
        }
        Ok(value)
    }
}

/// Parses `YYYY-MM-DDThh:mm[:ss[.f…]][Z|±hh:mm]` into the written local date-time and its
/// offset (if one was written). Shared by [`parse_date`] and the filter's date literals.
pub(crate) fn parse_iso(
    s: &str,
    max_fraction_digits: usize,
) -> Result<(NaiveDateTime, Option<FixedOffset>), &'static str> {
    let mut c = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4, "expected a four-digit year")?;
    c.expect(b'-', "expected '-' after the year")?;
    let month = c.digits(2, "expected a two-digit month")?;
    c.expect(b'-', "expected '-' after the month")?;
    let day = c.digits(2, "expected a two-digit day")?;
    if !(c.eat(b'T') || c.eat(b't')) {
        return Err("expected 'T' between the date and the time");
    }
    let hour = c.digits(2, "expected a two-digit hour")?;
    c.expect(b':', "expected ':' after the hour")?;
    let minute = c.digits(2, "expected two-digit minutes")?;
    let mut second = 0;
    let mut nanos = 0;
    if c.eat(b':') {
        second = c.digits(2, "expected two-digit seconds")?;
        if c.eat(b'.') {
            let mut count = 0;
            while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                count += 1;
                if count > max_fraction_digits {
                    return Err("too many fractional digits");
                }
                nanos = nanos * 10 + u32::from(b - b'0');
                c.pos += 1;
            }
            if count == 0 {
                return Err("expected digits after '.'");
            }
            nanos *= 10u32.pow((9 - count) as u32);
        }
    }
    let offset = match c.peek() {
        None => None,
        Some(b'Z' | b'z') => {
            c.pos += 1;
            FixedOffset::east_opt(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let hours = c.digits(2, "expected a two-digit offset hour")?;
            c.expect(b':', "expected ':' in the offset")?;
            let minutes = c.digits(2, "expected two-digit offset minutes")?;
            if hours > 23 || minutes > 59 {
                return Err("offset out of range");
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            let seconds = if sign == b'-' { -seconds } else { seconds };
            Some(FixedOffset::east_opt(seconds).ok_or("offset out of range")?)
        }
        Some(_) => return Err("unexpected character after the time"),
    };
    if c.pos != c.bytes.len() {
        return Err("unexpected text after the offset");
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or("no such date")?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or("no such time")?;
    Ok((NaiveDateTime::new(date, time), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        parse_date(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_stock_server_dates_with_millis() {
        let dt = utc("2024-05-01T10:00:00.123Z");
        assert_eq!(dt.timestamp_millis(), 1_714_557_600_123);
    }

    #[test]
    fn parses_zero_to_seven_fractional_digits() {
        assert_eq!(utc("2024-05-01T10:00:00Z").timestamp_subsec_nanos(), 0);
        assert_eq!(
            utc("2024-05-01T10:00:00.5Z").timestamp_subsec_nanos(),
            500_000_000
        );
        assert_eq!(
            utc("2024-05-01T10:00:00.123456Z").timestamp_subsec_nanos(),
            123_456_000
        );
        assert_eq!(
            utc("2024-05-01T10:00:00.1234567Z").timestamp_subsec_nanos(),
            123_456_700
        );
        assert!(parse_date("2024-05-01T10:00:00.12345678Z").is_err());
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(
            utc("2024-05-01T12:30:00+02:30"),
            utc("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            utc("2024-05-01T05:00:00-05:00"),
            utc("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            utc("2024-05-01T10:00:00.0000000+00:00"),
            utc("2024-05-01T10:00:00Z")
        );
    }

    #[test]
    fn json_dates_are_milliseconds_since_the_epoch() {
        assert_eq!(
            utc("/Date(1714557600123)/"),
            utc("2024-05-01T10:00:00.123Z")
        );
        assert_eq!(utc("/Date(-1000)/"), utc("1969-12-31T23:59:59Z"));
        assert_eq!(utc("/Date(0+0200)/"), utc("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for s in [
            "",
            "2024-05-01",
            "2024-05-01T10:00:00",
            "2024-13-01T10:00:00Z",
            "2024-02-30T10:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00+2:00",
            "2024-05-01T10:00:00+24:00",
            "2024-05-01T10:00:00Zjunk",
            "/Date()/",
            "/Date(abc)/",
            "/Date(99999999999999999999)/",
            "/Date(1+02)/",
            "२०२४-05-01T10:00:00Z",
        ] {
            assert!(parse_date(s).is_err(), "{s}");
        }
    }

    #[test]
    fn errors_name_the_input_and_the_reason() {
        let msg = parse_date("2024-05-01").err().map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some("invalid date '2024-05-01': expected 'T' between the date and the time")
        );
    }

    #[test]
    fn format_date_writes_six_digits_and_z() {
        let dt = utc("2024-05-01T10:00:00.1234567Z");
        assert_eq!(format_date(&dt), "2024-05-01T10:00:00.123456Z");
        assert_eq!(
            format_date(&utc("2024-05-01T10:00:00Z")),
            "2024-05-01T10:00:00.000000Z"
        );
    }

    #[test]
    fn format_date_millis_writes_three_digits_and_z() {
        let dt = utc("2024-05-01T10:00:00.1239Z");
        assert_eq!(format_date_millis(&dt), "2024-05-01T10:00:00.123Z");
    }

    #[test]
    fn the_fast_writers_match_the_strftime_patterns() {
        // Instants across the whole 0–9999 range (a stride prime to every unit), plus the
        // first and last microsecond of it.
        let first = utc("0000-01-01T00:00:00Z").timestamp_micros();
        let last = utc("9999-12-31T23:59:59.999999Z").timestamp_micros();
        let stride = (last - first) / 9973;
        let instants = (0..9973)
            .map(|i| first + i * stride + i * 1_001)
            .chain([first, last])
            .filter_map(from_micros);
        for dt in instants {
            assert_eq!(
                format_date(&dt),
                dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
            assert_eq!(
                format_date_millis(&dt),
                dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            );
        }
    }

    #[test]
    fn years_beyond_four_digits_still_format() {
        let dt = from_micros(utc("9999-12-31T23:59:59Z").timestamp_micros() + 86_400_000_000);
        assert_eq!(
            dt.map(|d| format_date(&d)).as_deref(),
            Some("+10000-01-01T23:59:59.000000Z")
        );
    }

    #[test]
    fn formatted_dates_parse_back() {
        let dt = utc("2024-05-01T10:00:00.654321Z");
        assert_eq!(parse_date(&format_date(&dt)), Ok(dt));
    }

    #[test]
    fn micros_round_trip() {
        let dt = utc("2024-05-01T10:00:00.654321Z");
        assert_eq!(to_micros(&dt), 1_714_557_600_654_321);
        assert_eq!(from_micros(to_micros(&dt)), Some(dt));
        assert_eq!(from_micros(i64::MAX), None);
    }
}
