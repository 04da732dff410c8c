//! Database bootstrap: create the database if missing, open the pool, run migrations.

use std::str::FromStr;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{
    migrate::MigrateDatabase,
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool, Postgres,
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

/// The connection options of `DATABASE_URL`.
pub fn connect_options(settings: &Settings) -> anyhow::Result<PgConnectOptions> {
    Ok(
        PgConnectOptions::from_str(settings.database_url.expose_secret())
            .context("DATABASE_URL is not a valid PostgreSQL URL")?
            .application_name("bellhop"),
    )
}

/// A connection pool of `size` connections, opened lazily. Connections are not pinged before
/// every checkout (a broken one fails its query and is replaced); acquiring waits at most the
/// configured timeout, after which the API answers 503.
pub fn pool_with(options: PgConnectOptions, size: u32, settings: &Settings) -> PgPool {
    PgPoolOptions::new()
        .max_connections(size.max(1))
        .min_connections(0)
        .acquire_timeout(settings.db_acquire_timeout)
        .test_before_acquire(false)
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
