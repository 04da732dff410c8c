//! `API/V40/System/Session/*`: starting sessions and logging in by room.

use actix_web::{web, HttpResponse};
use bellhop_application::sessions::{StartSession, StartedSession};
use serde::Serialize;

use crate::{
    error::ApiError,
    extract::{GuestCall, GuestInput},
    state::AppState,
    wire::{envelope, request::request_type},
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitialiseSessionContent {
    brand_code: String,
    group_code: String,
}

request_type! {
    pub struct InitialiseRequest {
        // Accepted for compatibility and not used.
        version: Option<String> = text("version"),
        property_code: String = required_text("propertyCode"),
        interface_token: String = required_text("interfaceToken"),
        language_code: Option<String> = text("languageCode"),
    }
}

impl From<InitialiseRequest> for StartSession {
    fn from(r: InitialiseRequest) -> Self {
        Self {
            property_code: r.property_code,
            interface_token: r.interface_token,
            language_code: r.language_code,
        }
    }
}

request_type! {
    pub struct InitialiseByRoomRequest {
        version: Option<String> = text("version"),
        property_code: String = required_text("propertyCode"),
        interface_token: String = required_text("interfaceToken"),
        language_code: Option<String> = text("languageCode"),
        last_name: String = required_text("lastName"),
        room_number: String = required_text("roomNumber"),
    }
}

request_type! {
    pub struct InitialiseByGuestIdentifierRequest {
        version: Option<String> = text("version"),
        property_code: String = required_text("propertyCode"),
        interface_token: String = required_text("interfaceToken"),
        language_code: Option<String> = text("languageCode"),
        /// The app's own identifier of the visitor, 1 to 200 characters.
        guest_unique_identifier: String = required_text("guestUniqueIdentifier"),
    }
}

request_type! {
    pub struct LoginByRoomRequest {
        last_name: String = required_text("lastName"),
        room_number: String = required_text("roomNumber"),
        #[schema(value_type = String)]
        session_token: Option<String> = text("sessionToken"),
    }
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
        (InitialiseRequest = "application/json"),
        (InitialiseRequest = "text/json"),
        (InitialiseRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "initialiseSessionResponse with brandCode and groupCode; the new token", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
    ),
)]
pub async fn initialise(
    state: web::Data<AppState>,
    input: GuestInput,
) -> Result<HttpResponse, ApiError> {
    let start = InitialiseRequest::decode(&input.fields)?.into();
    Ok(started(state.sessions.initialise(start).await?))
}

#[utoipa::path(
    post,
    path = "/API/V40/System/Session/InitialiseByRoom",
    operation_id = "initialiseSessionByRoom",
    tag = "session",
    request_body(content(
        (InitialiseByRoomRequest = "application/json"),
        (InitialiseByRoomRequest = "text/json"),
        (InitialiseByRoomRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "initialiseSessionResponse; a verified session", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
    ),
)]
pub async fn initialise_by_room(
    state: web::Data<AppState>,
    input: GuestInput,
) -> Result<HttpResponse, ApiError> {
    let r = InitialiseByRoomRequest::decode(&input.fields)?;
    let start = StartSession {
        property_code: r.property_code,
        interface_token: r.interface_token,
        language_code: r.language_code,
    };
    Ok(started(
        state
            .sessions
            .initialise_by_room(start, &r.last_name, &r.room_number)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/API/V40/System/Session/InitialiseByGuestIdentifier",
    operation_id = "initialiseSessionByGuestIdentifier",
    tag = "session",
    request_body(content(
        (InitialiseByGuestIdentifierRequest = "application/json"),
        (InitialiseByGuestIdentifierRequest = "text/json"),
        (InitialiseByGuestIdentifierRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "initialiseSessionResponse; a visitor session", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
    ),
)]
pub async fn initialise_by_guest_identifier(
    state: web::Data<AppState>,
    input: GuestInput,
) -> Result<HttpResponse, ApiError> {
    let r = InitialiseByGuestIdentifierRequest::decode(&input.fields)?;
    let start = StartSession {
        property_code: r.property_code,
        interface_token: r.interface_token,
        language_code: r.language_code,
    };
    Ok(started(
        state
            .sessions
            .initialise_by_guest_identifier(start, &r.guest_unique_identifier)
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
        (LoginByRoomRequest = "application/json"),
        (LoginByRoomRequest = "text/json"),
        (LoginByRoomRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "responseStatus with the new session token", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
    ),
)]
pub async fn login_by_room(
    state: web::Data<AppState>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let r = LoginByRoomRequest::decode(&call.fields)?;
    let started = state
        .sessions
        .login_by_room(&call.session, &r.last_name, &r.room_number)
        .await?;
    Ok(envelope::acknowledged(&started.token))
}
