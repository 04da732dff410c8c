//! Internal notes (API section 14): what colleagues write to each other about a conversation.
//! Notes are staff-only: no guest route, guest event or unread count ever includes them, and
//! they are not messages (no sequence number, no read state).

use chrono::{DateTime, Utc};

use crate::{conversation::ConversationId, message::MessageContent, staff::StaffKey};

/// A note as staff see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: i64,
    pub code: String,
    pub conversation_id: ConversationId,
    pub content: String,
    /// The writing key's member code, `None` when it had none.
    pub author_code: Option<String>,
    /// The writing key's display name.
    pub author_name: String,
    pub created_at: DateTime<Utc>,
}

/// A note about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    pub code: String,
    pub content: String,
    pub author_key_id: i64,
    pub author_code: Option<String>,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
}

impl NewNote {
    /// A note by the calling key: its text follows the rules of a message (1 to 4000
    /// characters after trimming), and it is signed with the key's code and display name as
    /// they are now, so it keeps its author when the key later changes.
    pub fn by_staff(
        code: String,
        key: &StaffKey,
        content: MessageContent,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            code,
            content: content.into_inner(),
            author_key_id: key.id,
            author_code: key.code.clone(),
            author_name: key.display_name.clone(),
            created_at: at,
        }
    }

    /// The note as just stored.
    pub fn stored(self, id: i64, conversation_id: ConversationId) -> Note {
        Note {
            id,
            code: self.code,
            conversation_id,
            content: self.content,
            author_code: self.author_code,
            author_name: self.author_name,
            created_at: self.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::staff::StaffScope;

    #[test]
    fn a_note_is_signed_with_the_keys_code_and_name_and_stored_trimmed() {
        let key = StaffKey {
            id: 4,
            code: Some("bar".into()),
            display_name: "Bar Demo".into(),
            scope: StaffScope {
                property_id: 1,
                outlet_ids: None,
            },
        };
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let content = MessageContent::parse(Some("  VIP, be quick  ")).unwrap();
        let note = NewNote::by_staff("N".repeat(16), &key, content, at).stored(7, 3);
        assert_eq!(note.content, "VIP, be quick");
        assert_eq!(note.author_code.as_deref(), Some("bar"));
        assert_eq!(note.author_name, "Bar Demo");
        assert_eq!((note.id, note.conversation_id), (7, 3));
        let anonymous = StaffKey { code: None, ..key };
        let content = MessageContent::parse(Some("x")).unwrap();
        assert_eq!(
            NewNote::by_staff("N".repeat(16), &anonymous, content, at).author_code,
            None
        );
    }
}
