//! Guest stays and orders.

use async_trait::async_trait;
use bellhop_domain::{
    order::Order,
    ports::{RepoResult, StayRepository},
    property::PropertyId,
    stay::{GuestStay, StayId},
};
use chrono::{DateTime, Utc};
use tracing::instrument;

use crate::{db_error, PgStore};

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
}
