//! `GET /staff/v1/quick-replies`: the key's quick replies, as written or rendered for one
//! conversation.

use actix_web::{http::StatusCode, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{json, StaffError};
use crate::{extract::StaffCall, state::AppState};

/// One quick reply.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = QuickReply)]
struct QuickReplyDto {
    code: String,
    title: String,
    /// As written (placeholders included), or rendered for the conversation asked for.
    content: String,
}

/// `{quickReplies}`, ordered by title.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffQuickReplies)]
pub(crate) struct QuickRepliesBody {
    quick_replies: Vec<QuickReplyDto>,
}

#[utoipa::path(
    get,
    path = "/staff/v1/quick-replies",
    operation_id = "staffQuickReplies",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("conversationCode" = Option<String>, Query, description = "Only the replies of this conversation's outlet, with {{guest.firstName}}, {{guest.lastName}}, {{room}}, {{outlet.name}}, {{serviceCenter}} and {{staff.name}} filled in (empty text where there is no value)"),
    ),
    responses(
        (status = 200, description = "{quickReplies}", body = QuickRepliesBody),
        crate::openapi::StaffErrors,
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
    ),
)]
pub async fn quick_replies(
    state: web::Data<AppState>,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let conversation = call.fields.text("conversationCode")?;
    let replies = state
        .staff
        .quick_replies(&call.key, conversation.as_deref())
        .await?;
    json(
        StatusCode::OK,
        &QuickRepliesBody {
            quick_replies: replies
                .into_iter()
                .map(|r| QuickReplyDto {
                    code: r.code,
                    title: r.title,
                    content: r.content,
                })
                .collect(),
        },
    )
}
