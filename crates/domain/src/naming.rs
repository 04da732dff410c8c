//! The guest-naming rule: who signs a guest's message.

use crate::{error::DomainError, form_details::OrderFormDetails, stay::GuestStay};

/// How a conversation (or a message) is signed: `guest` signs with the guest's names,
/// empty leaves it unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationType {
    Unsigned,
    Guest,
}

impl ConversationType {
    /// Empty or missing is unsigned; `guest` in any letter case signs; anything else is rejected.
    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        match raw.map(str::trim).unwrap_or_default() {
            "" => Ok(Self::Unsigned),
            value if value.eq_ignore_ascii_case("guest") => Ok(Self::Guest),
            _ => Err(DomainError::InvalidConversationType),
        }
    }

    /// The normalised wire value: `""` or `"guest"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unsigned => "",
            Self::Guest => "guest",
        }
    }

    pub fn from_stored(value: &str) -> Self {
        if value == "guest" {
            Self::Guest
        } else {
            Self::Unsigned
        }
    }
}

/// A first and last name pair as written on a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorName {
    pub first_name: String,
    pub last_name: String,
}

impl ConversationType {
    /// Whether a message of this type carries its guest's names.
    pub const fn is_signed(self) -> bool {
        matches!(self, Self::Guest)
    }
}

/// Whose names a signed guest message carries.
#[derive(Debug, Clone, Copy)]
pub enum GuestSigner<'a> {
    /// A verified guest signs with the names on the stay.
    Stay(&'a GuestStay),
    /// A visitor signs with the names of the contact form given when the conversation
    /// started; without one, the message stays unsigned.
    Visitor(Option<&'a OrderFormDetails>),
}

/// The guest-naming rule, for stays and visitors alike: the guest's names when the message is
/// signed, empty strings when not.
pub fn guest_author(kind: ConversationType, signer: GuestSigner<'_>) -> AuthorName {
    if !kind.is_signed() {
        return AuthorName::default();
    }
    match signer {
        GuestSigner::Stay(stay) => AuthorName {
            first_name: stay.first_name.clone(),
            last_name: stay.last_name.clone(),
        },
        GuestSigner::Visitor(Some(form)) => form.author_name(),
        GuestSigner::Visitor(None) => AuthorName::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_missing_is_unsigned() {
        assert_eq!(
            ConversationType::parse(None),
            Ok(ConversationType::Unsigned)
        );
        assert_eq!(
            ConversationType::parse(Some("")),
            Ok(ConversationType::Unsigned)
        );
    }

    #[test]
    fn guest_is_accepted_in_any_letter_case() {
        for raw in ["guest", "Guest", "GUEST", "gUeSt"] {
            assert_eq!(
                ConversationType::parse(Some(raw)),
                Ok(ConversationType::Guest)
            );
        }
    }

    #[test]
    fn any_other_value_is_rejected() {
        for raw in ["staff", "guests", "gäst", "guest!"] {
            assert_eq!(
                ConversationType::parse(Some(raw)),
                Err(DomainError::InvalidConversationType)
            );
        }
    }

    fn stay() -> GuestStay {
        let now = chrono::Utc::now();
        GuestStay {
            id: 10,
            property_id: 1,
            code: "S-101".into(),
            room_number: "101".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            language_code: "en".into(),
            check_in: now,
            check_out: now + chrono::Duration::days(1),
        }
    }

    #[test]
    fn a_signed_message_carries_the_guests_names() {
        let stay = stay();
        let author = guest_author(ConversationType::Guest, GuestSigner::Stay(&stay));
        assert_eq!(
            (author.first_name.as_str(), author.last_name.as_str()),
            ("Ada", "Lovelace")
        );
    }

    #[test]
    fn an_unsigned_message_has_empty_names() {
        let stay = stay();
        assert_eq!(
            guest_author(ConversationType::Unsigned, GuestSigner::Stay(&stay)),
            AuthorName::default()
        );
    }

    #[test]
    fn a_signed_visitor_message_carries_the_forms_names_and_without_a_form_none() {
        let form =
            OrderFormDetails::parse(serde_json::json!({"FIRSTNAME": "Kim", "lastName": "Lee"}))
                .unwrap();
        let author = guest_author(ConversationType::Guest, GuestSigner::Visitor(Some(&form)));
        assert_eq!(
            (author.first_name.as_str(), author.last_name.as_str()),
            ("Kim", "Lee")
        );
        assert_eq!(
            guest_author(ConversationType::Guest, GuestSigner::Visitor(None)),
            AuthorName::default()
        );
        assert_eq!(
            guest_author(
                ConversationType::Unsigned,
                GuestSigner::Visitor(Some(&form))
            ),
            AuthorName::default()
        );
    }

    #[test]
    fn the_wire_value_is_normalised() {
        assert_eq!(
            ConversationType::parse(Some("GUEST")).map(ConversationType::as_str),
            Ok("guest")
        );
        assert_eq!(ConversationType::Unsigned.as_str(), "");
    }
}
