//! Request context: case-insensitive guest routes, a request id on every log line and in
//! `X-Request-Id`, one log line per request (route template, never the raw path or query,
//! which can hold codes and tokens), and security headers on every response.

use std::time::Instant;

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        header::{HeaderName, HeaderValue, CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS},
        Uri,
    },
    middleware::Next,
    web, Error, HttpMessage, HttpResponse, ResponseError,
};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    error::{ApiError, Shape},
    extract::ResponseToken,
    state::AppState,
    wire::paths::canonical_path,
};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An incoming request id is kept when it is short and plain; otherwise a new one is made.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned)
}

/// Rewrites a guest path spelled in another letter case to the canonical route.
fn canonicalise(req: &mut ServiceRequest) {
    let Some(path) = canonical_path(req.path()) else {
        return;
    };
    let rewritten = match req.query_string() {
        "" => path,
        query => format!("{path}?{query}"),
    };
    if let Ok(uri) = rewritten.parse::<Uri>() {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

pub async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    canonicalise(&mut req);
    let id = request_id(&req);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %req.method());
    let started = Instant::now();
    let limited = match (&state, req.peer_addr()) {
        (Some(state), Some(peer)) => match &state.rate_limits.per_address {
            Some(limiter) => limiter.check(&peer.ip(), started).err(),
            None => None,
        },
        _ => None,
    };
    let mut response = match limited {
        Some(wait) => {
            let shape = if req.path().starts_with("/staff/") {
                Shape::Staff
            } else {
                Shape::Envelope
            };
            let error = ApiError::too_many_requests(wait).shaped(shape);
            req.into_response(error.error_response())
                .map_into_right_body()
        }
        None => next
            .call(req)
            .instrument(span.clone())
            .await?
            .map_into_left_body(),
    };
    // Unknown paths share one label: raw paths would let anyone grow the label set.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(state) = &state {
        state
            .metrics
            .observe_request(&method, &route, status, elapsed);
    }
    let elapsed_ms = elapsed * 1000.0;
    span.in_scope(|| tracing::info!(route = %route, status, elapsed_ms, "request finished"));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Answers are private by default; a route that may be cached (the inbox's
    // content-addressed assets) says so itself.
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Puts the guest's session token into a guest error envelope: the one place it is attached.
/// [`GuestCall`](crate::extract::GuestCall) records the token once it knows the session; an
/// error after that (of the extractor, or a handler's `?`) leaves with it, so a client always
/// learns which token to use next, as the original service did.
pub async fn guest_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let response = next.call(req).await?;
    let error = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .filter(|e| e.shape == Shape::Envelope && e.token.is_none())
        .cloned();
    let token = response
        .request()
        .extensions()
        .get::<ResponseToken>()
        .cloned();
    Ok(match (error, token) {
        (Some(error), Some(ResponseToken(token))) => response
            .into_response(HttpResponse::from_error(error.with_token(token)))
            .map_into_right_body(),
        _ => response.map_into_left_body(),
    })
}
