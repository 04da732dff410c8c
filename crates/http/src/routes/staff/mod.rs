//! The staff (service-centre) REST API under `/staff/v1` (section 8 of the spec).

pub mod conversations;
pub mod unread;

use actix_web::{http::StatusCode, HttpResponse};
use serde::Serialize;

use crate::{error::ApiError, wire::envelope::JSON_UTF8};

/// A plain JSON staff response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|_| {
        ApiError::new(
            bellhop_domain::ErrorCode::InternalError,
            "An internal error occurred.",
        )
        .staff()
    })?;
    Ok(HttpResponse::build(status)
        .content_type(JSON_UTF8)
        .body(bytes))
}

/// Any error of a staff handler, in the staff shape.
pub fn staff_error(error: impl Into<ApiError>) -> ApiError {
    error.into().staff()
}
