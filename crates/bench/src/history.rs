//! History mode (`--history N`): every guest and staff read route and create-conversation,
//! measured on the demo property as it is, then again after `N` old conversations (one guest
//! message each, all read by staff but the newest 1,000) were bulk-loaded into it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{
    client::{self, Connection},
    stats::{summarise, Summary},
};

const PROPERTY: &str = "DEMO-HOTEL";
const STAFF_KEY: &str = "demo-staff-key";
/// Sequential requests per route and phase.
const REQUESTS: usize = 200;
/// The newest history conversations are unread by staff; the rest are read.
const UNREAD: i64 = 1000;
/// Conversations per statement of the bulk load.
const CHUNK: i64 = 100_000;

/// Builds the n-th request of a route.
type Request = Arc<dyn Fn(usize) -> Vec<u8>>;

#[derive(Serialize)]
pub struct RouteFigures {
    pub route: String,
    pub empty: Summary,
    pub history: Summary,
}

#[derive(Serialize)]
pub struct HistoryReport {
    pub history_conversations: i64,
    pub load_seconds: f64,
    pub requests_per_route: usize,
    pub routes: Vec<RouteFigures>,
}

fn staff_get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {STAFF_KEY}\r\n\r\n")
        .into_bytes()
}

/// A verified session of the demo guest in room 101.
async fn demo_session(connection: &mut Connection) -> anyhow::Result<String> {
    let body = json!({"propertyCode": PROPERTY, "interfaceToken": "demo-interface-token",
                      "roomNumber": "101", "lastName": "Lovelace"});
    let (status, body) = connection
        .send(&client::post_json(
            "/API/V40/System/Session/InitialiseByRoom",
            &body.to_string(),
        ))
        .await?;
    if status != 200 {
        bail!(
            "InitialiseByRoom answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let reply: Value = serde_json::from_slice(&body)?;
    Ok(reply["sessionToken"]
        .as_str()
        .context("no session token")?
        .to_owned())
}

fn create_request(token: &str, n: usize) -> Vec<u8> {
    let body = json!({"message": format!("History bench request {n}: an extra pillow, please."),
                      "conversationType": "guest", "sessionToken": token});
    client::post_json(
        "/API/V40/Interactive/Messages/Conversations",
        &body.to_string(),
    )
}

/// `REQUESTS` requests, one after the other on one keep-alive connection.
async fn sequential(
    connection: &mut Connection,
    request: &dyn Fn(usize) -> Vec<u8>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut errors = 0;
    for n in 0..REQUESTS {
        let bytes = request(n);
        let sent = Instant::now();
        match connection.send(&bytes).await? {
            (200, _) => {
                latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX))
            }
            (status, body) if errors == 0 => {
                errors += 1;
                eprintln!("  answered {status}: {}", String::from_utf8_lossy(&body));
            }
            _ => errors += 1,
        }
    }
    Ok(summarise(
        latencies,
        errors,
        started.elapsed().as_secs_f64(),
    ))
}

/// The routes measured, by name, each as a request builder (the guest's token and a
/// conversation code of theirs are fixed per phase).
fn routes(token: &str, code: &str) -> Vec<(String, Request)> {
    let t = token.to_owned();
    let mut list: Vec<(String, Request)> = Vec::new();
    let mut add = |name: &str, request: Request| {
        list.push((name.to_owned(), request));
    };
    let guest = |path: String| -> Request { Arc::new(move |_| client::get(&path)) };
    let staff = |path: String| -> Request { Arc::new(move |_| staff_get(&path)) };
    let create_token = t.clone();
    add(
        "POST guest create conversation",
        Arc::new(move |n| create_request(&create_token, n)),
    );
    add(
        "GET guest Messages (50)",
        guest(format!(
            "/API/V40/Interactive/Messages?PageLength=50&DescendingOrder=true&SessionToken={t}"
        )),
    );
    add(
        "GET guest conversation list (20)",
        guest(format!(
            "/API/V40/Interactive/Messages/Conversations?PageLength=20&SessionToken={t}"
        )),
    );
    add(
        "GET guest conversation",
        guest(format!(
            "/API/V40/Interactive/Messages/Conversations/{code}?SessionToken={t}"
        )),
    );
    add(
        "GET guest Settings/Outlet",
        guest(format!(
            "/API/V40/System/Settings/Outlet?Code=BAR&SessionToken={t}"
        )),
    );
    add(
        "GET staff list (50)",
        staff("/staff/v1/conversations?limit=50".into()),
    );
    add(
        "GET staff list unread (50)",
        staff("/staff/v1/conversations?limit=50&unread=true".into()),
    );
    add(
        "GET staff list BAR unread (50)",
        staff("/staff/v1/conversations?limit=50&outletCode=BAR&unread=true".into()),
    );
    add(
        "GET staff list Open (50)",
        staff("/staff/v1/conversations?limit=50&status=Open".into()),
    );
    add(
        "GET staff conversation",
        staff(format!("/staff/v1/conversations/{code}")),
    );
    add("GET staff unread", staff("/staff/v1/unread".into()));
    list
}

