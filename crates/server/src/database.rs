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

/// The connection pool. Connections are not pinged before every checkout (a broken one
/// fails its query and is replaced); acquiring waits at most the configured timeout, after
/// which the API answers 503.
pub fn pool(settings: &Settings) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(settings.database_url.expose_secret())
        .context("DATABASE_URL is not a valid PostgreSQL URL")?
        .application_name("bellhop");
    Ok(PgPoolOptions::new()
        .max_connections(settings.db_pool_size)
        .min_connections(1)
        .acquire_timeout(settings.db_acquire_timeout)
        .test_before_acquire(false)
        .connect_lazy_with(options))
}

/// Applies pending migrations (sqlx takes an advisory lock, so concurrent servers are safe).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    bellhop_persistence::MIGRATOR
        .run(pool)
        .await
        .context("cannot apply migrations")?;
    Ok(())
}
