//! Outlets (room service, bar, spa...) and their weekly opening hours.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use crate::{error::DomainError, property::PropertyId};

pub type OutletId = i64;

/// One weekly opening interval in the property's local wall-clock time.
///
/// The interval includes `opens` and excludes `closes`. When `closes` is earlier than `opens`
/// it runs past midnight into the next day; when both are equal the outlet is open for the
/// whole day from that time (until the same wall-clock time the next day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningInterval {
    pub day: Weekday,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

impl OpeningInterval {
    /// The local start and end of this interval in the week that starts on `monday`.
    pub(crate) fn span_in_week_of(
        &self,
        monday: chrono::NaiveDate,
    ) -> (NaiveDateTime, NaiveDateTime) {
        let date = monday + Duration::days(i64::from(self.day.num_days_from_monday()));
        let start = date.and_time(self.opens);
        let end = if self.closes > self.opens {
            date.and_time(self.closes)
        } else {
            (date + Duration::days(1)).and_time(self.closes)
        };
        (start, end)
    }

    /// Whether the local wall-clock instant `local` falls in this interval (in any week).
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        let monday =
            local.date() - Duration::days(i64::from(local.weekday().num_days_from_monday()));
        // An interval of last week's Sunday may spill into this Monday, so look one week back.
        [monday - Duration::days(7), monday]
            .into_iter()
            .any(|week| {
                let (start, end) = self.span_in_week_of(week);
                start <= local && local < end
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlet {
    pub id: OutletId,
    pub property_id: PropertyId,
    pub code: String,
    pub name: String,
    pub description: String,
    pub display_order: i32,
    pub active: bool,
    pub allow_guest_messages: bool,
    pub allow_non_verified_guests: bool,
    pub service_center_name: String,
    pub opening_hours: Vec<OpeningInterval>,
    /// The reply target (section 14): minutes of opening time within which staff should
    /// answer a waiting guest; `None` when the outlet has none.
    pub reply_target_minutes: Option<u32>,
    /// The automatic answer to a guest who writes while the outlet is closed, if any.
    pub out_of_hours_reply: Option<String>,
}

impl Outlet {
    /// Open at `at` by its weekly hours in the time zone `tz`; no hours at all means always open.
    pub fn is_open_at(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        crate::reply_clock::is_open(&self.opening_hours, tz, at)
    }

    /// Whether a writer of the given kind may write to this outlet, its activity aside.
    pub fn accepts(&self, audience: Audience) -> bool {
        match audience {
            Audience::VerifiedGuest => self.allow_guest_messages,
            Audience::Visitor => self.allow_guest_messages && self.allow_non_verified_guests,
            Audience::ServiceCenter => true,
        }
    }

    /// The one rule for "may this audience start a conversation at this outlet": it must be
    /// active (else `OutletNotFound`, exactly like an unknown code) and accept the audience
    /// (else `OutletNotAllowed`). Opening hours only matter when no outlet was named.
    pub fn usable_by(&self, audience: Audience) -> Result<(), DomainError> {
        if !self.active {
            return Err(DomainError::OutletNotFound);
        }
        if !self.accepts(audience) {
            return Err(DomainError::OutletNotAllowed);
        }
        Ok(())
    }
}

/// Who is writing: an in-house guest verified by room, a non-verified visitor, or the
/// service centre (staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    VerifiedGuest,
    Visitor,
    ServiceCenter,
}

/// The days of the week, Monday first.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Parses a weekday name as the wire writes it (`Monday` ... `Sunday`, any letter case).
pub fn parse_weekday(name: &str) -> Option<Weekday> {
    name.trim().parse::<Weekday>().ok()
}

/// The wire name of a weekday.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{every_day, london, time};
    use chrono::TimeZone;
    use chrono_tz::Europe::London;

    #[test]
    fn an_outlet_is_usable_when_active_and_accepting_the_audience() {
        let mut bar = outlet(vec![]);
        assert_eq!(bar.usable_by(Audience::Visitor), Ok(()));
        bar.allow_non_verified_guests = false;
        assert_eq!(
            bar.usable_by(Audience::Visitor),
            Err(DomainError::OutletNotAllowed)
        );
        assert_eq!(bar.usable_by(Audience::VerifiedGuest), Ok(()));
        bar.allow_guest_messages = false;
        assert_eq!(
            bar.usable_by(Audience::VerifiedGuest),
            Err(DomainError::OutletNotAllowed)
        );
        assert_eq!(bar.usable_by(Audience::ServiceCenter), Ok(()));
        bar.active = false;
        assert_eq!(
            bar.usable_by(Audience::ServiceCenter),
            Err(DomainError::OutletNotFound)
        );
    }

    fn outlet(hours: Vec<OpeningInterval>) -> Outlet {
        Outlet {
            id: 1,
            property_id: 1,
            code: "BAR".into(),
            name: "Bar".into(),
            description: String::new(),
            display_order: 1,
            active: true,
            allow_guest_messages: true,
            allow_non_verified_guests: true,
            service_center_name: "Bar Team".into(),
            opening_hours: hours,
            reply_target_minutes: None,
            out_of_hours_reply: None,
        }
    }

    #[test]
    fn an_outlet_without_hours_is_always_open() {
        assert!(outlet(vec![]).is_open_at(London, london(2026, 1, 1, 3, 0)));
    }

    #[test]
    fn an_interval_includes_its_start_and_excludes_its_end() {
        let spa = outlet(every_day(time(9, 0), time(20, 0)));
        assert!(!spa.is_open_at(London, london(2026, 3, 10, 8, 59)));
        assert!(spa.is_open_at(London, london(2026, 3, 10, 9, 0)));
        assert!(spa.is_open_at(London, london(2026, 3, 10, 19, 59)));
        assert!(!spa.is_open_at(London, london(2026, 3, 10, 20, 0)));
    }

    #[test]
    fn hours_are_read_in_the_property_time_zone_in_summer() {
        let spa = outlet(every_day(time(9, 0), time(20, 0)));
        // 08:30 UTC is 09:30 in London during British Summer Time.
        let at = Utc
            .with_ymd_and_hms(2026, 7, 1, 8, 30, 0)
            .single()
            .unwrap_or_default();
        assert!(spa.is_open_at(London, at));
        let at = Utc
            .with_ymd_and_hms(2026, 7, 1, 19, 30, 0)
            .single()
            .unwrap_or_default();
        assert!(!spa.is_open_at(London, at));
    }

    #[test]
    fn an_interval_ending_before_it_starts_runs_past_midnight() {
        let bar = outlet(every_day(time(17, 0), time(1, 0)));
        assert!(bar.is_open_at(London, london(2026, 3, 10, 23, 30)));
        assert!(bar.is_open_at(London, london(2026, 3, 11, 0, 59)));
        assert!(!bar.is_open_at(London, london(2026, 3, 11, 1, 0)));
        assert!(!bar.is_open_at(London, london(2026, 3, 11, 16, 59)));
        assert!(bar.is_open_at(London, london(2026, 3, 11, 17, 0)));
    }

    #[test]
    fn a_sunday_night_interval_spills_into_monday_morning() {
        let bar = outlet(vec![OpeningInterval {
            day: Weekday::Sun,
            opens: time(22, 0),
            closes: time(2, 0),
        }]);
        // 2026-03-16 is a Monday.
        assert!(bar.is_open_at(London, london(2026, 3, 16, 1, 0)));
        assert!(!bar.is_open_at(London, london(2026, 3, 17, 1, 0)));
        assert!(bar.is_open_at(London, london(2026, 3, 15, 23, 0)));
    }

    #[test]
    fn equal_start_and_end_mean_open_for_a_whole_day_from_that_time() {
        let desk = outlet(vec![OpeningInterval {
            day: Weekday::Tue,
            opens: time(6, 0),
            closes: time(6, 0),
        }]);
        // 2026-03-10 is a Tuesday.
        assert!(!desk.is_open_at(London, london(2026, 3, 10, 5, 59)));
        assert!(desk.is_open_at(London, london(2026, 3, 10, 6, 0)));
        assert!(desk.is_open_at(London, london(2026, 3, 11, 5, 59)));
        assert!(!desk.is_open_at(London, london(2026, 3, 11, 6, 0)));
    }

    #[test]
    fn hours_hold_on_the_night_clocks_go_forward_in_london() {
        // 2026-03-29 01:00 GMT the clocks jump to 02:00 BST.
        let bar = outlet(every_day(time(17, 0), time(1, 0)));
        let before_jump = Utc
            .with_ymd_and_hms(2026, 3, 29, 0, 30, 0)
            .single()
            .unwrap_or_default();
        assert!(
            bar.is_open_at(London, before_jump),
            "00:30 GMT is still open"
        );
        let after_jump = Utc
            .with_ymd_and_hms(2026, 3, 29, 1, 0, 0)
            .single()
            .unwrap_or_default();
        assert!(
            !bar.is_open_at(London, after_jump),
            "02:00 BST is past closing"
        );
        let spa = outlet(every_day(time(9, 0), time(20, 0)));
        let nine_bst = Utc
            .with_ymd_and_hms(2026, 3, 29, 8, 0, 0)
            .single()
            .unwrap_or_default();
        assert!(spa.is_open_at(London, nine_bst));
        let eight_bst = Utc
            .with_ymd_and_hms(2026, 3, 29, 7, 0, 0)
            .single()
            .unwrap_or_default();
        assert!(!spa.is_open_at(London, eight_bst));
    }

    #[test]
    fn hours_hold_on_the_night_clocks_go_back_in_london() {
        // 2026-10-25 02:00 BST the clocks fall back to 01:00 GMT: 01:xx happens twice.
        let bar = outlet(every_day(time(17, 0), time(1, 0)));
        let first_half_past_midnight = Utc
            .with_ymd_and_hms(2026, 10, 24, 23, 30, 0)
            .single()
            .unwrap_or_default();
        assert!(bar.is_open_at(London, first_half_past_midnight));
        let first_one_am = Utc
            .with_ymd_and_hms(2026, 10, 25, 0, 0, 0)
            .single()
            .unwrap_or_default();
        assert!(!bar.is_open_at(London, first_one_am));
        let second_one_am = Utc
            .with_ymd_and_hms(2026, 10, 25, 1, 0, 0)
            .single()
            .unwrap_or_default();
        assert!(!bar.is_open_at(London, second_one_am));
    }

    #[test]
    fn only_the_named_days_are_open() {
        let brunch = outlet(vec![OpeningInterval {
            day: Weekday::Sat,
            opens: time(10, 0),
            closes: time(14, 0),
        }]);
        assert!(brunch.is_open_at(London, london(2026, 3, 14, 11, 0)));
        assert!(!brunch.is_open_at(London, london(2026, 3, 15, 11, 0)));
    }

    #[test]
    fn weekday_names_round_trip() {
        for day in [Weekday::Mon, Weekday::Sun] {
            assert_eq!(parse_weekday(weekday_name(day)), Some(day));
        }
        assert_eq!(parse_weekday("friday"), Some(Weekday::Fri));
        assert_eq!(parse_weekday("Someday"), None);
    }
}
