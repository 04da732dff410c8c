//! Guest stays and the rule that verifies a guest by room number and last name.

use chrono::{DateTime, Utc};
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

use crate::property::PropertyId;

pub type StayId = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestStay {
    pub id: StayId,
    pub property_id: PropertyId,
    pub code: String,
    pub room_number: String,
    pub first_name: String,
    pub last_name: String,
    pub language_code: String,
    pub check_in: DateTime<Utc>,
    pub check_out: DateTime<Utc>,
}

impl GuestStay {
    /// Checked in at `at`: check-in has happened and check-out has not.
    pub fn is_in_house_at(&self, at: DateTime<Utc>) -> bool {
        self.check_in <= at && at < self.check_out
    }
}

/// Folds a name for comparison: surrounding whitespace dropped, compatibility decomposition
/// (so ligatures become letters), accents and other combining marks removed, then a caseless
/// form: upper- then lower-cased, which also folds `ß` to `ss`, the Turkish dotless `ı` to `i`
/// and the Greek final `ς` to `σ`. `IŞIK`, `Işık` and `isik` are one name; so are `Straße` and
/// `STRASSE`.
pub fn fold_name(name: &str) -> String {
    let stripped: String = name.nfkd().filter(|c| !is_combining_mark(*c)).collect();
    let stripped = stripped.trim();
    // The capital sharp s (ẞ) lower-cases to ß, which only upper-casing turns into ss.
    stripped.to_uppercase().to_lowercase().replace('ß', "ss")
}

/// The verification rule for last names: equal after [`fold_name`]; an empty name never matches.
pub fn last_names_match(given: &str, on_stay: &str) -> bool {
    let given = fold_name(given);
    !given.is_empty() && given == fold_name(on_stay)
}

/// Picks the stay a guest verifies as: the room matches exactly (the caller looked the room
/// up), the stay is in house now, and the last name matches. `None` for any mismatch, on
/// purpose without saying which half was wrong.
pub fn verify_guest<'a>(
    candidates: &'a [GuestStay],
    room_number: &str,
    last_name: &str,
    now: DateTime<Utc>,
) -> Option<&'a GuestStay> {
    candidates.iter().find(|stay| {
        stay.room_number == room_number
            && stay.is_in_house_at(now)
            && last_names_match(last_name, &stay.last_name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn accents_and_case_are_ignored() {
        assert!(last_names_match("nunez", "Núñez"));
        assert!(last_names_match("NUNEZ", "Núñez"));
        assert!(last_names_match("Núñez", "Núñez"));
        assert!(last_names_match("  núñez\t", "Núñez"));
    }

    #[test]
    fn precomposed_and_combining_forms_are_one_name() {
        let precomposed = "Nu\u{00f1}ez";
        let combining = "Nun\u{0303}ez";
        assert!(last_names_match(precomposed, combining));
        assert!(last_names_match(combining, "NUNEZ"));
    }

    #[test]
    fn turkish_dotted_and_dotless_i_fold_to_i() {
        assert!(last_names_match("İnce", "ince"));
        assert!(last_names_match("IŞIK", "Işık"));
        assert!(last_names_match("isik", "Işık"));
    }

    #[test]
    fn sharp_s_ligatures_and_final_sigma_fold_to_their_plain_letters() {
        assert!(last_names_match("STRASSE", "Straße"));
        assert!(last_names_match("straße", "STRASSE"));
        assert!(last_names_match("Griﬃth", "GRIFFITH"));
        assert!(last_names_match("ΟΔΥΣΣΕΥΣ", "Οδυσσευς"));
    }

    #[test]
    fn empty_names_never_match() {
        assert!(!last_names_match("", ""));
        assert!(!last_names_match("   ", ""));
        assert!(!last_names_match("", "Lovelace"));
    }

    #[test]
    fn different_names_do_not_match() {
        assert!(!last_names_match("Lovelace", "Turing"));
        assert!(!last_names_match("Love lace", "Lovelace"));
    }

    fn stay(room: &str, last: &str, now: DateTime<Utc>) -> GuestStay {
        GuestStay {
            id: 1,
            property_id: 1,
            code: format!("S-{room}"),
            room_number: room.into(),
            first_name: "Ada".into(),
            last_name: last.into(),
            language_code: "en".into(),
            check_in: now - Duration::days(1),
            check_out: now + Duration::days(3),
        }
    }

    #[test]
    fn verification_needs_the_exact_room_a_matching_name_and_a_stay_in_house() {
        let now = Utc::now();
        let stays = vec![stay("101", "Lovelace", now)];
        assert!(verify_guest(&stays, "101", "lovelace", now).is_some());
        assert!(verify_guest(&stays, "101 ", "lovelace", now).is_none());
        assert!(verify_guest(&stays, "101", "Turing", now).is_none());
        assert!(verify_guest(&stays, "101", "Lovelace", now + Duration::days(4)).is_none());
        assert!(verify_guest(&stays, "101", "Lovelace", now - Duration::days(2)).is_none());
    }
}
