//! Property-based tests of the domain rules: they hold for any input, not just the examples.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bellhop_domain::{
    form_details::OrderFormDetails,
    message::{derive_subject, MessageContent, SUBJECT_MAX_CHARS},
    naming::ConversationType,
    outlet::{OpeningInterval, Outlet},
    paging::Page,
    stay::{fold_name, last_names_match},
};
use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Europe::London;
use proptest::prelude::*;

fn weekday() -> impl Strategy<Value = Weekday> {
    (0u8..7).prop_map(|d| Weekday::try_from(d).unwrap())
}

fn time() -> impl Strategy<Value = NaiveTime> {
    (0u32..24, 0u32..60).prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

fn outlet(hours: Vec<OpeningInterval>) -> Outlet {
    Outlet {
        id: 1,
        property_id: 1,
        code: "X".into(),
        name: "X".into(),
        description: String::new(),
        display_order: 1,
        active: true,
        allow_guest_messages: true,
        allow_non_verified_guests: true,
        service_center_name: String::new(),
        opening_hours: hours,
        reply_target_minutes: None,
        out_of_hours_reply: None,
    }
}

proptest! {
    #[test]
    fn a_parsed_message_is_trimmed_non_empty_and_at_most_4000_characters(raw in "\\PC{0,300}", pad in 0usize..5000) {
        let padded = format!("{}{}", raw, " ".repeat(pad % 7));
        match MessageContent::parse(Some(&padded)) {
            Ok(content) => {
                let text = content.as_str();
                prop_assert!(!text.is_empty());
                prop_assert_eq!(text, text.trim());
                prop_assert!(text.chars().count() <= MessageContent::MAX_CHARS);
            }
            Err(_) => prop_assert!(padded.trim().is_empty() || padded.contains('\0') || padded.trim().chars().count() > 4000),
        }
    }

    #[test]
    fn a_subject_never_exceeds_100_characters_and_never_spans_lines(raw in "\\PC{1,400}(\n\\PC{0,50})?") {
        if let Ok(content) = MessageContent::parse(Some(&raw)) {
            let subject = derive_subject(&content, None);
            prop_assert!(subject.chars().count() <= SUBJECT_MAX_CHARS);
            prop_assert!(!subject.contains('\n'));
            prop_assert!(content.as_str().starts_with(subject.trim_end_matches('…')));
        }
    }

    #[test]
    fn name_folding_is_idempotent_and_case_blind(name in "[ a-zA-Z\u{00C0}-\u{024F}\u{0388}-\u{03CE}\u{0400}-\u{04FF}\u{1E00}-\u{1EFF}\u{0130}\u{0131}'-]{0,40}") {
        let folded = fold_name(&name);
        prop_assert_eq!(fold_name(&folded), folded.clone());
        prop_assert_eq!(fold_name(&name.to_uppercase()), fold_name(&name.to_lowercase()));
        if !folded.is_empty() {
            prop_assert!(last_names_match(&name, &name));
        }
    }

    #[test]
    fn conversation_types_are_empty_guest_or_rejected(raw in "\\PC{0,10}") {
        match ConversationType::parse(Some(&raw)) {
            Ok(ConversationType::Unsigned) => prop_assert!(raw.trim().is_empty()),
            Ok(ConversationType::Guest) => prop_assert!(raw.trim().eq_ignore_ascii_case("guest")),
            Err(_) => prop_assert!(!raw.trim().is_empty() && !raw.trim().eq_ignore_ascii_case("guest")),
        }
    }

    #[test]
    fn an_interval_is_open_at_its_start_and_closed_at_its_end(day in weekday(), opens in time(), closes in time(), week in 0i64..200) {
        let shop = outlet(vec![OpeningInterval { day, opens, closes }]);
        // A Monday in January (no clock change in London that day).
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Duration::weeks(week % 8);
        let date = monday + chrono::Duration::days(i64::from(day.num_days_from_monday()));
        let start = date.and_time(opens).and_local_timezone(London).earliest().unwrap().with_timezone(&Utc);
        prop_assert!(shop.is_open_at(London, start));
        let end_date = if closes > opens { date } else { date + chrono::Duration::days(1) };
        let end = end_date.and_time(closes).and_local_timezone(London).earliest().unwrap().with_timezone(&Utc);
        prop_assert!(!shop.is_open_at(London, end));
    }

    #[test]
    fn opening_hours_never_panic_at_any_instant(secs in -2_000_000_000i64..4_000_000_000, hours in proptest::collection::vec((weekday(), time(), time()), 0..10)) {
        let shop = outlet(hours.into_iter().map(|(day, opens, closes)| OpeningInterval { day, opens, closes }).collect());
        let at = DateTime::from_timestamp(secs, 0).unwrap();
        let _ = shop.is_open_at(London, at);
        let _ = shop.is_open_at(chrono_tz::Pacific::Chatham, at);
    }

    #[test]
    fn a_valid_page_has_a_positive_length_within_the_cap(number in proptest::option::of(-5i64..1000), length in proptest::option::of(-5i64..1000), max in 1u32..600) {
        match Page::parse(number, length, max) {
            Ok(page) => {
                prop_assert!(page.number >= 1);
                prop_assert!(page.length >= 1 && page.length <= max);
                prop_assert!(page.offset() >= 0);
            }
            Err(_) => prop_assert!(number.is_some_and(|n| n < 1) || length.is_some_and(|l| l < 1 || l > i64::from(max))),
        }
    }

    #[test]
    fn form_details_within_the_limits_are_accepted_and_beyond_are_not(keys in 0usize..70, depth in 1usize..8) {
        let mut value = serde_json::json!({"leaf": "x"});
        for _ in 1..depth {
            value = serde_json::json!({ "n": value });
        }
        let mut form = serde_json::Map::new();
        for i in 0..keys {
            form.insert(format!("k{i}"), serde_json::json!(i));
        }
        form.insert("nested".into(), value);
        let total_keys = keys + depth + 1 - 1 + 1;
        let levels = depth + 1;
        let accepted = OrderFormDetails::parse(serde_json::Value::Object(form)).is_ok();
        prop_assert_eq!(accepted, total_keys <= 50 && levels <= 5);
    }
}
