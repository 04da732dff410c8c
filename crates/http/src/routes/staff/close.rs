//! `POST /staff/v1/conversations/{code}/close` and `.../reopen`: the status changes.

use actix_web::{http::StatusCode, web, HttpResponse};
use bellhop_domain::conversation::ConversationStatus;

use super::{json, ConversationBody, StaffError};
use crate::{extract::StaffCall, state::AppState};

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
        crate::openapi::StaffErrors,
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
    ),
)]
pub async fn close(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
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
        crate::openapi::StaffErrors,
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
    ),
)]
pub async fn reopen(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    set_status(&state, &code, &call, ConversationStatus::Open).await
}

/// Closes or reopens, answering with the conversation.
async fn set_status(
    state: &AppState,
    code: &str,
    call: &StaffCall,
    status: ConversationStatus,
) -> Result<HttpResponse, StaffError> {
    let (conversation, _events) = state.staff.set_status(&call.key, code, status).await?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}
