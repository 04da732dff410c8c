//! Conversations and messages, as guests and staff see them.

use async_trait::async_trait;
use bellhop_domain::{
    conversation::{
        Conversation, ConversationStatus, GuestOwner, Message, MessageType, NewConversation,
        NewMessage, Viewer,
    },
    idempotency::{Created, Idempotency},
    naming::ConversationType,
    paging::Page,
    ports::{ConversationRepository, RepoResult},
    DomainError, RepositoryError,
};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder, Row};

use crate::idempotency::{claim, store, Claim};
use tracing::instrument;

use crate::{db_error, events, PgStore};

/// The columns of a conversation as the API shows it; `c` is the conversation, `o` its outlet,
/// `p` its property and `ord` its order. The caller appends the unread count.
pub(crate) const CONVERSATION_COLUMNS: &str = "
    c.id, c.property_id, c.code, c.subject, o.code AS outlet_code, o.name AS outlet_name,
    ord.code AS order_code, p.code AS property_code, c.room_number, c.guest_first_name,
    c.guest_last_name, c.guest_language_code, c.status, c.conversation_type, c.order_form_details,
    c.created_at, c.last_message_at";

pub(crate) const CONVERSATION_JOINS: &str = "
    JOIN outlets o ON o.property_id = c.property_id AND o.id = c.outlet_id
    JOIN properties p ON p.id = c.property_id
    LEFT JOIN orders ord ON ord.property_id = c.property_id AND ord.id = c.order_id";

/// The columns of a message `m` of conversation `c`, with `is_read` from the recipient's side.
pub(crate) const MESSAGE_COLUMNS: &str = "
    m.id, m.code, m.conversation_id, m.seq, m.created_at, m.message_type, m.content, m.first_name,
    m.last_name, m.service_center_name, m.language_code, m.is_translated,
    CASE WHEN m.message_type = 'Guest' THEN m.seq <= c.staff_read_seq ELSE m.seq <= c.guest_read_seq END AS is_read";

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
    is_read: bool,
}

impl TryFrom<MessageRow> for Message {
    type Error = RepositoryError;

    fn try_from(row: MessageRow) -> Result<Self, Self::Error> {
        let message_type = MessageType::parse(&row.message_type)
            .ok_or_else(|| RepositoryError::unexpected("a message has an unknown type"))?;
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
            is_read: row.is_read,
        })
    }
}

/// The message type whose messages the viewer receives (and so counts as unread), and the
/// column holding the viewer's read position.
fn viewer_side(viewer: &Viewer) -> (MessageType, &'static str) {
    match viewer {
        Viewer::Guest { .. } => (MessageType::ServiceCenter, "guest_read_seq"),
        Viewer::Staff(_) => (MessageType::Guest, "staff_read_seq"),
    }
}

/// The viewer's unread count of conversation `c`, as a column.
pub(crate) fn unread_column(viewer: &Viewer) -> String {
    let (incoming, read_column) = viewer_side(viewer);
    format!(
        "(SELECT count(*) FROM messages u
           WHERE u.property_id = c.property_id AND u.conversation_id = c.id
             AND u.seq > c.{read_column} AND u.message_type = '{}') AS unread_count",
        incoming.as_str()
    )
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

fn select_conversations(viewer: &Viewer) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {CONVERSATION_COLUMNS}, {} FROM conversations c {CONVERSATION_JOINS} WHERE c.property_id = ",
        unread_column(viewer)
    ));
    query.push_bind(viewer.property_id());
    push_scope(&mut query, viewer);
    query
}

