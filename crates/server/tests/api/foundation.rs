//! Foundation: health, demo data, reference-data loading, routing and error envelope basics.

use bellhop_application::reference_data::{
    demo_file, parse_reference_file, validate, FileFormat, ReferenceDataService,
};
use bellhop_persistence::PgStore;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;

use crate::helpers::*;

#[bellhop_testdb::test]
async fn health_checks_answer_when_the_database_is_migrated(pool: PgPool) {
    let app = spawn(pool).await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status.as_u16(), 200);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status.as_u16(), 200);
    assert_eq!(ready.body["status"], "ready");
}

#[bellhop_testdb::test]
async fn readiness_fails_when_a_migration_is_missing(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(app.get("/health/ready").await.status.as_u16(), 503);
}

/// Every row of the reference tables, as text, for before/after comparisons.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    let mut rows = Vec::new();
    for table in [
        "properties",
        "interface_tokens",
        "outlets",
        "outlet_opening_hours",
        "guest_stays",
        "orders",
        "staff_keys",
        "staff_key_outlets",
        "quick_replies",
        "quick_reply_outlets",
    ] {
        let mut table_rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                .fetch_all(pool)
                .await
                .unwrap();
        table_rows.sort();
        rows.extend(table_rows.into_iter().map(|r| format!("{table}: {r}")));
    }
    rows
}

#[bellhop_testdb::test]
async fn loading_the_demo_twice_changes_no_row(pool: PgPool) {
    let service = ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())));
    let now = midday();
    service.load_demo(now).await.unwrap();
    let before = snapshot(&pool).await;
    service.load_demo(now).await.unwrap();
    assert_eq!(snapshot(&pool).await, before);
}

#[bellhop_testdb::test]
async fn reloading_the_demo_later_moves_only_the_stay_dates_and_keeps_conversations(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.ada().await;
    app.start_conversation(&token, json!({"message": "Hello"}))
        .await;
    let codes_before: Vec<String> = sqlx::query_scalar("SELECT code FROM outlets ORDER BY code")
        .fetch_all(&pool)
        .await
        .unwrap();
    let service = ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())));
    service
        .load_demo(midday() + chrono::Duration::days(10))
        .await
        .unwrap();
    let codes_after: Vec<String> = sqlx::query_scalar("SELECT code FROM outlets ORDER BY code")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(codes_before, codes_after);
    assert_eq!(app.count("conversations").await, 1);
    assert_eq!(app.count("sessions").await, 1);
    assert_eq!(app.count("guest_stays").await, 4);
    let check_in: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT check_in FROM guest_stays WHERE code = 'DEMO-STAY-101'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(check_in, midday() + chrono::Duration::days(9));
}

#[bellhop_testdb::test]
async fn secrets_are_stored_hashed(pool: PgPool) {
    let _app = spawn(pool.clone()).await;
    let tokens: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM interface_tokens")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(tokens
        .iter()
        .all(|t| t.len() == 32 && !String::from_utf8_lossy(t).contains("demo")));
    let dump: Vec<String> = sqlx::query_scalar("SELECT k::text FROM staff_keys k")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(dump
        .iter()
        .all(|row| !row.contains("demo-staff-key") && !row.contains("demo-bar-key")));
}

#[bellhop_testdb::test]
async fn a_reference_file_with_a_dangling_order_loads_nothing(pool: PgPool) {
    let service = ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())));
    let mut file = demo_file(midday());
    file.properties[0].code = "OTHER-HOTEL".into();
    file.properties[0].interface_tokens[0].token = "other-interface-token".into();
    file.properties[0].staff_keys.clear();
    file.properties[0].orders[2].stay_code = "NO-SUCH-STAY".into();
    let data = validate(&file).unwrap();
    let error = service.load(&data).await.unwrap_err().to_string();
    assert!(
        error.contains("properties[0].orders[2] (ORD-2001)"),
        "{error}"
    );
    assert!(error.contains("NO-SUCH-STAY"), "{error}");
    for table in [
        "properties",
        "outlets",
        "guest_stays",
        "orders",
        "interface_tokens",
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 0, "{table} must stay empty");
    }
}

#[bellhop_testdb::test]
async fn a_malformed_reference_file_is_rejected_with_its_location(pool: PgPool) {
    let _ = pool;
    let text = r#"
[[properties]]
code = "H1"
name = "Hotel"
brandCode = "B"
groupCode = "G"
timeZone = "Mars/Olympus"
defaultLanguage = "en"
"#;
    let error = parse_reference_file(text, FileFormat::Toml).unwrap_err().0;
    assert_eq!(
        error,
        "properties[0] (H1).timeZone: \"Mars/Olympus\" is not an IANA time zone"
    );
}

