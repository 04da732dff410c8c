//! The Citus plan (`docs/citus.md`) is checked against plain PostgreSQL as far as it can be:
//! its `sql` blocks run on a freshly migrated database, with Citus's table functions replaced
//! by functions that check their arguments as Citus would (the table and the distribution
//! column exist, the column is a `bigint`, `colocate_with` names a table distributed before,
//! a table's foreign keys point to tables placed before it, and a reference table never points
//! into a distributed one); then the placements must be exactly `tenancy::DISTRIBUTED` and
//! `tenancy::REFERENCE`. Blocks marked `sql citus-only` need Citus itself and are skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeSet, path::Path};

use bellhop_persistence::tenancy::{DISTRIBUTED, REFERENCE};
use sqlx::PgPool;

/// Stand-ins for Citus's `create_reference_table`, `create_distributed_table` and
/// `create_distributed_function` that check what Citus would refuse and record the placement.
const CHECKING_FUNCTIONS: &str = r#"
CREATE TABLE citus_plan_placement (
    table_name regclass PRIMARY KEY,
    kind       text     NOT NULL CHECK (kind IN ('reference', 'distributed'))
);

-- The foreign keys of `t` must point to tables already placed; a reference table's only to
-- reference tables; a distributed table's into distributed ones through the distribution
-- column.
CREATE FUNCTION citus_plan_check_keys(t regclass, t_kind text, dist_column text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k record;
    target_kind text;
BEGIN
    FOR k IN SELECT c.conname, c.confrelid::regclass AS target,
                    array(SELECT a.attname::text FROM unnest(c.conkey) n
                            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = n) AS cols
               FROM pg_constraint c WHERE c.conrelid = t AND c.contype = 'f'
    LOOP
        SELECT kind INTO target_kind FROM citus_plan_placement WHERE table_name = k.target;
        IF target_kind IS NULL AND k.target <> t THEN
            RAISE EXCEPTION '% (foreign key %) points to %, which is not placed yet', t, k.conname, k.target;
        END IF;
        IF t_kind = 'reference' AND target_kind = 'distributed' THEN
            RAISE EXCEPTION 'reference table % points into distributed %', t, k.target;
        END IF;
        IF t_kind = 'distributed' AND target_kind = 'distributed' AND NOT dist_column = ANY (k.cols) THEN
            RAISE EXCEPTION 'foreign key % of % does not include %', k.conname, t, dist_column;
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION create_reference_table(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM citus_plan_check_keys(t, 'reference', NULL);
    INSERT INTO citus_plan_placement VALUES (t, 'reference');
END $$;

CREATE FUNCTION create_distributed_table(t regclass, distribution_column text,
                                         colocate_with text DEFAULT 'default') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    column_type text;
BEGIN
    SELECT format_type(atttypid, atttypmod) INTO column_type
      FROM pg_attribute WHERE attrelid = t AND attname = distribution_column AND NOT attisdropped;
    IF column_type IS NULL THEN
        RAISE EXCEPTION '% has no column %', t, distribution_column;
    END IF;
    IF column_type <> 'bigint' THEN
        RAISE EXCEPTION '%.% is %, not bigint', t, distribution_column, column_type;
    END IF;
    IF colocate_with <> 'default' AND NOT EXISTS (
        SELECT 1 FROM citus_plan_placement
         WHERE table_name = colocate_with::regclass AND kind = 'distributed') THEN
        RAISE EXCEPTION 'colocate_with % is not a distributed table yet', colocate_with;
    END IF;
    PERFORM citus_plan_check_keys(t, 'distributed', distribution_column);
    INSERT INTO citus_plan_placement VALUES (t, 'distributed');
END $$;

CREATE FUNCTION create_distributed_function(f regprocedure, distribution_arg_name text,
                                            colocate_with text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE oid = f AND distribution_arg_name = ANY (proargnames)) THEN
        RAISE EXCEPTION '% has no argument %', f, distribution_arg_name;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM citus_plan_placement
                    WHERE table_name = colocate_with::regclass AND kind = 'distributed') THEN
        RAISE EXCEPTION 'colocate_with % is not a distributed table', colocate_with;
    END IF;
END $$;
"#;

/// The fenced blocks of `markdown` whose info string is exactly `info`.
fn blocks(markdown: &str, info: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, fence) if fence.starts_with("```") => {
                if fence.trim_start_matches('`') == info {
                    current = Some(String::new());
                } else {
                    // Another kind of block: skip to its end.
                    current = Some("\u{0}skip".to_owned());
                }
            }
            (Some(block), "```") => {
                if !block.starts_with('\u{0}') {
                    found.push(std::mem::take(block));
                }
                current = None;
            }
            (Some(block), _) => {
                if !block.starts_with('\u{0}') {
                    block.push_str(line);
                    block.push('\n');
                }
            }
            (None, _) => {}
        }
    }
    found
}

