//! `GET .../Conversations/{code}` (our extension): one conversation with its messages.

use actix_web::{web, HttpResponse};

use super::create::ConversationContent;
use crate::routes::messages::page;
use crate::{error::ApiError, extract::GuestCall, state::AppState};

#[utoipa::path(
    get,
    path = "/API/V40/Interactive/Messages/Conversations/{code}",
    operation_id = "guestGetConversation",
    tag = "guest-extensions",
    params(
        ("code" = String, Path, description = "The conversation code"),
        ("PageNumber" = Option<i64>, Query, description = "Page of messages, from 1"),
        ("PageLength" = Option<i64>, Query, description = "Messages per page, 1 to the configured maximum"),
        ("SessionToken" = String, Query, description = "The session token"),
    ),
    responses(
        (status = 200, description = "getConversationResponse", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "Not a guest session", body = crate::openapi::Envelope),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::Envelope),
    ),
)]
pub async fn get(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let page = page(&call.fields, state.limits.max_page_length)?;
    let conversation = state.conversations.get(&call.session, &code, page).await?;
    Ok(call.data(
        "getConversationResponse",
        ConversationContent {
            conversation: conversation.into(),
        },
    ))
}
