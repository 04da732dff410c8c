//! Extractors: the one place where requests are read. [`GuestInput`] decodes body and query
//! into fields; [`GuestCall`] also turns the session token into a live session (or the right
//! 401); [`StaffCall`] checks the bearer key. Handlers never parse tokens or bodies themselves.

use actix_web::{
    dev::Payload,
    http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE},
    web, FromRequest, HttpMessage, HttpRequest, HttpResponse,
};
use bellhop_application::AppError;
use bellhop_domain::{
    idempotency::{Created, IdempotencyKey, IdempotencyScope, IdempotentRequest},
    ports::Written,
    session::Session,
    staff::StaffKey,
    ErrorCode,
};
use futures_util::{future::LocalBoxFuture, StreamExt};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::{
    error::{ApiError, Shape},
    state::AppState,
    wire::{
        body::{decode_body, decode_form},
        envelope,
        fields::Fields,
    },
};

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::new(ErrorCode::InternalError, "An internal error occurred."))
}

/// Reads the whole body, refusing more than `limit` bytes, or a body that has not arrived
/// within `timeout` (`RequestTimeout`, and the connection is closed): a client that sends part
/// of a body and stalls, or trickles it, must not hold a worker's memory for long.
async fn read_body(
    payload: &mut Payload,
    declared: Option<usize>,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, ApiError> {
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    actix_web::rt::time::timeout(timeout, read_body_within(payload, limit))
        .await
        .unwrap_or_else(|_| Err(ApiError::request_timeout()))
}

/// Collects the body's chunks as they arrive (each shares the connection's read buffer, so a
/// stalled body costs what it sent, not a second copy) and joins them once it is complete.
async fn read_body_within(payload: &mut Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut chunks = Vec::new();
    let mut length = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "The request body could not be read.",
            )
        })?;
        length += chunk.len();
        if length > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        chunks.push(chunk);
    }
    Ok(chunks.concat())
}

/// Decodes the body and query string of a request into fields.
async fn read_fields(
    req: HttpRequest,
    mut payload: Payload,
    shape: Shape,
) -> Result<Fields, ApiError> {
    let state = state(&req)?;
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let content_type = header(CONTENT_TYPE).map(str::to_owned);
    let declared = header(CONTENT_LENGTH).and_then(|v| v.trim().parse::<usize>().ok());
    let body = read_body(
        &mut payload,
        declared,
        state.limits.max_body_bytes,
        state.limits.request_read_timeout,
    )
    .await
    .map_err(|e| e.shaped(shape))?;
    let from_body =
        decode_body(content_type.as_deref(), &body).map_err(|e| ApiError::from(e).shaped(shape))?;
    let from_query =
        decode_form(req.query_string().as_bytes()).map_err(|e| ApiError::from(e).shaped(shape))?;
    from_body
        .merge(from_query)
        .map_err(|e| ApiError::from(e).shaped(shape))
}

/// Whether a path parameter holds a NUL. Every path parameter a session or a staff key goes
/// with is a conversation code, and no code holds a NUL (PostgreSQL cannot even compare such
/// text), so such a path names no conversation: `ConversationNotFound`, never a database error.
fn path_holds_nul(req: &HttpRequest) -> bool {
    req.match_info()
        .iter()
        .any(|(_, value)| value.contains('\0'))
}

fn unknown_conversation() -> ApiError {
    ApiError::from(bellhop_domain::DomainError::ConversationNotFound)
}

/// The decoded fields of a guest request that needs no session (session start).
pub struct GuestInput {
    pub fields: Fields,
}

impl FromRequest for GuestInput {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            Ok(Self {
                fields: read_fields(req, payload, Shape::Envelope).await?,
            })
        })
    }
}

/// The session token a guest answer carries: the presented one or a fresh one. [`GuestCall`]
/// records it in the request's extensions as soon as the session is known, and
/// [`crate::middleware::guest_token`] puts it into every guest error envelope: the one place
/// it is attached, so handlers use `?` and never think of it.
#[derive(Clone)]
pub(crate) struct ResponseToken(pub(crate) String);

fn remember_token(req: &HttpRequest, token: &str) {
    req.extensions_mut().insert(ResponseToken(token.to_owned()));
}

/// When the body cannot be read, the error still carries the session token the client must use
/// next if the query string holds a valid one (the body's is out of reach).
async fn remember_query_token(state: &AppState, req: &HttpRequest) {
    let token = decode_form(req.query_string().as_bytes())
        .ok()
        .and_then(|fields| fields.text("sessionToken").ok().flatten());
    if let Some(token) = token {
        if let Ok(auth) = state.sessions.authenticate(&token).await {
            remember_token(req, &auth.token);
        }
    }
}

/// A guest request with a live session.
pub struct GuestCall {
    pub fields: Fields,
    pub session: Session,
    /// The token the response carries: the presented one or a fresh one.
    pub token: String,
}

