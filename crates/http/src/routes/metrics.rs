//! `GET /metrics`: Prometheus text exposition.

use actix_web::{web, HttpResponse};

use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
    ),
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let body = state.metrics.render(state.readiness.pool_stats());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
