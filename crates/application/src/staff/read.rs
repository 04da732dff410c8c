//! The key's read position moves forward.

use bellhop_domain::{
    conversation::{Conversation, ConversationEvent, Viewer},
    staff::StaffKey,
};
use tracing::instrument;

use super::StaffService;
use crate::error::AppResult;

impl StaffService {
    /// Moves the key's read position; returns the conversation as it now stands and what
    /// happened.
    #[instrument(skip_all)]
    pub async fn mark_read(
        &self,
        key: &StaffKey,
        code: &str,
        message_code: Option<String>,
    ) -> AppResult<(Conversation, Vec<ConversationEvent>)> {
        let viewer = Viewer::Staff(key.scope.clone());
        let events = self
            .conversations
            .mark_read(&viewer, code, message_code)
            .await?;
        let conversation = self
            .conversations
            .get_conversation(&viewer, code, None)
            .await?;
        Ok((self.observed(conversation), events))
    }
}
