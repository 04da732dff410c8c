//! PostgreSQL adapters for Bellhop's repository ports, built on sqlx.
//!
//! One [`PgStore`] over a connection pool implements every port. Queries are plain SQL
//! (no compile-time macros, so builds never need a database); every query is scoped by
//! `property_id`. Multi-row writes are single statements (CTEs) or one transaction.

mod cache;
mod conversations;
mod error;
mod idempotency;
mod properties;
mod reference_data;
mod sessions;
mod staff;
mod stays;

use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc,
};

use bellhop_domain::ports::RepoResult;
use sqlx::{pool::PoolConnection, PgPool, Postgres, Transaction};

pub use error::db_error;

/// The schema migrations, embedded from the top-level `migrations/` folder (the same folder
/// `sqlx migrate run` uses).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

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
