//! Conversations and messages, as guests and staff see them. The domain decides — which
//! statuses accept messages, how far a read position moves, which messages count as unread
//! for a side — and these queries bind what it decided. Lookups and writes are checked by the
//! compiler (`sqlx::query!`); the lists, whose filters depend on the viewer, are built with
//! `QueryBuilder`.

use async_trait::async_trait;
use bellhop_domain::{
    conversation::{
        Conversation, ConversationEvent, ConversationStatus, GuestOwner, Message, MessageType,
        NewConversation, NewMessage, ReadPositions, Side, Viewer,
    },
    idempotency::{Created, IdempotentRequest},
    naming::ConversationType,
    paging::Page,
    ports::{ConversationRepository, RepoResult, Written},
    reply_clock::ReplyClock,
    staff::Assignee,
    DomainError, RepositoryError,
};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use tracing::instrument;

use crate::{
    db_error, events,
    idempotency::{claim, Claim},
    PgStore,
};

/// The columns of a conversation as the API shows it; `c` is the conversation, `o` its outlet,
/// `p` its property and `ord` its order. The caller appends the unread count.
pub(crate) const CONVERSATION_COLUMNS: &str = "
    c.id, c.property_id, c.code, c.subject, o.code AS outlet_code, o.name AS outlet_name,
    ord.code AS order_code, p.code AS property_code, c.room_number, c.guest_first_name,
    c.guest_last_name, c.guest_language_code, c.status, c.conversation_type, c.order_form_details,
    c.created_at, c.last_message_at, ak.code AS assignee_code, ak.display_name AS assignee_name,
    c.awaiting_reply_since, c.reply_due_at";

pub(crate) const CONVERSATION_JOINS: &str = "
    JOIN outlets o ON o.property_id = c.property_id AND o.id = c.outlet_id
    JOIN properties p ON p.id = c.property_id
    LEFT JOIN orders ord ON ord.property_id = c.property_id AND ord.id = c.order_id
    LEFT JOIN staff_keys ak ON ak.property_id = c.property_id AND ak.id = c.assignee_key_id";

/// The columns of a message `m` of conversation `c`, with the conversation's read positions
/// (from which the domain says whether the recipient has read it).
pub(crate) const MESSAGE_COLUMNS: &str = "
    m.id, m.code, m.conversation_id, m.seq, m.created_at, m.message_type, m.content, m.first_name,
    m.last_name, m.service_center_name, m.language_code, m.is_translated, m.automatic,
    c.guest_read_seq, c.staff_read_seq";

#[derive(sqlx::FromRow)]
pub(crate) struct ConversationRow {
    id: i64,
    property_id: i64,
    code: String,
    subject: String,
    outlet_code: String,
    outlet_name: String,
    order_code: Option<String>,
    property_code: String,
    room_number: Option<String>,
    guest_first_name: Option<String>,
    guest_last_name: Option<String>,
    guest_language_code: Option<String>,
    status: String,
    conversation_type: String,
    order_form_details: Option<serde_json::Value>,
    created_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
    /// The assigned member's code and name (both null when unassigned).
    assignee_code: Option<String>,
    assignee_name: Option<String>,
    awaiting_reply_since: Option<DateTime<Utc>>,
    reply_due_at: Option<DateTime<Utc>>,
    unread_count: i64,
}

