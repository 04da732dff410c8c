//! The guest-naming rule: who signs a guest's message.

use crate::error::DomainError;

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

/// The author of a guest message: the guest's names when signed, empty strings when not.
pub fn guest_author(kind: ConversationType, first_name: &str, last_name: &str) -> AuthorName {
    match kind {
        ConversationType::Guest => AuthorName {
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
        },
        ConversationType::Unsigned => AuthorName::default(),
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

    #[test]
    fn a_signed_message_carries_the_guests_names() {
        let author = guest_author(ConversationType::Guest, "Ada", "Lovelace");
        assert_eq!(
            (author.first_name.as_str(), author.last_name.as_str()),
            ("Ada", "Lovelace")
        );
    }

    #[test]
    fn an_unsigned_message_has_empty_names() {
        assert_eq!(
            guest_author(ConversationType::Unsigned, "Ada", "Lovelace"),
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
