//! Webhooks (section 12) against real receivers: HTTP servers on 127.0.0.1 started by each
//! test, the delivery worker as `bellhop serve` runs it, short retry schedules.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use actix_web::{web, HttpRequest, HttpResponse};
use bellhop_application::reference_data::{
    demo_file, validate, ReferenceDataService, WebhookEntry,
};
use bellhop_domain::webhook::RetrySchedule;
use bellhop_http::{Metrics, PoolStats};
use bellhop_persistence::PgStore;
use bellhop_server::webhooks::{status_table, WebhookWorker, WorkerSettings};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{database_url, midday, spawn, CREATE};

/// The Standard Webhooks example secret (24 bytes).
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STAFF: &str = "demo-staff-key";

/// What a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) id: String,
    timestamp: String,
    signature: String,
    content_type: String,
    pub(crate) body: String,
    pub(crate) at: Instant,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    Status(u16),
    /// Never answers (the worker's timeout ends the attempt).
    Hang,
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    /// Answers for the next requests, in order; then `otherwise`.
    script: Mutex<VecDeque<Answer>>,
    otherwise: Mutex<Option<Answer>>,
}

/// A webhook receiver: an actix server in a thread of its own.
pub(crate) struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub(crate) fn start(script: &[Answer], otherwise: Answer) -> Self {
        Self::start_on(
            std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            script,
            otherwise,
        )
    }

    fn start_on(listener: std::net::TcpListener, script: &[Answer], otherwise: Answer) -> Self {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState::default());
        state.script.lock().unwrap().extend(script.iter().copied());
        *state.otherwise.lock().unwrap() = Some(otherwise);
        let shared = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::from(shared);
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .app_data(data.clone())
                        .default_service(web::to(receive))
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run();
                let _ = server.await;
            });
        });
        Self { addr, state }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came, or panics after `secs` seconds.
    async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{n} requests never came; got {}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.received.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    });
    let answer = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or(*state.otherwise.lock().unwrap())
        .unwrap_or(Answer::Status(200));
    match answer {
        Answer::Status(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                // A long answer: at most 1 KiB of it may be kept.
                .body("é".repeat(3000))
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            HttpResponse::Ok().finish()
        }
    }
}

pub(crate) fn hook(url: &str) -> WebhookEntry {
    WebhookEntry {
        url: url.to_owned(),
        secret: SECRET.to_owned(),
        events: None,
        outlet_codes: None,
        enabled: true,
    }
}

/// Loads the demo property again with these webhooks.
async fn load_webhooks(pool: &PgPool, hooks: Vec<WebhookEntry>) {
    let mut file = demo_file(midday());
    file.properties[0].webhooks = hooks;
    let data = validate(&file).unwrap();
    ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())))
        .load(&data)
        .await
        .unwrap();
}

/// A worker on its own pool (as `bellhop serve` gives it), reaching the database at `url`.
fn worker_at(
    url: &str,
    timeout_ms: u64,
    schedule: &str,
    metrics: Option<Metrics>,
) -> WebhookWorker {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(url)
        .unwrap();
    WebhookWorker::spawn(
        pool,
        WorkerSettings {
            timeout: Duration::from_millis(timeout_ms),
            schedule: RetrySchedule::parse(schedule).unwrap(),
            keep_delivered: Duration::from_secs(3600),
        },
        metrics,
    )
    .unwrap()
}

fn worker(pool: &PgPool, timeout_ms: u64, schedule: &str) -> WebhookWorker {
    worker_at(&database_url(pool), timeout_ms, schedule, None)
}

