//! Response bodies, field for field and in the order of the original API's samples.

use bellhop_application::outlets::OutletSettings;
use bellhop_domain::{
    conversation::{Conversation, Message},
    note::Note,
    outlet::weekday_name,
    staff::Assignee,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::wire::envelope::{serialize_optional_wire_date, serialize_wire_date};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Message)]
pub struct MessageDto {
    #[serde(serialize_with = "serialize_wire_date")]
    /// Seven fractional digits and an offset, as the original API writes it.
    pub create_date: DateTime<Utc>,
    pub code: String,
    pub is_read: bool,
    pub service_center_name: String,
    /// `Guest` or `ServiceCenter` (whose messages carry the service centre's name).
    pub message_type: &'static str,
    pub content: String,
    pub first_name: String,
    pub last_name: String,
    pub language_code: String,
    pub is_translated: bool,
    pub conversation_id: i64,
}

impl From<Message> for MessageDto {
    fn from(m: Message) -> Self {
        Self {
            create_date: m.created_at,
            code: m.code,
            is_read: m.is_read,
            service_center_name: m.service_center_name,
            message_type: m.message_type.as_str(),
            content: m.content,
            first_name: m.first_name,
            last_name: m.last_name,
            language_code: m.language_code,
            is_translated: m.is_translated,
            conversation_id: m.conversation_id,
        }
    }
}

/// A message as staff see it: the guest-side fields plus whether the service wrote it itself.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffMessage)]
pub struct StaffMessageDto {
    #[serde(flatten)]
    pub message: MessageDto,
    /// `true` for an automatic out-of-hours reply, `false` for every other message.
    pub automatic: bool,
}

impl From<Message> for StaffMessageDto {
    fn from(m: Message) -> Self {
        let automatic = m.automatic;
        Self {
            message: m.into(),
            automatic,
        }
    }
}

/// The reply clock on staff conversation views (section 14).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplyClockFields {
    /// Since when the guest has waited for a reply; null when nobody waits.
    #[serde(serialize_with = "serialize_optional_wire_date")]
    #[schema(value_type = Option<String>)]
    pub awaiting_reply_since: Option<DateTime<Utc>>,
    /// When the reply is due, counting only the outlet's open time; null without a waiting
    /// guest or a reply target.
    #[serde(serialize_with = "serialize_optional_wire_date")]
    #[schema(value_type = Option<String>)]
    pub reply_due_at: Option<DateTime<Utc>>,
    /// Whether `replyDueAt` has passed.
    pub overdue: bool,
}

impl ReplyClockFields {
    fn of(c: &Conversation) -> Self {
        Self {
            awaiting_reply_since: c.reply_clock.awaiting_since,
            reply_due_at: c.reply_clock.due_at,
            overdue: c.overdue,
        }
    }
}

/// The conversation fields of the seed sample, in its order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationFields {
    pub code: String,
    pub subject: String,
    pub outlet_code: String,
    pub order_code: Option<String>,
    pub outlet_name: String,
    pub property_code: String,
    pub room_number: Option<String>,
    pub guest_first_name: Option<String>,
    pub guest_last_name: Option<String>,
    pub guest_language_code: Option<String>,
    /// `Open` or `Closed`.
    pub conversation_status: &'static str,
    pub conversation_type: &'static str,
}

impl ConversationFields {
    fn of(c: &Conversation) -> Self {
        Self {
            code: c.code.clone(),
            subject: c.subject.clone(),
            outlet_code: c.outlet_code.clone(),
            order_code: c.order_code.clone(),
            outlet_name: c.outlet_name.clone(),
            property_code: c.property_code.clone(),
            room_number: c.room_number.clone(),
            guest_first_name: c.guest_first_name.clone(),
            guest_last_name: c.guest_last_name.clone(),
            guest_language_code: c.guest_language_code.clone(),
            conversation_status: c.status.as_str(),
            conversation_type: c.conversation_type.as_str(),
        }
    }
}

/// A conversation as in `createConversationResponse` (and `getConversationResponse`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Conversation)]
pub struct ConversationDto {
    #[serde(flatten)]
    pub fields: ConversationFields,
    pub messages: Vec<MessageDto>,
}

impl From<Conversation> for ConversationDto {
    fn from(c: Conversation) -> Self {
        Self {
            fields: ConversationFields::of(&c),
            messages: c.messages.into_iter().map(MessageDto::from).collect(),
        }
    }
}

/// A conversation in the guest's list: its last message only, plus the unread count.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConversationSummary)]
pub struct ConversationSummaryDto {
    #[serde(flatten)]
    pub fields: ConversationFields,
    pub messages: Vec<MessageDto>,
    pub unread_count: i64,
}

