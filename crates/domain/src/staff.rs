//! Service-centre staff: API keys and the part of a property a key may see.

use chrono::{DateTime, Utc};

use crate::{
    conversation::ConversationStatus, error::DomainError, outlet::OutletId, property::PropertyId,
};

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
    /// The staff member's code (`staffKeys[].code`); `None`: a key that is no member and
    /// cannot be assigned conversations.
    pub code: Option<String>,
    pub display_name: String,
    pub scope: StaffScope,
}

impl StaffKey {
    /// The key as a staff member, when it has a code.
    pub fn member(&self) -> Option<StaffMember> {
        self.code.as_ref().map(|code| StaffMember {
            key_id: self.id,
            code: code.clone(),
            display_name: self.display_name.clone(),
            scope: self.scope.clone(),
        })
    }
}

/// A staff key with a code: someone conversations can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub key_id: i64,
    pub code: String,
    pub display_name: String,
    pub scope: StaffScope,
}

impl StaffMember {
    /// The assignment rule: a member may own only conversations of outlets their key covers
    /// (else `AssigneeNotAllowed`), so nobody owns what they cannot see.
    pub fn may_own(&self, outlet_id: OutletId) -> Result<(), DomainError> {
        if self.scope.covers(outlet_id) {
            Ok(())
        } else {
            Err(DomainError::AssigneeNotAllowed)
        }
    }

    /// How the member is shown as a conversation's `assignee`.
    pub fn assignee(&self) -> Assignee {
        Assignee {
            code: self.code.clone(),
            display_name: self.display_name.clone(),
        }
    }
}

/// Who owns a conversation, as staff views show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignee {
    pub code: String,
    pub display_name: String,
}

/// The list filter `assignee=me|none|<code>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Conversations nobody owns.
    Unassigned,
    /// Conversations of the member with this key id (`me`, resolved by the caller).
    Key(i64),
    /// Conversations of the member with this code.
    Code(String),
    /// Nothing (`me` for a key that is no member).
    Nothing,
}

impl AssigneeFilter {
    /// The filter as the caller `key` means it: `me` is the key itself (nothing for a key
    /// without a code), `none` unassigned, anything else a member's code.
    pub fn parse(raw: &str, key: &StaffKey) -> Self {
        match raw {
            "me" => key
                .code
                .as_ref()
                .map_or(Self::Nothing, |_| Self::Key(key.id)),
            "none" => Self::Unassigned,
            code => Self::Code(code.to_owned()),
        }
    }
}

/// Filters of the staff conversation list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffConversationFilter {
    pub outlet_code: Option<String>,
    pub status: Option<ConversationStatus>,
    pub unread_only: bool,
    pub order_code: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    pub assignee: Option<AssigneeFilter>,
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

    fn key(code: Option<&str>, outlet_ids: Option<Vec<i64>>) -> StaffKey {
        StaffKey {
            id: 9,
            code: code.map(str::to_owned),
            display_name: "Bar Demo".into(),
            scope: StaffScope {
                property_id: 1,
                outlet_ids,
            },
        }
    }

    #[test]
    fn only_a_key_with_a_code_is_a_staff_member() {
        assert_eq!(key(None, None).member(), None);
        let member = key(Some("bar"), None).member().unwrap();
        assert_eq!(member.key_id, 9);
        assert_eq!(
            member.assignee(),
            Assignee {
                code: "bar".into(),
                display_name: "Bar Demo".into()
            }
        );
    }

    #[test]
    fn a_member_may_own_only_conversations_of_outlets_their_key_covers() {
        let member = key(Some("bar"), Some(vec![3])).member().unwrap();
        assert_eq!(member.may_own(3), Ok(()));
        assert_eq!(member.may_own(4), Err(DomainError::AssigneeNotAllowed));
        let everywhere = key(Some("desk"), None).member().unwrap();
        assert_eq!(everywhere.may_own(4), Ok(()));
    }

    #[test]
    fn me_is_the_calling_member_and_nothing_for_a_key_without_a_code() {
        let member = key(Some("bar"), None);
        assert_eq!(AssigneeFilter::parse("me", &member), AssigneeFilter::Key(9));
        assert_eq!(
            AssigneeFilter::parse("me", &key(None, None)),
            AssigneeFilter::Nothing
        );
        assert_eq!(
            AssigneeFilter::parse("none", &member),
            AssigneeFilter::Unassigned
        );
        assert_eq!(
            AssigneeFilter::parse("front-desk", &member),
            AssigneeFilter::Code("front-desk".into())
        );
    }
}
