//! `GET API/V40/Interactive/Messages`: every message of the guest's conversations.

use actix_web::{web, HttpResponse};
use bellhop_domain::{paging::Page, DomainError};
use serde::Serialize;

use crate::{
    dto::MessageDto, error::ApiError, extract::GuestCall, state::AppState, wire::fields::Fields,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessagesContent {
    messages: Vec<MessageDto>,
}

/// `PageNumber` and `PageLength` of a guest request.
pub fn page(fields: &Fields, max: u32) -> Result<Page, ApiError> {
    let number = fields.integer("pageNumber", DomainError::InvalidPaging)?;
    let length = fields.integer("pageLength", DomainError::InvalidPaging)?;
    Ok(Page::parse(number, length, max)?)
}

#[utoipa::path(
    get,
    path = "/API/V40/Interactive/Messages",
    operation_id = "guestListMessages",
    tag = "guest",
    params(
        ("PageNumber" = Option<i64>, Query, description = "Page, from 1"),
        ("PageLength" = Option<i64>, Query, description = "Items per page, 1 to the configured maximum"),
        ("DescendingOrder" = Option<bool>, Query, description = "Newest first"),
        ("SessionToken" = String, Query, description = "The session token"),
    ),
    responses(
        (status = 200, description = "getMessagesResponse", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 403, description = "Not a guest session", body = crate::openapi::Envelope),
    ),
)]
pub async fn list(state: web::Data<AppState>, call: GuestCall) -> Result<HttpResponse, ApiError> {
    bellhop_application::conversations::guest_viewer(&call.session)?;
    let page = page(&call.fields, state.limits.max_page_length)?;
    let descending = call.fields.boolean("descendingOrder")?.unwrap_or(false);
    let messages = state
        .conversations
        .messages(&call.session, page, descending)
        .await?;
    Ok(call.data(
        "getMessagesResponse",
        MessagesContent {
            messages: messages.into_iter().map(MessageDto::from).collect(),
        },
    ))
}