impl From<Conversation> for ConversationSummaryDto {
    fn from(c: Conversation) -> Self {
        let fields = ConversationFields::of(&c);
        let unread_count = c.unread_count;
        Self {
            fields,
            messages: c.messages.into_iter().map(MessageDto::from).collect(),
            unread_count,
        }
    }
}

/// The staff member who owns a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Assignee)]
pub struct AssigneeDto {
    pub code: String,
    pub display_name: String,
}

impl From<Assignee> for AssigneeDto {
    fn from(a: Assignee) -> Self {
        Self {
            code: a.code,
            display_name: a.display_name,
        }
    }
}

/// An internal note: staff only, never shown to guests.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Note)]
pub struct NoteDto {
    pub code: String,
    pub content: String,
    /// The writing key's staff member code; null for a key without one.
    pub author_code: Option<String>,
    /// The writing key's display name.
    pub author_name: String,
    #[serde(serialize_with = "serialize_wire_date")]
    pub create_date: DateTime<Utc>,
}

impl From<Note> for NoteDto {
    fn from(n: Note) -> Self {
        Self {
            code: n.code,
            content: n.content,
            author_code: n.author_code,
            author_name: n.author_name,
            create_date: n.created_at,
        }
    }
}

/// A conversation in the staff list: no messages, the last one and the unread count.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffConversationItem)]
pub struct StaffConversationItemDto {
    #[serde(flatten)]
    pub fields: ConversationFields,
    pub unread_count: i64,
    pub last_message: Option<StaffMessageDto>,
    #[serde(flatten)]
    pub reply_clock: ReplyClockFields,
    /// The staff member who owns it, or null.
    pub assignee: Option<AssigneeDto>,
}

impl From<Conversation> for StaffConversationItemDto {
    fn from(c: Conversation) -> Self {
        let fields = ConversationFields::of(&c);
        let unread_count = c.unread_count;
        let reply_clock = ReplyClockFields::of(&c);
        Self {
            fields,
            unread_count,
            last_message: c.messages.into_iter().last().map(StaffMessageDto::from),
            reply_clock,
            assignee: c.assignee.map(AssigneeDto::from),
        }
    }
}

/// One conversation for staff: every message, the unread count and a visitor's form.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffConversation)]
pub struct StaffConversationDto {
    #[serde(flatten)]
    pub fields: ConversationFields,
    pub messages: Vec<StaffMessageDto>,
    pub unread_count: i64,
    /// A visitor's contact form, as sent (`orderFormDetailsDictionary`).
    #[schema(value_type = Option<Object>)]
    pub order_form_details: Option<Value>,
    /// The staff member who owns it, or null.
    pub assignee: Option<AssigneeDto>,
    /// Internal notes, oldest first (staff only).
    pub notes: Vec<NoteDto>,
    #[serde(flatten)]
    pub reply_clock: ReplyClockFields,
}

impl From<Conversation> for StaffConversationDto {
    fn from(c: Conversation) -> Self {
        let fields = ConversationFields::of(&c);
        let reply_clock = ReplyClockFields::of(&c);
        Self {
            fields,
            unread_count: c.unread_count,
            order_form_details: c.order_form_details,
            messages: c.messages.into_iter().map(StaffMessageDto::from).collect(),
            assignee: c.assignee.map(AssigneeDto::from),
            notes: c.notes.into_iter().map(NoteDto::from).collect(),
            reply_clock,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OpeningHours)]
pub struct OpeningHoursDto {
    pub day: &'static str,
    pub opens: String,
    pub closes: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OutletSettings)]
pub struct OutletSettingsDto {
    pub code: String,
    pub name: String,
    pub description: String,
    pub service_center_name: String,
    pub allow_guest_messages: bool,
    pub allow_non_verified_guests: bool,
    pub is_open_now: bool,
    pub opening_hours: Vec<OpeningHoursDto>,
}

impl From<OutletSettings> for OutletSettingsDto {
    fn from(s: OutletSettings) -> Self {
        let o = s.outlet;
        Self {
            code: o.code,
            name: o.name,
            description: o.description,
            service_center_name: o.service_center_name,
            allow_guest_messages: o.allow_guest_messages,
            allow_non_verified_guests: o.allow_non_verified_guests,
            is_open_now: s.is_open_now,
            opening_hours: o
                .opening_hours
                .iter()
                .map(|h| OpeningHoursDto {
                    day: weekday_name(h.day),
                    opens: h.opens.format("%H:%M").to_string(),
                    closes: h.closes.format("%H:%M").to_string(),
                })
                .collect(),
        }
    }
}
