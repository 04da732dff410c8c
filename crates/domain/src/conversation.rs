//! Conversations between a guest and an outlet, and their messages.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    naming::ConversationType,
    order::OrderId,
    outlet::OutletId,
    property::PropertyId,
    session::{GuestIdentifier, SessionId},
    staff::StaffScope,
    stay::StayId,
};

pub type ConversationId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Closed => "Closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "Open" => Some(Self::Open),
            "Closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Guest,
    ServiceCenter,
}

impl MessageType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Guest => "Guest",
            Self::ServiceCenter => "ServiceCenter",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "Guest" => Some(Self::Guest),
            "ServiceCenter" => Some(Self::ServiceCenter),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: i64,
    pub code: String,
    pub conversation_id: ConversationId,
    /// Position in the conversation: 1, 2, 3... with no gaps.
    pub seq: i32,
    pub created_at: DateTime<Utc>,
    pub message_type: MessageType,
    pub content: String,
    pub first_name: String,
    pub last_name: String,
    pub service_center_name: String,
    pub language_code: String,
    pub is_translated: bool,
    /// Read by its recipient: staff for a guest message, the guest for a staff message.
    pub is_read: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub property_id: PropertyId,
    pub code: String,
    pub subject: String,
    pub outlet_code: String,
    pub outlet_name: String,
    pub order_code: Option<String>,
    pub property_code: String,
    pub room_number: Option<String>,
    pub guest_first_name: Option<String>,
    pub guest_last_name: Option<String>,
    pub guest_language_code: Option<String>,
    pub status: ConversationStatus,
    pub conversation_type: ConversationType,
    /// A visitor's contact details (`orderFormDetailsDictionary`), shown to staff.
    pub order_form_details: Option<Value>,
    pub created_at: DateTime<Utc>,
    /// The time of the last message: "most recent activity".
    pub last_message_at: DateTime<Utc>,
    /// Unread messages for whoever is looking (guest: staff messages; staff: guest messages).
    pub unread_count: i64,
    /// Every message, or only the last one in lists.
    pub messages: Vec<Message>,
}

/// The guest side of a conversation: the stay of a verified guest, or a visitor's identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestOwner {
    Stay(StayId),
    Visitor(GuestIdentifier),
}

/// Through whose eyes a conversation is read or changed; every repository query is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Guest {
        property_id: PropertyId,
        owner: GuestOwner,
    },
    Staff(StaffScope),
}

impl Viewer {
    pub fn property_id(&self) -> PropertyId {
        match self {
            Self::Guest { property_id, .. } => *property_id,
            Self::Staff(scope) => scope.property_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub code: String,
    pub message_type: MessageType,
    pub content: String,
    pub first_name: String,
    pub last_name: String,
    pub service_center_name: String,
    pub language_code: String,
    pub created_at: DateTime<Utc>,
}

/// How a new conversation's outlet, order and property are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationLabels {
    pub outlet_code: String,
    pub outlet_name: String,
    pub order_code: Option<String>,
    pub property_code: String,
}

/// Guest details copied onto a conversation when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestDetails {
    pub room_number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewConversation {
    pub property_id: PropertyId,
    pub code: String,
    pub outlet_id: OutletId,
    pub order_id: Option<OrderId>,
    /// The codes and names the conversation is shown with (known to the caller already, so
    /// storing it needs no lookups).
    pub labels: ConversationLabels,
    pub owner: GuestOwner,
    /// The guest session that started it; `None` when staff did.
    pub session_id: Option<SessionId>,
    pub subject: String,
    pub conversation_type: ConversationType,
    pub guest: GuestDetails,
    pub order_form_details: Option<Value>,
    pub first_message: NewMessage,
}
