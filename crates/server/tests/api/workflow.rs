//! The service-centre workflow (API section 14), part A: staff members and `GET /staff/v1/me`,
//! a guest's message reopening a closed conversation, assignment, internal notes (never shown
//! to guests) and quick replies.

use std::collections::BTreeSet;

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    test::TestRequest,
    Error,
};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    events::{last_id, serve, Sse},
    helpers::*,
};

const STAFF: &str = "demo-staff-key";
const BAR: &str = "demo-bar-key";

fn path(code: &str, action: &str) -> String {
    format!("/staff/v1/conversations/{code}/{action}")
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn assert_staff_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "{:?}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{:?}", reply.body);
}

/// A conversation staff start with the guest of room 101 at `outlet`; its code.
async fn staff_start<S, B>(app: &TestApp<S>, outlet: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app
        .staff_post(
            "/staff/v1/conversations",
            STAFF,
            json!({"roomNumber": "101", "outletCode": outlet, "content": "Hello from us"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{:?}", reply.body);
    reply.body["conversation"]["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn assign<S, B>(app: &TestApp<S>, key: &str, code: &str, assignee: Value) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.staff_post(
        &path(code, "assign"),
        key,
        json!({ "assigneeCode": assignee }),
    )
    .await
}

/// The codes of the staff list with `query`, for `key`.
async fn listed<S, B>(app: &TestApp<S>, key: &str, query: &str) -> Vec<String>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app
        .staff_get(&format!("/staff/v1/conversations{query}"), key)
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{:?}", reply.body);
    let mut codes: Vec<String> = reply.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

fn sorted(codes: &[&String]) -> Vec<String> {
    let mut codes: Vec<String> = codes.iter().map(|c| (*c).clone()).collect();
    codes.sort();
    codes
}

async fn staff_view<S, B>(app: &TestApp<S>, key: &str, code: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app
        .staff_get(&format!("/staff/v1/conversations/{code}"), key)
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{:?}", reply.body);
    reply.body["conversation"].clone()
}

/// A staff POST with an `Idempotency-Key`.
async fn staff_post_once<S, B>(
    app: &TestApp<S>,
    uri: &str,
    idempotency_key: &str,
    body: Value,
) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.call(
        TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {STAFF}")))
            .insert_header(("idempotency-key", idempotency_key))
            .insert_header(("content-type", "application/json"))
            .set_payload(body.to_string()),
    )
    .await
}

/// The events of a conversation in log order: `(type, writing transaction)`.
async fn logged(pool: &PgPool, code: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT type, xid::text FROM events WHERE conversation_code = $1 ORDER BY xid, id",
    )
    .bind(code)
    .fetch_all(pool)
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Staff members and GET /staff/v1/me
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn me_describes_the_calling_key_as_a_staff_member(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let me = app.staff_get("/staff/v1/me", STAFF).await;
    assert_eq!(me.status.as_u16(), 200);
    assert_eq!(
        me.body,
        json!({"code": "front-desk", "displayName": "Front Desk Demo", "propertyCode": "DEMO-HOTEL",
               "timeZone": "Europe/London", "outlets": ["SPA", "ROOMSVC", "BAR", "CONCIERGE"]})
    );
    let bar = app.staff_get("/staff/v1/me", BAR).await;
    assert_eq!(bar.body["code"], "bar");
    assert_eq!(bar.body["outlets"], json!(["BAR"]));

    sqlx::query("UPDATE staff_keys SET code = NULL WHERE code = 'bar'")
        .execute(&pool)
        .await
        .unwrap();
    let anonymous = app.staff_get("/staff/v1/me", BAR).await;
    assert_eq!(anonymous.body["code"], Value::Null);
    assert_eq!(anonymous.body["displayName"], "Bar Demo");
    assert_staff_error(
        &app.staff_get("/staff/v1/me", "wrong-key").await,
        401,
        "StaffKeyInvalid",
    );
}

// ---------------------------------------------------------------------------------------------
// A guest's message reopens a closed conversation
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn a_guest_message_reopens_a_closed_conversation_in_one_transaction(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    app.staff_post(&path(&code, "close"), STAFF, json!({}))
        .await
        .assert_ok();
    let reply = app
        .post_json(
            &format!("{CREATE}/{code}/Messages"),
            json!({"sessionToken": ada, "message": "One more thing"}),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.content("addMessageResponse")["message"]["content"],
        "One more thing"
    );
    assert_eq!(
        staff_view(&app, STAFF, &code).await["conversationStatus"],
        "Open"
    );
    let closed_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT closed_at FROM conversations WHERE code = $1")
            .bind(&code)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(closed_at, None);
    let events = logged(&pool, &code).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "conversation.closed",
            "conversation.reopened",
            "message.created"
        ]
    );
    // Reopened and the message in the same transaction.
    assert_eq!(events[2].1, events[3].1);

    // Staff still cannot reply to a closed conversation: they reopen first.
    app.staff_post(&path(&code, "close"), STAFF, json!({}))
        .await
        .assert_ok();
    assert_staff_error(
        &app.staff_post(&path(&code, "messages"), STAFF, json!({"content": "Hi"}))
            .await,
        409,
        "ConversationClosed",
    );
    assert_eq!(logged(&pool, &code).await.len(), 5);
}

