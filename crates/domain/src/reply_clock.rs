//! The reply clock (section 14 of the spec): how long a waiting guest may wait, counted in the
//! outlet's open time only, and the out-of-hours answer.
//!
//! A conversation **awaits a reply** from its oldest guest message that no staff message has
//! followed, until a staff message (not an automatic one) or closing. Its reply is **due** when
//! the outlet has been open for its target since then. Opening hours are wall-clock intervals
//! in the property's time zone; an instant is open when its local wall-clock time falls in one
//! ([`is_open`], the same rule as outlet selection), so around the clock changes open time is
//! real elapsed time: the hour that is skipped in spring is never open, and the hour that
//! happens twice in autumn counts twice when it is open.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{
    conversation::{MessageType, NewMessage},
    outlet::{OpeningInterval, Outlet},
    property::Property,
};

/// The smallest and largest reply target, in minutes (one week).
pub const TARGET_MINUTES: std::ops::RangeInclusive<u32> = 1..=10_080;
/// The longest out-of-hours reply, in Unicode scalar values.
pub const OUT_OF_HOURS_REPLY_MAX_CHARS: usize = 1000;

/// Whether weekly `hours` are open at `at` in time zone `tz`: no hours at all means always
/// open; otherwise the local wall-clock time must fall in an interval.
pub fn is_open(hours: &[OpeningInterval], tz: Tz, at: DateTime<Utc>) -> bool {
    if hours.is_empty() {
        return true;
    }
    let local = at.with_timezone(&tz).naive_local();
    hours.iter().any(|interval| interval.contains(local))
}

/// The moment at which `hours` have been open for `target` since `since`: time outside the
/// hours does not count; without hours it is `since + target`.
pub fn reply_due_at(
    hours: &[OpeningInterval],
    tz: Tz,
    since: DateTime<Utc>,
    target: Duration,
) -> DateTime<Utc> {
    if hours.is_empty() {
        return since + target;
    }
    // Walk from one change to the next: between two wall-clock boundaries (an opening or a
    // closing) and with no change of UTC offset in between, the open state is constant. Every
    // week has open time (an interval is at least a minute long), so the walk ends.
    let mut at = since;
    let mut remaining = target;
    loop {
        let local = at.with_timezone(&tz).naive_local();
        let mut next = at + (next_boundary(hours, local) - local);
        if let Some(change) = offset_change(tz, at, next) {
            next = change;
        }
        if is_open(hours, tz, at) {
            let open = next - at;
            if open >= remaining {
                return at + remaining;
            }
            remaining -= open;
        }
        at = next;
    }
}

/// The first interval boundary strictly after the wall-clock time `local`, or a day later when
/// none comes sooner.
fn next_boundary(hours: &[OpeningInterval], local: NaiveDateTime) -> NaiveDateTime {
    let monday = local.date() - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let mut best = local + Duration::days(1);
    for week in [
        monday - Duration::days(7),
        monday,
        monday + Duration::days(7),
    ] {
        for interval in hours {
            let (start, end) = interval.span_in_week_of(week);
            for boundary in [start, end] {
                if boundary > local && boundary < best {
                    best = boundary;
                }
            }
        }
    }
    best
}

fn offset_seconds(tz: Tz, at: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The instant in `(from, to]` at which the zone's UTC offset changes, if it does (at most
/// once: `to` is at most a day after `from`). Offsets change on whole seconds.
fn offset_change(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let before = offset_seconds(tz, from);
    if offset_seconds(tz, to) == before {
        return None;
    }
    let (mut low, mut high) = (from, to);
    while high - low > Duration::seconds(1) {
        let middle = low + (high - low) / 2;
        if offset_seconds(tz, middle) == before {
            low = middle;
        } else {
            high = middle;
        }
    }
    // `low < change <= high` with at most a second between them: the change is the whole
    // second at or below `high`.
    DateTime::from_timestamp(high.timestamp(), 0).filter(|t| *t > from)
}

/// The reply clock of one conversation, as stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplyClock {
    /// Since when a guest has been waiting (`None`: nobody waits).
    pub awaiting_since: Option<DateTime<Utc>>,
    /// When the reply is due (`None`: nobody waits, or the outlet has no target).
    pub due_at: Option<DateTime<Utc>>,
    /// Whether this waiting period had its out-of-hours reply.
    pub out_of_hours_replied: bool,
    /// Whether this waiting period's `conversation.overdue` was emitted.
    pub overdue_notified: bool,
}

