//! The rest of the guest API (section 5 of the spec): the message feed, outlet settings and the
//! conversation routes (list, get, add a message, read, close), with their errors and isolation.

use std::collections::BTreeSet;

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    Error,
};
use chrono::Duration;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::*;

const MESSAGES: &str = "/API/V40/Interactive/Messages";
const OUTLETS: &str = "/API/V40/System/Settings/Outlet";

/// `GET Messages` with `query` appended to the token.
async fn feed<S, B>(app: &TestApp<S>, token: &str, query: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.get(&format!("{MESSAGES}?SessionToken={token}{query}"))
        .await
}

/// The messages of a successful `GET Messages`.
async fn feed_messages<S, B>(app: &TestApp<S>, token: &str, query: &str) -> Vec<Value>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = feed(app, token, query).await;
    reply.assert_ok();
    assert_eq!(reply.body["responsesIncluded"], "getMessagesResponse");
    reply.content("getMessagesResponse")["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of messages"))
        .clone()
}

/// The contents of a list of messages.
fn contents(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_else(|| panic!("a content")))
        .collect()
}

/// The codes of a list of conversations.
fn codes(conversations: &[Value]) -> Vec<&str> {
    conversations
        .iter()
        .map(|c| c["code"].as_str().unwrap_or_else(|| panic!("a code")))
        .collect()
}

/// `GET Conversations` with `query` appended to the token.
async fn list_conversations<S, B>(app: &TestApp<S>, token: &str, query: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.get(&format!("{CREATE}?SessionToken={token}{query}"))
        .await
}

/// The conversations of a successful `GET Conversations`.
async fn conversations<S, B>(app: &TestApp<S>, token: &str) -> Vec<Value>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = list_conversations(app, token, "").await;
    reply.assert_ok();
    reply.content("getConversationsResponse")["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of conversations"))
        .clone()
}

/// `GET Conversations/{code}`.
async fn get_conversation<S, B>(app: &TestApp<S>, token: &str, code: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.get(&format!("{CREATE}/{code}?SessionToken={token}"))
        .await
}

/// The conversation of a successful `GET Conversations/{code}`.
async fn conversation<S, B>(app: &TestApp<S>, token: &str, code: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = get_conversation(app, token, code).await;
    reply.assert_ok();
    reply.content("getConversationResponse")["conversation"].clone()
}

/// `POST Conversations/{code}/Messages` with `fields` plus the token.
async fn add_message<S, B>(app: &TestApp<S>, token: &str, code: &str, mut fields: Value) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    fields["sessionToken"] = json!(token);
    app.post_json(&format!("{CREATE}/{code}/Messages"), fields)
        .await
}

/// Adds a message with `content`; asserts success; returns the message.
async fn say<S, B>(app: &TestApp<S>, token: &str, code: &str, content: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = add_message(app, token, code, json!({"message": content})).await;
    reply.assert_ok();
    reply.content("addMessageResponse")["message"].clone()
}

/// `POST Conversations/{code}/Read` with `fields` plus the token.
async fn read<S, B>(app: &TestApp<S>, token: &str, code: &str, mut fields: Value) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    fields["sessionToken"] = json!(token);
    app.post_json(&format!("{CREATE}/{code}/Read"), fields)
        .await
}

/// `POST Conversations/{code}/Close`.
async fn close<S, B>(app: &TestApp<S>, token: &str, code: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.post_json(
        &format!("{CREATE}/{code}/Close"),
        json!({"sessionToken": token}),
    )
    .await
}

/// A staff reply through the staff API; returns the message.
async fn staff_reply<S, B>(app: &TestApp<S>, code: &str, content: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app
        .staff_post(
            &format!("/staff/v1/conversations/{code}/messages"),
            "demo-staff-key",
            json!({"content": content}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    reply.body["message"].clone()
}

/// A visitor's conversation (no form); returns its code.
async fn start_visitor_conversation<S, B>(app: &TestApp<S>, token: &str, message: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let reply = app
        .post_json(
            CREATE_VISITOR,
            json!({"sessionToken": token, "message": message}),
        )
        .await;
    reply.assert_ok();
    reply.conversation()["code"]
        .as_str()
        .unwrap_or_else(|| panic!("a code"))
        .to_owned()
}

/// An acknowledgement envelope: `responseStatus` succeeded, status `Success`.
#[track_caller]
fn assert_acknowledged(reply: &Reply) {
    reply.assert_ok();
    assert_eq!(reply.body["status"], "Success", "{}", reply.body);
    assert_eq!(reply.body["responsesIncluded"], "responseStatus");
    assert_eq!(
        reply.body["responses"][0]["responseStatus"]["succeeded"],
        true
    );
}

/// The body without its token, to compare errors of different sessions.
fn without_token(reply: &Reply) -> Value {
    let mut body = reply.body.clone();
    body["sessionToken"] = Value::Null;
    body
}

/// The number of messages stored in a conversation.
async fn stored_messages(pool: &PgPool, code: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE c.code = $1",
    )
    .bind(code)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|e| panic!("count: {e}"))
}

/// The field names of a JSON object.
fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

fn minute() -> Duration {
    Duration::minutes(1)
}

// ---------------------------------------------------------------------------------------------
// GET Messages
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn the_feed_holds_every_message_of_the_stay_from_every_session_oldest_first(pool: PgPool) {
    let app = spawn(pool).await;
    let first_session = app.ada().await;
    let second_session = app.ada().await;
    assert_ne!(first_session, second_session);
    let first = app
        .start_conversation(&first_session, json!({"message": "One"}))
        .await;
    app.clock.advance(minute());
    let second = app
        .start_conversation(&second_session, json!({"message": "Two"}))
        .await;
    app.clock.advance(minute());
    say(&app, &first_session, &second, "Three").await;
    app.clock.advance(minute());
    say(&app, &second_session, &first, "Four").await;

    for token in [&first_session, &second_session] {
        let messages = feed_messages(&app, token, "").await;
        assert_eq!(contents(&messages), ["One", "Two", "Three", "Four"]);
        let first_id =
            conversation(&app, token, &first).await["messages"][0]["conversationId"].clone();
        let second_id =
            conversation(&app, token, &second).await["messages"][0]["conversationId"].clone();
        assert_ne!(first_id, second_id);
        let ids: Vec<&Value> = messages.iter().map(|m| &m["conversationId"]).collect();
        assert_eq!(ids, [&first_id, &second_id, &second_id, &first_id]);
    }
    let alan = app.guest("102", "Turing").await;
    assert!(feed_messages(&app, &alan, "").await.is_empty());
}