#[bellhop_testdb::test]
async fn a_visitors_idempotent_message_reopens_once_and_its_replay_changes_nothing(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let visitor = app.visitor("visitor-reopen").await;
    let reply = app
        .post_json(
            CREATE_VISITOR,
            json!({"sessionToken": visitor, "message": "Is the bar open?", "outletCode": "BAR"}),
        )
        .await;
    reply.assert_ok();
    let code = reply.conversation()["code"].as_str().unwrap().to_owned();
    app.staff_post(&path(&code, "close"), STAFF, json!({}))
        .await
        .assert_ok();
    let send = || {
        app.call(
            TestRequest::post()
                .uri(&format!("{CREATE}/{code}/Messages"))
                .insert_header(("idempotency-key", "visitor-retry-1"))
                .insert_header(("content-type", "application/json"))
                .set_payload(json!({"sessionToken": visitor, "message": "Hello?"}).to_string()),
        )
    };
    let first = send().await;
    first.assert_ok();
    let again = send().await;
    again.assert_ok();
    assert_eq!(
        again.content("addMessageResponse"),
        first.content("addMessageResponse")
    );
    let types: Vec<String> = logged(&pool, &code)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "conversation.closed",
            "conversation.reopened",
            "message.created"
        ]
    );
    assert_eq!(
        staff_view(&app, STAFF, &code).await["conversationStatus"],
        "Open"
    );
}

// ---------------------------------------------------------------------------------------------
// Assignment
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn a_conversation_is_assigned_to_a_member_shown_everywhere_and_unassigned(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let code = staff_start(&app, "BAR").await;
    assert_eq!(
        staff_view(&app, STAFF, &code).await["assignee"],
        Value::Null
    );

    let reply = assign(&app, STAFF, &code, json!("bar")).await;
    assert_eq!(reply.status.as_u16(), 200, "{:?}", reply.body);
    let bar = json!({"code": "bar", "displayName": "Bar Demo"});
    assert_eq!(reply.body["conversation"]["assignee"], bar);
    assert_eq!(reply.body["conversation"]["code"], code.as_str());
    assert_eq!(staff_view(&app, BAR, &code).await["assignee"], bar);
    let list = app.staff_get("/staff/v1/conversations", BAR).await;
    assert_eq!(list.body["conversations"][0]["assignee"], bar);

    // The event, on the staff side only.
    let assigned: Vec<(String, Value)> = sqlx::query_as(
        "SELECT type, data FROM events WHERE conversation_code = $1 AND type = 'conversation.assigned'",
    )
    .bind(&code)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].1["assignee"]["code"], "bar");
    // Assigning the same member again changes nothing and says nothing.
    assign(&app, STAFF, &code, json!("bar")).await.assert_ok();

    let unassigned = assign(&app, BAR, &code, Value::Null).await;
    assert_eq!(unassigned.status.as_u16(), 200, "{:?}", unassigned.body);
    assert_eq!(unassigned.body["conversation"]["assignee"], Value::Null);
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE conversation_code = $1 AND type = 'conversation.assigned'",
    )
    .bind(&code)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(count, 2);
}

