//! Reference data as it is loaded: properties with their interface tokens, outlets, stays,
//! orders and staff keys. Secrets are already hashed here; codes link the records.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::outlet::OpeningInterval;

/// An entry of a reference data set that the store refused, by position: the caller, which
/// holds the data set, turns it into the file's own path and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedEntry {
    /// The index of the property in the data set.
    pub property: usize,
    pub entity: ReferenceEntity,
    /// The index of the entry among the property's entries of that kind.
    pub index: usize,
    pub field: ReferenceField,
}

/// The kinds of reference entries that refer to others (and so can fail to resolve).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceEntity {
    Order,
    StaffKey,
    QuickReply,
    Webhook,
}

/// The field of a refused entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceField {
    /// An order's `outletCode` or `stayCode` is not in its property.
    OutletOrStayCode,
    /// A staff key's secret already belongs to a key of another property.
    KeySecret,
    /// A staff key's `outlets` (or a quick reply's or a webhook's `outletCodes`) names an
    /// outlet that is not in its property.
    Outlets,
}

/// A SHA-256 digest of a secret (interface token or staff key).
pub type SecretHash = [u8; 32];

#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceData {
    pub properties: Vec<PropertyData>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyData {
    pub code: String,
    pub name: String,
    pub brand_code: String,
    pub group_code: String,
    pub time_zone: Tz,
    pub default_language: String,
    pub interface_tokens: Vec<InterfaceTokenData>,
    pub outlets: Vec<OutletData>,
    pub stays: Vec<StayData>,
    pub orders: Vec<OrderData>,
    pub staff_keys: Vec<StaffKeyData>,
    pub quick_replies: Vec<QuickReplyData>,
    pub webhooks: Vec<crate::webhook::WebhookData>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceTokenData {
    pub token_hash: SecretHash,
    pub label: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutletData {
    pub code: String,
    pub name: String,
    pub description: String,
    pub display_order: i32,
    pub active: bool,
    pub allow_guest_messages: bool,
    pub allow_non_verified_guests: bool,
    pub service_center_name: String,
    pub opening_hours: Vec<OpeningInterval>,
    /// Minutes of opening time within which a waiting guest should be answered (1–10080).
    pub reply_target_minutes: Option<u32>,
    /// The automatic answer while the outlet is closed (1–1000 characters).
    pub out_of_hours_reply: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayData {
    pub code: String,
    pub room_number: String,
    pub first_name: String,
    pub last_name: String,
    pub language_code: String,
    pub check_in: DateTime<Utc>,
    pub check_out: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderData {
    pub code: String,
    pub outlet_code: String,
    pub stay_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffKeyData {
    pub key_hash: SecretHash,
    /// The staff member's code; `None`: the key is no member.
    pub code: Option<String>,
    pub display_name: String,
    /// `None`: every outlet of the property.
    pub outlet_codes: Option<Vec<String>>,
    pub enabled: bool,
}

/// A quick reply; its placeholders are already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReplyData {
    pub code: String,
    pub title: String,
    pub content: String,
    /// `None`: every outlet of the property.
    pub outlet_codes: Option<Vec<String>>,
}

/// What a load changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub properties: usize,
    pub outlets: usize,
    pub stays: usize,
    pub orders: usize,
    pub interface_tokens: usize,
    pub staff_keys: usize,
    pub quick_replies: usize,
    pub webhooks: usize,
}
