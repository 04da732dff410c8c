//! `GET API/V40/System/Settings/Outlet`: outlet settings, for every session.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::{dto::OutletSettingsDto, error::ApiError, extract::GuestCall, state::AppState};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutletSettingsContent {
    outlet_settings: Vec<OutletSettingsDto>,
}

#[utoipa::path(
    get,
    path = "/API/V40/System/Settings/Outlet",
    operation_id = "getOutletSettings",
    tag = "guest",
    params(
        ("Code" = Option<String>, Query, description = "One outlet only"),
        ("SessionToken" = String, Query, description = "The session token"),
    ),
    responses(
        (status = 200, description = "getOutletSettingsResponse", body = crate::openapi::Envelope),
        crate::openapi::GuestErrors,
        (status = 404, description = "OutletNotFound", body = crate::openapi::Envelope),
    ),
)]
pub async fn settings(
    state: web::Data<AppState>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let code = call.fields.text("code")?;
    let settings = state
        .outlets
        .settings(call.session.property_id, code.as_deref())
        .await?;
    Ok(call.data(
        "getOutletSettingsResponse",
        OutletSettingsContent {
            outlet_settings: settings.into_iter().map(OutletSettingsDto::from).collect(),
        },
    ))
}
