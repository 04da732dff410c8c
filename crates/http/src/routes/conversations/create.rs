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
};

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
        (crate::openapi::CreateConversationRequest = "application/json"),
        (crate::openapi::CreateConversationRequest = "text/json"),
        (crate::openapi::CreateConversationRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "createConversationResponse", body = crate::openapi::Envelope),
        (status = 400, description = "Malformed body or invalid field values", body = crate::openapi::Envelope),
        (status = 401, description = "Missing, invalid or expired session token or credentials", body = crate::openapi::Envelope),
        (status = 403, description = "GuestNotVerified or OutletNotAllowed", body = crate::openapi::Envelope),
        (status = 404, description = "OutletNotFound or OrderNotFound", body = crate::openapi::Envelope),
        (status = 409, description = "OrderOutletMismatch", body = crate::openapi::Envelope),
        (status = 422, description = "NoOutletAvailable", body = crate::openapi::Envelope),
        (status = 413, description = "Body over the limit", body = crate::openapi::Envelope),
        (status = 415, description = "Unsupported content type", body = crate::openapi::Envelope),
        (status = 503, description = "Database unavailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let f = &call.fields;
        let request = CreateConversation {
            message: f.text("message")?,
            conversation_type: f.text("conversationType")?,
            outlet_code: f.text("outletCode")?,
            order_code: f.text("orderCode")?,
        };
        let idempotency = call.idempotency(&req)?;
        let created = state
            .conversations
            .create(&call.session, request, idempotency)
            .await?;
        let (content, new) = created_content(created, content_of).await?;
        if new {
            state.metrics.conversation_created("guest");
        }
        Ok::<_, ApiError>(content)
    }
    .await;
    call.finish("createConversationResponse", result)
}

#[utoipa::path(
    post,
    path = "/API/V40/Interactive/Messages/NonVerifiedGuestConversations",
    operation_id = "visitorCreateConversation",
    tag = "guest",
    request_body(content(
        (crate::openapi::CreateVisitorConversationRequest = "application/json"),
        (crate::openapi::CreateVisitorConversationRequest = "text/json"),
        (crate::openapi::CreateVisitorConversationRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "createConversationResponse", body = crate::openapi::Envelope),
        (status = 400, description = "Malformed body or invalid field values", body = crate::openapi::Envelope),
        (status = 401, description = "Missing, invalid or expired session token or credentials", body = crate::openapi::Envelope),
        (status = 403, description = "GuestNotVerified or OutletNotAllowed", body = crate::openapi::Envelope),
        (status = 404, description = "OutletNotFound", body = crate::openapi::Envelope),
        (status = 422, description = "NoOutletAvailable", body = crate::openapi::Envelope),
        (status = 413, description = "Body over the limit", body = crate::openapi::Envelope),
        (status = 415, description = "Unsupported content type", body = crate::openapi::Envelope),
        (status = 503, description = "Database unavailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn create_for_visitor(
    state: web::Data<AppState>,
    req: HttpRequest,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let f = &call.fields;
        let request = CreateVisitorConversation {
            message: f.text("message")?,
            conversation_type: f.text("conversationType")?,
            outlet_code: f.text("outletCode")?,
            order_code: f.text("orderCode")?,
            order_form_details: f.object("orderFormDetailsDictionary")?,
        };
        let idempotency = call.idempotency(&req)?;
        let created = state
            .conversations
            .create_for_visitor(&call.session, request, idempotency)
            .await?;
        let (content, new) = created_content(created, content_of).await?;
        if new {
            state.metrics.conversation_created("guest");
        }
        Ok::<_, ApiError>(content)
    }
    .await;
    call.finish("createConversationResponse", result)
}

/// The `content` of `createConversationResponse`.
fn content_of(conversation: &Conversation) -> ConversationContent {
    ConversationContent {
        conversation: conversation.clone().into(),
    }
}
