//! Three `bellhop serve` processes on one database behind HAProxy (Debian's `haproxy`, round
//! robin, on 127.0.0.1, configured from the shipped `deploy/haproxy.cfg`), driven for about
//! 20 seconds by guests and staff creating, replying and reading, the same `Idempotency-Key`
//! retried through different instances, a staff event stream dropped and resumed through the
//! balancer, webhooks and overdue replies — while one instance is killed with SIGKILL and
//! started again. Then: nothing acknowledged is lost, only requests in flight at the kill
//! failed, the stream got every event exactly once in commit order, every event reached the
//! webhook receiver and no attempt was sent twice at once, and each overdue conversation was
//! announced exactly once.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use bellhop_application::reference_data::{demo_file, validate, ReferenceDataService};
use bellhop_persistence::PgStore;
use chrono::Utc;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    events::Process,
    webhooks::{hook, Answer, Receiver},
};

const STAFF: &str = "demo-staff-key";
const GUEST: &str = "/API/V40/Interactive/Messages/Conversations";
const RUN: Duration = Duration::from_secs(20);
const KILL_AT: Duration = Duration::from_secs(7);
const RESTART_AFTER: Duration = Duration::from_secs(3);

/// HAProxy in front of `servers`, with the shipped configuration: the same frontend, limits
/// and balancing; only the listen address, the servers, the health-check pace and the
/// connection ceiling are the test's (and the per-address limit is raised: every request here
/// comes from 127.0.0.1).
struct Balancer {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Balancer {
    async fn start(servers: &[SocketAddr]) -> Self {
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haproxy.cfg"),
        )
        .unwrap();
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut config = String::new();
        let mut in_resolvers = false;
        for line in shipped.lines() {
            let trimmed = line.trim_start();
            if line.starts_with("resolvers ") {
                in_resolvers = true;
                continue;
            }
            if in_resolvers {
                if line.starts_with(' ') || line.is_empty() {
                    continue;
                }
                in_resolvers = false;
            }
            if trimmed.starts_with("log ") || trimmed == "option httplog" {
                continue;
            }
            if trimmed.starts_with("maxconn ") {
                // The shipped figure needs twice as many open files as a test may have.
                config.push_str("    maxconn 2000\n");
            } else if trimmed.starts_with("bind ") {
                config.push_str(&format!("    bind {addr}\n"));
            } else if trimmed.starts_with("default-server ") {
                config.push_str("    default-server check inter 300ms fall 1 rise 2\n");
            } else if trimmed.starts_with("server ") {
                continue;
            } else if trimmed.starts_with("acl limited ") {
                config.push_str("    acl limited sc_http_req_rate(0) gt 1000000\n");
            } else {
                config.push_str(line);
                config.push('\n');
            }
            if trimmed.starts_with("http-check expect") {
                for (i, server) in servers.iter().enumerate() {
                    config.push_str(&format!("    server bellhop-{i} {server}\n"));
                }
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "bellhop-haproxy-{}-{}",
            std::process::id(),
            addr.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, &config).unwrap();
        let child = std::process::Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("haproxy is installed (Debian's haproxy; .ci/run installs it)");
        let balancer = Self {
            child,
            addr,
            _dir: tempdir::Dir(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = reqwest::get(format!("http://{addr}/health/ready")).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "haproxy never served:\n{config}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        balancer
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the clients saw.
#[derive(Default)]
struct Outcomes {
    /// Message texts whose write was acknowledged (2xx).
    acknowledged: Mutex<Vec<String>>,
    /// When each failed request failed, and what it was.
    failures: Mutex<Vec<(Instant, String)>>,
    /// Idempotency keys with the conversation codes their acknowledged answers named.
    idempotent: Mutex<HashMap<String, HashSet<String>>>,
    requests: AtomicUsize,
}

impl Outcomes {
    fn failed(&self, what: String) {
        self.failures.lock().unwrap().push((Instant::now(), what));
    }
}

/// A client that gives up on a request after 10 s (nothing here should take a second).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn json_request(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

async fn read_json(response: reqwest::Response) -> Option<Value> {
    serde_json::from_slice(&response.bytes().await.ok()?).ok()
}

/// Posts JSON; `Some(body)` for a 2xx answer, `None` (recorded as a failure) otherwise.
async fn post(
    client: &reqwest::Client,
    outcomes: &Outcomes,
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Option<Value> {
    outcomes.requests.fetch_add(1, Ordering::Relaxed);
    let mut request = json_request(client.post(url), body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => read_json(response).await,
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            outcomes.failed(format!("POST {url}: {status} {text}"));
            None
        }
        Err(error) => {
            outcomes.failed(format!("POST {url}: {error}"));
            None
        }
    }
}

/// A verified guest's session through the balancer (retried: the kill may hit it).
async fn guest_session(
    client: &reqwest::Client,
    base: &Balancer,
    room: &str,
    name: &str,
) -> String {
    for _ in 0..20 {
        let body = json!({"propertyCode": "DEMO-HOTEL", "interfaceToken": "demo-interface-token",
                          "roomNumber": room, "lastName": name});
        let answer = json_request(
            client.post(base.url("/API/V40/System/Session/InitialiseByRoom")),
            &body,
        )
        .send()
        .await;
        if let Ok(answer) = answer {
            if let Some(body) = read_json(answer).await {
                if let Some(token) = body["sessionToken"].as_str() {
                    return token.to_owned();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no session for room {room}");
}

fn created_code(body: &Value) -> Option<String> {
    body["responses"][0]["createConversationResponse"]["content"]["conversation"]["code"]
        .as_str()
        .map(str::to_owned)
}

/// A guest creating conversations and replying to them until `stop`.
async fn guest_load(
    base: Arc<Balancer>,
    outcomes: Arc<Outcomes>,
    stop: Arc<AtomicBool>,
    room: &'static str,
    name: &'static str,
) {
    let client = client();
    let mut token = guest_session(&client, &base, room, name).await;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let text = format!("{room} asks #{n}");
        let body = json!({"sessionToken": token, "message": text, "outletCode": "ROOMSVC"});
        let Some(created) = post(&client, &outcomes, &base.url(GUEST), &[], &body).await else {
            continue;
        };
        if let Some(next) = created["sessionToken"].as_str() {
            token = next.to_owned();
        }
        outcomes.acknowledged.lock().unwrap().push(text);
        let Some(code) = created_code(&created) else {
            continue;
        };
        for r in 0..2 {
            let text = format!("{room} adds #{n}.{r}");
            let body = json!({"sessionToken": token, "message": text});
            let url = base.url(&format!("{GUEST}/{code}/Messages"));
            if post(&client, &outcomes, &url, &[], &body).await.is_some() {
                outcomes.acknowledged.lock().unwrap().push(text);
            }
        }
        let url = base.url(&format!("{GUEST}/{code}/Read"));
        post(
            &client,
            &outcomes,
            &url,
            &[],
            &json!({"sessionToken": token}),
        )
        .await;
    }
}

/// Staff answering and reading the newest room-service conversations until `stop`.
async fn staff_load(base: Arc<Balancer>, outcomes: Arc<Outcomes>, stop: Arc<AtomicBool>) {
    let client = client();
    let auth = format!("Bearer {STAFF}");
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        outcomes.requests.fetch_add(1, Ordering::Relaxed);
        let list = client
            .get(base.url("/staff/v1/conversations?outletCode=ROOMSVC&limit=5"))
            .header("Authorization", &auth)
            .send()
            .await;
        let conversations = match list {
            Ok(answer) if answer.status().is_success() => read_json(answer).await,
            Ok(answer) => {
                outcomes.failed(format!("staff list: {}", answer.status()));
                None
            }
            Err(error) => {
                outcomes.failed(format!("staff list: {error}"));
                None
            }
        };
        let codes: Vec<String> = conversations
            .iter()
            .flat_map(|c| c["conversations"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["code"].as_str().map(str::to_owned))
            .collect();
        for code in codes.iter().take(2) {
            n += 1;
            let text = format!("staff answers #{n}");
            let url = base.url(&format!("/staff/v1/conversations/{code}/messages"));
            let headers = [("Authorization", auth.as_str())];
            if post(
                &client,
                &outcomes,
                &url,
                &headers,
                &json!({"content": text}),
            )
            .await
            .is_some()
            {
                outcomes.acknowledged.lock().unwrap().push(text);
            }
            let url = base.url(&format!("/staff/v1/conversations/{code}/read"));
            post(&client, &outcomes, &url, &headers, &json!({})).await;
        }
    }
}

/// The same create sent three times with one `Idempotency-Key` (round robin: through three
/// different instances), a new key every round, until `stop`.
async fn idempotent_load(base: Arc<Balancer>, outcomes: Arc<Outcomes>, stop: Arc<AtomicBool>) {
    let client = client();
    let token = guest_session(&client, &base, "102", "Turing").await;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("scale-out-{n}");
        let text = format!("once only #{n}");
        let body = json!({"sessionToken": token, "message": text, "outletCode": "ROOMSVC"});
        for _ in 0..3 {
            let headers = [("Idempotency-Key", key.as_str())];
            if let Some(answer) = post(&client, &outcomes, &base.url(GUEST), &headers, &body).await
            {
                let code = created_code(&answer).expect("a created conversation");
                outcomes
                    .idempotent
                    .lock()
                    .unwrap()
                    .entry(text.clone())
                    .or_default()
                    .insert(code);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// One SSE frame: its id (if any) and event type.
fn frames(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|frame| frame.contains("event: "))
        .map(|frame| {
            let field = |name: &str| {
                frame
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::to_owned)
            };
            (field("id: "), field("event: ").unwrap_or_default())
        })
        .collect()
}

/// Reads the staff stream through the balancer in short sessions, each resumed from the last
/// id received, until `stop`; then once more until it is quiet. Returns every event id
/// received (`ready` excluded), in order, and the first `ready` id.
async fn stream_reader(base: Arc<Balancer>, stop: Arc<AtomicBool>) -> (String, Vec<String>) {
    let client = client();
    let give_up = Instant::now() + RUN + Duration::from_secs(60);
    let mut ready: Option<String> = None;
    let mut received = Vec::new();
    let mut session = 0u64;
    let mut quiet_since: Option<Instant> = None;
    loop {
        assert!(Instant::now() < give_up, "the stream never went quiet");
        session += 1;
        let mut request = client
            .get(base.url("/staff/v1/events"))
            .header("Authorization", format!("Bearer {STAFF}"));
        let last = received.last().cloned().or_else(|| ready.clone());
        if let Some(last) = &last {
            request = request.header("Last-Event-ID", last);
        }
        let Ok(mut response) = request.send().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if !response.status().is_success() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let stopping = stop.load(Ordering::Relaxed);
        // Drop the stream after a while (0.3 to 2 s), or read a final one until quiet.
        let lasts = Duration::from_millis(300 + (session * 379) % 1700);
        let opened = Instant::now();
        let mut buffer = String::new();
        let mut got_any = false;
        loop {
            // The final read lasts 3 s (heartbeats arrive every second, so the deadline is
            // the session's, not the wait for one chunk).
            let lasts = if stopping {
                Duration::from_secs(3)
            } else {
                lasts
            };
            let left = lasts.saturating_sub(opened.elapsed());
            match tokio::time::timeout(left, response.chunk()).await {
                Ok(Ok(Some(bytes))) => {
                    buffer.push_str(&String::from_utf8_lossy(&bytes));
                    // Only whole frames count; a partial one is read again after a resume.
                    while let Some(end) = buffer.find("\n\n") {
                        let frame: String = buffer.drain(..end + 2).collect();
                        for (id, kind) in frames(&frame) {
                            match (kind.as_str(), id) {
                                ("ready", Some(id)) => {
                                    ready.get_or_insert(id);
                                }
                                ("reset", _) => panic!("a valid cursor got reset"),
                                (_, Some(id)) => {
                                    got_any = true;
                                    received.push(id);
                                }
                                _ => {}
                            }
                        }
                    }
                }
                // Ended (the instance died, or the timeout of this session).
                _ => break,
            }
        }
        if stopping {
            if got_any {
                quiet_since = None;
            } else if quiet_since.get_or_insert_with(Instant::now).elapsed()
                >= Duration::from_secs(2)
            {
                return (ready.expect("a ready event"), received);
            }
        }
    }
}

#[bellhop_testdb::test]
async fn three_instances_behind_haproxy_lose_nothing_when_one_is_killed(pool: PgPool) {
    // The demo data on the real clock (the processes use it), with a webhook for everything.
    let receiver = Receiver::start(&[], Answer::Status(200));
    let mut file = demo_file(Utc::now());
    file.properties[0].webhooks = vec![hook(&receiver.url("/hook"))];
    let data = validate(&file).unwrap();
    let store = PgStore::new(pool.clone());
    ReferenceDataService::new(Arc::new(store))
        .load(&data)
        .await
        .unwrap();
    let settings = [
        ("BELLHOP_EVENTS_HEARTBEAT_SECS", "1"),
        ("BELLHOP_WEBHOOK_TIMEOUT_MS", "2000"),
        ("BELLHOP_WEBHOOK_RETRY_SCHEDULE", "1,1,1,1,1"),
    ];
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(Process::start(&pool, &settings).await);
    }
    let addrs: Vec<SocketAddr> = instances.iter().map(|p| p.addr).collect();
    let base = Arc::new(Balancer::start(&addrs).await);

    // Three concierge conversations nobody answers: they fall due during the run.
    let client = client();
    let grace = guest_session(&client, &base, "203", "Hopper").await;
    let mut waiting = Vec::new();
    for n in 0..3 {
        let body = json!({"sessionToken": grace, "message": format!("Taxi {n}?"), "outletCode": "CONCIERGE"});
        let answer = read_json(
            json_request(client.post(base.url(GUEST)), &body)
                .send()
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        waiting.push(created_code(&answer).expect("created"));
    }

    let outcomes = Arc::new(Outcomes::default());
    let stop = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(stream_reader(base.clone(), stop.clone()));
    // Let the stream start (its `ready`) before anything is written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut load = vec![
        tokio::spawn(guest_load(
            base.clone(),
            outcomes.clone(),
            stop.clone(),
            "101",
            "Lovelace",
        )),
        tokio::spawn(guest_load(
            base.clone(),
            outcomes.clone(),
            stop.clone(),
            "204",
            "Núñez",
        )),
        tokio::spawn(staff_load(base.clone(), outcomes.clone(), stop.clone())),
        tokio::spawn(idempotent_load(
            base.clone(),
            outcomes.clone(),
            stop.clone(),
        )),
    ];
    let concurrent_clients = load.len();
    let started = Instant::now();

    // The waiting conversations fall due now (as if their ten minutes had passed).
    sqlx::query(
        "UPDATE conversations SET reply_due_at = now() - interval '1 second'
          WHERE code = ANY($1) AND awaiting_reply_since IS NOT NULL",
    )
    .bind(&waiting)
    .execute(&pool)
    .await
    .unwrap();

    tokio::time::sleep(KILL_AT).await;
    let killed_at = Instant::now();
    instances[1].kill();
    tokio::time::sleep(RESTART_AFTER).await;
    instances[1] = Process::start_at(&pool, addrs[1], &settings).await;
    let restarted_at = Instant::now();
    tokio::time::sleep(RUN.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    for task in load.drain(..) {
        task.await.unwrap();
    }
    let (ready, received) = reader.await.unwrap();

    // Only requests in flight at the kill failed: at most one per client, all around it.
    let failures = outcomes.failures.lock().unwrap().clone();
    let requests = outcomes.requests.load(Ordering::Relaxed);
    assert!(
        requests > 200,
        "too little load to prove anything: {requests}"
    );
    assert!(
        failures.len() <= concurrent_clients,
        "{} of {requests} requests failed: {:#?}",
        failures.len(),
        failures.iter().map(|(_, what)| what).collect::<Vec<_>>()
    );
    for (at, what) in &failures {
        assert!(
            *at >= killed_at && *at <= restarted_at + Duration::from_secs(2),
            "a request failed away from the kill: {what}"
        );
    }

    // Nothing acknowledged is lost.
    let stored: HashSet<String> = sqlx::query_scalar("SELECT content FROM messages")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let acknowledged = outcomes.acknowledged.lock().unwrap().clone();
    for text in &acknowledged {
        assert!(stored.contains(text), "acknowledged but lost: {text}");
    }

    // One Idempotency-Key, one conversation, through whichever instances.
    let idempotent = outcomes.idempotent.lock().unwrap().clone();
    assert!(idempotent.len() >= 10, "{}", idempotent.len());
    for (text, codes) in &idempotent {
        assert_eq!(codes.len(), 1, "{text} answered with {codes:?}");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE content = $1")
            .bind(text)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 1, "{text} was written {count} times");
    }

    // The stream, dropped and resumed through the balancer, got every event after its
    // `ready` exactly once, in commit order.
    let (ready_xid, ready_id) = ready.split_once('-').unwrap();
    let expected: Vec<String> = sqlx::query_scalar(
        "SELECT xid::text || '-' || id FROM events
          WHERE (xid, id) > ($1::text::xid8, $2::bigint) ORDER BY xid, id",
    )
    .bind(ready_xid)
    .bind(ready_id.parse::<i64>().unwrap())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(expected.len() > 100, "{}", expected.len());
    let unique: HashSet<&String> = received.iter().collect();
    assert_eq!(unique.len(), received.len(), "an event came twice");
    assert_eq!(received, expected, "the stream missed or reordered events");

    // Each waiting conversation was announced overdue exactly once, by one instance.
    for code in &waiting {
        let overdue: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE type = 'conversation.overdue' AND conversation_code = $1",
        )
        .bind(code)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(overdue, 1, "{code} was announced {overdue} times");
    }

    // Every event reached the webhook (the killed instance's leased attempts are sent again
    // when their lease ends), and no attempt of one event was in flight twice at once.
    let deadline = Instant::now() + Duration::from_secs(30);
    let all: HashSet<String> = sqlx::query_scalar("SELECT xid::text || '-' || id FROM events")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    loop {
        let delivered: HashSet<String> = receiver.received().into_iter().map(|r| r.id).collect();
        if all.is_subset(&delivered) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} events never reached the webhook",
            all.difference(&delivered).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut by_id: HashMap<String, Vec<Instant>> = HashMap::new();
    for r in receiver.received() {
        by_id.entry(r.id).or_default().push(r.at);
    }
    for (id, times) in &by_id {
        // The receiver answers at once: two arrivals of one id closer than the lease (the
        // webhook timeout plus its margin) would be two attempts in flight together.
        for pair in times.windows(2) {
            assert!(
                pair[1].duration_since(pair[0]) >= Duration::from_secs(2),
                "{id} was sent twice at once"
            );
        }
    }
    eprintln!(
        "scale-out: {requests} requests, {} failed (at the kill), {} writes acknowledged, \
         {} idempotent rounds, {} events streamed, {} webhook requests",
        failures.len(),
        acknowledged.len(),
        idempotent.len(),
        received.len(),
        receiver.received().len()
    );
    let overdue_delivered = receiver
        .received()
        .iter()
        .filter(|r| r.body.contains("\"conversation.overdue\""))
        .count();
    assert!(overdue_delivered >= waiting.len(), "{overdue_delivered}");
}