impl ConversationRow {
    pub(crate) fn into_conversation(self, messages: Vec<Message>) -> RepoResult<Conversation> {
        let status = ConversationStatus::parse(&self.status)
            .ok_or_else(|| RepositoryError::unexpected("a conversation has an unknown status"))?;
        Ok(Conversation {
            id: self.id,
            property_id: self.property_id,
            code: self.code,
            subject: self.subject,
            outlet_code: self.outlet_code,
            outlet_name: self.outlet_name,
            order_code: self.order_code,
            property_code: self.property_code,
            room_number: self.room_number,
            guest_first_name: self.guest_first_name,
            guest_last_name: self.guest_last_name,
            guest_language_code: self.guest_language_code,
            status,
            conversation_type: ConversationType::from_stored(&self.conversation_type),
            order_form_details: self.order_form_details,
            created_at: self.created_at,
            last_message_at: self.last_message_at,
            unread_count: self.unread_count,
            messages,
            assignee: self
                .assignee_code
                .zip(self.assignee_name)
                .map(|(code, display_name)| Assignee { code, display_name }),
            notes: Vec::new(),
            reply_clock: ReplyClock {
                awaiting_since: self.awaiting_reply_since,
                due_at: self.reply_due_at,
                ..ReplyClock::default()
            },
            overdue: false,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: i64,
    code: String,
    conversation_id: i64,
    seq: i32,
    created_at: DateTime<Utc>,
    message_type: String,
    content: String,
    first_name: String,
    last_name: String,
    service_center_name: String,
    language_code: String,
    is_translated: bool,
    automatic: bool,
    guest_read_seq: i32,
    staff_read_seq: i32,
}

impl TryFrom<MessageRow> for Message {
    type Error = RepositoryError;

    fn try_from(row: MessageRow) -> Result<Self, Self::Error> {
        let message_type = MessageType::parse(&row.message_type)
            .ok_or_else(|| RepositoryError::unexpected("a message has an unknown type"))?;
        let positions = ReadPositions {
            guest: row.guest_read_seq,
            service_center: row.staff_read_seq,
        };
        Ok(Message {
            id: row.id,
            code: row.code,
            conversation_id: row.conversation_id,
            seq: row.seq,
            created_at: row.created_at,
            message_type,
            content: row.content,
            first_name: row.first_name,
            last_name: row.last_name,
            service_center_name: row.service_center_name,
            language_code: row.language_code,
            is_translated: row.is_translated,
            is_read: positions.is_read(message_type, row.seq),
            automatic: row.automatic,
        })
    }
}

/// Appends the viewer's unread count of conversation `c` as the column `unread_count`: the
/// messages of the type the viewer's side receives, beyond the viewer's read position.
pub(crate) fn push_unread_column(query: &mut QueryBuilder<'_, Postgres>, viewer: &Viewer) {
    let side = viewer.side();
    query
        .push(
            "(SELECT count(*) FROM messages u
               WHERE u.property_id = c.property_id AND u.conversation_id = c.id
                 AND u.message_type = ",
        )
        .push_bind(side.receives().as_str())
        .push(match side {
            Side::Guest => " AND u.seq > c.guest_read_seq) AS unread_count",
            Side::ServiceCenter => " AND u.seq > c.staff_read_seq) AS unread_count",
        });
}

/// The viewer's scope as bind values for the checked lookups by code: a guest's stay or
/// visitor identifier, a staff key's outlets; `None` where it does not restrict.
pub(crate) struct Scope {
    pub(crate) stay_id: Option<i64>,
    pub(crate) guest_identifier: Option<String>,
    pub(crate) outlet_ids: Option<Vec<i64>>,
}

impl Scope {
    pub(crate) fn of(viewer: &Viewer) -> Self {
        let (stay_id, guest_identifier, outlet_ids) = match viewer {
            Viewer::Guest {
                owner: GuestOwner::Stay(stay_id),
                ..
            } => (Some(*stay_id), None, None),
            Viewer::Guest {
                owner: GuestOwner::Visitor(identifier),
                ..
            } => (None, Some(identifier.as_str().to_owned()), None),
            Viewer::Staff(scope) => (None, None, scope.outlet_ids.clone()),
        };
        Self {
            stay_id,
            guest_identifier,
            outlet_ids,
        }
    }
}

/// Appends `AND <the viewer may see conversation c>` (the property is bound by the caller).
pub(crate) fn push_scope(query: &mut QueryBuilder<'_, Postgres>, viewer: &Viewer) {
    match viewer {
        Viewer::Guest {
            owner: GuestOwner::Stay(stay_id),
            ..
        } => {
            query.push(" AND c.stay_id = ").push_bind(*stay_id);
        }
        Viewer::Guest {
            owner: GuestOwner::Visitor(identifier),
            ..
        } => {
            query
                .push(" AND c.guest_identifier = ")
                .push_bind(identifier.as_str().to_owned());
        }
        Viewer::Staff(scope) => {
            if let Some(outlet_ids) = &scope.outlet_ids {
                query
                    .push(" AND c.outlet_id = ANY(")
                    .push_bind(outlet_ids.clone())
                    .push(")");
            }
        }
    }
}

/// `SELECT` the conversations the viewer may see, with the viewer's unread counts; the caller
/// appends filters and order.
pub(crate) fn select_conversations(viewer: &Viewer) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::new("");
    push_select_conversations(&mut query, viewer);
    query
}

/// Appends [`select_conversations`]'s statement to `query` (which may hold a prefix such as
/// `EXPLAIN`).
pub(crate) fn push_select_conversations(query: &mut QueryBuilder<'_, Postgres>, viewer: &Viewer) {
    query.push(format!("SELECT {CONVERSATION_COLUMNS}, "));
    push_unread_column(query, viewer);
    query.push(format!(
        " FROM conversations c {CONVERSATION_JOINS} WHERE c.property_id = "
    ));
    query.push_bind(viewer.property_id());
    push_scope(query, viewer);
}

/// The guest messages feed (or a staff key's), one page, oldest or newest first (public so
/// that checks see exactly what the repository runs).
pub fn messages_feed(
    viewer: &Viewer,
    page: Page,
    descending: bool,
) -> QueryBuilder<'static, Postgres> {
    // Messages carry their conversation's owner, so the feed index reads them in order and
    // stops at the page; the conversation row only supplies the read positions.
    let mut query = QueryBuilder::new(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m
           JOIN conversations c ON c.property_id = m.property_id AND c.id = m.conversation_id
          WHERE m.property_id = "
    ));
    query.push_bind(viewer.property_id());
    match viewer {
        Viewer::Guest {
            owner: GuestOwner::Stay(stay_id),
            ..
        } => {
            query.push(" AND m.stay_id = ").push_bind(*stay_id);
        }
        Viewer::Guest {
            owner: GuestOwner::Visitor(identifier),
            ..
        } => {
            query
                .push(" AND m.guest_identifier = ")
                .push_bind(identifier.as_str().to_owned());
        }
        Viewer::Staff(_) => {
            push_scope(&mut query, viewer);
        }
    }
    query.push(if descending {
        " ORDER BY m.created_at DESC, m.conversation_id DESC, m.seq DESC"
    } else {
        " ORDER BY m.created_at, m.conversation_id, m.seq"
    });
    query
        .push(" LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    query
}

/// A viewer's conversation list, one page, most recent activity first (public so that checks
/// see exactly what the repository runs).
pub fn guest_conversations(viewer: &Viewer, page: Page) -> QueryBuilder<'static, Postgres> {
    let mut query = select_conversations(viewer);
    query
        .push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    query
}

