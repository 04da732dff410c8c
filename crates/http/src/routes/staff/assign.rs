//! `POST /staff/v1/conversations/{code}/assign`: a staff member owns the conversation, or
//! nobody does.

use actix_web::{http::StatusCode, web, HttpResponse};

use super::{json, ConversationBody, StaffError};
use crate::{extract::StaffCall, state::AppState, wire::request::request_type};

request_type! {
    pub struct StaffAssignRequest {
        /// The staff member's code; null (or absent) unassigns.
        #[schema(nullable)]
        assignee_code: Option<String> = text("assigneeCode"),
    }
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations/{code}/assign",
    operation_id = "staffAssignConversation",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("code" = String, Path, description = "The conversation code"),
    ),
    request_body = StaffAssignRequest,
    responses(
        (status = 200, description = "{conversation} with its assignee", body = ConversationBody),
        crate::openapi::StaffErrors,
        (status = 404, description = "ConversationNotFound or StaffMemberNotFound", body = crate::openapi::StaffError),
        (status = 409, description = "AssigneeNotAllowed: the member's key does not cover the conversation's outlet", body = crate::openapi::StaffError),
    ),
)]
pub async fn assign(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let assignee = StaffAssignRequest::decode(&call.fields)?.assignee_code;
    let (conversation, _events) = state
        .staff
        .assign(&call.key, &code, assignee.as_deref())
        .await?;
    json(
        StatusCode::OK,
        &ConversationBody {
            conversation: conversation.into(),
        },
    )
}
