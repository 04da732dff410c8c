//! A staff reply in a conversation of the key.

use bellhop_domain::{
    conversation::{Message, NewMessage, Viewer},
    idempotency::{Created, IdempotentRequest},
    message::MessageContent,
    ports::Written,
    staff::StaffKey,
};
use tracing::instrument;

use super::StaffService;
use crate::{codes::new_code, error::AppResult};

impl StaffService {
    /// A staff reply, signed with the key's display name and the outlet's service centre.
    #[instrument(skip_all)]
    pub async fn reply(
        &self,
        key: &StaffKey,
        code: &str,
        content: Option<&str>,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Message>>> {
        let content = MessageContent::parse(content)?;
        let viewer = Viewer::Staff(key.scope.clone());
        let conversation = self.conversations.find_conversation(&viewer, code).await?;
        let property = self.property(key).await?;
        let service_center = self
            .properties
            .list_outlets(property.id)
            .await?
            .iter()
            .find(|o| o.code == conversation.outlet_code)
            .map(|o| o.service_center_name.clone())
            .unwrap_or_default();
        let message = NewMessage::by_staff(
            new_code(),
            key,
            &service_center,
            &property,
            content,
            self.clock.now(),
        );
        Ok(self
            .conversations
            .add_message(&viewer, code, message, idempotency)
            .await?)
    }
}
