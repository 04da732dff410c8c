//! Properties, interface tokens and outlets.

use std::sync::Arc;

use async_trait::async_trait;
use bellhop_domain::{
    outlet::{OpeningInterval, Outlet},
    ports::{PropertyRepository, RepoResult},
    property::{Property, PropertyId},
    reference::SecretHash,
    RepositoryError,
};
use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use tracing::instrument;

use crate::{db_error, PgStore};

struct PropertyRow {
    id: i64,
    code: String,
    name: String,
    brand_code: String,
    group_code: String,
    time_zone: String,
    default_language: String,
}

impl TryFrom<PropertyRow> for Property {
    type Error = RepositoryError;

    fn try_from(row: PropertyRow) -> Result<Self, Self::Error> {
        let time_zone: Tz = row.time_zone.parse().map_err(|_| {
            RepositoryError::unexpected(format!("property {} has an unknown time zone", row.code))
        })?;
        Ok(Property {
            id: row.id,
            code: row.code,
            name: row.name,
            brand_code: row.brand_code,
            group_code: row.group_code,
            time_zone,
            default_language: row.default_language,
        })
    }
}

struct OutletRow {
    id: i64,
    property_id: i64,
    code: String,
    name: String,
    description: String,
    display_order: i32,
    active: bool,
    allow_guest_messages: bool,
    allow_non_verified_guests: bool,
    service_center_name: String,
    reply_target_minutes: Option<i32>,
    out_of_hours_reply: Option<String>,
    days: Vec<i16>,
    opens: Vec<NaiveTime>,
    closes: Vec<NaiveTime>,
}

pub(crate) fn weekday_from_iso(day: i16) -> Option<Weekday> {
    Weekday::try_from(u8::try_from(day).ok()?.checked_sub(1)?).ok()
}

pub(crate) fn iso_from_weekday(day: Weekday) -> i16 {
    // number_from_monday is 1..=7, which always fits.
    i16::try_from(day.number_from_monday()).unwrap_or(1)
}

impl TryFrom<OutletRow> for Outlet {
    type Error = RepositoryError;