/// The last message of each conversation, by id.
pub(crate) async fn last_messages(
    store: &PgStore,
    property_id: i64,
    conversation_ids: &[i64],
) -> RepoResult<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM conversations c
           JOIN messages m ON m.property_id = c.property_id AND m.conversation_id = c.id AND m.seq = c.last_seq
          WHERE c.property_id = $1 AND c.id = ANY($2)"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind(property_id)
        .bind(conversation_ids)
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
    /// The conversation row (without messages) the viewer may see, or `ConversationNotFound`.
    async fn find_conversation_row(
        &self,
        viewer: &Viewer,
        code: &str,
    ) -> RepoResult<ConversationRow> {
        let mut query = select_conversations(viewer);
        query.push(" AND c.code = ").push_bind(code.to_owned());
        query
            .build_query_as::<ConversationRow>()
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
        idempotency: Option<Idempotency<Conversation>>,
    ) -> RepoResult<Created<Conversation>> {
        let Some(idempotency) = idempotency else {
            let mut tx = self.begin().await?;
            let conversation = insert_conversation(&mut tx, &new).await?;
            events::conversation_created(&mut tx, &conversation).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(Created::New(conversation));
        };
        let at = new.first_message.created_at;
        let mut tx = self.begin().await?;
        if let Claim::Replay(response) = claim(&mut tx, new.property_id, &idempotency, at).await? {
            return Ok(Created::Replayed(response));
        }
        let conversation = insert_conversation(&mut tx, &new).await?;
        events::conversation_created(&mut tx, &conversation).await?;
        let response = (idempotency.render)(&conversation);
        store(
            &mut tx,
            new.property_id,
            &idempotency.scope,
            idempotency.key.as_str(),
            &response,
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Created::New(conversation))
    }

    #[instrument(skip(self, viewer))]
    async fn list_conversations(
        &self,
        viewer: &Viewer,
        page: Page,
    ) -> RepoResult<Vec<Conversation>> {
        let mut query = select_conversations(viewer);
        query
            .push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ")
            .push_bind(page.limit())
            .push(" OFFSET ")
            .push_bind(page.offset());
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
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM conversations c
               JOIN messages m ON m.property_id = c.property_id AND m.conversation_id = c.id
              WHERE c.property_id = $1 AND c.id = $2
              ORDER BY m.seq
              LIMIT $3 OFFSET $4"
        );
        let (limit, offset) =
            messages.map_or((None, 0), |page| (Some(page.limit()), page.offset()));
        let messages: Vec<MessageRow> = sqlx::query_as(&sql)
            .bind(row.property_id)
            .bind(row.id)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        let messages = messages
            .into_iter()
            .map(Message::try_from)
            .collect::<Result<_, _>>()?;
        row.into_conversation(messages)
    }

    #[instrument(skip(self, viewer))]
    async fn list_messages(
        &self,
        viewer: &Viewer,
        page: Page,
        descending: bool,
    ) -> RepoResult<Vec<Message>> {
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
        idempotency: Option<Idempotency<Message>>,
    ) -> RepoResult<Created<Message>> {
        let Some(idempotency) = idempotency else {
            let mut tx = self.begin().await?;
            events::lock_conversation(&mut tx, viewer, code).await?;
            let message = insert_message(&mut tx, viewer, code, message).await?;
            events::message_created(&mut tx, viewer.property_id(), &message).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(Created::New(message));
        };
        let at = message.created_at;
        let mut tx = self.begin().await?;
        events::lock_conversation(&mut tx, viewer, code).await?;
        if let Claim::Replay(response) =
            claim(&mut tx, viewer.property_id(), &idempotency, at).await?
        {
            return Ok(Created::Replayed(response));
        }
        let message = insert_message(&mut tx, viewer, code, message).await?;
        events::message_created(&mut tx, viewer.property_id(), &message).await?;
        let response = (idempotency.render)(&message);
        store(
            &mut tx,
            viewer.property_id(),
            &idempotency.scope,
            idempotency.key.as_str(),
            &response,
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Created::New(message))
    }

    #[instrument(skip(self, viewer, code, message_code))]
    async fn mark_read(
        &self,
        viewer: &Viewer,
        code: &str,
        message_code: Option<String>,
    ) -> RepoResult<()> {
        let mut tx = self.begin().await?;
        let (conversation_id, _) = conversation_status(&mut *tx, viewer, code).await?;
        let (_, read_column) = viewer_side(viewer);
        let target: Option<i32> = match message_code {
            Some(message_code) => Some(
                sqlx::query_scalar(
                    "SELECT seq FROM messages WHERE property_id = $1 AND conversation_id = $2 AND code = $3",
                )
                .bind(viewer.property_id())
                .bind(conversation_id)
                .bind(message_code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?
                .ok_or(DomainError::MessageNotFound)?,
            ),
            None => None,
        };
        events::read_moving(&mut tx, viewer, conversation_id, target).await?;
        // GREATEST keeps the position from ever moving back, whatever the order of requests.
        let sql = format!(
            "UPDATE conversations SET {read_column} = GREATEST({read_column}, coalesce($3, last_seq))
              WHERE property_id = $1 AND id = $2"
        );
        sqlx::query(&sql)
            .bind(viewer.property_id())
            .bind(conversation_id)
            .bind(target)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    #[instrument(skip(self, viewer, code))]
    async fn set_status(
        &self,
        viewer: &Viewer,
        code: &str,
        status: ConversationStatus,
        at: DateTime<Utc>,
    ) -> RepoResult<()> {
        let mut tx = self.begin().await?;
        events::status_changing(&mut tx, viewer, code, status).await?;
        let mut query = QueryBuilder::new("UPDATE conversations c SET status = ");
        query.push_bind(status.as_str());
        query.push(", closed_at = CASE WHEN c.status = 'Closed' AND ");
        query
            .push_bind(status.as_str())
            .push(" = 'Closed' THEN c.closed_at WHEN ");
        query
            .push_bind(status.as_str())
            .push(" = 'Closed' THEN ")
            .push_bind(at)
            .push("::timestamptz ELSE NULL END");
        query
            .push(" WHERE c.property_id = ")
            .push_bind(viewer.property_id());
        push_scope(&mut query, viewer);
        query.push(" AND c.code = ").push_bind(code.to_owned());
        let done = query.build().execute(&mut *tx).await.map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(DomainError::ConversationNotFound.into());
        }
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }
}

