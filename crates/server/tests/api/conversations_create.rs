//! Create conversation (section 4 of the spec and the seed help page): the response shape of
//! the seed sample, field values, subject, outlet fallback, orders, message validation, session
//! kinds, atomicity, wire conventions, concurrency, and the non-verified guest variant.

// Helpers, like tests, panic when the service misbehaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    test,
};
use chrono::Duration;
use futures_util::future::join_all;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::*;

/// The response sample of the seed help page, verbatim.
const SEED_RESPONSE_SAMPLE: &str = r#"{
  "sessionToken": "UYpmOOJP3IgKAAAAAAAAAAAAAAA.lLhwFRjMIUqLc1bYWMqD6lELA7Rcxo-DgZG5qSbUy4U",
  "responsesIncluded": "createConversationResponse",
  "responses": [
    {
      "createConversationResponse": {
        "content": {
          "conversation": {
            "code": "sample string 1",
            "subject": "sample string 2",
            "outletCode": "sample string 3",
            "orderCode": "sample string 4",
            "outletName": "sample string 5",
            "propertyCode": "sample string 6",
            "roomNumber": "sample string 7",
            "guestFirstName": "sample string 8",
            "guestLastName": "sample string 9",
            "guestLanguageCode": "sample string 10",
            "conversationStatus": "sample string 11",
            "conversationType": "sample string 12",
            "messages": [
              {
                "createDate": "2024-03-29T11:20:20.7215185+00:00",
                "code": "sample string 2",
                "isRead": true,
                "serviceCenterName": "sample string 4",
                "messageType": "sample string 5",
                "content": "sample string 6",
                "firstName": "sample string 7",
                "lastName": "sample string 8",
                "languageCode": "sample string 9",
                "isTranslated": true,
                "conversationId": 11
              },
              {
                "createDate": "2024-03-29T11:20:20.7215185+00:00",
                "code": "sample string 2",
                "isRead": true,
                "serviceCenterName": "sample string 4",
                "messageType": "sample string 5",
                "content": "sample string 6",
                "firstName": "sample string 7",
                "lastName": "sample string 8",
                "languageCode": "sample string 9",
                "isTranslated": true,
                "conversationId": 11
              }
            ]
          }
        },
        "succeeded": true
      }
    }
  ],
  "status": "Success"
}"#;

const FORM: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------------
// An order-preserving view of JSON text (serde_json's `Value` sorts keys), for key order checks.

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    String,
    Number,
    Bool,
    Null,
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Object(_) => "object",
            Node::Array(_) => "array",
            Node::String => "string",
            Node::Number => "number",
            Node::Bool => "boolean",
            Node::Null => "null",
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn parse(text: &str) -> Node {
        let mut parser = Parser {
            bytes: text.as_bytes(),
            at: 0,
        };
        let node = parser.value();
        parser.skip_whitespace();
        assert_eq!(parser.at, parser.bytes.len(), "trailing text in {text}");
        node
    }

    fn peek(&self) -> u8 {
        self.bytes[self.at]
    }

    fn skip_whitespace(&mut self) {
        while self.at < self.bytes.len() && self.peek().is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) {
        self.skip_whitespace();
        assert_eq!(self.peek() as char, byte as char, "at byte {}", self.at);
        self.at += 1;
    }

    fn literal(&mut self, word: &str, node: Node) -> Node {
        assert!(self.bytes[self.at..].starts_with(word.as_bytes()));
        self.at += word.len();
        node
    }

    fn value(&mut self) -> Node {
        self.skip_whitespace();
        match self.peek() {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => {
                self.string();
                Node::String
            }
            b't' => self.literal("true", Node::Bool),
            b'f' => self.literal("false", Node::Bool),
            b'n' => self.literal("null", Node::Null),
            _ => {
                let start = self.at;
                while self.at < self.bytes.len()
                    && matches!(self.peek(), b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.at += 1;
                }
                assert!(self.at > start, "a JSON value at byte {start}");
                Node::Number
            }
        }
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let start = self.at;
        loop {
            match self.peek() {
                b'\\' => self.at += 2,
                b'"' => break,
                _ => self.at += 1,
            }
        }
        let raw = std::str::from_utf8(&self.bytes[start..self.at]).expect("UTF-8");
        self.at += 1;
        serde_json::from_str(&format!("\"{raw}\"")).expect("a JSON string")
    }

    fn object(&mut self) -> Node {
        self.expect(b'{');
        let mut entries = Vec::new();
        self.skip_whitespace();
        if self.peek() == b'}' {
            self.at += 1;
            return Node::Object(entries);
        }
        loop {
            self.skip_whitespace();
            let key = self.string();
            self.expect(b':');
            entries.push((key, self.value()));
            self.skip_whitespace();
            match self.peek() {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Node::Object(entries);
                }
                other => panic!("unexpected {:?} in an object", other as char),
            }
        }
    }

    fn array(&mut self) -> Node {
        self.expect(b'[');
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == b']' {
            self.at += 1;
            return Node::Array(items);
        }
        loop {
            items.push(self.value());
            self.skip_whitespace();
            match self.peek() {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Node::Array(items);
                }
                other => panic!("unexpected {:?} in an array", other as char),
            }
        }
    }
}

