//! Staff close or reopen a conversation.

use bellhop_domain::{
    conversation::{Conversation, ConversationEvent, ConversationStatus, Viewer},
    staff::StaffKey,
};
use tracing::instrument;

use super::StaffService;
use crate::error::AppResult;

impl StaffService {
    /// Closes or reopens; returns the conversation as it now stands and what happened.
    #[instrument(skip_all)]
    pub async fn set_status(
        &self,
        key: &StaffKey,
        code: &str,
        status: ConversationStatus,
    ) -> AppResult<(Conversation, Vec<ConversationEvent>)> {
        let viewer = Viewer::Staff(key.scope.clone());
        let events = self
            .conversations
            .set_status(&viewer, code, status, self.clock.now())
            .await?;
        let conversation = self
            .conversations
            .get_conversation(&viewer, code, None)
            .await?;
        Ok((self.observed(conversation), events))
    }
}