#[bellhop_testdb::test]
async fn assignment_refuses_unknown_members_members_who_cannot_see_it_and_foreign_conversations(
    pool: PgPool,
) {
    let app = spawn(pool.clone()).await;
    let room_service = staff_start(&app, "ROOMSVC").await;
    assert_staff_error(
        &assign(&app, STAFF, &room_service, json!("nobody")).await,
        404,
        "StaffMemberNotFound",
    );
    // The bar key does not cover room service.
    assert_staff_error(
        &assign(&app, STAFF, &room_service, json!("bar")).await,
        409,
        "AssigneeNotAllowed",
    );
    // ...and cannot even see the conversation.
    assert_staff_error(
        &assign(&app, BAR, &room_service, json!("bar")).await,
        404,
        "ConversationNotFound",
    );
    assert_staff_error(
        &assign(&app, STAFF, "AAAAAAAAAAAAAAAAAAAAAA", json!("front-desk")).await,
        404,
        "ConversationNotFound",
    );
    // A disabled member is no member.
    sqlx::query("UPDATE staff_keys SET enabled = false WHERE code = 'bar'")
        .execute(&pool)
        .await
        .unwrap();
    let bar_conversation = staff_start(&app, "BAR").await;
    assert_staff_error(
        &assign(&app, STAFF, &bar_conversation, json!("bar")).await,
        404,
        "StaffMemberNotFound",
    );
    let assignees: i64 =
        sqlx::query_scalar("SELECT count(*) FROM conversations WHERE assignee_key_id IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(assignees, 0);
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE type = 'conversation.assigned'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 0);
}

#[bellhop_testdb::test]
async fn the_staff_list_filters_by_assignee_me_none_or_a_code(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let mine = staff_start(&app, "ROOMSVC").await;
    let bars = staff_start(&app, "BAR").await;
    let nobodys = staff_start(&app, "CONCIERGE").await;
    assign(&app, STAFF, &mine, json!("front-desk"))
        .await
        .assert_ok();
    assign(&app, STAFF, &bars, json!("bar")).await.assert_ok();

    assert_eq!(listed(&app, STAFF, "?assignee=me").await, sorted(&[&mine]));
    assert_eq!(listed(&app, BAR, "?assignee=me").await, sorted(&[&bars]));
    assert_eq!(
        listed(&app, STAFF, "?assignee=none").await,
        sorted(&[&nobodys])
    );
    assert_eq!(listed(&app, STAFF, "?assignee=bar").await, sorted(&[&bars]));
    assert_eq!(
        listed(&app, STAFF, "?assignee=front-desk").await,
        sorted(&[&mine])
    );
    assert!(listed(&app, STAFF, "?assignee=nobody").await.is_empty());
    assert_eq!(
        listed(&app, STAFF, "").await,
        sorted(&[&mine, &bars, &nobodys])
    );
    // Combined with the other filters.
    assert!(listed(&app, STAFF, "?assignee=me&outletCode=BAR")
        .await
        .is_empty());

    // `me` for a key without a code is nobody's list, not the unassigned ones.
    sqlx::query("UPDATE staff_keys SET code = NULL WHERE code = 'front-desk'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(listed(&app, STAFF, "?assignee=me").await.is_empty());
}

#[bellhop_testdb::test]
async fn removing_a_members_key_or_its_code_leaves_their_conversations_unassigned(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let first = staff_start(&app, "BAR").await;
    let second = staff_start(&app, "ROOMSVC").await;
    assign(&app, STAFF, &first, json!("bar")).await.assert_ok();
    assign(&app, STAFF, &second, json!("front-desk"))
        .await
        .assert_ok();

    // The bar key is deleted: the conversation stays, its assignee goes.
    sqlx::query("DELETE FROM staff_keys WHERE code = 'bar'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        staff_view(&app, STAFF, &first).await["assignee"],
        Value::Null
    );
    assert_eq!(
        listed(&app, STAFF, "?assignee=none").await,
        sorted(&[&first])
    );

    // A reload that takes the front desk's code away hands its conversations back too.
    let mut file = bellhop_application::reference_data::demo_file(midday());
    file.properties[0].staff_keys[0].code = None;
    let data = bellhop_application::reference_data::validate(&file).unwrap();
    bellhop_application::reference_data::ReferenceDataService::new(std::sync::Arc::new(
        bellhop_persistence::PgStore::new(pool.clone()),
    ))
    .load(&data)
    .await
    .unwrap();
    assert_eq!(
        staff_view(&app, STAFF, &second).await["assignee"],
        Value::Null
    );
    assert_eq!(
        listed(&app, STAFF, "?assignee=none").await,
        sorted(&[&first, &second])
    );
}

// ---------------------------------------------------------------------------------------------
// Internal notes
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn notes_are_added_to_open_and_closed_conversations_and_listed_oldest_first(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let first = app
        .staff_post(
            &path(&code, "notes"),
            STAFF,
            json!({"content": "  Regular guest  "}),
        )
        .await;
    assert_eq!(first.status.as_u16(), 201, "{:?}", first.body);
    let note = &first.body["note"];
    assert_eq!(
        keys(note),
        BTreeSet::from(["code", "content", "authorCode", "authorName", "createDate"])
    );
    assert_eq!(note["content"], "Regular guest");
    assert_eq!(note["authorCode"], "front-desk");
    assert_eq!(note["authorName"], "Front Desk Demo");
    assert!(note["createDate"].as_str().unwrap().ends_with("+00:00"));

    app.staff_post(&path(&code, "close"), STAFF, json!({}))
        .await
        .assert_ok();
    app.clock.advance(chrono::Duration::seconds(5));
    let second = app
        .staff_post(
            &path(&code, "notes"),
            BAR,
            json!({"content": "Closed but noted"}),
        )
        .await;
    // The bar key cannot see a room-service conversation.
    assert_staff_error(&second, 404, "ConversationNotFound");
    sqlx::query("UPDATE staff_keys SET code = NULL WHERE code = 'front-desk'")
        .execute(&pool)
        .await
        .unwrap();
    let second = app
        .staff_post(
            &path(&code, "notes"),
            STAFF,
            json!({"content": "Closed but noted"}),
        )
        .await;
    assert_eq!(second.status.as_u16(), 201, "{:?}", second.body);
    assert_eq!(second.body["note"]["authorCode"], Value::Null);

    let view = staff_view(&app, STAFF, &code).await;
    let notes: Vec<&str> = view["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["content"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["Regular guest", "Closed but noted"]);
    assert_eq!(view["notes"][0]["code"], note["code"]);
    // Notes are no messages: no sequence number taken, the message list unchanged.
    assert_eq!(view["messages"].as_array().map(Vec::len), Some(1));
    let last_seq: i32 = sqlx::query_scalar("SELECT last_seq FROM conversations WHERE code = $1")
        .bind(&code)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(last_seq, 1);
    let types: Vec<String> = logged(&pool, &code)
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "note.created",
            "conversation.closed",
            "note.created"
        ]
    );
}