/// What a guest message arriving now means for the reply clock, worked out from the
/// conversation's outlet at that moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuestArrival {
    /// When a waiting period that starts with this message is due (`None`: no target).
    pub due_at: Option<DateTime<Utc>>,
    /// The automatic answer, when the outlet is closed now and has one.
    pub out_of_hours_reply: Option<Box<NewMessage>>,
}

impl GuestArrival {
    /// A guest message arriving at `at` at `outlet` of `property`; `reply_code` is the code the
    /// out-of-hours reply gets if there is one.
    pub fn at_outlet(
        outlet: &Outlet,
        property: &Property,
        at: DateTime<Utc>,
        reply_code: String,
    ) -> Self {
        let tz = property.time_zone;
        let due_at = outlet.reply_target_minutes.map(|minutes| {
            reply_due_at(
                &outlet.opening_hours,
                tz,
                at,
                Duration::minutes(i64::from(minutes)),
            )
        });
        let out_of_hours_reply = outlet
            .out_of_hours_reply
            .as_ref()
            .filter(|_| !is_open(&outlet.opening_hours, tz, at))
            .map(|text| {
                Box::new(NewMessage::automatic(
                    reply_code, outlet, property, text, at,
                ))
            });
        Self {
            due_at,
            out_of_hours_reply,
        }
    }
}

impl ReplyClock {
    /// Whether the reply is overdue at `now`: from the due time on.
    pub fn is_overdue_at(&self, now: DateTime<Utc>) -> bool {
        self.due_at.is_some_and(|due| now >= due)
    }

    /// The clock after `message` is added, and the automatic message to add with it (an
    /// out-of-hours reply, at most one per waiting period). A guest message starts a waiting
    /// period unless one runs; a staff message ends it; an automatic message changes nothing.
    pub fn after_message(self, message: &NewMessage) -> (Self, Option<NewMessage>) {
        match message.message_type {
            MessageType::ServiceCenter if message.automatic => (self, None),
            MessageType::ServiceCenter => (Self::default(), None),
            MessageType::Guest => {
                let arrival = message.arrival.clone().unwrap_or_default();
                let mut clock = if self.awaiting_since.is_some() {
                    self
                } else {
                    Self {
                        awaiting_since: Some(message.created_at),
                        due_at: arrival.due_at,
                        out_of_hours_replied: false,
                        overdue_notified: false,
                    }
                };
                let reply = arrival
                    .out_of_hours_reply
                    .filter(|_| !clock.out_of_hours_replied);
                if reply.is_some() {
                    clock.out_of_hours_replied = true;
                }
                (clock, reply.map(|reply| *reply))
            }
        }
    }

