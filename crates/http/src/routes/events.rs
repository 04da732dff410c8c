//! The two event streams (API section 11): `GET API/V40/Interactive/Messages/Events` for a
//! guest, `GET /staff/v1/events` for a staff key.

use actix_web::{
    http::header::{CacheControl, CacheDirective, ContentType},
    web, HttpRequest, HttpResponse,
};
use bellhop_domain::ErrorCode;

use crate::{
    error::ApiError,
    extract::{GuestCall, StaffCall},
    sse::{self, Side, Start},
    state::AppState,
    wire::fields::Fields,
};

/// The client's cursor: the `Last-Event-ID` header wins over the `lastEventId` parameter.
fn cursor(req: &HttpRequest, fields: &Fields) -> Option<String> {
    req.headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| fields.text("lastEventId").ok().flatten())
}

/// A stream refused for now: 503 with a `Retry-After` of five seconds.
fn busy(error: ApiError) -> ApiError {
    error.retry_after(5)
}

fn too_many_streams() -> ApiError {
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        "This server holds as many event streams as it may; retry after the time in Retry-After.",
    )
}

/// The database could not say where the stream starts: 503 when it is away (logged by the
/// outage log), 500 otherwise.
fn unavailable(error: bellhop_domain::RepositoryError) -> ApiError {
    ApiError::from(bellhop_application::AppError::from(error))
}

fn event_stream(
    body: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType(mime_event_stream()))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

fn mime_event_stream() -> actix_web::mime::Mime {
    "text/event-stream"
        .parse()
        .unwrap_or(actix_web::mime::TEXT_PLAIN)
}

#[utoipa::path(
    get,
    path = "/API/V40/Interactive/Messages/Events",
    operation_id = "guestEvents",
    tag = "guest",
    params(
        ("SessionToken" = String, Query, description = "The session token"),
        ("lastEventId" = Option<String>, Query, description = "Resume after this event id (the Last-Event-ID header wins)"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events of the guest's conversations", content_type = "text/event-stream", body = String),
        (status = 401, description = "Missing, invalid or expired session token", body = crate::openapi::Envelope),
        (status = 403, description = "Not a verified guest or visitor", body = crate::openapi::Envelope),
        (status = 429, description = "Rate limit", body = crate::openapi::Envelope),
        (status = 503, description = "Too many streams, or database unavailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn guest(
    req: HttpRequest,
    state: web::Data<AppState>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let viewer = bellhop_application::conversations::guest_viewer(&call.session)?;
    let events = state.events.clone();
    let Some(slot) = events.hub.open(Some(call.session.id)) else {
        return Err(busy(too_many_streams()));
    };
    let start = match Start::resolve(
        &*events.log,
        viewer.property_id(),
        cursor(&req, &call.fields).as_deref(),
        events.hub.limits.retention,
    )
    .await
    {
        Ok(start) => start,
        Err(error) => return Err(busy(unavailable(error))),
    };
    let sessions = state.sessions.clone();
    let token = call.token;
    let recheck: sse::Recheck = Box::new(move || {
        let (sessions, token) = (sessions.clone(), token.clone());
        Box::pin(async move {
            match sessions.authenticate(&token).await {
                Ok(_) => true,
                Err(e) => !matches!(
                    e.code(),
                    ErrorCode::SessionExpired | ErrorCode::SessionTokenInvalid
                ),
            }
        })
    });
    let body = sse::stream(events, viewer, Side::Guest, start, recheck, slot);
    Ok(event_stream(body))
}

#[utoipa::path(
    get,
    path = "/staff/v1/events",
    operation_id = "staffEvents",
    tag = "staff",
    security(("staff_key" = [])),
    params(
        ("lastEventId" = Option<String>, Query, description = "Resume after this event id (the Last-Event-ID header wins)"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events of the key's property and outlets, including the staff-only `conversation.overdue` (`data`: `type`, `conversationCode`, `replyDueAt`), emitted once per waiting period within 30 s of the due time", content_type = "text/event-stream", body = String),
        (status = 401, description = "Missing or invalid staff key", body = crate::openapi::StaffError),
        (status = 503, description = "Too many streams, or database unavailable", body = crate::openapi::StaffError),
    ),
)]
pub async fn staff(
    req: HttpRequest,
    state: web::Data<AppState>,
    call: StaffCall,
) -> Result<HttpResponse, ApiError> {
    let events = state.events.clone();
    let Some(slot) = events.hub.open(None) else {
        return Err(busy(too_many_streams().staff()));
    };
    let viewer = bellhop_domain::conversation::Viewer::Staff(call.key.scope.clone());
    let start = match Start::resolve(
        &*events.log,
        viewer.property_id(),
        cursor(&req, &call.fields).as_deref(),
        events.hub.limits.retention,
    )
    .await
    {
        Ok(start) => start,
        Err(error) => return Err(busy(unavailable(error).staff())),
    };
    let secret = bearer(&req).unwrap_or_default();
    let staff = state.staff.clone();
    let recheck: sse::Recheck = Box::new(move || {
        let (staff, secret) = (staff.clone(), secret.clone());
        Box::pin(async move {
            match staff.authenticate(&secret).await {
                Ok(_) => true,
                Err(e) => e.code() != ErrorCode::StaffKeyInvalid,
            }
        })
    });
    let body = sse::stream(events, viewer, Side::Staff, start, recheck, slot);
    Ok(event_stream(body))
}

fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .map(|(_, secret)| secret.trim().to_owned())
}
