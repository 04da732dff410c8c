//! Hostile input (sections 2, 6, 7 and 8 of the spec): every POST route of the guest and staff
//! APIs is fed malformed, mistyped, oversized, mis-encoded and injection-laden requests, and
//! every route is called with wrong methods and hostile codes. Each answer must be the
//! documented status and code in the right shape (the guest envelope, or the staff
//! `{"error": …}`), never a 5xx, never show SQL or a stack trace, never echo an injection
//! attempt, and — when it is a refusal — leave the database as it was.
//!
//! The tests are tables: routes (with the fields they read and what an unknown value gets)
//! crossed with cases. Failures are collected, each naming its route and case, and reported
//! together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{header::HeaderValue, Method},
    test::TestRequest,
    Error,
};
use bellhop_http::routes::ROUTES;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::*;

const STAFF_KEY: &str = "demo-staff-key";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
/// The default body limit (`BELLHOP_MAX_BODY_BYTES`).
const LIMIT: usize = 65_536;
/// Stands for the caller's session token in [`Field::valid`].
const TOKEN: &str = "{token}";

/// Injection attempts: each must get exactly the answer any other unknown value gets.
const SQL: [&str; 3] = [
    "' OR 1=1 --",
    "\"; DROP TABLE conversations; --",
    "%' AND pg_sleep(5) --",
];

/// Text that must never appear in an error body (lower case).
const LEAKS: [&str; 14] = [
    "syntax error",
    "select ",
    "sqlx",
    "panicked",
    "postgres",
    "stack backtrace",
    "rust_backtrace",
    ".rs:",
    "violates",
    "relation \\\"",
    "drop table",
    "pg_sleep",
    "1=1",
    "sqlstate",
];

/// An injection attempt must be answered well before `pg_sleep(5)` could have run.
const FAST: Duration = Duration::from_secs(4);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// A 2xx (and, in the guest API, `status: "Success"`).
    Pass,
    /// This status and error code.
    Fail(u16, &'static str),
}

use Outcome::{Fail, Pass};

const INVALID: Outcome = Fail(400, "InvalidRequest");
const REQUIRED: Outcome = Fail(400, "MessageRequired");
const TOO_LONG: Outcome = Fail(400, "MessageTooLong");
const BAD_TYPE: Outcome = Fail(400, "InvalidConversationType");
const PAGING: Outcome = Fail(400, "InvalidPaging");
const TOKEN_REQUIRED: Outcome = Fail(401, "SessionTokenRequired");
const TOKEN_INVALID: Outcome = Fail(401, "SessionTokenInvalid");
const CREDENTIALS: Outcome = Fail(401, "InterfaceTokenInvalid");
const VERIFICATION: Outcome = Fail(401, "GuestVerificationFailed");
const NO_ROUTE: Outcome = Fail(404, "NotFound");
const NO_OUTLET: Outcome = Fail(404, "OutletNotFound");
const NO_ORDER: Outcome = Fail(404, "OrderNotFound");
const NO_CONVERSATION: Outcome = Fail(404, "ConversationNotFound");
const NO_MESSAGE: Outcome = Fail(404, "MessageNotFound");
const NO_GUEST: Outcome = Fail(404, "GuestNotFound");
const NO_MEMBER: Outcome = Fail(404, "StaffMemberNotFound");
const NO_METHOD: Outcome = Fail(405, "MethodNotAllowed");
const TOO_LARGE: Outcome = Fail(413, "PayloadTooLarge");
const UNSUPPORTED: Outcome = Fail(415, "UnsupportedMediaType");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    /// `orderFormDetailsDictionary`: a JSON object (or its JSON text).
    Object,
}

/// A field a route reads.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: &'static str,
    kind: Kind,
    /// Its value in a request that succeeds: `""` leaves it out, [`TOKEN`] is the caller's.
    valid: &'static str,
    /// The answer when it holds text that names nothing (an unknown code, an injection).
    unknown: Outcome,
    /// The answer when it holds 10,000 characters.
    long: Outcome,
}

const fn text(name: &'static str, valid: &'static str, unknown: Outcome, long: Outcome) -> Field {
    Field {
        name,
        kind: Kind::Text,
        valid,
        unknown,
        long,
    }
}

const PROPERTY: Field = text("propertyCode", "DEMO-HOTEL", CREDENTIALS, CREDENTIALS);
const INTERFACE: Field = text(
    "interfaceToken",
    "demo-interface-token",
    CREDENTIALS,
    CREDENTIALS,
);
const LANGUAGE: Field = text("languageCode", "", INVALID, INVALID);
const VERSION: Field = text("version", "", Pass, Pass);
const LAST_NAME: Field = text("lastName", "Lovelace", VERIFICATION, VERIFICATION);
const ROOM: Field = text("roomNumber", "101", VERIFICATION, VERIFICATION);
const GUEST_ID: Field = text("guestUniqueIdentifier", "hostile-visitor", Pass, INVALID);
const SESSION_TOKEN: Field = text("sessionToken", TOKEN, TOKEN_INVALID, TOKEN_INVALID);
const MESSAGE: Field = text("message", "Hello from a hostile test", Pass, TOO_LONG);
const CONVERSATION_TYPE: Field = text("conversationType", "", BAD_TYPE, BAD_TYPE);
const OUTLET: Field = text("outletCode", "", NO_OUTLET, NO_OUTLET);
const ORDER: Field = text("orderCode", "", NO_ORDER, NO_ORDER);
/// A visitor may not name an order at all.
const VISITOR_ORDER: Field = text("orderCode", "", INVALID, INVALID);
const FORM_DETAILS: Field = Field {
    name: "orderFormDetailsDictionary",
    kind: Kind::Object,
    valid: "",
    unknown: INVALID,
    long: INVALID,
};
const MESSAGE_CODE: Field = text("messageCode", "", NO_MESSAGE, NO_MESSAGE);
const STAFF_CONTENT: Field = text("content", "Hello from staff", Pass, TOO_LONG);
const STAFF_ROOM: Field = text("roomNumber", "101", NO_GUEST, NO_GUEST);
const STAFF_OUTLET: Field = text("outletCode", "CONCIERGE", NO_OUTLET, NO_OUTLET);
const ASSIGNEE: Field = text("assigneeCode", "front-desk", NO_MEMBER, NO_MEMBER);

