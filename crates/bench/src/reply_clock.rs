//! Reply-clock mode (`--reply-clock N`): the cost of one run of the overdue job (what every
//! server process does every 5 s) with few and with `N` open conversations waiting for a
//! reply, to show that it reads the due ones through their partial index and does not walk
//! the open conversations.
//!
//! It bulk-loads waiting conversations into the generated property (due in a day: open, waiting,
//! not due), times job runs with nothing due, then makes `DUE` of them due and times the run
//! that emits their events, at two sizes; and shows the plan of the job's claim.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use bellhop_application::{clock::SystemClock, reply_clock::OverdueService};
use bellhop_persistence::PgStore;
use serde::Serialize;
use sqlx::PgPool;

/// Runs timed per measurement.
const RUNS: usize = 100;
/// Conversations made due before the timed emitting run.
const DUE: i64 = 100;
/// The smaller size, measured first.
const SMALL: i64 = 1_000;
/// Conversations per statement of the bulk load.
const CHUNK: i64 = 50_000;

#[derive(Serialize)]
pub struct SizeFigures {
    pub open_waiting_conversations: i64,
    /// Mean and max of a run with nothing due (BEGIN, one claim statement, COMMIT).
    pub idle_run_mean_ms: f64,
    pub idle_run_max_ms: f64,
    /// The run that emits `DUE` events (claim, one UPDATE, one INSERT per event).
    pub emitting_run_ms: f64,
    pub events_emitted: usize,
}

#[derive(Serialize)]
pub struct ReplyClockReport {
    pub runs_per_measure: usize,
    pub sizes: Vec<SizeFigures>,
    /// `EXPLAIN (ANALYZE, BUFFERS)` of the claim's per-property scan at the largest size.
    pub claim_plan: Vec<String>,
    pub due_index_bytes: i64,
    pub conversations_table_bytes: i64,
}

pub async fn run(db_url: &str, count: i64) -> anyhow::Result<ReplyClockReport> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(db_url)
        .await?;
    // The generated property (the server, which would add the demo one, is not started).
    let property_id: i64 = sqlx::query_scalar("SELECT id FROM properties ORDER BY id LIMIT 1")
        .fetch_one(&pool)
        .await?;
    let job = OverdueService::new(Arc::new(PgStore::new(pool.clone())), Arc::new(SystemClock));
    // Conversations the earlier benchmark phases may have left waiting are notified first.
    job.notify_overdue().await?;
    let mut sizes = Vec::new();
    let mut loaded = 0;
    for size in [SMALL.min(count), count] {
        load_waiting(&pool, property_id, loaded + 1, size).await?;
        loaded = size;
        sqlx::raw_sql("VACUUM (ANALYZE) conversations")
            .execute(&pool)
            .await?;
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let started = Instant::now();
            let events = job.notify_overdue().await?;
            times.push(started.elapsed());
            anyhow::ensure!(events.is_empty(), "nothing should be due");
        }
        make_due(&pool, property_id, DUE).await?;
        let started = Instant::now();
        let events = job.notify_overdue().await?;
        let emitting = started.elapsed();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let figures = SizeFigures {
            open_waiting_conversations: size,
            idle_run_mean_ms: times.iter().map(|d| ms(*d)).sum::<f64>() / RUNS as f64,
            idle_run_max_ms: times.iter().map(|d| ms(*d)).fold(0.0, f64::max),
            emitting_run_ms: ms(emitting),
            events_emitted: events.len(),
        };
        eprintln!(
            "  {size} waiting: idle run {:.3} ms mean, {:.3} ms max; emitting {} events {:.1} ms",
            figures.idle_run_mean_ms,
            figures.idle_run_max_ms,
            figures.events_emitted,
            figures.emitting_run_ms
        );
        sizes.push(figures);
    }
    // The claim's per-property scan as the job runs it (the outer statement adds the lock
    // attempt on each row this returns, and the batch limit).
    let claim_plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF)
         SELECT c.property_id, c.id FROM conversations c
          WHERE c.property_id = $1 AND c.reply_due_at <= now() AND NOT c.overdue_notified
          ORDER BY c.reply_due_at LIMIT 100",
    )
    .bind(property_id)
    .fetch_all(&pool)
    .await?;
    let (due_index_bytes, conversations_table_bytes): (i64, i64) = sqlx::query_as(
        "SELECT pg_relation_size('conversations_reply_due_idx'), pg_relation_size('conversations')",
    )
    .fetch_one(&pool)
    .await?;
    Ok(ReplyClockReport {
        runs_per_measure: RUNS,
        sizes,
        claim_plan,
        due_index_bytes,
        conversations_table_bytes,
    })
}

/// Loads conversations `from..=to` of visitors, open and waiting since a minute ago with their
/// reply due in a day, one guest message each.
async fn load_waiting(pool: &PgPool, property_id: i64, from: i64, to: i64) -> anyhow::Result<()> {
    let outlets: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM outlets WHERE property_id = $1 AND active ORDER BY display_order",
    )
    .bind(property_id)
    .fetch_all(pool)
    .await?;
    let sql = "
        WITH c AS (
            INSERT INTO conversations (property_id, code, outlet_id, guest_identifier, subject,
                   conversation_type, status, last_seq, created_at, last_message_at,
                   awaiting_reply_since, reply_due_at)
            SELECT $1, 'WAIT' || lpad(n::text, 12, '0'), ($4::bigint[])[1 + n % cardinality($4)],
                   'waiting-visitor-' || n, 'Waiting ' || n, 'guest', 'Open', 1,
                   now() - interval '1 minute', now() - interval '1 minute',
                   now() - interval '1 minute', now() + interval '1 day'
              FROM generate_series($2::bigint, $3::bigint) AS n
            RETURNING property_id, id, code, guest_identifier, created_at
        )
        INSERT INTO messages (property_id, conversation_id, seq, code, message_type, content,
                              language_code, created_at, guest_identifier)
        SELECT property_id, id, 1, 'WAITM' || substr(code, 5), 'Guest', 'Still waiting', 'en',
               created_at, guest_identifier
          FROM c";
    let mut start = from;
    while start <= to {
        let end = (start + CHUNK - 1).min(to);
        sqlx::query(sql)
            .bind(property_id)
            .bind(start)
            .bind(end)
            .bind(&outlets)
            .execute(pool)
            .await
            .context("bulk load of waiting conversations")?;
        start = end + 1;
    }
    eprintln!("  {to} waiting conversations loaded");
    Ok(())
}

/// Moves the due time of `count` waiting conversations into the past.
async fn make_due(pool: &PgPool, property_id: i64, count: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE conversations SET reply_due_at = now() - interval '1 second'
          WHERE property_id = $1 AND id IN (
                SELECT id FROM conversations
                 WHERE property_id = $1 AND reply_due_at IS NOT NULL AND NOT overdue_notified
                 LIMIT $2)",
    )
    .bind(property_id)
    .bind(count)
    .execute(pool)
    .await?;
    Ok(())
}
