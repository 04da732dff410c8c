//! The reply clock's job: `conversation.overdue`, once per waiting period, from one instance.
//!
//! Every server process runs it every few seconds. A run must not walk the open
//! conversations: it reads the partial index of the waiting, not-yet-notified conversations by
//! due time (`conversations_reply_due_idx`), a batch at a time, so its cost follows the number
//! of conversations falling due, not the number open.
//!
//! # Claiming, and the event log's locking rule
//!
//! Writing an event of an existing conversation must first take the conversation's advisory
//! lock, before the transaction writes anything (see [`crate::events`]). So a run, in one
//! transaction:
//!
//! 1. selects due conversations and takes each one's advisory lock with
//!    `pg_try_advisory_xact_lock`, keeping only those it got: a conversation another instance
//!    is notifying, or a writer is changing, is left for the next run (no waiting, so no
//!    deadlock with writers, which take one conversation lock each);
//! 2. then, in a new statement (a new snapshot, taken with the locks held, so every earlier
//!    writer's commit is visible), marks those still due and not notified as notified,
//!    returning them;
//! 3. appends their `conversation.overdue` events and commits.
//!
//! Two instances that pick the same conversation: one holds the lock and the other skips it,
//! or finds it already notified in step 2. A staff reply that raced the run either committed
//! before the lock (step 2 no longer finds it waiting) or waits for the run to commit.

use async_trait::async_trait;
use bellhop_domain::{
    event::ConversationEvent,
    ports::{OverdueRepository, RepoResult},
};
use chrono::{DateTime, Utc};

use crate::{db_error, events, PgStore};

#[async_trait]
impl OverdueRepository for PgStore {
    #[tracing::instrument(skip(self))]
    async fn notify_overdue(
        &self,
        now: DateTime<Utc>,
        batch: i64,
    ) -> RepoResult<Vec<ConversationEvent>> {
        let mut tx = self.begin().await?;
        // Per property, the partial index by due time; the lock is tried only for rows that
        // pass the other conditions, and the outer limit stops the scan at the batch.
        let claimed = sqlx::query!(
            r#"SELECT d.property_id AS "property_id!", d.id AS "id!"
                 FROM properties p
                 CROSS JOIN LATERAL (
                     SELECT c.property_id, c.id FROM conversations c
                      WHERE c.property_id = p.id AND c.reply_due_at <= $1 AND NOT c.overdue_notified
                      ORDER BY c.reply_due_at
                      LIMIT $2) d
                WHERE pg_try_advisory_xact_lock(hashtextextended('bellhop.conversation.' || d.property_id || '.' || d.id, 0))
                LIMIT $2"#,
            now,
            batch,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        if claimed.is_empty() {
            tx.commit().await.map_err(db_error)?;
            return Ok(Vec::new());
        }
        let property_ids: Vec<i64> = claimed.iter().map(|c| c.property_id).collect();
        let ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        let due = sqlx::query!(
            r#"UPDATE conversations c SET overdue_notified = true
                 FROM unnest($1::bigint[], $2::bigint[]) AS t(property_id, id)
                WHERE c.property_id = t.property_id AND c.id = t.id
                  AND c.reply_due_at <= $3 AND NOT c.overdue_notified
                RETURNING c.property_id, c.id, c.code, c.reply_due_at AS "reply_due_at!""#,
            &property_ids,
            &ids,
            now,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let mut all = Vec::with_capacity(due.len());
        for row in due {
            let event = vec![ConversationEvent::Overdue {
                conversation_code: row.code,
                reply_due_at: row.reply_due_at,
            }];
            events::record(&mut tx, row.property_id, row.id, &event).await?;
            all.extend(event);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(all)
    }
}
