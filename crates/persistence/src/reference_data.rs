//! Loading reference data: upserts by code, all in one transaction, one small function per
//! entity.
//!
//! Rows whose values do not change are not touched (`WHERE ... IS DISTINCT FROM`), so loading
//! the same file twice changes nothing.

use async_trait::async_trait;
use bellhop_domain::{
    ports::{ReferenceDataRepository, RepoResult},
    reference::{
        InterfaceTokenData, LoadSummary, OrderData, OutletData, PropertyData, QuickReplyData,
        ReferenceData, ReferenceEntity, ReferenceField, RejectedEntry, StaffKeyData, StayData,
    },
    DomainError,
};
use sqlx::{Postgres, Transaction};
use tracing::instrument;

use crate::{db_error, properties::iso_from_weekday, PgStore};

type Tx = Transaction<'static, Postgres>;

#[async_trait]
impl ReferenceDataRepository for PgStore {
    #[instrument(skip_all, fields(properties = data.properties.len()))]
    async fn load_reference_data(&self, data: &ReferenceData) -> RepoResult<LoadSummary> {
        let mut tx = self.begin().await?;
        let mut summary = LoadSummary::default();
        for (index, property) in data.properties.iter().enumerate() {
            load_property(&mut tx, index, property, &mut summary).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(summary)
    }
}

async fn load_property(
    tx: &mut Tx,
    property_index: usize,
    data: &PropertyData,
    summary: &mut LoadSummary,
) -> RepoResult<()> {
    let property_id = upsert_property(tx, data).await?;
    summary.properties += 1;
    for token in &data.interface_tokens {
        upsert_interface_token(tx, property_id, token).await?;
        summary.interface_tokens += 1;
    }
    for outlet in &data.outlets {
        upsert_outlet(tx, property_id, outlet).await?;
        summary.outlets += 1;
    }
    for stay in &data.stays {
        upsert_stay(tx, property_id, stay).await?;
        summary.stays += 1;
    }
    let rejected = |entity, index, field| {
        DomainError::ReferenceRejected(RejectedEntry {
            property: property_index,
            entity,
            index,
            field,
        })
    };
    for (index, order) in data.orders.iter().enumerate() {
        if !upsert_order(tx, property_id, order).await? {
            return Err(rejected(
                ReferenceEntity::Order,
                index,
                ReferenceField::OutletOrStayCode,
            )
            .into());
        }
        summary.orders += 1;
    }
    for (index, key) in data.staff_keys.iter().enumerate() {
        upsert_staff_key(tx, property_id, key)
            .await?
            .map_err(|field| rejected(ReferenceEntity::StaffKey, index, field))?;
        summary.staff_keys += 1;
    }
    for (index, reply) in data.quick_replies.iter().enumerate() {
        if !upsert_quick_reply(tx, property_id, reply).await? {
            return Err(
                rejected(ReferenceEntity::QuickReply, index, ReferenceField::Outlets).into(),
            );
        }
        summary.quick_replies += 1;
    }
    for (index, hook) in data.webhooks.iter().enumerate() {
        if !crate::webhooks::upsert_endpoint(tx, property_id, hook).await? {
            return Err(rejected(ReferenceEntity::Webhook, index, ReferenceField::Outlets).into());
        }
        summary.webhooks += 1;
    }
    Ok(())
}

/// A quick reply by code, inserted or updated, with exactly the given outlets; `false` when
/// one of them is not in the property.
async fn upsert_quick_reply(
    tx: &mut Tx,
    property_id: i64,
    reply: &QuickReplyData,
) -> RepoResult<bool> {
    let reply_id = sqlx::query_scalar!(
        r#"WITH up AS (
               INSERT INTO quick_replies (property_id, code, title, content, all_outlets)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (property_id, code) DO UPDATE
                  SET title = EXCLUDED.title, content = EXCLUDED.content, all_outlets = EXCLUDED.all_outlets
                WHERE (quick_replies.title, quick_replies.content, quick_replies.all_outlets)
                      IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.content, EXCLUDED.all_outlets)
               RETURNING id)
           SELECT id AS "id!" FROM up UNION ALL SELECT id FROM quick_replies WHERE property_id = $1 AND code = $2 LIMIT 1"#,
        property_id,
        reply.code,
        reply.title,
        reply.content,
        reply.outlet_codes.is_none(),
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)?;
    let codes = reply.outlet_codes.clone().unwrap_or_default();
    let outlet_ids = sqlx::query_scalar!(
        "SELECT id FROM outlets WHERE property_id = $1 AND code = ANY($2)",
        property_id,
        &codes,
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    if outlet_ids.len() != codes.len() {
        return Ok(false);
    }
    sqlx::query!(
        "DELETE FROM quick_reply_outlets WHERE property_id = $1 AND quick_reply_id = $2 AND NOT (outlet_id = ANY($3))",
        property_id,
        reply_id,
        &outlet_ids,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    sqlx::query!(
        "INSERT INTO quick_reply_outlets (property_id, quick_reply_id, outlet_id)
         SELECT $1, $2, k.outlet_id FROM unnest($3::bigint[]) AS k(outlet_id) ON CONFLICT DO NOTHING",
        property_id,
        reply_id,
        &outlet_ids,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(true)
}

/// The property by code, inserted or updated; its id.
async fn upsert_property(tx: &mut Tx, data: &PropertyData) -> RepoResult<i64> {
    sqlx::query_scalar!(
        r#"WITH up AS (
               INSERT INTO properties (code, name, brand_code, group_code, time_zone, default_language)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (code) DO UPDATE
                  SET name = EXCLUDED.name, brand_code = EXCLUDED.brand_code, group_code = EXCLUDED.group_code,
                      time_zone = EXCLUDED.time_zone, default_language = EXCLUDED.default_language, updated_at = now()
                WHERE (properties.name, properties.brand_code, properties.group_code, properties.time_zone,
                       properties.default_language)
                      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.brand_code, EXCLUDED.group_code,
                                        EXCLUDED.time_zone, EXCLUDED.default_language)
               RETURNING id)
           SELECT id AS "id!" FROM up UNION ALL SELECT id FROM properties WHERE code = $1 LIMIT 1"#,
        data.code,
        data.name,
        data.brand_code,
        data.group_code,
        data.time_zone.name(),
        data.default_language,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)
}

