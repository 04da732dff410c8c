//! Reliability: idempotent creation (section 7), rate limits (section 9), database faults.

use std::{sync::Arc, time::Instant};

use actix_web::test::TestRequest;
use bellhop_application::clock::ManualClock;
use bellhop_server::build_state;
use chrono::Duration;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::*;

fn create_with_key(token: &str, key: &str, message: &str) -> TestRequest {
    TestRequest::post()
        .uri(CREATE)
        .insert_header(("content-type", "application/json"))
        .insert_header(("idempotency-key", key))
        .set_payload(json!({"message": message, "sessionToken": token}).to_string())
}

#[bellhop_testdb::test]
async fn a_repeated_key_replays_the_stored_response_and_creates_nothing(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let first = app
        .call(create_with_key(&token, "key-1", "Towels please"))
        .await;
    first.assert_ok();
    let second = app
        .call(create_with_key(&token, "key-1", "Towels please"))
        .await;
    second.assert_ok();
    assert_eq!(second.body, first.body);
    assert_eq!(app.count("conversations").await, 1);
    assert_eq!(app.count("messages").await, 1);
}

#[bellhop_testdb::test]
async fn a_replay_carries_the_current_token(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let first = app.call(create_with_key(&token, "key-2", "Hello")).await;
    app.clock.advance(Duration::minutes(20));
    let second = app.call(create_with_key(&token, "key-2", "Hello")).await;
    second.assert_ok();
    assert_ne!(second.token(), first.token(), "a refresh was due");
    assert_eq!(second.conversation(), first.conversation());
}

#[bellhop_testdb::test]
async fn the_same_request_in_another_body_format_is_the_same_request(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    app.call(create_with_key(&token, "key-3", "Hello"))
        .await
        .assert_ok();
    let form = app
        .call(
            TestRequest::post()
                .uri(CREATE)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .insert_header(("idempotency-key", "key-3"))
                .set_payload(format!("Message=Hello&SessionToken={token}")),
        )
        .await;
    form.assert_ok();
    assert_eq!(app.count("conversations").await, 1);
}

#[bellhop_testdb::test]
async fn a_key_reused_for_another_request_is_refused(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    app.call(create_with_key(&token, "key-4", "Hello"))
        .await
        .assert_ok();
    let other = app
        .call(create_with_key(&token, "key-4", "Something else"))
        .await;
    other.assert_error(422, "IdempotencyKeyReused");
    assert_eq!(other.token(), Some(token.as_str()));
    assert_eq!(app.count("conversations").await, 1);
}

#[bellhop_testdb::test]
async fn keys_are_scoped_to_the_session(pool: PgPool) {
    let app = spawn(pool).await;
    let first = app.ada().await;
    let second = app.ada().await;
    app.call(create_with_key(&first, "shared", "Hello"))
        .await
        .assert_ok();
    app.call(create_with_key(&second, "shared", "Hello"))
        .await
        .assert_ok();
    assert_eq!(app.count("conversations").await, 2);
}

#[bellhop_testdb::test]
async fn failed_requests_are_not_stored_under_their_key(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let bad = app.call(create_with_key(&token, "key-5", "   ")).await;
    bad.assert_error(400, "MessageRequired");
    app.call(create_with_key(&token, "key-5", "Now with text"))
        .await
        .assert_ok();
    assert_eq!(app.count("idempotency_keys").await, 1);
}

#[bellhop_testdb::test]
async fn keys_expire_after_a_day(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    app.call(create_with_key(&token, "key-6", "Hello"))
        .await
        .assert_ok();
    app.clock.advance(Duration::hours(23));
    app.call(create_with_key(&token, "key-6", "Hello"))
        .await
        .assert_ok();
    assert_eq!(app.count("conversations").await, 1);
    app.clock.advance(Duration::hours(2));
    app.call(create_with_key(&token, "key-6", "Hello"))
        .await
        .assert_ok();
    assert_eq!(app.count("conversations").await, 2);
}

#[bellhop_testdb::test]
async fn malformed_keys_are_invalid_requests(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let long = "k".repeat(256);
    for key in [long.as_str(), ""] {
        let reply = app.call(create_with_key(&token, key, "Hello")).await;
        reply.assert_error(400, "InvalidRequest");
    }
    let non_ascii = TestRequest::post()
        .uri(CREATE)
        .insert_header(("content-type", "application/json"))
        .insert_header((
            "idempotency-key",
            actix_web::http::header::HeaderValue::from_bytes(b"cl\xc3\xa9").unwrap(),
        ))
        .set_payload(json!({"message": "Hello", "sessionToken": token}).to_string());
    app.call(non_ascii)
        .await
        .assert_error(400, "InvalidRequest");
    assert_eq!(app.count("conversations").await, 0);
}

