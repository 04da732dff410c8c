//! `POST .../Conversations/{code}/Messages` (our extension): the guest adds a message.

use actix_web::{web, HttpRequest, HttpResponse};
use bellhop_application::conversations::AddGuestMessage;
use bellhop_domain::conversation::Message;
use serde::Serialize;

use crate::{
    dto::MessageDto,
    error::ApiError,
    extract::{created_content, GuestCall},
    state::AppState,
    wire::request::request_type,
};

#[derive(Serialize)]
struct MessageContent {
    message: MessageDto,
}

request_type! {
    pub struct AddMessageRequest {
        #[schema(value_type = String)]
        message: Option<String> = text("message"),
        conversation_type: Option<String> = text("conversationType"),
        #[schema(value_type = String)]
        session_token: Option<String> = text("sessionToken"),
    }
}

impl From<AddMessageRequest> for AddGuestMessage {
    fn from(r: AddMessageRequest) -> Self {
        Self {
            message: r.message,
            conversation_type: r.conversation_type,
        }
    }
}

#[utoipa::path(
    post,
    path = "/API/V40/Interactive/Messages/Conversations/{code}/Messages",
    operation_id = "guestAddMessage",
    tag = "guest-extensions",
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    request_body(content(
        (AddMessageRequest = "application/json"),
        (AddMessageRequest = "text/json"),
        (AddMessageRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "addMessageResponse", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "Not a guest session", body = crate::openapi::Envelope),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::Envelope),
        (status = 409, description = "ConversationClosed", body = crate::openapi::Envelope),
    ),
)]
pub async fn reply(
    state: web::Data<AppState>,
    code: web::Path<String>,
    req: HttpRequest,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let request = AddMessageRequest::decode(&call.fields)?.into();
    let idempotency = call.idempotency(&req)?;
    let created = state
        .conversations
        .add_message(&call.session, &code, request, idempotency)
        .await?;
    let (content, new) = created_content(created, content_of).await?;
    if new {
        state.metrics.message_created("guest");
    }
    Ok(call.data("addMessageResponse", content))
}

/// The `content` of `addMessageResponse`.
fn content_of(message: &Message) -> MessageContent {
    MessageContent {
        message: message.clone().into(),
    }
}
