//! Creating a conversation: a verified guest (section 4 of the spec) or a visitor (section 4,
//! last part).

use bellhop_domain::{
    conversation::{Conversation, Destination, NewConversation},
    form_details::OrderFormDetails,
    idempotency::{Created, IdempotentRequest},
    message::MessageContent,
    naming::ConversationType,
    order::owned_order,
    outlet::Audience,
    outlet_selection::{select_outlet, OutletRequest},
    ports::Written,
    session::{GuestIdentity, Session},
    DomainError,
};
use serde_json::Value;
use tracing::instrument;

use super::ConversationService;
use crate::error::AppResult;

/// `POST .../Conversations`: what the guest sent, not yet validated.
#[derive(Debug, Clone, Default)]
pub struct CreateConversation {
    pub message: Option<String>,
    pub conversation_type: Option<String>,
    pub outlet_code: Option<String>,
    pub order_code: Option<String>,
}

/// `POST .../NonVerifiedGuestConversations`.
#[derive(Debug, Clone, Default)]
pub struct CreateVisitorConversation {
    pub message: Option<String>,
    pub conversation_type: Option<String>,
    pub outlet_code: Option<String>,
    pub order_code: Option<String>,
    pub order_form_details: Option<Value>,
}

impl ConversationService {
    /// Creates a conversation for a verified in-house guest (section 4 of the spec).
    #[instrument(skip_all, fields(property_id = session.property_id))]
    pub async fn create(
        &self,
        session: &Session,
        request: CreateConversation,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Conversation>>> {
        let GuestIdentity::Verified { stay_id } = session.identity else {
            return Err(DomainError::GuestNotVerified.into());
        };
        let content = MessageContent::parse(request.message.as_deref())?;
        let kind = ConversationType::parse(request.conversation_type.as_deref())?;
        let property = self.property(session.property_id).await?;
        let stay = self.session_stay(session, stay_id).await?;
        let order = match request.order_code.as_deref() {
            Some(code) => Some(owned_order(
                self.stays.find_order(property.id, code).await?,
                property.id,
                stay.id,
            )?),
            None => None,
        };
        let outlets = self.properties.list_outlets(property.id).await?;
        let outlet = select_outlet(
            &outlets,
            OutletRequest {
                outlet_code: request.outlet_code.as_deref(),
                order: order.as_ref(),
                audience: Audience::VerifiedGuest,
            },
            property.time_zone,
            self.clock.now(),
        )?;
        let new = NewConversation::by_guest(
            self.opening(content),
            Destination {
                property: &property,
                outlet,
            },
            session,
            &stay,
            order.as_ref(),
            kind,
        );
        Ok(self
            .conversations
            .create_conversation(new, idempotency)
            .await?)
    }

    /// Creates a conversation for a non-verified visitor (section 4, last part).
    #[instrument(skip_all, fields(property_id = session.property_id))]
    pub async fn create_for_visitor(
        &self,
        session: &Session,
        request: CreateVisitorConversation,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Conversation>>> {
        let GuestIdentity::Visitor { guest_identifier } = &session.identity else {
            return Err(DomainError::GuestNotVerified.into());
        };
        let content = MessageContent::parse(request.message.as_deref())?;
        let kind = ConversationType::parse(request.conversation_type.as_deref())?;
        if request.order_code.is_some() {
            return Err(DomainError::invalid_request(
                "A non-verified guest cannot refer to an order.",
            )
            .into());
        }
        let form = request
            .order_form_details
            .map(OrderFormDetails::parse)
            .transpose()?;
        let property = self.property(session.property_id).await?;
        let outlets = self.properties.list_outlets(property.id).await?;
        let outlet = select_outlet(
            &outlets,
            OutletRequest {
                outlet_code: request.outlet_code.as_deref(),
                order: None,
                audience: Audience::Visitor,
            },
            property.time_zone,
            self.clock.now(),
        )?;
        let new = NewConversation::by_visitor(
            self.opening(content),
            Destination {
                property: &property,
                outlet,
            },
            session,
            guest_identifier,
            form.as_ref(),
            kind,
        );
        Ok(self
            .conversations
            .create_conversation(new, idempotency)
            .await?)
    }
}