#[bellhop_testdb::test]
async fn feed_messages_have_the_message_shape_of_create(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let reply = app
        .post_json(
            CREATE,
            json!({"sessionToken": ada, "message": "Towels please", "conversationType": "guest"}),
        )
        .await;
    reply.assert_ok();
    let created = reply.conversation()["messages"][0].clone();
    let messages = feed_messages(&app, &ada, "").await;
    assert_eq!(messages, std::slice::from_ref(&created));
    assert_eq!(
        keys(&created),
        set(&[
            "createDate",
            "code",
            "isRead",
            "serviceCenterName",
            "messageType",
            "content",
            "firstName",
            "lastName",
            "languageCode",
            "isTranslated",
            "conversationId"
        ])
    );
    assert_eq!(created["firstName"], "Ada");
    assert_eq!(created["messageType"], "Guest");
}

#[bellhop_testdb::test]
async fn descending_order_reverses_the_feed_in_any_letter_case(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "One"}))
        .await;
    for content in ["Two", "Three"] {
        app.clock.advance(minute());
        say(&app, &ada, &code, content).await;
    }
    assert_eq!(
        contents(&feed_messages(&app, &ada, "").await),
        ["One", "Two", "Three"]
    );
    for value in ["false", "False", "FALSE"] {
        assert_eq!(
            contents(&feed_messages(&app, &ada, &format!("&DescendingOrder={value}")).await),
            ["One", "Two", "Three"],
            "DescendingOrder={value}"
        );
    }
    for value in ["true", "True", "TRUE"] {
        assert_eq!(
            contents(&feed_messages(&app, &ada, &format!("&DescendingOrder={value}")).await),
            ["Three", "Two", "One"],
            "DescendingOrder={value}"
        );
    }
    assert_eq!(
        contents(&feed_messages(&app, &ada, "&DescendingOrder=true&PageLength=1").await),
        ["Three"]
    );
    feed(&app, &ada, "&DescendingOrder=yes")
        .await
        .assert_error(400, "InvalidRequest");
}

#[bellhop_testdb::test]
async fn the_feed_pages_from_page_one_and_a_page_past_the_end_is_empty(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app.start_conversation(&ada, json!({"message": "m1"})).await;
    for n in 2..=5 {
        app.clock.advance(minute());
        say(&app, &ada, &code, &format!("m{n}")).await;
    }
    assert_eq!(
        contents(&feed_messages(&app, &ada, "&PageLength=2").await),
        ["m1", "m2"],
        "PageNumber defaults to 1"
    );
    assert_eq!(
        contents(&feed_messages(&app, &ada, "&PageNumber=1&PageLength=2").await),
        ["m1", "m2"]
    );
    assert_eq!(
        contents(&feed_messages(&app, &ada, "&PageNumber=2&PageLength=2").await),
        ["m3", "m4"]
    );
    assert_eq!(
        contents(&feed_messages(&app, &ada, "&PageNumber=3&PageLength=2").await),
        ["m5"]
    );
    assert_eq!(
        contents(
            &feed_messages(
                &app,
                &ada,
                "&PageNumber=2&PageLength=2&DescendingOrder=True"
            )
            .await
        ),
        ["m3", "m2"]
    );
    for past_the_end in [
        "&PageNumber=4&PageLength=2",
        "&PageNumber=2",
        "&PageNumber=99",
    ] {
        let reply = feed(&app, &ada, past_the_end).await;
        assert_eq!(reply.status.as_u16(), 200, "{past_the_end}: {}", reply.body);
        assert_eq!(
            reply.content("getMessagesResponse")["messages"],
            json!([]),
            "{past_the_end}"
        );
    }
}

#[bellhop_testdb::test]
async fn out_of_range_paging_is_invalid_paging(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    app.start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    for query in [
        "&PageNumber=0",
        "&PageNumber=-1",
        "&PageLength=0",
        "&PageLength=-5",
        "&PageLength=501",
        "&PageNumber=0&PageLength=10",
    ] {
        let reply = feed(&app, &ada, query).await;
        reply.assert_error(400, "InvalidPaging");
        assert_eq!(reply.token(), Some(ada.as_str()), "{query}");
        assert_eq!(reply.body["status"], "Failure");
    }
    feed_messages(&app, &ada, "&PageLength=500").await;
    for query in ["&PageNumber=abc", "&PageLength=ten", "&PageNumber=1.5"] {
        let reply = feed(&app, &ada, query).await;
        assert_eq!(reply.status.as_u16(), 400, "{query}: {}", reply.body);
        // Not a number at all: the spec allows either 400 code ("malformed field values").
        assert!(
            matches!(reply.error_code(), Some("InvalidPaging" | "InvalidRequest")),
            "{query}: {}",
            reply.body
        );
    }
}

#[bellhop_testdb::test]
async fn a_missing_page_length_means_everything_up_to_the_configured_maximum(pool: PgPool) {
    let app = spawn_with(pool, midday(), &[("BELLHOP_MAX_PAGE_LENGTH", "10")]).await;
    let ada = app.ada().await;
    let code = app.start_conversation(&ada, json!({"message": "m1"})).await;
    for n in 2..=12 {
        app.clock.advance(Duration::seconds(10));
        say(&app, &ada, &code, &format!("m{n}")).await;
    }
    let all = feed_messages(&app, &ada, "").await;
    assert_eq!(
        contents(&all),
        ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10"]
    );
    assert_eq!(
        contents(&feed_messages(&app, &ada, "&PageNumber=2").await),
        ["m11", "m12"]
    );
    assert_eq!(feed_messages(&app, &ada, "&PageLength=10").await.len(), 10);
    feed(&app, &ada, "&PageLength=11")
        .await
        .assert_error(400, "InvalidPaging");
    list_conversations(&app, &ada, "&PageLength=11")
        .await
        .assert_error(400, "InvalidPaging");
}

