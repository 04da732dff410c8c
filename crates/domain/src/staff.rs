//! Service-centre staff: API keys and the part of a property a key may see.

use chrono::{DateTime, Utc};

use crate::{conversation::ConversationStatus, outlet::OutletId, property::PropertyId};

/// What a staff key may see: one property, and either all its outlets or a listed few.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffScope {
    pub property_id: PropertyId,
    /// `None`: every outlet of the property.
    pub outlet_ids: Option<Vec<OutletId>>,
}

impl StaffScope {
    pub fn covers(&self, outlet_id: OutletId) -> bool {
        self.outlet_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&outlet_id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffKey {
    pub id: i64,
    pub display_name: String,
    pub scope: StaffScope,
}

/// Filters of the staff conversation list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffConversationFilter {
    pub outlet_code: Option<String>,
    pub status: Option<ConversationStatus>,
    pub unread_only: bool,
    pub order_code: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    /// `overdue=true`: only conversations whose reply is overdue.
    pub overdue_only: bool,
    /// Set from `overdue_only` by the use case: only replies due at or before this instant.
    pub overdue_at: Option<DateTime<Utc>>,
}

/// A position in the staff list, most recent activity first: the last item's
/// `(last_message_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffCursor {
    pub last_message_at: DateTime<Utc>,
    pub id: i64,
}

/// Unread counts of one outlet for the staff dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutletUnread {
    pub outlet_code: String,
    pub unread_conversations: i64,
    pub unread_messages: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlimited_key_covers_every_outlet() {
        let scope = StaffScope {
            property_id: 1,
            outlet_ids: None,
        };
        assert!(scope.covers(42));
    }

    #[test]
    fn a_limited_key_covers_only_its_outlets() {
        let scope = StaffScope {
            property_id: 1,
            outlet_ids: Some(vec![3]),
        };
        assert!(scope.covers(3));
        assert!(!scope.covers(4));
    }
}