#[bellhop_testdb::test]
async fn a_reference_file_in_toml_loads(pool: PgPool) {
    let text = r#"
[[properties]]
code = "H1"
name = "Harbour Hotel"
brandCode = "HB"
groupCode = "HG"
timeZone = "America/New_York"
defaultLanguage = "en"

[[properties.interfaceTokens]]
token = "harbour-app-token"

[[properties.outlets]]
code = "DESK"
name = "Front desk"
displayOrder = 1
serviceCenterName = "Reception"
openingHours = [{ day = "Monday", opens = "08:00", closes = "18:00" }]

[[properties.stays]]
code = "R-1"
roomNumber = "12"
firstName = "Kim"
lastName = "Lee"
checkIn = "2026-06-09T15:00:00-04:00"
checkOut = "2026-06-12T11:00:00-04:00"

[[properties.orders]]
code = "O-1"
outletCode = "DESK"
stayCode = "R-1"

[[properties.staffKeys]]
key = "harbour-staff-key"
displayName = "Reception"
outlets = ["DESK"]
"#;
    let data = parse_reference_file(text, FileFormat::Toml).unwrap();
    let service = ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())));
    let summary = service.load(&data).await.unwrap();
    assert_eq!(
        (
            summary.properties,
            summary.outlets,
            summary.stays,
            summary.orders
        ),
        (1, 1, 1, 1)
    );
    let language: String = sqlx::query_scalar("SELECT language_code FROM guest_stays")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        language, "en",
        "a stay without a language takes the property's"
    );
}

#[bellhop_testdb::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_envelope(pool: PgPool) {
    let app = spawn(pool).await;
    let missing = app.get("/API/V40/Nothing/Here").await;
    missing.assert_error(404, "NotFound");
    assert!(missing.body["sessionToken"].is_null());
    assert_eq!(missing.body["status"], "Failure");
    let wrong = app
        .call(actix_web::test::TestRequest::delete().uri(CREATE))
        .await;
    wrong.assert_error(405, "MethodNotAllowed");
    let staff = app.get("/staff/v1/nothing").await;
    staff.assert_error(404, "NotFound");
    assert!(staff.body["error"]["message"].is_string());
}

