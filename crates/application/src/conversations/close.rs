//! The guest closes a conversation.

use bellhop_domain::{
    conversation::{ConversationEvent, ConversationStatus},
    session::Session,
};
use tracing::instrument;

use super::{guest_viewer, ConversationService};
use crate::error::AppResult;

impl ConversationService {
    /// Closes the conversation; returns what happened (nothing when it was closed already).
    #[instrument(skip_all)]
    pub async fn close(&self, session: &Session, code: &str) -> AppResult<Vec<ConversationEvent>> {
        let viewer = guest_viewer(session)?;
        Ok(self
            .conversations
            .set_status(&viewer, code, ConversationStatus::Closed, self.clock.now())
            .await?)
    }
}
