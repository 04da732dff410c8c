//! `GET /staff/v1/unread`: unread counts per outlet of the key.

use actix_web::{http::StatusCode, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{json, StaffError};
use crate::{extract::StaffCall, state::AppState};

/// Unread guest messages of one outlet.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StaffOutletUnread)]
struct OutletUnreadDto {
    outlet_code: String,
    unread_conversations: i64,
    unread_messages: i64,
}

/// `{outlets}`: unread counts for every outlet of the key.
#[derive(Serialize, ToSchema)]
#[schema(as = StaffUnread)]
struct UnreadBody {
    outlets: Vec<OutletUnreadDto>,
}

#[utoipa::path(
    get,
    path = "/staff/v1/unread",
    operation_id = "staffUnreadCounts",
    tag = "staff",
    security(("staff_key" = [])),
    responses(
        (status = 200, description = "{outlets}", body = UnreadBody),
        crate::openapi::StaffErrors,
    ),
)]
pub async fn unread(
    state: web::Data<AppState>,
    call: StaffCall,
) -> Result<HttpResponse, StaffError> {
    let outlets = state.staff.unread(&call.key).await?;
    let outlets = outlets
        .into_iter()
        .map(|o| OutletUnreadDto {
            outlet_code: o.outlet_code,
            unread_conversations: o.unread_conversations,
            unread_messages: o.unread_messages,
        })
        .collect();
    json(StatusCode::OK, &UnreadBody { outlets })
}
