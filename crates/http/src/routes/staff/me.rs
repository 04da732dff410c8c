//! `GET /staff/v1/me`: who the calling key is.

use actix_web::{http::StatusCode, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{json, StaffError};
use crate::{extract::StaffCall, state::AppState};

/// The calling key as a staff member.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffMe)]
pub(crate) struct MeBody {
    /// The staff member code; null for a key that is no member (it cannot be assigned).
    code: Option<String>,
    display_name: String,
    property_code: String,
    /// The property's IANA time zone.
    time_zone: String,
    /// The key's active outlets (every active outlet for an unlimited key), in display order.
    outlets: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/staff/v1/me",
    operation_id = "staffMe",
    tag = "staff",
    security(("staff_key" = [])),
    responses(
        (status = 200, description = "{code, displayName, propertyCode, timeZone, outlets}", body = MeBody),
        crate::openapi::StaffErrors,
    ),
)]
pub async fn me(state: web::Data<AppState>, call: StaffCall) -> Result<HttpResponse, StaffError> {
    let me = state.staff.me(&call.key).await?;
    json(
        StatusCode::OK,
        &MeBody {
            code: me.code,
            display_name: me.display_name,
            property_code: me.property_code,
            time_zone: me.time_zone,
            outlets: me.outlets,
        },
    )
}