/// Measures every route once: `REQUESTS` sequential requests each, after 20 to warm up.
async fn measure(address: &str) -> anyhow::Result<Vec<(String, Summary)>> {
    let mut connection = Connection::new(address);
    let token = demo_session(&mut connection).await?;
    let code = client::create_conversation(&mut connection, &create_request(&token, 0)).await?;
    let mut figures = Vec::new();
    for (name, request) in routes(&token, &code) {
        for n in 0..20 {
            connection.send(&request(n)).await?;
        }
        let summary = sequential(&mut connection, &*request).await?;
        eprintln!(
            "  {name}: p50 {:.1} ms, p99 {:.1} ms{}",
            summary.p50_ms,
            summary.p99_ms,
            if summary.errors > 0 {
                format!(", {} errors", summary.errors)
            } else {
                String::new()
            }
        );
        figures.push((name, summary));
    }
    Ok(figures)
}

/// Bulk-loads `count` old conversations of visitors into the demo property, with set-based
/// statements: one guest message each, read by staff except the newest `UNREAD`.
async fn load_history(db_url: &str, count: i64) -> anyhow::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await?;
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("SET synchronous_commit = off; SET statement_timeout = 0;")
        .execute(&mut *conn)
        .await?;
    let property_id: i64 = sqlx::query_scalar("SELECT id FROM properties WHERE code = $1")
        .bind(PROPERTY)
        .fetch_one(&mut *conn)
        .await?;
    let outlets: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM outlets WHERE property_id = $1 AND active ORDER BY display_order",
    )
    .bind(property_id)
    .fetch_all(&mut *conn)
    .await?;
    // A year of history, oldest first, ending an hour ago; 5 conversations per visitor.
    let sql = "
        WITH g AS (
            SELECT n, now() - interval '1 hour' - (($4 - n) * interval '1 year') / $4 AS at,
                   n > $4 - $5 AS unread
              FROM generate_series($2::bigint, $3::bigint) AS n
        ), c AS (
            INSERT INTO conversations (property_id, code, outlet_id, guest_identifier, subject,
                   conversation_type, status, last_seq, guest_read_seq, staff_read_seq,
                   created_at, last_message_at, closed_at)
            SELECT $1, 'HIST' || lpad(n::text, 12, '0'), ($6::bigint[])[1 + n % cardinality($6)],
                   'history-visitor-' || (n / 5), 'History ' || n, 'guest',
                   CASE WHEN unread THEN 'Open' ELSE 'Closed' END, 1, 0,
                   CASE WHEN unread THEN 0 ELSE 1 END, at, at,
                   CASE WHEN unread THEN NULL ELSE at END
              FROM g
            RETURNING property_id, id, code, guest_identifier, created_at
        )
        INSERT INTO messages (property_id, conversation_id, seq, code, message_type, content,
                              language_code, created_at, guest_identifier)
        SELECT property_id, id, 1, 'HISTM' || substr(code, 5), 'Guest',
               'A message from the history, ' || code, 'en', created_at, guest_identifier
          FROM c";
    let mut from = 1;
    while from <= count {
        let to = (from + CHUNK - 1).min(count);
        let started = Instant::now();
        sqlx::query(sql)
            .bind(property_id)
            .bind(from)
            .bind(to)
            .bind(count)
            .bind(UNREAD)
            .bind(&outlets)
            .execute(&mut *conn)
            .await
            .context("bulk load of the history")?;
        eprintln!(
            "  {to} of {count} conversations ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
        from = to + 1;
    }
    eprintln!("  VACUUM ANALYZE, CHECKPOINT…");
    // One statement each: VACUUM cannot run in the implicit transaction of several.
    for statement in ["VACUUM (ANALYZE) conversations, messages", "CHECKPOINT"] {
        sqlx::raw_sql(statement).execute(&mut *conn).await?;
    }
    drop(conn);
    pool.close().await;
    Ok(())
}

/// Runs the history mode against a running server: measure, load, measure again.
pub async fn run(address: &str, db_url: &str, count: i64) -> anyhow::Result<HistoryReport> {
    eprintln!("measuring every route on the demo property as loaded…");
    let empty = measure(address).await?;
    eprintln!("loading {count} conversations of history…");
    let started = Instant::now();
    load_history(db_url, count).await?;
    let load_seconds = started.elapsed().as_secs_f64();
    eprintln!("  loaded in {load_seconds:.0} s");
    // Let the server's pooled connections see the new statistics with fresh plans.
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!("measuring every route again…");
    let history = measure(address).await?;
    let routes = empty
        .into_iter()
        .zip(history)
        .map(|((route, empty), (_, history))| RouteFigures {
            route,
            empty,
            history,
        })
        .collect();
    Ok(HistoryReport {
        history_conversations: count,
        load_seconds,
        requests_per_route: REQUESTS,
        routes,
    })
}

/// The report as a Markdown table.
pub fn markdown(report: &HistoryReport, commit: &str) -> String {
    let mut text = format!(
        "# History benchmark, commit `{commit}`\n\n\
         {} sequential requests per route; history: {} conversations (one message each, \
         the newest {UNREAD} unread by staff) loaded in {:.0} s.\n\n\
         | route | empty p50 | empty p99 | history p50 | history p99 | p99 ratio | p99 ≤ 2× empty and ≤ 20 ms |\n\
         |---|---|---|---|---|---|---|\n",
        report.requests_per_route, report.history_conversations, report.load_seconds
    );
    for r in &report.routes {
        let ratio = r.history.p99_ms / r.empty.p99_ms.max(0.001);
        let met = r.history.p99_ms <= 20.0 && ratio <= 2.0 && r.history.errors == 0;
        text.push_str(&format!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {ratio:.2} | {} |\n",
            r.route,
            r.empty.p50_ms,
            r.empty.p99_ms,
            r.history.p50_ms,
            r.history.p99_ms,
            if met { "met" } else { "NOT met" }
        ));
    }
    text
}
