//! The route table: every route of the service, declared once. [`ROUTES`] lists them for the
//! OpenAPI completeness test; [`configure`] registers them, each resource answering 405 for
//! the methods it does not have.

pub mod conversations;
pub mod docs;
pub mod events;
pub mod health;
pub mod inbox;
pub mod messages;
pub mod metrics;
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

/// Adds one method's route to a resource; a GET route answers HEAD as well (the same
/// handler: actix sends the head of its response without the body).
macro_rules! add_route {
    ($resource:expr, get, $handler:path) => {
        $resource
            .route(web::get().to($handler))
            .route(web::head().to($handler))
    };
    ($resource:expr, $method:ident, $handler:path) => {
        $resource.route(web::$method().to($handler))
    };
}

macro_rules! route_table {
    ($( $path:literal => { $( $method:ident : $handler:path ),+ $(,)? } ),+ $(,)?) => {
        /// Every route as `(method, path template)`.
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path) ),+ ),+ ];

        /// Registers every route of [`ROUTES`].
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(
                let resource = web::resource($path);
                $( let resource = add_route!(resource, $method, $handler); )+
                cfg.service(resource.default_service(web::to(method_not_allowed)));
            )+
        }
    };
}

route_table! {
    "/health/live" => { get: health::live },
    "/health/ready" => { get: health::ready },
    "/metrics" => { get: metrics::metrics },
    "/openapi.json" => { get: docs::openapi_json },
    "/docs" => { get: docs::docs_page },
    "/docs/{file}" => { get: docs::docs_asset },
    "/inbox" => { get: inbox::page },
    "/inbox/{file}" => { get: inbox::asset_file },
    "/API/V40/System/Session/Initialise" => { post: session::initialise },
    "/API/V40/System/Session/InitialiseByRoom" => { post: session::initialise_by_room },
    "/API/V40/System/Session/InitialiseByGuestIdentifier" => { post: session::initialise_by_guest_identifier },
    "/API/V40/System/Session/LoginByRoom" => { post: session::login_by_room },
    "/API/V40/System/Settings/Outlet" => { get: outlets::settings },
    "/API/V40/Interactive/Messages" => { get: messages::list },
    "/API/V40/Interactive/Messages/Events" => { get: events::guest },
    "/API/V40/Interactive/Messages/Conversations" => {
        post: conversations::create::create,
        get: conversations::list::list,
    },
    "/API/V40/Interactive/Messages/NonVerifiedGuestConversations" => {
        post: conversations::create::create_for_visitor,
    },
    "/API/V40/Interactive/Messages/Conversations/{code}" => { get: conversations::get::get },
    "/API/V40/Interactive/Messages/Conversations/{code}/Messages" => { post: conversations::reply::reply },
    "/API/V40/Interactive/Messages/Conversations/{code}/Read" => { post: conversations::read::read },
    "/API/V40/Interactive/Messages/Conversations/{code}/Close" => { post: conversations::close::close },
    "/staff/v1/conversations" => {
        get: staff::list::list,
        post: staff::start::start,
    },
    "/staff/v1/conversations/{code}" => { get: staff::get::get },
    "/staff/v1/conversations/{code}/messages" => { post: staff::reply::reply },
    "/staff/v1/conversations/{code}/read" => { post: staff::read::read },
    "/staff/v1/conversations/{code}/close" => { post: staff::close::close },
    "/staff/v1/conversations/{code}/reopen" => { post: staff::close::reopen },
    "/staff/v1/conversations/{code}/assign" => { post: staff::assign::assign },
    "/staff/v1/conversations/{code}/notes" => { post: staff::notes::add_note },
    "/staff/v1/quick-replies" => { get: staff::quick_replies::quick_replies },
    "/staff/v1/me" => { get: staff::me::me },
    "/staff/v1/unread" => { get: staff::unread::unread },
    "/staff/v1/events" => { get: events::staff },
}