/// Who calls a route, and so which credentials a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// Session start: no token.
    Start,
    /// LoginByRoom: an anonymous session (replaced by each successful login).
    Login,
    /// Ada Lovelace, verified guest of room 101.
    Ada,
    /// A visitor session.
    Visitor,
    /// The demo staff key.
    Staff,
}

/// A POST route and what it reads.
#[derive(Debug)]
struct PostRoute {
    path: &'static str,
    caller: Caller,
    fields: &'static [Field],
    /// The field holding message text, if any.
    message: Option<&'static str>,
    /// Creates a conversation or a message (and so honours `Idempotency-Key`).
    creates: bool,
    /// The answer to a request carrying nothing but the caller's credentials.
    bare: Outcome,
}

const POST_ROUTES: [PostRoute; 16] = [
    PostRoute {
        path: "/API/V40/System/Session/Initialise",
        caller: Caller::Start,
        fields: &[PROPERTY, INTERFACE, LANGUAGE, VERSION],
        message: None,
        creates: false,
        bare: INVALID,
    },
    PostRoute {
        path: "/API/V40/System/Session/InitialiseByRoom",
        caller: Caller::Start,
        fields: &[PROPERTY, INTERFACE, LANGUAGE, VERSION, LAST_NAME, ROOM],
        message: None,
        creates: false,
        bare: INVALID,
    },
    PostRoute {
        path: "/API/V40/System/Session/InitialiseByGuestIdentifier",
        caller: Caller::Start,
        fields: &[PROPERTY, INTERFACE, LANGUAGE, VERSION, GUEST_ID],
        message: None,
        creates: false,
        bare: INVALID,
    },
    PostRoute {
        path: "/API/V40/System/Session/LoginByRoom",
        caller: Caller::Login,
        fields: &[LAST_NAME, ROOM, SESSION_TOKEN],
        message: None,
        creates: false,
        bare: INVALID,
    },
    PostRoute {
        path: CREATE,
        caller: Caller::Ada,
        fields: &[MESSAGE, CONVERSATION_TYPE, OUTLET, ORDER, SESSION_TOKEN],
        message: Some("message"),
        creates: true,
        bare: REQUIRED,
    },
    PostRoute {
        path: CREATE_VISITOR,
        caller: Caller::Visitor,
        fields: &[
            MESSAGE,
            CONVERSATION_TYPE,
            OUTLET,
            VISITOR_ORDER,
            FORM_DETAILS,
            SESSION_TOKEN,
        ],
        message: Some("message"),
        creates: true,
        bare: REQUIRED,
    },
    PostRoute {
        path: "/API/V40/Interactive/Messages/Conversations/{code}/Messages",
        caller: Caller::Ada,
        fields: &[MESSAGE, CONVERSATION_TYPE, SESSION_TOKEN],
        message: Some("message"),
        creates: true,
        bare: REQUIRED,
    },
    PostRoute {
        path: "/API/V40/Interactive/Messages/Conversations/{code}/Read",
        caller: Caller::Ada,
        fields: &[MESSAGE_CODE, SESSION_TOKEN],
        message: None,
        creates: false,
        bare: Pass,
    },
    PostRoute {
        path: "/API/V40/Interactive/Messages/Conversations/{code}/Close",
        caller: Caller::Ada,
        fields: &[SESSION_TOKEN],
        message: None,
        creates: false,
        bare: Pass,
    },
    PostRoute {
        path: "/staff/v1/conversations",
        caller: Caller::Staff,
        fields: &[STAFF_CONTENT, STAFF_ROOM, STAFF_OUTLET],
        message: Some("content"),
        creates: true,
        bare: REQUIRED,
    },
    PostRoute {
        path: "/staff/v1/conversations/{code}/messages",
        caller: Caller::Staff,
        fields: &[STAFF_CONTENT],
        message: Some("content"),
        creates: true,
        bare: REQUIRED,
    },
    PostRoute {
        path: "/staff/v1/conversations/{code}/read",
        caller: Caller::Staff,
        fields: &[MESSAGE_CODE],
        message: None,
        creates: false,
        bare: Pass,
    },
    PostRoute {
        path: "/staff/v1/conversations/{code}/close",
        caller: Caller::Staff,
        fields: &[],
        message: None,
        creates: false,
        bare: Pass,
    },
    PostRoute {
        path: "/staff/v1/conversations/{code}/reopen",
        caller: Caller::Staff,
        fields: &[],
        message: None,
        creates: false,
        bare: Pass,
    },
    PostRoute {
        path: "/staff/v1/conversations/{code}/assign",
        caller: Caller::Staff,
        fields: &[ASSIGNEE],
        message: None,
        creates: false,
        // No assignee: unassigned.
        bare: Pass,
    },
    PostRoute {
        path: "/staff/v1/conversations/{code}/notes",
        caller: Caller::Staff,
        fields: &[STAFF_CONTENT],
        message: Some("content"),
        creates: true,
        bare: REQUIRED,
    },
];

