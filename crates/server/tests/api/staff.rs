//! The staff side (section 8 of the spec): keys and their scope, the conversation list with its
//! filters and cursor, starting conversations, replies, read positions, closing and reopening,
//! unread counts, and the whole loop with a guest.

use std::{collections::BTreeSet, sync::Arc};

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    test::TestRequest,
    Error,
};
use bellhop_application::reference_data::{demo_file, validate, ReferenceDataService};
use bellhop_persistence::PgStore;
use chrono::Duration;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::*;

const STAFF: &str = "demo-staff-key";
const BAR: &str = "demo-bar-key";
const OTHER: &str = "other-staff-key";
const LIST: &str = "/staff/v1/conversations";
const UNREAD: &str = "/staff/v1/unread";

fn path(code: &str, action: &str) -> String {
    if action.is_empty() {
        format!("{LIST}/{code}")
    } else {
        format!("{LIST}/{code}/{action}")
    }
}

/// A successful staff list; returns the conversations and the next cursor.
async fn staff_list<S, B>(app: &TestApp<S>, key: &str, query: &str) -> (Vec<Value>, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app.staff_get(&format!("{LIST}{query}"), key).await;
    assert_eq!(reply.status.as_u16(), 200, "{query}: {}", reply.body);
    let conversations = reply.body["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {}", reply.body))
        .clone();
    (conversations, reply.body["nextCursor"].clone())
}

/// The codes of a staff list.
async fn listed<S, B>(app: &TestApp<S>, key: &str, query: &str) -> Vec<String>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    codes(&staff_list(app, key, query).await.0)
}

fn codes(conversations: &[Value]) -> Vec<String> {
    conversations
        .iter()
        .map(|c| {
            c["code"]
                .as_str()
                .unwrap_or_else(|| panic!("a code"))
                .to_owned()
        })
        .collect()
}

/// A successful staff GET of one conversation.
async fn staff_conversation<S, B>(app: &TestApp<S>, key: &str, code: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app.staff_get(&path(code, ""), key).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.body["conversation"].clone()
}

/// A staff reply; asserts 201; returns the message.
async fn staff_reply<S, B>(app: &TestApp<S>, key: &str, code: &str, content: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app
        .staff_post(&path(code, "messages"), key, json!({"content": content}))
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    reply.body["message"].clone()
}

/// A staff POST that answers 200 `{conversation}`; returns the conversation.
async fn staff_action<S, B>(
    app: &TestApp<S>,
    key: &str,
    code: &str,
    action: &str,
    body: Value,
) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app.staff_post(&path(code, action), key, body).await;
    assert_eq!(reply.status.as_u16(), 200, "{action}: {}", reply.body);
    reply.body["conversation"].clone()
}