/// A conversation and its first message in one statement: both rows or neither. The outlet,
/// order and property labels come from the caller, so no other table is read.
const INSERT_CONVERSATION: &str = "
    WITH c AS (
        INSERT INTO conversations (property_id, code, outlet_id, order_id, stay_id, guest_identifier,
               session_id, subject, conversation_type, room_number, guest_first_name, guest_last_name,
               guest_language_code, order_form_details, last_seq, created_at, last_message_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15)
        RETURNING *
    ), m AS (
        INSERT INTO messages (property_id, conversation_id, seq, code, message_type, content, first_name,
               last_name, service_center_name, language_code, created_at, stay_id, guest_identifier)
        SELECT c.property_id, c.id, 1, $16, $17, $18, $19, $20, $21, $22, $15, c.stay_id, c.guest_identifier FROM c
        RETURNING id, conversation_id
    )
    SELECT c.id, c.property_id, c.code, c.subject, $23::text AS outlet_code, $24::text AS outlet_name,
           $25::text AS order_code, $26::text AS property_code, c.room_number, c.guest_first_name,
           c.guest_last_name, c.guest_language_code, c.status, c.conversation_type, c.order_form_details,
           c.created_at, c.last_message_at, 0::bigint AS unread_count, m.id AS m_id
      FROM c JOIN m ON m.conversation_id = c.id";