/// Whole bodies that are wrong whatever the route: `(case, content type, body, answer)`.
/// The caller's token, if any, travels in the query string.
type BodyCase = (&'static str, Option<&'static str>, fn() -> Vec<u8>, Outcome);

fn nested(open: &str, close: &str, levels: usize) -> Vec<u8> {
    format!(
        "{{\"message\":{}{}}}",
        open.repeat(levels),
        close.repeat(levels)
    )
    .into_bytes()
}

const BODY_CASES: &[BodyCase] = &[
    (
        "malformed JSON",
        Some(JSON),
        || br#"{"message":"#.to_vec(),
        INVALID,
    ),
    ("a JSON array", Some(JSON), || b"[1]".to_vec(), INVALID),
    ("a JSON string", Some(JSON), || b"\"x\"".to_vec(), INVALID),
    ("a JSON number", Some(JSON), || b"42".to_vec(), INVALID),
    ("JSON null", Some(JSON), || b"null".to_vec(), INVALID),
    ("JSON true", Some(JSON), || b"true".to_vec(), INVALID),
    (
        "an object then garbage",
        Some(JSON),
        || br#"{"a":1}x"#.to_vec(),
        INVALID,
    ),
    ("two objects", Some(JSON), || b"{}{}".to_vec(), INVALID),
    (
        "10,000 nested arrays",
        Some(JSON),
        || nested("[", "]", 10_000),
        INVALID,
    ),
    (
        "10,000 unclosed arrays",
        Some(JSON),
        || nested("[", "", 10_000),
        INVALID,
    ),
    (
        "10,000 nested objects",
        Some(JSON),
        || nested("{\"a\":", "}", 10_000),
        INVALID,
    ),
    (
        "invalid UTF-8 in JSON",
        Some(JSON),
        || b"{\"message\":\"\xff\xfe\"}".to_vec(),
        INVALID,
    ),
    (
        "an overlong UTF-8 sequence",
        Some(JSON),
        || b"{\"message\":\"\xc0\xaf\"}".to_vec(),
        INVALID,
    ),
    (
        "a lone surrogate escape",
        Some(JSON),
        || br#"{"message":"\ud800"}"#.to_vec(),
        INVALID,
    ),
    (
        "a UTF-16 body",
        Some(JSON),
        || {
            "{\"a\":\"b\"}"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect()
        },
        INVALID,
    ),
    (
        "invalid UTF-8 in a form value",
        Some(FORM),
        || b"message=%FF".to_vec(),
        INVALID,
    ),
    (
        "a raw 0xFF byte in a form",
        Some(FORM),
        || b"message=\xff".to_vec(),
        INVALID,
    ),
    (
        "invalid UTF-8 in a form name",
        Some(FORM),
        || b"%FF=1".to_vec(),
        INVALID,
    ),
    (
        "text/plain",
        Some("text/plain"),
        || br#"{"message":"hi"}"#.to_vec(),
        UNSUPPORTED,
    ),
    (
        "application/xml",
        Some("application/xml"),
        || b"<message>hi</message>".to_vec(),
        UNSUPPORTED,
    ),
    (
        "multipart/form-data",
        Some("multipart/form-data; boundary=x"),
        || b"--x\r\n\r\nhi\r\n--x--".to_vec(),
        UNSUPPORTED,
    ),
    (
        "an empty Content-Type",
        Some(""),
        || br#"{"message":"hi"}"#.to_vec(),
        UNSUPPORTED,
    ),
    (
        "no Content-Type",
        None,
        || br#"{"message":"hi"}"#.to_vec(),
        UNSUPPORTED,
    ),
];

/// Wrong values in one field, sent as JSON: `(case, value or None to skip, answer)`.
type ValueCase = (
    &'static str,
    fn(&Field) -> Option<Value>,
    fn(&Field) -> Outcome,
);

/// A number where text is expected is taken as its text: the field's valid value when that is
/// numeric (so the request succeeds), else 42 (an unknown value).
fn as_number(field: &Field) -> (Value, Outcome) {
    match (field.kind, field.valid.parse::<i64>()) {
        (Kind::Object, _) => (json!(42), INVALID),
        (Kind::Text, Ok(number)) => (json!(number), Pass),
        (Kind::Text, Err(_)) => (json!(42), field.unknown),
    }
}

const VALUE_CASES: &[ValueCase] = &[
    (
        "an object",
        |f| (f.kind == Kind::Text).then(|| json!({"a": 1})),
        |_| INVALID,
    ),
    ("an array", |_| Some(json!(["x"])), |_| INVALID),
    ("a boolean", |_| Some(json!(true)), |_| INVALID),
    ("a number", |f| Some(as_number(f).0), |f| as_number(f).1),
    ("text with NUL", |_| Some(json!("a\u{0}b")), |_| INVALID),
    (
        "10,000 characters",
        |_| Some(json!("X".repeat(10_000))),
        |f| f.long,
    ),
];

/// Wrong values in one field, sent in a form: `(case, raw value, answer)`.
const FORM_VALUE_CASES: &[(&str, &[u8], Outcome)] = &[
    ("NUL in a form", b"a\0b", INVALID),
    ("invalid UTF-8 in a form", b"\xff", INVALID),
];