/// The unread counts as `(outletCode, unreadConversations, unreadMessages)`.
async fn unread<S, B>(app: &TestApp<S>, key: &str) -> Vec<(String, i64, i64)>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app.staff_get(UNREAD, key).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.body["outlets"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of outlets"))
        .iter()
        .map(|o| {
            (
                o["outletCode"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a code"))
                    .to_owned(),
                o["unreadConversations"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("a count")),
                o["unreadMessages"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("a count")),
            )
        })
        .collect()
}

fn counts(entries: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
    entries
        .iter()
        .map(|(code, conversations, messages)| ((*code).to_owned(), *conversations, *messages))
        .collect()
}

fn all_zero() -> Vec<(String, i64, i64)> {
    counts(&[
        ("SPA", 0, 0),
        ("ROOMSVC", 0, 0),
        ("BAR", 0, 0),
        ("CONCIERGE", 0, 0),
    ])
}

/// `POST` a guest message to a conversation; returns the reply.
async fn guest_says<S, B>(app: &TestApp<S>, token: &str, code: &str, message: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.post_json(
        &format!("{CREATE}/{code}/Messages"),
        json!({"sessionToken": token, "message": message}),
    )
    .await
}

/// The guest's view of one conversation.
async fn guest_conversation<S, B>(app: &TestApp<S>, token: &str, code: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app
        .get(&format!("{CREATE}/{code}?SessionToken={token}"))
        .await;
    reply.assert_ok();
    reply.content("getConversationResponse")["conversation"].clone()
}

/// The guest's list of conversations.
async fn guest_list<S, B>(app: &TestApp<S>, token: &str) -> Vec<Value>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app.get(&format!("{CREATE}?SessionToken={token}")).await;
    reply.assert_ok();
    reply.content("getConversationsResponse")["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("a list"))
        .clone()
}

/// A staff error: the status, the code, a message and nothing of the guest envelope.
#[track_caller]
fn assert_staff_error(reply: &Reply, status: u16, code: &str) {
    reply.assert_error(status, code);
    assert!(
        reply.body["error"]["message"].is_string(),
        "a message: {}",
        reply.body
    );
    assert!(reply.body.get("responses").is_none(), "{}", reply.body);
    assert!(reply.body.get("sessionToken").is_none(), "{}", reply.body);
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object"))
        .keys()
        .map(String::as_str)
        .collect()
}

const CONVERSATION_FIELDS: [&str; 12] = [
    "code",
    "subject",
    "outletCode",
    "orderCode",
    "outletName",
    "propertyCode",
    "roomNumber",
    "guestFirstName",
    "guestLastName",
    "guestLanguageCode",
    "conversationStatus",
    "conversationType",
];

fn minute() -> Duration {
    Duration::minutes(1)
}

/// Loads a second property, `OTHER-HOTEL`, with the demo's outlets and stays and its own staff
/// key `other-staff-key` (all outlets).
async fn load_other_property(pool: &PgPool) {
    let mut file = demo_file(midday());
    let property = &mut file.properties[0];
    property.code = "OTHER-HOTEL".into();
    property.name = "Other Hotel".into();
    property.interface_tokens[0].token = "other-interface-token".into();
    property.staff_keys.truncate(1);
    property.staff_keys[0].key = OTHER.into();
    property.staff_keys[0].display_name = "Other Desk".into();
    property.staff_keys[0].outlets = None;
    let data = validate(&file).unwrap_or_else(|e| panic!("a valid file: {e}"));
    ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())))
        .load(&data)
        .await
        .unwrap_or_else(|e| panic!("the other property loads: {e}"));
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn every_staff_route_refuses_a_missing_wrong_or_disabled_key(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let gets = [LIST.to_owned(), path(&code, ""), UNREAD.to_owned()];
    let posts = [
        (
            LIST.to_owned(),
            json!({"roomNumber": "101", "outletCode": "ROOMSVC", "content": "Hi"}),
        ),
        (path(&code, "messages"), json!({"content": "Hi"})),
        (path(&code, "read"), json!({})),
        (path(&code, "close"), json!({})),
        (path(&code, "reopen"), json!({})),
    ];
    let messages_before = app.count("messages").await;

    for path in &gets {
        let reply = app.call(TestRequest::get().uri(path)).await;
        assert_staff_error(&reply, 401, "StaffKeyInvalid");
        for header in [
            "Bearer wrong-key",
            "Bearer ",
            "Basic demo-staff-key",
            "demo-staff-key",
        ] {
            let reply = app
                .call(
                    TestRequest::get()
                        .uri(path)
                        .insert_header(("authorization", header)),
                )
                .await;
            assert_staff_error(&reply, 401, "StaffKeyInvalid");
        }
    }
    for (path, body) in &posts {
        let reply = app
            .call(
                TestRequest::post()
                    .uri(path)
                    .insert_header(("content-type", "application/json"))
                    .set_payload(body.to_string()),
            )
            .await;
        assert_staff_error(&reply, 401, "StaffKeyInvalid");
        let reply = app.staff_post(path, "wrong-key", body.clone()).await;
        assert_staff_error(&reply, 401, "StaffKeyInvalid");
    }
    // The bearer scheme is case-insensitive; the key itself is not.
    let reply = app
        .call(
            TestRequest::get()
                .uri(LIST)
                .insert_header(("authorization", "bearer demo-staff-key")),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_staff_error(
        &app.staff_get(LIST, "DEMO-STAFF-KEY").await,
        401,
        "StaffKeyInvalid",
    );

    sqlx::query("UPDATE staff_keys SET enabled = false WHERE display_name = 'Front Desk Demo'")
        .execute(&app.pool)
        .await
        .unwrap();
    for path in &gets {
        assert_staff_error(&app.staff_get(path, STAFF).await, 401, "StaffKeyInvalid");
    }
    for (path, body) in &posts {
        assert_staff_error(
            &app.staff_post(path, STAFF, body.clone()).await,
            401,
            "StaffKeyInvalid",
        );
    }
    assert_eq!(app.count("messages").await, messages_before);
    assert_eq!(app.count("conversations").await, 1);
    assert_eq!(
        guest_conversation(&app, &ada, &code).await["conversationStatus"],
        "Open"
    );
    // Another key of the property still works.
    assert_eq!(app.staff_get(UNREAD, BAR).await.status.as_u16(), 200);
}

#[bellhop_testdb::test]
async fn staff_routes_answer_other_methods_with_405_in_the_staff_shape(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let with_key =
        |request: TestRequest| request.insert_header(("authorization", format!("Bearer {STAFF}")));
    for request in [
        TestRequest::delete().uri(LIST),
        TestRequest::post().uri(UNREAD),
        TestRequest::post().uri(&path(&code, "")),
        TestRequest::get().uri(&path(&code, "messages")),
        TestRequest::get().uri(&path(&code, "read")),
        TestRequest::put().uri(&path(&code, "close")),
        TestRequest::get().uri(&path(&code, "reopen")),
    ] {
        assert_staff_error(&app.call(with_key(request)).await, 405, "MethodNotAllowed");
    }
    assert_eq!(
        staff_conversation(&app, STAFF, &code).await["conversationStatus"],
        "Open"
    );
}

// ---------------------------------------------------------------------------------------------
// List, filters and paging
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn the_staff_list_shows_conversations_without_messages_but_with_the_last_one(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(
            &ada,
            json!({"message": "Hello", "conversationType": "guest"}),
        )
        .await;
    app.clock.advance(minute());
    guest_says(&app, &ada, &code, "Anyone there?")
        .await
        .assert_ok();

    let (list, next) = staff_list(&app, STAFF, "").await;
    assert_eq!(next, Value::Null);
    assert_eq!(list.len(), 1);
    let item = &list[0];
    let mut expected: BTreeSet<&str> = CONVERSATION_FIELDS.into_iter().collect();
    expected.extend([
        "unreadCount",
        "lastMessage",
        "assignee",
        "awaitingReplySince",
        "replyDueAt",
        "overdue",
    ]);
    assert_eq!(keys(item), expected);
    assert_eq!(item["code"], code.as_str());
    assert_eq!(item["unreadCount"], 2);
    assert_eq!(item["lastMessage"]["content"], "Anyone there?");
    assert_eq!(item["lastMessage"]["isRead"], false);
    assert_eq!(item["lastMessage"]["messageType"], "Guest");
    assert_eq!(item["roomNumber"], "101");
    assert_eq!(item["guestFirstName"], "Ada");
    assert_eq!(item["outletCode"], "ROOMSVC");
    assert_eq!(item["outletName"], "In-Room Dining");
    assert_eq!(item["propertyCode"], "DEMO-HOTEL");
    assert_eq!(item["conversationType"], "guest");
    assert_eq!(item["conversationStatus"], "Open");
    assert_eq!(item["subject"], "Hello");
}

#[bellhop_testdb::test]
async fn the_staff_list_pages_by_cursor_most_recent_activity_first(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let alan = app.guest("102", "Turing").await;
    let mut created = Vec::new();
    for n in 0..5 {
        app.clock.advance(minute());
        let token = if n % 2 == 0 { &ada } else { &alan };
        created.push(
            app.start_conversation(token, json!({"message": format!("Conversation {n}")}))
                .await,
        );
    }
    // The oldest becomes the most recent by a new message.
    app.clock.advance(minute());
    guest_says(&app, &ada, &created[0], "Bump")
        .await
        .assert_ok();
    let expected: Vec<String> = [0, 4, 3, 2, 1]
        .into_iter()
        .map(|i| created[i].clone())
        .collect();
    assert_eq!(listed(&app, STAFF, "").await, expected);

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let (page, next) = staff_list(&app, STAFF, &query).await;
        sizes.push(page.len());
        seen.extend(codes(&page));
        match next.as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => {
                assert_eq!(next, Value::Null);
                break;
            }
        }
        assert!(sizes.len() < 10, "the cursor never ends");
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, expected, "every conversation once, in order");

    let (page, next) = staff_list(&app, STAFF, "?limit=200").await;
    assert_eq!(page.len(), 5);
    assert_eq!(next, Value::Null);
    let (page, _) = staff_list(&app, STAFF, "?limit=1").await;
    assert_eq!(codes(&page), [expected[0].clone()]);
}