/// Verifies every signature with an implementation independent of ours: Python's own HMAC,
/// and the `standardwebhooks` package's verifier when it is installed.
fn verify_independently(received: &[Received]) -> String {
    let items: Vec<Value> = received
        .iter()
        .map(|r| json!({"id": r.id, "timestamp": r.timestamp, "signature": r.signature, "body": r.body}))
        .collect();
    let input = json!({"secret": SECRET, "received": items}).to_string();
    let script = r#"
import sys, json, hmac, hashlib, base64
data = json.load(sys.stdin)
secret = data["secret"]
key = base64.b64decode(secret[len("whsec_"):])
for r in data["received"]:
    signed = ("%s.%s.%s" % (r["id"], r["timestamp"], r["body"])).encode()
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert r["signature"] == expected, (r["signature"], expected)
try:
    from standardwebhooks.webhooks import Webhook
except ImportError:
    Webhook = None
if Webhook is not None:
    for r in data["received"]:
        Webhook(secret).verify(r["body"], {"webhook-id": r["id"], "webhook-timestamp": r["timestamp"], "webhook-signature": r["signature"]})
print("verified %d with %s" % (len(data["received"]), "standardwebhooks" if Webhook else "hmac"))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn staff_path(code: &str, action: &str) -> String {
    format!("/staff/v1/conversations/{code}/{action}")
}

async fn delivery_rows(pool: &PgPool) -> Vec<(String, String, i32)> {
    sqlx::query_as(
        "SELECT w.url, d.status, d.attempts FROM webhook_deliveries d
           JOIN webhook_endpoints w ON w.property_id = d.property_id AND w.id = d.endpoint_id
          ORDER BY d.id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn wait_until_settled(pool: &PgPool, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(pool)
                .await
                .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} deliveries still pending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[bellhop_testdb::test]
async fn every_event_type_is_delivered_signed_as_standard_webhooks_says(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let receiver = Receiver::start(&[], Answer::Status(204));
    load_webhooks(&pool, vec![hook(&receiver.url("/hook"))]).await;
    let metrics = Metrics::new().unwrap();
    let worker = worker_at(&database_url(&pool), 2_000, "1", Some(metrics.clone()));

    let ada = app.ada().await;
    let code = app
        .start_conversation(&ada, json!({"message": "Towels, please"}))
        .await;
    app.staff_post(
        &staff_path(&code, "messages"),
        STAFF,
        json!({"content": "On their way"}),
    )
    .await
    .assert_ok();
    app.post_json(
        &format!("{CREATE}/{code}/Read"),
        json!({"sessionToken": ada}),
    )
    .await
    .assert_ok();
    app.staff_post(&staff_path(&code, "close"), STAFF, json!({}))
        .await
        .assert_ok();
    app.staff_post(&staff_path(&code, "reopen"), STAFF, json!({}))
        .await
        .assert_ok();

    let got = receiver.wait_for(5, 10).await;
    let mut types: Vec<String> = Vec::new();
    for r in &got {
        assert_eq!(r.content_type, "application/json");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let kind = body["type"].as_str().unwrap().to_owned();
        assert_eq!(body["data"]["type"], kind.as_str(), "{body}");
        assert_eq!(body["data"]["conversationCode"], code.as_str(), "{body}");
        chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
        let sent: i64 = r.timestamp.parse().unwrap();
        assert!((chrono::Utc::now().timestamp() - sent).abs() < 60);
        types.push(kind);
    }
    types.sort();
    assert_eq!(
        types,
        [
            "conversation.closed",
            "conversation.created",
            "conversation.read",
            "conversation.reopened",
            "message.created"
        ]
    );
    // The staff shapes: the conversation as GET /staff/v1/conversations/{code} shows it.
    let created: Value = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|b| b["type"] == "conversation.created")
        .unwrap();
    assert_eq!(
        created["data"]["conversation"]["unreadCount"], 1,
        "{created}"
    );
    assert_eq!(
        created["data"]["conversation"]["roomNumber"], "101",
        "{created}"
    );
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 5, "one id per event");
    let verified = verify_independently(&got);
    assert!(verified.starts_with("verified 5"), "{verified}");

    wait_until_settled(&pool, 5).await;
    assert!(delivery_rows(&pool)
        .await
        .iter()
        .all(|(_, status, attempts)| status == "delivered" && *attempts == 1));
    let text = metrics.render(PoolStats::default());
    assert!(
        text.contains(r#"bellhop_webhook_attempts_total{outcome="delivered"} 5"#),
        "{text}"
    );
    assert!(
        text.contains("bellhop_webhook_oldest_pending_seconds"),
        "{text}"
    );
    assert!(
        !text.contains("MfKQ9r8GKYqr"),
        "the secret is in the metrics"
    );
    worker.stop().await;
}

#[bellhop_testdb::test]
async fn failed_attempts_are_retried_with_the_same_id_and_body(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let server_error = Receiver::start(&[Answer::Status(503)], Answer::Status(200));
    let hanging = Receiver::start(&[Answer::Hang], Answer::Status(200));
    // Nothing listens on this port at first: the connection is refused.
    let refused_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_addr = refused_port.local_addr().unwrap();
    drop(refused_port);
    load_webhooks(
        &pool,
        vec![
            hook(&server_error.url("/a")),
            hook(&hanging.url("/b")),
            hook(&format!("http://{refused_addr}/c")),
        ],
    )
    .await;
    let worker = worker(&pool, 500, "0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3");
    let ada = app.ada().await;
    app.start_conversation(&ada, json!({"message": "Hello"}))
        .await;

    for receiver in [&server_error, &hanging] {
        let got = receiver.wait_for(2, 10).await;
        assert_eq!(got[0].id, got[1].id);
        assert_eq!(got[0].body, got[1].body);
        assert_ne!(got[0].signature, "");
        verify_independently(&got);
    }
    // A refused connection counts as an attempt; once something listens, it is delivered.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempts: i32 = sqlx::query_scalar(
            "SELECT d.attempts FROM webhook_deliveries d JOIN webhook_endpoints w
                 ON w.property_id = d.property_id AND w.id = d.endpoint_id WHERE w.url LIKE '%/c'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if attempts >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no retry after a refused connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let late = Receiver::start_on(
        std::net::TcpListener::bind(refused_addr).unwrap(),
        &[],
        Answer::Status(200),
    );
    let got = late.wait_for(1, 10).await;
    assert_eq!(
        got[0].id,
        server_error.received()[0].id,
        "one event, one id everywhere"
    );

    wait_until_settled(&pool, 10).await;
    let (last_status, last_response, last_error): (Option<i32>, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT d.last_status, d.last_response, d.last_error FROM webhook_deliveries d
               JOIN webhook_endpoints w ON w.property_id = d.property_id AND w.id = d.endpoint_id
              WHERE w.url LIKE '%/a'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(last_status, Some(200));
    let kept = last_response.unwrap_or_default();
    assert!(kept.is_empty() || kept.len() <= 1024, "{}", kept.len());
    assert_eq!(last_error.as_deref(), Some("HTTP status 503"));
    let errors: Vec<String> = sqlx::query_scalar(
        "SELECT last_error FROM webhook_deliveries WHERE last_error IS NOT NULL ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(errors.contains(&"timed out".to_owned()), "{errors:?}");
    assert!(errors.contains(&"cannot connect".to_owned()), "{errors:?}");
    worker.stop().await;
}

#[bellhop_testdb::test]
async fn after_the_last_attempt_a_delivery_is_failed_until_an_operator_retries_it(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let receiver = Receiver::start(&[], Answer::Status(500));
    load_webhooks(&pool, vec![hook(&receiver.url("/hook"))]).await;
    let worker = worker(&pool, 1_000, "0.2");
    let ada = app.ada().await;
    app.start_conversation(&ada, json!({"message": "Hello"}))
        .await;
    receiver.wait_for(2, 10).await;
    wait_until_settled(&pool, 5).await;
    assert_eq!(
        delivery_rows(&pool).await,
        [(receiver.url("/hook"), "failed".to_owned(), 2)]
    );
    // Kept: at most 1 KiB of the failed answer, cut at a character.
    let kept: String = sqlx::query_scalar("SELECT last_response FROM webhook_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(kept.len() <= 1024 && kept.len() >= 1022, "{}", kept.len());
    assert!(kept.chars().all(|c| c == 'é'));

    let store = PgStore::new(pool.clone());
    let status = status_table(&store.webhook_status().await.unwrap());
    assert!(status.contains(&receiver.url("/hook")), "{status}");
    assert!(
        status.contains("pending 0  delivered 0  failed 1"),
        "{status}"
    );
    assert!(status.contains("last error HTTP status 500"), "{status}");
    assert!(
        !status.contains("MfKQ9r8GKYqr"),
        "the secret is in the status"
    );

    // Nothing since tomorrow; everything since yesterday.
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    assert_eq!(
        store.retry_failed_webhooks(Some(tomorrow)).await.unwrap(),
        0
    );
    *receiver.state.otherwise.lock().unwrap() = Some(Answer::Status(200));
    assert_eq!(store.retry_failed_webhooks(None).await.unwrap(), 1);
    let got = receiver.wait_for(3, 10).await;
    assert_eq!(got[0].id, got[2].id);
    wait_until_settled(&pool, 5).await;
    assert_eq!(delivery_rows(&pool).await[0].1, "delivered");
    worker.stop().await;
    // Delivered rows go after the retention; nothing younger does.
    let now = chrono::Utc::now();
    assert_eq!(
        store
            .purge_delivered_webhooks(now - chrono::Duration::hours(1), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge_delivered_webhooks(now + chrono::Duration::seconds(1), 10)
            .await
            .unwrap(),
        1
    );
}

#[bellhop_testdb::test]
async fn endpoints_receive_only_their_event_types_and_outlets(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let mut created_only = hook("http://127.0.0.1:9/created");
    created_only.events = Some(vec!["conversation.created".into()]);
    let mut concierge_only = hook("http://127.0.0.1:9/concierge");
    concierge_only.outlet_codes = Some(vec!["CONCIERGE".into()]);
    let mut disabled = hook("http://127.0.0.1:9/disabled");
    disabled.enabled = false;
    load_webhooks(
        &pool,
        vec![
            hook("http://127.0.0.1:9/all"),
            created_only,
            concierge_only,
            disabled,
        ],
    )
    .await;
    let ada = app.ada().await;
    let room_service = app
        .start_conversation(&ada, json!({"message": "Tea"}))
        .await;
    app.staff_post(
        &staff_path(&room_service, "messages"),
        STAFF,
        json!({"content": "Coming"}),
    )
    .await
    .assert_ok();
    app.start_conversation(&ada, json!({"message": "Taxi", "outletCode": "CONCIERGE"}))
        .await;

    let mut by_url: HashMap<String, Vec<String>> = HashMap::new();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT w.url, d.event_type FROM webhook_deliveries d
           JOIN webhook_endpoints w ON w.property_id = d.property_id AND w.id = d.endpoint_id
          ORDER BY d.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (url, kind) in rows {
        by_url
            .entry(url.rsplit('/').next().unwrap().to_owned())
            .or_default()
            .push(kind);
    }
    assert_eq!(
        by_url["all"],
        [
            "conversation.created",
            "message.created",
            "conversation.created"
        ]
    );
    assert_eq!(
        by_url["created"],
        ["conversation.created", "conversation.created"]
    );
    assert_eq!(by_url["concierge"], ["conversation.created"]);
    assert!(!by_url.contains_key("disabled"));
}

#[bellhop_testdb::test]
async fn a_reload_updates_the_endpoint_with_the_same_url(pool: PgPool) {
    let _app = spawn(pool.clone()).await;
    load_webhooks(&pool, vec![hook("https://pms.example/hook")]).await;
    let mut changed = hook("https://pms.example/hook");
    changed.enabled = false;
    changed.events = Some(vec!["message.created".into()]);
    load_webhooks(&pool, vec![changed]).await;
    let rows: Vec<(String, bool, Option<Vec<String>>)> =
        sqlx::query_as("SELECT url, enabled, event_types FROM webhook_endpoints")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [(
            "https://pms.example/hook".to_owned(),
            false,
            Some(vec!["message.created".to_owned()])
        )]
    );
}

#[bellhop_testdb::test]
async fn an_outlet_unknown_to_the_database_rejects_the_whole_load(pool: PgPool) {
    let _app = spawn(pool.clone()).await;
    let mut file = demo_file(midday());
    file.properties[0].webhooks = vec![
        hook("https://ok.example/"),
        hook("https://pms.example/hook"),
    ];
    let mut data = validate(&file).unwrap();
    // Data that names an outlet the store does not have (the file check is not the only one).
    data.properties[0].webhooks[1].outlet_codes = Some(vec!["GHOST".into()]);
    let error = ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())))
        .load(&data)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("webhooks[1] (https://pms.example/hook).outletCodes"),
        "{error}"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing is loaded");
}

#[bellhop_testdb::test]
async fn nothing_is_lost_while_no_worker_runs_or_across_a_restart(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let receiver = Receiver::start(&[], Answer::Status(200));
    load_webhooks(&pool, vec![hook(&receiver.url("/hook"))]).await;
    let first = worker(&pool, 1_000, "0.2");
    let ada = app.ada().await;
    app.start_conversation(&ada, json!({"message": "One"}))
        .await;
    receiver.wait_for(1, 10).await;
    first.stop().await;
    // Stopped: events keep their deliveries, pending.
    for text in ["Two", "Three", "Four"] {
        app.start_conversation(&ada, json!({"message": text})).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.received().len(), 1);
    let second = worker(&pool, 1_000, "0.2");
    let got = receiver.wait_for(4, 10).await;
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 4);
    second.stop().await;
}

/// A TCP relay to the database that can be cut: new connections are refused and open ones
/// dropped while it is down.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let cut = cut2.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[bellhop_testdb::test]
async fn nothing_is_lost_across_a_database_outage(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let receiver = Receiver::start(&[], Answer::Status(200));
    load_webhooks(&pool, vec![hook(&receiver.url("/hook"))]).await;
    let relay = Relay::start().await;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let through_relay = format!("postgres://postgres@{}/{database}", relay.addr);
    let worker = worker_at(&through_relay, 1_000, "0.2", None);
    let ada = app.ada().await;
    app.start_conversation(&ada, json!({"message": "Before"}))
        .await;
    receiver.wait_for(1, 10).await;

    // The worker loses its database; events go on being committed (they reach the database
    // directly) and their deliveries wait.
    relay.down();
    for text in ["During 1", "During 2"] {
        app.start_conversation(&ada, json!({"message": text})).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1);
    relay.restore();
    let got = receiver.wait_for(3, 20).await;
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    wait_until_settled(&pool, 5).await;
    worker.stop().await;
}

#[bellhop_testdb::test]
async fn two_workers_share_the_deliveries_without_sending_one_twice(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let receiver = Receiver::start(&[], Answer::Status(200));
    load_webhooks(&pool, vec![hook(&receiver.url("/hook"))]).await;
    let ada = app.ada().await;
    let code = app.start_conversation(&ada, json!({"message": "Hi"})).await;
    for i in 0..39 {
        app.staff_post(
            &staff_path(&code, "messages"),
            STAFF,
            json!({"content": format!("Reply {i}")}),
        )
        .await
        .assert_ok();
    }
    // Both start on a full queue at once.
    let one = worker(&pool, 2_000, "0.2");
    let two = worker(&pool, 2_000, "0.2");
    receiver.wait_for(40, 20).await;
    wait_until_settled(&pool, 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.received();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        *count.entry(r.id.as_str()).or_default() += 1;
    }
    assert_eq!(count.len(), 40);
    assert!(count.values().all(|n| *n == 1), "sent twice: {count:?}");
    one.stop().await;
    two.stop().await;
}

#[bellhop_testdb::test]
async fn a_hanging_endpoint_does_not_delay_another(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    let hanging = Receiver::start(&[], Answer::Hang);
    let fast = Receiver::start(&[], Answer::Status(200));
    load_webhooks(
        &pool,
        vec![hook(&hanging.url("/slow")), hook(&fast.url("/fast"))],
    )
    .await;
    let worker = worker(&pool, 30_000, "60");
    let ada = app.ada().await;
    let started = Instant::now();
    let code = app.start_conversation(&ada, json!({"message": "Hi"})).await;
    for i in 0..19 {
        app.staff_post(
            &staff_path(&code, "messages"),
            STAFF,
            json!({"content": format!("Reply {i}")}),
        )
        .await
        .assert_ok();
    }
    let got = fast.wait_for(20, 5).await;
    assert!(
        got[19].at.duration_since(started) < Duration::from_secs(5),
        "{:?}",
        got[19].at.duration_since(started)
    );
    // The hanging endpoint holds at most its own share of attempts.
    assert!(hanging.received().len() <= bellhop_server::webhooks::PER_ENDPOINT);
    worker.stop().await;
}

#[bellhop_testdb::test]
async fn any_writer_of_events_queues_their_deliveries_and_a_rollback_queues_none(pool: PgPool) {
    let app = spawn(pool.clone()).await;
    load_webhooks(&pool, vec![hook("http://127.0.0.1:9/all")]).await;
    let ada = app.ada().await;
    app.start_conversation(&ada, json!({"message": "Hi"})).await;
    let count = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM webhook_deliveries")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count(pool.clone()).await, 1);
    // Another writer of events (a job, another build) that knows nothing of webhooks.
    let insert = "INSERT INTO events (property_id, type, conversation_id, conversation_code, outlet_id, data)
                  SELECT property_id, 'conversation.closed', id, code, outlet_id,
                         '{\"conversationStatus\": \"Closed\"}'::jsonb FROM conversations";
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(insert).execute(&mut *tx).await.unwrap();
    let inside: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(inside, 2, "queued in the same statement");
    tx.rollback().await.unwrap();
    assert_eq!(
        count(pool.clone()).await,
        1,
        "a rolled-back event has no delivery"
    );
    sqlx::query(insert).execute(&pool).await.unwrap();
    assert_eq!(count(pool.clone()).await, 2);
}

/// A claim's outcomes are recorded together, in one statement: each as its outcome says, and
/// one whose lease ended (another attempt was claimed meanwhile) is left to that attempt.
#[bellhop_testdb::test]
async fn a_claims_outcomes_are_recorded_together_and_a_stale_attempt_is_left_alone(pool: PgPool) {
    use bellhop_persistence::webhooks::Outcome;
    let app = spawn(pool.clone()).await;
    load_webhooks(&pool, vec![hook("http://127.0.0.1:9/hook")]).await;
    let ada = app.ada().await;
    for n in 0..3 {
        app.start_conversation(&ada, json!({"message": format!("Request {n}")}))
            .await;
    }
    let store = PgStore::new(pool.clone());
    let keys = store.due_webhook_endpoints().await.unwrap();
    assert_eq!(keys.len(), 1);
    let claimed = store
        .claim_webhook_deliveries(keys[0], 8, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    // The third's lease ended and another attempt was claimed.
    sqlx::query("UPDATE webhook_deliveries SET attempts = attempts + 1 WHERE id = $1")
        .bind(claimed[2].id)
        .execute(&pool)
        .await
        .unwrap();
    let delivered = Outcome::Delivered { status: 204 };
    let retry = Outcome::Failed {
        status: Some(500),
        error: "HTTP status 500".into(),
        response: Some("busy".into()),
        retry_after: Some(Duration::from_secs(60)),
    };
    let recorded = store
        .record_webhook_attempts(&[
            (&claimed[0], "body 0", &delivered),
            (&claimed[1], "body 1", &retry),
            (&claimed[2], "body 2", &delivered),
        ])
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2);
    assert!(recorded.contains(&claimed[0].id) && recorded.contains(&claimed[1].id));
    type Row = (
        String,
        Option<String>,
        Option<i32>,
        Option<String>,
        Option<String>,
        bool,
        bool,
        i32,
    );
    let row = |id: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, Row>(
                "SELECT status, body, last_status, last_error, last_response,
                        delivered_at IS NOT NULL, next_attempt_at > now() + interval '50 seconds',
                        attempts
                   FROM webhook_deliveries WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        row(claimed[0].id).await,
        (
            "delivered".into(),
            Some("body 0".into()),
            Some(204),
            None,
            None,
            true,
            false,
            1
        )
    );
    assert_eq!(
        row(claimed[1].id).await,
        (
            "pending".into(),
            Some("body 1".into()),
            Some(500),
            Some("HTTP status 500".into()),
            Some("busy".into()),
            false,
            true,
            1
        )
    );
    assert_eq!(
        row(claimed[2].id).await,
        ("pending".into(), None, None, None, None, false, false, 2)
    );
}
