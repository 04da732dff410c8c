//! Staff conversation routes: list, get, start, reply, read, close, reopen.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use bellhop_application::staff::StartStaffConversation;
use bellhop_domain::{
    conversation::ConversationStatus,
    conversation::{Conversation, Message},
    staff::StaffConversationFilter,
    DomainError,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{json, staff_error};
use crate::{
    dto::{MessageDto, StaffConversationDto, StaffConversationItemDto},
    error::ApiError,
    extract::{created_content, StaffCall},
    state::AppState,
};

/// A page of the staff conversation list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffConversationPage)]
struct ListBody {
    /// Most recent activity first.
    conversations: Vec<StaffConversationItemDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// `{conversation}`: one conversation with all its messages.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffConversationBody)]
struct ConversationBody {
    conversation: StaffConversationDto,
}

/// `{message}`: the message just added.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffMessageBody)]
struct MessageBody {
    message: MessageDto,
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
    })
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
        ("cursor" = Option<String>, Query,),
        ("limit" = Option<i64>, Query, description = "1 to 200, default 50"),
    ),
    responses(
        (status = 200, description = "{conversations, nextCursor}", body = ListBody),
        (status = 400, description = "Invalid request", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn list(state: web::Data<AppState>, call: StaffCall) -> Result<HttpResponse, ApiError> {
    let filter = filter(&call).map_err(staff_error)?;
    let cursor = call.fields.text("cursor").map_err(staff_error)?;
    let limit = call
        .fields
        .integer("limit", DomainError::InvalidPaging)
        .map_err(staff_error)?;
    let page = state
        .staff
        .list(&call.key, filter, cursor.as_deref(), limit)
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::OK,
        &ListBody {
            conversations: page.conversations.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        },
    )
}

#[utoipa::path(
    get,
    path = "/staff/v1/conversations/{code}",
    operation_id = "staffGetConversation",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    responses(
        (status = 200, description = "{conversation}", body = ConversationBody),
        (status = 400, description = "Invalid request", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn get(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let conversation = state
        .staff
        .get(&call.key, &code)
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations",
    operation_id = "staffStartConversation",
    tag = "staff",
    security(("staff_key" = [])),
    request_body = crate::openapi::StaffStartRequest,
    responses(
        (status = 201, description = "{conversation}", body = ConversationBody),
        (status = 400, description = "Invalid request", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 404, description = "GuestNotFound or OutletNotFound", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let f = &call.fields;
    let request = StartStaffConversation {
        room_number: f.text("roomNumber").map_err(staff_error)?,
        outlet_code: f.text("outletCode").map_err(staff_error)?,
        content: f.text("content").map_err(staff_error)?,
    };
    let idempotency = call.idempotency(&req)?;
    let created = state
        .staff
        .start(&call.key, request, idempotency)
        .await
        .map_err(staff_error)?;
    let (body, new) = created_content(created, conversation_body)
        .await
        .map_err(staff_error)?;
    if new {
        state.metrics.conversation_created("staff");
    }
    json(StatusCode::CREATED, &body)
}

fn conversation_body(conversation: &Conversation) -> ConversationBody {
    ConversationBody {
        conversation: conversation.clone().into(),
    }
}

fn message_body(message: &Message) -> MessageBody {
    MessageBody {
        message: message.clone().into(),
    }
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations/{code}/messages",
    operation_id = "staffAddMessage",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    request_body = crate::openapi::StaffReplyRequest,
    responses(
        (status = 201, description = "{message}", body = MessageBody),
        (status = 400, description = "Invalid request", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
        (status = 409, description = "ConversationClosed", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn reply(
    state: web::Data<AppState>,
    code: web::Path<String>,
    req: HttpRequest,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let content = call.fields.text("content").map_err(staff_error)?;
    let idempotency = call.idempotency(&req)?;
    let created = state
        .staff
        .reply(&call.key, &code, content.as_deref(), idempotency)
        .await
        .map_err(staff_error)?;
    let (body, new) = created_content(created, message_body)
        .await
        .map_err(staff_error)?;
    if new {
        state.metrics.message_created("staff");
    }
    json(StatusCode::CREATED, &body)
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations/{code}/read",
    operation_id = "staffMarkRead",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    request_body(content = Option<crate::openapi::StaffReadRequest>),
    responses(
        (status = 200, description = "{conversation}", body = ConversationBody),
        (status = 400, description = "Invalid request", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 404, description = "ConversationNotFound or MessageNotFound", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn read(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let message_code = call.fields.text("messageCode").map_err(staff_error)?;
    let (conversation, _events) = state
        .staff
        .mark_read(&call.key, &code, message_code)
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations/{code}/close",
    operation_id = "staffCloseConversation",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    responses(
        (status = 200, description = "{conversation}", body = ConversationBody),
        (status = 400, description = "Invalid request", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn close(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &code, &call, ConversationStatus::Closed).await
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations/{code}/reopen",
    operation_id = "staffReopenConversation",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    responses(
        (status = 200, description = "{conversation}", body = ConversationBody),
        (status = 400, description = "Invalid request", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn reopen(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &code, &call, ConversationStatus::Open).await
}

/// Closes or reopens, answering with the conversation.
async fn set_status(
    state: &AppState,
    code: &str,
    call: &StaffCall,
    status: ConversationStatus,
) -> Result<HttpResponse, ApiError> {
    let (conversation, _events) = state
        .staff
        .set_status(&call.key, code, status)
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}
