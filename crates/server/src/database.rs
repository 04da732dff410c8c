//! Database bootstrap: create the database if missing, open the pool, run migrations.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{
    migrate::MigrateDatabase,
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgPool, Postgres,
};

use crate::config::Settings;

/// Creates the database named in the URL when it does not exist yet.
pub async fn ensure_database(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url.expose_secret();
    if !Postgres::database_exists(url)
        .await
        .context("cannot reach PostgreSQL")?
    {
        tracing::info!("creating the database");
        Postgres::create_database(url)
            .await
            .context("cannot create the database")?;
    }
    Ok(())
}

/// The connection options of `DATABASE_URL`, with the statement and lock timeouts set on
/// every connection: a locked table or a runaway query costs a request at most that long
/// (then 503, its transaction rolled back), never the whole pool.
pub fn connect_options(settings: &Settings) -> anyhow::Result<PgConnectOptions> {
    let timeout = settings.db_statement_timeout.as_millis().to_string();
    Ok(
        PgConnectOptions::from_str(settings.database_url.expose_secret())
            .context("DATABASE_URL is not a valid PostgreSQL URL")?
            .application_name("bellhop")
            .options([
                ("statement_timeout", timeout.as_str()),
                ("lock_timeout", timeout.as_str()),
            ]),
    )
}

/// A connection idle for longer than this is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// A connection pool of `size` connections, opened lazily; acquiring waits at most the
/// configured timeout, after which the API answers 503.
///
/// A connection that has been idle for a second or more is pinged before use: after a
/// database restart, an idle server's pooled connections are all dead, and without the ping
/// each would fail one request before being dropped (one 503 per connection, spread over
/// minutes on a quiet server). A busy server's connections are never idle that long, so the
/// hot path pays nothing; sqlx itself drops a connection that fails its check on release.
pub fn pool_with(options: PgConnectOptions, size: u32, settings: &Settings) -> PgPool {
    PgPoolOptions::new()
        .max_connections(size.max(1))
        .min_connections(0)
        .acquire_timeout(settings.db_acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    // An error drops this connection; the pool then tries another or opens one.
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options)
}

/// The pool of the configured size.
pub fn pool(settings: &Settings) -> anyhow::Result<PgPool> {
    Ok(pool_with(
        connect_options(settings)?,
        settings.db_pool_size,
        settings,
    ))
}

/// Applies pending migrations (sqlx takes an advisory lock, so concurrent servers are safe).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    bellhop_persistence::MIGRATOR
        .run(pool)
        .await
        .context("cannot apply migrations")?;
    Ok(())
}
