//! PostgreSQL adapters for Bellhop's repository ports, built on sqlx.
//!
//! One [`PgStore`] over a connection pool implements every port. Static queries go through
//! `sqlx::query!` and friends, checked at compile time against the committed `.sqlx/` data
//! (builds need no database; `.ci/sqlx` proves the data matches the migrations); the lists
//! whose filters depend on the viewer are `QueryBuilder`s, each with a test. Every query is
//! scoped by `property_id`. Multi-row writes are single statements (CTEs) or one transaction.
//! A violated named constraint becomes its domain error ([`db_error`]).

mod cache;
mod conversations;
mod error;
pub mod events;
mod idempotency;
mod properties;
mod reference_data;
mod reply_clock;
mod sessions;
mod staff;
mod stays;
pub mod tenancy;
pub mod webhooks;
mod workflow;

use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc,
};

use bellhop_domain::ports::RepoResult;
use sqlx::{pool::PoolConnection, PgPool, Postgres, Transaction};

pub use error::db_error;
pub use staff::{push_staff_conversations, UNREAD_BY_OUTLET};

// The purges: each statement deletes at most `$2` rows older than `$1`. The oldest rows are
// found in order through the index on their age (never a scan of the table, which would pass
// the same fresh rows again in every batch), and deleted by their tuple ids (a TID scan); the
// age is checked again on delete, so a row changed meanwhile (a session seen again) is kept.

/// One batch of the session purge: sessions ended or idle since before `$1`
/// (index `sessions_purge_idx`).
pub const PURGE_SESSIONS: &str = "
    -- multi-shard: the session purge, every property's old sessions
    DELETE FROM sessions WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM sessions WHERE coalesce(ended_at, last_seen_at) < $1
         ORDER BY coalesce(ended_at, last_seen_at) LIMIT $2))
       AND coalesce(ended_at, last_seen_at) < $1";

/// One batch of the idempotency-key purge: keys stored before `$1`
/// (index `idempotency_keys_created_idx`).
pub const PURGE_IDEMPOTENCY_KEYS: &str = "
    -- multi-shard: the idempotency-key purge, every property's
    DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM idempotency_keys WHERE created_at < $1
         ORDER BY created_at LIMIT $2))
       AND created_at < $1";

/// One batch of the purge of room-verification windows started before `$1`
/// (index `room_verification_failures_window_idx`).
pub const PURGE_VERIFICATION_FAILURES: &str = "
    -- multi-shard: the purge of old room-verification windows, every property's
    DELETE FROM room_verification_failures WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM room_verification_failures WHERE window_started_at < $1
         ORDER BY window_started_at LIMIT $2))
       AND window_started_at < $1";

/// The schema migrations, embedded from the top-level `migrations/` folder (the same folder
/// `sqlx migrate run` uses).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The migrator a server runs at start-up: [`MIGRATOR`], except that a database which already
/// has migrations this build does not know (a newer release applied them during a rolling
/// upgrade) is accepted instead of refused. Migrations are additive first (expand, then
/// contract), so an older build keeps working on the newer schema.
pub fn rolling_migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("../../migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// The applied migrations this build does not know (applied by a newer release), oldest first.
pub async fn unknown_migrations(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?;
    Ok(applied
        .into_iter()
        .filter(|version| MIGRATOR.iter().all(|known| known.version != *version))
        .collect())
}

/// Whether every migration of this build is applied, unchanged (same checksum), and none
/// failed: then the migrator has nothing to do and need not run at all (it would need `CREATE`
/// on the schema, which a runtime role without DDL rights does not have).
pub async fn migrations_up_to_date(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Vec<(i64, bool, Vec<u8>)> =
        match sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations")
            .fetch_all(pool)
            .await
        {
            Ok(rows) => rows,
            // No migrations table yet (undefined_table).
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
    if applied.iter().any(|(_, success, _)| !success) {
        return Ok(false);
    }
    Ok(MIGRATOR.iter().all(|known| {
        applied.iter().any(|(version, _, checksum)| {
            *version == known.version && checksum.as_slice() == &*known.checksum
        })
    }))
}

/// The latest migration version this build knows; readiness requires the database to have it.
pub fn latest_migration_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Whether the database answers and has every migration of this build applied.
pub async fn is_ready(pool: &PgPool) -> bool {
    let applied: Result<Option<i64>, _> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await;
    matches!(applied, Ok(Some(version)) if version >= latest_migration_version())
}

/// The Postgres implementation of every repository port.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    cache: Arc<cache::ReferenceCache>,
    /// Requests waiting for a pool connection right now (for `/metrics`).
    waiting: Arc<AtomicU32>,
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            cache: Default::default(),
            waiting: Default::default(),
        }
    }

    /// Requests waiting for a connection right now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// A connection from the pool, counted while waited for. Waiting ends with the acquire
    /// timeout, which callers see as `Unavailable` (503).
    async fn acquire(&self) -> RepoResult<PoolConnection<Postgres>> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let connection = self.pool.acquire().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        connection.map_err(db_error)
    }

    async fn begin(&self) -> RepoResult<Transaction<'static, Postgres>> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let transaction = self.pool.begin().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        transaction.map_err(db_error)
    }

    /// Runs one batch of a purge: `sql` deletes at most `$2` rows older than `$1` (a bounded
    /// statement, so a purge never holds long locks); returns how many it deleted.
    async fn delete_batch(
        &self,
        sql: &'static str,
        before: chrono::DateTime<chrono::Utc>,
        batch: i64,
    ) -> RepoResult<u64> {
        let done = sqlx::query(sql)
            .bind(before)
            .bind(batch)
            .execute(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