/// Inserts a conversation and its first message in one statement: both rows or neither.
async fn insert_conversation(
    conn: &mut PgConnection,
    new: &NewConversation,
) -> RepoResult<Conversation> {
    let (stay_id, guest_identifier) = match &new.owner {
        GuestOwner::Stay(stay_id) => (Some(*stay_id), None),
        GuestOwner::Visitor(identifier) => (None, Some(identifier.as_str().to_owned())),
    };
    let message = &new.first_message;
    let row = sqlx::query(INSERT_CONVERSATION)
        .bind(new.property_id)
        .bind(&new.code)
        .bind(new.outlet_id)
        .bind(new.order_id)
        .bind(stay_id)
        .bind(&guest_identifier)
        .bind(new.session_id)
        .bind(&new.subject)
        .bind(new.conversation_type.as_str())
        .bind(&new.guest.room_number)
        .bind(&new.guest.first_name)
        .bind(&new.guest.last_name)
        .bind(&new.guest.language_code)
        .bind(&new.order_form_details)
        .bind(message.created_at)
        .bind(&message.code)
        .bind(message.message_type.as_str())
        .bind(&message.content)
        .bind(&message.first_name)
        .bind(&message.last_name)
        .bind(&message.service_center_name)
        .bind(&message.language_code)
        .bind(&new.labels.outlet_code)
        .bind(&new.labels.outlet_name)
        .bind(&new.labels.order_code)
        .bind(&new.labels.property_code)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    let conversation = ConversationRow::from_row(&row).map_err(db_error)?;
    let message_id: i64 = row.try_get("m_id").map_err(db_error)?;
    let first = stored_message(message.clone(), message_id, conversation.id, 1);
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
    }
}

/// Appends a message in one statement. The UPDATE takes the conversation's row lock, so
/// concurrent replies get consecutive sequence numbers.
async fn insert_message(
    conn: &mut PgConnection,
    viewer: &Viewer,
    code: &str,
    message: NewMessage,
) -> RepoResult<Message> {
    let mut query = QueryBuilder::new(
        "WITH c AS (
             UPDATE conversations c SET last_seq = c.last_seq + 1, last_message_at = ",
    );
    query.push_bind(message.created_at);
    query
        .push(" WHERE c.status = 'Open' AND c.property_id = ")
        .push_bind(viewer.property_id());
    push_scope(&mut query, viewer);
    query.push(" AND c.code = ").push_bind(code.to_owned());
    query.push(
        " RETURNING c.property_id, c.id, c.last_seq, c.stay_id, c.guest_identifier
         )
         INSERT INTO messages (property_id, conversation_id, seq, stay_id, guest_identifier, code, message_type,
                               content, first_name, last_name, service_center_name, language_code, created_at)
         SELECT c.property_id, c.id, c.last_seq, c.stay_id, c.guest_identifier, ",
    );
    let mut values = query.separated(", ");
    values.push_bind(message.code.clone());
    values.push_bind(message.message_type.as_str());
    values.push_bind(message.content.clone());
    values.push_bind(message.first_name.clone());
    values.push_bind(message.last_name.clone());
    values.push_bind(message.service_center_name.clone());
    values.push_bind(message.language_code.clone());
    values.push_bind(message.created_at);
    query.push(" FROM c RETURNING id, conversation_id, seq");
    let inserted: Option<(i64, i64, i32)> = query
        .build_query_as()
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    let Some((id, conversation_id, seq)) = inserted else {
        // Nothing was written: tell a closed conversation from one the viewer cannot see. The
        // update found it not open; if it is open again by now, a close and a reopen raced
        // this reply, which then came while it was closed: `ConversationClosed` all the same.
        conversation_status(&mut *conn, viewer, code).await?;
        return Err(DomainError::ConversationClosed.into());
    };
    Ok(stored_message(message, id, conversation_id, seq))
}

/// The id and status of a conversation the viewer may see, or `ConversationNotFound`.
async fn conversation_status<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    viewer: &Viewer,
    code: &str,
) -> RepoResult<(i64, String)> {
    let mut query =
        QueryBuilder::new("SELECT c.id, c.status FROM conversations c WHERE c.property_id = ");
    query.push_bind(viewer.property_id());
    push_scope(&mut query, viewer);
    query.push(" AND c.code = ").push_bind(code.to_owned());
    query
        .build_query_as::<(i64, String)>()
        .fetch_optional(executor)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::ConversationNotFound.into())
}
