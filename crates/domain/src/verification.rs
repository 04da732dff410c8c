//! Failed room verifications: how many a room may have before every attempt for it waits.
//!
//! Room number and last name are a weak secret (a hotel has a few hundred rooms, and last
//! names can be guessed), so failed attempts are counted per property and room in a fixed
//! window of [`FAILURE_WINDOW`] that starts with the first failure. Once a window holds the
//! configured number of failures, every attempt for that room — the right name included —
//! is refused until the window has passed. Successful attempts are never counted.

use chrono::{DateTime, Duration, Utc};

/// The length of a counting window: 15 minutes.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);

/// The longest room number kept as a counting key. No stay has a longer one (the schema caps
/// room numbers at 20 characters), so a longer guess is counted under its first characters
/// and a client cannot grow the table with megabyte-long keys.
pub const MAX_ROOM_KEY_CHARS: usize = 50;

/// The failures counted for one room in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureWindow {
    pub started_at: DateTime<Utc>,
    pub failures: u32,
}

impl FailureWindow {
    /// When the window ends.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.started_at + FAILURE_WINDOW
    }

    /// Until when attempts for the room are refused at `now`, if they are: the window is
    /// still running and holds `limit` failures or more. A `limit` of 0 never refuses.
    pub fn refuses_until(&self, now: DateTime<Utc>, limit: u32) -> Option<DateTime<Utc>> {
        (limit > 0 && self.failures >= limit && now < self.ends_at()).then(|| self.ends_at())
    }

    /// The window after one more failure at `now`: counted in this window while it runs, else
    /// the first of a new one.
    pub fn after_failure(current: Option<Self>, now: DateTime<Utc>) -> Self {
        match current {
            Some(window) if now < window.ends_at() => Self {
                failures: window.failures.saturating_add(1),
                ..window
            },
            _ => Self {
                started_at: now,
                failures: 1,
            },
        }
    }
}

/// Whole seconds from `now` until `until`, rounded up (a `Retry-After` value, at least 1).
pub fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    let millis = (until - now).num_milliseconds().max(0);
    u64::try_from((millis + 999) / 1000).unwrap_or(1).max(1)
}

/// The key a room number is counted under (see [`MAX_ROOM_KEY_CHARS`]).
pub fn room_key(room_number: &str) -> String {
    room_number.chars().take(MAX_ROOM_KEY_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 10, 12, 0, 0).unwrap() + Duration::minutes(minute)
    }

    #[test]
    fn a_room_is_refused_once_its_window_holds_the_limit_of_failures() {
        let mut window = None;
        for _ in 0..9 {
            window = Some(FailureWindow::after_failure(window, at(1)));
        }
        let nine = window.unwrap();
        assert_eq!(nine.refuses_until(at(2), 10), None);
        let ten = FailureWindow::after_failure(window, at(2));
        assert_eq!(ten.failures, 10);
        assert_eq!(ten.refuses_until(at(3), 10), Some(at(16)));
    }

    #[test]
    fn the_refusal_ends_with_the_window() {
        let window = FailureWindow {
            started_at: at(0),
            failures: 10,
        };
        assert_eq!(window.refuses_until(at(14), 10), Some(at(15)));
        assert_eq!(window.refuses_until(at(15), 10), None);
    }

    #[test]
    fn a_failure_after_the_window_starts_a_new_one() {
        let old = FailureWindow {
            started_at: at(0),
            failures: 10,
        };
        assert_eq!(
            FailureWindow::after_failure(Some(old), at(20)),
            FailureWindow {
                started_at: at(20),
                failures: 1
            }
        );
    }

    #[test]
    fn a_limit_of_zero_never_refuses() {
        let window = FailureWindow {
            started_at: at(0),
            failures: 1000,
        };
        assert_eq!(window.refuses_until(at(1), 0), None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let now = at(0);
        assert_eq!(seconds_until(now, now + Duration::milliseconds(1)), 1);
        assert_eq!(seconds_until(now, now + Duration::milliseconds(60_001)), 61);
        assert_eq!(seconds_until(now, now - Duration::seconds(5)), 1);
    }

    #[test]
    fn long_room_numbers_are_counted_under_their_first_characters() {
        assert_eq!(room_key("101"), "101");
        assert_eq!(room_key(&"9".repeat(10_000)).chars().count(), 50);
    }
}
