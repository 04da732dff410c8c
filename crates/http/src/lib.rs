//! Bellhop's HTTP adapter (actix-web): the guest API of `API/V40/...` with its wire
//! conventions and envelope, the staff API under `/staff/v1`, and health checks.
//!
//! Requests flow: [`middleware::request_context`] (request id, case-insensitive route) →
//! a route in [`routes`] → an extractor in [`extract`] (body, query, token or staff key) →
//! an application service → a DTO in [`dto`] written in the envelope; errors go through the
//! one mapping in [`error`].

pub mod dto;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod outage;
pub mod rate_limit;
pub mod routes;
pub mod sse;
pub mod state;
pub mod webhook;
pub mod wire;

use actix_web::{
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::{from_fn, Compress},
    web, App,
};

pub use metrics::{Metrics, PoolStats};
pub use state::{AppState, Limits, Readiness};

/// The whole application: routes, the JSON 404, gzip for clients that accept it, and the
/// request middleware.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .configure(routes::configure)
        .default_service(web::to(routes::not_found))
        .wrap(from_fn(middleware::guest_token))
        // Inside the request middleware, so that its headers and log line see the response
        // as it leaves; only the body is encoded.
        .wrap(Compress::default())
        .wrap(from_fn(middleware::request_context))
}
