//! Staff conversation routes: list, get, start, reply, read, close, reopen.

use actix_web::{http::StatusCode, web, HttpResponse};
use bellhop_application::staff::StartStaffConversation;
use bellhop_domain::{
    conversation::ConversationStatus, staff::StaffConversationFilter, DomainError,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{json, staff_error};
use crate::{
    dto::{MessageDto, StaffConversationDto, StaffConversationItemDto},
    error::ApiError,
    extract::StaffCall,
    state::AppState,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody {
    conversations: Vec<StaffConversationItemDto>,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct ConversationBody {
    conversation: StaffConversationDto,
}

#[derive(Serialize)]
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

pub async fn start(state: web::Data<AppState>, call: StaffCall) -> Result<HttpResponse, ApiError> {
    let f = &call.fields;
    let request = StartStaffConversation {
        room_number: f.text("roomNumber").map_err(staff_error)?,
        outlet_code: f.text("outletCode").map_err(staff_error)?,
        content: f.text("content").map_err(staff_error)?,
    };
    let conversation = state
        .staff
        .start(&call.key, request)
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::CREATED,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}

pub async fn reply(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let content = call.fields.text("content").map_err(staff_error)?;
    let message = state
        .staff
        .reply(&call.key, &code, content.as_deref())
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::CREATED,
        &MessageBody {
            message: message.into(),
        },
    )
}

pub async fn read(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let message_code = call.fields.text("messageCode").map_err(staff_error)?;
    let conversation = state
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

pub async fn close(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let conversation = state
        .staff
        .set_status(&call.key, &code, ConversationStatus::Closed)
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}

pub async fn reopen(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let conversation = state
        .staff
        .set_status(&call.key, &code, ConversationStatus::Open)
        .await
        .map_err(staff_error)?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}