/// Asserts `actual` has exactly the keys of `expected`, in the same order, at every level, and
/// the same JSON types; a key named in `nullable` may also be `null`. Every item of an actual
/// array is compared with the first item of the sample's.
#[track_caller]
fn assert_same_shape(expected: &Node, actual: &Node, path: &str, nullable: &[&str]) {
    match (expected, actual) {
        (Node::Object(expected), Node::Object(actual)) => {
            let expected_keys: Vec<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
            let actual_keys: Vec<&str> = actual.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(actual_keys, expected_keys, "keys of {path}");
            for ((key, e), (_, a)) in expected.iter().zip(actual) {
                assert_same_shape(e, a, &format!("{path}.{key}"), nullable);
            }
        }
        (Node::Array(expected), Node::Array(actual)) => {
            assert!(!actual.is_empty(), "{path} is empty");
            for (i, a) in actual.iter().enumerate() {
                assert_same_shape(&expected[0], a, &format!("{path}[{i}]"), nullable);
            }
        }
        (_, Node::Null)
            if nullable
                .iter()
                .any(|key| path.ends_with(&format!(".{key}"))) => {}
        (e, a) => assert_eq!(a.kind(), e.kind(), "type of {path}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// POSTs JSON and returns the status and the raw body text.
async fn post_for_text<S, B>(app: &TestApp<S>, path: &str, body: Value) -> (u16, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let request = test::TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_string())
        .to_request();
    let response = test::call_service(&app.service, request).await;
    let status = response.status().as_u16();
    let bytes = test::read_body(response).await;
    (status, String::from_utf8(bytes.to_vec()).expect("UTF-8"))
}

/// Creates a conversation with `fields` and the token.
async fn create<S, B>(app: &TestApp<S>, token: &str, mut fields: Value) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    fields["sessionToken"] = json!(token);
    app.post_json(CREATE, fields).await
}

/// Creates a visitor conversation with `fields` and the token.
async fn create_visitor<S, B>(app: &TestApp<S>, token: &str, mut fields: Value) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    fields["sessionToken"] = json!(token);
    app.post_json(CREATE_VISITOR, fields).await
}

/// Asserts the request is refused with `status`/`code`, carries the token it was sent, and
/// writes no conversation and no message.
async fn assert_refused<S, B>(
    app: &TestApp<S>,
    path: &str,
    token: &str,
    mut fields: Value,
    status: u16,
    code: &str,
) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let conversations = app.count("conversations").await;
    let messages = app.count("messages").await;
    fields["sessionToken"] = json!(token);
    let reply = app.post_json(path, fields.clone()).await;
    assert_eq!(reply.status.as_u16(), status, "{fields}: {}", reply.body);
    assert_eq!(reply.error_code(), Some(code), "{fields}: {}", reply.body);
    assert_eq!(reply.token(), Some(token), "{fields}");
    assert_eq!(reply.body["status"], "Failure");
    assert_eq!(reply.body["responsesIncluded"], "responseStatus");
    assert_eq!(app.count("conversations").await, conversations, "{fields}");
    assert_eq!(app.count("messages").await, messages, "{fields}");
    reply
}

fn error_message(reply: &Reply) -> String {
    reply.body["responses"][0]["responseStatus"]["errors"][0]["message"]
        .as_str()
        .expect("an error message")
        .to_owned()
}

fn first_message(reply: &Reply) -> &Value {
    &reply.conversation()["messages"][0]
}

#[track_caller]
fn assert_code(code: &Value) -> String {
    let code = code.as_str().expect("a code");
    assert!(code.len() >= 22, "{code}");
    assert!(
        code.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{code}"
    );
    code.to_owned()
}

/// `YYYY-MM-DDTHH:MM:SS.fffffff+00:00`.
#[track_caller]
fn assert_wire_date(date: &str) {
    let pattern = "dddd-dd-ddTdd:dd:dd.ddddddd+00:00";
    assert_eq!(date.len(), pattern.len(), "{date}");
    for (c, p) in date.chars().zip(pattern.chars()) {
        if p == 'd' {
            assert!(c.is_ascii_digit(), "{date}");
        } else {
            assert_eq!(c, p, "{date}");
        }
    }
}

async fn set_outlets(pool: &PgPool, sql: &str) {
    sqlx::query(sql)
        .execute(pool)
        .await
        .expect("update outlets");
}

// ---------------------------------------------------------------------------------------------
// The seed sample