    /// The clock after the conversation is closed: nobody waits any more.
    pub fn after_close(self) -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        outlet::WEEK,
        testing::{every_day, london, time},
    };
    use chrono::Weekday;
    use chrono_tz::Europe::London;
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    fn minutes(m: i64) -> Duration {
        Duration::minutes(m)
    }

    #[test]
    fn without_hours_the_reply_is_due_after_the_target() {
        let since = utc(2026, 6, 10, 3, 7);
        assert_eq!(
            reply_due_at(&[], London, since, minutes(10)),
            since + minutes(10)
        );
    }

    #[test]
    fn while_open_the_reply_is_due_after_the_target() {
        let hours = every_day(time(9, 0), time(17, 0));
        assert_eq!(
            reply_due_at(&hours, London, london(2026, 6, 10, 10, 0), minutes(15)),
            london(2026, 6, 10, 10, 15)
        );
    }

    #[test]
    fn the_night_does_not_count() {
        let hours = every_day(time(9, 0), time(17, 0));
        assert_eq!(
            reply_due_at(&hours, London, london(2026, 6, 10, 16, 55), minutes(10)),
            london(2026, 6, 11, 9, 5)
        );
    }

    #[test]
    fn a_message_while_closed_waits_for_the_opening() {
        let hours = every_day(time(9, 0), time(17, 0));
        assert_eq!(
            reply_due_at(&hours, London, london(2026, 6, 10, 3, 0), minutes(10)),
            london(2026, 6, 10, 9, 10)
        );
    }

    #[test]
    fn hours_that_cross_midnight_count_past_midnight() {
        let bar = every_day(time(17, 0), time(1, 0));
        assert_eq!(
            reply_due_at(&bar, London, london(2026, 6, 10, 23, 58), minutes(5)),
            london(2026, 6, 11, 0, 3)
        );
        assert_eq!(
            reply_due_at(&bar, London, london(2026, 6, 11, 0, 58), minutes(5)),
            london(2026, 6, 11, 17, 3)
        );
    }

    #[test]
    fn days_without_hours_are_skipped() {
        // 2026-06-12 is a Friday; the next Saturday opening is the 13th.
        let brunch = vec![OpeningInterval {
            day: Weekday::Sat,
            opens: time(10, 0),
            closes: time(14, 0),
        }];
        assert_eq!(
            reply_due_at(&brunch, London, london(2026, 6, 12, 12, 0), minutes(30)),
            london(2026, 6, 13, 10, 30)
        );
        assert_eq!(
            reply_due_at(&brunch, London, london(2026, 6, 13, 13, 50), minutes(30)),
            london(2026, 6, 20, 10, 20)
        );
    }

    #[test]
    fn the_hour_skipped_in_spring_is_never_open() {
        // 2026-03-29 01:00 GMT the clocks jump to 02:00 BST: the bar (17:00–01:00) closes at
        // 01:00 GMT, and opens again at 17:00 BST (16:00 UTC).
        let bar = every_day(time(17, 0), time(1, 0));
        assert_eq!(
            reply_due_at(&bar, London, utc(2026, 3, 29, 0, 57), minutes(5)),
            utc(2026, 3, 29, 16, 2)
        );
        // Open 00:00–03:00 local: only two real hours that night.
        let night = every_day(time(0, 0), time(3, 0));
        assert_eq!(
            reply_due_at(&night, London, utc(2026, 3, 29, 0, 0), minutes(150)),
            utc(2026, 3, 29, 23, 30)
        );
    }

    #[test]
    fn the_hour_repeated_in_autumn_counts_twice_when_open() {
        // 2026-10-25 02:00 BST the clocks fall back to 01:00 GMT: open 00:00–03:00 local is
        // four real hours, from 23:00 UTC to 03:00 UTC.
        let night = every_day(time(0, 0), time(3, 0));
        assert_eq!(
            reply_due_at(&night, London, utc(2026, 10, 24, 23, 0), minutes(200)),
            utc(2026, 10, 25, 2, 20)
        );
        // The bar closes at the first 01:00 and stays closed through the second one.
        let bar = every_day(time(17, 0), time(1, 0));
        assert_eq!(
            reply_due_at(&bar, London, utc(2026, 10, 24, 23, 55), minutes(10)),
            utc(2026, 10, 25, 17, 5)
        );
    }

    #[test]
    fn an_outlet_is_open_by_its_local_hours() {
        let hours = every_day(time(9, 0), time(17, 0));
        assert!(is_open(&hours, London, london(2026, 6, 10, 9, 0)));
        assert!(!is_open(&hours, London, london(2026, 6, 10, 17, 0)));
        assert!(is_open(&[], London, london(2026, 6, 10, 3, 0)));
    }

    fn guest_message(at: DateTime<Utc>, arrival: GuestArrival) -> NewMessage {
        NewMessage {
            code: "M".repeat(16),
            message_type: MessageType::Guest,
            content: "Hello".into(),
            first_name: String::new(),
            last_name: String::new(),
            service_center_name: String::new(),
            language_code: "en".into(),
            created_at: at,
            automatic: false,
            arrival: Some(arrival),
        }
    }

    fn staff_message(at: DateTime<Utc>, automatic: bool) -> NewMessage {
        NewMessage {
            message_type: MessageType::ServiceCenter,
            automatic,
            arrival: None,
            ..guest_message(at, GuestArrival::default())
        }
    }

    fn arrival(due: Option<DateTime<Utc>>, out_of_hours: bool) -> GuestArrival {
        GuestArrival {
            due_at: due,
            out_of_hours_reply: out_of_hours
                .then(|| Box::new(staff_message(utc(2026, 1, 1, 0, 0), true))),
        }
    }

    #[test]
    fn a_guest_message_starts_a_waiting_period_and_the_next_ones_do_not_move_it() {
        let t0 = utc(2026, 6, 10, 10, 0);
        let due = Some(t0 + minutes(10));
        let (clock, reply) =
            ReplyClock::default().after_message(&guest_message(t0, arrival(due, false)));
        assert_eq!(clock.awaiting_since, Some(t0));
        assert_eq!(clock.due_at, due);
        assert_eq!(reply, None);
        let later = t0 + minutes(3);
        let (again, _) = clock.after_message(&guest_message(
            later,
            arrival(Some(later + minutes(10)), false),
        ));
        assert_eq!(again, clock);
    }

    #[test]
    fn a_staff_message_ends_the_waiting_and_an_automatic_one_does_not() {
        let t0 = utc(2026, 6, 10, 10, 0);
        let (waiting, _) =
            ReplyClock::default().after_message(&guest_message(t0, arrival(Some(t0), false)));
        let (still, none) = waiting.after_message(&staff_message(t0, true));
        assert_eq!(still, waiting);
        assert_eq!(none, None);
        let (answered, _) = waiting.after_message(&staff_message(t0, false));
        assert_eq!(answered, ReplyClock::default());
        assert_eq!(waiting.after_close(), ReplyClock::default());
    }

    #[test]
    fn the_out_of_hours_reply_comes_once_per_waiting_period() {
        let t0 = utc(2026, 6, 10, 2, 0);
        let (clock, reply) =
            ReplyClock::default().after_message(&guest_message(t0, arrival(None, true)));
        assert!(reply.is_some_and(|m| m.automatic));
        assert!(clock.out_of_hours_replied);
        let (clock, again) = clock.after_message(&guest_message(t0, arrival(None, true)));
        assert_eq!(again, None);
        // A staff answer ends the period; the next night's message gets one again.
        let (clock, _) = clock.after_message(&staff_message(t0, false));
        let (_, next) = clock.after_message(&guest_message(t0, arrival(None, true)));
        assert!(next.is_some());
    }

    #[test]
    fn a_message_written_while_open_then_one_while_closed_gets_the_reply() {
        let t0 = utc(2026, 6, 10, 2, 0);
        let (clock, none) =
            ReplyClock::default().after_message(&guest_message(t0, arrival(None, false)));
        assert_eq!(none, None);
        let (_, reply) = clock.after_message(&guest_message(t0, arrival(None, true)));
        assert!(reply.is_some());
    }

    #[test]
    fn a_reply_is_overdue_from_its_due_time_on() {
        let due = utc(2026, 6, 10, 10, 0);
        let clock = ReplyClock {
            due_at: Some(due),
            ..ReplyClock::default()
        };
        assert!(!clock.is_overdue_at(due - Duration::seconds(1)));
        assert!(clock.is_overdue_at(due));
        assert!(!ReplyClock::default().is_overdue_at(due));
    }

    fn interval() -> impl Strategy<Value = OpeningInterval> {
        (0usize..7, 0u32..24, 0u32..4, 0u32..24, 0u32..4).prop_map(|(d, oh, oq, ch, cq)| {
            OpeningInterval {
                day: WEEK[d],
                opens: time(oh, oq * 15),
                closes: time(ch, cq * 15),
            }
        })
    }

    /// Instants from 2025 to 2028, on whole seconds, spanning several clock changes.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (1_735_689_600i64..1_830_297_600).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    proptest! {
        #[test]
        fn the_reply_is_never_due_before_the_target_has_passed(
            hours in proptest::collection::vec(interval(), 0..5),
            since in instant(),
            target in 1i64..=10_080,
        ) {
            let due = reply_due_at(&hours, London, since, minutes(target));
            prop_assert!(due >= since + minutes(target));
        }

        #[test]
        fn the_reply_falls_due_in_open_time(
            hours in proptest::collection::vec(interval(), 1..5),
            since in instant(),
            target in 1i64..=10_080,
        ) {
            let due = reply_due_at(&hours, London, since, minutes(target));
            prop_assert!(is_open(&hours, London, due - Duration::seconds(1)));
        }

        #[test]
        fn always_open_hours_add_the_target_exactly(
            since in instant(),
            target in 1i64..=10_080,
        ) {
            prop_assert_eq!(reply_due_at(&[], London, since, minutes(target)), since + minutes(target));
            let all_day = every_day(time(0, 0), time(0, 0));
            prop_assert_eq!(
                reply_due_at(&all_day, London, since, minutes(target)),
                since + minutes(target)
            );
        }

        #[test]
        fn a_later_message_is_never_due_sooner(
            hours in proptest::collection::vec(interval(), 0..5),
            since in instant(),
            later_by in 0i64..20_000,
            target in 1i64..=10_080,
        ) {
            let first = reply_due_at(&hours, London, since, minutes(target));
            let second =
                reply_due_at(&hours, London, since + minutes(later_by), minutes(target));
            prop_assert!(second >= first);
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn the_open_time_up_to_the_due_time_is_the_target(
            hours in proptest::collection::vec(interval(), 1..4),
            since in instant().prop_map(|t| DateTime::from_timestamp(t.timestamp() / 60 * 60, 0).unwrap()),
            target in 1i64..=120,
        ) {
            // Boundaries and `since` fall on whole minutes, so sampling each minute counts the
            // open minutes between `since` and the due time exactly.
            let due = reply_due_at(&hours, London, since, minutes(target));
            let mut open = 0i64;
            let mut at = since;
            while at < due {
                if is_open(&hours, London, at) {
                    open += 1;
                }
                at += minutes(1);
            }
            prop_assert_eq!(open, target);
        }
    }
}
