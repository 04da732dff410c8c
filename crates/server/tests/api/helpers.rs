//! The test harness: the real application (all layers, Postgres) driven in-process through
//! actix's test service, with a manual clock.

#![allow(dead_code)]

use std::sync::Arc;

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{header::HeaderMap, StatusCode},
    test, Error,
};
use bellhop_application::{clock::ManualClock, reference_data::ReferenceDataService};
use bellhop_domain::clock::Clock;
use bellhop_persistence::PgStore;
use bellhop_server::{build_state, config::Settings};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

pub const SECRET: &str = "test-secret-0123456789abcdef0123456789";
pub const PREVIOUS_SECRET: &str = "previous-secret-0123456789abcdef012345";
pub const CREATE: &str = "/API/V40/Interactive/Messages/Conversations";
pub const CREATE_VISITOR: &str = "/API/V40/Interactive/Messages/NonVerifiedGuestConversations";

/// Midday in London on a Wednesday in June: the bar (17:00–01:00) is closed, the spa open.
pub fn midday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 10, 11, 0, 0)
        .single()
        .expect("valid date")
}

/// 18:00 in London the same day: the bar is open.
pub fn evening() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 10, 17, 0, 0)
        .single()
        .expect("valid date")
}

pub fn settings(extra: &[(&str, &str)]) -> Settings {
    let mut vars: Vec<(String, String)> = vec![
        ("BELLHOP_SESSION_SECRET".into(), SECRET.into()),
        (
            "BELLHOP_SESSION_SECRET_PREVIOUS".into(),
            PREVIOUS_SECRET.into(),
        ),
        // Rate limits are off unless a test turns them on (reliability tests do).
        ("BELLHOP_RATE_LIMIT_PER_SESSION".into(), "0".into()),
        ("BELLHOP_RATE_LIMIT_PER_ADDRESS".into(), "0".into()),
    ];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Settings::from_lookup(
        |name| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        },
        false,
    )
    .expect("test settings are valid")
}

/// A response, decoded.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn token(&self) -> Option<&str> {
        self.body["sessionToken"].as_str()
    }

    /// The single error code of an envelope or staff error.
    pub fn error_code(&self) -> Option<&str> {
        self.body["responses"][0]["responseStatus"]["errors"][0]["code"]
            .as_str()
            .or_else(|| self.body["error"]["code"].as_str())
    }

    /// `responses[0][name].content`.
    pub fn content(&self, name: &str) -> &Value {
        &self.body["responses"][0][name]["content"]
    }

    pub fn conversation(&self) -> &Value {
        &self.content("createConversationResponse")["conversation"]
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status of {}", self.body);
        assert_eq!(self.error_code(), Some(code), "code of {}", self.body);
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self
    }
}

pub struct TestApp<S> {
    pub service: S,
    pub pool: PgPool,
    pub clock: Arc<ManualClock>,
}

/// The app at [`midday`] with the demo data loaded.
pub async fn spawn(
    pool: PgPool,
) -> TestApp<
    impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = Error>,
> {
    spawn_with(pool, midday(), &[]).await
}

pub async fn spawn_with(
    pool: PgPool,
    at: DateTime<Utc>,
    extra_settings: &[(&str, &str)],
) -> TestApp<
    impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = Error>,
> {
    let clock = Arc::new(ManualClock::new(at));
    ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())))
        .load_demo(clock.now())
        .await
        .expect("demo data loads");
    let state =
        build_state(pool.clone(), &settings(extra_settings), clock.clone()).expect("state builds");
    let service = test::init_service(bellhop_http::build_app(state)).await;
    TestApp {
        service,
        pool,
        clock,
    }
}

/// The URL of the database `pool` is connected to (a test's own database).
pub fn database_url(pool: &PgPool) -> String {
    let options = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    )
}

/// The app at [`midday`] over a pool built the way `bellhop serve` builds it (its connection
/// options, timeouts and checks), on the test's database, with `extra_settings`.
pub async fn spawn_with_server_pool(
    pool: PgPool,
    extra_settings: &[(&str, &str)],
) -> TestApp<
    impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = Error>,
> {
    let clock = Arc::new(ManualClock::new(midday()));
    ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())))
        .load_demo(clock.now())
        .await
        .expect("demo data loads");
    let url = database_url(&pool);
    let mut extra: Vec<(&str, &str)> = vec![("DATABASE_URL", url.as_str())];
    extra.extend_from_slice(extra_settings);
    let settings = settings(&extra);
    let server_pool = bellhop_server::database::pool(&settings).expect("a pool");
    let state = build_state(server_pool, &settings, clock.clone()).expect("state builds");
    let service = test::init_service(bellhop_http::build_app(state)).await;
    TestApp {
        service,
        pool,
        clock,
    }
}

impl<S, B> TestApp<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    pub async fn call(&self, request: test::TestRequest) -> Reply {
        let response = test::call_service(&self.service, request.to_request()).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = test::read_body(response).await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Reply {
        self.call(
            test::TestRequest::post()
                .uri(path)
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> Reply {
        let mut request = test::TestRequest::post().uri(path).set_payload(body.into());
        if let Some(content_type) = content_type {
            request = request.insert_header(("content-type", content_type));
        }
        self.call(request).await
    }

    pub async fn get(&self, path_and_query: &str) -> Reply {
        self.call(test::TestRequest::get().uri(path_and_query))
            .await
    }

    pub async fn staff_get(&self, path: &str, key: &str) -> Reply {
        self.call(
            test::TestRequest::get()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {key}"))),
        )
        .await
    }

    pub async fn staff_post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(
            test::TestRequest::post()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {key}")))
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
        )
        .await
    }

    /// An anonymous session's token.
    pub async fn anonymous(&self) -> String {
        let reply = self
            .post_json(
                "/API/V40/System/Session/Initialise",
                json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token"}),
            )
            .await;
        reply.assert_ok();
        reply.token().expect("a token").to_owned()
    }

    /// A session verified as the guest of `room` (demo data).
    pub async fn guest(&self, room: &str, last_name: &str) -> String {
        let reply = self
            .post_json(
                "/API/V40/System/Session/InitialiseByRoom",
                json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token",
                       "roomNumber": room, "lastName": last_name}),
            )
            .await;
        reply.assert_ok();
        reply.token().expect("a token").to_owned()
    }

    /// Ada Lovelace, room 101.
    pub async fn ada(&self) -> String {
        self.guest("101", "Lovelace").await
    }

    /// A visitor session for `identifier`.
    pub async fn visitor(&self, identifier: &str) -> String {
        let reply = self
            .post_json(
                "/API/V40/System/Session/InitialiseByGuestIdentifier",
                json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token",
                       "guestUniqueIdentifier": identifier}),
            )
            .await;
        reply.assert_ok();
        reply.token().expect("a token").to_owned()
    }

    /// Creates a conversation with `fields` plus the token; asserts success; returns its code.
    pub async fn start_conversation(&self, token: &str, mut fields: Value) -> String {
        fields["sessionToken"] = json!(token);
        let reply = self.post_json(CREATE, fields).await;
        reply.assert_ok();
        reply.conversation()["code"]
            .as_str()
            .expect("a code")
            .to_owned()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}
