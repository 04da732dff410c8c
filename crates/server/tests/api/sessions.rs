//! Sessions and tokens (section 3 of the spec): starting sessions, verifying a guest by room,
//! logging in, the session language, token forgery, expiry, refresh and the wire conventions
//! of the session routes.

// Helpers, like tests, panic when the service misbehaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
};
use bellhop_application::tokens::{TokenClaims, TokenCodec};
use chrono::Duration;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::*;

const INITIALISE: &str = "/API/V40/System/Session/Initialise";
const BY_ROOM: &str = "/API/V40/System/Session/InitialiseByRoom";
const BY_IDENTIFIER: &str = "/API/V40/System/Session/InitialiseByGuestIdentifier";
const LOGIN: &str = "/API/V40/System/Session/LoginByRoom";
const OUTLETS: &str = "/API/V40/System/Settings/Outlet";
const FORM: &str = "application/x-www-form-urlencoded";

/// The demo property's credentials plus `extra` fields.
fn credentials(extra: Value) -> Value {
    let mut body = json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token"});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

/// A guest route every kind of session may call: the outlet settings.
async fn outlets<S, B>(app: &TestApp<S>, token: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    app.get(&format!("{OUTLETS}?SessionToken={token}")).await
}

/// Asserts that the outlet settings answer with `token` and hands back the token to use next.
#[track_caller]
fn assert_live(reply: &Reply) -> String {
    reply.assert_ok();
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.token().expect("a token").to_owned()
}

async fn login<S, B>(app: &TestApp<S>, token: &str, room: &str, last_name: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    app.post_json(
        LOGIN,
        json!({"sessionToken": token, "roomNumber": room, "lastName": last_name}),
    )
    .await
}

/// The `languageCode` of the first message of a conversation created with `token`.
async fn message_language<S, B>(app: &TestApp<S>, token: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let reply = app
        .post_json(CREATE, json!({"sessionToken": token, "message": "Bonjour"}))
        .await;
    reply.assert_ok();
    reply.conversation()["messages"][0]["languageCode"]
        .as_str()
        .expect("a language code")
        .to_owned()
}

fn codec() -> TokenCodec {
    TokenCodec::new(SecretString::from(SECRET), None)
}

fn claims_of(token: &str) -> TokenClaims {
    codec().verify(token).expect("a token signed by the server")
}

fn error_message(reply: &Reply) -> String {
    reply.body["responses"][0]["responseStatus"]["errors"][0]["message"]
        .as_str()
        .expect("an error message")
        .to_owned()
}

/// The body of a successful `initialiseSessionResponse`, with `token`.
fn initialised(token: &str) -> Value {
    json!({
        "sessionToken": token,
        "responsesIncluded": "initialiseSessionResponse",
        "responses": [{"initialiseSessionResponse": {
            "content": {"brandCode": "DEMO-BRAND", "groupCode": "DEMO-GROUP"},
            "succeeded": true
        }}],
        "status": "Success"
    })
}

#[track_caller]
fn assert_token_format(token: &str) {
    let (payload, signature) = token.split_once('.').expect("two parts");
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    assert!(base64url(payload), "payload of {token}");
    assert!(base64url(signature), "signature of {token}");
    assert_eq!(signature.len(), 43, "signature of {token}");
    assert!(!token.contains('='), "{token}");
}

// ---------------------------------------------------------------------------------------------
// Starting sessions

#[bellhop_testdb::test]
async fn initialise_answers_the_brand_and_group_of_the_property_with_a_new_token(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app.post_json(INITIALISE, credentials(json!({}))).await;
    assert_eq!(reply.status.as_u16(), 200);
    let token = reply.token().expect("a token").to_owned();
    assert_eq!(reply.body, initialised(&token));
    assert_eq!(
        reply.headers.get("content-type").unwrap().to_str().unwrap(),
        "application/json; charset=utf-8"
    );
    assert_live(&outlets(&app, &token).await);
    assert_eq!(app.count("sessions").await, 1);
}

#[bellhop_testdb::test]
async fn initialise_by_room_answers_the_same_message_with_a_token_of_a_verified_guest(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let reply = app
        .post_json(
            BY_ROOM,
            credentials(json!({"roomNumber": "101", "lastName": "Lovelace"})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200);
    let token = reply.token().expect("a token").to_owned();
    assert_eq!(reply.body, initialised(&token));
    // Verified: the guest may create a conversation, in Ada's name.
    let created = app
        .post_json(
            CREATE,
            json!({"sessionToken": token, "message": "Hi", "conversationType": "guest"}),
        )
        .await;
    created.assert_ok();
    assert_eq!(created.conversation()["roomNumber"], "101");
    assert_eq!(created.conversation()["messages"][0]["firstName"], "Ada");
}

#[bellhop_testdb::test]
async fn initialise_by_guest_identifier_answers_the_same_message_with_a_visitor_token(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let reply = app
        .post_json(
            BY_IDENTIFIER,
            credentials(json!({"guestUniqueIdentifier": "device-42"})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200);
    let token = reply.token().expect("a token").to_owned();
    assert_eq!(reply.body, initialised(&token));
    // A visitor: the verified route refuses it, the visitor route accepts it.
    app.post_json(CREATE, json!({"sessionToken": token, "message": "Hi"}))
        .await
        .assert_error(403, "GuestNotVerified");
    app.post_json(
        CREATE_VISITOR,
        json!({"sessionToken": token, "message": "Hi"}),
    )
    .await
    .assert_ok();
}

#[bellhop_testdb::test]
async fn every_token_is_two_unpadded_base64url_parts_with_a_43_character_signature(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let ada = app.ada().await;
    let visitor = app.visitor("device-1").await;
    let logged_in = login(&app, &anonymous, "102", "Turing").await;
    logged_in.assert_ok();
    let logged_in = logged_in.token().expect("a token").to_owned();
    for token in [&anonymous, &ada, &visitor, &logged_in] {
        assert_token_format(token);
    }
    let all = [&anonymous, &ada, &visitor, &logged_in];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[bellhop_testdb::test]
async fn a_wrong_interface_token_and_an_unknown_property_code_get_the_same_error(pool: PgPool) {
    let app = spawn(pool).await;
    let before = app.count("sessions").await;
    let mut messages = Vec::new();
    for (route, extra) in [
        (INITIALISE, json!({})),
        (
            BY_ROOM,
            json!({"roomNumber": "101", "lastName": "Lovelace"}),
        ),
        (BY_IDENTIFIER, json!({"guestUniqueIdentifier": "device-1"})),
    ] {
        let mut wrong_token = credentials(extra.clone());
        wrong_token["interfaceToken"] = json!("not-the-token");
        let mut unknown_property = credentials(extra);
        unknown_property["propertyCode"] = json!("NO-SUCH-HOTEL");
        for body in [wrong_token, unknown_property] {
            let reply = app.post_json(route, body.clone()).await;
            reply.assert_error(401, "InterfaceTokenInvalid");
            assert_eq!(reply.body["sessionToken"], Value::Null, "{body}");
            assert_eq!(reply.body["status"], "Failure");
            messages.push(error_message(&reply));
        }
    }
    assert!(
        messages.iter().all(|m| *m == messages[0]),
        "one message for every case: {messages:?}"
    );
    assert_eq!(app.count("sessions").await, before);
}

#[bellhop_testdb::test]
async fn a_disabled_interface_token_is_refused_like_a_wrong_one(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let wrong = app
        .post_json(
            INITIALISE,
            json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "wrong"}),
        )
        .await;
    sqlx::query("UPDATE interface_tokens SET enabled = false")
        .execute(&pool)
        .await
        .unwrap();
    for (route, extra) in [
        (INITIALISE, json!({})),
        (
            BY_ROOM,
            json!({"roomNumber": "101", "lastName": "Lovelace"}),
        ),
        (BY_IDENTIFIER, json!({"guestUniqueIdentifier": "device-1"})),
    ] {
        let reply = app.post_json(route, credentials(extra)).await;
        reply.assert_error(401, "InterfaceTokenInvalid");
        assert_eq!(error_message(&reply), error_message(&wrong));
    }
    assert_eq!(app.count("sessions").await, 0);
}

#[bellhop_testdb::test]
async fn a_missing_null_or_empty_required_field_is_an_invalid_request(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let cases: Vec<(&str, Value)> = vec![
        (INITIALISE, credentials(json!({}))),
        (
            BY_ROOM,
            credentials(json!({"roomNumber": "101", "lastName": "Lovelace"})),
        ),
        (
            BY_IDENTIFIER,
            credentials(json!({"guestUniqueIdentifier": "device-1"})),
        ),
        (
            LOGIN,
            json!({"sessionToken": anonymous, "roomNumber": "101", "lastName": "Lovelace"}),
        ),
    ];
    let before = app.count("sessions").await;
    for (route, complete) in cases {
        let fields: Vec<String> = complete
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "sessionToken")
            .cloned()
            .collect();
        for field in fields {
            for blank in [None, Some(Value::Null), Some(json!(""))] {
                let mut body = complete.clone();
                match &blank {
                    None => {
                        body.as_object_mut().unwrap().remove(&field);
                    }
                    Some(value) => body[&field] = value.clone(),
                }
                let reply = app.post_json(route, body.clone()).await;
                assert_eq!(reply.status.as_u16(), 400, "{route} {body}: {}", reply.body);
                assert_eq!(reply.error_code(), Some("InvalidRequest"), "{route} {body}");
            }
        }
    }
    assert_eq!(app.count("sessions").await, before);
    // The login that was refused left the session alone.
    assert_live(&outlets(&app, &anonymous).await);
}

#[bellhop_testdb::test]
async fn a_guest_unique_identifier_may_have_200_characters_but_not_201(pool: PgPool) {
    let app = spawn(pool).await;
    for ok in ["x".repeat(200), "é".repeat(200), "a".into()] {
        let reply = app
            .post_json(
                BY_IDENTIFIER,
                credentials(json!({ "guestUniqueIdentifier": ok })),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    }
    for too_long in ["x".repeat(201), "é".repeat(201)] {
        app.post_json(
            BY_IDENTIFIER,
            credentials(json!({ "guestUniqueIdentifier": too_long })),
        )
        .await
        .assert_error(400, "InvalidRequest");
    }
    assert_eq!(app.count("sessions").await, 3);
}

// ---------------------------------------------------------------------------------------------
// Verification by room

#[bellhop_testdb::test]
async fn the_last_name_matches_ignoring_case_accents_and_surrounding_whitespace(pool: PgPool) {
    let app = spawn(pool).await;
    for last_name in [
        "Núñez",
        "nunez",
        "NUNEZ",
        "  núñez ",
        "NÚÑEZ",
        "Nun\u{303}ez",
    ] {
        let reply = app
            .post_json(
                BY_ROOM,
                credentials(json!({"roomNumber": "204", "lastName": last_name})),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{last_name:?}: {}", reply.body);
        let token = reply.token().unwrap().to_owned();
        let created = app
            .post_json(
                CREATE,
                json!({"sessionToken": token, "message": "Hola", "conversationType": "guest"}),
            )
            .await;
        created.assert_ok();
        assert_eq!(created.conversation()["roomNumber"], "204");
        assert_eq!(created.conversation()["guestLastName"], "Núñez");
    }
    for wrong in ["Nune", "Nunez Garcia", "N"] {
        app.post_json(
            BY_ROOM,
            credentials(json!({"roomNumber": "204", "lastName": wrong})),
        )
        .await
        .assert_error(401, "GuestVerificationFailed");
    }
}

#[bellhop_testdb::test]
async fn the_room_number_must_match_exactly(pool: PgPool) {
    let app = spawn(pool).await;
    for room in ["101 ", " 101", "0101", "101a", "10"] {
        let reply = app
            .post_json(
                BY_ROOM,
                credentials(json!({"roomNumber": room, "lastName": "Lovelace"})),
            )
            .await;
        reply.assert_error(401, "GuestVerificationFailed");
        assert_eq!(reply.body["sessionToken"], Value::Null);
    }
    assert_eq!(app.count("sessions").await, 0);
}

#[bellhop_testdb::test]
async fn a_wrong_room_and_a_wrong_name_get_one_error_that_does_not_say_which(pool: PgPool) {
    let app = spawn(pool).await;
    let mut messages = Vec::new();
    for (room, last_name) in [
        ("101", "Turing"),   // wrong name
        ("102", "Lovelace"), // wrong room (another guest's)
        ("999", "Lovelace"), // no such room
        ("999", "Nobody"),   // both wrong
    ] {
        let reply = app
            .post_json(
                BY_ROOM,
                credentials(json!({"roomNumber": room, "lastName": last_name})),
            )
            .await;
        reply.assert_error(401, "GuestVerificationFailed");
        let message = error_message(&reply);
        let lower = message.to_lowercase();
        assert!(
            !lower.contains("last name") && !lower.contains("wrong room"),
            "{message}"
        );
        assert!(!message.contains("Lovelace") && !message.contains("Turing"));
        messages.push(message);
    }
    assert!(messages.iter().all(|m| *m == messages[0]), "{messages:?}");
}

#[bellhop_testdb::test]
async fn a_guest_who_has_checked_out_cannot_start_a_session_or_log_in(pool: PgPool) {
    let app = spawn(pool).await;
    // Demo stays check out three days after loading.
    app.clock.advance(Duration::days(3) + Duration::hours(2));
    app.post_json(
        BY_ROOM,
        credentials(json!({"roomNumber": "101", "lastName": "Lovelace"})),
    )
    .await
    .assert_error(401, "GuestVerificationFailed");
    let anonymous = app.anonymous().await;
    let reply = login(&app, &anonymous, "101", "Lovelace").await;
    reply.assert_error(401, "GuestVerificationFailed");
    assert_eq!(reply.token(), Some(anonymous.as_str()));
    assert_eq!(app.count("sessions").await, 1);
}

// ---------------------------------------------------------------------------------------------
// Language

#[bellhop_testdb::test]
async fn a_verified_session_speaks_the_stays_language_unless_one_is_given(pool: PgPool) {
    let app = spawn(pool).await;
    let grace = app.guest("203", "Hopper").await;
    assert_eq!(message_language(&app, &grace).await, "fr");
    let german = app
        .post_json(
            BY_ROOM,
            credentials(json!({"roomNumber": "203", "lastName": "Hopper", "languageCode": "de"})),
        )
        .await;
    german.assert_ok();
    let german = german.token().unwrap().to_owned();
    assert_eq!(message_language(&app, &german).await, "de");
    // The conversation still records the stay's language for staff.
    let created = app
        .post_json(CREATE, json!({"sessionToken": german, "message": "Hallo"}))
        .await;
    assert_eq!(created.conversation()["guestLanguageCode"], "fr");
    // Ada's stay speaks English.
    let ada = app.ada().await;
    assert_eq!(message_language(&app, &ada).await, "en");
}

#[bellhop_testdb::test]
async fn an_invalid_language_code_is_an_invalid_request(pool: PgPool) {
    let app = spawn(pool).await;
    for bad in ["e", "en; drop", "1en"] {
        app.post_json(INITIALISE, credentials(json!({ "languageCode": bad })))
            .await
            .assert_error(400, "InvalidRequest");
    }
    assert_eq!(app.count("sessions").await, 0);
}

#[bellhop_testdb::test]
async fn login_by_room_from_an_anonymous_session_takes_the_stays_language(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let reply = login(&app, &anonymous, "203", "Hopper").await;
    reply.assert_ok();
    let token = reply.token().unwrap().to_owned();
    assert_eq!(message_language(&app, &token).await, "fr");
}

#[bellhop_testdb::test]
async fn login_by_room_keeps_a_language_given_explicitly_at_initialise(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app
        .post_json(INITIALISE, credentials(json!({"languageCode": "it"})))
        .await;
    reply.assert_ok();
    let italian = reply.token().unwrap().to_owned();
    let reply = login(&app, &italian, "203", "Hopper").await;
    reply.assert_ok();
    let token = reply.token().unwrap().to_owned();
    assert_eq!(message_language(&app, &token).await, "it");
}

// ---------------------------------------------------------------------------------------------
// LoginByRoom

#[bellhop_testdb::test]
async fn login_by_room_answers_response_status_with_a_new_token_and_ends_the_old_session(
    pool: PgPool,
) {
    let app = spawn(pool).await;
    let old = app.anonymous().await;
    let reply = login(&app, &old, "101", "lovelace").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let new = reply.token().expect("a token").to_owned();
    assert_ne!(new, old);
    assert_token_format(&new);
    assert_eq!(
        reply.body,
        json!({
            "sessionToken": new,
            "responsesIncluded": "responseStatus",
            "responses": [{"responseStatus": {"succeeded": true}}],
            "status": "Success"
        })
    );
    assert_ne!(claims_of(&new).session_id, claims_of(&old).session_id);
    // The old token is worth nothing now, on every guest route.
    let expired = outlets(&app, &old).await;
    expired.assert_error(401, "SessionExpired");
    assert_eq!(expired.body["sessionToken"], Value::Null);
    app.post_json(CREATE, json!({"sessionToken": old, "message": "Hi"}))
        .await
        .assert_error(401, "SessionExpired");
    login(&app, &old, "101", "Lovelace")
        .await
        .assert_error(401, "SessionExpired");
    // The new one is Ada's.
    assert_live(&outlets(&app, &new).await);
    let created = app
        .post_json(CREATE, json!({"sessionToken": new, "message": "Hi"}))
        .await;
    created.assert_ok();
    assert_eq!(created.conversation()["roomNumber"], "101");
    assert_eq!(created.token(), Some(new.as_str()));
}

#[bellhop_testdb::test]
async fn a_failed_login_by_room_leaves_the_session_as_it_was(pool: PgPool) {
    let app = spawn(pool).await;
    let old = app.anonymous().await;
    let sessions = app.count("sessions").await;
    for (room, last_name) in [("101", "Turing"), ("999", "Lovelace")] {
        let reply = login(&app, &old, room, last_name).await;
        reply.assert_error(401, "GuestVerificationFailed");
        assert_eq!(reply.token(), Some(old.as_str()));
    }
    assert_eq!(app.count("sessions").await, sessions);
    let still = outlets(&app, &old).await;
    assert_eq!(assert_live(&still), old);
    // Still anonymous: not verified by the failed attempt.
    app.post_json(CREATE, json!({"sessionToken": old, "message": "Hi"}))
        .await
        .assert_error(403, "GuestNotVerified");
    // And a later good login still works.
    login(&app, &old, "101", "Lovelace").await.assert_ok();
}

#[bellhop_testdb::test]
async fn a_visitor_or_a_verified_guest_may_log_in_by_room_too(pool: PgPool) {
    let app = spawn(pool).await;
    for old in [app.visitor("device-1").await, app.ada().await] {
        let reply = login(&app, &old, "102", "Turing").await;
        reply.assert_ok();
        let new = reply.token().unwrap().to_owned();
        outlets(&app, &old)
            .await
            .assert_error(401, "SessionExpired");
        let created = app
            .post_json(CREATE, json!({"sessionToken": new, "message": "Hi"}))
            .await;
        created.assert_ok();
        assert_eq!(created.conversation()["roomNumber"], "102");
    }
}

// ---------------------------------------------------------------------------------------------
// Token errors

#[bellhop_testdb::test]
async fn no_token_is_session_token_required_with_a_null_token_in_the_envelope(pool: PgPool) {
    let app = spawn(pool).await;
    let replies = vec![
        app.get(OUTLETS).await,
        app.get(&format!("{OUTLETS}?SessionToken=")).await,
        app.post_json(CREATE, json!({"message": "Hi"})).await,
        app.post_json(CREATE, json!({"message": "Hi", "sessionToken": null}))
            .await,
        app.post_json(CREATE, json!({"message": "Hi", "sessionToken": ""}))
            .await,
        app.post_json(LOGIN, json!({"roomNumber": "101", "lastName": "Lovelace"}))
            .await,
    ];
    for reply in replies {
        reply.assert_error(401, "SessionTokenRequired");
        let envelope = reply.body.as_object().expect("an envelope");
        assert_eq!(envelope.get("sessionToken"), Some(&Value::Null));
        assert_eq!(reply.body["responsesIncluded"], "responseStatus");
        assert_eq!(reply.body["status"], "Failure");
        assert_eq!(
            reply.body["responses"][0]["responseStatus"]["succeeded"],
            false
        );
    }
    assert_eq!(app.count("conversations").await, 0);
}

#[bellhop_testdb::test]
async fn a_garbage_token_is_invalid(pool: PgPool) {
    let app = spawn(pool).await;
    let real = app.anonymous().await;
    let too_long = format!("{real}{}", "A".repeat(100));
    for garbage in [
        "nonsense",
        "a.b",
        "....",
        // The seed sample's token: well formed for the original service, not for this one.
        "UYpmOOJP3IgKAAAAAAAAAAAAAAA.lLhwFRjMIUqLc1bYWMqD6lELA7Rcxo-DgZG5qSbUy4U",
        &real[..real.len() - 1],
        &format!("{real}A"),
        &too_long,
        &real.replace('.', ""),
    ] {
        let reply = outlets(&app, garbage).await;
        reply.assert_error(401, "SessionTokenInvalid");
        assert_eq!(reply.body["sessionToken"], Value::Null, "{garbage}");
    }
}

#[bellhop_testdb::test]
async fn a_token_with_one_character_of_its_signature_changed_is_invalid(pool: PgPool) {
    let app = spawn(pool).await;
    let real = app.ada().await;
    let (payload, signature) = real.split_once('.').unwrap();
    for at in [0, 20] {
        let mut chars: Vec<char> = signature.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        let forged = format!("{payload}.{}", chars.into_iter().collect::<String>());
        outlets(&app, &forged)
            .await
            .assert_error(401, "SessionTokenInvalid");
        app.post_json(CREATE, json!({"sessionToken": forged, "message": "Hi"}))
            .await
            .assert_error(401, "SessionTokenInvalid");
    }
    // A changed payload under the real signature fails too.
    let mut chars: Vec<char> = payload.chars().collect();
    let last = chars.len() - 2;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let forged = format!("{}.{signature}", chars.into_iter().collect::<String>());
    outlets(&app, &forged)
        .await
        .assert_error(401, "SessionTokenInvalid");
    assert_eq!(app.count("conversations").await, 0);
    assert_live(&outlets(&app, &real).await);
}

#[bellhop_testdb::test]
async fn a_token_signed_with_another_secret_is_invalid(pool: PgPool) {
    let app = spawn(pool).await;
    let real = app.ada().await;
    let claims = claims_of(&real);
    let other = TokenCodec::new(
        SecretString::from("another-secret-0123456789abcdef01234567"),
        None,
    );
    let forged = other.sign(&claims);
    outlets(&app, &forged)
        .await
        .assert_error(401, "SessionTokenInvalid");
    app.post_json(CREATE, json!({"sessionToken": forged, "message": "Hi"}))
        .await
        .assert_error(401, "SessionTokenInvalid");
}

#[bellhop_testdb::test]
async fn a_well_signed_token_for_another_property_or_an_unknown_session_is_invalid(pool: PgPool) {
    let app = spawn(pool).await;
    let real = app.ada().await;
    let claims = claims_of(&real);
    let other_property = codec().sign(&TokenClaims {
        property_id: claims.property_id + 1,
        ..claims
    });
    let unknown_session = codec().sign(&TokenClaims {
        session_id: uuid::Uuid::new_v4(),
        ..claims
    });
    for forged in [other_property, unknown_session] {
        let reply = outlets(&app, &forged).await;
        reply.assert_error(401, "SessionTokenInvalid");
        assert_eq!(reply.body["sessionToken"], Value::Null);
    }
    // The codec itself is the server's: a re-signed copy of the real claims is accepted.
    assert_live(&outlets(&app, &codec().sign(&claims)).await);
}

#[bellhop_testdb::test]
async fn a_token_signed_with_the_previous_secret_is_still_accepted(pool: PgPool) {
    let app = spawn(pool).await;
    let real = app.ada().await;
    let previous = TokenCodec::new(SecretString::from(PREVIOUS_SECRET), None);
    let old_style = previous.sign(&claims_of(&real));
    assert_ne!(old_style, real);
    assert_live(&outlets(&app, &old_style).await);
    let created = app
        .post_json(CREATE, json!({"sessionToken": old_style, "message": "Hi"}))
        .await;
    created.assert_ok();
    assert_eq!(created.conversation()["roomNumber"], "101");
    // Once due for a refresh, the fresh token is signed with the current secret.
    app.clock.advance(Duration::minutes(16));
    let reply = outlets(&app, &old_style).await;
    let fresh = assert_live(&reply);
    assert_ne!(fresh, old_style);
    assert_eq!(claims_of(&fresh).session_id, claims_of(&real).session_id);
}

// ---------------------------------------------------------------------------------------------
// Lifetime

#[bellhop_testdb::test]
async fn a_session_idle_for_24_hours_has_expired(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let ada = app.ada().await;
    let visitor = app.visitor("device-1").await;
    app.clock.advance(Duration::hours(24));
    for token in [&anonymous, &ada, &visitor] {
        let reply = outlets(&app, token).await;
        reply.assert_error(401, "SessionExpired");
        assert_eq!(reply.body["sessionToken"], Value::Null);
    }
    app.post_json(CREATE, json!({"sessionToken": ada, "message": "Hi"}))
        .await
        .assert_error(401, "SessionExpired");
}

#[bellhop_testdb::test]
async fn a_session_idle_for_just_under_24_hours_is_alive(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    app.clock
        .advance(Duration::hours(24) - Duration::seconds(1));
    assert_live(&outlets(&app, &anonymous).await);
}

#[bellhop_testdb::test]
async fn activity_keeps_a_session_alive_past_the_idle_timeout(pool: PgPool) {
    let app = spawn(pool).await;
    let anonymous = app.anonymous().await;
    let ada = app.ada().await;
    app.clock.advance(Duration::hours(20));
    assert_live(&outlets(&app, &anonymous).await);
    assert_live(&outlets(&app, &ada).await);
    app.clock.advance(Duration::hours(20));
    assert_live(&outlets(&app, &anonymous).await);
    assert_live(&outlets(&app, &ada).await);
    // And then idle again for a day: gone.
    app.clock.advance(Duration::hours(24));
    outlets(&app, &anonymous)
        .await
        .assert_error(401, "SessionExpired");
}

#[bellhop_testdb::test]
async fn a_verified_session_ends_six_hours_after_check_out_even_when_active(pool: PgPool) {
    let app = spawn(pool).await;
    let ada = app.ada().await;
    let anonymous = app.anonymous().await;
    // Check-out is three days after loading (72 h); the grace ends at 78 h.
    for hours in [20, 40, 60, 72, 77] {
        app.clock.set(midday() + Duration::hours(hours));
        assert_live(&outlets(&app, &ada).await);
        assert_live(&outlets(&app, &anonymous).await);
    }
    app.clock
        .set(midday() + Duration::hours(78) - Duration::minutes(1));
    assert_live(&outlets(&app, &ada).await);
    app.clock
        .set(midday() + Duration::hours(78) + Duration::minutes(1));
    outlets(&app, &ada)
        .await
        .assert_error(401, "SessionExpired");
    // An anonymous session has no check-out.
    assert_live(&outlets(&app, &anonymous).await);
}

#[bellhop_testdb::test]
async fn the_idle_timeout_is_configurable(pool: PgPool) {
    let app = spawn_with(pool, midday(), &[("BELLHOP_SESSION_IDLE_SECS", "60")]).await;
    let kept = app.anonymous().await;
    let idle = app.anonymous().await;
    app.clock.advance(Duration::seconds(59));
    assert_live(&outlets(&app, &kept).await);
    app.clock.advance(Duration::seconds(2));
    outlets(&app, &idle)
        .await
        .assert_error(401, "SessionExpired");
    // The one used at 59 s lives on until 60 s after that.
    assert_live(&outlets(&app, &kept).await);
    app.clock.advance(Duration::seconds(61));
    outlets(&app, &kept)
        .await
        .assert_error(401, "SessionExpired");
}

#[bellhop_testdb::test]
async fn the_check_out_grace_is_configurable(pool: PgPool) {
    let app = spawn_with(pool, midday(), &[("BELLHOP_CHECKOUT_GRACE_SECS", "60")]).await;
    let ada = app.ada().await;
    let check_out = midday() + Duration::days(3);
    // Active often enough never to idle out.
    for hours in [20, 40, 60, 71] {
        app.clock.set(midday() + Duration::hours(hours));
        assert_live(&outlets(&app, &ada).await);
    }
    app.clock.set(check_out + Duration::seconds(30));
    assert_live(&outlets(&app, &ada).await);
    app.clock.set(check_out + Duration::seconds(61));
    outlets(&app, &ada)
        .await
        .assert_error(401, "SessionExpired");
}

// ---------------------------------------------------------------------------------------------
// Refresh

#[bellhop_testdb::test]
async fn a_token_up_to_15_minutes_old_comes_back_unchanged(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    assert_eq!(assert_live(&outlets(&app, &token).await), token);
    app.clock.advance(Duration::minutes(14));
    assert_eq!(assert_live(&outlets(&app, &token).await), token);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(assert_live(&outlets(&app, &token).await), token);
    let created = app
        .post_json(CREATE, json!({"sessionToken": token, "message": "Hi"}))
        .await;
    created.assert_ok();
    assert_eq!(created.token(), Some(token.as_str()));
}

#[bellhop_testdb::test]
async fn a_token_older_than_15_minutes_gets_a_fresh_one_and_both_keep_working(pool: PgPool) {
    let app = spawn(pool).await;
    let old = app.ada().await;
    app.clock.advance(Duration::minutes(16));
    let fresh = assert_live(&outlets(&app, &old).await);
    assert_ne!(fresh, old);
    assert_token_format(&fresh);
    assert_eq!(claims_of(&fresh).session_id, claims_of(&old).session_id);
    assert_eq!(
        claims_of(&fresh).issued_at,
        midday() + Duration::minutes(16)
    );
    // The fresh one is young: it comes back as is.
    assert_eq!(assert_live(&outlets(&app, &fresh).await), fresh);
    // The old one still works (and still gets a fresh companion).
    let again = assert_live(&outlets(&app, &old).await);
    assert_ne!(again, old);
    // Both speak for the same guest.
    for token in [&old, &fresh] {
        let created = app
            .post_json(CREATE, json!({"sessionToken": token, "message": "Hi"}))
            .await;
        created.assert_ok();
        assert_eq!(created.conversation()["roomNumber"], "101");
    }
    assert_eq!(app.count("sessions").await, 1);
}

#[bellhop_testdb::test]
async fn the_refresh_interval_is_configurable(pool: PgPool) {
    let app = spawn_with(
        pool,
        midday(),
        &[("BELLHOP_SESSION_REFRESH_AFTER_SECS", "60")],
    )
    .await;
    let token = app.anonymous().await;
    app.clock.advance(Duration::seconds(59));
    assert_eq!(assert_live(&outlets(&app, &token).await), token);
    app.clock.advance(Duration::seconds(2));
    let fresh = assert_live(&outlets(&app, &token).await);
    assert_ne!(fresh, token);
    assert_eq!(assert_live(&outlets(&app, &fresh).await), fresh);
}

#[bellhop_testdb::test]
async fn an_error_response_to_a_valid_token_carries_the_token_to_use_next(pool: PgPool) {
    let app = spawn(pool).await;
    let token = app.ada().await;
    let not_found = app
        .get(&format!("{OUTLETS}?Code=NOPE&SessionToken={token}"))
        .await;
    not_found.assert_error(404, "OutletNotFound");
    assert_eq!(not_found.token(), Some(token.as_str()));
    let invalid = app
        .post_json(CREATE, json!({"sessionToken": token, "message": "  "}))
        .await;
    invalid.assert_error(400, "MessageRequired");
    assert_eq!(invalid.token(), Some(token.as_str()));
    // Once a refresh is due, the error carries the fresh token.
    app.clock.advance(Duration::minutes(16));
    let not_found = app
        .get(&format!("{OUTLETS}?Code=NOPE&SessionToken={token}"))
        .await;
    not_found.assert_error(404, "OutletNotFound");
    let fresh = not_found.token().expect("a fresh token").to_owned();
    assert_ne!(fresh, token);
    assert_eq!(claims_of(&fresh).session_id, claims_of(&token).session_id);
    assert_eq!(assert_live(&outlets(&app, &fresh).await), fresh);
}

// ---------------------------------------------------------------------------------------------
// Wire conventions

#[bellhop_testdb::test]
async fn session_routes_match_in_any_letter_case(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app
        .post_json("/api/v40/system/session/initialise", credentials(json!({})))
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.body, initialised(reply.token().unwrap()));
    let reply = app
        .post_json(
            "/API/V40/SYSTEM/SESSION/INITIALISEBYROOM",
            credentials(json!({"roomNumber": "101", "lastName": "Lovelace"})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let token = reply.token().unwrap().to_owned();
    let reply = app
        .post_json(
            "/api/V40/system/session/loginbyroom",
            json!({"sessionToken": token, "roomNumber": "102", "lastName": "Turing"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
}

#[bellhop_testdb::test]
async fn field_names_match_in_any_letter_case_and_unknown_fields_are_ignored(pool: PgPool) {
    let app = spawn(pool).await;
    for body in [
        json!({"PropertyCode": "DEMO-HOTEL", "InterfaceToken": "demo-interface-token",
               "RoomNumber": "101", "LastName": "Lovelace", "LanguageCode": "de", "Version": "4.0"}),
        json!({"PROPERTYCODE": "DEMO-HOTEL", "INTERFACETOKEN": "demo-interface-token",
               "ROOMNUMBER": "101", "LASTNAME": "Lovelace", "LANGUAGECODE": "de"}),
        json!({"propertycode": "DEMO-HOTEL", "interfacetoken": "demo-interface-token",
               "roomnumber": "101", "lastname": "Lovelace", "languagecode": "de",
               "deviceModel": {"make": "x", "ids": [1, 2]}, "somethingElse": true}),
    ] {
        let reply = app.post_json(BY_ROOM, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 200, "{body}: {}", reply.body);
        let token = reply.token().unwrap().to_owned();
        // The language, a field like any other, was read too.
        assert_eq!(message_language(&app, &token).await, "de");
    }
}

#[bellhop_testdb::test]
async fn session_routes_accept_forms_text_json_and_json_with_a_charset(pool: PgPool) {
    let app = spawn(pool).await;
    let json_body = credentials(json!({})).to_string();
    for content_type in [
        "application/json",
        "text/json",
        "application/json; charset=utf-8",
        "Text/JSON;charset=UTF-8",
    ] {
        let reply = app
            .post_raw(INITIALISE, Some(content_type), json_body.clone())
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{content_type}: {}", reply.body);
        assert_eq!(reply.body, initialised(reply.token().unwrap()));
    }
    for content_type in [FORM, "application/x-www-form-urlencoded; charset=utf-8"] {
        let reply = app
            .post_raw(
                BY_ROOM,
                Some(content_type),
                "PropertyCode=DEMO-HOTEL&InterfaceToken=demo-interface-token&RoomNumber=204&LastName=N%C3%BA%C3%B1ez+",
            )
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{content_type}: {}", reply.body);
        assert_eq!(reply.body, initialised(reply.token().unwrap()));
    }
    // LoginByRoom by form, with the token in the form.
    let anonymous = app.anonymous().await;
    let reply = app
        .post_raw(
            LOGIN,
            Some(FORM),
            format!("SessionToken={anonymous}&RoomNumber=203&LastName=hopper"),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let token = reply.token().unwrap().to_owned();
    assert_ne!(token, anonymous);
    assert_eq!(message_language(&app, &token).await, "fr");
}

#[bellhop_testdb::test]
async fn a_json_number_is_accepted_as_the_room_number(pool: PgPool) {
    let app = spawn(pool).await;
    let reply = app
        .post_json(
            BY_ROOM,
            credentials(json!({"roomNumber": 101, "lastName": "Lovelace"})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let anonymous = app.anonymous().await;
    let reply = app
        .post_json(
            LOGIN,
            json!({"sessionToken": anonymous, "roomNumber": 203, "lastName": "Hopper"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
}

#[bellhop_testdb::test]
async fn malformed_json_and_wrong_json_types_are_invalid_requests(pool: PgPool) {
    let app = spawn(pool).await;
    for body in [
        r#"{"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token""#.to_owned(),
        r#"{"propertyCode": "DEMO-HOTEL",}"#.to_owned(),
        "[1, 2]".to_owned(),
        "\"text\"".to_owned(),
        "not json".to_owned(),
        r#"{"propertyCode": [1], "interfaceToken": "demo-interface-token"}"#.to_owned(),
        r#"{"propertyCode": "DEMO-HOTEL", "interfaceToken": {"a": 1}}"#.to_owned(),
        r#"{"propertyCode": "DEMO-HOTEL", "interfaceToken": true}"#.to_owned(),
        r#"{"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token", "languageCode": ["de"]}"#.to_owned(),
    ] {
        let reply = app
            .post_raw(INITIALISE, Some("application/json"), body.clone())
            .await;
        assert_eq!(reply.status.as_u16(), 400, "{body}: {}", reply.body);
        assert_eq!(reply.error_code(), Some("InvalidRequest"), "{body}");
        assert_eq!(reply.body["sessionToken"], Value::Null);
        assert_eq!(
            reply.headers.get("content-type").unwrap().to_str().unwrap(),
            "application/json; charset=utf-8"
        );
    }
    assert_eq!(app.count("sessions").await, 0);
}

#[bellhop_testdb::test]
async fn another_content_type_is_unsupported_media_type(pool: PgPool) {
    let app = spawn(pool).await;
    let body = credentials(json!({})).to_string();
    for content_type in [Some("text/plain"), Some("application/xml"), None] {
        let reply = app.post_raw(INITIALISE, content_type, body.clone()).await;
        reply.assert_error(415, "UnsupportedMediaType");
    }
    assert_eq!(app.count("sessions").await, 0);
}

#[bellhop_testdb::test]
async fn a_body_of_64_kib_is_read_and_one_byte_more_is_payload_too_large(pool: PgPool) {
    let app = spawn(pool).await;
    let json_body = credentials(json!({})).to_string();
    let limit = 64 * 1024;
    let padded = |len: usize| format!("{json_body}{}", " ".repeat(len - json_body.len()));
    let reply = app
        .post_raw(INITIALISE, Some("application/json"), padded(limit))
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    let reply = app
        .post_raw(INITIALISE, Some("application/json"), padded(limit + 1))
        .await;
    reply.assert_error(413, "PayloadTooLarge");
    let reply = app
        .post_raw(INITIALISE, Some("application/json"), padded(1024 * 1024))
        .await;
    reply.assert_error(413, "PayloadTooLarge");
    assert_eq!(app.count("sessions").await, 1);
}

#[bellhop_testdb::test]
async fn bodies_that_are_not_utf8_or_contain_nul_are_invalid_requests(pool: PgPool) {
    let app = spawn(pool).await;
    let mut not_utf8 = br#"{"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-"#.to_vec();
    not_utf8.extend_from_slice(b"\xff\xfe");
    not_utf8.extend_from_slice(br#"interface-token"}"#);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", not_utf8),
        (
            FORM,
            b"propertyCode=DEMO-HOTEL&interfaceToken=demo-interface-token&languageCode=%FF"
                .to_vec(),
        ),
        (
            FORM,
            b"propertyCode=DEMO-HOTEL\xff&interfaceToken=demo-interface-token".to_vec(),
        ),
        (
            "application/json",
            br#"{"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token\u0000"}"#
                .to_vec(),
        ),
        (
            FORM,
            b"propertyCode=DEMO%00HOTEL&interfaceToken=demo-interface-token".to_vec(),
        ),
    ];
    for (content_type, body) in cases {
        let reply = app
            .post_raw(INITIALISE, Some(content_type), body.clone())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            400,
            "{}: {}",
            String::from_utf8_lossy(&body),
            reply.body
        );
        assert_eq!(reply.error_code(), Some("InvalidRequest"));
    }
    let reply = app
        .post_json(
            BY_IDENTIFIER,
            credentials(json!({"guestUniqueIdentifier": "device\u{0}1"})),
        )
        .await;
    reply.assert_error(400, "InvalidRequest");
    assert_eq!(app.count("sessions").await, 0);
}

#[bellhop_testdb::test]
async fn get_on_a_session_route_is_method_not_allowed(pool: PgPool) {
    let app = spawn(pool).await;
    for route in [
        INITIALISE,
        BY_ROOM,
        BY_IDENTIFIER,
        LOGIN,
        "/api/v40/system/session/initialise",
    ] {
        let reply = app.get(route).await;
        reply.assert_error(405, "MethodNotAllowed");
        assert_eq!(reply.body["status"], "Failure");
    }
    // And an unknown session route is a 404 in the envelope.
    app.post_json("/API/V40/System/Session/Logout", json!({}))
        .await
        .assert_error(404, "NotFound");
}