#[bellhop_testdb::test]
async fn every_response_has_a_request_id_and_security_headers(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app.get("/health/live").await;
    assert!(reply.headers.get("x-request-id").is_some());
    assert_eq!(
        reply.headers.get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert_eq!(reply.headers.get("cache-control").unwrap(), "no-store");
    let echoed = app
        .call(
            actix_web::test::TestRequest::get()
                .uri("/health/live")
                .insert_header(("x-request-id", "abc-123")),
        )
        .await;
    assert_eq!(echoed.headers.get("x-request-id").unwrap(), "abc-123");
}

#[bellhop_testdb::test]
async fn metrics_count_a_request_under_its_route_template(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let code = app
        .start_conversation(&token, json!({"message": "Hello"}))
        .await;
    app.get(&format!(
        "/API/V40/Interactive/Messages/Conversations/{code}?SessionToken={token}"
    ))
    .await
    .assert_ok();
    let reply = app
        .call(actix_web::test::TestRequest::get().uri("/metrics"))
        .await;
    assert_eq!(reply.status.as_u16(), 200);
    let text = reply.body.as_str().expect("text exposition").to_owned();
    assert!(
        text.contains(r#"bellhop_http_requests_total{method="GET",route="/API/V40/Interactive/Messages/Conversations/{code}",status="200"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&code), "raw codes never become labels");
    assert!(text.contains("bellhop_conversations_created_total 1"));
    assert!(text.contains(r#"bellhop_messages_created_total{author="guest"} 1"#));
    assert!(text.contains("bellhop_http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"bellhop_db_pool_connections{state="idle"}"#));
    assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
    assert!(text.contains("\nprocess_open_fds "), "{text}");
}

/// The status, the Content-Encoding and the raw body bytes of a GET.
async fn get_raw(
    service: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    uri: &str,
    accept_encoding: Option<&str>,
) -> (u16, Option<String>, Vec<u8>) {
    let mut request = actix_web::test::TestRequest::get().uri(uri);
    if let Some(encoding) = accept_encoding {
        request = request.insert_header(("accept-encoding", encoding));
    }
    let response = actix_web::test::call_service(service, request.to_request()).await;
    let status = response.status().as_u16();
    let encoding = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = actix_web::test::read_body(response).await.to_vec();
    (status, encoding, body)
}

#[bellhop_testdb::test]
async fn large_responses_are_gzipped_for_clients_that_accept_it(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let code = app
        .start_conversation(&token, json!({"message": "Hello"}))
        .await;
    for i in 0..40 {
        app.post_json(
            &format!("{CREATE}/{code}/Messages"),
            json!({"message": format!("Message number {i} about the towels"), "sessionToken": token}),
        )
        .await
        .assert_ok();
    }
    let uri = format!("/API/V40/Interactive/Messages?SessionToken={token}");

    let (status, encoding, plain) = get_raw(&app.service, &uri, None).await;
    assert_eq!(status, 200);
    assert_eq!(encoding, None, "no Accept-Encoding, no compression");
    assert!(
        plain.len() > 10_000,
        "a large answer: {} bytes",
        plain.len()
    );

    let (status, encoding, gzipped) = get_raw(&app.service, &uri, Some("gzip")).await;
    assert_eq!(status, 200);
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(&gzipped[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        gzipped.len() * 5 < plain.len(),
        "{} bytes gzipped, {} plain",
        gzipped.len(),
        plain.len()
    );

    // The metrics scrape still works, compressed or not.
    let (status, encoding, metrics) = get_raw(&app.service, "/metrics", Some("gzip")).await;
    assert_eq!((status, encoding.as_deref()), (200, Some("gzip")));
    assert_eq!(&metrics[..2], &[0x1f, 0x8b]);
    let (status, _, metrics) = get_raw(&app.service, "/metrics", None).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(metrics)
        .unwrap()
        .contains("bellhop_http_requests_total"));
}

#[bellhop_testdb::test]
async fn the_openapi_document_lists_every_guest_and_staff_route(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status.as_u16(), 200);
    let paths = reply.body["paths"].as_object().expect("paths");
    for (method, path) in bellhop_http::routes::ROUTES {
        assert!(
            paths
                .get(*path)
                .and_then(|item| item.get(*method))
                .is_some(),
            "{method} {path} is undocumented"
        );
    }
    assert!(paths.contains_key("/API/V40/Interactive/Messages/Conversations"));
    assert!(paths.contains_key("/staff/v1/unread"));
}

#[bellhop_testdb::test]
async fn the_docs_page_and_its_assets_are_served_by_the_service(pool: PgPool) {
    let app = spawn(pool).await;
    let page = app.get("/docs").await;
    assert_eq!(page.status.as_u16(), 200);
    let html = page.body.as_str().unwrap().to_owned();
    assert!(html.contains("/docs/swagger-ui-bundle.js") && !html.contains("https://"));
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let reply = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(reply.status.as_u16(), 200, "{asset}");
    }
    assert_eq!(app.get("/docs/nothing.js").await.status.as_u16(), 404);
}

#[test]
fn check_config_prints_the_settings_with_secrets_masked() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .arg("check-config")
        .env(
            "BELLHOP_SESSION_SECRET",
            "a-very-secret-value-that-must-not-be-printed",
        )
        .env(
            "DATABASE_URL",
            "postgres://postgres:topsecret@127.0.0.1:5432/postgres",
        )
        .output()
        .expect("bellhop runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("BELLHOP_SESSION_IDLE_SECS           86400"));
    assert!(stdout.contains("postgres://postgres:***@127.0.0.1:5432/postgres"));
    assert!(stdout.contains("reachable"));
    assert!(!stdout.contains("topsecret") && !stdout.contains("must-not-be-printed"));
}

#[test]
fn a_missing_secret_stops_start_up_with_one_clear_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .arg("serve")
        .env_remove("BELLHOP_SESSION_SECRET")
        .output()
        .expect("bellhop runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "configuration error: BELLHOP_SESSION_SECRET is required (or run with --demo)"
    );
}

#[bellhop_testdb::test]
async fn the_purge_command_deletes_only_long_ended_sessions_and_day_old_idempotency_keys(
    pool: PgPool,
) {
    let app = spawn(pool.clone()).await;
    app.ada().await;
    app.anonymous().await;
    sqlx::query(
        "INSERT INTO idempotency_keys (property_id, scope, key, request_hash, response_body, created_at)
         SELECT id, 'session:test', k.key, '\\x00', '{}', now() - k.age
           FROM properties, (VALUES ('old', interval '25 hours'), ('fresh', interval '1 hour')) AS k(key, age)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE sessions SET last_seen_at = CASE kind WHEN 'anonymous' THEN now() - interval '41 days' ELSE now() END,
                             ended_at = CASE kind WHEN 'anonymous' THEN now() - interval '40 days' END",
    )
    .execute(&pool)
    .await
    .unwrap();
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args([
            "sessions",
            "purge",
            "--older-than-days",
            "30",
            "--batch",
            "1",
        ])
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{database}"),
        )
        .env("BELLHOP_SESSION_SECRET", SECRET)
        .output()
        .expect("bellhop runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .trim()
            .starts_with("deleted 1 sessions, 1 idempotency keys older than 24 hours"),
        "{stdout}"
    );
    assert_eq!(app.count("sessions").await, 1);
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(keys, ["fresh"]);
}
