//! The staff (service-centre) REST API under `/staff/v1` (section 8 of the spec), one file
//! per use case. Every error of a staff handler converts into [`StaffError`] with `?`.

pub mod assign;
pub mod close;
pub mod get;
pub mod list;
pub mod me;
pub mod notes;
pub mod quick_replies;
pub mod read;
pub mod reply;
pub mod start;
pub mod unread;

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use bellhop_application::AppError;
use bellhop_domain::DomainError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    dto::{StaffConversationDto, StaffMessageDto},
    error::ApiError,
    wire::envelope::JSON_UTF8,
};

/// `{conversation}`: one conversation with all its messages.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffConversationBody)]
pub(crate) struct ConversationBody {
    pub(crate) conversation: StaffConversationDto,
}

/// `{message}`: the message just added.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffMessageBody)]
pub(crate) struct MessageBody {
    pub(crate) message: StaffMessageDto,
}

/// Any error of a staff handler, answered in the staff shape. Every error a handler meets
/// converts into it, so handlers use `?`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StaffError(ApiError);

impl From<ApiError> for StaffError {
    fn from(error: ApiError) -> Self {
        Self(error.staff())
    }
}

impl From<AppError> for StaffError {
    fn from(error: AppError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<DomainError> for StaffError {
    fn from(error: DomainError) -> Self {
        ApiError::from(error).into()
    }
}

impl ResponseError for StaffError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.error_response()
    }
}

/// A plain JSON staff response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<HttpResponse, StaffError> {
    let bytes = serde_json::to_vec(body).map_err(|_| {
        ApiError::new(
            bellhop_domain::ErrorCode::InternalError,
            "An internal error occurred.",
        )
    })?;
    Ok(HttpResponse::build(status)
        .content_type(JSON_UTF8)
        .body(bytes))
}