    fn try_from(row: OutletRow) -> Result<Self, Self::Error> {
        let opening_hours = row
            .days
            .iter()
            .zip(row.opens.iter().zip(row.closes.iter()))
            .map(|(day, (opens, closes))| {
                weekday_from_iso(*day)
                    .map(|day| OpeningInterval {
                        day,
                        opens: *opens,
                        closes: *closes,
                    })
                    .ok_or_else(|| {
                        RepositoryError::unexpected(format!(
                            "outlet {} has a bad weekday",
                            row.code
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Outlet {
            id: row.id,
            property_id: row.property_id,
            code: row.code,
            name: row.name,
            description: row.description,
            display_order: row.display_order,
            active: row.active,
            allow_guest_messages: row.allow_guest_messages,
            allow_non_verified_guests: row.allow_non_verified_guests,
            service_center_name: row.service_center_name,
            opening_hours,
            reply_target_minutes: row.reply_target_minutes.and_then(|m| u32::try_from(m).ok()),
            out_of_hours_reply: row.out_of_hours_reply,
        })
    }
}

#[async_trait]
impl PropertyRepository for PgStore {
    #[instrument(skip(self))]
    async fn find_property_by_code(&self, code: &str) -> RepoResult<Option<Property>> {
        let row = sqlx::query_as!(
            PropertyRow,
            "SELECT id, code, name, brand_code, group_code, time_zone, default_language
               FROM properties WHERE code = $1",
            code,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        row.map(Property::try_from).transpose()
    }

    #[instrument(skip(self))]
    async fn get_property(&self, id: PropertyId) -> RepoResult<Option<Property>> {
        if let Some(property) = self.cache.property(id) {
            return Ok(Some(property));
        }
        let version = self.cache.version(id);
        let row = sqlx::query_as!(
            PropertyRow,
            "SELECT id, code, name, brand_code, group_code, time_zone, default_language
               FROM properties WHERE id = $1",
            id,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        let property = row.map(Property::try_from).transpose()?;
        if let (Some(version), Some(property)) = (version, &property) {
            self.cache.put_property(version, property.clone());
        }
        Ok(property)
    }

    #[instrument(skip(self))]
    async fn interface_token_hashes(&self, property_id: PropertyId) -> RepoResult<Vec<SecretHash>> {
        let rows = sqlx::query_scalar!(
            "SELECT token_hash FROM interface_tokens WHERE property_id = $1 AND enabled",
            property_id,
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|hash| SecretHash::try_from(hash.as_slice()).ok())
            .collect())
    }

    /// One statement whether or not the code exists: the property (if any) with its token
    /// hashes aggregated, so a fake code costs the same round trip as a real one.
    #[instrument(skip(self))]
    async fn find_property_credentials(
        &self,
        code: &str,
    ) -> RepoResult<Option<(Property, Vec<SecretHash>)>> {
        let row = sqlx::query!(
            r#"SELECT p.id, p.code, p.name, p.brand_code, p.group_code, p.time_zone,
                      p.default_language,
                      coalesce(array_agg(t.token_hash) FILTER (WHERE t.token_hash IS NOT NULL), '{}')
                        AS "hashes!"
                 FROM properties p
                 LEFT JOIN interface_tokens t ON t.property_id = p.id AND t.enabled
                WHERE p.code = $1
                GROUP BY p.id"#,
            code,
        )
        .fetch_optional(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        row.map(|row| {
            let hashes = row
                .hashes
                .iter()
                .filter_map(|hash| SecretHash::try_from(hash.as_slice()).ok())
                .collect();
            let property = PropertyRow {
                id: row.id,
                code: row.code,
                name: row.name,
                brand_code: row.brand_code,
                group_code: row.group_code,
                time_zone: row.time_zone,
                default_language: row.default_language,
            };
            Property::try_from(property).map(|property| (property, hashes))
        })
        .transpose()
    }

    #[instrument(skip(self))]
    async fn list_outlets(&self, property_id: PropertyId) -> RepoResult<Arc<Vec<Outlet>>> {
        if let Some(outlets) = self.cache.outlets(property_id) {
            return Ok(outlets);
        }
        let version = self.cache.version(property_id);
        let rows = sqlx::query_as!(
            OutletRow,
            r#"SELECT o.id, o.property_id, o.code, o.name, o.description, o.display_order, o.active,
                      o.allow_guest_messages, o.allow_non_verified_guests, o.service_center_name,
                      o.reply_target_minutes, o.out_of_hours_reply,
                      coalesce(array_agg(h.day ORDER BY h.day, h.opens) FILTER (WHERE h.day IS NOT NULL), '{}') AS "days!",
                      coalesce(array_agg(h.opens ORDER BY h.day, h.opens) FILTER (WHERE h.day IS NOT NULL), '{}') AS "opens!",
                      coalesce(array_agg(h.closes ORDER BY h.day, h.opens) FILTER (WHERE h.day IS NOT NULL), '{}') AS "closes!"
                 FROM outlets o
                 LEFT JOIN outlet_opening_hours h ON h.property_id = o.property_id AND h.outlet_id = o.id
                WHERE o.property_id = $1
                GROUP BY o.property_id, o.id
                ORDER BY o.display_order, o.code"#,
            property_id,
        )
        .fetch_all(&mut *self.acquire().await?)
        .await
        .map_err(db_error)?;
        let outlets = Arc::new(
            rows.into_iter()
                .map(Outlet::try_from)
                .collect::<RepoResult<Vec<_>>>()?,
        );
        if let Some(version) = version {
            self.cache
                .put_outlets(property_id, version, outlets.clone());
        }
        Ok(outlets)
    }
}
