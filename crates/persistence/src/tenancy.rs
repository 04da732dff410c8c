//! How every table is placed when the schema is distributed by property (Citus; the plan is
//! `docs/citus.md`). One list, checked mechanically:
//!
//! - `tests/tenant_scope.rs` parses every statement the service runs and fails when one reads
//!   or writes a [`DISTRIBUTED`] table without an equality on its `property_id` (Citus routes
//!   such a statement to one shard only then); the few fleet-wide maintenance statements are
//!   listed there with their reason;
//! - the same test checks a freshly migrated schema: every table is in exactly one list, a
//!   distributed table's primary key and unique indexes include `property_id`, and no
//!   reference table has a foreign key into a distributed one;
//! - `docs/citus.md` distributes exactly these tables.
//!
//! Distributed tables grow with guests and history and are co-located by `property_id`, so a
//! property's conversation, messages, events and sessions live on one shard and every guest or
//! staff request runs on one node. Reference tables are small, written by the reference-data
//! loader only, and copied to every node, so any shard can join them; they may be read
//! without a property (a staff key is found by its hash alone).

/// Tables distributed by `property_id`, all in one co-location group.
pub const DISTRIBUTED: &[&str] = &[
    "guest_stays",
    "orders",
    "sessions",
    "conversations",
    "messages",
    "idempotency_keys",
    "room_verification_failures",
    "events",
    "conversation_notes",
    "webhook_deliveries",
];

/// Reference tables: replicated to every node.
pub const REFERENCE: &[&str] = &[
    "properties",
    "interface_tokens",
    "outlets",
    "outlet_opening_hours",
    "staff_keys",
    "staff_key_outlets",
    "reference_versions",
    "event_log_state",
    "quick_replies",
    "quick_reply_outlets",
    "webhook_endpoints",
];
