//! The live-event log (API section 11): one `events` row per change, written in the change's
//! own transaction, so a committed change has its event and a rolled-back one has none.
//!
//! # Why the cursor is `(xid, id)` and not `id`
//!
//! Commit order is not id order. `id` comes from a sequence when the row is inserted, but
//! transactions commit in any order: a transaction that took id 10 may commit after one that
//! took id 11, and a reader that saw 11 and resumes "after 11" would never see 10. So:
//!
//! - every event row records its writing transaction's id, `xid` (`pg_current_xact_id()`, a
//!   64-bit `xid8` that never wraps);
//! - a reader only reads events whose `xid` is below `pg_snapshot_xmin(pg_current_snapshot())`,
//!   the oldest transaction still in flight anywhere in the cluster. Every transaction below it
//!   has ended, so that prefix of the log is final: nothing can ever be inserted into it again;
//! - a reader reads that prefix in `(xid, id)` order, and its cursor is the `(xid, id)` of the
//!   last event it received (`"{xid}-{id}"` on the wire). Anything that commits later has an
//!   `xid` at or above the `xmin` the reader saw, so it sorts after the cursor: nothing is
//!   skipped, and nothing is sent twice.
//!
//! `ready` and `reset` carry `(xmin, 0)`: every event that may still appear sorts after it.
//! The price: one long transaction holds back every stream until it ends (statement and lock
//! timeouts bound ours; `idle_in_transaction_session_timeout` should bound everyone's). Read-only
//! transactions have no xid and hold back nothing.
//!
//! # Per-conversation order: the locking discipline
//!
//! `(xid, id)` order is commit order only for transactions whose xids were assigned in commit
//! order. PostgreSQL assigns an xid at a transaction's first write or row lock, and not always
//! after the row lock is granted: an `UPDATE` takes it before waiting for the row, an insert
//! into another table (an idempotency key) before the conversation is touched at all, and even
//! `SELECT … FOR UPDATE` can take it while following an update chain, before waiting for the
//! next holder (the concurrency test caught that one). So the conversation's serialisation
//! does not rely on row locks. Every event-writing transaction on an existing conversation
//! first takes a transaction-level advisory lock on that conversation ([`lock_conversation`],
//! [`status_changing`], [`read_moving`]); heavyweight locks belong to the virtual transaction,
//! so waiting for it assigns no xid. The rule:
//!
//! > the first statement of a transaction that writes events of an existing conversation is
//! > the conversation's advisory lock; only then does it write anything (and so take an xid).
//! > Creating a conversation needs no lock: no other transaction can touch it before its
//! > creation commits.
//!
//! Then the second of two writers takes its xid only after the first has committed, so its
//! xid is higher and its events sort after the first's. The concurrency test in
//! `crates/server/tests/api/events.rs` checks the outcome against the messages' `seq`.
//!
//! # Waking readers
//!
//! Writers `pg_notify('bellhop_events', property_id)` in the same transaction; each server
//! process listens once and wakes its streams. A notification only wakes: streams always read
//! the table, and poll anyway, so a lost notification delays an event, never loses it.
//!
//! # Payloads
//!
//! `data` holds the domain snapshot of the change (the conversation with its first message,
//! the message, the read position, the status), written at event time; each side's REST shape
//! is rendered from it by the HTTP layer with the REST DTOs, so delivering needs no query.