#[bellhop_testdb::test]
async fn the_staff_list_defaults_to_fifty_conversations(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    for n in 0..51 {
        app.start_conversation(&ada, json!({"message": format!("Conversation {n}")}))
            .await;
    }
    let (page, next) = staff_list(&app, STAFF, "").await;
    assert_eq!(page.len(), 50);
    let cursor = next
        .as_str()
        .unwrap_or_else(|| panic!("a cursor after a full page"))
        .to_owned();
    let (rest, next) = staff_list(&app, STAFF, &format!("?cursor={cursor}")).await;
    assert_eq!(rest.len(), 1);
    assert_eq!(next, Value::Null);
    let mut all = codes(&page);
    all.extend(codes(&rest));
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 51);
}

#[bellhop_testdb::test]
async fn out_of_range_limits_and_bad_cursors_are_rejected(pool: PgPool) {
    let app = spawn(pool).await;
    for query in ["?limit=0", "?limit=201", "?limit=-1", "?limit=1000000"] {
        assert_staff_error(
            &app.staff_get(&format!("{LIST}{query}"), STAFF).await,
            400,
            "InvalidPaging",
        );
    }
    let reply = app.staff_get(&format!("{LIST}?limit=ten"), STAFF).await;
    assert_eq!(reply.status.as_u16(), 400, "{}", reply.body);
    assert!(matches!(
        reply.error_code(),
        Some("InvalidPaging" | "InvalidRequest")
    ));
    for cursor in ["not-a-cursor", "!!!", "bm9wZQ", "MTp4"] {
        assert_staff_error(
            &app.staff_get(&format!("{LIST}?cursor={cursor}"), STAFF)
                .await,
            400,
            "InvalidRequest",
        );
    }
    for query in [
        "?status=Pending",
        "?updatedSince=yesterday",
        "?unread=maybe",
    ] {
        assert_staff_error(
            &app.staff_get(&format!("{LIST}{query}"), STAFF).await,
            400,
            "InvalidRequest",
        );
    }
}