/// The last message of each conversation, by id.
pub(crate) async fn last_messages(
    store: &PgStore,
    property_id: i64,
    conversation_ids: &[i64],
) -> RepoResult<Vec<Message>> {
    let rows = sqlx::query_as!(
        MessageRow,
        "SELECT m.id, m.code, m.conversation_id, m.seq, m.created_at, m.message_type, m.content,
                m.first_name, m.last_name, m.service_center_name, m.language_code, m.is_translated,
                m.automatic, c.guest_read_seq, c.staff_read_seq
           FROM conversations c
           JOIN messages m ON m.property_id = c.property_id AND m.conversation_id = c.id AND m.seq = c.last_seq
          WHERE c.property_id = $1 AND c.id = ANY($2)",
        property_id,
        conversation_ids,
    )
    .fetch_all(&mut *store.acquire().await?)
    .await
    .map_err(db_error)?;
    rows.into_iter().map(Message::try_from).collect()
}

/// Attaches to each conversation row its last message.
pub(crate) async fn with_last_messages(
    store: &PgStore,
    property_id: i64,
    rows: Vec<ConversationRow>,
) -> RepoResult<Vec<Conversation>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut last = last_messages(store, property_id, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let messages = match last.iter().position(|m| m.conversation_id == row.id) {
                Some(index) => vec![last.swap_remove(index)],
                None => Vec::new(),
            };
            row.into_conversation(messages)
        })
        .collect()
}

impl PgStore {
    /// The conversation row (without messages) the viewer may see, with the viewer's unread
    /// count, or `ConversationNotFound`.
    async fn find_conversation_row(
        &self,
        viewer: &Viewer,
        code: &str,
    ) -> RepoResult<ConversationRow> {
        let scope = Scope::of(viewer);
        let side = viewer.side();
        sqlx::query_as!(
            ConversationRow,
            r#"SELECT c.id, c.property_id, c.code, c.subject, o.code AS outlet_code,
                      o.name AS outlet_name, ord.code AS "order_code?", p.code AS property_code,
                      c.room_number, c.guest_first_name, c.guest_last_name, c.guest_language_code,
                      c.status, c.conversation_type, c.order_form_details, c.created_at,
                      c.last_message_at, ak.code AS "assignee_code?",
                      ak.display_name AS "assignee_name?",
                      c.awaiting_reply_since, c.reply_due_at,
                      (SELECT count(*) FROM messages u
                        WHERE u.property_id = c.property_id AND u.conversation_id = c.id
                          AND u.message_type = $6
                          AND u.seq > CASE WHEN $7 THEN c.guest_read_seq ELSE c.staff_read_seq END
                      ) AS "unread_count!"
                 FROM conversations c
                 JOIN outlets o ON o.property_id = c.property_id AND o.id = c.outlet_id
                 JOIN properties p ON p.id = c.property_id
                 LEFT JOIN orders ord ON ord.property_id = c.property_id AND ord.id = c.order_id
                 LEFT JOIN staff_keys ak ON ak.property_id = c.property_id AND ak.id = c.assignee_key_id
                WHERE c.property_id = $1 AND c.code = $2
                  AND ($3::bigint IS NULL OR c.stay_id = $3)
                  AND ($4::text IS NULL OR c.guest_identifier = $4)
                  AND ($5::bigint[] IS NULL OR c.outlet_id = ANY($5))"#,
            viewer.property_id(),
            code,
            scope.stay_id,
            scope.guest_identifier,
            scope.outlet_ids.as_deref(),
            side.receives().as_str(),
            side == Side::Guest,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::ConversationNotFound.into())
    }
}