use async_trait::async_trait;
use bellhop_domain::{
    conversation::{Conversation, ConversationStatus, Message, MessageType, Side, Viewer},
    event::ConversationEvent,
    events::{Audience, Event, EventCursor, EventLog},
    naming::ConversationType,
    note::Note,
    ports::RepoResult,
    property::PropertyId,
    reply_clock::ReplyClock,
    staff::Assignee,
    RepositoryError,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::{conversations::push_scope, db_error, PgStore};

/// [`append`]'s statement.
pub const APPEND_EVENT: &str = "
         WITH e AS (
             INSERT INTO events (property_id, type, conversation_id, conversation_code, outlet_id,
                                 stay_id, guest_identifier, data)
             SELECT c.property_id, $3, c.id, c.code, c.outlet_id,
                    CASE WHEN $6 THEN NULL ELSE c.stay_id END,
                    CASE WHEN $6 THEN NULL ELSE c.guest_identifier END, $4
               FROM conversations c WHERE c.property_id = $1 AND c.id = $2
             RETURNING property_id)
         SELECT pg_notify($5, property_id::text) FROM e";

/// Whether a cursor can be resumed from: not in the future, not purged, its event exists, and
/// it is not older than the retention (`$4` seconds): its event, and the first event after it
/// (the first one a resume would send), were written within the retention. The purge runs
/// now and then; a cursor expires on time all the same.
pub const CURSOR_IS_VALID: &str = "
         SELECT $2::text::xid8 <= pg_snapshot_xmax(pg_current_snapshot())
                AND $2::text::xid8 > (SELECT purged_through FROM event_log_state)
                AND ($3 = 0 OR EXISTS (SELECT 1 FROM events
                                        WHERE property_id = $1 AND id = $3 AND xid = $2::text::xid8
                                          AND created_at >= now() - make_interval(secs => $4)))
                AND NOT EXISTS (SELECT 1 FROM (SELECT e.created_at FROM events e
                                                WHERE e.property_id = $1
                                                  AND (e.xid, e.id) > ($2::text::xid8, $3)
                                                ORDER BY e.xid, e.id LIMIT 1) AS next
                                 WHERE next.created_at < now() - make_interval(secs => $4))";

/// One batch of the event purge: at most `$2` events older than `$1`, and the purge
/// watermark moved up to the highest xid removed.
pub const PURGE_EVENTS: &str = "
         -- multi-shard: the event purge, every property's old events (per property before
         -- distributing: see docs/citus.md)
         WITH gone AS (
                 DELETE FROM events WHERE (property_id, id) IN (
                     SELECT property_id, id FROM events WHERE created_at < $1 LIMIT $2)
                 RETURNING xid),
             mark AS (
                 UPDATE event_log_state SET purged_through = GREATEST(purged_through, (SELECT max(xid) FROM gone))
                  WHERE EXISTS (SELECT 1 FROM gone)
                 RETURNING 1)
             SELECT count(*) FROM gone";

/// The channel writers notify and each server process listens on; the payload is the
/// property id.
pub const CHANNEL: &str = "bellhop_events";

/// Takes the conversation's advisory lock (before the transaction has an xid: see the module
/// doc). Returns the conversation id, or `None` when the viewer cannot see it (the caller's
/// own statement then reports the error).
pub(crate) async fn lock_conversation(
    conn: &mut PgConnection,
    viewer: &Viewer,
    code: &str,
) -> RepoResult<Option<i64>> {
    let mut query = lock_conversation_query(viewer, code);
    let row: Option<(i64, String)> = query
        .build_query_as()
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(row.map(|(id, _)| id))
}

/// [`lock_conversation`]'s statement (public so that checks see exactly what it runs).
pub fn lock_conversation_query(viewer: &Viewer, code: &str) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::new(
        "SELECT c.id, pg_advisory_xact_lock(hashtextextended('bellhop.conversation.' || c.property_id || '.' || c.id, 0))::text
           FROM conversations c WHERE c.property_id = ",
    );
    query.push_bind(viewer.property_id());
    push_scope(&mut query, viewer);
    query.push(" AND c.code = ").push_bind(code.to_owned());
    query
}

/// The events after `after` a viewer may see, up to `limit`, below the read horizon (public
/// so that checks see exactly what the event log runs).
pub fn read_events_query(
    viewer: &Viewer,
    after: EventCursor,
    limit: i64,
) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::new(
        "SELECT e.xid::text AS xid, e.id, e.conversation_code, e.created_at, e.data,
                e.outlet_id, e.stay_id, e.guest_identifier
           FROM events e WHERE e.property_id = ",
    );
    query.push_bind(viewer.property_id());
    match viewer {
        Viewer::Guest {
            owner: bellhop_domain::conversation::GuestOwner::Stay(stay_id),
            ..
        } => {
            query.push(" AND e.stay_id = ").push_bind(*stay_id);
        }
        Viewer::Guest {
            owner: bellhop_domain::conversation::GuestOwner::Visitor(identifier),
            ..
        } => {
            query
                .push(" AND e.guest_identifier = ")
                .push_bind(identifier.as_str().to_owned());
        }
        Viewer::Staff(scope) => {
            if let Some(outlet_ids) = &scope.outlet_ids {
                query
                    .push(" AND e.outlet_id = ANY(")
                    .push_bind(outlet_ids.clone())
                    .push(")");
            }
        }
    }
    query
        .push(" AND (e.xid, e.id) > (")
        .push_bind(after.xid.to_string())
        .push("::text::xid8, ")
        .push_bind(after.id)
        .push(") AND e.xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.xid, e.id LIMIT ")
        .push_bind(limit);
    query
}

