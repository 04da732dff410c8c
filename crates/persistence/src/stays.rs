//! Guest stays and orders.

use async_trait::async_trait;
use bellhop_domain::{
    order::Order,
    ports::{RepoResult, StayRepository},
    property::PropertyId,
    stay::{GuestStay, StayId},
    verification::{FailureWindow, FAILURE_WINDOW},
};
use chrono::{DateTime, Utc};
use tracing::instrument;

use crate::{db_error, PgStore};

fn failure_count(failures: i32) -> u32 {
    u32::try_from(failures).unwrap_or(0)
}

#[derive(sqlx::FromRow)]
struct StayRow {
    id: i64,
    property_id: i64,
    code: String,
    room_number: String,
    first_name: String,
    last_name: String,
    language_code: String,
    check_in: DateTime<Utc>,
    check_out: DateTime<Utc>,
}

impl From<StayRow> for GuestStay {
    fn from(row: StayRow) -> Self {
        GuestStay {
            id: row.id,
            property_id: row.property_id,
            code: row.code,
            room_number: row.room_number,
            first_name: row.first_name,
            last_name: row.last_name,
            language_code: row.language_code,
            check_in: row.check_in,
            check_out: row.check_out,
        }
    }
}

const STAY_COLUMNS: &str =
    "id, property_id, code, room_number, first_name, last_name, language_code, check_in, check_out";

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    property_id: i64,
    code: String,
    outlet_id: i64,
    stay_id: i64,
}

#[async_trait]
impl StayRepository for PgStore {
    #[instrument(skip(self, room_number))]
    async fn in_house_stays_in_room(
        &self,
        property_id: PropertyId,
        room_number: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Vec<GuestStay>> {
        let sql = format!(
            "SELECT {STAY_COLUMNS} FROM guest_stays
              WHERE property_id = $1 AND room_number = $2 AND check_in <= $3 AND check_out > $3
              ORDER BY check_in DESC, id"
        );
        let rows: Vec<StayRow> = sqlx::query_as(&sql)
            .bind(property_id)
            .bind(room_number)
            .bind(at)
            .fetch_all(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(GuestStay::from).collect())
    }

    #[instrument(skip(self))]
    async fn get_stay(
        &self,
        property_id: PropertyId,
        stay_id: StayId,
    ) -> RepoResult<Option<GuestStay>> {
        let sql =
            format!("SELECT {STAY_COLUMNS} FROM guest_stays WHERE property_id = $1 AND id = $2");
        let row: Option<StayRow> = sqlx::query_as(&sql)
            .bind(property_id)
            .bind(stay_id)
            .fetch_optional(&mut *self.acquire().await?)
            .await
            .map_err(db_error)?;
        Ok(row.map(GuestStay::from))
    }

    #[instrument(skip(self))]
    async fn find_order(&self, property_id: PropertyId, code: &str) -> RepoResult<Option<Order>> {
        let row: Option<OrderRow> = sqlx::query_as(
            "SELECT id, property_id, code, outlet_id, stay_id FROM orders WHERE property_id = $1 AND code = $2",
        )
        .bind(property_id)
        .bind(code)
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(row.map(|r| Order {
            id: r.id,
            property_id: r.property_id,
            code: r.code,
            outlet_id: r.outlet_id,
            stay_id: r.stay_id,
        }))
    }

    #[instrument(skip(self, room_key))]
    async fn verification_failures(
        &self,
        property_id: PropertyId,
        room_key: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<FailureWindow>> {
        let row: Option<(DateTime<Utc>, i32)> = sqlx::query_as(
            "SELECT window_started_at, failures FROM room_verification_failures
              WHERE property_id = $1 AND room_key = $2 AND window_started_at > $3",
        )
        .bind(property_id)
        .bind(room_key)
        .bind(at - FAILURE_WINDOW)
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(row.map(|(started_at, failures)| FailureWindow {
            started_at,
            failures: failure_count(failures),
        }))
    }

    /// The row is created if missing and then locked, so concurrent failures of one room on
    /// any number of instances are counted one after the other by the domain's rule.
    #[instrument(skip(self, room_key))]
    async fn record_verification_failure(
        &self,
        property_id: PropertyId,
        room_key: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<FailureWindow> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO room_verification_failures (property_id, room_key, window_started_at, failures)
             VALUES ($1, $2, $3, 0)
             ON CONFLICT (property_id, room_key) DO NOTHING",
        )
        .bind(property_id)
        .bind(room_key)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let (started_at, failures): (DateTime<Utc>, i32) = sqlx::query_as(
            "SELECT window_started_at, failures FROM room_verification_failures
              WHERE property_id = $1 AND room_key = $2 FOR UPDATE",
        )
        .bind(property_id)
        .bind(room_key)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let window = FailureWindow::after_failure(
            Some(FailureWindow {
                started_at,
                failures: failure_count(failures),
            }),
            at,
        );
        sqlx::query(
            "UPDATE room_verification_failures SET window_started_at = $3, failures = $4
              WHERE property_id = $1 AND room_key = $2",
        )
        .bind(property_id)
        .bind(room_key)
        .bind(window.started_at)
        .bind(i32::try_from(window.failures).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(window)
    }

    #[instrument(skip(self))]
    async fn purge_verification_failures(
        &self,
        before: DateTime<Utc>,
        batch: i64,
    ) -> RepoResult<u64> {
        self.delete_batch(
            crate::PURGE_VERIFICATION_FAILURES,
            before - FAILURE_WINDOW,
            batch,
        )
        .await
    }
}
