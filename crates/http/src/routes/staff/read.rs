//! `POST /staff/v1/conversations/{code}/read`: the key's read position moves forward.

use actix_web::{http::StatusCode, web, HttpResponse};

use super::{json, ConversationBody, StaffError};
use crate::{extract::StaffCall, state::AppState, wire::request::request_type};

request_type! {
    pub struct StaffReadRequest {
        message_code: Option<String> = text("messageCode"),
    }
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
    request_body(content = Option<StaffReadRequest>),
    responses(
        (status = 200, description = "{conversation}", body = ConversationBody),
        crate::openapi::StaffErrors,
        (status = 404, description = "ConversationNotFound or MessageNotFound", body = crate::openapi::StaffError),
    ),
)]
pub async fn read(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let message_code = StaffReadRequest::decode(&call.fields)?.message_code;
    let (conversation, _events) = state
        .staff
        .mark_read(&call.key, &code, message_code)
        .await?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}