/// Blank or oversized text in a message field: `(case, text, answer)`.
fn message_cases() -> Vec<(&'static str, String, Outcome)> {
    vec![
        ("an empty message", String::new(), REQUIRED),
        ("a message of spaces", "   ".into(), REQUIRED),
        (
            "a message of mixed whitespace",
            " \t\r\n\u{3000} ".into(),
            REQUIRED,
        ),
        ("5,000 characters", "m".repeat(5_000), TOO_LONG),
        ("4,001 characters", "m".repeat(4_001), TOO_LONG),
        ("4,000 emoji", "\u{1F6CE}".repeat(4_000), Pass),
    ]
}

/// The state the probes need: credentials and a conversation for each side.
struct Ctx {
    login: String,
    ada: String,
    visitor: String,
    guest_code: String,
    staff_code: String,
}

/// One request and what it must get.
struct Probe {
    label: String,
    method: Method,
    uri: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    headers: Vec<(&'static str, HeaderValue)>,
    expect: Outcome,
    /// An injection attempt: never echoed in an error, answered fast.
    injected: Option<String>,
}

impl Probe {
    fn new(label: String, method: Method, uri: String, expect: Outcome) -> Self {
        Self {
            label,
            method,
            uri,
            content_type: None,
            body: Vec::new(),
            headers: Vec::new(),
            expect,
            injected: None,
        }
    }

    fn body(mut self, content_type: Option<&'static str>, body: Vec<u8>) -> Self {
        self.content_type = content_type;
        self.body = body;
        self
    }

    fn header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    fn injected(mut self, text: &str) -> Self {
        self.injected = Some(text.to_owned());
        self
    }
}

/// Percent-encodes everything but unreserved characters.
fn pct(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                char::from(*b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A JSON object written pair by pair, so a key may appear twice.
fn write_json(pairs: &[(String, Value)]) -> Vec<u8> {
    let members: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect();
    format!("{{{}}}", members.join(",")).into_bytes()
}

/// A form of raw values.
fn write_form(pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let members: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k.as_bytes()), pct(v)))
        .collect();
    members.join("&").into_bytes()
}

/// `pairs` plus a `padding` field, written as exactly `total` bytes of JSON.
fn padded(mut pairs: Vec<(String, Value)>, total: usize) -> Vec<u8> {
    pairs.push(("padding".into(), json!("")));
    let fill = total - write_json(&pairs).len();
    if let Some(last) = pairs.last_mut() {
        last.1 = json!("x".repeat(fill));
    }
    let body = write_json(&pairs);
    assert_eq!(body.len(), total);
    body
}

/// `pairs` with `name` set to `value` (replaced, or added).
fn with(mut pairs: Vec<(String, Value)>, name: &str, value: Value) -> Vec<(String, Value)> {
    match pairs.iter_mut().find(|(k, _)| k == name) {
        Some(pair) => pair.1 = value,
        None => pairs.push((name.to_owned(), value)),
    }
    pairs
}

fn form_pairs(pairs: &[(String, Value)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), text.into_bytes())
        })
        .collect()
}

/// The rows that a refused request must leave alone.
async fn counts(pool: &PgPool) -> [i64; 4] {
    let row: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), \
                (SELECT count(*) FROM sessions), (SELECT count(*) FROM idempotency_keys)",
    )
    .fetch_one(pool)
    .await
    .expect("the tables are intact");
    [row.0, row.1, row.2, row.3]
}

fn shape_problems(reply: &Reply, staff: bool) -> Vec<String> {
    let body = &reply.body;
    let mut problems = Vec::new();
    if staff {
        let error = &body["error"];
        let only_error = body.as_object().is_some_and(|o| o.len() == 1);
        if !only_error || !error["code"].is_string() || !error["message"].is_string() {
            problems.push("not the staff error shape".to_owned());
        }
    } else {
        let status_ok = body["status"] == "Failure"
            && body["responsesIncluded"] == "responseStatus"
            && body
                .as_object()
                .is_some_and(|o| o.contains_key("sessionToken"));
        let responses = body["responses"].as_array().map_or(0, Vec::len);
        let message = &body["responses"][0]["responseStatus"];
        let errors = message["errors"].as_array().map_or(0, Vec::len);
        let error_ok = message["succeeded"] == false
            && errors == 1
            && message["errors"][0]["code"].is_string()
            && message["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty());
        if !status_ok || responses != 1 || !error_ok {
            problems.push("not the guest error envelope".to_owned());
        }
    }
    problems
}

fn judge(
    probe: &Probe,
    reply: &Reply,
    elapsed: Duration,
    rows: ([i64; 4], [i64; 4]),
) -> Vec<String> {
    let mut problems = Vec::new();
    let status = reply.status.as_u16();
    let staff = probe.uri.starts_with("/staff/");
    if status >= 500 {
        problems.push("a server error".to_owned());
    }
    match probe.expect {
        Pass => {
            let succeeded = staff || reply.body["status"] == "Success";
            if !reply.status.is_success() || !succeeded {
                problems.push("expected success".to_owned());
            }
        }
        Fail(expected, code) => {
            if status != expected || reply.error_code() != Some(code) {
                problems.push(format!("expected {expected} {code}"));
            }
        }
    }
    let json = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        problems.push("not application/json".to_owned());
    }
    if status >= 400 {
        problems.extend(shape_problems(reply, staff));
        let text = reply.body.to_string().to_lowercase();
        problems.extend(
            LEAKS
                .iter()
                .filter(|leak| text.contains(*leak))
                .map(|leak| format!("the body shows {leak:?}")),
        );
        if let Some(injected) = &probe.injected {
            let raw = injected.to_lowercase();
            let escaped = Value::String(raw.clone()).to_string();
            if text.contains(&raw) || text.contains(escaped.trim_matches('"')) {
                problems.push("the injection attempt is echoed".to_owned());
            }
        }
        if rows.0 != rows.1 {
            problems.push(format!(
                "a refused request changed rows (conversations, messages, sessions, idempotency keys) {:?} -> {:?}",
                rows.0, rows.1
            ));
        }
    }
    if probe.injected.is_some() && elapsed > FAST {
        problems.push(format!("took {elapsed:?}"));
    }
    problems
}

