//! `API/V40/System/Session/*`: starting sessions and logging in by room.

use actix_web::{web, HttpResponse};
use bellhop_application::sessions::{StartSession, StartedSession};
use serde::Serialize;

use crate::{
    error::ApiError,
    extract::{GuestCall, GuestInput},
    state::AppState,
    wire::{envelope, fields::Fields},
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitialiseSessionContent {
    brand_code: String,
    group_code: String,
}

fn start_fields(fields: &Fields) -> Result<StartSession, ApiError> {
    // `version` is accepted for compatibility and not used.
    fields.text("version")?;
    Ok(StartSession {
        property_code: fields.required_text("propertyCode")?,
        interface_token: fields.required_text("interfaceToken")?,
        language_code: fields.text("languageCode")?,
    })
}

fn started(started: StartedSession) -> HttpResponse {
    let content = InitialiseSessionContent {
        brand_code: started.property.brand_code,
        group_code: started.property.group_code,
    };
    envelope::data(&started.token, "initialiseSessionResponse", content)
}

#[utoipa::path(
    post,
    path = "/API/V40/System/Session/Initialise",
    operation_id = "initialiseSession",
    tag = "session",
    request_body(content(
        (crate::openapi::InitialiseRequest = "application/json"),
        (crate::openapi::InitialiseRequest = "text/json"),
        (crate::openapi::InitialiseRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "initialiseSessionResponse with brandCode and groupCode; the new token", body = crate::openapi::Envelope),
        (status = 400, description = "Malformed body or invalid field values", body = crate::openapi::Envelope),
        (status = 401, description = "Missing, invalid or expired session token or credentials", body = crate::openapi::Envelope),
        (status = 413, description = "Body over the limit", body = crate::openapi::Envelope),
        (status = 415, description = "Unsupported content type", body = crate::openapi::Envelope),
        (status = 503, description = "Database unavailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn initialise(
    state: web::Data<AppState>,
    input: GuestInput,
) -> Result<HttpResponse, ApiError> {
    let start = start_fields(&input.fields)?;
    Ok(started(state.sessions.initialise(start).await?))
}

#[utoipa::path(
    post,
    path = "/API/V40/System/Session/InitialiseByRoom",
    operation_id = "initialiseSessionByRoom",
    tag = "session",
    request_body(content(
        (crate::openapi::InitialiseByRoomRequest = "application/json"),
        (crate::openapi::InitialiseByRoomRequest = "text/json"),
        (crate::openapi::InitialiseByRoomRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "initialiseSessionResponse; a verified session", body = crate::openapi::Envelope),
        (status = 400, description = "Malformed body or invalid field values", body = crate::openapi::Envelope),
        (status = 401, description = "Missing, invalid or expired session token or credentials", body = crate::openapi::Envelope),
        (status = 413, description = "Body over the limit", body = crate::openapi::Envelope),
        (status = 415, description = "Unsupported content type", body = crate::openapi::Envelope),
        (status = 503, description = "Database unavailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn initialise_by_room(
    state: web::Data<AppState>,
    input: GuestInput,
) -> Result<HttpResponse, ApiError> {
    let start = start_fields(&input.fields)?;
    let last_name = input.fields.required_text("lastName")?;
    let room_number = input.fields.required_text("roomNumber")?;
    Ok(started(
        state
            .sessions
            .initialise_by_room(start, &last_name, &room_number)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/API/V40/System/Session/InitialiseByGuestIdentifier",
    operation_id = "initialiseSessionByGuestIdentifier",
    tag = "session",
    request_body(content(
        (crate::openapi::InitialiseByGuestIdentifierRequest = "application/json"),
        (crate::openapi::InitialiseByGuestIdentifierRequest = "text/json"),
        (crate::openapi::InitialiseByGuestIdentifierRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "initialiseSessionResponse; a visitor session", body = crate::openapi::Envelope),
        (status = 400, description = "Malformed body or invalid field values", body = crate::openapi::Envelope),
        (status = 401, description = "Missing, invalid or expired session token or credentials", body = crate::openapi::Envelope),
        (status = 413, description = "Body over the limit", body = crate::openapi::Envelope),
        (status = 415, description = "Unsupported content type", body = crate::openapi::Envelope),
        (status = 503, description = "Database unavailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn initialise_by_guest_identifier(
    state: web::Data<AppState>,
    input: GuestInput,
) -> Result<HttpResponse, ApiError> {
    let start = start_fields(&input.fields)?;
    let identifier = input.fields.required_text("guestUniqueIdentifier")?;
    Ok(started(
        state
            .sessions
            .initialise_by_guest_identifier(start, &identifier)
            .await?,
    ))
}

/// Ends the presented session and answers `responseStatus` with the new session's token.
#[utoipa::path(
    post,
    path = "/API/V40/System/Session/LoginByRoom",
    operation_id = "loginByRoom",
    tag = "session",
    request_body(content(
        (crate::openapi::LoginByRoomRequest = "application/json"),
        (crate::openapi::LoginByRoomRequest = "text/json"),
        (crate::openapi::LoginByRoomRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "responseStatus with the new session token", body = crate::openapi::Envelope),
        (status = 400, description = "Malformed body or invalid field values", body = crate::openapi::Envelope),
        (status = 401, description = "Missing, invalid or expired session token or credentials", body = crate::openapi::Envelope),
        (status = 413, description = "Body over the limit", body = crate::openapi::Envelope),
        (status = 415, description = "Unsupported content type", body = crate::openapi::Envelope),
        (status = 503, description = "Database unavailable", body = crate::openapi::Envelope),
    ),
)]
pub async fn login_by_room(
    state: web::Data<AppState>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let last_name = call.fields.required_text("lastName")?;
        let room_number = call.fields.required_text("roomNumber")?;
        Ok(state
            .sessions
            .login_by_room(&call.session, &last_name, &room_number)
            .await?)
    }
    .await;
    match result {
        Ok(started) => Ok(envelope::acknowledged(&started.token)),
        Err(error) => call.acknowledge(Err(error)),
    }
}
