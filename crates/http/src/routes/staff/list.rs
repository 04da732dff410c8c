//! `GET /staff/v1/conversations`: the key's conversations, filtered, a page at a time.

use actix_web::{http::StatusCode, web, HttpResponse};
use bellhop_domain::{
    conversation::ConversationStatus,
    staff::{AssigneeFilter, StaffConversationFilter},
    DomainError,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{json, StaffError};
use crate::{dto::StaffConversationItemDto, error::ApiError, extract::StaffCall, state::AppState};

/// A page of the staff conversation list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffConversationPage)]
pub(crate) struct ListBody {
    /// Most recent activity first.
    conversations: Vec<StaffConversationItemDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/staff/v1/conversations",
    operation_id = "staffListConversations",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("outletCode" = Option<String>, Query,),
        ("status" = Option<String>, Query, description = "Open or Closed"),
        ("unread" = Option<bool>, Query,),
        ("orderCode" = Option<String>, Query,),
        ("updatedSince" = Option<String>, Query, description = "RFC 3339"),
        ("assignee" = Option<String>, Query, description = "me (the calling key's member; nothing for a key without a code), none (unassigned) or a staff member code"),
        ("overdue" = Option<bool>, Query, description = "true: only conversations whose reply is overdue (section 14)"),
        ("cursor" = Option<String>, Query,),
        ("limit" = Option<i64>, Query, description = "1 to 200, default 50"),
    ),
    responses(
        (status = 200, description = "{conversations, nextCursor}", body = ListBody),
        crate::openapi::StaffErrors,
    ),
)]
pub async fn list(state: web::Data<AppState>, call: StaffCall) -> Result<HttpResponse, StaffError> {
    let filter = filter(&call)?;
    let cursor = call.fields.text("cursor")?;
    let limit = call.fields.integer("limit", DomainError::InvalidPaging)?;
    let page = state
        .staff
        .list(&call.key, filter, cursor.as_deref(), limit)
        .await?;
    json(
        StatusCode::OK,
        &ListBody {
            conversations: page.conversations.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        },
    )
}

fn filter(call: &StaffCall) -> Result<StaffConversationFilter, ApiError> {
    let f = &call.fields;
    let status = match f.text("status")? {
        Some(raw) => Some(
            ConversationStatus::parse(&raw)
                .ok_or_else(|| DomainError::invalid_request("status must be Open or Closed."))?,
        ),
        None => None,
    };
    let updated_since = match f.text("updatedSince")? {
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(&raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    DomainError::invalid_request("updatedSince must be an RFC 3339 date-time.")
                })?,
        ),
        None => None,
    };
    Ok(StaffConversationFilter {
        outlet_code: f.text("outletCode")?,
        status,
        unread_only: f.boolean("unread")?.unwrap_or(false),
        order_code: f.text("orderCode")?,
        updated_since,
        assignee: f
            .text("assignee")?
            .map(|raw| AssigneeFilter::parse(&raw, &call.key)),
        overdue_only: f.boolean("overdue")?.unwrap_or(false),
        overdue_at: None,
    })
}