fn label(route: &PostRoute, case: &str) -> String {
    format!("POST {} — {case}", route.path)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

struct Suite<'a, S> {
    app: &'a TestApp<S>,
    ctx: Ctx,
    checks: usize,
    failures: Vec<String>,
}

impl<'a, S, B> Suite<'a, S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    async fn new(app: &'a TestApp<S>) -> Self {
        let posts: Vec<&str> = ROUTES
            .iter()
            .filter(|(method, _)| *method == "post")
            .map(|(_, path)| *path)
            .collect();
        let described: Vec<&str> = POST_ROUTES.iter().map(|r| r.path).collect();
        assert_eq!(
            described, posts,
            "POST_ROUTES must describe every POST route of ROUTES, in order"
        );
        let ada = app.ada().await;
        let guest_code = app
            .start_conversation(&ada, json!({"message": "The guest side's conversation"}))
            .await;
        let staff_code = app
            .start_conversation(&ada, json!({"message": "The staff side's conversation"}))
            .await;
        let ctx = Ctx {
            login: app.anonymous().await,
            visitor: app.visitor("hostile-visitor").await,
            ada,
            guest_code,
            staff_code,
        };
        Self {
            app,
            ctx,
            checks: 0,
            failures: Vec::new(),
        }
    }

    fn token(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Login => Some(&self.ctx.login),
            Caller::Ada => Some(&self.ctx.ada),
            Caller::Visitor => Some(&self.ctx.visitor),
            Caller::Start | Caller::Staff => None,
        }
    }

    /// The conversation code a `{code}` path of this side gets.
    fn code_for(&self, path: &str) -> &str {
        if path.starts_with("/staff/") {
            &self.ctx.staff_code
        } else {
            &self.ctx.guest_code
        }
    }

    fn uri(&self, route: &PostRoute) -> String {
        route.path.replace("{code}", self.code_for(route.path))
    }

    /// `uri` with the caller's token in the query string.
    fn uri_with_token(&self, route: &PostRoute) -> String {
        match self.token(route.caller) {
            Some(token) => format!("{}?SessionToken={token}", self.uri(route)),
            None => self.uri(route),
        }
    }

    /// The fields of a request that succeeds.
    fn base(&self, route: &PostRoute) -> Vec<(String, Value)> {
        route
            .fields
            .iter()
            .filter(|f| !f.valid.is_empty())
            .map(|f| {
                let value = match (f.valid, self.token(route.caller)) {
                    (TOKEN, Some(token)) => token,
                    (valid, _) => valid,
                };
                (f.name.to_owned(), json!(value))
            })
            .collect()
    }

    /// [`Self::base`], or an unknown field when the route reads none.
    fn base_or_note(&self, route: &PostRoute) -> Vec<(String, Value)> {
        let mut base = self.base(route);
        if base.is_empty() {
            base.push(("note".to_owned(), json!("a")));
        }
        base
    }

    fn json_probe(
        &self,
        route: &PostRoute,
        case: &str,
        pairs: &[(String, Value)],
        expect: Outcome,
    ) -> Probe {
        Probe::new(label(route, case), Method::POST, self.uri(route), expect)
            .body(Some(JSON), write_json(pairs))
    }

    fn form_probe(
        &self,
        route: &PostRoute,
        case: &str,
        pairs: &[(String, Vec<u8>)],
        expect: Outcome,
    ) -> Probe {
        Probe::new(label(route, case), Method::POST, self.uri(route), expect)
            .body(Some(FORM), write_form(pairs))
    }

    /// Sends a probe, judges the answer, and keeps the shared state usable: a successful
    /// login replaces the login session, a successful close is undone.
    async fn run(&mut self, probe: Probe) -> Reply {
        let mut request = TestRequest::default()
            .method(probe.method.clone())
            .uri(&probe.uri)
            .set_payload(probe.body.clone());
        if let Some(content_type) = probe.content_type {
            request = request.insert_header(("content-type", content_type));
        }
        if probe.uri.starts_with("/staff/") {
            request = request.insert_header(("authorization", format!("Bearer {STAFF_KEY}")));
        }
        for (name, value) in &probe.headers {
            request = request.insert_header((*name, value.clone()));
        }
        let before = counts(&self.app.pool).await;
        let started = Instant::now();
        let reply = self.app.call(request).await;
        let elapsed = started.elapsed();
        let after = counts(&self.app.pool).await;
        self.checks += 1;
        let problems = judge(&probe, &reply, elapsed, (before, after));
        if !problems.is_empty() {
            self.failures.push(format!(
                "{}: {} — got {} {}",
                cut(&probe.label, 160),
                problems.join("; "),
                reply.status.as_u16(),
                cut(&reply.body.to_string(), 300)
            ));
        }
        if reply.status.is_success() && probe.method == Method::POST {
            let path = probe.uri.split('?').next().unwrap_or_default();
            if path.starts_with("/API/V40/System/Session/LoginByRoom") {
                if let Some(token) = reply.token() {
                    self.ctx.login = token.to_owned();
                }
            }
            if path.to_ascii_lowercase().ends_with("/close") {
                let code = self.code_for(path).to_owned();
                self.app
                    .staff_post(
                        &format!("/staff/v1/conversations/{code}/reopen"),
                        STAFF_KEY,
                        json!({}),
                    )
                    .await
                    .assert_ok();
            }
        }
        reply
    }

    fn finish(self, what: &str) {
        assert!(
            self.failures.is_empty(),
            "{} of {} {what} checks failed:\n{}",
            self.failures.len(),
            self.checks,
            self.failures.join("\n")
        );
        eprintln!("{what}: {} checks passed", self.checks);
    }
}