#[bellhop_testdb::test]
async fn a_visitor_sees_only_the_messages_of_its_own_identifier(pool: PgPool) {
    let app = spawn(pool).await;
    let kim = app.visitor("device-kim").await;
    let lee = app.visitor("device-lee").await;
    let kim_again = app.visitor("device-kim").await;
    let ada = app.ada().await;
    start_visitor_conversation(&app, &kim, "From Kim").await;
    app.clock.advance(minute());
    start_visitor_conversation(&app, &lee, "From Lee").await;
    app.clock.advance(minute());
    app.start_conversation(&ada, json!({"message": "From Ada"}))
        .await;
    assert_eq!(contents(&feed_messages(&app, &kim, "").await), ["From Kim"]);
    assert_eq!(
        contents(&feed_messages(&app, &kim_again, "").await),
        ["From Kim"],
        "another session of the same identifier"
    );
    assert_eq!(contents(&feed_messages(&app, &lee, "").await), ["From Lee"]);
    assert_eq!(contents(&feed_messages(&app, &ada, "").await), ["From Ada"]);
}

// ---------------------------------------------------------------------------------------------
// Outlet settings
// ---------------------------------------------------------------------------------------------

fn every_day(opens: &str, closes: &str) -> Value {
    let days = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    Value::Array(
        days.iter()
            .map(|day| json!({"day": day, "opens": opens, "closes": closes}))
            .collect(),
    )
}

#[bellhop_testdb::test]
async fn outlet_settings_list_the_active_outlets_in_display_order_for_an_anonymous_session(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let reply = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}"))
        .await;
    reply.assert_ok();
    assert_eq!(reply.body["status"], "Success");
    assert_eq!(reply.body["responsesIncluded"], "getOutletSettingsResponse");
    assert_eq!(reply.token(), Some(anonymous.as_str()));
    assert_eq!(
        reply.body["responses"][0]["getOutletSettingsResponse"]["succeeded"],
        true
    );
    let settings = reply.content("getOutletSettingsResponse")["outletSettings"].clone();
    assert_eq!(
        settings,
        json!([
            {"code": "SPA", "name": "Spa", "description": "Treatments and wellness",
             "serviceCenterName": "Spa Reception", "allowGuestMessages": false,
             "allowNonVerifiedGuests": false, "isOpenNow": true,
             "openingHours": every_day("09:00", "20:00")},
            {"code": "ROOMSVC", "name": "In-Room Dining", "description": "Food and drinks to your room",
             "serviceCenterName": "Room Service Centre", "allowGuestMessages": true,
             "allowNonVerifiedGuests": false, "isOpenNow": true, "openingHours": []},
            {"code": "BAR", "name": "Lobby Bar", "description": "Cocktails and light bites",
             "serviceCenterName": "Bar Team", "allowGuestMessages": true,
             "allowNonVerifiedGuests": true, "isOpenNow": false,
             "openingHours": every_day("17:00", "01:00")},
            {"code": "CONCIERGE", "name": "Concierge", "description": "Tickets, taxis and tips",
             "serviceCenterName": "Front Desk", "allowGuestMessages": true,
             "allowNonVerifiedGuests": true, "isOpenNow": true, "openingHours": []},
        ])
    );
}

#[bellhop_testdb::test]
async fn outlet_settings_are_the_same_for_verified_guests_and_visitors(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let expected = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}"))
        .await
        .content("getOutletSettingsResponse")
        .clone();
    for token in [app.ada().await, app.visitor("device-1").await] {
        let reply = app.get(&format!("{OUTLETS}?SessionToken={token}")).await;
        reply.assert_ok();
        assert_eq!(reply.content("getOutletSettingsResponse"), &expected);
    }
}

#[bellhop_testdb::test]
async fn the_bar_is_open_in_the_evening_and_closes_at_one(pool: PgPool) {
    let app = spawn_with(pool, evening(), &[]).await;
    let anonymous = app.anonymous().await;
    let open_now = |reply: &Reply| -> Vec<(String, bool)> {
        reply.content("getOutletSettingsResponse")["outletSettings"]
            .as_array()
            .unwrap_or_else(|| panic!("a list"))
            .iter()
            .map(|o| {
                (
                    o["code"]
                        .as_str()
                        .unwrap_or_else(|| panic!("a code"))
                        .to_owned(),
                    o["isOpenNow"].as_bool().unwrap_or_else(|| panic!("a flag")),
                )
            })
            .collect()
    };
    let reply = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}"))
        .await;
    reply.assert_ok();
    assert_eq!(
        open_now(&reply),
        [
            ("SPA".to_owned(), true),
            ("ROOMSVC".to_owned(), true),
            ("BAR".to_owned(), true),
            ("CONCIERGE".to_owned(), true)
        ]
    );
    // 00:59 London the next night: still open; 01:00: closed (the end is excluded).
    app.clock
        .advance(Duration::hours(6) + Duration::minutes(59));
    let reply = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}&Code=BAR"))
        .await;
    assert_eq!(open_now(&reply), [("BAR".to_owned(), true)]);
    app.clock.advance(minute());
    let reply = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}&Code=BAR"))
        .await;
    assert_eq!(open_now(&reply), [("BAR".to_owned(), false)]);
}

