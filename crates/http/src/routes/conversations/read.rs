//! `POST .../Conversations/{code}/Read` (our extension): the guest's read position.

use actix_web::{web, HttpResponse};

use crate::{error::ApiError, extract::GuestCall, state::AppState, wire::request::request_type};

request_type! {
    pub struct ReadRequest {
        /// Read up to and including this message; all when absent.
        message_code: Option<String> = text("messageCode"),
        #[schema(value_type = String)]
        session_token: Option<String> = text("sessionToken"),
    }
}

#[utoipa::path(
    post,
    path = "/API/V40/Interactive/Messages/Conversations/{code}/Read",
    operation_id = "guestMarkRead",
    tag = "guest-extensions",
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    request_body(content(
        (ReadRequest = "application/json"),
        (ReadRequest = "text/json"),
        (ReadRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "responseStatus", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "Not a guest session", body = crate::openapi::Envelope),
        (status = 404, description = "ConversationNotFound or MessageNotFound", body = crate::openapi::Envelope),
    ),
)]
pub async fn read(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let message_code = ReadRequest::decode(&call.fields)?.message_code;
    state
        .conversations
        .mark_read(&call.session, &code, message_code)
        .await?;
    Ok(call.acknowledged())
}