#[bellhop_testdb::test]
async fn every_post_route_refuses_malformed_oversized_and_mislabelled_bodies(pool: PgPool) {
    let app = spawn(pool).await;
    let mut suite = Suite::new(&app).await;
    // Each probe is built just before it is sent: a successful LoginByRoom replaces the
    // session the next one must use.
    for route in &POST_ROUTES {
        let probe = suite.json_probe(route, "the valid request", &suite.base(route), Pass);
        suite.run(probe).await;

        for (case, content_type, body, expect) in BODY_CASES {
            let uri = suite.uri_with_token(route);
            let probe = Probe::new(label(route, case), Method::POST, uri, *expect)
                .body(*content_type, body());
            suite.run(probe).await;
        }

        // No fields: without a token the guest API asks for one; with credentials, each
        // route answers its own validation (or succeeds when it needs nothing).
        let no_token = match route.caller {
            Caller::Login | Caller::Ada | Caller::Visitor => TOKEN_REQUIRED,
            Caller::Start | Caller::Staff => route.bare,
        };
        for (case, token, content_type, body, expect) in [
            (
                "an empty body, no token, no Content-Type",
                false,
                None,
                "",
                no_token,
            ),
            ("an empty body", true, None, "", route.bare),
            ("an empty JSON body", true, Some(JSON), "", route.bare),
            (
                "a whitespace body",
                true,
                Some(JSON),
                " \r\n\t ",
                route.bare,
            ),
            (
                "an empty text/plain body",
                true,
                Some("text/plain"),
                "",
                route.bare,
            ),
            ("an empty object", true, Some(JSON), "{}", route.bare),
            ("an empty form", true, Some(FORM), "", route.bare),
        ] {
            let uri = if token {
                suite.uri_with_token(route)
            } else {
                suite.uri(route)
            };
            let probe = Probe::new(label(route, case), Method::POST, uri, expect)
                .body(content_type, body.as_bytes().to_vec());
            suite.run(probe).await;
        }

        // The body limit: exactly at it is read; one byte over is 413, whatever the
        // Content-Length claims.
        for (case, size, claimed, expect) in [
            ("a body of exactly 64 KiB", LIMIT, None, Pass),
            ("a body of 64 KiB + 1", LIMIT + 1, None, TOO_LARGE),
            (
                "64 KiB + 1 claiming 10 bytes",
                LIMIT + 1,
                Some("10"),
                TOO_LARGE,
            ),
            ("a body of 1 MiB", 1 << 20, None, TOO_LARGE),
        ] {
            let mut probe = suite
                .json_probe(route, case, &[], expect)
                .body(Some(JSON), padded(suite.base(route), size));
            if let Some(claimed) = claimed {
                probe = probe.header("content-length", HeaderValue::from_static(claimed));
            }
            suite.run(probe).await;
        }

        // Duplicate names, including one across body and query. A route that reads no field
        // gets an unknown one: duplicates are refused whether or not the route reads them.
        let first = suite.base_or_note(route)[0].0.clone();
        let mut recased = first.clone();
        recased[..1].make_ascii_uppercase();
        for (case, extra, query) in [
            (
                "a key twice in another letter case",
                vec![(recased, json!("b"))],
                "",
            ),
            ("a key twice", vec![(first, json!("b"))], ""),
            ("a field in both body and query", vec![], "?Note=b"),
            (
                "an injection attempt as a key, twice",
                vec![
                    (SQL[0].to_owned(), json!(1)),
                    (SQL[0].to_uppercase(), json!(2)),
                ],
                "",
            ),
        ] {
            let mut pairs = [suite.base_or_note(route), extra].concat();
            if !query.is_empty() && !pairs.iter().any(|(k, _)| k == "note") {
                pairs.push(("note".to_owned(), json!("a")));
            }
            let mut probe = suite
                .json_probe(route, case, &pairs, INVALID)
                .injected(SQL[0]);
            probe.uri.push_str(query);
            suite.run(probe).await;
        }
    }
    suite.finish("body");
}

