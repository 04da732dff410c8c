//! `POST .../Conversations/{code}/Close` (our extension).

use actix_web::{web, HttpResponse};

use crate::{error::ApiError, extract::GuestCall, state::AppState, wire::request::request_type};

request_type! {
    pub struct SessionTokenRequest {
        #[schema(value_type = String)]
        session_token: Option<String> = text("sessionToken"),
    }
}

#[utoipa::path(
    post,
    path = "/API/V40/Interactive/Messages/Conversations/{code}/Close",
    operation_id = "guestCloseConversation",
    tag = "guest-extensions",
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    request_body(content(
        (SessionTokenRequest = "application/json"),
        (SessionTokenRequest = "text/json"),
        (SessionTokenRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "responseStatus", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "Not a guest session", body = crate::openapi::Envelope),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::Envelope),
    ),
)]
pub async fn close(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    SessionTokenRequest::decode(&call.fields)?;
    state.conversations.close(&call.session, &code).await?;
    Ok(call.acknowledged())
}