/// Appends an event of conversation `conversation_id` and notifies listeners at commit. A
/// staff-only event ([`ConversationEvent::staff_only`]) is stored without the conversation's stay
/// and visitor identifier: guest streams select events by those, so no guest query can ever
/// match it.
async fn append(
    conn: &mut PgConnection,
    property_id: PropertyId,
    conversation_id: i64,
    event: &ConversationEvent,
) -> RepoResult<()> {
    sqlx::query(APPEND_EVENT)
        .bind(property_id)
        .bind(conversation_id)
        .bind(event.type_name())
        .bind(encode_payload(event))
        .bind(CHANNEL)
        .bind(event.staff_only())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Records what the domain said happened to conversation `conversation_id`, in the writing
/// transaction (after [`lock_conversation`] when the conversation existed before it).
pub(crate) async fn record(
    conn: &mut PgConnection,
    property_id: PropertyId,
    conversation_id: i64,
    events: &[ConversationEvent],
) -> RepoResult<()> {
    for event in events {
        append(conn, property_id, conversation_id, event).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    xid: String,
    id: i64,
    conversation_code: String,
    created_at: DateTime<Utc>,
    data: Value,
    outlet_id: i64,
    stay_id: Option<i64>,
    guest_identifier: Option<String>,
}

#[async_trait]
impl EventLog for PgStore {
    async fn current_cursor(&self) -> RepoResult<EventCursor> {
        let xmin: String =
            sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
                .fetch_one(&mut *self.acquire().await?)
                .await
                .map_err(db_error)?;
        Ok(EventCursor {
            xid: parse_xid(&xmin)?,
            id: 0,
        })
    }

    async fn cursor_is_valid(
        &self,
        property_id: PropertyId,
        cursor: EventCursor,
        retention: std::time::Duration,
    ) -> RepoResult<bool> {
        sqlx::query_scalar(CURSOR_IS_VALID)
            .bind(property_id)
            .bind(cursor.xid.to_string())
            .bind(cursor.id)
            .bind(retention.as_secs_f64())
            .fetch_one(&mut *self.acquire().await?)
            .await
            .map_err(db_error)
    }

    async fn read_events(
        &self,
        viewer: &Viewer,
        after: EventCursor,
        limit: i64,
    ) -> RepoResult<Vec<Event>> {
        let mut query = read_events_query(viewer, after, limit);
        let rows: Vec<EventRow> = query
            .build_query_as()
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        rows.into_iter()
            .map(|row| {
                stored_event(
                    &row.xid,
                    row.id,
                    row.created_at,
                    &row.data,
                    row.conversation_code,
                    Audience {
                        outlet_id: row.outlet_id,
                        stay_id: row.stay_id,
                        guest_identifier: row.guest_identifier,
                    },
                )
            })
            .collect()
    }

    async fn purge_events(&self, before: DateTime<Utc>, batch: i64) -> RepoResult<u64> {
        // One statement: the batch goes, and the watermark moves up to the highest xid it
        // removed, so cursors at or below it are answered with `reset`.
        let done: Option<i64> = sqlx::query_scalar(PURGE_EVENTS)
            .bind(before)
            .bind(batch)
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(done.unwrap_or(0)).unwrap_or(0))
    }
}

/// An event as the log (or a webhook delivery's copy of it) stores it.
pub(crate) fn stored_event(
    xid: &str,
    id: i64,
    created_at: DateTime<Utc>,
    data: &Value,
    conversation_code: String,
    audience: Audience,
) -> RepoResult<Event> {
    Ok(Event {
        cursor: EventCursor {
            xid: parse_xid(xid)?,
            id,
        },
        created_at,
        payload: decode_payload(data, conversation_code)?,
        audience,
    })
}

pub(crate) fn parse_xid(raw: &str) -> RepoResult<u64> {
    raw.parse()
        .map_err(|_| RepositoryError::unexpected("a transaction id is not a number"))
}

// The snapshot codec: the domain values, as stored in `events.data`.

fn encode_message(m: &Message) -> Value {
    json!({
        "id": m.id, "code": m.code, "conversationId": m.conversation_id, "seq": m.seq,
        "createdAt": m.created_at, "messageType": m.message_type.as_str(), "content": m.content,
        "firstName": m.first_name, "lastName": m.last_name,
        "serviceCenterName": m.service_center_name, "languageCode": m.language_code,
        "isTranslated": m.is_translated, "isRead": m.is_read, "automatic": m.automatic,
    })
}

/// The stored form of an event (`events.data`); the conversation's code has its own column.
fn encode_payload(event: &ConversationEvent) -> Value {
    match event {
        ConversationEvent::Created { conversation: c } => json!({
            "conversation": {
                "id": c.id, "propertyId": c.property_id, "code": c.code, "subject": c.subject,
                "outletCode": c.outlet_code, "outletName": c.outlet_name, "orderCode": c.order_code,
                "propertyCode": c.property_code, "roomNumber": c.room_number,
                "guestFirstName": c.guest_first_name, "guestLastName": c.guest_last_name,
                "guestLanguageCode": c.guest_language_code, "status": c.status.as_str(),
                "conversationType": c.conversation_type.as_str(),
                "orderFormDetails": c.order_form_details, "createdAt": c.created_at,
                "lastMessageAt": c.last_message_at, "unreadCount": c.unread_count,
                "awaitingReplySince": c.reply_clock.awaiting_since,
                "replyDueAt": c.reply_clock.due_at,
                "messages": c.messages.iter().map(encode_message).collect::<Vec<_>>(),
            }
        }),
        ConversationEvent::MessageAdded { message, .. } => {
            json!({ "message": encode_message(message) })
        }
        ConversationEvent::Read {
            read_by,
            last_read_message_code,
            ..
        } => json!({ "readBy": read_by.as_str(), "lastReadMessageCode": last_read_message_code }),
        ConversationEvent::Closed { .. } => {
            json!({ "conversationStatus": ConversationStatus::Closed.as_str() })
        }
        ConversationEvent::Reopened { .. } => {
            json!({ "conversationStatus": ConversationStatus::Open.as_str() })
        }
        ConversationEvent::Assigned { assignee, .. } => json!({
            "assignee": assignee.as_ref().map(|a| json!({"code": a.code, "displayName": a.display_name})),
        }),
        ConversationEvent::NoteCreated { note: n, .. } => json!({
            "note": {
                "id": n.id, "code": n.code, "conversationId": n.conversation_id,
                "content": n.content, "authorCode": n.author_code, "authorName": n.author_name,
                "createdAt": n.created_at,
            }
        }),
        ConversationEvent::Overdue { reply_due_at, .. } => json!({ "replyDueAt": reply_due_at }),
    }
}

fn bad(what: &'static str) -> RepositoryError {
    RepositoryError::unexpected(what)
}

fn text(v: &Value, field: &str) -> RepoResult<String> {
    v[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad("an event snapshot lacks a text field"))
}

fn opt_text(v: &Value, field: &str) -> Option<String> {
    v[field].as_str().map(str::to_owned)
}

fn int(v: &Value, field: &str) -> RepoResult<i64> {
    v[field]
        .as_i64()
        .ok_or_else(|| bad("an event snapshot lacks a number field"))
}

fn time(v: &Value, field: &str) -> RepoResult<DateTime<Utc>> {
    serde_json::from_value(v[field].clone()).map_err(|_| bad("an event snapshot lacks a time"))
}

fn optional_time(v: &Value, field: &str) -> RepoResult<Option<DateTime<Utc>>> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => time(v, field).map(Some),
    }
}

