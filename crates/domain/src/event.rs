//! What happened to a conversation: the domain events every state-changing operation returns
//! (section 11 of the spec), as values. They are what live events, webhooks and an event log
//! are built from.

use chrono::{DateTime, Utc};

use crate::{
    conversation::{Conversation, ConversationStatus, Message, Side},
    note::Note,
    staff::Assignee,
};

/// One thing that happened to a conversation.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per write and moved, never stored in bulk: boxing the conversation would only add an allocation"
)]
pub enum ConversationEvent {
    /// A conversation was created (by a guest, a visitor or staff), with its first message.
    Created { conversation: Conversation },
    /// A message was added to an existing conversation.
    MessageAdded {
        conversation_code: String,
        message: Message,
    },
    /// A side's read position moved forward and now stands on `last_read_message_code`.
    Read {
        conversation_code: String,
        read_by: Side,
        last_read_message_code: String,
    },
    /// The conversation was closed.
    Closed { conversation_code: String },
    /// The conversation was reopened.
    Reopened { conversation_code: String },
    /// The conversation was assigned to a member (`Some`) or unassigned (`None`). Staff only.
    Assigned {
        conversation_code: String,
        assignee: Option<Assignee>,
    },
    /// An internal note was added. Staff only.
    NoteCreated {
        conversation_code: String,
        note: Note,
    },
    /// The reply a guest waits for became overdue (section 14); staff only.
    Overdue {
        conversation_code: String,
        reply_due_at: DateTime<Utc>,
    },
}

impl ConversationEvent {
    /// The event type as section 11 names it.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "conversation.created",
            Self::MessageAdded { .. } => "message.created",
            Self::Read { .. } => "conversation.read",
            Self::Closed { .. } => "conversation.closed",
            Self::Reopened { .. } => "conversation.reopened",
            Self::Assigned { .. } => "conversation.assigned",
            Self::NoteCreated { .. } => "note.created",
            Self::Overdue { .. } => "conversation.overdue",
        }
    }

    /// The code of the conversation it happened to.
    pub fn conversation_code(&self) -> &str {
        match self {
            Self::Created { conversation } => &conversation.code,
            Self::MessageAdded {
                conversation_code, ..
            }
            | Self::Read {
                conversation_code, ..
            }
            | Self::Closed { conversation_code }
            | Self::Reopened { conversation_code }
            | Self::Assigned {
                conversation_code, ..
            }
            | Self::NoteCreated {
                conversation_code, ..
            }
            | Self::Overdue {
                conversation_code, ..
            } => conversation_code,
        }
    }

    /// Whether only staff may ever see it (section 14: assignments, notes and overdue replies
    /// reach the staff stream and webhooks, never a guest).
    pub const fn staff_only(&self) -> bool {
        matches!(
            self,
            Self::Assigned { .. } | Self::NoteCreated { .. } | Self::Overdue { .. }
        )
    }

    /// The status the conversation has after a status change (`conversationStatus`).
    pub const fn status(&self) -> Option<ConversationStatus> {
        match self {
            Self::Closed { .. } => Some(ConversationStatus::Closed),
            Self::Reopened { .. } => Some(ConversationStatus::Open),
            _ => None,
        }
    }
}
