//! Staff keys and the service centre's views of conversations.

use async_trait::async_trait;
use bellhop_domain::{
    conversation::{Conversation, Side, Viewer},
    ports::{RepoResult, StaffRepository},
    reference::SecretHash,
    staff::{OutletUnread, StaffConversationFilter, StaffCursor, StaffKey, StaffScope},
};
use sqlx::QueryBuilder;
use tracing::instrument;

use crate::{
    conversations::{select_conversations, with_last_messages, ConversationRow},
    db_error, PgStore,
};

#[async_trait]
impl StaffRepository for PgStore {
    #[instrument(skip_all)]
    async fn find_staff_key(&self, key_hash: SecretHash) -> RepoResult<Option<StaffKey>> {
        let row = sqlx::query!(
            r#"SELECT k.id, k.property_id, k.display_name, k.all_outlets,
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
        let viewer = Viewer::Staff(scope.clone());
        let mut query = select_conversations(&viewer);
        if let Some(outlet_code) = &filter.outlet_code {
            query.push(" AND o.code = ").push_bind(outlet_code.clone());
        }
        if let Some(status) = filter.status {
            query.push(" AND c.status = ").push_bind(status.as_str());
        }
        if filter.unread_only {
            query
                .push(
                    " AND EXISTS (SELECT 1 FROM messages u WHERE u.property_id = c.property_id
                     AND u.conversation_id = c.id AND u.seq > c.staff_read_seq AND u.message_type = ",
                )
                .push_bind(Side::ServiceCenter.receives().as_str())
                .push(")");
        }
        if let Some(order_code) = &filter.order_code {
            query.push(" AND ord.code = ").push_bind(order_code.clone());
        }
        if let Some(since) = filter.updated_since {
            query.push(" AND c.last_message_at >= ").push_bind(since);
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
        let rows: Vec<ConversationRow> = query
            .build_query_as()
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        with_last_messages(self, scope.property_id, rows).await
    }

    #[instrument(skip(self, scope))]
    async fn unread_by_outlet(&self, scope: &StaffScope) -> RepoResult<Vec<OutletUnread>> {
        let mut query = QueryBuilder::new(
            "SELECT o.code,
                    count(u.n) FILTER (WHERE u.n > 0) AS unread_conversations,
                    coalesce(sum(u.n), 0)::bigint AS unread_messages
               FROM outlets o
               LEFT JOIN conversations c ON c.property_id = o.property_id AND c.outlet_id = o.id
                                        AND c.staff_read_seq < c.last_seq
               LEFT JOIN LATERAL (
                    SELECT count(*) AS n FROM messages m
                     WHERE m.property_id = c.property_id AND m.conversation_id = c.id
                       AND m.seq > c.staff_read_seq AND m.message_type = ",
        );
        query
            .push_bind(Side::ServiceCenter.receives().as_str())
            .push(
                ") u ON c.id IS NOT NULL
              WHERE o.active AND o.property_id = ",
            );
        query.push_bind(scope.property_id);
        if let Some(outlet_ids) = &scope.outlet_ids {
            query
                .push(" AND o.id = ANY(")
                .push_bind(outlet_ids.clone())
                .push(")");
        }
        query.push(" GROUP BY o.property_id, o.id ORDER BY o.display_order, o.code");
        let rows: Vec<(String, i64, i64)> = query
            .build_query_as()
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
