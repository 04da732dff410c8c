//! Live events (API section 11): one ordered log of changes, read by streams.
//!
//! An event is written in the transaction of its change (the persistence adapter does it) and
//! carries a snapshot of what changed, from which each side's REST shape is rendered. Readers
//! resume strictly after an [`EventCursor`]; the log's ordering rules live with the adapter
//! (`bellhop-persistence`'s `events` module).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    conversation::{Conversation, ConversationStatus, Message, MessageType, Viewer},
    ports::RepoResult,
    property::PropertyId,
};

/// A position in the log: strictly after it, a reader gets every later event.
///
/// On the wire it is `"{xid}-{id}"`: opaque to clients, at most 64 characters of
/// `0-9` and `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventCursor {
    /// The writing transaction's id (`xid8`).
    pub xid: u64,
    /// The event's id; 0 for a position between events (`ready`, `reset`).
    pub id: i64,
}

impl EventCursor {
    /// The wire form.
    pub fn encode(self) -> String {
        format!("{}-{}", self.xid, self.id)
    }

    /// The cursor a client handed back, or `None` when it is not one of ours.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.is_empty() || raw.len() > 64 {
            return None;
        }
        let (xid, id) = raw.split_once('-')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(xid) || !digits(id) {
            return None;
        }
        let id: i64 = id.parse().ok()?;
        Some(Self {
            xid: xid.parse().ok()?,
            id,
        })
    }
}

/// What happened, with the snapshot each side's shape is rendered from.
#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    /// A conversation and its first message.
    ConversationCreated(Conversation),
    /// A message added to an existing conversation.
    MessageCreated(Message),
    /// A read position moved forward to the message `last_read_message_code`.
    ConversationRead {
        /// Whose position: `Guest` (the guest read staff messages) or `ServiceCenter`.
        read_by: MessageType,
        last_read_message_code: String,
    },
    /// The status changed to this one.
    StatusChanged(ConversationStatus),
}

impl EventPayload {
    /// The event's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ConversationCreated(_) => "conversation.created",
            Self::MessageCreated(_) => "message.created",
            Self::ConversationRead { .. } => "conversation.read",
            Self::StatusChanged(ConversationStatus::Closed) => "conversation.closed",
            Self::StatusChanged(ConversationStatus::Open) => "conversation.reopened",
        }
    }
}

/// One event of the log, as a reader receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub cursor: EventCursor,
    pub conversation_code: String,
    pub created_at: DateTime<Utc>,
    pub payload: EventPayload,
}

/// The event log: reading it in order, and forgetting old events.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// The position of "now": every event committed later comes after it.
    async fn current_cursor(&self) -> RepoResult<EventCursor>;
    /// Whether a reader of the property may resume after `cursor` without having lost
    /// anything: it names an event that exists (or a position between events) that is neither
    /// in the future nor at or before events removed by a purge.
    async fn cursor_is_valid(
        &self,
        property_id: PropertyId,
        cursor: EventCursor,
    ) -> RepoResult<bool>;
    /// At most `limit` events the viewer may see, strictly after `after`, in log order.
    /// Only events that can no longer be preceded by a later commit are returned.
    async fn read_events(
        &self,
        viewer: &Viewer,
        after: EventCursor,
        limit: i64,
    ) -> RepoResult<Vec<Event>>;
    /// The last event of the property that readers can read now (the same prefix
    /// [`EventLog::read_events`] reads), or `None` when there is none. It only moves forward
    /// when events become readable (or back after a purge), so a change of it is what tells a
    /// process's waiting streams of the property to read.
    async fn head(&self, property_id: PropertyId) -> RepoResult<Option<EventCursor>>;
    /// Deletes at most `batch` events created before `before`; returns how many.
    async fn purge_events(&self, before: DateTime<Utc>, batch: i64) -> RepoResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote() {
        let cursor = EventCursor {
            xid: 7_123_456,
            id: 42,
        };
        assert_eq!(EventCursor::parse(&cursor.encode()), Some(cursor));
        assert!(cursor.encode().len() <= 64);
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        for raw in [
            "",
            "1",
            "-1",
            "1-",
            "a-1",
            "1-2-3",
            "1--2",
            " 1-2",
            "99999999999999999999999-1",
        ] {
            assert_eq!(EventCursor::parse(raw), None, "{raw:?}");
        }
        assert_eq!(EventCursor::parse("1-99999999999999999999"), None);
    }
}