#[bellhop_testdb::test]
async fn the_staff_list_filters_by_outlet_status_unread_order_and_time(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let alan = app.guest("102", "Turing").await;
    let start = midday();
    app.clock.advance(minute());
    let room_service = app
        .start_conversation(&ada, json!({"message": "Soup", "orderCode": "ORD-1001"}))
        .await;
    app.clock.advance(minute());
    let bar = app
        .start_conversation(&ada, json!({"message": "Mojito", "orderCode": "ORD-1002"}))
        .await;
    app.clock.advance(minute());
    let concierge = app
        .start_conversation(&alan, json!({"message": "Taxi", "outletCode": "CONCIERGE"}))
        .await;
    staff_action(&app, STAFF, &concierge, "close", json!({})).await;
    staff_action(&app, STAFF, &room_service, "read", json!({})).await;

    let cases: [(&str, Vec<&String>); 14] = [
        ("", vec![&concierge, &bar, &room_service]),
        ("?outletCode=BAR", vec![&bar]),
        ("?outletCode=ROOMSVC", vec![&room_service]),
        ("?outletCode=SPA", vec![]),
        ("?outletCode=bar", vec![]),
        ("?outletCode=NOPE", vec![]),
        ("?status=Closed", vec![&concierge]),
        ("?status=Open", vec![&bar, &room_service]),
        ("?unread=true", vec![&concierge, &bar]),
        ("?unread=TRUE&status=Open", vec![&bar]),
        ("?unread=false", vec![&concierge, &bar, &room_service]),
        ("?orderCode=ORD-1001", vec![&room_service]),
        ("?orderCode=ORD-2001", vec![]),
        ("?outletCode=ROOMSVC&status=Closed", vec![]),
    ];
    for (query, expected) in cases {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(listed(&app, STAFF, query).await, expected, "{query}");
    }

    let at = |minutes: i64| {
        (start + Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    assert_eq!(
        listed(&app, STAFF, &format!("?updatedSince={}", at(2))).await,
        [concierge.clone(), bar.clone()],
        "updatedSince includes its own instant"
    );
    assert_eq!(
        listed(&app, STAFF, &format!("?updatedSince={}", at(3))).await,
        [concierge.as_str()]
    );
    assert!(listed(&app, STAFF, &format!("?updatedSince={}", at(4)))
        .await
        .is_empty());
    let offset = (start + Duration::minutes(2))
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .to_rfc3339();
    assert_eq!(
        listed(
            &app,
            STAFF,
            &format!("?updatedSince={}", offset.replace('+', "%2B"))
        )
        .await,
        [concierge.clone(), bar.clone()],
        "an offset other than UTC: {offset}"
    );
    // A new message moves a conversation into the window.
    app.clock.advance(minute());
    staff_reply(&app, STAFF, &room_service, "Coming up").await;
    assert_eq!(
        listed(&app, STAFF, &format!("?updatedSince={}", at(4))).await,
        [room_service.as_str()]
    );
}

// ---------------------------------------------------------------------------------------------
// Scope: limited keys and other properties
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn a_bar_key_sees_and_touches_only_bar_conversations(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let room_service = app
        .start_conversation(&ada, json!({"message": "Soup"}))
        .await;
    app.clock.advance(minute());
    let bar = app
        .start_conversation(&ada, json!({"message": "Mojito", "orderCode": "ORD-1002"}))
        .await;

    assert_eq!(listed(&app, BAR, "").await, [bar.as_str()]);
    assert_eq!(listed(&app, BAR, "?outletCode=BAR").await, [bar.as_str()]);
    assert!(listed(&app, BAR, "?outletCode=ROOMSVC").await.is_empty());
    assert!(listed(&app, BAR, "?orderCode=ORD-1001").await.is_empty());
    assert_eq!(
        listed(&app, STAFF, "").await,
        [bar.clone(), room_service.clone()]
    );
    assert_eq!(unread(&app, BAR).await, counts(&[("BAR", 1, 1)]));
    assert_eq!(
        unread(&app, STAFF).await,
        counts(&[
            ("SPA", 0, 0),
            ("ROOMSVC", 1, 1),
            ("BAR", 1, 1),
            ("CONCIERGE", 0, 0)
        ])
    );

    let unknown = "AAAAAAAAAAAAAAAAAAAAAA";
    for target in [room_service.as_str(), unknown] {
        assert_staff_error(
            &app.staff_get(&path(target, ""), BAR).await,
            404,
            "ConversationNotFound",
        );
        for (action, body) in [
            ("messages", json!({"content": "Hi"})),
            ("read", json!({})),
            ("close", json!({})),
            ("reopen", json!({})),
        ] {
            assert_staff_error(
                &app.staff_post(&path(target, action), BAR, body).await,
                404,
                "ConversationNotFound",
            );
        }
    }
    let foreign = app.staff_get(&path(&room_service, ""), BAR).await;
    let missing = app.staff_get(&path(unknown, ""), BAR).await;
    assert_eq!(foreign.body, missing.body);
    let untouched = staff_conversation(&app, STAFF, &room_service).await;
    assert_eq!(untouched["conversationStatus"], "Open");
    assert_eq!(untouched["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(untouched["unreadCount"], 1);

    // Its own conversations it may work on, signed with its own name.
    let reply = staff_reply(&app, BAR, &bar, "Shaken, not stirred?").await;
    assert_eq!(reply["firstName"], "Bar Demo");
    assert_eq!(reply["serviceCenterName"], "Bar Team");
    assert_eq!(
        staff_action(&app, BAR, &bar, "read", json!({})).await["unreadCount"],
        0
    );
    assert_eq!(unread(&app, BAR).await, counts(&[("BAR", 0, 0)]));
}

#[bellhop_testdb::test]
async fn a_bar_key_starts_conversations_only_at_the_bar(pool: PgPool) {
    let app = spawn(pool).await;
    for outlet in ["ROOMSVC", "SPA", "CONCIERGE", "POOLBAR"] {
        let reply = app
            .staff_post(
                LIST,
                BAR,
                json!({"roomNumber": "101", "outletCode": outlet, "content": "Hi"}),
            )
            .await;
        assert_staff_error(&reply, 404, "OutletNotFound");
    }
    assert_eq!(app.count("conversations").await, 0);
    let reply = app
        .staff_post(
            LIST,
            BAR,
            json!({"roomNumber": "101", "outletCode": "BAR", "content": "Happy hour at five"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let message = &reply.body["conversation"]["messages"][0];
    assert_eq!(message["firstName"], "Bar Demo");
    assert_eq!(message["serviceCenterName"], "Bar Team");
}

#[bellhop_testdb::test]
async fn another_propertys_key_sees_nothing_of_the_demo_hotel(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    load_other_property(&pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let started = app
        .staff_post(
            LIST,
            STAFF,
            json!({"roomNumber": "102", "outletCode": "CONCIERGE", "content": "Welcome"}),
        )
        .await;
    assert_eq!(started.status.as_u16(), 201, "{}", started.body);
    let from_staff = started.body["conversation"]["code"]
        .as_str()
        .unwrap()
        .to_owned();

    assert!(listed(&app, OTHER, "").await.is_empty());
    assert!(listed(&app, OTHER, "?outletCode=ROOMSVC").await.is_empty());
    assert!(listed(&app, OTHER, "?unread=true").await.is_empty());
    assert_eq!(unread(&app, OTHER).await, all_zero());
    for target in [&code, &from_staff] {
        assert_staff_error(
            &app.staff_get(&path(target, ""), OTHER).await,
            404,
            "ConversationNotFound",
        );
        for (action, body) in [
            ("messages", json!({"content": "Hi"})),
            ("read", json!({})),
            ("close", json!({})),
            ("reopen", json!({})),
        ] {
            assert_staff_error(
                &app.staff_post(&path(target, action), OTHER, body).await,
                404,
                "ConversationNotFound",
            );
        }
    }
    let demo = staff_conversation(&app, STAFF, &code).await;
    assert_eq!(demo["conversationStatus"], "Open");
    assert_eq!(demo["unreadCount"], 1);
    assert_eq!(demo["messages"].as_array().map(Vec::len), Some(1));

    // The other property's own guest in room 101, seen by its key only.
    let theirs = app
        .staff_post(
            LIST,
            OTHER,
            json!({"roomNumber": "101", "outletCode": "ROOMSVC", "content": "Hello from the other side"}),
        )
        .await;
    assert_eq!(theirs.status.as_u16(), 201, "{}", theirs.body);
    let theirs = &theirs.body["conversation"];
    assert_eq!(theirs["propertyCode"], "OTHER-HOTEL");
    assert_eq!(theirs["messages"][0]["firstName"], "Other Desk");
    let their_code = theirs["code"].as_str().unwrap().to_owned();
    assert_eq!(listed(&app, OTHER, "").await, [their_code.as_str()]);
    assert_eq!(
        listed(&app, STAFF, "").await,
        [from_staff.clone(), code.clone()]
    );
    assert_staff_error(
        &app.staff_get(&path(&their_code, ""), STAFF).await,
        404,
        "ConversationNotFound",
    );
    assert_eq!(
        codes(&guest_list(&app, &ada).await),
        [code.as_str()],
        "Ada of the demo hotel is not the other hotel's guest in 101"
    );
}

// ---------------------------------------------------------------------------------------------
// One conversation, starting, replying
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn staff_get_one_conversation_with_all_messages_oldest_first(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "One", "orderCode": "ORD-1001"}))
        .await;
    app.clock.advance(minute());
    staff_reply(&app, STAFF, &code, "Two").await;
    app.clock.advance(minute());
    guest_says(&app, &ada, &code, "Three").await.assert_ok();

    let conversation = staff_conversation(&app, STAFF, &code).await;
    let mut expected: BTreeSet<&str> = CONVERSATION_FIELDS.into_iter().collect();
    expected.extend([
        "messages",
        "unreadCount",
        "orderFormDetails",
        "assignee",
        "notes",
        "awaitingReplySince",
        "replyDueAt",
        "overdue",
    ]);
    assert_eq!(keys(&conversation), expected);
    let contents: Vec<&str> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["One", "Two", "Three"]);
    assert_eq!(conversation["orderCode"], "ORD-1001");
    assert_eq!(conversation["subject"], "Order ORD-1001");
    assert_eq!(conversation["orderFormDetails"], Value::Null);
    assert_eq!(conversation["unreadCount"], 2);
    // The guest's view of the same messages is the same apart from who has read what.
    let guest = guest_conversation(&app, &ada, &code).await;
    for field in CONVERSATION_FIELDS {
        assert_eq!(conversation[field], guest[field], "{field}");
    }
    assert_staff_error(
        &app.staff_get(&path("NO-SUCH-CODE", ""), STAFF).await,
        404,
        "ConversationNotFound",
    );
}

#[bellhop_testdb::test]
async fn staff_start_a_conversation_with_the_guest_of_a_room(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app
        .staff_post(
            LIST,
            STAFF,
            json!({"roomNumber": "101", "outletCode": "ROOMSVC",
                   "content": "  Your table is ready\nSee you soon  "}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let conversation = &reply.body["conversation"];
    assert_eq!(conversation["roomNumber"], "101");
    assert_eq!(conversation["guestFirstName"], "Ada");
    assert_eq!(conversation["guestLastName"], "Lovelace");
    assert_eq!(conversation["guestLanguageCode"], "en");
    assert_eq!(conversation["propertyCode"], "DEMO-HOTEL");
    assert_eq!(conversation["outletCode"], "ROOMSVC");
    assert_eq!(conversation["outletName"], "In-Room Dining");
    assert_eq!(conversation["orderCode"], Value::Null);
    assert_eq!(conversation["conversationStatus"], "Open");
    assert_eq!(conversation["subject"], "Your table is ready");
    assert_eq!(conversation["orderFormDetails"], Value::Null);
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["messageType"], "ServiceCenter");
    assert_eq!(message["serviceCenterName"], "Room Service Centre");
    assert_eq!(message["firstName"], "Front Desk Demo");
    assert_eq!(message["lastName"], "");
    assert_eq!(message["languageCode"], "en");
    assert_eq!(message["content"], "Your table is ready\nSee you soon");
    assert_eq!(message["isRead"], false);
    assert_eq!(message["isTranslated"], false);
    let code = conversation["code"].as_str().unwrap().to_owned();

    // Ada, from any session of her stay, sees it unread.
    let ada = app.ada().await;
    let list = guest_list(&app, &ada).await;
    assert_eq!(codes(&list), [code.as_str()]);
    assert_eq!(list[0]["unreadCount"], 1);
    assert_eq!(
        list[0]["messages"][0]["content"],
        "Your table is ready\nSee you soon"
    );
    // Staff have nothing unread: the only message is their own.
    assert_eq!(
        staff_conversation(&app, STAFF, &code).await["unreadCount"],
        0
    );
    assert_eq!(unread(&app, STAFF).await, all_zero());
    // Ada can answer it.
    guest_says(&app, &ada, &code, "Thank you").await.assert_ok();
    assert_eq!(
        unread(&app, STAFF).await,
        counts(&[
            ("SPA", 0, 0),
            ("ROOMSVC", 1, 1),
            ("BAR", 0, 0),
            ("CONCIERGE", 0, 0)
        ])
    );
}

#[bellhop_testdb::test]
async fn staff_messages_carry_the_propertys_language_whatever_the_guests(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app
        .staff_post(
            LIST,
            STAFF,
            json!({"roomNumber": "203", "outletCode": "CONCIERGE", "content": "Bonjour"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let conversation = &reply.body["conversation"];
    assert_eq!(conversation["guestLanguageCode"], "fr");
    assert_eq!(conversation["messages"][0]["languageCode"], "en");
    assert_eq!(
        conversation["messages"][0]["serviceCenterName"],
        "Front Desk"
    );
    let code = conversation["code"].as_str().unwrap();
    assert_eq!(
        staff_reply(&app, STAFF, code, "Encore").await["languageCode"],
        "en"
    );
}

#[bellhop_testdb::test]
async fn starting_a_conversation_needs_an_in_house_guest_and_an_active_outlet_of_the_key(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let cases = [
        (
            json!({"roomNumber": "999", "outletCode": "ROOMSVC", "content": "Hi"}),
            404,
            "GuestNotFound",
        ),
        (
            json!({"roomNumber": "101", "outletCode": "POOLBAR", "content": "Hi"}),
            404,
            "OutletNotFound",
        ),
        (
            json!({"roomNumber": "101", "outletCode": "NOPE", "content": "Hi"}),
            404,
            "OutletNotFound",
        ),
        (
            json!({"roomNumber": "101", "outletCode": "roomsvc", "content": "Hi"}),
            404,
            "OutletNotFound",
        ),
        (
            json!({"roomNumber": "101", "outletCode": "ROOMSVC"}),
            400,
            "MessageRequired",
        ),
        (
            json!({"roomNumber": "101", "outletCode": "ROOMSVC", "content": "   "}),
            400,
            "MessageRequired",
        ),
        (
            json!({"roomNumber": "101", "outletCode": "ROOMSVC", "content": "x".repeat(4001)}),
            400,
            "MessageTooLong",
        ),
        (
            json!({"outletCode": "ROOMSVC", "content": "Hi"}),
            400,
            "InvalidRequest",
        ),
        (
            json!({"roomNumber": "101", "content": "Hi"}),
            400,
            "InvalidRequest",
        ),
    ];
    for (body, status, code) in cases {
        let reply = app.staff_post(LIST, STAFF, body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.body);
        assert_eq!(reply.error_code(), Some(code), "{body}: {}", reply.body);
        assert!(reply.body["error"]["message"].is_string());
    }
    assert_eq!(app.count("conversations").await, 0);
    assert_eq!(app.count("messages").await, 0);

    // Staff may write from the spa although guests may not, and while it is closed.
    let reply = app
        .staff_post(
            LIST,
            STAFF,
            json!({"roomNumber": "204", "outletCode": "SPA", "content": "Your massage is at 3"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    assert_eq!(reply.body["conversation"]["outletCode"], "SPA");
    assert_eq!(reply.body["conversation"]["guestFirstName"], "José");
    assert_eq!(
        reply.body["conversation"]["messages"][0]["serviceCenterName"],
        "Spa Reception"
    );
    let app_closed_bar = app
        .staff_post(
            LIST,
            STAFF,
            json!({"roomNumber": 102, "outletCode": "BAR", "content": "The bar opens at five"}),
        )
        .await;
    assert_eq!(
        app_closed_bar.status.as_u16(),
        201,
        "{}",
        app_closed_bar.body
    );
    assert_eq!(app_closed_bar.body["conversation"]["roomNumber"], "102");
}

#[bellhop_testdb::test]
async fn a_checked_out_guest_cannot_be_written_to(pool: PgPool) {
    let app = spawn(pool).await;
    app.clock.advance(Duration::days(4));
    let reply = app
        .staff_post(
            LIST,
            STAFF,
            json!({"roomNumber": "101", "outletCode": "ROOMSVC", "content": "Hello?"}),
        )
        .await;
    assert_staff_error(&reply, 404, "GuestNotFound");
}

#[bellhop_testdb::test]
async fn a_staff_reply_is_signed_by_the_key_and_the_outlets_service_centre(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(
            &ada,
            json!({"message": "Hello", "conversationType": "guest"}),
        )
        .await;
    app.clock.advance(minute());
    let reply = app
        .staff_post(
            &path(&code, "messages"),
            STAFF,
            json!({"content": "  How can we help?  "}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let message = &reply.body["message"];
    assert_eq!(message["messageType"], "ServiceCenter");
    assert_eq!(message["serviceCenterName"], "Room Service Centre");
    assert_eq!(message["firstName"], "Front Desk Demo");
    assert_eq!(message["lastName"], "");
    assert_eq!(message["languageCode"], "en");
    assert_eq!(message["content"], "How can we help?");
    assert_eq!(message["isRead"], false);
    assert_eq!(message["isTranslated"], false);
    assert!(message["code"].is_string());
    // Staff see whether the service wrote it itself; the guest sees the seed's shape.
    assert_eq!(message["automatic"], false);
    let mut as_guest_sees_it = message.clone();
    as_guest_sees_it
        .as_object_mut()
        .unwrap()
        .remove("automatic");
    let guest = guest_conversation(&app, &ada, &code).await;
    assert_eq!(guest["messages"][1], as_guest_sees_it);

    for (body, status, error) in [
        (json!({}), 400, "MessageRequired"),
        (json!({"content": ""}), 400, "MessageRequired"),
        (json!({"content": "x".repeat(4001)}), 400, "MessageTooLong"),
        (json!({"content": {"text": "Hi"}}), 400, "InvalidRequest"),
    ] {
        let reply = app
            .staff_post(&path(&code, "messages"), STAFF, body.clone())
            .await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.body);
        assert_eq!(reply.error_code(), Some(error), "{body}: {}", reply.body);
    }
    assert_staff_error(
        &app.staff_post(
            &path("NO-SUCH-CODE", "messages"),
            STAFF,
            json!({"content": "Hi"}),
        )
        .await,
        404,
        "ConversationNotFound",
    );
    assert_eq!(
        staff_conversation(&app, STAFF, &code).await["messages"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

// ---------------------------------------------------------------------------------------------
// Close, reopen, read
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn a_closed_conversation_takes_no_replies_until_it_is_reopened(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let closed = staff_action(&app, STAFF, &code, "close", json!({})).await;
    assert_eq!(closed["conversationStatus"], "Closed");
    assert_eq!(closed["code"], code.as_str());
    assert_eq!(closed["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed(&app, STAFF, "?status=Closed").await, [code.as_str()]);

    assert_staff_error(
        &app.staff_post(&path(&code, "messages"), STAFF, json!({"content": "Hi"}))
            .await,
        409,
        "ConversationClosed",
    );
    // A guest's message would reopen it (section 14): see `workflow.rs`.
    assert_eq!(
        guest_conversation(&app, &ada, &code).await["conversationStatus"],
        "Closed"
    );
    // Closing twice keeps it closed.
    assert_eq!(
        staff_action(&app, STAFF, &code, "close", json!({})).await["conversationStatus"],
        "Closed"
    );

    let reopened = staff_action(&app, STAFF, &code, "reopen", json!({})).await;
    assert_eq!(reopened["conversationStatus"], "Open");
    staff_reply(&app, STAFF, &code, "We are here").await;
    guest_says(&app, &ada, &code, "Thanks").await.assert_ok();
    assert_eq!(
        guest_conversation(&app, &ada, &code).await["messages"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // A conversation the guest closed can be reopened by staff too.
    let reply = app
        .post_json(
            &format!("{CREATE}/{code}/Close"),
            json!({"sessionToken": ada}),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        staff_conversation(&app, STAFF, &code).await["conversationStatus"],
        "Closed"
    );
    assert_eq!(
        staff_action(&app, STAFF, &code, "reopen", json!({})).await["conversationStatus"],
        "Open"
    );
    // A POST without any body is fine where the body is optional.
    for (action, status) in [("close", "Closed"), ("reopen", "Open")] {
        let reply = app
            .call(
                TestRequest::post()
                    .uri(&path(&code, action))
                    .insert_header(("authorization", format!("Bearer {STAFF}"))),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
        assert_eq!(reply.body["conversation"]["conversationStatus"], status);
    }
    for action in ["close", "reopen", "read"] {
        assert_staff_error(
            &app.staff_post(&path("NO-SUCH-CODE", action), STAFF, json!({}))
                .await,
            404,
            "ConversationNotFound",
        );
    }
}

#[bellhop_testdb::test]
async fn the_staff_read_position_moves_only_forward(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "One"}))
        .await;
    let mut guest_codes = vec![
        guest_conversation(&app, &ada, &code).await["messages"][0]["code"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    for content in ["Two", "Three"] {
        app.clock.advance(minute());
        let reply = guest_says(&app, &ada, &code, content).await;
        reply.assert_ok();
        guest_codes.push(
            reply.content("addMessageResponse")["message"]["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let flags = |conversation: &Value| -> Vec<bool> {
        conversation["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["isRead"].as_bool().unwrap())
            .collect()
    };
    assert_eq!(
        staff_conversation(&app, STAFF, &code).await["unreadCount"],
        3
    );

    let after = staff_action(
        &app,
        STAFF,
        &code,
        "read",
        json!({"messageCode": guest_codes[1]}),
    )
    .await;
    assert_eq!(flags(&after), [true, true, false]);
    assert_eq!(after["unreadCount"], 1);
    let after = staff_action(
        &app,
        STAFF,
        &code,
        "read",
        json!({"messageCode": guest_codes[0]}),
    )
    .await;
    assert_eq!(flags(&after), [true, true, false], "never moves back");
    assert_eq!(after["unreadCount"], 1);
    assert_eq!(listed(&app, STAFF, "?unread=true").await, [code.as_str()]);

    for unknown in ["NO-SUCH-MESSAGE".to_owned(), guest_codes[2].to_lowercase()] {
        if unknown == guest_codes[2] {
            continue;
        }
        assert_staff_error(
            &app.staff_post(&path(&code, "read"), STAFF, json!({"messageCode": unknown}))
                .await,
            404,
            "MessageNotFound",
        );
    }
    assert_eq!(
        staff_conversation(&app, STAFF, &code).await["unreadCount"],
        1
    );

    let after = staff_action(&app, STAFF, &code, "read", json!({})).await;
    assert_eq!(flags(&after), [true, true, true]);
    assert_eq!(after["unreadCount"], 0);
    let after = staff_action(
        &app,
        STAFF,
        &code,
        "read",
        json!({"messageCode": guest_codes[0]}),
    )
    .await;
    assert_eq!(flags(&after), [true, true, true]);
    assert!(listed(&app, STAFF, "?unread=true").await.is_empty());
    // The guest sees the read receipts.
    assert_eq!(
        flags(&guest_conversation(&app, &ada, &code).await),
        [true, true, true]
    );
}

#[bellhop_testdb::test]
async fn a_message_of_another_conversation_is_not_found_when_reading(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "One"}))
        .await;
    let other = app
        .post_json(CREATE, json!({"sessionToken": ada, "message": "Other"}))
        .await;
    other.assert_ok();
    let other_message = other.conversation()["messages"][0]["code"].clone();
    assert_staff_error(
        &app.staff_post(
            &path(&code, "read"),
            STAFF,
            json!({"messageCode": other_message}),
        )
        .await,
        404,
        "MessageNotFound",
    );
    assert_eq!(unread(&app, STAFF).await[1], ("ROOMSVC".to_owned(), 2, 2));
}

// ---------------------------------------------------------------------------------------------
// Visitors' forms
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn staff_see_a_visitors_form_details_and_null_for_a_verified_guest(pool: PgPool) {
    let app = spawn(pool).await;
    let visitor = app.visitor("device-kim").await;
    let form = json!({"firstName": "Kim", "lastName": "Lee", "phone": "+44 20 7946 0000",
                      "party": {"size": 2, "children": [7, 9]}, "vip": true});
    let reply = app
        .post_json(
            CREATE_VISITOR,
            json!({"sessionToken": visitor, "message": "A table for tonight?",
                   "conversationType": "guest", "orderFormDetailsDictionary": form}),
        )
        .await;
    reply.assert_ok();
    let visitor_code = reply.conversation()["code"].as_str().unwrap().to_owned();
    let ada = app.ada().await;
    let ada_code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;

    let seen = staff_conversation(&app, STAFF, &visitor_code).await;
    assert_eq!(seen["orderFormDetails"], form);
    assert_eq!(seen["roomNumber"], Value::Null);
    assert_eq!(seen["guestFirstName"], Value::Null);
    assert_eq!(seen["guestLanguageCode"], Value::Null);
    assert_eq!(seen["outletCode"], "CONCIERGE");
    assert_eq!(seen["messages"][0]["firstName"], "Kim");
    assert_eq!(
        staff_conversation(&app, STAFF, &ada_code).await["orderFormDetails"],
        Value::Null
    );
    // The list has no form, and the staff actions return it too.
    let (list, _) = staff_list(&app, STAFF, "?outletCode=CONCIERGE").await;
    assert_eq!(codes(&list), [visitor_code.as_str()]);
    assert!(list[0].get("orderFormDetails").is_none());
    let replied = staff_reply(&app, STAFF, &visitor_code, "Of course").await;
    assert_eq!(replied["serviceCenterName"], "Front Desk");
    let read = staff_action(&app, STAFF, &visitor_code, "read", json!({})).await;
    assert_eq!(read["orderFormDetails"], form);
    // The visitor sees the reply unread.
    let visitor_list = guest_list(&app, &visitor).await;
    assert_eq!(codes(&visitor_list), [visitor_code.as_str()]);
    assert_eq!(visitor_list[0]["unreadCount"], 1);
}

// ---------------------------------------------------------------------------------------------
// The whole loop
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn a_guest_and_staff_go_round_the_whole_loop(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    assert_eq!(unread(&app, STAFF).await, all_zero());

    // The guest writes.
    let created = app
        .post_json(
            CREATE,
            json!({"sessionToken": ada, "message": "Could I have extra pillows?"}),
        )
        .await;
    created.assert_ok();
    let code = created.conversation()["code"].as_str().unwrap().to_owned();
    let guest_message = created.conversation()["messages"][0]["code"].clone();

    // Staff see it unread.
    let (list, next) = staff_list(&app, STAFF, "?unread=true").await;
    assert_eq!(next, Value::Null);
    assert_eq!(codes(&list), [code.as_str()]);
    assert_eq!(list[0]["unreadCount"], 1);
    assert_eq!(
        list[0]["lastMessage"]["content"],
        "Could I have extra pillows?"
    );
    assert_eq!(list[0]["lastMessage"]["isRead"], false);
    assert_eq!(
        unread(&app, STAFF).await,
        counts(&[
            ("SPA", 0, 0),
            ("ROOMSVC", 1, 1),
            ("BAR", 0, 0),
            ("CONCIERGE", 0, 0)
        ])
    );
    assert_eq!(unread(&app, BAR).await, counts(&[("BAR", 0, 0)]));

    // Staff read it.
    let read = staff_action(
        &app,
        STAFF,
        &code,
        "read",
        json!({"messageCode": guest_message}),
    )
    .await;
    assert_eq!(read["unreadCount"], 0);
    assert_eq!(read["messages"][0]["isRead"], true);
    assert!(listed(&app, STAFF, "?unread=true").await.is_empty());
    assert_eq!(unread(&app, STAFF).await, all_zero());

    // Staff reply.
    app.clock.advance(minute());
    let reply = staff_reply(&app, STAFF, &code, "On their way").await;
    assert_eq!(
        unread(&app, STAFF).await,
        all_zero(),
        "staff's own reply is not unread for staff"
    );
    let (list, _) = staff_list(&app, STAFF, "").await;
    assert_eq!(list[0]["lastMessage"]["code"], reply["code"]);
    assert_eq!(list[0]["unreadCount"], 0);

    // The guest sees the reply unread, and the receipt for their own message.
    let guest_view = guest_list(&app, &ada).await;
    assert_eq!(guest_view[0]["unreadCount"], 1);
    assert_eq!(guest_view[0]["messages"][0]["code"], reply["code"]);
    assert_eq!(guest_view[0]["messages"][0]["isRead"], false);
    let conversation = guest_conversation(&app, &ada, &code).await;
    assert_eq!(conversation["messages"][0]["isRead"], true, "read receipt");
    assert_eq!(conversation["messages"][1]["isRead"], false);
    assert_eq!(conversation["messages"][1]["content"], "On their way");
    let feed = app
        .get(&format!("/API/V40/Interactive/Messages?SessionToken={ada}"))
        .await;
    let feed = feed.content("getMessagesResponse")["messages"].clone();
    assert_eq!(feed[0]["isRead"], true);
    assert_eq!(feed[1]["isRead"], false);

    // The guest reads it.
    let read = app
        .post_json(
            &format!("{CREATE}/{code}/Read"),
            json!({"sessionToken": ada}),
        )
        .await;
    read.assert_ok();
    assert_eq!(guest_list(&app, &ada).await[0]["unreadCount"], 0);
    assert_eq!(
        guest_conversation(&app, &ada, &code).await["messages"][1]["isRead"],
        true
    );
    // Staff see their reply read, and still nothing unread.
    let staff_view = staff_conversation(&app, STAFF, &code).await;
    assert_eq!(staff_view["messages"][1]["isRead"], true);
    assert_eq!(staff_view["unreadCount"], 0);
    assert_eq!(unread(&app, STAFF).await, all_zero());
    assert!(listed(&app, STAFF, "?unread=true").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Maintained unread counts under concurrency
// ---------------------------------------------------------------------------------------------

/// The unread counts of every active outlet recounted by plain SQL over the messages (guest
/// messages after the staff read position), in the shape of [`unread`].
async fn recount(pool: &PgPool) -> Vec<(String, i64, i64)> {
    sqlx::query_as(
        "SELECT o.code, count(DISTINCT m.conversation_id), count(m.id)
           FROM outlets o
           JOIN properties p ON p.id = o.property_id AND p.code = 'DEMO-HOTEL'
           LEFT JOIN conversations c ON c.property_id = o.property_id AND c.outlet_id = o.id
           LEFT JOIN messages m ON m.property_id = c.property_id AND m.conversation_id = c.id
                               AND m.message_type = 'Guest' AND m.seq > c.staff_read_seq
          WHERE o.active
          GROUP BY o.id, o.display_order, o.code
          ORDER BY o.display_order, o.code",
    )
    .fetch_all(pool)
    .await
    .expect("a recount")
}

#[bellhop_testdb::test]
async fn unread_counts_equal_a_recount_after_concurrent_messages_replies_and_reads(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let (ada, alan) = (app.ada().await, app.guest("102", "Turing").await);
    let mut conversations = Vec::new();
    for (token, order) in [
        (&ada, None),
        (&ada, Some("ORD-1002")),
        (&alan, None),
        (&alan, Some("ORD-2001")),
    ] {
        let mut fields = json!({"message": "Hello"});
        if let Some(order) = order {
            fields["orderCode"] = json!(order);
        }
        let code = app.start_conversation(token, fields).await;
        conversations.push((token.clone(), code));
    }
    // Rounds of guest messages, staff replies and staff reads (all, or up to a message seen
    // before), all at once over every conversation.
    let mut saw_unread = false;
    for round in 0..6 {
        let mut seen = Vec::new();
        for (_, code) in &conversations {
            let conversation = staff_conversation(&app, STAFF, code).await;
            let messages = conversation["messages"].as_array().expect("messages");
            seen.push(
                messages[messages.len() / 2]["code"]
                    .as_str()
                    .expect("a code")
                    .to_owned(),
            );
        }
        let work = conversations
            .iter()
            .zip(&seen)
            .flat_map(|((token, code), middle)| {
                (0..8).map(move |k| (token.clone(), code.clone(), middle.clone(), k))
            });
        let replies = futures_util::future::join_all(work.map(|(token, code, middle, k)| {
            let app = &app;
            async move {
                let path = format!("{CREATE}/{code}/Messages");
                match (k + round) % 4 {
                    0 | 1 => app
                        .post_json(
                            &path,
                            json!({"message": format!("Guest {round}.{k}"), "sessionToken": token}),
                        )
                        .await
                        .status
                        .as_u16(),
                    2 => app
                        .staff_post(
                            &format!("{LIST}/{code}/messages"),
                            STAFF,
                            json!({"content": format!("Staff {round}.{k}")}),
                        )
                        .await
                        .status
                        .as_u16(),
                    _ if k % 2 == 0 => app
                        .staff_post(&format!("{LIST}/{code}/read"), STAFF, json!({}))
                        .await
                        .status
                        .as_u16(),
                    _ => app
                        .staff_post(
                            &format!("{LIST}/{code}/read"),
                            STAFF,
                            json!({"messageCode": middle}),
                        )
                        .await
                        .status
                        .as_u16(),
                }
            }
        }))
        .await;
        for status in replies {
            assert!(status == 200 || status == 201, "answered {status}");
        }
        let expected = recount(&pool).await;
        assert_eq!(unread(&app, STAFF).await, expected, "round {round}");
        saw_unread |= expected
            .iter()
            .any(|(_, conversations, _)| *conversations > 0);
        // The list's unread filter and each conversation's unreadCount agree with it too.
        let (listed_unread, _) = staff_list(&app, STAFF, "?unread=true&limit=200").await;
        let in_list: i64 = listed_unread
            .iter()
            .map(|c| c["unreadCount"].as_i64().expect("a count"))
            .sum();
        assert_eq!(
            listed_unread.len() as i64,
            expected.iter().map(|e| e.1).sum::<i64>()
        );
        assert_eq!(in_list, expected.iter().map(|e| e.2).sum::<i64>());
        let drift: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM conversations c
              WHERE c.staff_unread <> (SELECT count(*) FROM messages m
                                        WHERE m.property_id = c.property_id AND m.conversation_id = c.id
                                          AND m.message_type = 'Guest' AND m.seq > c.staff_read_seq)",
        )
        .fetch_one(&pool)
        .await
        .expect("a drift count");
        assert_eq!(drift, 0, "round {round}");
    }
    assert!(saw_unread, "some rounds leave unread messages");
}
