//! Staff keys and the service centre's views of conversations.

use async_trait::async_trait;
use bellhop_domain::{
    conversation::{Conversation, Viewer},
    ports::{RepoResult, StaffRepository},
    reference::SecretHash,
    staff::{
        AssigneeFilter, OutletUnread, StaffConversationFilter, StaffCursor, StaffKey, StaffScope,
    },
};
use sqlx::{Postgres, QueryBuilder};
use tracing::instrument;

use crate::{
    conversations::{push_select_conversations, with_last_messages, ConversationRow},
    db_error, PgStore,
};

/// Appends to `query` the staff list's SELECT: the conversations of `scope` matching `filter`,
/// after `cursor`, most recent activity first, at most `limit` (public so that tests can
/// `EXPLAIN` exactly what the repository runs).
pub fn push_staff_conversations(
    query: &mut QueryBuilder<'static, Postgres>,
    scope: &StaffScope,
    filter: &StaffConversationFilter,
    cursor: Option<StaffCursor>,
    limit: i64,
) {
    push_select_conversations(query, &Viewer::Staff(scope.clone()));
    if let Some(outlet_code) = &filter.outlet_code {
        query.push(" AND o.code = ").push_bind(outlet_code.clone());
    }
    if let Some(status) = filter.status {
        query.push(" AND c.status = ").push_bind(status.as_str());
    }
    if filter.unread_only {
        // Only the unread conversations are in the partial indexes on this condition.
        query.push(" AND c.staff_unread > 0");
    }
    if let Some(order_code) = &filter.order_code {
        query.push(" AND ord.code = ").push_bind(order_code.clone());
    }
    if let Some(since) = filter.updated_since {
        query.push(" AND c.last_message_at >= ").push_bind(since);
    }
    match &filter.assignee {
        None => {}
        Some(AssigneeFilter::Unassigned) => {
            query.push(" AND c.assignee_key_id IS NULL");
        }
        Some(AssigneeFilter::Key(key_id)) => {
            query.push(" AND c.assignee_key_id = ").push_bind(*key_id);
        }
        Some(AssigneeFilter::Code(code)) => {
            query.push(" AND ak.code = ").push_bind(code.clone());
        }
        Some(AssigneeFilter::Nothing) => {
            query.push(" AND false");
        }
    }
    if let Some(now) = filter.overdue_at {
        // `reply_due_at IS NOT NULL` puts the waiting conversations' partial index in reach.
        query
            .push(" AND c.reply_due_at IS NOT NULL AND c.reply_due_at <= ")
            .push_bind(now);
    }
    if let Some(cursor) = cursor {
        query
            .push(" AND (c.last_message_at, c.id) < (")
            .push_bind(cursor.last_message_at)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    query
        .push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ")
        .push_bind(limit);
}

/// The unread counts of the active outlets of property `$1` (of those in `$2`, unless null), in
/// display order: only the unread conversations are read (index
/// `conversations_staff_unread_outlet_idx`), with their maintained `staff_unread` counts.
pub const UNREAD_BY_OUTLET: &str = "
    SELECT o.code, count(c.id) AS unread_conversations,
           coalesce(sum(c.staff_unread), 0)::bigint AS unread_messages
      FROM outlets o
      LEFT JOIN conversations c ON c.property_id = o.property_id AND c.outlet_id = o.id
                               AND c.staff_unread > 0
     WHERE o.active AND o.property_id = $1 AND ($2::bigint[] IS NULL OR o.id = ANY($2))
     GROUP BY o.property_id, o.id
     ORDER BY o.display_order, o.code";

#[async_trait]
impl StaffRepository for PgStore {
    #[instrument(skip_all)]
    async fn find_staff_key(&self, key_hash: SecretHash) -> RepoResult<Option<StaffKey>> {
        let row = sqlx::query!(
            r#"SELECT k.id, k.property_id, k.code, k.display_name, k.all_outlets,
                      coalesce(array_agg(ko.outlet_id) FILTER (WHERE ko.outlet_id IS NOT NULL), '{}') AS "outlet_ids!",
                      coalesce(max(rv.version), 0) AS "reference_version!"
                 FROM staff_keys k
                 LEFT JOIN staff_key_outlets ko ON ko.property_id = k.property_id AND ko.staff_key_id = k.id
                 LEFT JOIN reference_versions rv ON rv.property_id = k.property_id
                WHERE k.key_hash = $1 AND k.enabled
                GROUP BY k.property_id, k.id"#,
            key_hash.as_slice(),
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        if let Some(row) = &row {
            self.cache.observe(row.property_id, row.reference_version);
        }
        Ok(row.map(|row| StaffKey {
            id: row.id,
            code: row.code,
            display_name: row.display_name,
            scope: StaffScope {
                property_id: row.property_id,
                outlet_ids: if row.all_outlets {
                    None
                } else {
                    Some(row.outlet_ids)
                },
            },
        }))
    }

    #[instrument(skip(self, scope, filter))]
    async fn list_staff_conversations(
        &self,
        scope: &StaffScope,
        filter: &StaffConversationFilter,
        cursor: Option<StaffCursor>,
        limit: i64,
    ) -> RepoResult<Vec<Conversation>> {
        let mut query = QueryBuilder::new("");
        push_staff_conversations(&mut query, scope, filter, cursor, limit);
        let rows: Vec<ConversationRow> = query
            .build_query_as()
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        with_last_messages(self, scope.property_id, rows).await
    }

    #[instrument(skip(self, scope))]
    async fn unread_by_outlet(&self, scope: &StaffScope) -> RepoResult<Vec<OutletUnread>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(UNREAD_BY_OUTLET)
            .bind(scope.property_id)
            .bind(scope.outlet_ids.clone())
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(outlet_code, unread_conversations, unread_messages)| OutletUnread {
                    outlet_code,
                    unread_conversations,
                    unread_messages,
                },
            )
            .collect())
    }
}
