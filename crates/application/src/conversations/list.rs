//! The guest's conversations, and the guest's message feed.

use bellhop_domain::{
    conversation::{Conversation, Message},
    paging::Page,
    session::Session,
};
use tracing::instrument;

use super::{guest_viewer, ConversationService};
use crate::error::AppResult;

impl ConversationService {
    /// The guest's conversations, most recent activity first, each with its last message.
    #[instrument(skip_all)]
    pub async fn list(&self, session: &Session, page: Page) -> AppResult<Vec<Conversation>> {
        Ok(self
            .conversations
            .list_conversations(&guest_viewer(session)?, page)
            .await?)
    }

    /// Every message of the guest's conversations.
    #[instrument(skip_all)]
    pub async fn messages(
        &self,
        session: &Session,
        page: Page,
        descending: bool,
    ) -> AppResult<Vec<Message>> {
        Ok(self
            .conversations
            .list_messages(&guest_viewer(session)?, page, descending)
            .await?)
    }
}
