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

#[async_trait]
impl StayRepository for PgStore {
    #[instrument(skip(self, room_number))]
    async fn in_house_stays_in_room(
        &self,
        property_id: PropertyId,
        room_number: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Vec<GuestStay>> {
        let rows = sqlx::query_as!(
            StayRow,
            "SELECT id, property_id, code, room_number, first_name, last_name, language_code,
                    check_in, check_out
               FROM guest_stays
              WHERE property_id = $1 AND room_number = $2 AND check_in <= $3 AND check_out > $3
              ORDER BY check_in DESC, id",
            property_id,
            room_number,
            at,
        )
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
        let row = sqlx::query_as!(
            StayRow,
            "SELECT id, property_id, code, room_number, first_name, last_name, language_code,
                    check_in, check_out
               FROM guest_stays WHERE property_id = $1 AND id = $2",
            property_id,
            stay_id,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(row.map(GuestStay::from))
    }

    #[instrument(skip(self))]
    async fn find_order(&self, property_id: PropertyId, code: &str) -> RepoResult<Option<Order>> {
        sqlx::query_as!(
            Order,
            "SELECT id, property_id, code, outlet_id, stay_id FROM orders
              WHERE property_id = $1 AND code = $2",
            property_id,
            code,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)
    }

    #[instrument(skip(self, room_key))]
    async fn verification_failures(
        &self,
        property_id: PropertyId,
        room_key: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<FailureWindow>> {
        let row = sqlx::query!(
            "SELECT window_started_at, failures FROM room_verification_failures
              WHERE property_id = $1 AND room_key = $2 AND window_started_at > $3",
            property_id,
            room_key,
            at - FAILURE_WINDOW,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(row.map(|row| FailureWindow {
            started_at: row.window_started_at,
            failures: failure_count(row.failures),
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
        sqlx::query!(
            "INSERT INTO room_verification_failures (property_id, room_key, window_started_at, failures)
             VALUES ($1, $2, $3, 0)
             ON CONFLICT (property_id, room_key) DO NOTHING",
            property_id,
            room_key,
            at,
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let current = sqlx::query!(
            "SELECT window_started_at, failures FROM room_verification_failures
              WHERE property_id = $1 AND room_key = $2 FOR UPDATE",
            property_id,
            room_key,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let window = FailureWindow::after_failure(
            Some(FailureWindow {
                started_at: current.window_started_at,
                failures: failure_count(current.failures),
            }),
            at,
        );
        sqlx::query!(
            "UPDATE room_verification_failures SET window_started_at = $3, failures = $4
              WHERE property_id = $1 AND room_key = $2",
            property_id,
            room_key,
            window.started_at,
            i32::try_from(window.failures).unwrap_or(i32::MAX),
        )
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
