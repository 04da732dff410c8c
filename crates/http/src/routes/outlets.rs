//! `GET API/V40/System/Settings/Outlet`: outlet settings, for every session.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::{dto::OutletSettingsDto, error::ApiError, extract::GuestCall, state::AppState};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutletSettingsContent {
    outlet_settings: Vec<OutletSettingsDto>,
}

pub async fn settings(
    state: web::Data<AppState>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let code = call.fields.text("code")?;
        let settings = state
            .outlets
            .settings(call.session.property_id, code.as_deref())
            .await?;
        Ok(OutletSettingsContent {
            outlet_settings: settings.into_iter().map(OutletSettingsDto::from).collect(),
        })
    }
    .await;
    call.finish("getOutletSettingsResponse", result)
}
