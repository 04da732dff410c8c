//! A guest's reply in one of their conversations.

use bellhop_domain::{
    conversation::{Message, NewMessage},
    form_details::OrderFormDetails,
    idempotency::{Created, IdempotentRequest},
    message::MessageContent,
    naming::{guest_author, AuthorName, ConversationType, GuestSigner},
    ports::Written,
    session::{GuestIdentity, Session},
};
use tracing::instrument;

use super::{guest_viewer, ConversationService};
use crate::{codes::new_code, error::AppResult};

/// `POST .../Conversations/{code}/Messages`.
#[derive(Debug, Clone, Default)]
pub struct AddGuestMessage {
    pub message: Option<String>,
    pub conversation_type: Option<String>,
}

impl ConversationService {
    /// A guest's reply, signed by the naming rule applied to this request's own type: only a
    /// signed reply looks up whose names it carries (the stay, or the conversation's form).
    #[instrument(skip_all)]
    pub async fn add_message(
        &self,
        session: &Session,
        code: &str,
        request: AddGuestMessage,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Message>>> {
        let viewer = guest_viewer(session)?;
        let content = MessageContent::parse(request.message.as_deref())?;
        let kind = ConversationType::parse(request.conversation_type.as_deref())?;
        let author = if !kind.is_signed() {
            AuthorName::default()
        } else if let GuestIdentity::Verified { stay_id } = session.identity {
            let stay = self.session_stay(session, stay_id).await?;
            guest_author(kind, GuestSigner::Stay(&stay))
        } else {
            let conversation = self.conversations.find_conversation(&viewer, code).await?;
            // Stored by this service after parsing, so it parses again; should it not, the
            // reply goes unsigned rather than failing.
            let form = conversation
                .order_form_details
                .and_then(|form| OrderFormDetails::parse(form).ok());
            guest_author(kind, GuestSigner::Visitor(form.as_ref()))
        };
        let message = NewMessage::by_guest(new_code(), session, content, author, self.clock.now());
        Ok(self
            .conversations
            .add_message(&viewer, code, message, idempotency)
            .await?)
    }
}