#[bellhop_testdb::test]
async fn the_response_has_the_keys_of_the_seed_sample_in_its_order_and_types(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let (status, text) = post_for_text(
        &app,
        CREATE,
        json!({"sessionToken": token, "message": "Two towels please"}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let sample = Parser::parse(SEED_RESPONSE_SAMPLE);
    let actual = Parser::parse(&text);
    // Without an order, orderCode is null (the sample shows a string).
    assert_same_shape(&sample, &actual, "$", &["orderCode"]);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["responses"][0]["createConversationResponse"]["content"]["conversation"]["orderCode"],
        Value::Null
    );
    assert_eq!(body["responsesIncluded"], "createConversationResponse");
    assert_eq!(body["status"], "Success");
    assert_eq!(
        body["responses"][0]["createConversationResponse"]["succeeded"],
        true
    );
    assert_eq!(body["sessionToken"], token.as_str());
}

#[bellhop_testdb::test]
async fn with_an_order_every_field_has_the_seed_samples_type_with_no_nulls(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let (status, text) = post_for_text(
        &app,
        CREATE,
        json!({"sessionToken": token, "message": "Where is my food?", "orderCode": "ORD-1001",
               "conversationType": "guest"}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_same_shape(
        &Parser::parse(SEED_RESPONSE_SAMPLE),
        &Parser::parse(&text),
        "$",
        &[],
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let conversation =
        &body["responses"][0]["createConversationResponse"]["content"]["conversation"];
    assert_eq!(conversation["orderCode"], "ORD-1001");
}

#[bellhop_testdb::test]
async fn a_visitor_conversation_has_the_same_shape_with_nulls_for_the_stay(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.visitor("device-1").await;
    let (status, text) = post_for_text(
        &app,
        CREATE_VISITOR,
        json!({"sessionToken": token, "message": "Table for two?"}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_same_shape(
        &Parser::parse(SEED_RESPONSE_SAMPLE),
        &Parser::parse(&text),
        "$",
        &[
            "orderCode",
            "roomNumber",
            "guestFirstName",
            "guestLastName",
            "guestLanguageCode",
        ],
    );
}

#[bellhop_testdb::test]
async fn the_create_date_has_seven_fractional_digits_and_is_the_clock_time(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let reply = create(&app, &token, json!({"message": "Hi"})).await;
    reply.assert_ok();
    let date = first_message(&reply)["createDate"].as_str().unwrap();
    assert_wire_date(date);
    assert_eq!(date, "2026-06-10T11:00:00.0000000+00:00");
    app.clock.set(midday() + Duration::microseconds(721_518));
    let reply = create(&app, &token, json!({"message": "Hi again"})).await;
    let date = first_message(&reply)["createDate"].as_str().unwrap();
    assert_wire_date(date);
    assert_eq!(date, "2026-06-10T11:00:00.7215180+00:00");
}

// ---------------------------------------------------------------------------------------------
// Field values

#[bellhop_testdb::test]
async fn an_unsigned_conversation_has_the_stays_details_and_an_unsigned_guest_message(
    pool: PgPool,
) {
    let app = spawn(pool.clone()).await;
    let token = app.ada().await;
    let reply = create(
        &app,
        &token,
        json!({"message": "  Two towels please\n  ", "conversationType": ""}),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.token(), Some(token.as_str()));
    let c = reply.conversation();
    let code = assert_code(&c["code"]);
    assert_eq!(c["subject"], "Two towels please");
    assert_eq!(c["outletCode"], "ROOMSVC");
    assert_eq!(c["orderCode"], Value::Null);
    assert_eq!(c["outletName"], "In-Room Dining");
    assert_eq!(c["propertyCode"], "DEMO-HOTEL");
    assert_eq!(c["roomNumber"], "101");
    assert_eq!(c["guestFirstName"], "Ada");
    assert_eq!(c["guestLastName"], "Lovelace");
    assert_eq!(c["guestLanguageCode"], "en");
    assert_eq!(c["conversationStatus"], "Open");
    assert_eq!(c["conversationType"], "");
    assert_eq!(c["messages"].as_array().unwrap().len(), 1);
    let m = first_message(&reply);
    let message_code = assert_code(&m["code"]);
    assert_ne!(message_code, code);
    assert_eq!(m["isRead"], false);
    assert_eq!(m["serviceCenterName"], "");
    assert_eq!(m["messageType"], "Guest");
    assert_eq!(m["content"], "Two towels please");
    assert_eq!(m["firstName"], "");
    assert_eq!(m["lastName"], "");
    assert_eq!(m["languageCode"], "en");
    assert_eq!(m["isTranslated"], false);
    let (id, content): (i64, String) = sqlx::query_as(
        "SELECT c.id, m.content FROM conversations c JOIN messages m ON m.conversation_id = c.id
          WHERE c.code = $1",
    )
    .bind(&code)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(m["conversationId"], json!(id));
    assert!(m["conversationId"].is_i64());
    assert_eq!(content, "Two towels please");
}

#[bellhop_testdb::test]
async fn conversation_type_guest_in_any_case_signs_with_the_guests_names(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    for kind in ["guest", "GUEST", "Guest"] {
        let reply = create(
            &app,
            &token,
            json!({"message": "Hi", "conversationType": kind}),
        )
        .await;
        reply.assert_ok();
        assert_eq!(reply.conversation()["conversationType"], "guest");
        let m = first_message(&reply);
        assert_eq!(m["firstName"], "Ada");
        assert_eq!(m["lastName"], "Lovelace");
        assert_eq!(m["messageType"], "Guest");
    }
    for unsigned in [json!(null), json!("")] {
        let reply = create(
            &app,
            &token,
            json!({"message": "Hi", "conversationType": unsigned}),
        )
        .await;
        reply.assert_ok();
        assert_eq!(reply.conversation()["conversationType"], "");
        assert_eq!(first_message(&reply)["firstName"], "");
        assert_eq!(first_message(&reply)["lastName"], "");
    }
    // A guest with accents gets them back as stored.
    let jose = app.guest("204", "nunez").await;
    let reply = create(
        &app,
        &jose,
        json!({"message": "Hola", "conversationType": "guest"}),
    )
    .await;
    assert_eq!(first_message(&reply)["firstName"], "José");
    assert_eq!(first_message(&reply)["lastName"], "Núñez");
    assert_eq!(first_message(&reply)["languageCode"], "es");
    assert_eq!(reply.conversation()["guestLanguageCode"], "es");
}

#[bellhop_testdb::test]
async fn the_conversation_id_of_a_later_message_is_the_same(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let first = create(&app, &token, json!({"message": "Hi"})).await;
    let code = first.conversation()["code"].as_str().unwrap().to_owned();
    let id = first_message(&first)["conversationId"].clone();
    let second = create(&app, &token, json!({"message": "Another"})).await;
    assert_ne!(first_message(&second)["conversationId"], id);
    let reply = app
        .post_json(
            &format!("{CREATE}/{code}/Messages"),
            json!({"sessionToken": token, "message": "More"}),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.content("addMessageResponse")["message"]["conversationId"],
        id
    );
}

#[bellhop_testdb::test]
async fn conversation_and_message_codes_are_url_safe_and_unique(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let mut codes = HashSet::new();
    for _ in 0..10 {
        let reply = create(&app, &token, json!({"message": "Hi"})).await;
        reply.assert_ok();
        assert!(codes.insert(assert_code(&reply.conversation()["code"])));
        assert!(codes.insert(assert_code(&first_message(&reply)["code"])));
    }
}

// ---------------------------------------------------------------------------------------------
// Subject

#[bellhop_testdb::test]
async fn the_subject_is_the_first_line_cut_to_100_characters(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let long_line = "a".repeat(101);
    let cut = format!("{}…", "a".repeat(99));
    let hundred = "b".repeat(100);
    let accents = "é".repeat(150);
    let accents_cut = format!("{}…", "é".repeat(99));
    let cases: Vec<(String, String)> = vec![
        (
            "Late checkout?\nWe fly at 6pm.".into(),
            "Late checkout?".into(),
        ),
        (
            "Late checkout?\r\nWe fly at 6pm.".into(),
            "Late checkout?".into(),
        ),
        ("\n\n  Hello there\nsecond".into(), "Hello there".into()),
        (format!("{long_line}\nrest"), cut.clone()),
        (long_line.clone(), cut),
        (hundred.clone(), hundred),
        (accents, accents_cut),
    ];
    for (message, subject) in cases {
        let reply = create(&app, &token, json!({ "message": message })).await;
        reply.assert_ok();
        assert_eq!(
            reply.conversation()["subject"],
            subject.as_str(),
            "{message:?}"
        );
        assert!(
            reply.conversation()["subject"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= 100
        );
        // The message itself is kept whole (trimmed).
        assert_eq!(first_message(&reply)["content"], message.trim());
    }
}

#[bellhop_testdb::test]
async fn with_an_order_the_subject_names_the_order(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let reply = create(
        &app,
        &token,
        json!({"message": "Where is my food?\nIt's late.", "orderCode": "ORD-1001"}),
    )
    .await;
    reply.assert_ok();
    assert_eq!(reply.conversation()["subject"], "Order ORD-1001");
    assert_eq!(reply.conversation()["orderCode"], "ORD-1001");
    assert_eq!(reply.conversation()["outletCode"], "ROOMSVC");
    assert_eq!(
        first_message(&reply)["content"],
        "Where is my food?\nIt's late."
    );
}

// ---------------------------------------------------------------------------------------------
// Outlet fallback and orders

#[bellhop_testdb::test]
async fn without_an_outlet_or_order_the_first_available_outlet_is_room_service(pool: PgPool) {
    for at in [midday(), evening(), midday() + Duration::hours(14)] {
        let app = spawn_with(pool.clone(), at, &[]).await;
        let token = app.ada().await;
        let reply = create(&app, &token, json!({"message": "Hi"})).await;
        reply.assert_ok();
        assert_eq!(reply.conversation()["outletCode"], "ROOMSVC", "at {at}");
        assert_eq!(reply.conversation()["outletName"], "In-Room Dining");
    }
}

#[bellhop_testdb::test]
async fn the_fallback_follows_opening_hours_and_display_order(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.ada().await;
    set_outlets(
        &pool,
        "UPDATE outlets SET allow_guest_messages = false WHERE code = 'ROOMSVC'",
    )
    .await;
    // Midday: the spa is open but takes no guest messages, the bar is closed.
    let reply = create(&app, &token, json!({"message": "Hi"})).await;
    assert_eq!(reply.conversation()["outletCode"], "CONCIERGE");
    // 18:00 London: the bar is open and comes first.
    app.clock.set(evening());
    let reply = create(&app, &token, json!({"message": "Hi"})).await;
    assert_eq!(reply.conversation()["outletCode"], "BAR");
    // 00:30 London (the bar's interval runs past midnight): still the bar.
    app.clock.set(midday() + Duration::minutes(12 * 60 + 30));
    let reply = create(&app, &token, json!({"message": "Hi"})).await;
    assert_eq!(reply.conversation()["outletCode"], "BAR");
    // 01:00 London: the interval excludes its end.
    app.clock.set(midday() + Duration::hours(13));
    let reply = create(&app, &token, json!({"message": "Hi"})).await;
    assert_eq!(reply.conversation()["outletCode"], "CONCIERGE");
}

#[bellhop_testdb::test]
async fn an_explicit_outlet_is_used_even_when_it_is_closed(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    for (code, name) in [
        ("BAR", "Lobby Bar"),
        ("CONCIERGE", "Concierge"),
        ("ROOMSVC", "In-Room Dining"),
    ] {
        let reply = create(&app, &token, json!({"message": "Hi", "outletCode": code})).await;
        assert_eq!(reply.status.as_u16(), 200, "{code}: {}", reply.body);
        assert_eq!(reply.conversation()["outletCode"], code);
        assert_eq!(reply.conversation()["outletName"], name);
    }
}

#[bellhop_testdb::test]
async fn an_outlet_that_takes_no_guest_messages_is_not_allowed(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    assert_refused(
        &app,
        CREATE,
        &token,
        json!({"message": "Massage at 3?", "outletCode": "SPA"}),
        403,
        "OutletNotAllowed",
    )
    .await;
}

#[bellhop_testdb::test]
async fn an_inactive_outlet_is_not_found_exactly_like_an_unknown_or_miscased_code(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let mut messages = Vec::new();
    for code in ["POOLBAR", "NOPE", "bar", "Bar", "BAR "] {
        let reply = assert_refused(
            &app,
            CREATE,
            &token,
            json!({"message": "Hi", "outletCode": code}),
            404,
            "OutletNotFound",
        )
        .await;
        messages.push(error_message(&reply));
    }
    assert!(messages.iter().all(|m| *m == messages[0]), "{messages:?}");
}

#[bellhop_testdb::test]
async fn an_order_alone_picks_its_outlet_even_when_closed(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let reply = create(
        &app,
        &token,
        json!({"message": "Another round?", "orderCode": "ORD-1002"}),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.conversation()["outletCode"], "BAR");
    assert_eq!(reply.conversation()["outletName"], "Lobby Bar");
    assert_eq!(reply.conversation()["orderCode"], "ORD-1002");
    assert_eq!(reply.conversation()["subject"], "Order ORD-1002");
    // With its own outlet named too, that is fine.
    let reply = create(
        &app,
        &token,
        json!({"message": "Hi", "orderCode": "ORD-1001", "outletCode": "ROOMSVC"}),
    )
    .await;
    reply.assert_ok();
    assert_eq!(reply.conversation()["outletCode"], "ROOMSVC");
}

#[bellhop_testdb::test]
async fn an_order_from_another_outlet_than_the_one_named_is_a_conflict(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    assert_refused(
        &app,
        CREATE,
        &token,
        json!({"message": "Hi", "orderCode": "ORD-1001", "outletCode": "BAR"}),
        409,
        "OrderOutletMismatch",
    )
    .await;
    assert_refused(
        &app,
        CREATE,
        &token,
        json!({"message": "Hi", "orderCode": "ORD-1002", "outletCode": "CONCIERGE"}),
        409,
        "OrderOutletMismatch",
    )
    .await;
}

#[bellhop_testdb::test]
async fn another_guests_order_is_not_found_exactly_like_an_unknown_one(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let mut messages = Vec::new();
    for order in ["ORD-2001", "ORD-9999", "ord-1001", "ORD-1001 "] {
        let reply = assert_refused(
            &app,
            CREATE,
            &ada,
            json!({"message": "Hi", "orderCode": order}),
            404,
            "OrderNotFound",
        )
        .await;
        messages.push(error_message(&reply));
    }
    assert!(messages.iter().all(|m| *m == messages[0]), "{messages:?}");
    assert!(!messages[0].contains("ORD-2001") && !messages[0].contains("102"));
    // Alan may use his own.
    let alan = app.guest("102", "Turing").await;
    create(
        &app,
        &alan,
        json!({"message": "Hi", "orderCode": "ORD-2001"}),
    )
    .await
    .assert_ok();
}

#[bellhop_testdb::test]
async fn an_orders_outlet_must_be_active_and_take_guest_messages(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.ada().await;
    set_outlets(
        &pool,
        "UPDATE outlets SET allow_guest_messages = false WHERE code = 'BAR'",
    )
    .await;
    assert_refused(
        &app,
        CREATE,
        &token,
        json!({"message": "Hi", "orderCode": "ORD-1002"}),
        403,
        "OutletNotAllowed",
    )
    .await;
    set_outlets(
        &pool,
        "UPDATE outlets SET allow_guest_messages = true, active = false WHERE code = 'BAR'",
    )
    .await;
    assert_refused(
        &app,
        CREATE,
        &token,
        json!({"message": "Hi", "orderCode": "ORD-1002"}),
        404,
        "OutletNotFound",
    )
    .await;
}

#[bellhop_testdb::test]
async fn no_available_outlet_at_all_is_no_outlet_available(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.ada().await;
    set_outlets(
        &pool,
        "UPDATE outlets SET allow_guest_messages = false WHERE code <> 'SPA'",
    )
    .await;
    assert_refused(
        &app,
        CREATE,
        &token,
        json!({"message": "Hi"}),
        422,
        "NoOutletAvailable",
    )
    .await;
    // Only the bar left, but closed at midday: still nothing available.
    set_outlets(
        &pool,
        "UPDATE outlets SET allow_guest_messages = true WHERE code = 'BAR'",
    )
    .await;
    assert_refused(
        &app,
        CREATE,
        &token,
        json!({"message": "Hi"}),
        422,
        "NoOutletAvailable",
    )
    .await;
    app.clock.set(evening());
    let reply = create(&app, &token, json!({"message": "Hi"})).await;
    assert_eq!(reply.conversation()["outletCode"], "BAR");
}

// ---------------------------------------------------------------------------------------------
// Message validation

#[bellhop_testdb::test]
async fn a_missing_empty_or_blank_message_is_required(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    for message in [
        None,
        Some(json!(null)),
        Some(json!("")),
        Some(json!("   ")),
        Some(json!(" \t\r\n ")),
    ] {
        let fields = match message {
            Some(message) => json!({ "message": message }),
            None => json!({}),
        };
        assert_refused(&app, CREATE, &token, fields, 400, "MessageRequired").await;
    }
}

#[bellhop_testdb::test]
async fn a_message_may_have_4000_characters_but_not_4001(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    for fits in [
        "a".repeat(4000),
        "🛎".repeat(4000),
        format!("   {}   \n", "a".repeat(4000)),
    ] {
        let reply = create(&app, &token, json!({ "message": fits })).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
        assert_eq!(first_message(&reply)["content"], fits.trim());
    }
    for too_long in ["a".repeat(4001), "🛎".repeat(4001)] {
        assert_refused(
            &app,
            CREATE,
            &token,
            json!({ "message": too_long }),
            400,
            "MessageTooLong",
        )
        .await;
    }
    assert_eq!(app.count("messages").await, 3);
}

#[bellhop_testdb::test]
async fn any_other_conversation_type_is_invalid(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    for kind in ["staff", "guests", "ServiceCenter", "0"] {
        assert_refused(
            &app,
            CREATE,
            &token,
            json!({"message": "Hi", "conversationType": kind}),
            400,
            "InvalidConversationType",
        )
        .await;
    }
}

#[bellhop_testdb::test]
async fn nul_characters_and_wrong_json_types_are_invalid_requests(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    for fields in [
        json!({"message": "a\u{0}b"}),
        json!({"message": true}),
        json!({"message": ["Hi"]}),
        json!({"message": {"text": "Hi"}}),
        json!({"message": "Hi", "outletCode": ["BAR"]}),
        json!({"message": "Hi", "orderCode": false}),
        json!({"message": "Hi", "conversationType": {}}),
        json!({"message": "Hi", "outletCode": "BA\u{0}R"}),
    ] {
        assert_refused(&app, CREATE, &token, fields, 400, "InvalidRequest").await;
    }
}

// ---------------------------------------------------------------------------------------------
// Session kinds

#[bellhop_testdb::test]
async fn an_anonymous_or_visitor_session_is_not_a_verified_guest(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let visitor = app.visitor("device-1").await;
    for token in [&anonymous, &visitor] {
        assert_refused(
            &app,
            CREATE,
            token,
            json!({"message": "Hi"}),
            403,
            "GuestNotVerified",
        )
        .await;
        assert_refused(
            &app,
            CREATE,
            token,
            json!({"message": "Hi", "outletCode": "CONCIERGE"}),
            403,
            "GuestNotVerified",
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Wire conventions

#[bellhop_testdb::test]
async fn create_accepts_text_json_forms_any_field_case_and_a_lower_case_route(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let reply = app
        .post_raw(
            CREATE,
            Some("text/json"),
            json!({"message": "From text/json", "sessionToken": token}).to_string(),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(first_message(&reply)["content"], "From text/json");

    let reply = app
        .post_raw(
            CREATE,
            Some("application/json; charset=utf-8"),
            json!({"Message": "Pascal", "SessionToken": token, "OutletCode": "BAR",
                   "ConversationType": "Guest", "OrderCode": null})
            .to_string(),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.conversation()["outletCode"], "BAR");
    assert_eq!(reply.conversation()["conversationType"], "guest");

    let reply = app
        .post_json(
            CREATE,
            json!({"MESSAGE": "Upper", "SESSIONTOKEN": token, "OUTLETCODE": "CONCIERGE"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.conversation()["outletCode"], "CONCIERGE");

    let reply = app
        .post_raw(
            CREATE,
            Some(FORM),
            format!(
                "Message=Two+towels%21%0ASecond+line&SessionToken={token}&ConversationType=GUEST&OutletCode=&OrderCode="
            ),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(first_message(&reply)["content"], "Two towels!\nSecond line");
    assert_eq!(reply.conversation()["subject"], "Two towels!");
    assert_eq!(reply.conversation()["outletCode"], "ROOMSVC");
    assert_eq!(first_message(&reply)["firstName"], "Ada");

    let reply = app
        .post_json(
            "/api/v40/interactive/messages/conversations",
            json!({"message": "lower", "sessionToken": token}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);

    let reply = app
        .post_json(
            CREATE,
            json!({"message": 42, "sessionToken": token, "unknownField": {"x": [1]}}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(first_message(&reply)["content"], "42");
    assert_eq!(reply.conversation()["subject"], "42");
    assert_eq!(
        reply.headers.get("content-type").unwrap().to_str().unwrap(),
        "application/json; charset=utf-8"
    );
    assert_eq!(app.count("conversations").await, 6);
}

#[bellhop_testdb::test]
async fn create_refuses_other_content_types_malformed_json_and_other_methods(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let reply = app
        .post_raw(
            CREATE,
            Some("text/plain"),
            format!("message=Hi&sessionToken={token}"),
        )
        .await;
    reply.assert_error(415, "UnsupportedMediaType");
    let reply = app
        .post_raw(CREATE, Some("application/json"), r#"{"message": "Hi""#)
        .await;
    reply.assert_error(400, "InvalidRequest");
    app.call(
        test::TestRequest::put()
            .uri(CREATE)
            .insert_header(("content-type", "application/json"))
            .set_payload(json!({"message": "Hi", "sessionToken": token}).to_string()),
    )
    .await
    .assert_error(405, "MethodNotAllowed");
    app.call(test::TestRequest::get().uri(&format!("{CREATE_VISITOR}?SessionToken={token}")))
        .await
        .assert_error(405, "MethodNotAllowed");
    assert_eq!(app.count("conversations").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

#[bellhop_testdb::test]
async fn twenty_five_concurrent_creates_by_one_guest_all_succeed_with_distinct_codes(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let replies = join_all((0..25).map(|i| {
        app.post_json(
            CREATE,
            json!({"sessionToken": token, "message": format!("Request {i}")}),
        )
    }))
    .await;
    let mut conversation_codes = HashSet::new();
    let mut conversation_ids = HashSet::new();
    let mut message_codes = HashSet::new();
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.status.as_u16(), 200, "{i}: {}", reply.body);
        assert_eq!(first_message(reply)["content"], format!("Request {i}"));
        conversation_codes.insert(assert_code(&reply.conversation()["code"]));
        conversation_ids.insert(first_message(reply)["conversationId"].as_i64().unwrap());
        message_codes.insert(assert_code(&first_message(reply)["code"]));
    }
    assert_eq!(conversation_codes.len(), 25);
    assert_eq!(conversation_ids.len(), 25);
    assert_eq!(message_codes.len(), 25);
    assert_eq!(app.count("conversations").await, 25);
    assert_eq!(app.count("messages").await, 25);
}

// ---------------------------------------------------------------------------------------------
// NonVerifiedGuestConversations

#[bellhop_testdb::test]
async fn a_visitor_conversation_falls_back_to_the_concierge_at_midday(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.visitor("device-1").await;
    let reply = create_visitor(&app, &token, json!({"message": "  Table for two?  "})).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.token(), Some(token.as_str()));
    let c = reply.conversation();
    let code = assert_code(&c["code"]);
    assert_eq!(c["subject"], "Table for two?");
    assert_eq!(c["outletCode"], "CONCIERGE");
    assert_eq!(c["outletName"], "Concierge");
    assert_eq!(c["orderCode"], Value::Null);
    assert_eq!(c["propertyCode"], "DEMO-HOTEL");
    assert_eq!(c["roomNumber"], Value::Null);
    assert_eq!(c["guestFirstName"], Value::Null);
    assert_eq!(c["guestLastName"], Value::Null);
    assert_eq!(c["guestLanguageCode"], Value::Null);
    assert_eq!(c["conversationStatus"], "Open");
    assert_eq!(c["conversationType"], "");
    let m = first_message(&reply);
    assert_code(&m["code"]);
    assert_eq!(m["content"], "Table for two?");
    assert_eq!(m["messageType"], "Guest");
    assert_eq!(m["firstName"], "");
    assert_eq!(m["lastName"], "");
    assert_eq!(m["languageCode"], "en");
    assert_eq!(m["isRead"], false);
    assert_eq!(m["isTranslated"], false);
    assert_eq!(m["serviceCenterName"], "");
    let form: Option<Value> =
        sqlx::query_scalar("SELECT order_form_details FROM conversations WHERE code = $1")
            .bind(&code)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(form, None);
}

#[bellhop_testdb::test]
async fn a_visitor_conversation_falls_back_to_the_bar_in_the_evening(pool: PgPool) {
    let app = spawn_with(pool, evening(), &[]).await;
    let token = app.visitor("device-1").await;
    let reply = create_visitor(&app, &token, json!({"message": "Table for two?"})).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.conversation()["outletCode"], "BAR");
    assert_eq!(reply.conversation()["outletName"], "Lobby Bar");
}

#[bellhop_testdb::test]
async fn a_visitor_may_only_use_outlets_that_allow_non_verified_guests(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.visitor("device-1").await;
    for code in ["ROOMSVC", "SPA"] {
        assert_refused(
            &app,
            CREATE_VISITOR,
            &token,
            json!({"message": "Hi", "outletCode": code}),
            403,
            "OutletNotAllowed",
        )
        .await;
    }
    for code in ["POOLBAR", "NOPE", "bar"] {
        assert_refused(
            &app,
            CREATE_VISITOR,
            &token,
            json!({"message": "Hi", "outletCode": code}),
            404,
            "OutletNotFound",
        )
        .await;
    }
    // The bar, named explicitly, is fine even while closed.
    let reply = create_visitor(&app, &token, json!({"message": "Hi", "outletCode": "BAR"})).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.conversation()["outletCode"], "BAR");
    // Nothing left for visitors at midday: the concierge stops taking them.
    set_outlets(
        &pool,
        "UPDATE outlets SET allow_non_verified_guests = false WHERE code = 'CONCIERGE'",
    )
    .await;
    assert_refused(
        &app,
        CREATE_VISITOR,
        &token,
        json!({"message": "Hi"}),
        422,
        "NoOutletAvailable",
    )
    .await;
}

#[bellhop_testdb::test]
async fn a_visitor_cannot_refer_to_an_order(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.visitor("device-1").await;
    for order in ["ORD-1001", "ORD-9999"] {
        assert_refused(
            &app,
            CREATE_VISITOR,
            &token,
            json!({"message": "Hi", "orderCode": order}),
            400,
            "InvalidRequest",
        )
        .await;
    }
    // An empty order code means "not given".
    create_visitor(&app, &token, json!({"message": "Hi", "orderCode": ""}))
        .await
        .assert_ok();
}

#[bellhop_testdb::test]
async fn a_signed_visitor_message_takes_its_names_from_the_form_in_any_key_case(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let token = app.visitor("device-1").await;
    let form = json!({"FirstName": "Kim", "LASTNAME": "Lee", "phone": "+44 20 7946 0000",
                      "party": {"adults": 2, "children": [4, 7]}});
    let reply = create_visitor(
        &app,
        &token,
        json!({"message": "Table for two?", "conversationType": "GUEST",
               "orderFormDetailsDictionary": form}),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.conversation()["conversationType"], "guest");
    assert_eq!(first_message(&reply)["firstName"], "Kim");
    assert_eq!(first_message(&reply)["lastName"], "Lee");
    // The conversation itself carries no stay details.
    assert_eq!(reply.conversation()["guestFirstName"], Value::Null);
    let code = reply.conversation()["code"].as_str().unwrap().to_owned();
    let stored: Option<Value> =
        sqlx::query_scalar("SELECT order_form_details FROM conversations WHERE code = $1")
            .bind(&code)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, Some(form.clone()));

    // Unsigned: the form is kept but the message has no names.
    let reply = create_visitor(
        &app,
        &token,
        json!({"message": "Hi", "orderFormDetailsDictionary": form}),
    )
    .await;
    reply.assert_ok();
    assert_eq!(first_message(&reply)["firstName"], "");
    assert_eq!(first_message(&reply)["lastName"], "");

    // Signed without names in the form, or without a form: empty strings.
    for fields in [
        json!({"message": "Hi", "conversationType": "guest",
               "orderFormDetailsDictionary": {"phone": "1"}}),
        json!({"message": "Hi", "conversationType": "guest"}),
    ] {
        let reply = create_visitor(&app, &token, fields).await;
        reply.assert_ok();
        assert_eq!(first_message(&reply)["firstName"], "");
        assert_eq!(first_message(&reply)["lastName"], "");
    }
}

#[bellhop_testdb::test]
async fn the_form_may_have_50_keys_5_levels_and_16_kib_but_no_more(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.visitor("device-1").await;
    let keys = |n: usize| -> Value {
        Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
    };
    let mut nested_over = keys(49);
    nested_over["nested"] = json!({"one": 1});
    // {"a":"…"} is 8 bytes of framing.
    let sized = |n: usize| json!({ "a": "x".repeat(n - 8) });
    let fits = [
        keys(50),
        json!({"a": {"b": {"c": {"d": {"e": 1}}}}}),
        json!({"a": [[[[1]]]]}),
        sized(16 * 1024),
        json!({}),
    ];
    for form in fits {
        let reply = create_visitor(
            &app,
            &token,
            json!({"message": "Hi", "orderFormDetailsDictionary": form}),
        )
        .await;
        assert_eq!(reply.status.as_u16(), 200, "{form}: {}", reply.body);
    }
    let over = [
        keys(51),
        nested_over,
        json!({"a": {"b": {"c": {"d": {"e": {}}}}}}),
        json!({"a": [[[[[1]]]]]}),
        sized(16 * 1024 + 1),
        json!(["firstName", "Kim"]),
        json!("text"),
        json!(5),
        json!(true),
        json!({"firstName": "K\u{0}m"}),
    ];
    for form in over {
        assert_refused(
            &app,
            CREATE_VISITOR,
            &token,
            json!({"message": "Hi", "orderFormDetailsDictionary": form}),
            400,
            "InvalidRequest",
        )
        .await;
    }
}

#[bellhop_testdb::test]
async fn only_visitor_sessions_may_use_the_non_verified_route(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let ada = app.ada().await;
    for token in [&anonymous, &ada] {
        assert_refused(
            &app,
            CREATE_VISITOR,
            token,
            json!({"message": "Hi"}),
            403,
            "GuestNotVerified",
        )
        .await;
    }
}

#[bellhop_testdb::test]
async fn the_visitor_route_validates_the_message_like_create(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.visitor("device-1").await;
    assert_refused(
        &app,
        CREATE_VISITOR,
        &token,
        json!({"message": " "}),
        400,
        "MessageRequired",
    )
    .await;
    assert_refused(
        &app,
        CREATE_VISITOR,
        &token,
        json!({ "message": "a".repeat(4001) }),
        400,
        "MessageTooLong",
    )
    .await;
    assert_refused(
        &app,
        CREATE_VISITOR,
        &token,
        json!({"message": "Hi", "conversationType": "staff"}),
        400,
        "InvalidConversationType",
    )
    .await;
    let reply = app
        .post_raw(
            "/api/v40/interactive/messages/nonverifiedguestconversations",
            Some(FORM),
            format!("Message=Hi+there&SessionToken={token}&ConversationType=guest"),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(first_message(&reply)["content"], "Hi there");
}
