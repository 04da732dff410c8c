//! The staff (service-centre) REST API under `/staff/v1` (section 8 of the spec).

pub mod conversations;
pub mod unread;

use actix_web::{http::StatusCode, web, HttpResponse};
use serde::Serialize;

use crate::{error::ApiError, wire::envelope::JSON_UTF8};

use super::resource;

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

pub fn configure(cfg: &mut web::ServiceConfig) {
    use conversations as c;
    cfg.service(
        resource("/staff/v1/conversations")
            .route(web::get().to(c::list))
            .route(web::post().to(c::start)),
    )
    .service(resource("/staff/v1/conversations/{code}").route(web::get().to(c::get)))
    .service(resource("/staff/v1/conversations/{code}/messages").route(web::post().to(c::reply)))
    .service(resource("/staff/v1/conversations/{code}/read").route(web::post().to(c::read)))
    .service(resource("/staff/v1/conversations/{code}/close").route(web::post().to(c::close)))
    .service(resource("/staff/v1/conversations/{code}/reopen").route(web::post().to(c::reopen)))
    .service(resource("/staff/v1/unread").route(web::get().to(unread::unread)));
}