fn plan() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/citus.md"))
        .expect("docs/citus.md exists")
}

#[bellhop_testdb::test]
async fn the_citus_plan_runs_on_the_migrated_schema_and_places_every_table(pool: PgPool) {
    sqlx::raw_sql(CHECKING_FUNCTIONS)
        .execute(&pool)
        .await
        .unwrap();
    let sql = blocks(&plan(), "sql");
    assert!(sql.len() >= 3, "docs/citus.md lost its sql blocks");
    for block in &sql {
        if let Err(e) = sqlx::raw_sql(block).execute(&pool).await {
            panic!("docs/citus.md: a block fails on the migrated schema: {e}\n\n{block}");
        }
    }
    let placed = |kind: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT table_name::text FROM citus_plan_placement WHERE kind = $1",
            )
            .bind(kind)
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect::<BTreeSet<_>>()
        }
    };
    let set = |tables: &[&str]| {
        tables
            .iter()
            .map(|t| (*t).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(placed("distributed").await, set(DISTRIBUTED));
    assert_eq!(placed("reference").await, set(REFERENCE));

    // The routed horizon function answers like the statement it replaces.
    let horizon: String = sqlx::query_scalar("SELECT bellhop_event_horizon(1)::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(horizon.parse::<u64>().is_ok(), "{horizon}");
}

#[bellhop_testdb::test]
async fn the_checking_functions_refuse_what_citus_would(pool: PgPool) {
    sqlx::raw_sql(CHECKING_FUNCTIONS)
        .execute(&pool)
        .await
        .unwrap();
    let refused = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::raw_sql(sql).execute(&pool).await.is_err() }
    };
    // A child before its parent, a missing column, a colocation with nothing.
    assert!(refused("SELECT create_distributed_table('messages', 'property_id')").await);
    assert!(refused("SELECT create_distributed_table('guest_stays', 'tenant_id')").await);
    assert!(
        refused(
            "SELECT create_distributed_table('guest_stays', 'property_id', colocate_with => 'sessions')"
        )
        .await
    );
    // A reference table pointing into a distributed one.
    assert!(
        !refused(
            "SELECT create_reference_table('properties'); SELECT create_distributed_table('guest_stays', 'property_id')"
        )
        .await
    );
    sqlx::raw_sql(
        "CREATE TABLE stay_notes (property_id bigint, stay_id bigint,
            FOREIGN KEY (property_id, stay_id) REFERENCES guest_stays (property_id, id))",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert!(refused("SELECT create_reference_table('stay_notes')").await);
}

#[test]
fn only_the_marked_blocks_are_run() {
    let markdown = "a\n```sql\nSELECT 1;\n```\n```sql citus-only\nCREATE EXTENSION citus;\n```\n```sh\nls\n```\n";
    assert_eq!(blocks(markdown, "sql"), ["SELECT 1;\n"]);
    assert_eq!(
        blocks(markdown, "sql citus-only"),
        ["CREATE EXTENSION citus;\n"]
    );
}