#[bellhop_testdb::test]
async fn every_field_refuses_wrong_types_nul_and_bad_utf8_and_treats_injection_as_data(
    pool: PgPool,
) {
    // Hundreds of deliberate wrong names for one room: the room-verification limit (tested in
    // `attacks.rs`) would turn them into 429s and test nothing behind it.
    let app = spawn_with(pool, midday(), &[("BELLHOP_LOGIN_FAILURES_PER_ROOM", "0")]).await;
    let mut suite = Suite::new(&app).await;
    for route in &POST_ROUTES {
        for field in route.fields {
            for (case, value, expect) in VALUE_CASES {
                if let Some(value) = value(field) {
                    let pairs = with(suite.base(route), field.name, value);
                    let case = format!("{}: {case}", field.name);
                    let probe = suite.json_probe(route, &case, &pairs, expect(field));
                    suite.run(probe).await;
                }
            }
            for (case, raw, expect) in FORM_VALUE_CASES {
                let mut pairs = form_pairs(&suite.base(route));
                pairs.retain(|(k, _)| k != field.name);
                pairs.push((field.name.to_owned(), raw.to_vec()));
                let case = format!("{}: {case}", field.name);
                let probe = suite.form_probe(route, &case, &pairs, *expect);
                suite.run(probe).await;
            }
            for sql in SQL {
                let pairs = with(suite.base(route), field.name, json!(sql));
                let case = format!("{}: {sql} (JSON)", field.name);
                let probe = suite
                    .json_probe(route, &case, &pairs, field.unknown)
                    .injected(sql);
                suite.run(probe).await;
                let case = format!("{}: {sql} (form)", field.name);
                let probe = suite
                    .form_probe(route, &case, &form_pairs(&pairs), field.unknown)
                    .injected(sql);
                suite.run(probe).await;
            }
            if route.message == Some(field.name) {
                for (case, text, expect) in message_cases() {
                    let pairs = with(suite.base(route), field.name, json!(text));
                    let case = format!("{}: {case}", field.name);
                    let probe = suite.json_probe(route, &case, &pairs, expect);
                    suite.run(probe).await;
                }
                let pairs = form_pairs(&with(suite.base(route), field.name, json!("   ")));
                let case = format!("{}: a message of spaces (form)", field.name);
                let probe = suite.form_probe(route, &case, &pairs, REQUIRED);
                suite.run(probe).await;
            }
        }
    }
    suite.finish("field");
}

#[bellhop_testdb::test]
async fn hostile_codes_in_paths_and_query_strings_are_plain_unknown_values(pool: PgPool) {
    let app = spawn(pool).await;
    let mut suite = Suite::new(&app).await;
    let ada = suite.ctx.ada.clone();

    // `{code}` segments on every route that has one, POST and GET, guest and staff.
    let mut codes: Vec<(String, String, Option<&str>)> = SQL
        .iter()
        .map(|sql| (format!("code {sql}"), pct(sql.as_bytes()), Some(*sql)))
        .collect();
    codes.extend([
        (
            "a code of 5,000 characters".to_owned(),
            "Z".repeat(5_000),
            None,
        ),
        ("a code with NUL".to_owned(), "a%00b".to_owned(), None),
        (
            "a code of invalid UTF-8".to_owned(),
            "%FF%FE".to_owned(),
            None,
        ),
        (
            "a code with an encoded slash".to_owned(),
            "a%2Fb".to_owned(),
            None,
        ),
        ("a code of ..".to_owned(), "..".to_owned(), None),
        ("a code of %".to_owned(), "%25".to_owned(), None),
        (
            "a code with a wildcard".to_owned(),
            "%25%25".to_owned(),
            None,
        ),
    ]);
    for (method, template) in ROUTES.iter().filter(|(_, p)| p.contains("{code}")) {
        for (case, code, injected) in &codes {
            let path = template.replace("{code}", code);
            let label = format!("{} {template} — {case}", method.to_uppercase());
            let probe = match (*method, POST_ROUTES.iter().find(|r| r.path == *template)) {
                ("post", Some(route)) => Probe::new(label, Method::POST, path, NO_CONVERSATION)
                    .body(Some(JSON), write_json(&suite.base(route))),
                _ if template.starts_with("/staff/") => {
                    Probe::new(label, Method::GET, path, NO_CONVERSATION)
                }
                _ => Probe::new(
                    label,
                    Method::GET,
                    format!("{path}?SessionToken={ada}"),
                    NO_CONVERSATION,
                ),
            };
            let probe = match injected {
                Some(sql) => probe.injected(sql),
                None => probe,
            };
            suite.run(probe).await;
        }
    }

    // Query strings of every GET route of the two APIs but the event streams, whose answer
    // never ends when the request is valid (their hostile query strings and cursors are
    // tested in `events.rs`).
    let gets: Vec<&str> = ROUTES
        .iter()
        .filter(|(m, p)| *m == "get" && (p.starts_with("/API/") || p.starts_with("/staff/")))
        .filter(|(_, p)| !p.to_ascii_lowercase().ends_with("/events"))
        .map(|(_, p)| *p)
        .collect();
    for template in &gets {
        let path = template.replace("{code}", suite.code_for(template));
        let mut cases: Vec<(String, String, Outcome, Option<&str>)> =
            if template.starts_with("/staff/") {
                vec![
                    (
                        "invalid percent-encoding".into(),
                        "status=%FF".into(),
                        INVALID,
                        None,
                    ),
                    (
                        "an invalid UTF-8 name".into(),
                        "%FF=1".into(),
                        INVALID,
                        None,
                    ),
                    (
                        "NUL in a parameter".into(),
                        "status=a%00b".into(),
                        // Only the list reads `status`; other routes ignore unknown names.
                        if *template == "/staff/v1/conversations" {
                            INVALID
                        } else {
                            Pass
                        },
                        None,
                    ),
                    (
                        "a parameter twice".into(),
                        "status=Open&Status=Open".into(),
                        INVALID,
                        None,
                    ),
                ]
            } else {
                let mut cases: Vec<(String, String, Outcome, Option<&str>)> = vec![
                    (
                        "SessionToken=%FF".into(),
                        "SessionToken=%FF".into(),
                        INVALID,
                        None,
                    ),
                    (
                        "an invalid UTF-8 name".into(),
                        format!("%FF=1&SessionToken={ada}"),
                        INVALID,
                        None,
                    ),
                    (
                        "NUL in the token".into(),
                        "SessionToken=a%00b".into(),
                        INVALID,
                        None,
                    ),
                    (
                        "the token twice".into(),
                        format!("SessionToken={ada}&sessiontoken={ada}"),
                        INVALID,
                        None,
                    ),
                    ("no token".into(), String::new(), TOKEN_REQUIRED, None),
                ];
                cases.extend(SQL.iter().map(|sql| {
                    (
                        format!("SessionToken={sql}"),
                        format!("SessionToken={}", pct(sql.as_bytes())),
                        TOKEN_INVALID,
                        Some(*sql),
                    )
                }));
                cases
            };
        // An injection attempt in each parameter the route reads.
        let params: &[(&str, Outcome)] = match *template {
            "/API/V40/System/Settings/Outlet" => &[("Code", NO_OUTLET)],
            "/API/V40/Interactive/Messages" => &[
                ("PageNumber", PAGING),
                ("PageLength", PAGING),
                ("DescendingOrder", INVALID),
            ],
            "/API/V40/Interactive/Messages/Conversations" => {
                &[("PageNumber", PAGING), ("PageLength", PAGING)]
            }
            "/staff/v1/conversations" => &[
                ("outletCode", Pass),
                ("orderCode", Pass),
                ("status", INVALID),
                ("cursor", INVALID),
                ("updatedSince", INVALID),
                ("limit", PAGING),
                ("unread", INVALID),
            ],
            _ => &[],
        };
        for (param, expect) in params {
            for sql in SQL {
                let token = if template.starts_with("/staff/") {
                    String::new()
                } else {
                    format!("&SessionToken={ada}")
                };
                cases.push((
                    format!("{param}={sql}"),
                    format!("{param}={}{token}", pct(sql.as_bytes())),
                    *expect,
                    Some(sql),
                ));
            }
        }
        for (case, query, expect, injected) in cases {
            let label = format!("GET {template} — {case}");
            let probe = Probe::new(label, Method::GET, format!("{path}?{query}"), expect);
            let probe = match injected {
                Some(sql) => probe.injected(sql),
                None => probe,
            };
            suite.run(probe).await;
        }
    }
    suite.finish("code and query");
}

