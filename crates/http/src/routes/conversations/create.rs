//! `POST .../Conversations` (the seed endpoint) and `POST .../NonVerifiedGuestConversations`.

use actix_web::{web, HttpRequest, HttpResponse};
use bellhop_application::conversations::{CreateConversation, CreateVisitorConversation};
use bellhop_domain::conversation::Conversation;
use serde::Serialize;

use crate::{
    dto::ConversationDto,
    error::ApiError,
    extract::{created_content, GuestCall},
    state::AppState,
    wire::request::request_type,
};

// `POST .../Conversations`.
request_type! {
    pub struct CreateConversationRequest {
        /// The initial message, 1 to 4000 characters after trimming.
        #[schema(value_type = String)]
        message: Option<String> = text("message"),
        /// Empty or `guest`.
        conversation_type: Option<String> = text("conversationType"),
        outlet_code: Option<String> = text("outletCode"),
        order_code: Option<String> = text("orderCode"),
        #[schema(value_type = String)]
        session_token: Option<String> = text("sessionToken"),
    }
}

impl From<CreateConversationRequest> for CreateConversation {
    fn from(r: CreateConversationRequest) -> Self {
        Self {
            message: r.message,
            conversation_type: r.conversation_type,
            outlet_code: r.outlet_code,
            order_code: r.order_code,
        }
    }
}

// `POST .../NonVerifiedGuestConversations`.
request_type! {
    pub struct CreateVisitorConversationRequest {
        #[schema(value_type = String)]
        message: Option<String> = text("message"),
        conversation_type: Option<String> = text("conversationType"),
        outlet_code: Option<String> = text("outletCode"),
        /// Not allowed for visitors (400 when given).
        order_code: Option<String> = text("orderCode"),
        /// The outlet form's contact details: at most 50 keys, 16 KiB, 5 levels deep.
        #[schema(value_type = Option<Object>)]
        order_form_details_dictionary: Option<serde_json::Value> = object("orderFormDetailsDictionary"),
        #[schema(value_type = String)]
        session_token: Option<String> = text("sessionToken"),
    }
}

impl From<CreateVisitorConversationRequest> for CreateVisitorConversation {
    fn from(r: CreateVisitorConversationRequest) -> Self {
        Self {
            message: r.message,
            conversation_type: r.conversation_type,
            outlet_code: r.outlet_code,
            order_code: r.order_code,
            order_form_details: r.order_form_details_dictionary,
        }
    }
}

#[derive(Serialize)]
pub struct ConversationContent {
    pub conversation: ConversationDto,
}

#[utoipa::path(
    post,
    path = "/API/V40/Interactive/Messages/Conversations",
    operation_id = "guestCreateConversation",
    tag = "guest",
    request_body(content(
        (CreateConversationRequest = "application/json"),
        (CreateConversationRequest = "text/json"),
        (CreateConversationRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "createConversationResponse", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "GuestNotVerified or OutletNotAllowed", body = crate::openapi::Envelope),
        (status = 404, description = "OutletNotFound or OrderNotFound", body = crate::openapi::Envelope),
        (status = 409, description = "OrderOutletMismatch", body = crate::openapi::Envelope),
        (status = 422, description = "NoOutletAvailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let request = CreateConversationRequest::decode(&call.fields)?.into();
    let idempotency = call.idempotency(&req)?;
    let created = state
        .conversations
        .create(&call.session, request, idempotency)
        .await?;
    let (content, new) = created_content(created, content_of).await?;
    if new {
        state.metrics.conversation_created("guest");
    }
    Ok(call.data("createConversationResponse", content))
}

#[utoipa::path(
    post,
    path = "/API/V40/Interactive/Messages/NonVerifiedGuestConversations",
    operation_id = "visitorCreateConversation",
    tag = "guest",
    request_body(content(
        (CreateVisitorConversationRequest = "application/json"),
        (CreateVisitorConversationRequest = "text/json"),
        (CreateVisitorConversationRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "createConversationResponse", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "GuestNotVerified or OutletNotAllowed", body = crate::openapi::Envelope),
        (status = 404, description = "OutletNotFound", body = crate::openapi::Envelope),
        (status = 422, description = "NoOutletAvailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn create_for_visitor(
    state: web::Data<AppState>,
    req: HttpRequest,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let request = CreateVisitorConversationRequest::decode(&call.fields)?.into();
    let idempotency = call.idempotency(&req)?;
    let created = state
        .conversations
        .create_for_visitor(&call.session, request, idempotency)
        .await?;
    let (content, new) = created_content(created, content_of).await?;
    if new {
        state.metrics.conversation_created("guest");
    }
    Ok(call.data("createConversationResponse", content))
}

/// The `content` of `createConversationResponse`.
fn content_of(conversation: &Conversation) -> ConversationContent {
    ConversationContent {
        conversation: conversation.clone().into(),
    }
}
