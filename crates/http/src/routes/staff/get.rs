//! `GET /staff/v1/conversations/{code}`: one conversation with all its messages.

use actix_web::{http::StatusCode, web, HttpResponse};

use super::{json, ConversationBody, StaffError};
use crate::{extract::StaffCall, state::AppState};

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
        crate::openapi::StaffErrors,
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
    ),
)]
pub async fn get(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let conversation = state.staff.get(&call.key, &code).await?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}
