//! Database bootstrap: create the database if missing, open the pool, run migrations.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, Executor, PgConnection, PgPool,
};

use crate::config::Settings;

/// PostgreSQL's `invalid_catalog_name`: the database does not exist.
const DATABASE_DOES_NOT_EXIST: &str = "3D000";
/// PostgreSQL's `duplicate_database`: another process created it first.
const DATABASE_EXISTS: &str = "42P04";
/// The maintenance database a missing database is created from.
const MAINTENANCE_DATABASE: &str = "postgres";

/// `database "bellhop" on db:5432 as user "app"`: where a connection went, never the password.
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "database {:?} on {}:{} as user {:?}",
        options.get_database().unwrap_or(options.get_username()),
        options.get_host(),
        options.get_port(),
        options.get_username()
    )
}

fn has_code(error: &sqlx::Error, code: &str) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(code))
}

/// Connects to the configured database and, only when PostgreSQL answers that it does not
/// exist, creates it through the `postgres` maintenance database. A database that exists is
/// never reached through another one, so the role needs no rights beyond its own database.
pub async fn ensure_database(settings: &Settings) -> anyhow::Result<()> {
    let options = connect_options(settings)?;
    let target = describe(&options);
    match PgConnection::connect_with(&options).await {
        Ok(connection) => {
            let _ = connection.close().await;
            Ok(())
        }
        Err(error) if has_code(&error, DATABASE_DOES_NOT_EXIST) => {
            create_database(&options, &target).await
        }
        Err(error) => Err(error).with_context(|| format!("cannot connect to {target}")),
    }
}

async fn create_database(options: &PgConnectOptions, target: &str) -> anyhow::Result<()> {
    let name = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_owned();
    tracing::info!(database = %name, "the database does not exist; creating it");
    let maintenance = options.clone().database(MAINTENANCE_DATABASE);
    let mut connection = PgConnection::connect_with(&maintenance)
        .await
        .with_context(|| {
            format!(
                "{target} does not exist, and creating it failed: cannot connect to {}",
                describe(&maintenance)
            )
        })?;
    let created = connection
        .execute(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")).as_str())
        .await;
    let _ = connection.close().await;
    match created {
        Ok(_) => Ok(()),
        Err(error) if has_code(&error, DATABASE_EXISTS) => Ok(()),
        Err(error) => {
            Err(error).with_context(|| format!("{target} does not exist and cannot be created"))
        }
    }
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
/// Migrations a newer release already applied are accepted with a warning: during a rolling
/// upgrade the older servers keep running on the (backward-compatible) newer schema.
/// When nothing is pending the migrator does not run, so a runtime role with rights on rows
/// only (no `CREATE` on the schema) can start the server.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let up_to_date = bellhop_persistence::migrations_up_to_date(pool)
        .await
        .context("cannot read the applied migrations")?;
    if !up_to_date {
        bellhop_persistence::rolling_migrator()
            .run(pool)
            .await
            .context("cannot apply migrations")?;
    }
    let newer = bellhop_persistence::unknown_migrations(pool)
        .await
        .context("cannot read the applied migrations")?;
    if !newer.is_empty() {
        tracing::warn!(
            versions = ?newer,
            "the database has migrations newer than this build (a newer release applied them); \
             running on the newer schema"
        );
    }
    Ok(())
}