#[bellhop_testdb::test]
async fn concurrent_first_tries_with_one_key_create_exactly_one_conversation(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let tries = (0..10).map(|_| app.call(create_with_key(&token, "race", "Only once")));
    let replies = futures_util::future::join_all(tries).await;
    let bodies: Vec<&Value> = replies
        .iter()
        .map(|r| r.assert_ok())
        .map(|r| r.conversation())
        .collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    assert_eq!(app.count("conversations").await, 1);
}

#[bellhop_testdb::test]
async fn replies_and_staff_creations_are_idempotent_too(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let code = app
        .start_conversation(&token, json!({"message": "Hello"}))
        .await;
    let reply = || {
        TestRequest::post()
            .uri(&format!(
                "/API/V40/Interactive/Messages/Conversations/{code}/Messages"
            ))
            .insert_header(("content-type", "application/json"))
            .insert_header(("idempotency-key", "reply-1"))
            .set_payload(json!({"message": "Any news?", "sessionToken": token}).to_string())
    };
    let first = app.call(reply()).await;
    first.assert_ok();
    assert_eq!(app.call(reply()).await.body, first.body);
    let staff = || {
        TestRequest::post()
            .uri(&format!("/staff/v1/conversations/{code}/messages"))
            .insert_header(("authorization", "Bearer demo-staff-key"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("idempotency-key", "reply-1"))
            .set_payload(json!({"content": "On its way"}).to_string())
    };
    let staff_first = app.call(staff()).await;
    assert_eq!(staff_first.status.as_u16(), 201);
    let staff_again = app.call(staff()).await;
    assert_eq!(staff_again.status.as_u16(), 201);
    assert_eq!(staff_again.body, staff_first.body);
    assert_eq!(app.count("messages").await, 3);
}

#[bellhop_testdb::test]
async fn the_key_is_ignored_on_routes_that_create_nothing(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let code = app
        .start_conversation(&token, json!({"message": "Hello"}))
        .await;
    for _ in 0..2 {
        let read = TestRequest::post()
            .uri(&format!(
                "/API/V40/Interactive/Messages/Conversations/{code}/Read"
            ))
            .insert_header(("content-type", "application/json"))
            .insert_header(("idempotency-key", "read"))
            .set_payload(json!({"sessionToken": token}).to_string());
        app.call(read).await.assert_ok();
    }
    assert_eq!(app.count("idempotency_keys").await, 0);
}

#[bellhop_testdb::test]
async fn a_session_over_its_rate_gets_429_with_retry_after(pool: PgPool) {
    let app = spawn_with(pool, midday(), &[("BELLHOP_RATE_LIMIT_PER_SESSION", "4")]).await;
    let token = app.ada().await;
    let outlets = format!("/API/V40/System/Settings/Outlet?SessionToken={token}");
    app.get(&outlets).await.assert_ok();
    app.get(&outlets).await.assert_ok();
    let limited = app.get(&outlets).await;
    limited.assert_error(429, "TooManyRequests");
    assert_eq!(limited.token(), Some(token.as_str()));
    let retry: u64 = limited
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15).contains(&retry), "{retry}");
    // Another session of the same guest has its own bucket.
    let other = app.ada().await;
    app.get(&format!(
        "/API/V40/System/Settings/Outlet?SessionToken={other}"
    ))
    .await
    .assert_ok();
}

#[bellhop_testdb::test]
async fn a_client_address_over_its_rate_gets_429_on_any_route(pool: PgPool) {
    let app = spawn_with(pool, midday(), &[("BELLHOP_RATE_LIMIT_PER_ADDRESS", "2")]).await;
    let from = |ip: &str| {
        TestRequest::get()
            .uri("/health/live")
            .peer_addr(format!("{ip}:4000").parse().unwrap())
    };
    assert_eq!(app.call(from("10.1.1.1")).await.status.as_u16(), 200);
    let limited = app.call(from("10.1.1.1")).await;
    limited.assert_error(429, "TooManyRequests");
    assert!(limited.headers.get("retry-after").is_some());
    assert_eq!(app.call(from("10.1.1.2")).await.status.as_u16(), 200);
    let staff = app
        .call(
            TestRequest::get()
                .uri("/staff/v1/unread")
                .peer_addr("10.1.1.1:4000".parse().unwrap()),
        )
        .await;
    assert_eq!(staff.status.as_u16(), 429);
    assert_eq!(staff.body["error"]["code"], "TooManyRequests");
}

