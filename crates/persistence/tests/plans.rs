//! The plans of the hot queries and of the purges, on tables big enough for the planner to
//! choose as it would in production: the unread counts, the staff list's filters and each purge
//! batch read an index, never a whole table. Each test runs the SQL the repository runs
//! (shared as public constants and builders), after `ANALYZE`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bellhop_application::reference_data::ReferenceDataService;
use bellhop_domain::{
    conversation::ConversationStatus,
    ports::{PropertyRepository, SessionRepository, StayRepository},
    staff::{AssigneeFilter, StaffConversationFilter, StaffCursor, StaffScope},
};
use bellhop_persistence::{
    push_staff_conversations, PgStore, PURGE_IDEMPOTENCY_KEYS, PURGE_SESSIONS,
    PURGE_VERIFICATION_FAILURES, UNREAD_BY_OUTLET,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use sqlx::{PgPool, QueryBuilder};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 10, 11, 0, 0)
        .single()
        .unwrap()
}

/// The demo data; returns the store, the property's id and the BAR outlet's id.
async fn demo(pool: &PgPool) -> (PgStore, i64, i64) {
    let store = PgStore::new(pool.clone());
    ReferenceDataService::new(Arc::new(store.clone()))
        .load_demo(now())
        .await
        .unwrap();
    let property = store
        .find_property_by_code("DEMO-HOTEL")
        .await
        .unwrap()
        .unwrap();
    let bar = store
        .list_outlets(property.id)
        .await
        .unwrap()
        .iter()
        .find(|o| o.code == "BAR")
        .unwrap()
        .id;
    (store, property.id, bar)
}

/// Every node of a JSON plan, depth first.
fn nodes(plan: &Value, out: &mut Vec<Value>) {
    match plan {
        Value::Array(items) => items.iter().for_each(|i| nodes(i, out)),
        Value::Object(map) => {
            if map.contains_key("Node Type") {
                out.push(plan.clone());
            }
            map.values().for_each(|v| nodes(v, out));
        }
        _ => {}
    }
}

/// Asserts that `plan` reads none of `tables` by a sequential scan, and reads `indexed` through
/// an index.
fn assert_indexed(what: &str, plan: &Value, tables: &[&str], indexed: &str) {
    let mut all = Vec::new();
    nodes(plan, &mut all);
    for node in &all {
        let relation = node["Relation Name"].as_str().unwrap_or_default();
        assert!(
            !(node["Node Type"] == "Seq Scan" && tables.contains(&relation)),
            "{what}: a sequential scan of {relation}:\n{plan:#}"
        );
    }
    assert!(
        all.iter().any(|node| {
            node["Relation Name"] == indexed
                && node["Node Type"]
                    .as_str()
                    .is_some_and(|t| t.contains("Index"))
        }),
        "{what}: no index scan of {indexed}:\n{plan:#}"
    );
}

/// `count` conversations of visitors in `property_id` (one guest message each, a year old to an
/// hour old), read by staff but the newest `unread`; then `ANALYZE`.
async fn history(pool: &PgPool, property_id: i64, count: i64, unread: i64) {
    sqlx::query(
        "WITH g AS (
             SELECT n, $4::timestamptz - (($2 - n) * interval '1 year') / $2 AS at, n > $2 - $3 AS unread
               FROM generate_series(1, $2::bigint) AS n
         ), c AS (
             INSERT INTO conversations (property_id, code, outlet_id, guest_identifier, subject,
                    conversation_type, status, last_seq, staff_read_seq, created_at, last_message_at)
             SELECT $1, 'HIST' || lpad(n::text, 12, '0'),
                    (SELECT id FROM outlets WHERE property_id = $1 AND active ORDER BY id OFFSET n % 4 LIMIT 1),
                    'visitor-' || (n / 5), 'History', 'guest', CASE WHEN unread THEN 'Open' ELSE 'Closed' END,
                    1, CASE WHEN unread THEN 0 ELSE 1 END, at, at
               FROM g
             RETURNING property_id, id, code, guest_identifier, created_at
         )
         INSERT INTO messages (property_id, conversation_id, seq, code, message_type, content,
                               language_code, created_at, guest_identifier)
         SELECT property_id, id, 1, 'HISTM' || substr(code, 5), 'Guest', 'Old news', 'en',
                created_at, guest_identifier
           FROM c",
    )
    .bind(property_id)
    .bind(count)
    .bind(unread)
    .bind(now() - Duration::hours(1))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
}

async fn explain_staff_list(
    pool: &PgPool,
    scope: &StaffScope,
    filter: &StaffConversationFilter,
    cursor: Option<StaffCursor>,
) -> Value {
    let mut query = QueryBuilder::new("EXPLAIN (FORMAT JSON) ");
    push_staff_conversations(&mut query, scope, filter, cursor, 50);
    query.build_query_scalar().fetch_one(pool).await.unwrap()
}

fn filter(outlet: Option<&str>, unread_only: bool) -> StaffConversationFilter {
    StaffConversationFilter {
        outlet_code: outlet.map(str::to_owned),
        status: None,
        unread_only,
        order_code: None,
        updated_since: None,
        assignee: None,
        overdue_only: false,
        overdue_at: None,
    }
}