#[bellhop_testdb::test]
async fn outlet_settings_for_one_code(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let reply = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}&Code=BAR"))
        .await;
    reply.assert_ok();
    let settings = reply.content("getOutletSettingsResponse")["outletSettings"].clone();
    assert_eq!(settings.as_array().map(Vec::len), Some(1));
    assert_eq!(settings[0]["code"], "BAR");
    assert_eq!(settings[0]["isOpenNow"], false);
    assert_eq!(settings[0]["openingHours"], every_day("17:00", "01:00"));
    let reply = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}&Code=ROOMSVC"))
        .await;
    assert_eq!(
        reply.content("getOutletSettingsResponse")["outletSettings"][0]["openingHours"],
        json!([])
    );
    for code in ["POOLBAR", "NOPE", "bar"] {
        let reply = app
            .get(&format!("{OUTLETS}?SessionToken={anonymous}&Code={code}"))
            .await;
        reply.assert_error(404, "OutletNotFound");
        assert_eq!(reply.token(), Some(anonymous.as_str()), "{code}");
    }
    let inactive = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}&Code=POOLBAR"))
        .await;
    let unknown = app
        .get(&format!("{OUTLETS}?SessionToken={anonymous}&Code=NOPE"))
        .await;
    assert_eq!(
        inactive.body, unknown.body,
        "an inactive outlet is exactly like an unknown one"
    );
}

#[bellhop_testdb::test]
async fn guest_routes_without_a_valid_token_are_unauthorised(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let gets = [
        MESSAGES.to_owned(),
        OUTLETS.to_owned(),
        CREATE.to_owned(),
        format!("{CREATE}/{code}"),
    ];
    for path in &gets {
        let reply = app.get(path).await;
        reply.assert_error(401, "SessionTokenRequired");
        assert!(reply.body["sessionToken"].is_null(), "{path}");
        app.get(&format!("{path}?SessionToken=forged.token"))
            .await
            .assert_error(401, "SessionTokenInvalid");
    }
    for suffix in ["Messages", "Read", "Close"] {
        let path = format!("{CREATE}/{code}/{suffix}");
        app.post_json(&path, json!({"message": "Hi"}))
            .await
            .assert_error(401, "SessionTokenRequired");
        app.post_json(
            &path,
            json!({"message": "Hi", "sessionToken": "forged.token"}),
        )
        .await
        .assert_error(401, "SessionTokenInvalid");
    }
    assert_eq!(stored_messages(&app.pool, &code).await, 1);
}

// ---------------------------------------------------------------------------------------------
// Session kinds
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn an_anonymous_session_is_not_verified_for_messages_and_conversations(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let anonymous = app.anonymous().await;
    let replies = [
        feed(&app, &anonymous, "").await,
        feed(&app, &anonymous, "&PageNumber=0").await,
        list_conversations(&app, &anonymous, "").await,
        get_conversation(&app, &anonymous, &code).await,
        get_conversation(&app, &anonymous, "NO-SUCH-CODE").await,
        add_message(&app, &anonymous, &code, json!({"message": "Hi"})).await,
        read(&app, &anonymous, &code, json!({})).await,
        close(&app, &anonymous, &code).await,
    ];
    for reply in &replies {
        reply.assert_error(403, "GuestNotVerified");
        assert_eq!(reply.token(), Some(anonymous.as_str()), "{}", reply.body);
        assert_eq!(reply.body["status"], "Failure");
    }
    assert_eq!(stored_messages(&app.pool, &code).await, 1);
    assert_eq!(
        conversation(&app, &ada, &code).await["conversationStatus"],
        "Open"
    );
}

// ---------------------------------------------------------------------------------------------
// List and get conversations
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn conversations_are_listed_by_most_recent_activity_with_only_their_last_message(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let older = app
        .start_conversation(&ada, json!({"message": "Older"}))
        .await;
    app.clock.advance(minute());
    let newer = app
        .start_conversation(&ada, json!({"message": "Newer", "orderCode": "ORD-1001"}))
        .await;
    let list = conversations(&app, &ada).await;
    assert_eq!(codes(&list), [newer.as_str(), older.as_str()]);

    app.clock.advance(minute());
    say(&app, &ada, &older, "Older, again").await;
    let list = conversations(&app, &ada).await;
    assert_eq!(codes(&list), [older.as_str(), newer.as_str()]);
    assert_eq!(
        contents(list[0]["messages"].as_array().unwrap()),
        ["Older, again"]
    );
    assert_eq!(list[0]["unreadCount"], 0);
    assert_eq!(list[1]["orderCode"], "ORD-1001");
    assert_eq!(list[1]["subject"], "Order ORD-1001");

    app.clock.advance(minute());
    staff_reply(&app, &newer, "We are on it").await;
    let list = conversations(&app, &ada).await;
    assert_eq!(codes(&list), [newer.as_str(), older.as_str()]);
    let messages = list[0]["messages"].as_array().unwrap();
    assert_eq!(contents(messages), ["We are on it"]);
    assert_eq!(messages[0]["messageType"], "ServiceCenter");
    assert_eq!(messages[0]["isRead"], false);
    assert_eq!(list[0]["unreadCount"], 1);
    assert_eq!(list[1]["unreadCount"], 0);

    assert_eq!(
        keys(&list[0]),
        set(&[
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
            "messages",
            "unreadCount"
        ])
    );
    assert_eq!(list[1]["roomNumber"], "101");
    assert_eq!(list[1]["guestLastName"], "Lovelace");
    assert_eq!(list[1]["outletCode"], "ROOMSVC");
    assert_eq!(list[1]["orderCode"], Value::Null);

    let page = list_conversations(&app, &ada, "&PageNumber=2&PageLength=1").await;
    page.assert_ok();
    assert_eq!(
        codes(
            page.content("getConversationsResponse")["conversations"]
                .as_array()
                .unwrap()
        ),
        [older.as_str()]
    );
    let past = list_conversations(&app, &ada, "&PageNumber=3&PageLength=1").await;
    assert_eq!(
        past.content("getConversationsResponse")["conversations"],
        json!([])
    );
    list_conversations(&app, &ada, "&PageNumber=0")
        .await
        .assert_error(400, "InvalidPaging");
    list_conversations(&app, &ada, "&PageLength=0")
        .await
        .assert_error(400, "InvalidPaging");
}