impl FromRequest for GuestCall {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let state = state(&req)?;
            let fields = match read_fields(req.clone(), payload, Shape::Envelope).await {
                Ok(fields) => fields,
                Err(error) => {
                    remember_query_token(&state, &req).await;
                    return Err(error);
                }
            };
            let token = fields.text("sessionToken")?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::SessionTokenRequired,
                    "A session token is required.",
                )
            })?;
            let auth = state.sessions.authenticate(&token).await?;
            remember_token(&req, &auth.token);
            if let Some(limiter) = &state.rate_limits.per_session {
                limiter
                    .check(&auth.session.id, std::time::Instant::now())
                    .map_err(ApiError::too_many_requests)?;
            }
            if path_holds_nul(&req) {
                return Err(unknown_conversation());
            }
            Ok(Self {
                fields,
                session: auth.session,
                token: auth.token,
            })
        })
    }
}

impl GuestCall {
    /// The success answer: the data message `name` with `content`, carrying the token to use
    /// next. (Errors get the token from [`crate::middleware::guest_token`].)
    pub fn data<T: Serialize>(&self, name: &str, content: T) -> HttpResponse {
        envelope::data(&self.token, name, content)
    }

    /// The success answer of a route that only acknowledges (`responseStatus`).
    pub fn acknowledged(&self) -> HttpResponse {
        envelope::acknowledged(&self.token)
    }
}

/// A staff request with a valid key.
pub struct StaffCall {
    pub key: StaffKey,
    pub fields: Fields,
}

impl FromRequest for StaffCall {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let state = state(&req)?.into_inner();
            let invalid = || {
                ApiError::new(
                    ErrorCode::StaffKeyInvalid,
                    "The staff key is missing, unknown or disabled.",
                )
                .staff()
            };
            let secret = req
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, secret)| secret.trim().to_owned())
                .ok_or_else(invalid)?;
            let key = state
                .staff
                .authenticate(&secret)
                .await
                .map_err(|e| ApiError::from(e).staff())?;
            let fields = read_fields(req.clone(), payload, Shape::Staff).await?;
            if path_holds_nul(&req) {
                return Err(unknown_conversation().staff());
            }
            Ok(Self { key, fields })
        })
    }
}

/// The `Idempotency-Key` header, if any (1 to 255 printable ASCII characters, else 400).
fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(value) => Ok(Some(IdempotencyKey::parse(value.as_bytes())?)),
    }
}

/// What identifies a request for idempotency: its route, its path parameters and its fields.
fn request_context(req: &HttpRequest) -> String {
    let params: Vec<String> = req
        .match_info()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "{} {} {}",
        req.method(),
        req.match_pattern().unwrap_or_default(),
        params.join("&")
    )
}

fn idempotency(
    req: &HttpRequest,
    scope: IdempotencyScope,
    fields: &Fields,
) -> Result<Option<IdempotentRequest>, ApiError> {
    Ok(idempotency_key(req)?.map(|key| IdempotentRequest {
        scope,
        key,
        fingerprint: fields.fingerprint(&request_context(req), &["sessiontoken"]),
    }))
}

impl GuestCall {
    /// The idempotency of a creating request, scoped to this session (all its tokens).
    pub fn idempotency(&self, req: &HttpRequest) -> Result<Option<IdempotentRequest>, ApiError> {
        idempotency(
            req,
            IdempotencyScope::Session(self.session.id),
            &self.fields,
        )
    }
}

impl StaffCall {
    /// The idempotency of a creating request, scoped to this staff key.
    pub fn idempotency(&self, req: &HttpRequest) -> Result<Option<IdempotentRequest>, ApiError> {
        idempotency(req, IdempotencyScope::StaffKey(self.key.id), &self.fields)
            .map_err(ApiError::staff)
    }
}

/// The response content of a creation, and whether it is new. A new record's content is
/// rendered once — serialised directly, so its fields keep their wire order (a
/// `serde_json::Value` would sort the keys, and the guest API promises the seed sample's
/// order) — then stored under the idempotency key as the write completes, and sent as those
/// very bytes; a replay sends the stored bytes. So a replay is byte for byte what was first
/// sent.
pub async fn created_content<T, C: Serialize>(
    created: Created<Written<T>>,
    content: fn(&T) -> C,
) -> Result<(Box<RawValue>, bool), ApiError> {
    match created {
        Created::New(written) => {
            let rendered = serde_json::to_string(&content(&written.record))
                .map_err(|e| ApiError::from(AppError::internal(e.to_string())))?;
            written
                .completion
                .complete(rendered.clone())
                .await
                .map_err(AppError::from)?;
            Ok((raw_json(rendered), true))
        }
        Created::Replayed(stored) => Ok((raw_json(stored), false)),
    }
}

/// JSON text written out as is; stored by this service, so always JSON (should it not be,
/// JSON null).
fn raw_json(text: String) -> Box<RawValue> {
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap_or_default())
}
