//! Guest sessions.

use async_trait::async_trait;
use bellhop_domain::{
    ports::{NewSession, RepoResult, SessionRepository},
    property::PropertyId,
    session::{GuestIdentifier, GuestIdentity, Session, SessionId},
    stay::GuestStay,
    DomainError, RepositoryError,
};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tracing::instrument;
use uuid::Uuid;

use crate::{db_error, PgStore};

struct SessionRow {
    id: Uuid,
    property_id: i64,
    kind: String,
    stay_id: Option<i64>,
    guest_identifier: Option<String>,
    language_code: String,
    explicit_language: Option<String>,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    stay_code: Option<String>,
    room_number: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    stay_language_code: Option<String>,
    check_in: Option<DateTime<Utc>>,
    check_out: Option<DateTime<Utc>>,
    reference_version: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = RepositoryError;

    fn try_from(row: SessionRow) -> Result<Self, Self::Error> {
        let stay = match (
            row.stay_id,
            row.stay_code,
            row.room_number,
            row.first_name,
            row.last_name,
        ) {
            (Some(id), Some(code), Some(room_number), Some(first_name), Some(last_name)) => {
                Some(GuestStay {
                    id,
                    property_id: row.property_id,
                    code,
                    room_number,
                    first_name,
                    last_name,
                    language_code: row.stay_language_code.unwrap_or_default(),
                    check_in: row.check_in.unwrap_or_default(),
                    check_out: row.check_out.unwrap_or_default(),
                })
            }
            _ => None,
        };
        let identity = match (row.kind.as_str(), row.stay_id, row.guest_identifier) {
            ("anonymous", None, None) => GuestIdentity::Anonymous,
            ("verified", Some(stay_id), None) => GuestIdentity::Verified { stay_id },
            ("visitor", None, Some(identifier)) => GuestIdentity::Visitor {
                guest_identifier: GuestIdentifier::parse(&identifier)
                    .map_err(RepositoryError::unexpected)?,
            },
            _ => {
                return Err(RepositoryError::unexpected(
                    "a session row has an inconsistent kind",
                ))
            }
        };
        Ok(Session {
            id: row.id,
            property_id: row.property_id,
            identity,
            language_code: row.language_code,
            explicit_language: row.explicit_language,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            ended_at: row.ended_at,
            stay,
        })
    }
}

/// Stores a new session and reads it back with its stay.
async fn insert_session(conn: &mut PgConnection, session: &NewSession) -> RepoResult<SessionRow> {
    let (stay_id, identifier) = match &session.identity {
        GuestIdentity::Anonymous => (None, None),
        GuestIdentity::Verified { stay_id } => (Some(*stay_id), None),
        GuestIdentity::Visitor { guest_identifier } => (None, Some(guest_identifier.as_str())),
    };
    sqlx::query_as!(
        SessionRow,
        r#"WITH s AS (
               INSERT INTO sessions (property_id, id, kind, stay_id, guest_identifier, language_code,
                                     explicit_language, created_at, last_seen_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
               RETURNING *
           )
           SELECT s.id AS "id!", s.property_id AS "property_id!", s.kind AS "kind!",
                  s.stay_id AS "stay_id?", s.guest_identifier AS "guest_identifier?",
                  s.language_code AS "language_code!", s.explicit_language AS "explicit_language?",
                  s.created_at AS "created_at!", s.last_seen_at AS "last_seen_at!",
                  s.ended_at AS "ended_at?", g.code AS "stay_code?", g.room_number AS "room_number?",
                  g.first_name AS "first_name?", g.last_name AS "last_name?",
                  g.language_code AS "stay_language_code?", g.check_in AS "check_in?",
                  g.check_out AS "check_out?", coalesce(rv.version, 0) AS "reference_version!"
             FROM s
             LEFT JOIN guest_stays g ON g.property_id = s.property_id AND g.id = s.stay_id
             LEFT JOIN reference_versions rv ON rv.property_id = s.property_id"#,
        session.property_id,
        session.id,
        session.identity.kind().as_str(),
        stay_id,
        identifier,
        session.language_code,
        session.explicit_language,
        session.created_at,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)
}

#[async_trait]
impl SessionRepository for PgStore {
    #[instrument(skip(self, session), fields(property_id = session.property_id))]
    async fn create_session(&self, session: NewSession) -> RepoResult<Session> {
        insert_session(&mut *self.acquire().await?, &session)
            .await?
            .try_into()
    }

    #[instrument(skip(self))]
    async fn find_session(
        &self,
        property_id: PropertyId,
        id: SessionId,
    ) -> RepoResult<Option<Session>> {
        let row = sqlx::query_as!(
            SessionRow,
            r#"SELECT s.id, s.property_id, s.kind, s.stay_id, s.guest_identifier, s.language_code,
                      s.explicit_language, s.created_at, s.last_seen_at, s.ended_at,
                      g.code AS "stay_code?", g.room_number AS "room_number?",
                      g.first_name AS "first_name?", g.last_name AS "last_name?",
                      g.language_code AS "stay_language_code?", g.check_in AS "check_in?",
                      g.check_out AS "check_out?", coalesce(rv.version, 0) AS "reference_version!"
                 FROM sessions s
                 LEFT JOIN guest_stays g ON g.property_id = s.property_id AND g.id = s.stay_id
                 LEFT JOIN reference_versions rv ON rv.property_id = s.property_id
                WHERE s.property_id = $1 AND s.id = $2"#,
            property_id,
            id,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        if let Some(row) = &row {
            self.cache.observe(row.property_id, row.reference_version);
        }
        row.map(Session::try_from).transpose()
    }

    #[instrument(skip(self))]
    async fn touch_session(
        &self,
        property_id: PropertyId,
        id: SessionId,
        at: DateTime<Utc>,
    ) -> RepoResult<()> {
        sqlx::query!(
            "UPDATE sessions SET last_seen_at = $3
              WHERE property_id = $1 AND id = $2 AND last_seen_at < $3",
            property_id,
            id,
            at,
        )
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    #[instrument(skip(self, new), fields(property_id = new.property_id))]
    async fn replace_session(
        &self,
        old: SessionId,
        new: NewSession,
        at: DateTime<Utc>,
    ) -> RepoResult<Session> {
        let mut tx = self.begin().await?;
        let ended = sqlx::query!(
            "UPDATE sessions SET ended_at = $3
              WHERE property_id = $1 AND id = $2 AND ended_at IS NULL",
            new.property_id,
            old,
            at,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if ended.rows_affected() != 1 {
            return Err(DomainError::SessionExpired.into());
        }
        let row = insert_session(&mut tx, &new).await?;
        tx.commit().await.map_err(db_error)?;
        row.try_into()
    }

    #[instrument(skip(self))]
    async fn purge_sessions(&self, before: DateTime<Utc>, batch: i64) -> RepoResult<u64> {
        self.delete_batch(crate::PURGE_SESSIONS, before, batch)
            .await
    }

    #[instrument(skip(self))]
    async fn purge_idempotency_keys(&self, before: DateTime<Utc>, batch: i64) -> RepoResult<u64> {
        self.delete_batch(crate::PURGE_IDEMPOTENCY_KEYS, before, batch)
            .await
    }
}
