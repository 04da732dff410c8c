//! `POST /staff/v1/conversations/{code}/messages`: a staff reply.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use bellhop_domain::conversation::Message;

use super::{json, MessageBody, StaffError};
use crate::{
    extract::{created_content, StaffCall},
    state::AppState,
    wire::request::request_type,
};

request_type! {
    pub struct StaffReplyRequest {
        #[schema(value_type = String)]
        content: Option<String> = text("content"),
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
    request_body = StaffReplyRequest,
    responses(
        crate::openapi::StaffErrors,
        (status = 201, description = "{message}", body = MessageBody),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
        (status = 409, description = "ConversationClosed", body = crate::openapi::StaffError),
    ),
)]
pub async fn reply(
    state: web::Data<AppState>,
    code: web::Path<String>,
    req: HttpRequest,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let content = StaffReplyRequest::decode(&call.fields)?.content;
    let idempotency = call.idempotency(&req)?;
    let created = state
        .staff
        .reply(&call.key, &code, content.as_deref(), idempotency)
        .await?;
    let (body, new) = created_content(created, message_body).await?;
    if new {
        state.metrics.message_created("staff");
    }
    json(StatusCode::CREATED, &body)
}

fn message_body(message: &Message) -> MessageBody {
    MessageBody {
        message: message.clone().into(),
    }
}
