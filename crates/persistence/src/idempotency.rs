//! Idempotency keys (section 7 of the spec): claimed in the transaction that creates the
//! record, so a concurrent request with the same key waits for the first and then replays its
//! stored response; completed in that same transaction with the response the caller rendered.

use async_trait::async_trait;
use bellhop_domain::{
    conversation::Viewer,
    idempotency::{key_lifetime, IdempotencyScope, IdempotentRequest},
    ports::{Completion, RepoResult},
    DomainError, RepositoryError,
};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::{db_error, PgStore};

/// The stored form of a scope (the `scope` column).
fn stored_scope(scope: IdempotencyScope) -> String {
    match scope {
        IdempotencyScope::Session(id) => format!("session:{id}"),
        IdempotencyScope::StaffKey(id) => format!("staff:{id}"),
    }
}

pub(crate) enum Claim {
    /// The key is ours: create through [`ClaimedWrite::connection`], and let the caller
    /// complete the write with its response.
    Fresh(ClaimedWrite),
    /// The key was used before with the same request: answer with this.
    Replay(String),
}

/// A creating transaction that holds a claimed key; completing it stores the response under
/// the key and commits.
pub(crate) struct ClaimedWrite {
    tx: Transaction<'static, Postgres>,
    property_id: i64,
    scope: String,
    key: String,
}

impl ClaimedWrite {
    /// The transaction to create the record in.
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

#[async_trait]
impl Completion for ClaimedWrite {
    async fn complete(mut self: Box<Self>, response: String) -> RepoResult<()> {
        sqlx::query!(
            "UPDATE idempotency_keys SET response_body = $4
              WHERE property_id = $1 AND scope = $2 AND key = $3",
            self.property_id,
            self.scope,
            self.key,
            response,
        )
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        self.tx.commit().await.map_err(db_error)
    }
}

/// Begins the creating transaction and claims the key in it. A key older than its lifetime
/// counts as new. If another transaction holds the same key, PostgreSQL makes this wait for it
/// to finish.
///
/// With `conversation` (the viewer and code of an existing conversation the write adds to),
/// the conversation's event lock is taken first, before the key is written (see `events`).
pub(crate) async fn claim(
    store: &PgStore,
    property_id: i64,
    request: &IdempotentRequest,
    at: DateTime<Utc>,
    conversation: Option<(&Viewer, &str)>,
) -> RepoResult<Claim> {
    let scope = stored_scope(request.scope);
    let key = request.key.as_str();
    let mut tx = store.begin().await?;
    if let Some((viewer, code)) = conversation {
        crate::events::lock_conversation(&mut tx, viewer, code).await?;
    }
    let claimed = sqlx::query_scalar!(
        r#"INSERT INTO idempotency_keys (property_id, scope, key, request_hash, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (property_id, scope, key) DO UPDATE
              SET request_hash = EXCLUDED.request_hash, response_body = NULL,
                  created_at = EXCLUDED.created_at
            WHERE idempotency_keys.created_at < $6
           RETURNING true AS "claimed!""#,
        property_id,
        scope,
        key,
        request.fingerprint.as_slice(),
        at,
        at - key_lifetime(),
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_error)?;
    if claimed.is_some() {
        return Ok(Claim::Fresh(ClaimedWrite {
            tx,
            property_id,
            scope,
            key: key.to_owned(),
        }));
    }
    let stored = sqlx::query!(
        "SELECT request_hash, response_body FROM idempotency_keys
          WHERE property_id = $1 AND scope = $2 AND key = $3",
        property_id,
        scope,
        key,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)?;
    if stored.request_hash != request.fingerprint {
        return Err(DomainError::IdempotencyKeyReused.into());
    }
    stored.response_body.map(Claim::Replay).ok_or_else(|| {
        RepositoryError::unexpected("a committed idempotency key has no stored response")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_stored_as_before() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            stored_scope(IdempotencyScope::Session(id)),
            format!("session:{id}")
        );
        assert_eq!(stored_scope(IdempotencyScope::StaffKey(7)), "staff:7");
    }
}
