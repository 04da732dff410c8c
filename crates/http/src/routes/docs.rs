//! `GET /openapi.json` (generated from the code) and the interactive page at `/docs`, whose
//! Swagger UI assets are vendored in `crates/http/assets/swagger-ui` and served from memory.

use actix_web::{web, HttpResponse};

use crate::{error::ApiError, openapi::openapi_document};

const SWAGGER_JS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const FAVICON: &[u8] = include_bytes!("../../assets/swagger-ui/favicon-32x32.png");

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Bellhop API</title>
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>"#;

const INITIALIZER: &str = r##"window.onload = function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
};"##;

#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapiDocument",
    tag = "operations",
    responses(
        (status = 200, description = "This document"),
    ),
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(openapi_document())
}

#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "docsPage",
    tag = "operations",
    responses(
        (status = 200, description = "Interactive documentation", content_type = "text/html"),
    ),
)]
pub async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
        ))
        .body(PAGE)
}

#[utoipa::path(
    get,
    path = "/docs/{file}",
    operation_id = "docsAsset",
    tag = "operations",
    params(
        ("file" = String, Path, description = "An asset of the documentation page"),
    ),
    responses(
        (status = 200, description = "The asset"),
        (status = 404, description = "No such asset"),
    ),
)]
pub async fn docs_asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (content_type, body): (&str, &'static [u8]) = match file.as_str() {
        "swagger-ui-bundle.js" => ("text/javascript; charset=utf-8", SWAGGER_JS),
        "swagger-initializer.js" => ("text/javascript; charset=utf-8", INITIALIZER.as_bytes()),
        "swagger-ui.css" => ("text/css; charset=utf-8", SWAGGER_CSS),
        "favicon-32x32.png" => ("image/png", FAVICON),
        _ => return Err(ApiError::not_found()),
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}