#[bellhop_testdb::test]
async fn a_note_is_validated_like_a_message_and_created_once_per_idempotency_key(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let code = staff_start(&app, "ROOMSVC").await;
    for (body, error) in [
        (json!({}), "MessageRequired"),
        (json!({"content": "   "}), "MessageRequired"),
        (json!({"content": "x".repeat(4001)}), "MessageTooLong"),
        (json!({"content": ["a list"]}), "InvalidRequest"),
        (json!({"content": "nul \u{0} inside"}), "InvalidRequest"),
    ] {
        let reply = app.staff_post(&path(&code, "notes"), STAFF, body).await;
        assert_staff_error(&reply, 400, error);
    }
    let emoji = "🛎".repeat(4000);
    let long = app
        .staff_post(&path(&code, "notes"), STAFF, json!({ "content": emoji }))
        .await;
    assert_eq!(long.status.as_u16(), 201, "4000 scalar values fit");
    assert_staff_error(
        &app.staff_post(
            &path("AAAAAAAAAAAAAAAAAAAAAA", "notes"),
            STAFF,
            json!({"content": "Lost"}),
        )
        .await,
        404,
        "ConversationNotFound",
    );

    let uri = path(&code, "notes");
    let first = staff_post_once(&app, &uri, "note-1", json!({"content": "Once"})).await;
    assert_eq!(first.status.as_u16(), 201);
    let again = staff_post_once(&app, &uri, "note-1", json!({"content": "Once"})).await;
    assert_eq!(again.status.as_u16(), 201);
    assert_eq!(again.body, first.body);
    assert_staff_error(
        &staff_post_once(&app, &uri, "note-1", json!({"content": "Twice"})).await,
        422,
        "IdempotencyKeyReused",
    );
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM conversation_notes")
        .fetch_one(&pool)
        .await
        .unwrap();
    // The 4000-emoji note and the idempotent one: nothing for the refused requests.
    assert_eq!(notes, 2);
}

