//! Idempotency keys: claimed in the transaction that creates the record, so a concurrent
//! request with the same key waits for the first and then replays its stored response.

use bellhop_domain::{
    idempotency::{key_lifetime, Idempotency},
    ports::RepoResult,
    DomainError, RepositoryError,
};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db_error;

pub(crate) enum Claim {
    /// The key is ours: create, then [`store`] the response before committing.
    Fresh,
    /// The key was used before with the same request: answer with this.
    Replay(String),
}

/// Claims the key in the caller's transaction. A key older than its lifetime counts as new.
/// If another transaction holds the same key, PostgreSQL makes this wait for it to finish.
pub(crate) async fn claim<T>(
    conn: &mut PgConnection,
    property_id: i64,
    idempotency: &Idempotency<T>,
    at: DateTime<Utc>,
) -> RepoResult<Claim> {
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (property_id, scope, key, request_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (property_id, scope, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, response_body = NULL, created_at = EXCLUDED.created_at
          WHERE idempotency_keys.created_at < $6
         RETURNING true",
    )
    .bind(property_id)
    .bind(&idempotency.scope)
    .bind(idempotency.key.as_str())
    .bind(idempotency.fingerprint.as_slice())
    .bind(at)
    .bind(at - key_lifetime())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    if claimed.is_some() {
        return Ok(Claim::Fresh);
    }
    let (fingerprint, response): (Vec<u8>, Option<String>) = sqlx::query_as(
        "SELECT request_hash, response_body FROM idempotency_keys WHERE property_id = $1 AND scope = $2 AND key = $3",
    )
    .bind(property_id)
    .bind(&idempotency.scope)
    .bind(idempotency.key.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    if fingerprint != idempotency.fingerprint {
        return Err(DomainError::IdempotencyKeyReused.into());
    }
    response.map(Claim::Replay).ok_or_else(|| {
        RepositoryError::unexpected("a committed idempotency key has no stored response")
    })
}

/// Stores the response under the claimed key (same transaction as the creation).
pub(crate) async fn store(
    conn: &mut PgConnection,
    property_id: i64,
    scope: &str,
    key: &str,
    response: &str,
) -> RepoResult<()> {
    sqlx::query("UPDATE idempotency_keys SET response_body = $4 WHERE property_id = $1 AND scope = $2 AND key = $3")
        .bind(property_id)
        .bind(scope)
        .bind(key)
        .bind(response)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}
