//! Webhook endpoints and their deliveries (API section 12).
//!
//! Deliveries are inserted by a trigger of the statement that appends events (migration
//! `20261202000030_webhooks.sql`), one per matching enabled endpoint: an event and its
//! deliveries commit together, whoever wrote the event. A worker then, per endpoint:
//!
//! 1. claims at most N due deliveries in one statement: `FOR UPDATE SKIP LOCKED` picks rows no
//!    other worker is claiming, and the same statement leases them (counts the attempt and
//!    moves `next_attempt_at` past the attempt's timeout) and commits. No connection or lock is
//!    held while the HTTP calls run, and no other instance sees them as due until the lease
//!    ends;
//! 2. sends them;
//! 3. records each outcome, only if the row is still at the attempt it claimed (a worker that
//!    outlived its lease does not overwrite a later attempt's result).
//!
//! A crash between 1 and 3 leaves the row pending: it is sent again when the lease ends (at
//! least once; receivers drop duplicates by `webhook-id`). The maintenance and operator queries
//! here (which endpoints have due work, status, retry, the oldest pending age) span every
//! property by design: they are the service's own housekeeping, not a tenant's read.

use std::time::Duration;

use bellhop_domain::{
    events::{Audience, Event},
    ports::RepoResult,
    webhook::{WebhookData, WebhookSecret},
    RepositoryError,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Postgres, Transaction};

use crate::{db_error, events::stored_event, PgStore};

/// An endpoint, by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointKey {
    pub property_id: i64,
    pub endpoint_id: i64,
}

/// Where and how an endpoint's deliveries are sent.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub secret: WebhookSecret,
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub property_id: i64,
    pub id: i64,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// The event, as the staff stream shows it once rendered.
    pub event: Event,
    /// The body as first sent, if an attempt was recorded before.
    pub body: Option<String>,
}

impl ClaimedDelivery {
    /// `webhook-id`: the event's id, the same on every attempt.
    pub fn webhook_id(&self) -> String {
        self.event.cursor.encode()
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// Failed; try again after `retry_after`, or never (`None`: the delivery is `failed`).
    Failed {
        status: Option<u16>,
        error: String,
        response: Option<String>,
        retry_after: Option<Duration>,
    },
}

/// One endpoint's deliveries, for `bellhop webhooks status`.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStatus {
    pub property_code: String,
    pub url: String,
    pub enabled: bool,
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    pub last_error: Option<String>,
    /// Seconds since the oldest pending delivery's event.
    pub oldest_pending_secs: Option<f64>,
}