#[bellhop_testdb::test]
async fn unread_counts_and_the_staff_list_filters_read_an_index(pool: PgPool) {
    let (_, property_id, bar) = demo(&pool).await;
    history(&pool, property_id, 20_000, 100).await;
    let all = StaffScope {
        property_id,
        outlet_ids: None,
    };
    let bar_only = StaffScope {
        property_id,
        outlet_ids: Some(vec![bar]),
    };
    let tables = ["conversations", "messages"];
    for (what, scope) in [("all outlets", &all), ("the bar", &bar_only)] {
        let plan: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {UNREAD_BY_OUTLET}"))
            .bind(scope.property_id)
            .bind(scope.outlet_ids.clone())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_indexed(
            &format!("unread counts of {what}"),
            &plan,
            &tables,
            "conversations",
        );
    }
    let cursor = StaffCursor {
        last_message_at: now() - Duration::days(1),
        id: i64::MAX,
    };
    for (what, scope, filter, cursor) in [
        ("unread", &all, filter(None, true), None),
        ("unread at the bar", &all, filter(Some("BAR"), true), None),
        ("a bar key's unread", &bar_only, filter(None, true), None),
        ("unread, next page", &all, filter(None, true), Some(cursor)),
        ("the first page", &all, filter(None, false), None),
        ("the bar", &all, filter(Some("BAR"), false), None),
        ("a bar key's list", &bar_only, filter(None, false), None),
        (
            "open",
            &all,
            StaffConversationFilter {
                status: Some(ConversationStatus::Open),
                ..filter(None, false)
            },
            None,
        ),
        (
            "assigned to me",
            &all,
            StaffConversationFilter {
                assignee: Some(AssigneeFilter::Key(1)),
                ..filter(None, false)
            },
            None,
        ),
    ] {
        let plan = explain_staff_list(&pool, scope, &filter, cursor).await;
        assert_indexed(
            &format!("staff list, {what}"),
            &plan,
            &tables,
            "conversations",
        );
    }
}

/// The plan of a purge batch, as the repository runs it (parameters bound: a custom plan) and
/// as a cached generic plan of the same prepared statement would be.
async fn purge_plans(pool: &PgPool, sql: &str, before: DateTime<Utc>) -> [Value; 2] {
    let custom: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {sql}"))
        .bind(before)
        .bind(1000_i64)
        .fetch_one(pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(&format!(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE purge_batch (timestamptz, bigint) AS {sql};"
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    let generic: Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) EXECUTE purge_batch('{}', 1000)",
        before.to_rfc3339()
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql("DEALLOCATE purge_batch; RESET plan_cache_mode;")
        .execute(&mut *conn)
        .await
        .unwrap();
    [custom, generic]
}

#[bellhop_testdb::test]
async fn purges_delete_in_index_driven_batches_and_keep_fresh_rows(pool: PgPool) {
    let (store, property_id, _) = demo(&pool).await;
    let old = now() - Duration::days(60);
    let fresh = now() - Duration::hours(1);
    // 50,000 old sessions (half ended, half idle) and 100 fresh ones; as many old idempotency
    // keys and verification windows, and 100 fresh ones of each.
    sqlx::query(
        "INSERT INTO sessions (property_id, id, kind, language_code, created_at, last_seen_at, ended_at)
         SELECT $1, gen_random_uuid(), 'anonymous', 'en', t, t, CASE WHEN n % 2 = 0 THEN t END
           FROM generate_series(1, 50100) AS n,
                LATERAL (SELECT CASE WHEN n > 50000 THEN $3 ELSE $2 - n * interval '1 second' END AS t) AS at (t)",
    )
    .bind(property_id)
    .bind(old)
    .bind(fresh)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO idempotency_keys (property_id, scope, key, request_hash, response_body, created_at)
         SELECT $1, 'session:' || (n % 97), 'key-' || n, '\\x00', '{}',
                CASE WHEN n > 50000 THEN $3 ELSE $2 - n * interval '1 second' END
           FROM generate_series(1, 50100) AS n",
    )
    .bind(property_id)
    .bind(old)
    .bind(fresh)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO room_verification_failures (property_id, room_key, window_started_at, failures)
         SELECT $1, 'room-' || n, CASE WHEN n > 50000 THEN $3 ELSE $2 - n * interval '1 second' END, 1
           FROM generate_series(1, 50100) AS n",
    )
    .bind(property_id)
    .bind(old)
    .bind(fresh)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();

    let cutoff = now() - Duration::days(30);
    for (sql, table) in [
        (PURGE_SESSIONS, "sessions"),
        (PURGE_IDEMPOTENCY_KEYS, "idempotency_keys"),
        (PURGE_VERIFICATION_FAILURES, "room_verification_failures"),
    ] {
        for plan in purge_plans(&pool, sql, cutoff).await {
            assert_indexed(&format!("purge of {table}"), &plan, &[table], table);
        }
    }

    // Batches of 1,000 until one comes back short, as `bellhop sessions purge` runs them.
    let mut batches = 0;
    let mut deleted = 0;
    loop {
        let n = store.purge_sessions(cutoff, 1000).await.unwrap();
        assert!(n <= 1000);
        deleted += n;
        batches += 1;
        if n < 1000 {
            break;
        }
    }
    assert_eq!(deleted, 50_000);
    assert!(batches <= 51, "{batches} batches");
    deleted = 0;
    loop {
        let n = store.purge_idempotency_keys(cutoff, 1000).await.unwrap();
        deleted += n;
        if n < 1000 {
            break;
        }
    }
    assert_eq!(deleted, 50_000);
    deleted = 0;
    loop {
        // The windows purge keeps windows that started within the window length of `before`.
        let n = store
            .purge_verification_failures(cutoff, 1000)
            .await
            .unwrap();
        deleted += n;
        if n < 1000 {
            break;
        }
    }
    assert_eq!(deleted, 50_000);
    for table in ["sessions", "idempotency_keys", "room_verification_failures"] {
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(left, 100, "{table}");
    }
}
