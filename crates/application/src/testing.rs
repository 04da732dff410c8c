//! Values the unit tests of several use cases build alike.

use bellhop_domain::{
    conversation::{Conversation, ConversationStatus},
    naming::ConversationType,
    property::Property,
};
use chrono::Utc;
use chrono_tz::Europe::London;

/// The demo property (London), with id `id`.
pub(crate) fn demo_property(id: i64) -> Property {
    Property {
        id,
        code: "DEMO-HOTEL".into(),
        name: "Demo".into(),
        brand_code: "B".into(),
        group_code: "G".into(),
        time_zone: London,
        default_language: "en".into(),
    }
}

/// An open conversation `code` of the demo property at `outlet_code` (named after its code),
/// without guest details, messages or owner.
pub(crate) fn open_conversation(code: &str, outlet_code: &str) -> Conversation {
    Conversation {
        id: 1,
        property_id: 1,
        code: code.into(),
        subject: "Hi".into(),
        outlet_code: outlet_code.into(),
        outlet_name: outlet_code.into(),
        order_code: None,
        property_code: "DEMO-HOTEL".into(),
        room_number: None,
        guest_first_name: None,
        guest_last_name: None,
        guest_language_code: None,
        status: ConversationStatus::Open,
        conversation_type: ConversationType::Unsigned,
        order_form_details: None,
        created_at: Utc::now(),
        last_message_at: Utc::now(),
        unread_count: 0,
        messages: vec![],
        assignee: None,
        notes: vec![],
        reply_clock: Default::default(),
        overdue: false,
    }
}
