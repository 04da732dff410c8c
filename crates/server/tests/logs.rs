//! Logs never carry secrets or guest data: a full flow runs with every log line captured
//! (at trace level), then the capture is searched for tokens, keys, names and message texts.

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

    let app = spawn(pool).await;
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

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
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
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
    // Tokens are also in query strings: those are never logged either.
    assert!(!logs.contains("SessionToken="));
}
