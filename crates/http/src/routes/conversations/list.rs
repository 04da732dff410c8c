//! `GET .../Conversations` (our extension): the guest's conversations with unread counts.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::{
    dto::ConversationSummaryDto, error::ApiError, extract::GuestCall, routes::messages::page,
    state::AppState,
};

#[derive(Serialize)]
struct ConversationsContent {
    conversations: Vec<ConversationSummaryDto>,
}

#[utoipa::path(
    get,
    path = "/API/V40/Interactive/Messages/Conversations",
    operation_id = "guestListConversations",
    tag = "guest-extensions",
    params(
        ("PageNumber" = Option<i64>, Query, description = "Page, from 1"),
        ("PageLength" = Option<i64>, Query, description = "Items per page, 1 to the configured maximum"),
        ("SessionToken" = String, Query, description = "The session token"),
    ),
    responses(
        (status = 200, description = "getConversationsResponse", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "Not a guest session", body = crate::openapi::Envelope),
    ),
)]
pub async fn list(state: web::Data<AppState>, call: GuestCall) -> Result<HttpResponse, ApiError> {
    bellhop_application::conversations::guest_viewer(&call.session)?;
    let page = page(&call.fields, state.limits.max_page_length)?;
    let conversations = state.conversations.list(&call.session, page).await?;
    Ok(call.data(
        "getConversationsResponse",
        ConversationsContent {
            conversations: conversations.into_iter().map(Into::into).collect(),
        },
    ))
}
