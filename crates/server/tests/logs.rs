//! Logs never carry secrets or guest data: a full flow runs with every log line captured
//! (at trace level), then the capture is searched for tokens, keys, names and message texts.
//! And the production JSON lines carry the request id at the top level.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
mod helpers;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use helpers::*;
use serde_json::json;
use sqlx::PgPool;

/// The Standard Webhooks example secret.
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[bellhop_testdb::test]
async fn a_full_flow_logs_no_token_key_name_or_message(pool: PgPool) {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(move || writer.clone())
        .init();

    let app = spawn(pool.clone()).await;
    // A webhook whose receiver refuses connections: its attempts fail and are logged.
    let mut file = bellhop_application::reference_data::demo_file(midday());
    file.properties[0].webhooks = vec![bellhop_application::reference_data::WebhookEntry {
        url: "http://127.0.0.1:9/hook".into(),
        secret: WEBHOOK_SECRET.into(),
        events: None,
        outlet_codes: None,
        enabled: true,
    }];
    bellhop_application::reference_data::ReferenceDataService::new(Arc::new(
        bellhop_persistence::PgStore::new(pool.clone()),
    ))
    .load(&bellhop_application::reference_data::validate(&file).unwrap())
    .await
    .unwrap();
    let worker = bellhop_server::webhooks::WebhookWorker::spawn(
        pool.clone(),
        bellhop_server::webhooks::WorkerSettings {
            timeout: std::time::Duration::from_millis(500),
            schedule: bellhop_domain::webhook::RetrySchedule::parse("0.1").unwrap(),
            keep_delivered: std::time::Duration::from_secs(3600),
        },
        None,
    )
    .unwrap();
    let anonymous = app.anonymous().await;
    let login = app
        .post_json(
            "/API/V40/System/Session/LoginByRoom",
            json!({"lastName": "Lovelace", "roomNumber": "101", "sessionToken": anonymous}),
        )
        .await;
    login.assert_ok();
    let token = login.token().unwrap().to_owned();
    let code = app
        .start_conversation(
            &token,
            json!({"message": "Secret towel request 4711", "conversationType": "guest"}),
        )
        .await;
    let staff = app
        .staff_post(
            &format!("/staff/v1/conversations/{code}/messages"),
            "demo-staff-key",
            json!({"content": "Staff answer 0815"}),
        )
        .await;
    assert_eq!(staff.status.as_u16(), 201);
    app.get(&format!(
        "/API/V40/Interactive/Messages?SessionToken={token}"
    ))
    .await
    .assert_ok();
    app.post_json(
        "/API/V40/System/Session/InitialiseByRoom",
        json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token", "roomNumber": "101", "lastName": "Wrong"}),
    )
    .await;
    app.staff_get("/staff/v1/unread", "wrong-staff-key-123")
        .await;

    // Every delivery has failed its two attempts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let open: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status <> 'failed'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} deliveries left"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("webhook attempt failed"),
        "no webhook attempt was logged: {logs}"
    );
    assert!(
        logs.contains("request finished"),
        "nothing was captured: {logs}"
    );
    for secret in [
        anonymous.as_str(),
        token.as_str(),
        "demo-interface-token",
        "demo-staff-key",
        "wrong-staff-key-123",
        "Secret towel request 4711",
        "Staff answer 0815",
        "Lovelace",
        "Wrong",
        SECRET,
        WEBHOOK_SECRET,
        &WEBHOOK_SECRET["whsec_".len()..],
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
    // Tokens are also in query strings: those are never logged either.
    assert!(!logs.contains("SessionToken="));
}

#[bellhop_testdb::test]
async fn json_lines_carry_the_request_id_at_the_top_level(pool: PgPool) {
    use tracing_subscriber::layer::SubscriberExt;

    let capture = Capture::default();
    let writer = capture.clone();
    // This thread only, and no `log` bridge: the other test of this file installs the
    // global subscriber and the bridge.
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(
        bellhop_server::telemetry::json_layer(move || writer.clone()),
    ));

    let app = spawn(pool).await;
    let token = app.ada().await;
    app.call(
        actix_web::test::TestRequest::get()
            .uri(&format!(
                "/API/V40/Interactive/Messages?SessionToken={token}"
            ))
            .insert_header(("x-request-id", "req-top-level-42")),
    )
    .await
    .assert_ok();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is one JSON object"))
        .collect();
    let finished: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["message"] == "request finished")
        .collect();
    assert!(!finished.is_empty(), "nothing was captured: {logs}");
    for line in &finished {
        assert!(
            line["request_id"].is_string(),
            "no top-level request_id: {line}"
        );
    }
    let ours = finished
        .iter()
        .find(|line| line["request_id"] == "req-top-level-42")
        .unwrap_or_else(|| panic!("the request's line is missing: {logs}"));
    assert_eq!(ours["status"], 200);
    assert_eq!(ours["route"], "/API/V40/Interactive/Messages");
}