#[bellhop_testdb::test]
async fn a_guest_without_conversations_gets_an_empty_list(pool: PgPool) {
    let app = spawn(pool).await;
    let grace = app.guest("203", "Hopper").await;
    let reply = list_conversations(&app, &grace, "").await;
    reply.assert_ok();
    assert_eq!(reply.body["responsesIncluded"], "getConversationsResponse");
    assert_eq!(
        reply.content("getConversationsResponse"),
        &json!({"conversations": []})
    );
}

#[bellhop_testdb::test]
async fn one_conversation_comes_with_all_its_messages_oldest_first(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let created = app
        .post_json(
            CREATE,
            json!({"sessionToken": ada, "message": "First", "conversationType": "guest"}),
        )
        .await;
    created.assert_ok();
    let code = created.conversation()["code"].as_str().unwrap().to_owned();
    app.clock.advance(minute());
    say(&app, &ada, &code, "Second").await;
    app.clock.advance(minute());
    let staff = staff_reply(&app, &code, "Third").await;
    app.clock.advance(minute());
    say(&app, &ada, &code, "Fourth").await;

    let reply = get_conversation(&app, &ada, &code).await;
    reply.assert_ok();
    assert_eq!(reply.body["responsesIncluded"], "getConversationResponse");
    let conversation = &reply.content("getConversationResponse")["conversation"];
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(contents(messages), ["First", "Second", "Third", "Fourth"]);
    assert_eq!(messages[0], created.conversation()["messages"][0]);
    assert_eq!(messages[2]["code"], staff["code"]);
    assert_eq!(messages[2]["messageType"], "ServiceCenter");
    assert_eq!(messages[2]["serviceCenterName"], "Room Service Centre");
    assert_eq!(messages[2]["firstName"], "Front Desk Demo");
    assert_eq!(messages[2]["lastName"], "");
    let mut expected = created.conversation().clone();
    expected["messages"] = conversation["messages"].clone();
    assert_eq!(conversation, &expected, "the fields of create");
    assert!(conversation.get("unreadCount").is_none());
    let dates: Vec<&str> = messages
        .iter()
        .map(|m| m["createDate"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");
}

// ---------------------------------------------------------------------------------------------
// Add a message
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn an_added_message_is_signed_by_its_own_conversation_type(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let conversation_id =
        conversation(&app, &ada, &code).await["messages"][0]["conversationId"].clone();
    let names = |message: &Value| {
        (
            message["firstName"].as_str().unwrap().to_owned(),
            message["lastName"].as_str().unwrap().to_owned(),
        )
    };
    let ada_names = ("Ada".to_owned(), "Lovelace".to_owned());
    let unsigned = (String::new(), String::new());
    for (conversation_type, expected) in [
        (json!("guest"), &ada_names),
        (json!("GUEST"), &ada_names),
        (json!("Guest"), &ada_names),
        (json!(""), &unsigned),
        (Value::Null, &unsigned),
    ] {
        let reply = add_message(
            &app,
            &ada,
            &code,
            json!({"message": "  Signed?  ", "conversationType": conversation_type}),
        )
        .await;
        reply.assert_ok();
        assert_eq!(reply.body["responsesIncluded"], "addMessageResponse");
        assert_eq!(reply.token(), Some(ada.as_str()));
        let message = &reply.content("addMessageResponse")["message"];
        assert_eq!(&names(message), expected, "{conversation_type}");
        assert_eq!(message["content"], "Signed?");
        assert_eq!(message["messageType"], "Guest");
        assert_eq!(message["isRead"], false);
        assert_eq!(message["serviceCenterName"], "");
        assert_eq!(message["languageCode"], "en");
        assert_eq!(message["isTranslated"], false);
        assert_eq!(message["conversationId"], conversation_id);
    }
    let reply = add_message(&app, &ada, &code, json!({"message": "No type at all"})).await;
    assert_eq!(
        names(&reply.content("addMessageResponse")["message"]),
        unsigned
    );
    // The conversation keeps the type it was created with.
    assert_eq!(
        conversation(&app, &ada, &code).await["conversationType"],
        ""
    );
    assert_eq!(stored_messages(&app.pool, &code).await, 7);
}

#[bellhop_testdb::test]
async fn an_added_message_follows_the_validation_rules_of_create(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let cases = [
        (json!({}), 400, "MessageRequired"),
        (json!({"message": null}), 400, "MessageRequired"),
        (json!({"message": ""}), 400, "MessageRequired"),
        (json!({"message": " \n\t "}), 400, "MessageRequired"),
        (json!({"message": "x".repeat(4001)}), 400, "MessageTooLong"),
        (
            json!({"message": "Hi", "conversationType": "staff"}),
            400,
            "InvalidConversationType",
        ),
        (
            json!({"message": "Hi", "conversationType": "guests"}),
            400,
            "InvalidConversationType",
        ),
        (json!({"message": ["Hi"]}), 400, "InvalidRequest"),
    ];
    for (body, status, error) in cases {
        let reply = add_message(&app, &ada, &code, body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.body);
        assert_eq!(reply.error_code(), Some(error), "{body}: {}", reply.body);
        assert_eq!(reply.token(), Some(ada.as_str()));
    }
    assert_eq!(stored_messages(&app.pool, &code).await, 1);
    let longest = "😀".repeat(4000);
    let message = say(&app, &ada, &code, &format!("  {longest}  ")).await;
    assert_eq!(message["content"], longest.as_str());
    let reply = add_message(&app, &ada, &code, json!({"MESSAGE": "Upper-case name"})).await;
    reply.assert_ok();
    assert_eq!(
        reply.content("addMessageResponse")["message"]["content"],
        "Upper-case name"
    );
    assert_eq!(stored_messages(&app.pool, &code).await, 3);
}

#[bellhop_testdb::test]
async fn a_visitor_signing_a_message_takes_the_names_of_its_form(pool: PgPool) {
    let app = spawn(pool).await;
    let kim = app.visitor("device-kim").await;
    let reply = app
        .post_json(
            CREATE_VISITOR,
            json!({"sessionToken": kim, "message": "Table for two?",
                   "orderFormDetailsDictionary": {"FirstName": "Kim", "lastName": "Lee"}}),
        )
        .await;
    reply.assert_ok();
    let code = reply.conversation()["code"].as_str().unwrap().to_owned();
    let signed = add_message(
        &app,
        &kim,
        &code,
        json!({"message": "At eight", "conversationType": "guest"}),
    )
    .await;
    signed.assert_ok();
    let message = &signed.content("addMessageResponse")["message"];
    assert_eq!(
        (&message["firstName"], &message["lastName"]),
        (&json!("Kim"), &json!("Lee"))
    );
    let unsigned = say(&app, &kim, &code, "Thanks").await;
    assert_eq!(
        (&unsigned["firstName"], &unsigned["lastName"]),
        (&json!(""), &json!(""))
    );
}

// ---------------------------------------------------------------------------------------------
// Read and close
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn a_staff_reply_stays_unread_for_the_guest_until_the_guest_reads_it(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    app.clock.advance(minute());
    let staff = staff_reply(&app, &code, "Good afternoon").await;
    let messages = conversation(&app, &ada, &code).await["messages"].clone();
    assert_eq!(messages[1]["code"], staff["code"]);
    assert_eq!(messages[1]["isRead"], false);
    assert_eq!(conversations(&app, &ada).await[0]["unreadCount"], 1);
    let in_feed = feed_messages(&app, &ada, "").await;
    assert_eq!(in_feed[1]["isRead"], false);

    let reply = read(&app, &ada, &code, json!({})).await;
    assert_acknowledged(&reply);
    assert_eq!(reply.token(), Some(ada.as_str()));
    let messages = conversation(&app, &ada, &code).await["messages"].clone();
    assert_eq!(messages[1]["isRead"], true);
    assert_eq!(
        messages[0]["isRead"], false,
        "the guest's own message is unread until staff read it"
    );
    assert_eq!(conversations(&app, &ada).await[0]["unreadCount"], 0);
    assert_eq!(feed_messages(&app, &ada, "").await[1]["isRead"], true);
    // Reading again is harmless.
    assert_acknowledged(&read(&app, &ada, &code, json!({"messageCode": null})).await);
    assert_eq!(conversations(&app, &ada).await[0]["unreadCount"], 0);
}

#[bellhop_testdb::test]
async fn reading_up_to_a_message_marks_it_and_earlier_ones_and_never_moves_back(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let first = staff_reply(&app, &code, "One").await;
    let second = staff_reply(&app, &code, "Two").await;
    let third = staff_reply(&app, &code, "Three").await;
    let read_flags = |conversation: &Value| -> Vec<bool> {
        conversation["messages"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|m| m["isRead"].as_bool().unwrap())
            .collect()
    };

    assert_acknowledged(&read(&app, &ada, &code, json!({"messageCode": first["code"]})).await);
    assert_eq!(
        read_flags(&conversation(&app, &ada, &code).await),
        [true, false, false]
    );
    assert_eq!(conversations(&app, &ada).await[0]["unreadCount"], 2);

    assert_acknowledged(&read(&app, &ada, &code, json!({"MessageCode": second["code"]})).await);
    assert_eq!(
        read_flags(&conversation(&app, &ada, &code).await),
        [true, true, false]
    );

    assert_acknowledged(&read(&app, &ada, &code, json!({"messageCode": first["code"]})).await);
    assert_eq!(
        read_flags(&conversation(&app, &ada, &code).await),
        [true, true, false],
        "reading an earlier message never moves the position back"
    );
    assert_eq!(conversations(&app, &ada).await[0]["unreadCount"], 1);

    assert_acknowledged(&read(&app, &ada, &code, json!({"messageCode": third["code"]})).await);
    assert_acknowledged(&read(&app, &ada, &code, json!({"messageCode": second["code"]})).await);
    assert_eq!(
        read_flags(&conversation(&app, &ada, &code).await),
        [true, true, true]
    );
    assert_eq!(conversations(&app, &ada).await[0]["unreadCount"], 0);
}

#[bellhop_testdb::test]
async fn reading_an_unknown_message_is_message_not_found(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let other = app
        .start_conversation(&ada, json!({"message": "Another"}))
        .await;
    let elsewhere = staff_reply(&app, &other, "Reply elsewhere").await;
    staff_reply(&app, &code, "Reply here").await;
    let here = conversation(&app, &ada, &code).await["messages"][1]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    for message_code in [
        "NO-SUCH-MESSAGE".to_owned(),
        elsewhere["code"].as_str().unwrap().to_owned(),
        here.to_lowercase(),
    ] {
        if message_code == here {
            continue;
        }
        let reply = read(&app, &ada, &code, json!({"messageCode": message_code})).await;
        reply.assert_error(404, "MessageNotFound");
        assert_eq!(reply.token(), Some(ada.as_str()));
    }
    let list = conversations(&app, &ada).await;
    assert!(
        list.iter().all(|c| c["unreadCount"] == 1),
        "nothing was marked read: {list:?}"
    );
}

#[bellhop_testdb::test]
async fn a_closed_conversation_refuses_staff_replies_and_a_guest_message_reopens_it(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let reply = close(&app, &ada, &code).await;
    assert_acknowledged(&reply);
    assert_eq!(reply.token(), Some(ada.as_str()));
    assert_eq!(
        conversation(&app, &ada, &code).await["conversationStatus"],
        "Closed"
    );
    assert_eq!(
        conversations(&app, &ada).await[0]["conversationStatus"],
        "Closed"
    );
    let staff = app
        .staff_post(
            &format!("/staff/v1/conversations/{code}/messages"),
            "demo-staff-key",
            json!({"content": "Too late"}),
        )
        .await;
    staff.assert_error(409, "ConversationClosed");
    assert_eq!(stored_messages(&app.pool, &code).await, 1);
    // Closing again leaves it closed.
    assert_acknowledged(&close(&app, &ada, &code).await);
    assert_eq!(
        conversation(&app, &ada, &code).await["conversationStatus"],
        "Closed"
    );
    // Section 14 (which replaced the guests' 409 of section 5): the guest's message reopens it.
    let reply = add_message(&app, &ada, &code, json!({"message": "One more thing"})).await;
    reply.assert_ok();
    assert_eq!(reply.token(), Some(ada.as_str()));
    assert_eq!(
        conversation(&app, &ada, &code).await["conversationStatus"],
        "Open"
    );
    assert_eq!(stored_messages(&app.pool, &code).await, 2);
}

// ---------------------------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn another_guests_conversation_is_not_found_on_every_route_exactly_like_an_unknown_one(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Private"}))
        .await;
    let staff = staff_reply(&app, &code, "Private reply").await;
    let alan = app.guest("102", "Turing").await;
    let unknown = "AAAAAAAAAAAAAAAAAAAAAA";

    for target in [code.as_str(), unknown] {
        let replies = [
            get_conversation(&app, &alan, target).await,
            add_message(&app, &alan, target, json!({"message": "Hijack"})).await,
            add_message(
                &app,
                &alan,
                target,
                json!({"message": "Hijack", "conversationType": "guest"}),
            )
            .await,
            read(&app, &alan, target, json!({})).await,
            read(&app, &alan, target, json!({"messageCode": staff["code"]})).await,
            close(&app, &alan, target).await,
        ];
        for reply in &replies {
            reply.assert_error(404, "ConversationNotFound");
            assert_eq!(reply.token(), Some(alan.as_str()));
            let text = reply.body.to_string();
            assert!(!text.contains("Private"), "{text}");
            assert!(!text.contains("Lovelace"), "{text}");
        }
    }
    // Byte for byte the same answer as for an unknown code (apart from the token).
    let pairs = [
        (
            get_conversation(&app, &alan, &code).await,
            get_conversation(&app, &ada, unknown).await,
        ),
        (
            add_message(&app, &alan, &code, json!({"message": "x"})).await,
            add_message(&app, &ada, unknown, json!({"message": "x"})).await,
        ),
        (
            read(&app, &alan, &code, json!({})).await,
            read(&app, &ada, unknown, json!({})).await,
        ),
        (
            close(&app, &alan, &code).await,
            close(&app, &ada, unknown).await,
        ),
    ];
    for (foreign, missing) in &pairs {
        assert_eq!(foreign.status, missing.status);
        assert_eq!(without_token(foreign), without_token(missing));
    }

    assert!(conversations(&app, &alan).await.is_empty());
    assert!(feed_messages(&app, &alan, "").await.is_empty());
    let mine = conversation(&app, &ada, &code).await;
    assert_eq!(mine["conversationStatus"], "Open");
    assert_eq!(
        contents(mine["messages"].as_array().unwrap()),
        ["Private", "Private reply"]
    );
    assert_eq!(
        mine["messages"][1]["isRead"], false,
        "Alan's read did not count"
    );
}

#[bellhop_testdb::test]
async fn visitors_and_verified_guests_cannot_see_each_others_conversations(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let kim = app.visitor("device-kim").await;
    let lee = app.visitor("device-lee").await;
    let adas = app
        .start_conversation(&ada, json!({"message": "From Ada"}))
        .await;
    let kims = start_visitor_conversation(&app, &kim, "From Kim").await;

    for (token, foreign) in [(&kim, &adas), (&ada, &kims), (&lee, &kims)] {
        get_conversation(&app, token, foreign)
            .await
            .assert_error(404, "ConversationNotFound");
        add_message(&app, token, foreign, json!({"message": "x"}))
            .await
            .assert_error(404, "ConversationNotFound");
        read(&app, token, foreign, json!({}))
            .await
            .assert_error(404, "ConversationNotFound");
        close(&app, token, foreign)
            .await
            .assert_error(404, "ConversationNotFound");
    }
    assert_eq!(codes(&conversations(&app, &ada).await), [adas.as_str()]);
    assert_eq!(codes(&conversations(&app, &kim).await), [kims.as_str()]);
    assert!(conversations(&app, &lee).await.is_empty());

    // The visitor's own routes work.
    say(&app, &kim, &kims, "Still me").await;
    assert_acknowledged(&read(&app, &kim, &kims, json!({})).await);
    assert_acknowledged(&close(&app, &kim, &kims).await);
    assert_eq!(
        conversation(&app, &kim, &kims).await["conversationStatus"],
        "Closed"
    );
    assert_eq!(stored_messages(&app.pool, &adas).await, 1);
}

// ---------------------------------------------------------------------------------------------
// Concurrency and wire conventions
// ---------------------------------------------------------------------------------------------

#[bellhop_testdb::test]
async fn twenty_concurrent_replies_get_consecutive_sequence_numbers(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    let replies = futures_util::future::join_all((0..20).map(|n| {
        let (app, ada, code) = (&app, &ada, &code);
        async move {
            if n % 2 == 0 {
                add_message(app, ada, code, json!({"message": format!("Guest {n}")})).await
            } else {
                app.staff_post(
                    &format!("/staff/v1/conversations/{code}/messages"),
                    "demo-staff-key",
                    json!({"content": format!("Staff {n}")}),
                )
                .await
            }
        }
    }))
    .await;
    for reply in &replies {
        reply.assert_ok();
    }
    let seqs: Vec<i32> = sqlx::query_scalar(
        "SELECT m.seq FROM messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE c.code = $1 ORDER BY m.seq",
    )
    .bind(&code)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(seqs, (1..=21).collect::<Vec<i32>>());
    let messages = conversation(&app, &ada, &code).await["messages"].clone();
    let mut codes: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 21);
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), 21, "message codes are unique");
}