fn decode_message(v: &Value) -> RepoResult<Message> {
    Ok(Message {
        id: int(v, "id")?,
        code: text(v, "code")?,
        conversation_id: int(v, "conversationId")?,
        seq: i32::try_from(int(v, "seq")?).map_err(|_| bad("a message seq is out of range"))?,
        created_at: time(v, "createdAt")?,
        message_type: MessageType::parse(&text(v, "messageType")?)
            .ok_or_else(|| bad("an event message has an unknown type"))?,
        content: text(v, "content")?,
        first_name: text(v, "firstName")?,
        last_name: text(v, "lastName")?,
        service_center_name: text(v, "serviceCenterName")?,
        language_code: text(v, "languageCode")?,
        is_translated: v["isTranslated"].as_bool().unwrap_or(false),
        is_read: v["isRead"].as_bool().unwrap_or(false),
        automatic: v["automatic"].as_bool().unwrap_or(false),
    })
}

fn status(raw: &str) -> RepoResult<ConversationStatus> {
    ConversationStatus::parse(raw).ok_or_else(|| bad("an event has an unknown status"))
}

/// An event read back from its stored form and its conversation's code.
fn decode_payload(data: &Value, conversation_code: String) -> RepoResult<ConversationEvent> {
    if let Some(c) = data.get("conversation") {
        let messages = c["messages"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(decode_message)
                    .collect::<RepoResult<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        return Ok(ConversationEvent::Created {
            conversation: Conversation {
                id: int(c, "id")?,
                property_id: int(c, "propertyId")?,
                code: text(c, "code")?,
                subject: text(c, "subject")?,
                outlet_code: text(c, "outletCode")?,
                outlet_name: text(c, "outletName")?,
                order_code: opt_text(c, "orderCode"),
                property_code: text(c, "propertyCode")?,
                room_number: opt_text(c, "roomNumber"),
                guest_first_name: opt_text(c, "guestFirstName"),
                guest_last_name: opt_text(c, "guestLastName"),
                guest_language_code: opt_text(c, "guestLanguageCode"),
                status: status(&text(c, "status")?)?,
                conversation_type: ConversationType::from_stored(&text(c, "conversationType")?),
                order_form_details: c.get("orderFormDetails").filter(|v| !v.is_null()).cloned(),
                created_at: time(c, "createdAt")?,
                last_message_at: time(c, "lastMessageAt")?,
                unread_count: int(c, "unreadCount")?,
                messages,
                // A new conversation has no owner and no notes yet.
                assignee: None,
                notes: Vec::new(),
                reply_clock: ReplyClock {
                    awaiting_since: optional_time(c, "awaitingReplySince")?,
                    due_at: optional_time(c, "replyDueAt")?,
                    ..ReplyClock::default()
                },
                overdue: false,
            },
        });
    }
    if let Some(m) = data.get("message") {
        return Ok(ConversationEvent::MessageAdded {
            conversation_code,
            message: decode_message(m)?,
        });
    }
    if let Some(assignee) = data.get("assignee") {
        let assignee = match assignee {
            Value::Null => None,
            a => Some(Assignee {
                code: text(a, "code")?,
                display_name: text(a, "displayName")?,
            }),
        };
        return Ok(ConversationEvent::Assigned {
            conversation_code,
            assignee,
        });
    }
    if let Some(n) = data.get("note") {
        return Ok(ConversationEvent::NoteCreated {
            conversation_code,
            note: Note {
                id: int(n, "id")?,
                code: text(n, "code")?,
                conversation_id: int(n, "conversationId")?,
                content: text(n, "content")?,
                author_code: opt_text(n, "authorCode"),
                author_name: text(n, "authorName")?,
                created_at: time(n, "createdAt")?,
            },
        });
    }
    if data.get("replyDueAt").is_some() {
        return Ok(ConversationEvent::Overdue {
            conversation_code,
            reply_due_at: time(data, "replyDueAt")?,
        });
    }
    if let Some(read_by) = data.get("readBy").and_then(Value::as_str) {
        let reader = MessageType::parse(read_by).ok_or_else(|| bad("an unknown reader"))?;
        return Ok(ConversationEvent::Read {
            conversation_code,
            read_by: Side::writing(reader),
            last_read_message_code: text(data, "lastReadMessageCode")?,
        });
    }
    Ok(match status(&text(data, "conversationStatus")?)? {
        ConversationStatus::Closed => ConversationEvent::Closed { conversation_code },
        ConversationStatus::Open => ConversationEvent::Reopened { conversation_code },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_events_read_back_what_was_written() {
        let note = Note {
            id: 7,
            code: "N".repeat(16),
            conversation_id: 3,
            content: "VIP guest".into(),
            author_code: None,
            author_name: "Front Desk Demo".into(),
            created_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        let code = || "C1".to_owned();
        for event in [
            ConversationEvent::Assigned {
                conversation_code: code(),
                assignee: Some(Assignee {
                    code: "bar".into(),
                    display_name: "Bar Demo".into(),
                }),
            },
            ConversationEvent::Assigned {
                conversation_code: code(),
                assignee: None,
            },
            ConversationEvent::NoteCreated {
                conversation_code: code(),
                note,
            },
            ConversationEvent::Read {
                conversation_code: code(),
                read_by: Side::ServiceCenter,
                last_read_message_code: "M".repeat(16),
            },
            ConversationEvent::Closed {
                conversation_code: code(),
            },
            ConversationEvent::Reopened {
                conversation_code: code(),
            },
        ] {
            assert_eq!(
                decode_payload(&encode_payload(&event), code()).unwrap(),
                event
            );
        }
    }
}
