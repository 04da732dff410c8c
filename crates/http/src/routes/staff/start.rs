//! `POST /staff/v1/conversations`: staff start a conversation with the guest of a room.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use bellhop_application::staff::StartStaffConversation;
use bellhop_domain::conversation::Conversation;

use super::{json, ConversationBody, StaffError};
use crate::{
    extract::{created_content, StaffCall},
    state::AppState,
    wire::request::request_type,
};

request_type! {
    pub struct StaffStartRequest {
        #[schema(value_type = String)]
        room_number: Option<String> = text("roomNumber"),
        #[schema(value_type = String)]
        outlet_code: Option<String> = text("outletCode"),
        #[schema(value_type = String)]
        content: Option<String> = text("content"),
    }
}

impl From<StaffStartRequest> for StartStaffConversation {
    fn from(r: StaffStartRequest) -> Self {
        Self {
            room_number: r.room_number,
            outlet_code: r.outlet_code,
            content: r.content,
        }
    }
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations",
    operation_id = "staffStartConversation",
    tag = "staff",
    security(("staff_key" = [])),
    request_body = StaffStartRequest,
    responses(
        crate::openapi::StaffErrors,
        (status = 201, description = "{conversation}", body = ConversationBody),
        (status = 404, description = "GuestNotFound or OutletNotFound", body = crate::openapi::StaffError),
    ),
)]
pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let request = StaffStartRequest::decode(&call.fields)?.into();
    let idempotency = call.idempotency(&req)?;
    let created = state.staff.start(&call.key, request, idempotency).await?;
    let (body, new) = created_content(created, conversation_body).await?;
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