#[bellhop_testdb::test]
async fn routes_and_query_parameter_names_match_in_any_letter_case(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "One"}))
        .await;
    app.clock.advance(minute());
    say(&app, &ada, &code, "Two").await;

    let reply = app
        .get(&format!(
            "/api/v40/interactive/messages?sessiontoken={ada}&PAGELENGTH=1&pagenumber=2&descendingorder=TRUE"
        ))
        .await;
    reply.assert_ok();
    assert_eq!(
        contents(
            reply.content("getMessagesResponse")["messages"]
                .as_array()
                .unwrap()
        ),
        ["One"]
    );
    let reply = app
        .get(&format!(
            "/api/v40/system/settings/outlet?SESSIONTOKEN={ada}&code=BAR"
        ))
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.content("getOutletSettingsResponse")["outletSettings"][0]["code"],
        "BAR"
    );
    let reply = app
        .get(&format!(
            "/api/v40/interactive/messages/conversations?SessionTOKEN={ada}"
        ))
        .await;
    reply.assert_ok();
    assert_eq!(
        codes(
            reply.content("getConversationsResponse")["conversations"]
                .as_array()
                .unwrap()
        ),
        [code.as_str()]
    );
    let reply = app
        .get(&format!(
            "/api/v40/INTERACTIVE/messages/conversations/{code}?sessiontoken={ada}"
        ))
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.content("getConversationResponse")["conversation"]["code"],
        code.as_str()
    );
    let reply = app
        .post_json(
            &format!("/api/v40/interactive/messages/conversations/{code}/messages"),
            json!({"SessionToken": ada, "Message": "Three"}),
        )
        .await;
    reply.assert_ok();
    assert_acknowledged(
        &app.post_json(
            &format!("/api/v40/interactive/messages/conversations/{code}/read"),
            json!({"SESSIONTOKEN": ada}),
        )
        .await,
    );
    assert_acknowledged(
        &app.post_json(
            &format!("/API/V40/INTERACTIVE/MESSAGES/CONVERSATIONS/{code}/CLOSE"),
            json!({"sessiontoken": ada}),
        )
        .await,
    );
    assert_eq!(
        conversation(&app, &ada, &code).await["conversationStatus"],
        "Closed"
    );

    // Codes, unlike route names, match exactly.
    let swapped: String = code
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    assert_ne!(swapped, code);
    get_conversation(&app, &ada, &swapped)
        .await
        .assert_error(404, "ConversationNotFound");
}