/// A webhook by url, inserted or updated; `false` when `outletCodes` names an outlet that is
/// not in the property.
pub(crate) async fn upsert_endpoint(
    tx: &mut Transaction<'static, Postgres>,
    property_id: i64,
    hook: &WebhookData,
) -> RepoResult<bool> {
    let outlet_ids: Option<Vec<i64>> = match &hook.outlet_codes {
        None => None,
        Some(codes) => {
            let ids: Vec<i64> = sqlx::query_scalar!(
                "SELECT id FROM outlets WHERE property_id = $1 AND code = ANY($2) ORDER BY id",
                property_id,
                codes.as_slice(),
            )
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
            let mut distinct = codes.clone();
            distinct.sort();
            distinct.dedup();
            if ids.len() != distinct.len() {
                return Ok(false);
            }
            Some(ids)
        }
    };
    sqlx::query!(
        "INSERT INTO webhook_endpoints (property_id, url, secret, event_types, outlet_ids, enabled)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (property_id, url) DO UPDATE
            SET secret = EXCLUDED.secret, event_types = EXCLUDED.event_types,
                outlet_ids = EXCLUDED.outlet_ids, enabled = EXCLUDED.enabled, updated_at = now()
          WHERE (webhook_endpoints.secret, webhook_endpoints.event_types, webhook_endpoints.outlet_ids,
                 webhook_endpoints.enabled)
                IS DISTINCT FROM (EXCLUDED.secret, EXCLUDED.event_types, EXCLUDED.outlet_ids, EXCLUDED.enabled)",
        property_id,
        hook.url,
        hook.secret.expose_text(),
        hook.event_types.as_deref() as Option<&[String]>,
        outlet_ids.as_deref() as Option<&[i64]>,
        hook.enabled,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(true)
}

struct ClaimRow {
    property_id: i64,
    id: i64,
    attempts: i32,
    event_xid: String,
    event_id: i64,
    conversation_code: String,
    outlet_id: i64,
    event_created_at: DateTime<Utc>,
    data: Value,
    body: Option<String>,
}

struct StatusRow {
    property_code: String,
    url: String,
    enabled: bool,
    pending: i64,
    delivered: i64,
    failed: i64,
    last_error: Option<String>,
    oldest_pending_secs: Option<f64>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PgStore {
    /// The enabled endpoints that have deliveries due now.
    pub async fn due_webhook_endpoints(&self) -> RepoResult<Vec<EndpointKey>> {
        let rows = sqlx::query!(
            "-- multi-shard: the worker's poll for endpoints with due work, across properties
             SELECT w.property_id, w.id FROM webhook_endpoints w
              WHERE w.enabled AND EXISTS (
                    SELECT 1 FROM webhook_deliveries d
                     WHERE d.property_id = w.property_id AND d.endpoint_id = w.id
                       AND d.status = 'pending' AND d.next_attempt_at <= now())",
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| EndpointKey {
                property_id: row.property_id,
                endpoint_id: row.id,
            })
            .collect())
    }

    /// The endpoint's url and secret, or `None` when it is gone or disabled.
    pub async fn webhook_endpoint(&self, key: EndpointKey) -> RepoResult<Option<Endpoint>> {
        let row = sqlx::query!(
            "SELECT url, secret FROM webhook_endpoints WHERE property_id = $1 AND id = $2 AND enabled",
            key.property_id,
            key.endpoint_id,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        row.map(|row| {
            let (url, secret) = (row.url, row.secret);
            let secret = WebhookSecret::parse(&secret)
                .map_err(|_| RepositoryError::unexpected("a stored webhook secret is malformed"))?;
            Ok(Endpoint { url, secret })
        })
        .transpose()
    }

    /// Claims at most `limit` due deliveries of the endpoint for one attempt each and leases
    /// them for `lease` (one statement, committed before anything is sent).
    pub async fn claim_webhook_deliveries(
        &self,
        key: EndpointKey,
        limit: i64,
        lease: Duration,
    ) -> RepoResult<Vec<ClaimedDelivery>> {
        let rows = sqlx::query_as!(
            ClaimRow,
            r#"WITH due AS (
                 SELECT d.property_id, d.id FROM webhook_deliveries d
                  WHERE d.property_id = $1 AND d.endpoint_id = $2
                    AND d.status = 'pending' AND d.next_attempt_at <= now()
                  ORDER BY d.next_attempt_at, d.id
                  LIMIT $3
                  FOR UPDATE SKIP LOCKED)
             UPDATE webhook_deliveries d
                SET attempts = d.attempts + 1, last_attempt_at = now(),
                    next_attempt_at = now() + make_interval(secs => $4)
               FROM due
              WHERE d.property_id = $1 AND d.property_id = due.property_id AND d.id = due.id
             RETURNING d.property_id, d.id, d.attempts, d.event_xid::text AS "event_xid!", d.event_id,
                       d.conversation_code, d.outlet_id, d.event_created_at, d.data, d.body"#,
            key.property_id,
            key.endpoint_id,
            limit,
            secs(lease),
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        let mut claimed = rows
            .into_iter()
            .map(|row| {
                Ok(ClaimedDelivery {
                    property_id: row.property_id,
                    id: row.id,
                    attempt: row.attempts,
                    event: stored_event(
                        &row.event_xid,
                        row.event_id,
                        row.event_created_at,
                        &row.data,
                        row.conversation_code,
                        Audience {
                            outlet_id: row.outlet_id,
                            stay_id: None,
                            guest_identifier: None,
                        },
                    )?,
                    body: row.body,
                })
            })
            .collect::<RepoResult<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.event.cursor);
        Ok(claimed)
    }

    /// Records the outcomes of one claim's attempts (and the body each sent, kept from the
    /// first attempt on) in one statement: one commit for the claim, not one per delivery.
    /// Every attempt must come from the same claim (one property). Returns the ids of the
    /// deliveries recorded; one that is no longer at its attempt (its lease ended and another
    /// attempt was claimed) is left as it is.
    pub async fn record_webhook_attempts(
        &self,
        attempts: &[(&ClaimedDelivery, &str, &Outcome)],
    ) -> RepoResult<Vec<i64>> {
        let Some((first, _, _)) = attempts.first() else {
            return Ok(Vec::new());
        };
        let property_id = first.property_id;
        if attempts
            .iter()
            .any(|(d, _, _)| d.property_id != property_id)
        {
            return Err(RepositoryError::unexpected(
                "webhook attempts of several properties recorded together",
            ));
        }
        let mut ids = Vec::with_capacity(attempts.len());
        let mut numbers = Vec::with_capacity(attempts.len());
        let mut statuses = Vec::with_capacity(attempts.len());
        let mut bodies = Vec::with_capacity(attempts.len());
        let mut http_statuses: Vec<Option<i32>> = Vec::with_capacity(attempts.len());
        let mut errors: Vec<Option<String>> = Vec::with_capacity(attempts.len());
        let mut responses: Vec<Option<String>> = Vec::with_capacity(attempts.len());
        let mut retry_afters: Vec<Option<f64>> = Vec::with_capacity(attempts.len());
        for (delivery, body, outcome) in attempts {
            let (status, http_status, error, response, retry_after) = match outcome {
                Outcome::Delivered { status } => ("delivered", Some(*status), None, None, None),
                Outcome::Failed {
                    status,
                    error,
                    response,
                    retry_after,
                } => (
                    if retry_after.is_some() {
                        "pending"
                    } else {
                        "failed"
                    },
                    *status,
                    Some(error.clone()),
                    response.clone(),
                    retry_after.map(secs),
                ),
            };
            ids.push(delivery.id);
            numbers.push(delivery.attempt);
            statuses.push(status.to_owned());
            bodies.push((*body).to_owned());
            http_statuses.push(http_status.map(i32::from));
            errors.push(error);
            responses.push(response);
            retry_afters.push(retry_after);
        }
        let recorded = sqlx::query_scalar!(
            "UPDATE webhook_deliveries d
                SET status = t.status, body = COALESCE(d.body, t.body), last_status = t.http_status,
                    last_error = COALESCE(t.error, d.last_error), last_response = t.response,
                    next_attempt_at = CASE WHEN t.retry_after IS NULL THEN d.next_attempt_at
                                           ELSE now() + make_interval(secs => t.retry_after) END,
                    delivered_at = CASE WHEN t.status = 'delivered' THEN now() END
               FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::int[], $7::text[],
                           $8::text[], $9::float8[])
                    AS t(id, attempt, status, body, http_status, error, response, retry_after)
              WHERE d.property_id = $1 AND d.id = t.id AND d.attempts = t.attempt
                AND d.status = 'pending'
             RETURNING d.id",
            property_id,
            &ids,
            &numbers,
            &statuses,
            &bodies,
            &http_statuses as &[Option<i32>],
            &errors as &[Option<String>],
            &responses as &[Option<String>],
            &retry_afters as &[Option<f64>],
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(recorded)
    }

    /// Every endpoint with its deliveries' counts, last error and oldest pending age.
    pub async fn webhook_status(&self) -> RepoResult<Vec<EndpointStatus>> {
        let rows = sqlx::query_as!(
            StatusRow,
            r#"-- multi-shard: the operator's status report covers every property
            SELECT p.code AS property_code, w.url, w.enabled,
                    count(d.id) FILTER (WHERE d.status = 'pending') AS "pending!",
                    count(d.id) FILTER (WHERE d.status = 'delivered') AS "delivered!",
                    count(d.id) FILTER (WHERE d.status = 'failed') AS "failed!",
                    (SELECT x.last_error FROM webhook_deliveries x
                      WHERE x.property_id = w.property_id AND x.endpoint_id = w.id
                        AND x.last_error IS NOT NULL
                      ORDER BY x.last_attempt_at DESC NULLS LAST LIMIT 1) AS last_error,
                    EXTRACT(EPOCH FROM now() - min(d.event_created_at) FILTER (WHERE d.status = 'pending'))::float8
                        AS oldest_pending_secs
               FROM webhook_endpoints w
               JOIN properties p ON p.id = w.property_id
               LEFT JOIN webhook_deliveries d ON d.property_id = w.property_id AND d.endpoint_id = w.id
              GROUP BY p.code, w.property_id, w.id, w.url, w.enabled
              ORDER BY p.code, w.url"#,
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| EndpointStatus {
                property_code: r.property_code,
                url: r.url,
                enabled: r.enabled,
                pending: r.pending,
                delivered: r.delivered,
                failed: r.failed,
                last_error: r.last_error,
                oldest_pending_secs: r.oldest_pending_secs,
            })
            .collect())
    }

    /// Queues `failed` deliveries again with a fresh schedule: all of them, or those of events
    /// since `since`. Returns how many.
    pub async fn retry_failed_webhooks(&self, since: Option<DateTime<Utc>>) -> RepoResult<u64> {
        let done = sqlx::query!(
            "-- multi-shard: the operator's retry covers every property
             UPDATE webhook_deliveries
                SET status = 'pending', attempts = 0, next_attempt_at = now()
              WHERE status = 'failed' AND ($1::timestamptz IS NULL OR event_created_at >= $1)",
            since,
        )
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    /// Seconds since the oldest pending delivery was queued (0 when none is).
    pub async fn oldest_pending_webhook_secs(&self) -> RepoResult<f64> {
        let age = sqlx::query_scalar!(
            "-- multi-shard: the oldest pending delivery of the whole service, for /metrics
             SELECT EXTRACT(EPOCH FROM now() - min(created_at))::float8
               FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(age.unwrap_or(0.0).max(0.0))
    }

    /// Deletes at most `batch` deliveries delivered before `before` (oldest first, through
    /// `webhook_deliveries_delivered_idx`); returns how many. Failed and pending ones stay.
    pub async fn purge_delivered_webhooks(
        &self,
        before: DateTime<Utc>,
        batch: i64,
    ) -> RepoResult<u64> {
        let done = sqlx::query!(
            "-- multi-shard: the purge of delivered deliveries, every property's
             DELETE FROM webhook_deliveries WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM webhook_deliveries
                  WHERE status = 'delivered' AND delivered_at < $1
                  ORDER BY delivered_at LIMIT $2))
               AND status = 'delivered' AND delivered_at < $1",
            before,
            batch,
        )
        .execute(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}
