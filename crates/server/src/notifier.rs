//! The process's one `LISTEN` connection: relays `NOTIFY bellhop_events, '<property id>'` to
//! the event streams of this process, and purges old events (one instance at a time).
//!
//! A notification only wakes streams: they read the table, and poll anyway, so a lost
//! notification (a reconnect) costs a delay of at most the poll interval.

use std::{sync::Arc, time::Duration};

use bellhop_domain::events::EventLog;
use bellhop_http::sse::Hub;
use bellhop_persistence::{events::CHANNEL, PgStore};
use sqlx::{postgres::PgListener, PgPool};

/// Listens until the process ends; reconnects (and wakes every stream) after a failure.
pub fn spawn_listener(pool: PgPool, hub: Arc<Hub>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(error) = listener.listen(CHANNEL).await {
                        tracing::warn!(%error, "cannot listen for events");
                    } else {
                        hub.wake_all();
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(notification)) => {
                                    match notification.payload().parse::<i64>() {
                                        Ok(property_id) => hub.wake(property_id),
                                        Err(_) => hub.wake_all(),
                                    }
                                }
                                // The connection was lost; the next call reconnects.
                                Ok(None) => hub.wake_all(),
                                Err(error) => {
                                    tracing::warn!(%error, "the event listener failed");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot connect the event listener"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// The advisory lock key that lets one instance at a time purge events.
const PURGE_LOCK: i64 = 0x6265_6c6c_6576_7473; // "bellevts"

/// Deletes events older than `retention` in batches; returns how many. Skips (returns 0) when
/// another instance is purging.
pub async fn purge(pool: &PgPool, retention: Duration) -> anyhow::Result<u64> {
    let mut lock = pool.acquire().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(PURGE_LOCK)
        .fetch_one(&mut *lock)
        .await?;
    if !locked {
        return Ok(0);
    }
    let store = PgStore::new(pool.clone());
    let before = chrono::Utc::now()
        - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
    let mut total = 0;
    let result = async {
        loop {
            let n = store.purge_events(before, 5_000).await?;
            total += n;
            if n < 5_000 {
                return Ok::<_, anyhow::Error>(total);
            }
        }
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(PURGE_LOCK)
        .execute(&mut *lock)
        .await?;
    result
}

/// Purges every hour while the process runs.
pub fn spawn_purger(pool: PgPool, retention: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match purge(&pool, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "purged old events"),
                Err(error) => tracing::warn!(%error, "cannot purge events"),
            }
        }
    })
}

/// Ends every stream when SIGTERM or SIGINT arrives (actix stops accepting at the same
/// signal, then waits for open connections: streams must not hold it up).
pub fn spawn_shutdown_watch(hub: Arc<Hub>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
            match term {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        hub.shut_down();
    })
}

/// How often each process looks for replies that fell due: well within the 30 seconds the
/// spec allows between the due time and `conversation.overdue`.
pub const OVERDUE_TICK: Duration = Duration::from_secs(5);

/// Emits `conversation.overdue` for the replies that fell due, every [`OVERDUE_TICK`], while
/// the process runs. Every instance runs it; the claim lets exactly one emit each event.
pub fn spawn_overdue_watch(
    pool: PgPool,
    clock: Arc<dyn bellhop_domain::clock::Clock>,
) -> tokio::task::JoinHandle<()> {
    let service =
        bellhop_application::reply_clock::OverdueService::new(Arc::new(PgStore::new(pool)), clock);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(OVERDUE_TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match service.notify_overdue().await {
                Ok(events) if events.is_empty() => {}
                Ok(events) => tracing::info!(events = events.len(), "replies fell due"),
                Err(error) => tracing::warn!(%error, "cannot look for overdue replies"),
            }
        }
    })
}