#[async_trait]
impl ConversationRepository for PgStore {
    #[instrument(skip(self, new, idempotency), fields(property_id = new.property_id))]
    async fn create_conversation(
        &self,
        new: NewConversation,
        idempotency: Option<IdempotentRequest>,
    ) -> RepoResult<Created<Written<Conversation>>> {
        let Some(request) = idempotency else {
            let mut tx = self.begin().await?;
            let (record, events) = write_conversation(&mut tx, new).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(Created::New(Written::committed(record, events)));
        };
        let at = new.first_message.created_at;
        let mut write = match claim(self, new.property_id, &request, at, None).await? {
            Claim::Replay(response) => return Ok(Created::Replayed(response)),
            Claim::Fresh(write) => write,
        };
        let (record, events) = write_conversation(write.connection(), new).await?;
        Ok(Created::New(Written {
            record,
            events,
            completion: Box::new(write),
        }))
    }

    #[instrument(skip(self, viewer))]
    async fn list_conversations(
        &self,
        viewer: &Viewer,
        page: Page,
    ) -> RepoResult<Vec<Conversation>> {
        let mut query = guest_conversations(viewer, page);
        let rows: Vec<ConversationRow> = query
            .build_query_as()
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        with_last_messages(self, viewer.property_id(), rows).await
    }

