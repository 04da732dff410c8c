//! The key's conversations, filtered, a page at a time.

use bellhop_domain::{
    conversation::{Conversation, Viewer},
    staff::{StaffConversationFilter, StaffCursor, StaffKey},
    DomainError,
};
use tracing::instrument;

use super::{decode_cursor, encode_cursor, StaffPage, StaffService, DEFAULT_LIMIT, MAX_LIMIT};
use crate::error::AppResult;

impl StaffService {
    #[instrument(skip_all)]
    pub async fn list(
        &self,
        key: &StaffKey,
        filter: StaffConversationFilter,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<StaffPage> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(DomainError::InvalidPaging(format!(
                "limit must be between 1 and {MAX_LIMIT}."
            ))
            .into());
        }
        let cursor = cursor.map(decode_cursor).transpose()?;
        let mut filter = filter;
        // `overdue=true` means due by now, as this service's clock tells it.
        filter.overdue_at = filter.overdue_only.then(|| self.clock.now());
        let conversations: Vec<Conversation> = self
            .staff
            .list_staff_conversations(&key.scope, &filter, cursor, limit)
            .await?
            .into_iter()
            .map(|c| self.observed(c))
            .collect();
        let next_cursor = match conversations.last() {
            Some(last) if conversations.len() as i64 == limit => Some(encode_cursor(StaffCursor {
                last_message_at: last.last_message_at,
                id: last.id,
            })),
            _ => None,
        };
        Ok(StaffPage {
            conversations,
            next_cursor,
        })
    }

    #[instrument(skip_all)]
    pub async fn get(&self, key: &StaffKey, code: &str) -> AppResult<Conversation> {
        let conversation = self
            .conversations
            .get_conversation(&Viewer::Staff(key.scope.clone()), code, None)
            .await?;
        Ok(self.observed(conversation))
    }
}
