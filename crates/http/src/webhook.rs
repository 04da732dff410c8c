//! The body of a webhook delivery (API section 12): `{"type", "timestamp", "data"}`, with
//! `type` and `data` exactly as the staff event stream renders the event ([`sse::render`]).

use bellhop_domain::events::Event;
use chrono::SecondsFormat;
use serde_json::json;

use crate::sse::{self, Side};

/// The body, rendered deterministically (the same event gives the same bytes; the worker
/// also keeps the first attempt's body for every retry).
pub fn body(event: &Event) -> String {
    json!({
        "type": event.payload.type_name(),
        "timestamp": event.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "data": sse::render(event, &Side::Staff),
    })
    .to_string()
}
