//! Staff start a conversation with the in-house guest of a room.

use bellhop_domain::{
    conversation::{Conversation, Destination, NewConversation, Opening},
    idempotency::{Created, IdempotentRequest},
    message::MessageContent,
    outlet::Audience,
    ports::Written,
    staff::StaffKey,
    DomainError,
};
use tracing::instrument;

use super::{StaffService, StartStaffConversation};
use crate::{codes::new_code, error::AppResult};

impl StaffService {
    /// Starts a conversation with the in-house guest of a room.
    #[instrument(skip_all)]
    pub async fn start(
        &self,
        key: &StaffKey,
        request: StartStaffConversation,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Conversation>>> {
        let content = MessageContent::parse(request.content.as_deref())?;
        let room = request
            .room_number
            .filter(|r| !r.is_empty())
            .ok_or_else(|| DomainError::invalid_request("roomNumber is required."))?;
        let outlet_code = request
            .outlet_code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| DomainError::invalid_request("outletCode is required."))?;
        let property = self.property(key).await?;
        let outlets = self.properties.list_outlets(property.id).await?;
        let outlet = outlets
            .iter()
            .find(|o| o.code == outlet_code && key.scope.covers(o.id))
            .ok_or(DomainError::OutletNotFound)?;
        outlet.usable_by(Audience::ServiceCenter)?;
        let now = self.clock.now();
        let stay = self
            .stays
            .in_house_stays_in_room(property.id, &room, now)
            .await?
            .into_iter()
            .next()
            .ok_or(DomainError::GuestNotFound)?;
        let new = NewConversation::by_staff(
            Opening {
                code: new_code(),
                message_code: new_code(),
                content,
                at: now,
                // A staff message never gets an out-of-hours reply.
                reply_code: String::new(),
            },
            Destination {
                property: &property,
                outlet,
            },
            key,
            &stay,
        );
        Ok(self
            .conversations
            .create_conversation(new, idempotency)
            .await?)
    }
}
