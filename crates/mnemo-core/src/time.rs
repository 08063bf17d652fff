//! The one supported range of timestamps and the one text form of a stored timestamp, so
//! that whatever an entry accepts, every backend can write and read back exactly.
//!
//! The range is 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999999Z (UTC), which
//! SQLite text, Neo4j `datetime` and Qdrant payloads (RFC 3339 text plus epoch
//! microseconds) all hold. Every entry (HTTP, CLI, import files, LLM answers) passes its
//! timestamps through [`check`]; every store encodes through [`check_stored`] (or
//! [`to_text`]) and refuses, before its transaction, what would not read back.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};

use crate::{Timestamp, ValidationError};

/// The earliest supported instant: 0001-01-01T00:00:00Z.
pub const MIN: Timestamp = match DateTime::from_timestamp(-62_135_596_800, 0) {
    Some(t) => t,
    None => panic!("0001-01-01 is a valid instant"),
};

/// The latest supported instant: 9999-12-31T23:59:59.999999999Z.
pub const MAX: Timestamp = match DateTime::from_timestamp(253_402_300_799, 999_999_999) {
    Some(t) => t,
    None => panic!("9999-12-31 is a valid instant"),
};

/// The range as the error messages state it.
pub const RANGE: &str = "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z";

/// A timestamp from outside (a request, a file, an LLM answer) as mnemo keeps it: a leap
/// second (`23:59:60`, which no store can hold) becomes the last nanosecond before it,
/// and anything outside [`MIN`]..=[`MAX`] is refused naming `field`.
pub fn check(field: &str, t: Timestamp) -> Result<Timestamp, ValidationError> {
    let t = if t.nanosecond() >= 1_000_000_000 {
        t.with_nanosecond(999_999_999).unwrap_or(t)
    } else {
        t
    };
    if (MIN..=MAX).contains(&t) {
        Ok(t)
    } else {
        Err(ValidationError::Timestamp {
            field: field.to_owned(),
            value: t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        })
    }
}

/// [`check`] for an optional value.
pub fn check_opt(field: &str, t: Option<Timestamp>) -> Result<Option<Timestamp>, ValidationError> {
    t.map(|t| check(field, t)).transpose()
}

/// `Ok` when a store can write `t` and read the same instant back: in range and not a
/// leap second. Stores call it on every timestamp before their transaction.
pub fn check_stored(field: &str, t: &Timestamp) -> Result<(), ValidationError> {
    match check(field, *t) {
        Ok(checked) if checked == *t => Ok(()),
        Ok(_) => Err(ValidationError::Timestamp {
            field: field.to_owned(),
            value: t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }),
        Err(e) => Err(e),
    }
}

/// The stored text of a timestamp: RFC 3339 in UTC with exactly nine fractional digits,
/// fixed-width over the whole range, so it round-trips to the nanosecond and sorts as
/// text in time order.
pub fn to_text(field: &str, t: &Timestamp) -> Result<String, ValidationError> {
    check_stored(field, t)?;
    Ok(t.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

/// Reads a stored timestamp (any RFC 3339 text, so older encodings still read); text that
/// does not parse or lies outside the range is an error whose message says why.
pub fn from_text(s: &str) -> Result<Timestamp, String> {
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{s:?}: {e}"))?
        .with_timezone(&Utc);
    check_stored("timestamp", &t).map_err(|e| format!("{s:?}: {e}"))?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn bounds_are_the_documented_instants() {
        assert_eq!(MIN, at("0001-01-01T00:00:00Z"));
        assert_eq!(MAX, at("9999-12-31T23:59:59.999999999Z"));
    }

    #[test]
    fn check_admits_the_range_folds_leap_seconds_and_names_the_field() {
        fn case(input: &str, expected: Result<&str, &str>) {
            let got = serde_json::from_str::<Timestamp>(&format!("\"{input}\""))
                .map_err(|e| e.to_string())
                .and_then(|t| check("valid_from", t).map_err(|e| e.to_string()))
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true));
            assert_eq!(got.as_deref().map_err(String::as_str), expected, "{input}");
        }
        let edge = "0001-01-01T00:00:00.000000000Z";
        case("0001-01-01T00:00:00Z", Ok(edge));
        case(
            "9999-12-31T23:59:59.999999999Z",
            Ok("9999-12-31T23:59:59.999999999Z"),
        );
        case("2016-12-31T23:59:60Z", Ok("2016-12-31T23:59:59.999999999Z"));
        case(
            "2016-12-31T23:59:60.5Z",
            Ok("2016-12-31T23:59:59.999999999Z"),
        );
        case("0001-01-01T14:00:00+14:00", Ok(edge));
        let out = |v: &str| {
            format!("valid_from: timestamp {v} is outside the supported range {RANGE} (UTC)")
        };
        let refused = [
            ("-0001-01-01T00:00:00Z", "-0001-01-01T00:00:00Z"),
            ("0000-12-31T23:59:59Z", "0000-12-31T23:59:59Z"),
            ("0001-01-01T00:00:00+00:01", "0000-12-31T23:59:00Z"),
            ("9999-12-31T23:59:59-12:00", "+10000-01-01T11:59:59Z"),
            ("+10000-01-01T00:00:00Z", "+10000-01-01T00:00:00Z"),
        ];
        for (input, shown) in refused {
            let message = out(shown);
            case(input, Err(&message));
        }
    }

    /// Every instant of the range is one `to_text` writes and `from_text` reads back the
    /// same, and the text sorts in time order (a deterministic sweep plus the edges).
    #[test]
    fn text_round_trips_and_sorts_over_the_whole_range() {
        let times = mnemo_testkit::fixtures::timestamp_sweep();
        for t in &times {
            let text = to_text("t", t).unwrap();
            assert_eq!(from_text(&text).as_ref(), Ok(t), "{text}");
        }
        for pair in times.windows(2) {
            let (a, b) = (
                to_text("t", &pair[0]).unwrap(),
                to_text("t", &pair[1]).unwrap(),
            );
            assert!(a <= b, "{a:?} > {b:?}");
        }
        for outside in [
            MIN - chrono::Duration::nanoseconds(1),
            MAX + chrono::Duration::nanoseconds(1),
        ] {
            assert!(to_text("t", &outside).is_err(), "{outside:?}");
        }
        let leap = at("2016-12-31T23:59:60Z");
        assert!(to_text("t", &leap).is_err());
        for unreadable in [
            "-0001-01-01T00:00:00.000000000Z",
            "+10000-01-01T00:00:00.000000000Z",
            "0000-01-01T00:00:00.000000000Z",
            "yesterday",
        ] {
            assert!(from_text(unreadable).is_err(), "{unreadable}");
        }
    }
}
