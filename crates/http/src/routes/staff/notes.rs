//! `POST /staff/v1/conversations/{code}/notes`: an internal note, staff only.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use bellhop_domain::note::Note;
use serde::Serialize;
use utoipa::ToSchema;

use super::{json, StaffError};
use crate::{
    dto::NoteDto,
    extract::{created_content, StaffCall},
    state::AppState,
    wire::request::request_type,
};

request_type! {
    pub struct StaffNoteRequest {
        /// 1 to 4000 characters after trimming, like a message.
        #[schema(value_type = String)]
        content: Option<String> = text("content"),
    }
}

/// `{note}`: the note just added.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffNoteBody)]
pub(crate) struct NoteBody {
    note: NoteDto,
}

#[utoipa::path(
    post,
    path = "/staff/v1/conversations/{code}/notes",
    operation_id = "staffAddNote",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("code" = String, Path, description = "The conversation code"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 printable ASCII characters: a retry with the same key and body gets the same answer and adds nothing"),
    ),
    request_body = StaffNoteRequest,
    responses(
        (status = 201, description = "{note}; allowed on closed conversations too", body = NoteBody),
        (status = 400, description = "Invalid request, MessageRequired or MessageTooLong", body = crate::openapi::StaffError),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 404, description = "ConversationNotFound", body = crate::openapi::StaffError),
        (status = 422, description = "IdempotencyKeyReused", body = crate::openapi::StaffError),
        (status = 503, description = "Database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn add_note(
    state: web::Data<AppState>,
    code: web::Path<String>,
    req: HttpRequest,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let content = StaffNoteRequest::decode(&call.fields)?.content;
    let idempotency = call.idempotency(&req)?;
    let created = state
        .staff
        .add_note(&call.key, &code, content.as_deref(), idempotency)
        .await?;
    let (body, _new) = created_content(created, note_body).await?;
    json(StatusCode::CREATED, &body)
}

fn note_body(note: &Note) -> NoteBody {
    NoteBody {
        note: note.clone().into(),
    }
}
