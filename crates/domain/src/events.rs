//! Live events (API section 11): one ordered log of changes, read by streams.
//!
//! An event is written in the transaction of its change (the persistence adapter does it) and
//! carries a snapshot of what changed, from which each side's REST shape is rendered. Readers
//! resume strictly after an [`EventCursor`]; the log's ordering rules live with the adapter
//! (`bellhop-persistence`'s `events` module).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    conversation::{GuestOwner, Viewer},
    event::ConversationEvent,
    outlet::OutletId,
    ports::RepoResult,
    property::PropertyId,
    stay::StayId,
};

/// Every event type of section 11's table (with the workflow types of section 14): what a
/// webhook's `events` may name, and what it receives when it names none.
pub const EVENT_TYPES: &[&str] = &[
    "conversation.created",
    "message.created",
    "conversation.read",
    "conversation.closed",
    "conversation.reopened",
    "conversation.assigned",
    "note.created",
    "conversation.overdue",
];

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

/// One event of the log, as a reader receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub cursor: EventCursor,
    pub created_at: DateTime<Utc>,
    /// What happened, as the domain said it when the change was written.
    pub payload: ConversationEvent,
    pub audience: Audience,
}

impl Event {
    /// The code of the conversation it happened to.
    pub fn conversation_code(&self) -> &str {
        self.payload.conversation_code()
    }

    /// Whether `viewer` may see this event: its audience admits them, and a staff-only
    /// event is never a guest's.
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        let guest = matches!(viewer, Viewer::Guest { .. });
        self.audience.admits(viewer) && !(guest && self.payload.staff_only())
    }
}

/// Who may see an event: its conversation's outlet, and its stay or visitor identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub outlet_id: OutletId,
    pub stay_id: Option<StayId>,
    pub guest_identifier: Option<String>,
}

impl Audience {
    /// Whether `viewer` may see the event: a guest the events of their own stay's (or visitor
    /// identifier's) conversations, staff those of their outlets. The same rule as the
    /// filter [`EventLog::read_events`] applies in the store, for events read once for a
    /// whole property and handed out in memory.
    pub fn admits(&self, viewer: &Viewer) -> bool {
        match viewer {
            Viewer::Guest {
                owner: GuestOwner::Stay(stay_id),
                ..
            } => self.stay_id == Some(*stay_id),
            Viewer::Guest {
                owner: GuestOwner::Visitor(identifier),
                ..
            } => self.guest_identifier.as_deref() == Some(identifier.as_str()),
            Viewer::Staff(scope) => scope
                .outlet_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&self.outlet_id)),
        }
    }
}

/// The event log: reading it in order, and forgetting old events.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// The position of "now": every event committed later comes after it.
    async fn current_cursor(&self) -> RepoResult<EventCursor>;
    /// Whether a reader of the property may resume after `cursor` without having lost
    /// anything: it names an event that exists (or a position between events) that is neither
    /// in the future nor at or before events removed by a purge, and it is not older than
    /// `retention` (its event, or the first event after it, was written within `retention`),
    /// whether or not the purge has run since.
    async fn cursor_is_valid(
        &self,
        property_id: PropertyId,
        cursor: EventCursor,
        retention: std::time::Duration,
    ) -> RepoResult<bool>;
    /// At most `limit` events the viewer may see, strictly after `after`, in log order.
    /// Only events that can no longer be preceded by a later commit are returned.
    async fn read_events(
        &self,
        viewer: &Viewer,
        after: EventCursor,
        limit: i64,
    ) -> RepoResult<Vec<Event>>;
    /// Deletes at most `batch` events created before `before`; returns how many.
    async fn purge_events(&self, before: DateTime<Utc>, batch: i64) -> RepoResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_a_known_event_type() {
        use crate::conversation::Side;
        let code = || "C1".to_owned();
        let events = [
            ConversationEvent::Closed {
                conversation_code: code(),
            },
            ConversationEvent::Reopened {
                conversation_code: code(),
            },
            ConversationEvent::Read {
                conversation_code: code(),
                read_by: Side::Guest,
                last_read_message_code: "M".into(),
            },
            ConversationEvent::Assigned {
                conversation_code: code(),
                assignee: None,
            },
            ConversationEvent::Overdue {
                conversation_code: code(),
                reply_due_at: chrono::DateTime::UNIX_EPOCH,
            },
        ];
        for event in events {
            assert!(EVENT_TYPES.contains(&event.type_name()), "{event:?}");
        }
        assert!(EVENT_TYPES.contains(&"conversation.created"));
        assert!(EVENT_TYPES.contains(&"message.created"));
        assert!(EVENT_TYPES.contains(&"note.created"));
    }

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
    fn an_event_is_seen_by_its_stay_its_visitor_and_staff_of_its_outlet() {
        use crate::{session::GuestIdentifier, staff::StaffScope};
        let stay = Audience {
            outlet_id: 3,
            stay_id: Some(7),
            guest_identifier: None,
        };
        let visitor = Audience {
            outlet_id: 3,
            stay_id: None,
            guest_identifier: Some("visitor-a".into()),
        };
        let guest = |owner| Viewer::Guest {
            property_id: 1,
            owner,
        };
        let staff = |outlet_ids| {
            Viewer::Staff(StaffScope {
                property_id: 1,
                outlet_ids,
            })
        };
        assert!(stay.admits(&guest(GuestOwner::Stay(7))));
        assert!(!stay.admits(&guest(GuestOwner::Stay(8))));
        let a = GuestIdentifier::parse("visitor-a").unwrap();
        let b = GuestIdentifier::parse("visitor-b").unwrap();
        assert!(visitor.admits(&guest(GuestOwner::Visitor(a))));
        assert!(!visitor.admits(&guest(GuestOwner::Visitor(b))));
        assert!(!stay.admits(&guest(GuestOwner::Visitor(
            GuestIdentifier::parse("visitor-a").unwrap()
        ))));
        assert!(stay.admits(&staff(None)));
        assert!(stay.admits(&staff(Some(vec![2, 3]))));
        assert!(!visitor.admits(&staff(Some(vec![2]))));
    }

    #[test]
    fn assignments_and_notes_are_for_staff_only_even_with_a_guest_audience() {
        use crate::staff::StaffScope;
        let audience = Audience {
            outlet_id: 3,
            stay_id: Some(7),
            guest_identifier: None,
        };
        let event = |payload| Event {
            cursor: EventCursor { xid: 1, id: 1 },
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            payload,
            audience: audience.clone(),
        };
        let guest = Viewer::Guest {
            property_id: 1,
            owner: GuestOwner::Stay(7),
        };
        let staff = Viewer::Staff(StaffScope {
            property_id: 1,
            outlet_ids: None,
        });
        let assigned = event(ConversationEvent::Assigned {
            conversation_code: "C1".into(),
            assignee: None,
        });
        assert!(assigned.payload.staff_only());
        assert!(!assigned.visible_to(&guest));
        assert!(assigned.visible_to(&staff));
        let closed = event(ConversationEvent::Closed {
            conversation_code: "C1".into(),
        });
        assert!(!closed.payload.staff_only());
        assert!(closed.visible_to(&guest) && closed.visible_to(&staff));
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
