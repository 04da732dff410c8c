//! Message text rules: what a guest or staff message may contain, and the conversation subject.

use crate::{error::DomainError, text::contains_nul};

/// The text of a message: 1 to 4000 Unicode scalar values after trimming, stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent(String);

impl MessageContent {
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        let trimmed = raw.map(str::trim).unwrap_or_default();
        if trimmed.is_empty() {
            return Err(DomainError::MessageRequired);
        }
        if contains_nul(trimmed) {
            return Err(DomainError::invalid_request(
                "Text must not contain NUL characters.",
            ));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::MessageTooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The longest subject, in characters.
pub const SUBJECT_MAX_CHARS: usize = 100;

/// The subject of a new conversation: `Order <code>` when about an order, else the first line
/// of the message, cut to 99 characters plus `…` when longer than 100.
pub fn derive_subject(message: &MessageContent, order_code: Option<&str>) -> String {
    if let Some(code) = order_code {
        return format!("Order {code}");
    }
    let first_line = message.as_str().lines().next().unwrap_or_default();
    if first_line.chars().count() > SUBJECT_MAX_CHARS {
        let mut subject: String = first_line.chars().take(SUBJECT_MAX_CHARS - 1).collect();
        subject.push('…');
        subject
    } else {
        first_line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_stored_trimmed() {
        let content = MessageContent::parse(Some("  Two towels please \n")).unwrap();
        assert_eq!(content.as_str(), "Two towels please");
    }

    #[test]
    fn a_missing_or_blank_message_is_required() {
        assert_eq!(
            MessageContent::parse(None),
            Err(DomainError::MessageRequired)
        );
        assert_eq!(
            MessageContent::parse(Some("")),
            Err(DomainError::MessageRequired)
        );
        assert_eq!(
            MessageContent::parse(Some(" \t\r\n ")),
            Err(DomainError::MessageRequired)
        );
    }

    #[test]
    fn four_thousand_characters_fit_and_one_more_does_not() {
        assert!(MessageContent::parse(Some(&"a".repeat(4000))).is_ok());
        assert_eq!(
            MessageContent::parse(Some(&"a".repeat(4001))),
            Err(DomainError::MessageTooLong { max: 4000 })
        );
    }

    #[test]
    fn an_emoji_is_one_character() {
        assert!(MessageContent::parse(Some(&"🛎".repeat(4000))).is_ok());
        assert!(MessageContent::parse(Some(&"🛎".repeat(4001))).is_err());
    }

    #[test]
    fn the_length_is_counted_after_trimming() {
        let padded = format!("   {}   ", "a".repeat(4000));
        assert!(MessageContent::parse(Some(&padded)).is_ok());
    }

    #[test]
    fn nul_characters_are_rejected() {
        assert!(matches!(
            MessageContent::parse(Some("a\0b")),
            Err(DomainError::InvalidRequest(_))
        ));
    }

    #[test]
    fn the_subject_is_the_first_line() {
        let content = MessageContent::parse(Some("Late checkout?\r\nWe fly at 6pm.")).unwrap();
        assert_eq!(derive_subject(&content, None), "Late checkout?");
    }

    #[test]
    fn a_long_first_line_is_cut_to_ninety_nine_characters_and_an_ellipsis() {
        let content = MessageContent::parse(Some(&"é".repeat(150))).unwrap();
        let subject = derive_subject(&content, None);
        assert_eq!(subject.chars().count(), 100);
        assert!(subject.ends_with('…'));
        assert_eq!(subject.chars().filter(|c| *c == 'é').count(), 99);
    }

    #[test]
    fn a_first_line_of_exactly_one_hundred_characters_is_kept() {
        let content = MessageContent::parse(Some(&"x".repeat(100))).unwrap();
        assert_eq!(derive_subject(&content, None), "x".repeat(100));
    }

    #[test]
    fn an_order_names_the_subject() {
        let content = MessageContent::parse(Some("Where is my food?")).unwrap();
        assert_eq!(derive_subject(&content, Some("ORD-1001")), "Order ORD-1001");
    }
}