#[bellhop_testdb::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_the_shape_of_their_api(pool: PgPool) {
    let app = spawn(pool).await;
    let mut suite = Suite::new(&app).await;

    let mut paths: Vec<&str> = ROUTES.iter().map(|(_, p)| *p).collect();
    paths.dedup();
    for template in paths {
        let allowed: Vec<&str> = ROUTES
            .iter()
            .filter(|(_, p)| *p == template)
            .map(|(m, _)| *m)
            .collect();
        let path = template
            .replace("{code}", suite.code_for(template))
            .replace("{file}", "x");
        let mut spellings = vec![path.clone()];
        if template.starts_with("/API/") {
            spellings.push(path.replace("/API/V40/", "/api/v40/"));
        }
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ] {
            if allowed.contains(&method.as_str().to_lowercase().as_str()) {
                continue;
            }
            for uri in &spellings {
                let label = format!("{method} {uri}");
                suite
                    .run(Probe::new(label, method.clone(), uri.clone(), NO_METHOD))
                    .await;
            }
        }
    }

    for path in [
        "/",
        "/API/V40/Nope",
        "/api/v40/nope",
        "/API/V41/Interactive/Messages",
        "/API/V40/Interactive/Messages/Conversations/x/Nope",
        "/API/V40/Interactive/Messages/Conversations//Messages",
        "/API/V40/Interactive/Messages/Conversations/x/Messages/y",
        "/staff/v1/nope",
        "/staff/v1/conversations/x/y/z",
        "/staff/v1/conversations//messages",
        "/staff/v2/conversations",
    ] {
        for method in [Method::GET, Method::POST, Method::PUT] {
            let label = format!("{method} {path}");
            suite
                .run(Probe::new(label, method, path.to_owned(), NO_ROUTE))
                .await;
        }
    }
    suite.finish("route");
}

#[bellhop_testdb::test]
async fn bad_idempotency_keys_are_refused_where_keys_count_and_ignored_elsewhere(pool: PgPool) {
    let app = spawn(pool).await;
    let mut suite = Suite::new(&app).await;
    let keys = [
        (
            "256 characters",
            HeaderValue::from_str(&"k".repeat(256)).unwrap(),
        ),
        (
            "non-ASCII bytes",
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        ),
        ("an empty key", HeaderValue::from_static("")),
        ("a tab", HeaderValue::from_bytes(b"a\tb").unwrap()),
        (
            "obs-text bytes",
            HeaderValue::from_bytes(b"\x80\xff").unwrap(),
        ),
    ];
    for route in &POST_ROUTES {
        let refused = if route.creates { INVALID } else { Pass };
        for (case, value) in &keys {
            let case = format!("Idempotency-Key of {case}");
            let probe = suite
                .json_probe(route, &case, &suite.base(route), refused)
                .header("idempotency-key", value.clone());
            suite.run(probe).await;
        }
        // A valid key, one per route: keys are scoped to the session, not to the route.
        let key = format!("{:k<255}", route.path);
        let probe = suite
            .json_probe(
                route,
                "Idempotency-Key of 255 characters",
                &suite.base(route),
                Pass,
            )
            .header("idempotency-key", HeaderValue::from_str(&key).unwrap());
        suite.run(probe).await;
    }
    suite.finish("idempotency key");
}
