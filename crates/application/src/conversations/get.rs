//! One of the guest's conversations.

use bellhop_domain::{conversation::Conversation, paging::Page, session::Session};
use tracing::instrument;

use super::{guest_viewer, ConversationService};
use crate::error::AppResult;

impl ConversationService {
    /// One of the guest's conversations with a page of its messages.
    #[instrument(skip_all)]
    pub async fn get(&self, session: &Session, code: &str, page: Page) -> AppResult<Conversation> {
        Ok(self
            .conversations
            .get_conversation(&guest_viewer(session)?, code, Some(page))
            .await?)
    }
}
