//! Helpers the unit tests of the opening-hours rules share.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;

use crate::outlet::{OpeningInterval, WEEK};

/// `h:m` on the clock.
pub(crate) fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

/// Open from `opens` to `closes` every day of the week.
pub(crate) fn every_day(opens: NaiveTime, closes: NaiveTime) -> Vec<OpeningInterval> {
    WEEK.into_iter()
        .map(|day| OpeningInterval { day, opens, closes })
        .collect()
}

/// A wall-clock time in London (the earlier one when the clocks fall back).
pub(crate) fn london(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    London
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}