/// Everything a guest can read about their conversations through the REST API.
async fn guest_surface<S, B>(app: &TestApp<S>, token: &str, code: &str) -> Vec<Value>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let mut seen = Vec::new();
    for uri in [
        format!("{CREATE}?SessionToken={token}"),
        format!("{CREATE}/{code}?SessionToken={token}"),
        format!("/API/V40/Interactive/Messages?SessionToken={token}"),
        format!("/API/V40/Interactive/Messages?SessionToken={token}&DescendingOrder=true"),
    ] {
        let reply = app.get(&uri).await;
        reply.assert_ok();
        // The token may be refreshed; what matters is the content.
        seen.push(json!(reply.body["responses"]));
    }
    seen
}

#[bellhop_testdb::test]
async fn notes_and_assignments_never_reach_a_guest_route_stream_or_unread_count(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let addr = serve(&pool, &[("BELLHOP_EVENTS_HEARTBEAT_SECS", "1")]).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    app.staff_post(
        &path(&code, "messages"),
        STAFF,
        json!({"content": "Welcome"}),
    )
    .await;
    let before = guest_surface(&app, &ada, &code).await;
    let unread_before = before[0][0]["getConversationsResponse"]["content"]["conversations"][0]
        ["unreadCount"]
        .clone();
    assert_eq!(unread_before, 1);

    let events = format!("/API/V40/Interactive/Messages/Events?SessionToken={ada}");
    let mut live = Sse::open(addr, &events, &[]).await;
    let ready = live.until("data: {\"type\":\"ready\"}", 5).await;
    let start = last_id(&ready);
    let mut staff = Sse::open(
        addr,
        "/staff/v1/events",
        &[("Authorization", "Bearer demo-staff-key")],
    )
    .await;
    staff.until("event: ready", 5).await;

    const SECRET_NOTE: &str = "Guest-is-difficult-4d1f";
    let note = app
        .staff_post(
            &path(&code, "notes"),
            STAFF,
            json!({ "content": SECRET_NOTE }),
        )
        .await;
    assert_eq!(note.status.as_u16(), 201);
    let note_code = note.body["note"]["code"].as_str().unwrap().to_owned();
    assign(&app, STAFF, &code, json!("front-desk"))
        .await
        .assert_ok();
    // A guest-visible change after them, to know the guest stream has passed them.
    app.staff_post(
        &path(&code, "messages"),
        STAFF,
        json!({"content": "MARKER-after-note"}),
    )
    .await;

    // Staff see the note and the assignment (so the test can tell).
    let staff_seen = staff.until("MARKER-after-note", 5).await;
    assert!(staff_seen.contains("event: note.created"), "{staff_seen}");
    assert!(staff_seen.contains(SECRET_NOTE), "{staff_seen}");
    assert!(
        staff_seen.contains("event: conversation.assigned"),
        "{staff_seen}"
    );

    // The guest's live stream, and a stream resumed from before the note, skip both.
    let resumed_path = format!("{events}&lastEventId={start}");
    let mut resumed = Sse::open(addr, &resumed_path, &[]).await;
    for (what, text) in [
        ("live", live.until("MARKER-after-note", 5).await),
        ("resumed", resumed.until("MARKER-after-note", 5).await),
    ] {
        for secret in [
            SECRET_NOTE,
            note_code.as_str(),
            "note.created",
            "conversation.assigned",
            "front-desk",
        ] {
            assert!(
                !text.contains(secret),
                "{what} stream carries {secret}: {text}"
            );
        }
    }

    // Every guest route: the same as before but for the marker message, no note anywhere, and
    // the unread count counts only the staff messages.
    let after = guest_surface(&app, &ada, &code).await;
    let text = serde_json::to_string(&after).unwrap();
    for secret in [
        SECRET_NOTE,
        note_code.as_str(),
        "front-desk",
        "assignee",
        "notes",
    ] {
        assert!(
            !text.contains(secret),
            "a guest route shows {secret}: {text}"
        );
    }
    let conversations = &after[0][0]["getConversationsResponse"]["content"]["conversations"];
    assert_eq!(conversations[0]["unreadCount"], 2);
    let messages = after[1][0]["getConversationResponse"]["content"]["conversation"]["messages"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(messages, 3);
    let feed = after[2][0]["getMessagesResponse"]["content"]["messages"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(feed, 3);
    // Staff unread counts are untouched by a note too.
    let unread = app.staff_get("/staff/v1/unread", STAFF).await;
    let room_service = unread.body["outlets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["outletCode"] == "ROOMSVC")
        .unwrap()
        .clone();
    // Ada's first message only: notes are not messages.
    assert_eq!(room_service["unreadMessages"], 1);
}

// ---------------------------------------------------------------------------------------------
// Quick replies
// ---------------------------------------------------------------------------------------------

fn replies(reply: &Reply) -> Vec<(String, String, String)> {
    assert_eq!(reply.status.as_u16(), 200, "{:?}", reply.body);
    assert_eq!(keys(&reply.body), BTreeSet::from(["quickReplies"]));
    reply.body["quickReplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(keys(r), BTreeSet::from(["code", "title", "content"]));
            (
                r["code"].as_str().unwrap().to_owned(),
                r["title"].as_str().unwrap().to_owned(),
                r["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

const TOWELS: &str = "Hello {{guest.firstName}}, fresh towels are on their way to room {{room}}.";
const BAR_HOURS: &str = "The {{outlet.name}} is open every day from 17:00 to 01:00.";

#[bellhop_testdb::test]
async fn quick_replies_are_listed_by_title_as_written_for_the_keys_outlets(pool: PgPool) {
    let app = spawn(pool).await;
    let expected = owned(&[
        ("BAR-HOURS", "Bar hours", BAR_HOURS),
        ("TOWELS", "Towels on the way", TOWELS),
    ]);
    assert_eq!(
        replies(&app.staff_get("/staff/v1/quick-replies", STAFF).await),
        expected
    );
    assert_eq!(
        replies(&app.staff_get("/staff/v1/quick-replies", BAR).await),
        expected
    );
    assert_staff_error(
        &app.staff_get("/staff/v1/quick-replies", "nope-nope").await,
        401,
        "StaffKeyInvalid",
    );
}

#[bellhop_testdb::test]
async fn quick_replies_for_a_conversation_are_those_of_its_outlet_rendered_for_it(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let room_service = app
        .start_conversation(&ada, json!({"message": "Towels?"}))
        .await;
    let uri = |code: &str| format!("/staff/v1/quick-replies?conversationCode={code}");
    assert_eq!(
        replies(&app.staff_get(&uri(&room_service), STAFF).await),
        owned(&[(
            "TOWELS",
            "Towels on the way",
            "Hello Ada, fresh towels are on their way to room 101."
        )])
    );

    let visitor = app.visitor("visitor-quick").await;
    let reply = app
        .post_json(
            CREATE_VISITOR,
            json!({"sessionToken": visitor, "message": "Cocktails?", "outletCode": "BAR"}),
        )
        .await;
    reply.assert_ok();
    let bar = reply.conversation()["code"].as_str().unwrap().to_owned();
    let expected = owned(&[
        (
            "BAR-HOURS",
            "Bar hours",
            "The Lobby Bar is open every day from 17:00 to 01:00.",
        ),
        // A visitor has no name or room on the conversation: empty text.
        (
            "TOWELS",
            "Towels on the way",
            "Hello , fresh towels are on their way to room .",
        ),
    ]);
    assert_eq!(replies(&app.staff_get(&uri(&bar), STAFF).await), expected);
    assert_eq!(replies(&app.staff_get(&uri(&bar), BAR).await), expected);

    // Not the key's conversation, or no conversation at all.
    assert_staff_error(
        &app.staff_get(&uri(&room_service), BAR).await,
        404,
        "ConversationNotFound",
    );
    assert_staff_error(
        &app.staff_get(&uri("AAAAAAAAAAAAAAAAAAAAAA"), STAFF).await,
        404,
        "ConversationNotFound",
    );
}
