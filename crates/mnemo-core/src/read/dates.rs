//! Dates the query names ("in May 2023", "on October 13, 2023", "in June", "in 2022"), read
//! without a model, and whether a message was said in or shortly after them: a question
//! about June is answered by what was said in June, or soon after ("we went camping last
//! week", said on July 2).

use chrono::{Datelike as _, Duration, NaiveDate, TimeZone as _, Utc};

use crate::Fact;
use crate::Timestamp;
use crate::identity::MONTH_NAMES;
use crate::write::SAID_AT;

/// How long after a named period a message still counts as about it.
const REPORTED_WITHIN: Duration = Duration::days(31);

/// Words before a month name that make it a date ("in May"), for the month names that are
/// also everyday words ("may", "march").
const DATE_PREPOSITIONS: [&str; 8] = ["in", "on", "during", "since", "of", "early", "late", "mid"];

/// A period the query names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateCue {
    /// `[start, end)`: a day, a month of a year, or a year.
    Span { start: Timestamp, end: Timestamp },
    /// A month (1-12) of whichever year ("in June").
    Month(u32),
}

fn midnight(date: NaiveDate) -> Timestamp {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn month_of(word: &str) -> Option<u32> {
    let index = MONTH_NAMES.iter().position(|m| *m == word)?;
    u32::try_from(index + 1).ok()
}

/// A day of the month: "13", "13th", "1st".
fn day_of(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

fn year_of(word: &str) -> Option<i32> {
    if word.len() != 4 {
        return None;
    }
    word.parse().ok().filter(|y| (1900..=2100).contains(y))
}

fn span(start: NaiveDate, end: NaiveDate) -> DateCue {
    DateCue::Span {
        start: midnight(start),
        end: midnight(end),
    }
}

fn month_span(year: i32, month: u32) -> Option<DateCue> {
    let start = NaiveDate::from_ymd_opt(year, month, 1)?;
    let end = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some(span(start, end))
}

fn day_span(year: i32, month: u32, day: u32) -> Option<DateCue> {
    let start = NaiveDate::from_ymd_opt(year, month, day)?;
    Some(span(start, start.succ_opt()?))
}

/// The first period the query names, if any: "Month [day][,] [year]", "day Month[,]
/// year", or a year on its own.
pub(crate) fn cue(query: &str) -> Option<DateCue> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let at = |i: usize| words.get(i).map(String::as_str);
    for (i, word) in words.iter().enumerate() {
        if let Some(month) = month_of(word) {
            let next = at(i + 1);
            let after = at(i + 2);
            let before = i.checked_sub(1).and_then(&at);
            // "13 October 2023"
            if let (Some(day), Some(year)) = (before.and_then(day_of), next.and_then(year_of)) {
                return day_span(year, month, day);
            }
            // "October 13, 2023" / "October 13"
            if let Some(day) = next.and_then(day_of) {
                return match after.and_then(year_of) {
                    Some(year) => day_span(year, month, day),
                    None => Some(DateCue::Month(month)),
                };
            }
            // "October 2023"
            if let Some(year) = next.and_then(year_of) {
                return month_span(year, month);
            }
            let everyday_word = matches!(month, 3 | 5);
            if !everyday_word || before.is_some_and(|b| DATE_PREPOSITIONS.contains(&b)) {
                return Some(DateCue::Month(month));
            }
        }
    }
    words.iter().find_map(|w| year_of(w)).and_then(|year| {
        Some(span(
            NaiveDate::from_ymd_opt(year, 1, 1)?,
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
        ))
    })
}

impl DateCue {
    /// Said in the period or within [`REPORTED_WITHIN`] after it.
    pub(crate) fn covers(&self, said_at: Timestamp) -> bool {
        match *self {
            DateCue::Span { start, end } => start <= said_at && said_at < end + REPORTED_WITHIN,
            DateCue::Month(month) => {
                said_at.month() == month || (said_at - REPORTED_WITHIN).month() == month
            }
        }
    }
}

/// When a message fact (`infer: false`) was said; `None` for other facts.
pub(crate) fn said_at(fact: &Fact) -> Option<Timestamp> {
    let text = fact.metadata.get(SAID_AT)?.as_str()?;
    Some(chrono::DateTime::parse_from_rfc3339(text).ok()?.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn days(start: &str, end: &str) -> Option<DateCue> {
        Some(DateCue::Span {
            start: at(start),
            end: at(end),
        })
    }

    #[test]
    fn queries_name_days_months_and_years() {
        let cases = [
            (
                "What painting did Melanie show on October 13, 2023?",
                days("2023-10-13T00:00:00Z", "2023-10-14T00:00:00Z"),
            ),
            (
                "What did Gina find on 1 February, 2023?",
                days("2023-02-01T00:00:00Z", "2023-02-02T00:00:00Z"),
            ),
            (
                "What setback did Melanie face in October 2023?",
                days("2023-10-01T00:00:00Z", "2023-11-01T00:00:00Z"),
            ),
            (
                "workout class in December 2023",
                days("2023-12-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            ),
            (
                "When did Melanie go camping in June?",
                Some(DateCue::Month(6)),
            ),
            ("Who did Maria meet on May 3?", Some(DateCue::Month(5))),
            ("in May", Some(DateCue::Month(5))),
            (
                "How many times has Melanie gone to the beach in 2023?",
                days("2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            ),
            ("May I ask where Alice lives?", None),
            ("Will they march for it?", None),
            ("What is her favourite colour?", None),
            ("February 30, 2023", None),
            ("She has 1234 stamps", None),
        ];
        for (query, expected) in cases {
            assert_eq!(cue(query), expected, "{query}");
        }
    }

    #[test]
    fn a_period_covers_what_was_said_in_it_and_the_month_after() {
        let june = DateCue::Month(6);
        assert!(june.covers(at("2023-06-15T10:00:00Z")));
        assert!(june.covers(at("2023-07-02T10:00:00Z")));
        assert!(!june.covers(at("2023-08-05T10:00:00Z")));
        assert!(!june.covers(at("2023-05-31T10:00:00Z")));
        let day = cue("on October 13, 2023").unwrap();
        assert!(day.covers(at("2023-10-13T18:00:00Z")));
        assert!(day.covers(at("2023-11-10T00:00:00Z")));
        assert!(!day.covers(at("2023-11-20T00:00:00Z")));
        assert!(!day.covers(at("2023-10-12T23:59:59Z")));
    }
}