/// An interface token by hash, inserted or updated.
async fn upsert_interface_token(
    tx: &mut Tx,
    property_id: i64,
    token: &InterfaceTokenData,
) -> RepoResult<()> {
    sqlx::query!(
        "INSERT INTO interface_tokens (property_id, token_hash, label, enabled) VALUES ($1, $2, $3, $4)
         ON CONFLICT (property_id, token_hash) DO UPDATE SET label = EXCLUDED.label, enabled = EXCLUDED.enabled
          WHERE (interface_tokens.label, interface_tokens.enabled) IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.enabled)",
        property_id,
        token.token_hash.as_slice(),
        token.label,
        token.enabled,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// An outlet by code, inserted or updated, with exactly the given opening hours.
async fn upsert_outlet(tx: &mut Tx, property_id: i64, outlet: &OutletData) -> RepoResult<()> {
    let outlet_id = sqlx::query_scalar!(
        r#"WITH up AS (
               INSERT INTO outlets (property_id, code, name, description, display_order, active,
                                    allow_guest_messages, allow_non_verified_guests, service_center_name,
                                    reply_target_minutes, out_of_hours_reply)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (property_id, code) DO UPDATE
                  SET name = EXCLUDED.name, description = EXCLUDED.description,
                      display_order = EXCLUDED.display_order, active = EXCLUDED.active,
                      allow_guest_messages = EXCLUDED.allow_guest_messages,
                      allow_non_verified_guests = EXCLUDED.allow_non_verified_guests,
                      service_center_name = EXCLUDED.service_center_name,
                      reply_target_minutes = EXCLUDED.reply_target_minutes,
                      out_of_hours_reply = EXCLUDED.out_of_hours_reply, updated_at = now()
                WHERE (outlets.name, outlets.description, outlets.display_order, outlets.active,
                       outlets.allow_guest_messages, outlets.allow_non_verified_guests, outlets.service_center_name,
                       outlets.reply_target_minutes, outlets.out_of_hours_reply)
                      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.display_order, EXCLUDED.active,
                       EXCLUDED.allow_guest_messages, EXCLUDED.allow_non_verified_guests, EXCLUDED.service_center_name,
                       EXCLUDED.reply_target_minutes, EXCLUDED.out_of_hours_reply)
               RETURNING id)
           SELECT id AS "id!" FROM up UNION ALL SELECT id FROM outlets WHERE property_id = $1 AND code = $2 LIMIT 1"#,
        property_id,
        outlet.code,
        outlet.name,
        outlet.description,
        outlet.display_order,
        outlet.active,
        outlet.allow_guest_messages,
        outlet.allow_non_verified_guests,
        outlet.service_center_name,
        outlet.reply_target_minutes.and_then(|m| i32::try_from(m).ok()),
        outlet.out_of_hours_reply,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)?;

    let days: Vec<i16> = outlet
        .opening_hours
        .iter()
        .map(|h| iso_from_weekday(h.day))
        .collect();
    let opens: Vec<_> = outlet.opening_hours.iter().map(|h| h.opens).collect();
    let closes: Vec<_> = outlet.opening_hours.iter().map(|h| h.closes).collect();
    sqlx::query!(
        "DELETE FROM outlet_opening_hours h
          WHERE h.property_id = $1 AND h.outlet_id = $2
            AND (h.day, h.opens, h.closes) NOT IN (SELECT * FROM unnest($3::smallint[], $4::time[], $5::time[]))",
        property_id,
        outlet_id,
        &days,
        &opens,
        &closes,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    sqlx::query!(
        "INSERT INTO outlet_opening_hours (property_id, outlet_id, day, opens, closes)
         SELECT $1, $2, d, o, c FROM unnest($3::smallint[], $4::time[], $5::time[]) AS t(d, o, c)
         ON CONFLICT DO NOTHING",
        property_id,
        outlet_id,
        &days,
        &opens,
        &closes,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A stay by code, inserted or updated.
async fn upsert_stay(tx: &mut Tx, property_id: i64, stay: &StayData) -> RepoResult<()> {
    sqlx::query!(
        "INSERT INTO guest_stays (property_id, code, room_number, first_name, last_name, language_code,
                                  check_in, check_out)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (property_id, code) DO UPDATE
            SET room_number = EXCLUDED.room_number, first_name = EXCLUDED.first_name,
                last_name = EXCLUDED.last_name, language_code = EXCLUDED.language_code,
                check_in = EXCLUDED.check_in, check_out = EXCLUDED.check_out
          WHERE (guest_stays.room_number, guest_stays.first_name, guest_stays.last_name,
                 guest_stays.language_code, guest_stays.check_in, guest_stays.check_out)
                IS DISTINCT FROM (EXCLUDED.room_number, EXCLUDED.first_name, EXCLUDED.last_name,
                 EXCLUDED.language_code, EXCLUDED.check_in, EXCLUDED.check_out)",
        property_id,
        stay.code,
        stay.room_number,
        stay.first_name,
        stay.last_name,
        stay.language_code,
        stay.check_in,
        stay.check_out,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// An order by code, inserted or updated; `false` when its outlet or stay is not in the
/// property.
async fn upsert_order(tx: &mut Tx, property_id: i64, order: &OrderData) -> RepoResult<bool> {
    let written = sqlx::query_scalar!(
        "INSERT INTO orders (property_id, code, outlet_id, stay_id)
         SELECT $1, $2, o.id, s.id
           FROM outlets o, guest_stays s
          WHERE o.property_id = $1 AND o.code = $3 AND s.property_id = $1 AND s.code = $4
         ON CONFLICT (property_id, code) DO UPDATE
            SET outlet_id = EXCLUDED.outlet_id, stay_id = EXCLUDED.stay_id
          WHERE (orders.outlet_id, orders.stay_id) IS DISTINCT FROM (EXCLUDED.outlet_id, EXCLUDED.stay_id)
         RETURNING 1",
        property_id,
        order.code,
        order.outlet_code,
        order.stay_code,
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    if written.is_some() {
        return Ok(true);
    }
    // Nothing written: unchanged (fine), or the outlet or stay does not resolve.
    let unchanged = sqlx::query_scalar!(
        "SELECT 1 FROM orders r JOIN outlets o ON o.property_id = r.property_id AND o.id = r.outlet_id
           JOIN guest_stays s ON s.property_id = r.property_id AND s.id = r.stay_id
          WHERE r.property_id = $1 AND r.code = $2 AND o.code = $3 AND s.code = $4",
        property_id,
        order.code,
        order.outlet_code,
        order.stay_code,
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(unchanged.is_some())
}

/// A staff key by hash, inserted or updated, with exactly the given outlets; else the field
/// that does not resolve.
async fn upsert_staff_key(
    tx: &mut Tx,
    property_id: i64,
    key: &StaffKeyData,
) -> RepoResult<Result<(), ReferenceField>> {
    let key_id = sqlx::query_scalar!(
        r#"WITH up AS (
               INSERT INTO staff_keys (property_id, key_hash, display_name, all_outlets, enabled, code)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (key_hash) DO UPDATE
                  SET display_name = EXCLUDED.display_name, all_outlets = EXCLUDED.all_outlets,
                      enabled = EXCLUDED.enabled, code = EXCLUDED.code
                WHERE staff_keys.property_id = EXCLUDED.property_id
                  AND (staff_keys.display_name, staff_keys.all_outlets, staff_keys.enabled, staff_keys.code)
                      IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.all_outlets, EXCLUDED.enabled, EXCLUDED.code)
               RETURNING id)
           SELECT id AS "id!" FROM up UNION ALL SELECT id FROM staff_keys WHERE property_id = $1 AND key_hash = $2 LIMIT 1"#,
        property_id,
        key.key_hash.as_slice(),
        key.display_name,
        key.outlet_codes.is_none(),
        key.enabled,
        key.code,
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    let Some(key_id) = key_id else {
        return Ok(Err(ReferenceField::KeySecret));
    };
    if key.code.is_none() {
        // A key without a code is no staff member: it owns nothing (a reload that takes a
        // code away hands its conversations back to nobody).
        sqlx::query!(
            "UPDATE conversations SET assignee_key_id = NULL WHERE property_id = $1 AND assignee_key_id = $2",
            property_id,
            key_id,
        )
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    let codes = key.outlet_codes.clone().unwrap_or_default();
    let outlet_ids = sqlx::query_scalar!(
        "SELECT id FROM outlets WHERE property_id = $1 AND code = ANY($2)",
        property_id,
        &codes,
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    if outlet_ids.len() != codes.len() {
        return Ok(Err(ReferenceField::Outlets));
    }
    sqlx::query!(
        "DELETE FROM staff_key_outlets WHERE property_id = $1 AND staff_key_id = $2 AND NOT (outlet_id = ANY($3))",
        property_id,
        key_id,
        &outlet_ids,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    sqlx::query!(
        "INSERT INTO staff_key_outlets (property_id, staff_key_id, outlet_id)
         SELECT $1, $2, k.outlet_id FROM unnest($3::bigint[]) AS k(outlet_id) ON CONFLICT DO NOTHING",
        property_id,
        key_id,
        &outlet_ids,
    )
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(Ok(()))
}
