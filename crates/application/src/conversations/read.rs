//! The guest marks staff messages read.

use bellhop_domain::{conversation::ConversationEvent, session::Session};
use tracing::instrument;

use super::{guest_viewer, ConversationService};
use crate::error::AppResult;

impl ConversationService {
    /// Marks staff messages read up to `message_code` (or all), never moving back; returns
    /// what happened (nothing when the position did not move).
    #[instrument(skip_all)]
    pub async fn mark_read(
        &self,
        session: &Session,
        code: &str,
        message_code: Option<String>,
    ) -> AppResult<Vec<ConversationEvent>> {
        Ok(self
            .conversations
            .mark_read(&guest_viewer(session)?, code, message_code)
            .await?)
    }
}
