//! Liveness and readiness probes.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::{state::AppState, wire::envelope::JSON_UTF8};

/// The process is up.
#[utoipa::path(
    get,
    path = "/health/live",
    operation_id = "healthLive",
    tag = "operations",
    responses(
        (status = 200, description = "The process is up"),
    ),
)]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(JSON_UTF8)
        .body(json!({"status": "live"}).to_string())
}

/// The database is reachable and fully migrated.
#[utoipa::path(
    get,
    path = "/health/ready",
    operation_id = "healthReady",
    tag = "operations",
    responses(
        (status = 200, description = "Database reachable and migrated"),
        (status = 503, description = "Not ready"),
    ),
)]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.readiness.is_ready().await {
        HttpResponse::Ok()
            .content_type(JSON_UTF8)
            .body(json!({"status": "ready"}).to_string())
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type(JSON_UTF8)
            .body(json!({"status": "unavailable"}).to_string())
    }
}