#[bellhop_testdb::test]
async fn conversation_routes_answer_405_for_other_methods(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    app.post_json(MESSAGES, json!({"sessionToken": ada}))
        .await
        .assert_error(405, "MethodNotAllowed");
    app.post_json(OUTLETS, json!({"sessionToken": ada}))
        .await
        .assert_error(405, "MethodNotAllowed");
    app.post_json(&format!("{CREATE}/{code}"), json!({"sessionToken": ada}))
        .await
        .assert_error(405, "MethodNotAllowed");
    for suffix in ["Messages", "Read", "Close"] {
        app.get(&format!("{CREATE}/{code}/{suffix}?SessionToken={ada}"))
            .await
            .assert_error(405, "MethodNotAllowed");
    }
}

#[bellhop_testdb::test]
async fn one_conversations_messages_are_paged_oldest_first(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let code = app
        .start_conversation(&token, json!({"message": "one"}))
        .await;
    for text in ["two", "three", "four", "five"] {
        app.post_json(
            &format!("/API/V40/Interactive/Messages/Conversations/{code}/Messages"),
            json!({"message": text, "sessionToken": token}),
        )
        .await
        .assert_ok();
    }
    let path = |query: &str| {
        format!("/API/V40/Interactive/Messages/Conversations/{code}?SessionToken={token}{query}")
    };
    let page = app.get(&path("&PageNumber=2&PageLength=2")).await;
    let contents: Vec<&str> = page.content("getConversationResponse")["conversation"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["three", "four"]);
    let all = app.get(&path("")).await;
    assert_eq!(
        all.content("getConversationResponse")["conversation"]["messages"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    app.get(&path("&PageLength=0"))
        .await
        .assert_error(400, "InvalidPaging");
    let past_the_end = app.get(&path("&PageNumber=9&PageLength=2")).await;
    assert!(
        past_the_end.content("getConversationResponse")["conversation"]["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Every guest error after the session is known carries the token to use next, wherever it
/// arose: a handler's `?`, the extractor (a NUL in the path), a body that cannot be read (the
/// query string's token), a failed room login; a request whose token is not valid gets none.
#[bellhop_testdb::test]
async fn every_guest_error_carries_the_token_to_use_next(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let conversation = |code: &str| {
        format!("/API/V40/Interactive/Messages/Conversations/{code}?SessionToken={ada}")
    };

    let missing = app.get(&conversation("NO-SUCH-CODE")).await;
    missing.assert_error(404, "ConversationNotFound");
    assert_eq!(missing.token(), Some(ada.as_str()));

    let nul = app.get(&conversation("%00")).await;
    nul.assert_error(404, "ConversationNotFound");
    assert_eq!(nul.token(), Some(ada.as_str()));

    let unreadable = app
        .post_raw(
            &format!("{CREATE}?SessionToken={ada}"),
            Some("text/plain"),
            "Towels please",
        )
        .await;
    assert_eq!(unreadable.status.as_u16(), 415, "{}", unreadable.body);
    assert_eq!(unreadable.token(), Some(ada.as_str()));

    let paging = app
        .get(&format!("{MESSAGES}?SessionToken={ada}&PageLength=0"))
        .await;
    paging.assert_error(400, "InvalidPaging");
    assert_eq!(paging.token(), Some(ada.as_str()));

    let anonymous = app.anonymous().await;
    let login = app
        .post_json(
            "/API/V40/System/Session/LoginByRoom",
            json!({"sessionToken": anonymous, "roomNumber": "101", "lastName": "Nobody"}),
        )
        .await;
    assert_eq!(login.status.as_u16(), 401, "{}", login.body);
    assert_eq!(login.token(), Some(anonymous.as_str()));

    let forged = format!("{}x", &ada[..ada.len() - 1]);
    let refused = app.get(&format!("{OUTLETS}?SessionToken={forged}")).await;
    assert_eq!(refused.status.as_u16(), 401, "{}", refused.body);
    assert_eq!(refused.token(), None);
}