    #[instrument(skip(self, viewer, code))]
    async fn get_conversation(
        &self,
        viewer: &Viewer,
        code: &str,
        messages: Option<Page>,
    ) -> RepoResult<Conversation> {
        let row = self.find_conversation_row(viewer, code).await?;
        let (limit, offset) =
            messages.map_or((None, 0), |page| (Some(page.limit()), page.offset()));
        let messages = sqlx::query_as!(
            MessageRow,
            "SELECT m.id, m.code, m.conversation_id, m.seq, m.created_at, m.message_type, m.content,
                    m.first_name, m.last_name, m.service_center_name, m.language_code,
                    m.is_translated, m.automatic, c.guest_read_seq, c.staff_read_seq
               FROM conversations c
               JOIN messages m ON m.property_id = c.property_id AND m.conversation_id = c.id
              WHERE c.property_id = $1 AND c.id = $2
              ORDER BY m.seq
              LIMIT $3 OFFSET $4",
            row.property_id,
            row.id,
            limit,
            offset,
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        let messages = messages
            .into_iter()
            .map(Message::try_from)
            .collect::<Result<_, _>>()?;
        // Notes are staff-only: a guest's view never even reads them.
        let notes = match viewer {
            Viewer::Staff(_) => crate::workflow::notes_of(self, row.property_id, row.id).await?,
            Viewer::Guest { .. } => Vec::new(),
        };
        let mut conversation = row.into_conversation(messages)?;
        conversation.notes = notes;
        Ok(conversation)
    }

    #[instrument(skip(self, viewer, code))]
    async fn find_conversation(&self, viewer: &Viewer, code: &str) -> RepoResult<Conversation> {
        self.find_conversation_row(viewer, code)
            .await?
            .into_conversation(Vec::new())
    }

    #[instrument(skip(self, viewer))]
    async fn list_messages(
        &self,
        viewer: &Viewer,
        page: Page,
        descending: bool,
    ) -> RepoResult<Vec<Message>> {
        let mut query = messages_feed(viewer, page, descending);
        let rows: Vec<MessageRow> = query
            .build_query_as()
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(Message::try_from).collect()
    }

    #[instrument(skip(self, viewer, code, message, idempotency))]
    async fn add_message(
        &self,
        viewer: &Viewer,
        code: &str,
        message: NewMessage,
        idempotency: Option<IdempotentRequest>,
    ) -> RepoResult<Created<Written<Message>>> {
        let Some(request) = idempotency else {
            // The conversation's event lock comes first (see `events`): then this
            // transaction's events sort after those of every earlier writer.
            let mut tx = self.begin().await?;
            events::lock_conversation(&mut tx, viewer, code).await?;
            let (record, events) = write_message(&mut tx, viewer, code, message).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(Created::New(Written::committed(record, events)));
        };
        let at = message.created_at;
        let property_id = viewer.property_id();
        let mut write = match claim(self, property_id, &request, at, Some((viewer, code))).await? {
            Claim::Replay(response) => return Ok(Created::Replayed(response)),
            Claim::Fresh(write) => write,
        };
        let (record, events) = write_message(write.connection(), viewer, code, message).await?;
        Ok(Created::New(Written {
            record,
            events,
            completion: Box::new(write),
        }))
    }

    #[instrument(skip(self, viewer, code, message_code))]
    async fn mark_read(
        &self,
        viewer: &Viewer,
        code: &str,
        message_code: Option<String>,
    ) -> RepoResult<Vec<ConversationEvent>> {
        let scope = Scope::of(viewer);
        let side = viewer.side();
        let property_id = viewer.property_id();
        let mut tx = self.begin().await?;
        events::lock_conversation(&mut tx, viewer, code).await?;
        let conversation = sqlx::query!(
            "SELECT c.id, c.last_seq, c.guest_read_seq, c.staff_read_seq FROM conversations c
              WHERE c.property_id = $1 AND c.code = $2
                AND ($3::bigint IS NULL OR c.stay_id = $3)
                AND ($4::text IS NULL OR c.guest_identifier = $4)
                AND ($5::bigint[] IS NULL OR c.outlet_id = ANY($5))
                FOR UPDATE",
            property_id,
            code,
            scope.stay_id,
            scope.guest_identifier,
            scope.outlet_ids.as_deref(),
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .ok_or(DomainError::ConversationNotFound)?;
        let target = match &message_code {
            Some(message_code) => sqlx::query_scalar!(
                "SELECT seq FROM messages WHERE property_id = $1 AND conversation_id = $2 AND code = $3",
                property_id,
                conversation.id,
                message_code,
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or(DomainError::MessageNotFound)?,
            None => conversation.last_seq,
        };
        let positions = ReadPositions {
            guest: conversation.guest_read_seq,
            service_center: conversation.staff_read_seq,
        };
        let Some(moved) = positions.advance(side, target) else {
            return Ok(Vec::new());
        };
        sqlx::query!(
            "UPDATE conversations SET guest_read_seq = $3, staff_read_seq = $4
              WHERE property_id = $1 AND id = $2",
            property_id,
            conversation.id,
            moved.guest,
            moved.service_center,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let last_read_message_code = match message_code {
            Some(message_code) => message_code,
            None => sqlx::query_scalar!(
                "SELECT code FROM messages WHERE property_id = $1 AND conversation_id = $2 AND seq = $3",
                property_id,
                conversation.id,
                target,
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?,
        };
        let events = vec![ConversationEvent::Read {
            conversation_code: code.to_owned(),
            read_by: side,
            last_read_message_code,
        }];
        events::record(&mut tx, property_id, conversation.id, &events).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(events)
    }

    #[instrument(skip(self, viewer, code))]
    async fn set_status(
        &self,
        viewer: &Viewer,
        code: &str,
        status: ConversationStatus,
        at: DateTime<Utc>,
    ) -> RepoResult<Vec<ConversationEvent>> {
        let scope = Scope::of(viewer);
        let property_id = viewer.property_id();
        let mut tx = self.begin().await?;
        events::lock_conversation(&mut tx, viewer, code).await?;
        let conversation = sqlx::query!(
            "SELECT c.id, c.status FROM conversations c
              WHERE c.property_id = $1 AND c.code = $2
                AND ($3::bigint IS NULL OR c.stay_id = $3)
                AND ($4::text IS NULL OR c.guest_identifier = $4)
                AND ($5::bigint[] IS NULL OR c.outlet_id = ANY($5))
                FOR UPDATE",
            property_id,
            code,
            scope.stay_id,
            scope.guest_identifier,
            scope.outlet_ids.as_deref(),
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .ok_or(DomainError::ConversationNotFound)?;
        let current = ConversationStatus::parse(&conversation.status)
            .ok_or_else(|| RepositoryError::unexpected("a conversation has an unknown status"))?;
        let Some(change) = current.change_to(status, viewer.side(), at)? else {
            return Ok(Vec::new());
        };
        // Closing ends any waiting period (the domain's reply clock after a close).
        let ends_waiting = change.status == ConversationStatus::Closed;
        let clock = ReplyClock::default().after_close();
        sqlx::query!(
            "UPDATE conversations SET status = $3, closed_at = $4,
                    awaiting_reply_since = CASE WHEN $5 THEN $6 ELSE awaiting_reply_since END,
                    reply_due_at = CASE WHEN $5 THEN $7 ELSE reply_due_at END,
                    out_of_hours_replied = CASE WHEN $5 THEN $8 ELSE out_of_hours_replied END,
                    overdue_notified = CASE WHEN $5 THEN $9 ELSE overdue_notified END
              WHERE property_id = $1 AND id = $2",
            property_id,
            conversation.id,
            change.status.as_str(),
            change.closed_at,
            ends_waiting,
            clock.awaiting_since,
            clock.due_at,
            clock.out_of_hours_replied,
            clock.overdue_notified,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let events = vec![change.event(code)];
        events::record(&mut tx, property_id, conversation.id, &events).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(events)
    }
}

/// Writes a new conversation: its first message, the reply clock that message starts, the
/// out-of-hours reply it may get, and the `Created` event (the conversation with every message
/// it starts with). A new conversation needs no event lock: nobody can touch it before it
/// commits.
async fn write_conversation(
    conn: &mut PgConnection,
    new: NewConversation,
) -> RepoResult<(Conversation, Vec<ConversationEvent>)> {
    let (clock, automatic) = ReplyClock::default().after_message(&new.first_message);
    let mut conversation = insert_conversation(&mut *conn, &new, clock).await?;
    if let Some(reply) = automatic {
        let owner = Viewer::Guest {
            property_id: new.property_id,
            owner: new.owner.clone(),
        };
        let reply = insert_message(&mut *conn, &owner, &new.code, reply).await?;
        conversation.last_message_at = reply.created_at;
        conversation.messages.push(reply);
    }
    let events = vec![ConversationEvent::Created {
        conversation: conversation.clone(),
    }];
    events::record(conn, conversation.property_id, conversation.id, &events).await?;
    Ok((conversation, events))
}

/// Adds a message to an existing conversation, after the caller took its event lock: the
/// message, the reply clock as the domain moves it, the out-of-hours reply it may get, and a
/// `MessageAdded` event for each message. The clock is read after the lock, so it is the one
/// every earlier writer left.
async fn write_message(
    conn: &mut PgConnection,
    viewer: &Viewer,
    code: &str,
    message: NewMessage,
) -> RepoResult<(Message, Vec<ConversationEvent>)> {
    let property_id = viewer.property_id();
    // One read under the row lock gives the status and the reply clock as every earlier
    // writer left them (a conversation the viewer cannot see is left to the insert to report).
    let locked = lock_for_message(&mut *conn, viewer, code).await?;
    // A guest's message to a closed conversation reopens it first (section 14): its events
    // come before the message's, and the message then starts a new waiting period.
    let mut events = match &locked {
        Some(locked) => reopen_for_message(&mut *conn, viewer, code, locked).await?,
        None => Vec::new(),
    };
    let before = locked.map(|locked| locked.clock);
    let (after, automatic) = before.unwrap_or_default().after_message(&message);
    // An unknown or closed conversation: the insert says which.
    let record = insert_message(&mut *conn, viewer, code, message).await?;
    let mut added = vec![record.clone()];
    if let Some(reply) = automatic {
        added.push(insert_message(&mut *conn, viewer, code, reply).await?);
    }
    if before != Some(after) {
        sqlx::query!(
            "UPDATE conversations SET awaiting_reply_since = $3, reply_due_at = $4,
                    out_of_hours_replied = $5, overdue_notified = $6
              WHERE property_id = $1 AND id = $2",
            property_id,
            record.conversation_id,
            after.awaiting_since,
            after.due_at,
            after.out_of_hours_replied,
            after.overdue_notified,
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    events.extend(
        added
            .into_iter()
            .map(|message| ConversationEvent::MessageAdded {
                conversation_code: code.to_owned(),
                message,
            }),
    );
    events::record(conn, property_id, record.conversation_id, &events).await?;
    Ok((record, events))
}

/// Inserts a conversation and its first message in one statement: both rows or neither. The
/// outlet, order and property labels come from the caller, so no other table is read.
async fn insert_conversation(
    conn: &mut PgConnection,
    new: &NewConversation,
    clock: ReplyClock,
) -> RepoResult<Conversation> {
    let (stay_id, guest_identifier) = match &new.owner {
        GuestOwner::Stay(stay_id) => (Some(*stay_id), None),
        GuestOwner::Visitor(identifier) => (None, Some(identifier.as_str())),
    };
    let message = &new.first_message;
    let row = sqlx::query!(
        r#"WITH c AS (
               INSERT INTO conversations (property_id, code, outlet_id, order_id, stay_id,
                      guest_identifier, session_id, subject, conversation_type, room_number,
                      guest_first_name, guest_last_name, guest_language_code, order_form_details,
                      status, last_seq, created_at, last_message_at, awaiting_reply_since,
                      reply_due_at, out_of_hours_replied, overdue_notified)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $27, 1, $15, $15,
                       $28, $29, $30, $31)
               RETURNING *
           ), m AS (
               INSERT INTO messages (property_id, conversation_id, seq, code, message_type, content,
                      first_name, last_name, service_center_name, language_code, created_at,
                      stay_id, guest_identifier)
               SELECT c.property_id, c.id, 1, $16, $17, $18, $19, $20, $21, $22, $15, c.stay_id,
                      c.guest_identifier FROM c
               RETURNING id, conversation_id
           )
           SELECT c.id, c.property_id, c.code, c.subject, $23::text AS "outlet_code!",
                  $24::text AS "outlet_name!", $25::text AS order_code,
                  $26::text AS "property_code!", c.room_number, c.guest_first_name,
                  c.guest_last_name, c.guest_language_code, c.status, c.conversation_type,
                  c.order_form_details, c.created_at, c.last_message_at, c.awaiting_reply_since,
                  c.reply_due_at, m.id AS m_id
             FROM c JOIN m ON m.conversation_id = c.id"#,
        new.property_id,
        new.code,
        new.outlet_id,
        new.order_id,
        stay_id,
        guest_identifier,
        new.session_id,
        new.subject,
        new.conversation_type.as_str(),
        new.guest.room_number,
        new.guest.first_name,
        new.guest.last_name,
        new.guest.language_code,
        new.order_form_details,
        message.created_at,
        message.code,
        message.message_type.as_str(),
        message.content,
        message.first_name,
        message.last_name,
        message.service_center_name,
        message.language_code,
        new.labels.outlet_code,
        new.labels.outlet_name,
        new.labels.order_code,
        new.labels.property_code,
        ConversationStatus::initial().as_str(),
        clock.awaiting_since,
        clock.due_at,
        clock.out_of_hours_replied,
        clock.overdue_notified,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    let conversation = ConversationRow {
        id: row.id,
        property_id: row.property_id,
        code: row.code,
        subject: row.subject,
        outlet_code: row.outlet_code,
        outlet_name: row.outlet_name,
        order_code: row.order_code,
        property_code: row.property_code,
        room_number: row.room_number,
        guest_first_name: row.guest_first_name,
        guest_last_name: row.guest_last_name,
        guest_language_code: row.guest_language_code,
        status: row.status,
        conversation_type: row.conversation_type,
        order_form_details: row.order_form_details,
        created_at: row.created_at,
        last_message_at: row.last_message_at,
        assignee_code: None,
        assignee_name: None,
        awaiting_reply_since: row.awaiting_reply_since,
        reply_due_at: row.reply_due_at,
        unread_count: 0,
    };
    let first = stored_message(message.clone(), row.m_id, conversation.id, 1);
    conversation.into_conversation(vec![first])
}

/// A message as just stored: unread by its recipient, not translated.
fn stored_message(message: NewMessage, id: i64, conversation_id: i64, seq: i32) -> Message {
    Message {
        id,
        code: message.code,
        conversation_id,
        seq,
        created_at: message.created_at,
        message_type: message.message_type,
        content: message.content,
        first_name: message.first_name,
        last_name: message.last_name,
        service_center_name: message.service_center_name,
        language_code: message.language_code,
        is_translated: false,
        is_read: false,
        automatic: message.automatic,
    }
}

/// The statuses in which a conversation takes messages, as the domain says.
fn accepting_statuses() -> Vec<String> {
    ConversationStatus::ALL
        .into_iter()
        .filter(|status| status.accepts_messages())
        .map(|status| status.as_str().to_owned())
        .collect()
}

/// Appends a message in one statement if the conversation's status accepts messages. The
/// UPDATE takes the conversation's row lock, so concurrent replies get consecutive sequence
/// numbers.
async fn insert_message(
    conn: &mut PgConnection,
    viewer: &Viewer,
    code: &str,
    message: NewMessage,
) -> RepoResult<Message> {
    let scope = Scope::of(viewer);
    let inserted = sqlx::query!(
        "WITH c AS (
             UPDATE conversations c SET last_seq = c.last_seq + 1, last_message_at = $6
              WHERE c.property_id = $1 AND c.code = $2
                AND ($3::bigint IS NULL OR c.stay_id = $3)
                AND ($4::text IS NULL OR c.guest_identifier = $4)
                AND ($5::bigint[] IS NULL OR c.outlet_id = ANY($5))
                AND c.status = ANY($7)
             RETURNING c.property_id, c.id, c.last_seq, c.stay_id, c.guest_identifier
         )
         INSERT INTO messages (property_id, conversation_id, seq, stay_id, guest_identifier, code,
                               message_type, content, first_name, last_name, service_center_name,
                               language_code, created_at, automatic)
         SELECT c.property_id, c.id, c.last_seq, c.stay_id, c.guest_identifier, $8, $9, $10, $11,
                $12, $13, $14, $6, $15
           FROM c
         RETURNING id, conversation_id, seq",
        viewer.property_id(),
        code,
        scope.stay_id,
        scope.guest_identifier,
        scope.outlet_ids.as_deref(),
        message.created_at,
        &accepting_statuses(),
        message.code,
        message.message_type.as_str(),
        message.content,
        message.first_name,
        message.last_name,
        message.service_center_name,
        message.language_code,
        message.automatic,
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    let Some(inserted) = inserted else {
        // Nothing was written: tell a closed conversation from one the viewer cannot see. The
        // update found it not open; if it is open again by now, a close and a reopen raced
        // this reply, which then came while it was closed: `ConversationClosed` all the same.
        conversation_exists(&mut *conn, &scope, viewer.property_id(), code).await?;
        return Err(DomainError::ConversationClosed.into());
    };
    Ok(stored_message(
        message,
        inserted.id,
        inserted.conversation_id,
        inserted.seq,
    ))
}

/// A conversation as a new message finds it: read after its event lock, under its row lock.
struct LockedForMessage {
    id: i64,
    status: ConversationStatus,
    clock: ReplyClock,
}

/// Reads and row-locks the conversation a message goes to, when the viewer may see it.
async fn lock_for_message(
    conn: &mut PgConnection,
    viewer: &Viewer,
    code: &str,
) -> RepoResult<Option<LockedForMessage>> {
    let scope = Scope::of(viewer);
    let Some(row) = sqlx::query!(
        "SELECT c.id, c.status, c.awaiting_reply_since, c.reply_due_at, c.out_of_hours_replied,
                c.overdue_notified
           FROM conversations c
          WHERE c.property_id = $1 AND c.code = $2
            AND ($3::bigint IS NULL OR c.stay_id = $3)
            AND ($4::text IS NULL OR c.guest_identifier = $4)
            AND ($5::bigint[] IS NULL OR c.outlet_id = ANY($5))
            FOR UPDATE",
        viewer.property_id(),
        code,
        scope.stay_id,
        scope.guest_identifier,
        scope.outlet_ids.as_deref(),
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    Ok(Some(LockedForMessage {
        id: row.id,
        status: ConversationStatus::parse(&row.status)
            .ok_or_else(|| RepositoryError::unexpected("a conversation has an unknown status"))?,
        clock: ReplyClock {
            awaiting_since: row.awaiting_reply_since,
            due_at: row.reply_due_at,
            out_of_hours_replied: row.out_of_hours_replied,
            overdue_notified: row.overdue_notified,
        },
    }))
}

/// Applies what a new message of the viewer's side does to the conversation's status
/// ([`ConversationStatus::on_message`]): a guest's message reopens a closed conversation (the
/// event `Reopened`, which goes before the message's own); a staff message to a closed one is
/// `ConversationClosed`. Runs after [`lock_for_message`], in the message's transaction; the
/// reply clock is not touched, so the locked copy stays current.
async fn reopen_for_message(
    conn: &mut PgConnection,
    viewer: &Viewer,
    code: &str,
    conversation: &LockedForMessage,
) -> RepoResult<Vec<ConversationEvent>> {
    let Some(change) = conversation.status.on_message(viewer.side())? else {
        return Ok(Vec::new());
    };
    sqlx::query!(
        "UPDATE conversations SET status = $3, closed_at = $4 WHERE property_id = $1 AND id = $2",
        viewer.property_id(),
        conversation.id,
        change.status.as_str(),
        change.closed_at,
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(vec![change.event(code)])
}

/// `Ok` when the viewer may see the conversation, else `ConversationNotFound`.
async fn conversation_exists(
    conn: &mut PgConnection,
    scope: &Scope,
    property_id: i64,
    code: &str,
) -> RepoResult<()> {
    sqlx::query_scalar!(
        "SELECT c.id FROM conversations c
          WHERE c.property_id = $1 AND c.code = $2
            AND ($3::bigint IS NULL OR c.stay_id = $3)
            AND ($4::text IS NULL OR c.guest_identifier = $4)
            AND ($5::bigint[] IS NULL OR c.outlet_id = ANY($5))",
        property_id,
        code,
        scope.stay_id,
        scope.guest_identifier,
        scope.outlet_ids.as_deref(),
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .ok_or(DomainError::ConversationNotFound)?;
    Ok(())
}
