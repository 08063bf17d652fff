//! The visibility rule of the data model: which relations a read at (as_of, known_at) sees.

use serde::{Deserialize, Serialize};

use crate::{RelationTimes, Timestamp};

/// The point a read looks from: event time `as_of` (T) and transaction time `known_at` (K).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visibility {
    pub as_of: Timestamp,
    pub known_at: Timestamp,
}

impl Visibility {
    /// What is true now, as far as we know now.
    pub fn now() -> Self {
        Visibility::at(crate::clock::Clock::now(&crate::SystemClock))
    }

    /// A request's read point: each time it names, now for the ones it leaves out.
    pub fn or_now(as_of: Option<Timestamp>, known_at: Option<Timestamp>) -> Self {
        let now = Visibility::now();
        Visibility {
            as_of: as_of.unwrap_or(now.as_of),
            known_at: known_at.unwrap_or(now.known_at),
        }
    }

    /// What is true at `t`, as known at `t`.
    pub fn at(t: Timestamp) -> Self {
        Visibility {
            as_of: t,
            known_at: t,
        }
    }

    /// Both times through [`crate::time::check`], named `as_of` and `known_at`.
    pub fn checked(self) -> Result<Self, crate::ValidationError> {
        Ok(Visibility {
            as_of: crate::time::check("as_of", self.as_of)?,
            known_at: crate::time::check("known_at", self.known_at)?,
        })
    }
}

/// A relation is visible at (T, K) iff it was recorded by K, not retracted by K, had started
/// by T (or has no start), and either has not ended, or its end was learned after K, or T is
/// before its end.
pub fn is_visible(times: &RelationTimes, at: &Visibility) -> bool {
    let (t, k) = (at.as_of, at.known_at);
    let recorded = times.recorded_at <= k;
    let retracted = times.retracted_at.is_some_and(|r| r <= k);
    let started = times.valid_from.is_none_or(|from| from <= t);
    let not_ended = match times.valid_to {
        None => true,
        Some(to) => {
            // No `invalidated_at` means the end was known when the relation was recorded.
            let end_learned_after_k = times.invalidated_at.is_some_and(|i| i > k);
            end_learned_after_k || t < to
        }
    };
    recorded && !retracted && started && not_ended
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn day(d: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2024, 1, d, 0, 0, 0).unwrap()
    }

    /// Alice lived in Boston from day 5; on day 20 we learned she moved out on day 15.
    fn ended() -> RelationTimes {
        RelationTimes {
            valid_from: Some(day(5)),
            valid_to: Some(day(15)),
            recorded_at: day(6),
            invalidated_at: Some(day(20)),
            retracted_at: None,
        }
    }

    fn current() -> RelationTimes {
        RelationTimes {
            valid_from: Some(day(5)),
            valid_to: None,
            recorded_at: day(6),
            invalidated_at: None,
            retracted_at: None,
        }
    }

    #[test]
    fn visibility_table() {
        let cases: &[(&str, RelationTimes, (u32, u32), bool)] = &[
            ("current, now", current(), (25, 25), true),
            ("current, before valid_from", current(), (4, 25), false),
            (
                "current, known_at before recorded",
                current(),
                (25, 5),
                false,
            ),
            ("ended, as_of after valid_to", ended(), (16, 25), false),
            ("ended, as_of at valid_to", ended(), (15, 25), false),
            ("ended, as_of inside interval", ended(), (10, 25), true),
            ("ended, as_of before valid_from", ended(), (4, 25), false),
            (
                "ended, known_at before invalidation: old belief",
                ended(),
                (25, 19),
                true,
            ),
            ("ended, known_at at invalidation", ended(), (25, 20), false),
            (
                "retracted, known_at after retraction",
                RelationTimes {
                    retracted_at: Some(day(10)),
                    ..current()
                },
                (25, 25),
                false,
            ),
            (
                "retracted, as_of inside interval still hidden",
                RelationTimes {
                    retracted_at: Some(day(10)),
                    ..current()
                },
                (7, 25),
                false,
            ),
            (
                "retracted, known_at before retraction",
                RelationTimes {
                    retracted_at: Some(day(10)),
                    ..current()
                },
                (25, 9),
                true,
            ),
            (
                "null valid_from, any as_of",
                RelationTimes {
                    valid_from: None,
                    ..current()
                },
                (1, 25),
                true,
            ),
            (
                "null valid_from, ended",
                RelationTimes {
                    valid_from: None,
                    ..ended()
                },
                (1, 25),
                true,
            ),
            (
                "recorded after known_at",
                RelationTimes {
                    recorded_at: day(22),
                    ..current()
                },
                (25, 21),
                false,
            ),
            (
                "stored already ended (no invalidated_at), as_of after end",
                RelationTimes {
                    invalidated_at: None,
                    ..ended()
                },
                (16, 25),
                false,
            ),
            (
                "stored already ended (no invalidated_at), as_of inside",
                RelationTimes {
                    invalidated_at: None,
                    ..ended()
                },
                (10, 25),
                true,
            ),
        ];
        for (name, times, (t, k), expected) in cases {
            let at = Visibility {
                as_of: day(*t),
                known_at: day(*k),
            };
            assert_eq!(is_visible(times, &at), *expected, "case: {name}");
        }
    }
}
