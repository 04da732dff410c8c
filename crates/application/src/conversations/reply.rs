//! A guest's reply in one of their conversations.

use bellhop_domain::{
    conversation::{Conversation, Message, NewMessage},
    form_details::OrderFormDetails,
    idempotency::{Created, IdempotentRequest},
    message::MessageContent,
    naming::{guest_author, AuthorName, ConversationType, GuestSigner},
    ports::Written,
    reply_clock::GuestArrival,
    session::{GuestIdentity, Session},
};
use chrono::{DateTime, Utc};
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
        // The conversation's outlet decides the reply clock and the out-of-hours reply.
        let conversation = self.conversations.find_conversation(&viewer, code).await?;
        let at = self.clock.now();
        let arrival = self.arrival(&conversation, at).await?;
        let author = if !kind.is_signed() {
            AuthorName::default()
        } else if let GuestIdentity::Verified { stay_id } = session.identity {
            let stay = self.session_stay(session, stay_id).await?;
            guest_author(kind, GuestSigner::Stay(&stay))
        } else {
            // Stored by this service after parsing, so it parses again; should it not, the
            // reply goes unsigned rather than failing.
            let form = conversation
                .order_form_details
                .clone()
                .and_then(|form| OrderFormDetails::parse(form).ok());
            guest_author(kind, GuestSigner::Visitor(form.as_ref()))
        };
        let message = NewMessage::by_guest(new_code(), session, content, author, at, arrival);
        Ok(self
            .conversations
            .add_message(&viewer, code, message, idempotency)
            .await?)
    }

    /// What a guest message arriving at `at` in `conversation` means for its reply clock, from
    /// the conversation's outlet (none known: no target and no automatic reply).
    async fn arrival(
        &self,
        conversation: &Conversation,
        at: DateTime<Utc>,
    ) -> AppResult<GuestArrival> {
        let property = self.property(conversation.property_id).await?;
        let outlets = self.properties.list_outlets(property.id).await?;
        Ok(outlets
            .iter()
            .find(|o| o.code == conversation.outlet_code)
            .map(|outlet| GuestArrival::at_outlet(outlet, &property, at, new_code()))
            .unwrap_or_default())
    }
}
