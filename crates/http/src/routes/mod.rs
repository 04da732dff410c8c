//! Route table: every guest route (in canonical spelling), the staff API and health checks.

pub mod conversations;
pub mod health;
pub mod messages;
pub mod outlets;
pub mod session;
pub mod staff;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::{ApiError, Shape};

fn shape_for(req: &HttpRequest) -> Shape {
    if req.path().starts_with("/staff/") {
        Shape::Staff
    } else {
        Shape::Envelope
    }
}

/// 404 for a path no route has, in the shape of the API the path belongs to.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::not_found()
        .shaped(shape_for(&req))
        .error_response()
}

/// 405 for a route that exists with another method.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ApiError::method_not_allowed()
        .shaped(shape_for(&req))
        .error_response()
}

/// A resource whose other methods answer 405.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health/live").route(web::get().to(health::live)))
        .service(resource("/health/ready").route(web::get().to(health::ready)))
        .service(
            resource("/API/V40/System/Session/Initialise")
                .route(web::post().to(session::initialise)),
        )
        .service(
            resource("/API/V40/System/Session/InitialiseByRoom")
                .route(web::post().to(session::initialise_by_room)),
        )
        .service(
            resource("/API/V40/System/Session/InitialiseByGuestIdentifier")
                .route(web::post().to(session::initialise_by_guest_identifier)),
        )
        .service(
            resource("/API/V40/System/Session/LoginByRoom")
                .route(web::post().to(session::login_by_room)),
        )
        .service(
            resource("/API/V40/System/Settings/Outlet").route(web::get().to(outlets::settings)),
        )
        .service(resource("/API/V40/Interactive/Messages").route(web::get().to(messages::list)))
        .service(
            resource("/API/V40/Interactive/Messages/Conversations")
                .route(web::post().to(conversations::create::create))
                .route(web::get().to(conversations::list::list)),
        )
        .service(
            resource("/API/V40/Interactive/Messages/NonVerifiedGuestConversations")
                .route(web::post().to(conversations::create::create_for_visitor)),
        )
        .service(
            resource("/API/V40/Interactive/Messages/Conversations/{code}")
                .route(web::get().to(conversations::get::get)),
        )
        .service(
            resource("/API/V40/Interactive/Messages/Conversations/{code}/Messages")
                .route(web::post().to(conversations::reply::reply)),
        )
        .service(
            resource("/API/V40/Interactive/Messages/Conversations/{code}/Read")
                .route(web::post().to(conversations::read::read)),
        )
        .service(
            resource("/API/V40/Interactive/Messages/Conversations/{code}/Close")
                .route(web::post().to(conversations::close::close)),
        )
        .configure(staff::configure);
}
