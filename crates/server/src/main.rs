//! `bellhop`: the guest-messaging service and its operator commands.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use bellhop_application::{
    clock::SystemClock,
    reference_data::{parse_reference_file, FileFormat, ReferenceDataService},
};
use bellhop_domain::{
    clock::Clock,
    idempotency::key_lifetime,
    ports::{SessionRepository, StayRepository},
};
use bellhop_persistence::PgStore;
use bellhop_server::{
    config::{MissingSecret, Settings},
    database, telemetry, WorkerStates,
};
use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: after a burst of slow clients (2,000
/// connections each holding part of a body) glibc's malloc kept the whole peak resident
/// (172 MiB after every connection had closed), while mimalloc returns freed pages to the
/// system; see the README's Performance section for the measurements.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "bellhop",
    version,
    about = "Guest messaging for hotels",
    after_help = bellhop_server::config::environment_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed, apply migrations and serve HTTP.
    Serve {
        /// Load the demo data set first (and use a development secret if none is set).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Load reference data from a JSON or TOML file, or the demo data set.
    Load {
        /// The file (`.json` or `.toml`).
        #[arg(required_unless_present = "demo", conflicts_with = "demo")]
        file: Option<PathBuf>,
        /// Load the demo data set.
        #[arg(long)]
        demo: bool,
    },
    /// Validate the configuration and the database connection; print what would be used.
    CheckConfig,
    /// Session maintenance.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Live-event maintenance.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Webhook deliveries (section 12).
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// List each endpoint: url, pending, delivered and failed deliveries, last error, age of
    /// the oldest pending delivery. Secrets are never shown.
    Status,
    /// Queue failed deliveries again with a fresh retry schedule.
    Retry {
        /// Only the deliveries of events since this time (RFC 3339).
        #[arg(long, value_parser = parse_rfc3339)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
}

fn parse_rfc3339(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("{raw:?} is not an RFC 3339 time (2026-12-02T10:00:00Z)"))
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Delete events older than BELLHOP_EVENT_RETENTION_SECS, in batches (skipped while
    /// another instance purges).
    Purge,
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Delete sessions that ended (or went idle) more than DAYS days ago, idempotency keys
    /// past their 24 hours and ended room-verification windows, in batches.
    Purge {
        #[arg(long, default_value_t = 30)]
        older_than_days: u32,
        #[arg(long, default_value_t = 1000)]
        batch: u32,
    },
}

fn main() {
    let cli = Cli::parse();
    // Only `serve` signs tokens; the operator commands run without the secret.
    let missing_secret = match cli.command {
        Command::Serve { demo } => MissingSecret::from(demo),
        _ => MissingSecret::NotNeeded,
    };
    let settings = match Settings::from_env(missing_secret) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    let serving = matches!(cli.command, Command::Serve { .. });
    telemetry::init(settings.log_format, &settings.log_filter, !serving);
    let result = actix_web::rt::System::new().block_on(run(cli.command, settings));
    if let Err(error) = result {
        tracing::error!(
            error = format!("{error:#}"),
            "bellhop stopped with an error"
        );
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// Runs `purge` until a batch comes back short; returns the total deleted.
async fn purge_in_batches<F, Fut>(purge: F, batch: i64) -> anyhow::Result<u64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bellhop_domain::ports::RepoResult<u64>>,
{
    let mut total = 0;
    loop {
        let deleted = purge()
            .await
            .map_err(|e| anyhow::anyhow!("purge failed: {e}"))?;
        total += deleted;
        if deleted < u64::try_from(batch).unwrap_or(u64::MAX) {
            return Ok(total);
        }
    }
}

async fn prepare(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    database::ensure_database(settings).await?;
    let pool = database::pool(settings)?;
    database::migrate(&pool).await?;
    Ok(pool)
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Command::Serve { demo } => {
            if settings.secret_is_short() {
                tracing::warn!("the session secret is shorter than 32 bytes; use a long random one in production");
            }
            if settings.using_demo_secret {
                tracing::warn!("using the built-in development session secret; set BELLHOP_SESSION_SECRET in production");
            }
            let pool = prepare(&settings).await?;
            if demo {
                let summary = ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())))
                    .load_demo(clock.now())
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot load the demo data: {e}"))?;
                tracing::info!(?summary, "demo data loaded");
            }
            // The set-up pool is done; each HTTP worker opens its own.
            pool.close().await;
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
            let states = std::sync::Arc::new(WorkerStates::new(&settings, clock.clone(), workers)?);
            let factory = states.clone();
            // One LISTEN connection, the purge and the overdue job, on a small pool of their
            // own; streams end as soon as a stop signal arrives, so clients reconnect to
            // another instance.
            let hub = states.hub();
            let events_pool =
                database::pool_with(database::connect_options(&settings)?, 3, &settings);
            bellhop_server::notifier::spawn_overdue_watch(events_pool.clone(), clock);
            bellhop_server::notifier::spawn_listener(events_pool.clone(), hub.clone());
            bellhop_server::notifier::spawn_purger(events_pool, settings.event_retention);
            bellhop_server::notifier::spawn_shutdown_watch(hub);
            // The webhook worker, on a small pool of its own: its connections are taken for
            // one statement at a time, never across a receiver's answer.
            let webhooks_pool =
                database::pool_with(database::connect_options(&settings)?, 4, &settings);
            let webhooks = bellhop_server::webhooks::WebhookWorker::spawn(
                webhooks_pool,
                (&settings).into(),
                Some(states.metrics()),
            )?;
            tracing::info!(bind = %settings.bind, workers, "serving");
            let listener = std::net::TcpListener::bind(settings.bind)
                .with_context(|| format!("cannot listen on {}", settings.bind))?;
            bellhop_server::http_server(&settings, listener, workers, move || {
                factory.worker_state()
            })?
            .await?;
            tracing::info!(
                "stopped accepting; stopping the webhook worker and closing the database pools"
            );
            webhooks.stop().await;
            states.close().await;
            Ok(())
        }
        Command::Events {
            command: EventsCommand::Purge,
        } => {
            let pool = prepare(&settings).await?;
            let deleted = bellhop_server::notifier::purge(&pool, settings.event_retention).await?;
            pool.close().await;
            println!("deleted {deleted} events");
            Ok(())
        }
        Command::Webhooks { command } => {
            let pool = prepare(&settings).await?;
            let store = PgStore::new(pool.clone());
            match command {
                WebhooksCommand::Status => {
                    let endpoints = store
                        .webhook_status()
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot read the webhook status: {e}"))?;
                    print!("{}", bellhop_server::webhooks::status_table(&endpoints));
                }
                WebhooksCommand::Retry { since } => {
                    let queued = store
                        .retry_failed_webhooks(since)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot queue the deliveries: {e}"))?;
                    println!("queued {queued} failed deliveries again");
                }
            }
            pool.close().await;
            Ok(())
        }
        Command::Migrate => {
            let pool = prepare(&settings).await?;
            pool.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Load { file, demo } => {
            let pool = prepare(&settings).await?;
            let service = ReferenceDataService::new(Arc::new(PgStore::new(pool.clone())));
            let summary = if demo {
                service.load_demo(clock.now()).await
            } else {
                let path = file.context("a file is required")?;
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let data =
                    parse_reference_file(&text, FileFormat::from_path(&path.to_string_lossy()))
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                service.load(&data).await
            }
            .map_err(|e| anyhow::anyhow!("nothing was loaded: {e}"))?;
            pool.close().await;
            println!(
                "loaded {} properties, {} outlets, {} stays, {} orders, {} interface tokens, {} staff keys, {} quick replies, {} webhooks",
                summary.properties, summary.outlets, summary.stays, summary.orders, summary.interface_tokens, summary.staff_keys, summary.quick_replies, summary.webhooks
            );
            Ok(())
        }
        Command::CheckConfig => {
            println!("{settings}");
            let pool = database::pool(&settings)?;
            let version: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(&pool)
                .await
                .with_context(|| {
                    format!(
                        "cannot connect to {}",
                        database::describe(&pool.connect_options())
                    )
                })?;
            let ready = bellhop_persistence::is_ready(&pool).await;
            println!("database                            reachable (PostgreSQL {version}), migrations {}", if ready { "up to date" } else { "pending" });
            pool.close().await;
            Ok(())
        }
        Command::Sessions {
            command:
                SessionsCommand::Purge {
                    older_than_days,
                    batch,
                },
        } => {
            let pool = prepare(&settings).await?;
            let store = PgStore::new(pool.clone());
            let idle = chrono::Duration::from_std(settings.session_idle).unwrap_or_default();
            let before = clock.now() - chrono::Duration::days(i64::from(older_than_days)) - idle;
            let batch = i64::from(batch.max(1));
            let now = clock.now();
            let sessions = purge_in_batches(|| store.purge_sessions(before, batch), batch).await?;
            let keys = purge_in_batches(
                || store.purge_idempotency_keys(now - key_lifetime(), batch),
                batch,
            )
            .await?;
            let failures =
                purge_in_batches(|| store.purge_verification_failures(now, batch), batch).await?;
            pool.close().await;
            println!(
                "deleted {sessions} sessions, {keys} idempotency keys older than 24 hours and {failures} expired room verification windows"
            );
            Ok(())
        }
    }
}
