//! The service-centre workflow (API section 14): staff members, assignment, internal notes and
//! quick replies. Every statement is scoped by `property_id`; the writes on an existing
//! conversation take its event lock first (see `events`).

use async_trait::async_trait;
use bellhop_domain::{
    conversation::{ConversationEvent, Viewer},
    idempotency::{Created, IdempotentRequest},
    note::{NewNote, Note},
    ports::{RepoResult, WorkflowRepository, Written},
    property::PropertyId,
    quick_reply::QuickReply,
    staff::{StaffMember, StaffScope},
    DomainError,
};
use sqlx::PgConnection;
use tracing::instrument;

use crate::{
    conversations::Scope,
    db_error, events,
    idempotency::{claim, Claim},
    PgStore,
};

/// The notes of a conversation, oldest first.
pub(crate) async fn notes_of(
    store: &PgStore,
    property_id: i64,
    conversation_id: i64,
) -> RepoResult<Vec<Note>> {
    let notes = sqlx::query_as!(
        Note,
        "SELECT id, code, conversation_id, content, author_code, author_name, created_at
           FROM conversation_notes
          WHERE property_id = $1 AND conversation_id = $2
          ORDER BY created_at, id",
        property_id,
        conversation_id,
    )
    .fetch_all(&mut *store.acquire().await?)
    .await
    .map_err(db_error)?;
    Ok(notes)
}

/// Writes a note on a conversation the viewer may see (whatever its status), or
/// `ConversationNotFound`.
async fn insert_note(
    conn: &mut PgConnection,
    viewer: &Viewer,
    code: &str,
    note: NewNote,
) -> RepoResult<Note> {
    let scope = Scope::of(viewer);
    let inserted = sqlx::query!(
        "INSERT INTO conversation_notes (property_id, conversation_id, code, content,
                                         author_key_id, author_code, author_name, created_at)
         SELECT c.property_id, c.id, $6, $7, $8, $9, $10, $11
           FROM conversations c
          WHERE c.property_id = $1 AND c.code = $2
            AND ($3::bigint IS NULL OR c.stay_id = $3)
            AND ($4::text IS NULL OR c.guest_identifier = $4)
            AND ($5::bigint[] IS NULL OR c.outlet_id = ANY($5))
         RETURNING id, conversation_id",
        viewer.property_id(),
        code,
        scope.stay_id,
        scope.guest_identifier,
        scope.outlet_ids.as_deref(),
        note.code,
        note.content,
        note.author_key_id,
        note.author_code,
        note.author_name,
        note.created_at,
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .ok_or(DomainError::ConversationNotFound)?;
    Ok(note.stored(inserted.id, inserted.conversation_id))
}

#[async_trait]
impl WorkflowRepository for PgStore {
    #[instrument(skip(self, code))]
    async fn find_staff_member(
        &self,
        property_id: PropertyId,
        code: &str,
    ) -> RepoResult<Option<StaffMember>> {
        let row = sqlx::query!(
            r#"SELECT k.id, k.code AS "code!", k.display_name, k.all_outlets,
                      coalesce(array_agg(ko.outlet_id) FILTER (WHERE ko.outlet_id IS NOT NULL), '{}') AS "outlet_ids!"
                 FROM staff_keys k
                 LEFT JOIN staff_key_outlets ko ON ko.property_id = k.property_id AND ko.staff_key_id = k.id
                WHERE k.property_id = $1 AND k.code = $2 AND k.enabled
                GROUP BY k.property_id, k.id"#,
            property_id,
            code,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(row.map(|row| StaffMember {
            key_id: row.id,
            code: row.code,
            display_name: row.display_name,
            scope: StaffScope {
                property_id,
                outlet_ids: if row.all_outlets {
                    None
                } else {
                    Some(row.outlet_ids)
                },
            },
        }))
    }

    #[instrument(skip(self, viewer, code, assignee))]
    async fn assign(
        &self,
        viewer: &Viewer,
        code: &str,
        assignee: Option<StaffMember>,
    ) -> RepoResult<Vec<ConversationEvent>> {
        let scope = Scope::of(viewer);
        let property_id = viewer.property_id();
        let mut tx = self.begin().await?;
        events::lock_conversation(&mut tx, viewer, code).await?;
        let conversation = sqlx::query!(
            "SELECT c.id, c.assignee_key_id FROM conversations c
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
        let key_id = assignee.as_ref().map(|member| member.key_id);
        if conversation.assignee_key_id == key_id {
            return Ok(Vec::new());
        }
        sqlx::query!(
            "UPDATE conversations SET assignee_key_id = $3 WHERE property_id = $1 AND id = $2",
            property_id,
            conversation.id,
            key_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let events = vec![ConversationEvent::Assigned {
            conversation_code: code.to_owned(),
            assignee: assignee.as_ref().map(StaffMember::assignee),
        }];
        events::record(&mut tx, property_id, conversation.id, &events).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(events)
    }

    #[instrument(skip(self, viewer, code, note, idempotency))]
    async fn add_note(
        &self,
        viewer: &Viewer,
        code: &str,
        note: NewNote,
        idempotency: Option<IdempotentRequest>,
    ) -> RepoResult<Created<Written<Note>>> {
        let created = |note: Note| {
            let events = vec![ConversationEvent::NoteCreated {
                conversation_code: code.to_owned(),
                note: note.clone(),
            }];
            (note, events)
        };
        let property_id = viewer.property_id();
        let Some(request) = idempotency else {
            let mut tx = self.begin().await?;
            events::lock_conversation(&mut tx, viewer, code).await?;
            let (record, events) = created(insert_note(&mut tx, viewer, code, note).await?);
            events::record(&mut tx, property_id, record.conversation_id, &events).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(Created::New(Written::committed(record, events)));
        };
        let at = note.created_at;
        let mut write = match claim(self, property_id, &request, at, Some((viewer, code))).await? {
            Claim::Replay(response) => return Ok(Created::Replayed(response)),
            Claim::Fresh(write) => write,
        };
        let (record, events) = created(insert_note(write.connection(), viewer, code, note).await?);
        events::record(
            write.connection(),
            property_id,
            record.conversation_id,
            &events,
        )
        .await?;
        Ok(Created::New(Written {
            record,
            events,
            completion: Box::new(write),
        }))
    }

    #[instrument(skip(self))]
    async fn quick_replies(&self, property_id: PropertyId) -> RepoResult<Vec<QuickReply>> {
        let rows = sqlx::query!(
            r#"SELECT q.code, q.title, q.content, q.all_outlets,
                      coalesce(array_agg(qo.outlet_id) FILTER (WHERE qo.outlet_id IS NOT NULL), '{}') AS "outlet_ids!"
                 FROM quick_replies q
                 LEFT JOIN quick_reply_outlets qo ON qo.property_id = q.property_id AND qo.quick_reply_id = q.id
                WHERE q.property_id = $1
                GROUP BY q.property_id, q.id"#,
            property_id,
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| QuickReply {
                code: row.code,
                title: row.title,
                content: row.content,
                outlet_ids: if row.all_outlets {
                    None
                } else {
                    Some(row.outlet_ids)
                },
            })
            .collect())
    }
}