#[bellhop_testdb::test]
async fn with_the_database_unreachable_every_route_answers_503_quickly(pool: PgPool) {
    let _ = pool;
    // A pool pointed at a port nothing listens on: the database is unreachable.
    let settings = settings(&[
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:9/bellhop"),
        ("BELLHOP_DB_ACQUIRE_TIMEOUT_MS", "500"),
    ]);
    let unreachable = bellhop_server::database::pool(&settings).unwrap();
    let state = build_state(unreachable, &settings, Arc::new(ManualClock::new(midday()))).unwrap();
    let service = actix_web::test::init_service(bellhop_http::build_app(state)).await;
    let app = TestApp {
        service,
        pool: sqlx::PgPool::connect_lazy("postgres://postgres@127.0.0.1:9/x").unwrap(),
        clock: Arc::new(ManualClock::new(midday())),
    };
    let started = Instant::now();
    let session = app
        .post_json(
            "/API/V40/System/Session/Initialise",
            json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token"}),
        )
        .await;
    session.assert_error(503, "ServiceUnavailable");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/health/ready").await.status.as_u16(), 503);
    let staff = app.staff_get("/staff/v1/unread", "demo-staff-key").await;
    staff.assert_error(503, "ServiceUnavailable");
    let body = staff.body.to_string();
    assert!(
        !body.contains("127.0.0.1") && !body.to_lowercase().contains("connection refused"),
        "{body}"
    );
}

#[bellhop_testdb::test]
async fn the_service_recovers_when_its_connections_are_killed(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.ada().await;
    app.start_conversation(&token, json!({"message": "Before"}))
        .await;
    let killer = sqlx::PgPool::connect(&std::env::var("DATABASE_URL").unwrap())
        .await
        .unwrap();
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
        .bind(&database)
        .execute(&killer)
        .await
        .unwrap();
    // Broken connections fail at most the request that finds them; the pool then reconnects.
    let mut recovered = false;
    for _ in 0..10 {
        let mut fields = json!({"message": "After"});
        fields["sessionToken"] = json!(token);
        let reply = app.post_json(CREATE, fields).await;
        assert!(
            reply.status.as_u16() == 200 || reply.status.as_u16() >= 500,
            "{}",
            reply.body
        );
        if reply.status.is_success() {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "the service did not recover without a restart");
}

#[bellhop_testdb::test]
async fn a_change_to_the_outlets_is_seen_by_the_next_request_despite_the_cache(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.ada().await;
    let create = |message: &str| {
        let mut fields = json!({"message": message});
        fields["sessionToken"] = json!(token);
        app.post_json(CREATE, fields)
    };
    assert_eq!(
        create("first").await.conversation()["outletCode"],
        "ROOMSVC"
    );
    sqlx::query("UPDATE outlets SET active = false WHERE code = 'ROOMSVC'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        create("second").await.conversation()["outletCode"],
        "CONCIERGE"
    );
    sqlx::query("UPDATE outlets SET name = 'Concierge Desk' WHERE code = 'CONCIERGE'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        create("third").await.conversation()["outletName"],
        "Concierge Desk"
    );
    sqlx::query("DELETE FROM outlet_opening_hours WHERE outlet_id = (SELECT id FROM outlets WHERE code = 'BAR')")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        create("fourth").await.conversation()["outletCode"],
        "BAR",
        "the bar without hours is always open"
    );
}

#[bellhop_testdb::test]
async fn a_body_that_cannot_be_read_still_answers_with_the_query_strings_token(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let code = app
        .start_conversation(&token, json!({"message": "Hello"}))
        .await;
    let reply = app
        .post_raw(
            &format!(
                "/API/V40/Interactive/Messages/Conversations/{code}/Close?SessionToken={token}"
            ),
            Some("application/json"),
            "{not json",
        )
        .await;
    reply.assert_error(400, "InvalidRequest");
    assert_eq!(reply.token(), Some(token.as_str()));
}

#[bellhop_testdb::test]
async fn the_same_token_in_body_and_query_string_is_accepted(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let reply = app
        .post_json(
            &format!("{CREATE}?SessionToken={token}"),
            json!({"message": "Hi", "sessionToken": token}),
        )
        .await;
    reply.assert_ok();
}

#[bellhop_testdb::test]
async fn a_visitors_overlong_form_name_is_cut_not_an_error(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.visitor("device-long-name").await;
    let reply = app
        .post_json(
            CREATE_VISITOR,
            json!({"message": "Hi", "conversationType": "guest", "sessionToken": token,
                   "orderFormDetailsDictionary": {"firstName": "K".repeat(500), "lastName": "Lee"}}),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.conversation()["messages"][0]["firstName"]
            .as_str()
            .unwrap()
            .len(),
        200
    );
}

#[bellhop_testdb::test]
async fn a_page_number_beyond_any_page_is_an_empty_page(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    app.start_conversation(&token, json!({"message": "Hello"}))
        .await;
    for number in ["4294967296", "99999999999999999999"] {
        let reply = app
            .get(&format!(
                "/API/V40/Interactive/Messages?PageNumber={number}&SessionToken={token}"
            ))
            .await;
        reply.assert_ok();
        assert!(reply.content("getMessagesResponse")["messages"]
            .as_array()
            .unwrap()
            .is_empty());
    }
}
