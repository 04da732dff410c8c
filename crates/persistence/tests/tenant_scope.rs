//! Every statement the service runs is ready to be distributed by property: each access to a
//! distributed table (`bellhop_persistence::tenancy::DISTRIBUTED`) is pinned by an equality on
//! its `property_id` — to a bind value, or to the `property_id` of another pinned table of the
//! same statement (a co-located join) — so Citus routes it to one shard. The statements are
//! the compile-checked queries (the committed `.sqlx/` data) and the outputs of the dynamic
//! builders, parsed with `sqlparser`. The schema half checks what Citus itself requires of the
//! tables (`docs/citus.md` is the plan these checks keep honest).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{BTreeSet, HashSet},
    ops::ControlFlow,
    path::Path,
};

use bellhop_domain::{
    conversation::ConversationStatus,
    staff::{AssigneeFilter, StaffConversationFilter, StaffCursor, StaffScope},
};
use bellhop_persistence::{
    push_staff_conversations,
    tenancy::{DISTRIBUTED, REFERENCE},
    PURGE_IDEMPOTENCY_KEYS, PURGE_SESSIONS, PURGE_VERIFICATION_FAILURES, UNREAD_BY_OUTLET,
};
use chrono::{TimeZone, Utc};
use sqlparser::{
    ast::{
        BinaryOperator, Expr, FromTable, Query, Select, SetExpr, Statement, TableFactor,
        TableObject, TableWithJoins, Value, Visit, Visitor,
    },
    dialect::PostgreSqlDialect,
    parser::Parser,
};
use sqlx::{PgPool, Postgres, QueryBuilder};

/// A statement that deliberately spans every property says so, with its reason, in a comment
/// of its own SQL: `-- multi-shard: <why>`. Only fleet-wide maintenance and operator reports
/// may: deletes, updates, and selects that lock nothing (Citus runs them on every shard; it
/// cannot lock rows across shards). Nothing a guest or staff request runs is one.
const MULTI_SHARD: &str = "-- multi-shard:";

fn multi_shard_reason(sql: &str) -> Option<&str> {
    sql.lines()
        .find_map(|line| line.trim().strip_prefix(MULTI_SHARD))
        .map(str::trim)
}

// ---------------------------------------------------------------------------------------------
// The analysis

/// A relation of one `SELECT`/`UPDATE`/`DELETE` scope: its alias and its table (lower case).
#[derive(Debug, Clone)]
struct Relation {
    alias: String,
    table: String,
}

/// One side of an equality, as far as the analysis cares.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    /// A column, qualified by its relation's alias or not.
    Column(Option<String>, String),
    /// A bind parameter or a literal: one value for the whole statement.
    Constant,
    Other,
}

fn term(expr: &Expr) -> Term {
    match expr {
        Expr::Identifier(ident) => Term::Column(None, ident.value.to_lowercase()),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => Term::Column(
            Some(parts[0].value.to_lowercase()),
            parts[1].value.to_lowercase(),
        ),
        Expr::Value(value) => match &value.value {
            Value::Placeholder(_) | Value::Number(..) | Value::SingleQuotedString(_) => {
                Term::Constant
            }
            _ => Term::Other,
        },
        Expr::Cast { expr, .. } | Expr::Nested(expr) => term(expr),
        _ => Term::Other,
    }
}

/// The conjuncts of a condition (`a AND b AND c`), looking through parentheses.
fn conjuncts<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

/// The column that carries a relation's property: `property_id`, or `id` of `properties`.
fn tenant_column(table: &str) -> &'static str {
    if table == "properties" {
        "id"
    } else {
        "property_id"
    }
}

struct Analysis {
    /// The common table expressions in scope (not tables), and whether each is pinned.
    ctes: Vec<(String, bool)>,
    /// Aliases of pinned CTEs referenced in the scope being collected.
    pinned_ctes: HashSet<String>,
    /// What is wrong, one line each.
    problems: Vec<String>,
}

impl Analysis {
    fn new() -> Self {
        Self {
            ctes: Vec::new(),
            pinned_ctes: HashSet::new(),
            problems: Vec::new(),
        }
    }

    fn statement(&mut self, statement: &Statement, outer: &HashSet<String>) {
        match statement {
            Statement::Query(query) => self.query(query, outer),
            Statement::Insert(insert) => {
                let table = match &insert.table {
                    TableObject::TableName(name) => last_part(&name.to_string()),
                    other => other.to_string().to_lowercase(),
                };
                if DISTRIBUTED.contains(&table.as_str())
                    && !insert
                        .columns
                        .iter()
                        .any(|c| last_part(&c.to_string()) == "property_id")
                {
                    self.problems
                        .push(format!("INSERT INTO {table} without a property_id column"));
                }
                if let Some(source) = &insert.source {
                    self.query(source, outer);
                }
                // ON CONFLICT … DO UPDATE only touches the conflicting row (the same shard).
            }
            Statement::Update(update) => {
                let mut relations = Vec::new();
                let mut conditions = Vec::new();
                self.from(&update.table, &mut relations, &mut conditions, outer);
                if let Some(from) = &update.from {
                    let tables = match from {
                        sqlparser::ast::UpdateTableFromKind::BeforeSet(t)
                        | sqlparser::ast::UpdateTableFromKind::AfterSet(t) => t,
                    };
                    for t in tables {
                        self.from(t, &mut relations, &mut conditions, outer);
                    }
                }
                let mut expressions: Vec<&Expr> =
                    update.assignments.iter().map(|a| &a.value).collect();
                expressions.extend(update.selection.iter());
                self.scope(
                    "UPDATE",
                    &relations,
                    update.selection.iter().chain(conditions.iter().copied()),
                    &expressions,
                    outer,
                );
            }
            Statement::Delete(delete) => {
                let mut relations = Vec::new();
                let mut conditions = Vec::new();
                let tables = match &delete.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                for t in tables.iter().chain(delete.using.iter().flatten()) {
                    self.from(t, &mut relations, &mut conditions, outer);
                }
                let expressions: Vec<&Expr> = delete.selection.iter().collect();
                self.scope(
                    "DELETE",
                    &relations,
                    delete.selection.iter().chain(conditions.iter().copied()),
                    &expressions,
                    outer,
                );
            }
            _ => {}
        }
    }

    fn query(&mut self, query: &Query, outer: &HashSet<String>) {
        let saved = self.ctes.len();
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let before = self.problems.len();
                self.query(&cte.query, outer);
                // A CTE whose own statement is pinned to one property yields that property's
                // rows only: joining on its property_id pins the other side.
                let pinned = self.problems.len() == before && touches_distributed(&cte.query);
                self.ctes
                    .push((cte.alias.name.value.to_lowercase(), pinned));
            }
        }
        self.set_expr(&query.body, outer);
        self.ctes.truncate(saved);
    }

    fn set_expr(&mut self, body: &SetExpr, outer: &HashSet<String>) {
        match body {
            SetExpr::Select(select) => self.select(select, outer),
            SetExpr::Query(query) => self.query(query, outer),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, outer);
                self.set_expr(right, outer);
            }
            SetExpr::Insert(statement)
            | SetExpr::Update(statement)
            | SetExpr::Delete(statement) => self.statement(statement, outer),
            SetExpr::Values(values) => {
                let expressions: Vec<&Expr> =
                    values.rows.iter().flat_map(|row| &row.content).collect();
                self.subqueries(&expressions, outer);
            }
            _ => {}
        }
    }

    fn select(&mut self, select: &Select, outer: &HashSet<String>) {
        let mut relations = Vec::new();
        let mut conditions = Vec::new();
        for t in &select.from {
            self.from(t, &mut relations, &mut conditions, outer);
        }
        let mut expressions: Vec<&Expr> = select
            .projection
            .iter()
            .filter_map(|item| match item {
                sqlparser::ast::SelectItem::UnnamedExpr(e)
                | sqlparser::ast::SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
                _ => None,
            })
            .collect();
        expressions.extend(select.selection.iter());
        expressions.extend(select.having.iter());
        self.scope(
            "SELECT",
            &relations,
            select.selection.iter().chain(conditions.iter().copied()),
            &expressions,
            outer,
        );
    }

    /// Collects the relations and join conditions of one `FROM` item; derived tables are
    /// analysed as statements of their own.
    fn from<'a>(
        &mut self,
        item: &'a TableWithJoins,
        relations: &mut Vec<Relation>,
        conditions: &mut Vec<&'a Expr>,
        outer: &HashSet<String>,
    ) {
        self.factor(&item.relation, relations, outer);
        for join in &item.joins {
            self.factor(&join.relation, relations, outer);
            use sqlparser::ast::{JoinConstraint, JoinOperator as J};
            let constraint = match &join.join_operator {
                J::Join(c)
                | J::Inner(c)
                | J::Left(c)
                | J::LeftOuter(c)
                | J::Right(c)
                | J::RightOuter(c)
                | J::FullOuter(c)
                | J::CrossJoin(c) => Some(c),
                _ => None,
            };
            if let Some(JoinConstraint::On(expr)) = constraint {
                conditions.push(expr);
            }
        }
    }

    fn factor(
        &mut self,
        factor: &TableFactor,
        relations: &mut Vec<Relation>,
        outer: &HashSet<String>,
    ) {
        match factor {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    return; // a table function (unnest, …)
                }
                let table = last_part(&name.to_string());
                let alias = alias
                    .as_ref()
                    .map_or_else(|| table.clone(), |a| a.name.value.to_lowercase());
                if let Some((_, pinned)) = self.ctes.iter().rev().find(|(n, _)| *n == table) {
                    if *pinned {
                        self.pinned_ctes.insert(alias);
                    }
                    return;
                }
                relations.push(Relation { alias, table });
            }
            TableFactor::Derived { subquery, .. } => self.query(subquery, outer),
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                let mut conditions = Vec::new();
                self.from(table_with_joins, relations, &mut conditions, outer);
            }
            _ => {}
        }
    }

    /// Checks one scope: every distributed relation must end up pinned. `conditions` are the
    /// WHERE and ON conditions; `expressions` are searched for subqueries, which see this
    /// scope's pinned relations (correlation).
    fn scope<'a>(
        &mut self,
        kind: &str,
        relations: &[Relation],
        conditions: impl Iterator<Item = &'a Expr>,
        expressions: &[&Expr],
        outer: &HashSet<String>,
    ) {
        let mut equalities = Vec::new();
        for condition in conditions {
            let mut atoms = Vec::new();
            conjuncts(condition, &mut atoms);
            for atom in atoms {
                if let Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } = atom
                {
                    equalities.push((term(left), term(right)));
                }
            }
        }
        // Which relation a column term names: by alias, or, unqualified, the one relation
        // whose tenant column it is (PostgreSQL rejects an ambiguous one).
        let resolve = |t: &Term| -> Option<String> {
            match t {
                Term::Column(Some(alias), column) => {
                    let relation = relations.iter().find(|r| &r.alias == alias);
                    match relation {
                        Some(r) if column == tenant_column(&r.table) => Some(r.alias.clone()),
                        Some(_) => None,
                        // An outer relation (a correlated subquery) or a CTE.
                        None if column == "property_id" || column == "id" => Some(alias.clone()),
                        None => None,
                    }
                }
                Term::Column(None, column) => {
                    let candidates: Vec<&Relation> = relations
                        .iter()
                        .filter(|r| column == tenant_column(&r.table))
                        .collect();
                    (candidates.len() == 1).then(|| candidates[0].alias.clone())
                }
                _ => None,
            }
        };
        let mut pinned: HashSet<String> = outer.clone();
        pinned.extend(self.pinned_ctes.drain());
        loop {
            let before = pinned.len();
            for (left, right) in &equalities {
                let (l, r) = (resolve(left), resolve(right));
                match (l, r, left, right) {
                    (Some(a), _, _, Term::Constant) | (_, Some(a), Term::Constant, _) => {
                        pinned.insert(a);
                    }
                    (Some(a), Some(b), _, _) if pinned.contains(&a) || pinned.contains(&b) => {
                        pinned.insert(a);
                        pinned.insert(b);
                    }
                    _ => {}
                }
            }
            if pinned.len() == before {
                break;
            }
        }
        for relation in relations {
            if DISTRIBUTED.contains(&relation.table.as_str()) && !pinned.contains(&relation.alias) {
                self.problems.push(format!(
                    "{kind} reads {} ({}) without a property_id equality",
                    relation.table, relation.alias
                ));
            }
        }
        self.subqueries(expressions, &pinned);
    }

    /// Analyses the outermost subqueries inside `expressions`, with `pinned` visible to them.
    fn subqueries(&mut self, expressions: &[&Expr], pinned: &HashSet<String>) {
        for expr in expressions {
            for query in outermost_queries(expr) {
                self.query(&query, pinned);
            }
        }
    }
}

/// The outermost subqueries of an expression (cloned: the visitor hands out short borrows).
fn outermost_queries(expr: &Expr) -> Vec<Query> {
    struct Collect {
        depth: usize,
        found: Vec<Query>,
    }
    impl Visitor for Collect {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if self.depth == 0 {
                self.found.push(query.clone());
            }
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
    }
    let mut collect = Collect {
        depth: 0,
        found: Vec::new(),
    };
    let _ = expr.visit(&mut collect);
    collect.found
}

/// Whether a statement reads or writes a distributed table (its pinning is then checked).
fn touches_distributed(query: &Query) -> bool {
    struct Find(bool);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_relation(&mut self, name: &sqlparser::ast::ObjectName) -> ControlFlow<()> {
            self.0 |= DISTRIBUTED.contains(&last_part(&name.to_string()).as_str());
            ControlFlow::Continue(())
        }
    }
    let mut find = Find(false);
    let _ = query.visit(&mut find);
    find.0
}

fn last_part(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches('"')
        .to_lowercase()
}

/// The problems of one SQL text (one or more statements); a parse failure is a problem too.
fn problems(sql: &str) -> Vec<String> {
    match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(statements) => {
            let mut analysis = Analysis::new();
            for statement in &statements {
                analysis.statement(statement, &HashSet::new());
            }
            analysis.problems
        }
        Err(e) => vec![format!("does not parse: {e}")],
    }
}

// ---------------------------------------------------------------------------------------------
// The statements the service runs

/// The compile-checked statements: the committed `.sqlx/` offline data.
fn checked_statements() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.sqlx");
    let mut statements = Vec::new();
    for entry in std::fs::read_dir(&dir).expect(".sqlx is committed") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let data: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            statements.push(data["query"].as_str().unwrap().to_owned());
        }
    }
    assert!(statements.len() > 20, "the .sqlx data is missing");
    statements
}

/// The dynamic builders' outputs, over the combinations of their inputs.
fn built_statements() -> Vec<String> {
    let mut statements = vec![
        UNREAD_BY_OUTLET.to_owned(),
        PURGE_SESSIONS.to_owned(),
        PURGE_IDEMPOTENCY_KEYS.to_owned(),
        PURGE_VERIFICATION_FAILURES.to_owned(),
    ];
    let scopes = [
        StaffScope {
            property_id: 1,
            outlet_ids: None,
        },
        StaffScope {
            property_id: 1,
            outlet_ids: Some(vec![1, 2]),
        },
    ];
    let since = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap();
    for scope in &scopes {
        let assignees = [
            None,
            Some(AssigneeFilter::Unassigned),
            Some(AssigneeFilter::Key(3)),
            Some(AssigneeFilter::Code("front-desk".to_owned())),
            Some(AssigneeFilter::Nothing),
        ];
        for (all, assignee) in [false, true]
            .into_iter()
            .flat_map(|all| assignees.iter().map(move |a| (all, a.clone())))
        {
            let filter = StaffConversationFilter {
                outlet_code: all.then(|| "BAR".to_owned()),
                status: all.then_some(ConversationStatus::Open),
                unread_only: all,
                order_code: all.then(|| "ORD-1".to_owned()),
                updated_since: all.then_some(since),
                assignee,
                overdue_only: all,
                overdue_at: all.then_some(since),
            };
            let cursor = all.then_some(StaffCursor {
                last_message_at: since,
                id: 7,
            });
            let mut query: QueryBuilder<'static, Postgres> = QueryBuilder::new("");
            push_staff_conversations(&mut query, scope, &filter, cursor, 50);
            statements.push(query.sql().to_owned());
        }
    }
    statements
}

#[test]
fn every_statement_the_service_runs_is_pinned_to_one_property() {
    let mut failures = Vec::new();
    let mut multi_shard = 0;
    for sql in checked_statements().into_iter().chain(built_statements()) {
        let found = problems(&sql);
        match (found.is_empty(), multi_shard_reason(&sql)) {
            (true, None) => {}
            (false, None) => failures.push(format!("{}\n  {}", one_line(&sql), found.join("\n  "))),
            (true, Some(_)) => failures.push(format!(
                "{}\n  is pinned to one property: drop its multi-shard comment",
                one_line(&sql)
            )),
            (false, Some(reason)) => {
                assert!(
                    !reason.is_empty(),
                    "a multi-shard comment without a reason: {sql}"
                );
                let statements = Parser::parse_sql(&PostgreSqlDialect {}, &sql).unwrap();
                let locking = statements.iter().any(|s| match s {
                    Statement::Query(q) => !q.locks.is_empty(),
                    _ => false,
                });
                assert!(
                    !locking,
                    "a multi-shard statement locks rows across shards: {sql}"
                );
                multi_shard += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "statements a distributed schema would send to every shard:\n\n{}",
        failures.join("\n\n")
    );
    // The purges at least: the check does see statements that span properties.
    assert!(multi_shard >= 3, "{multi_shard}");
}

#[test]
fn a_multi_shard_comment_is_read_from_the_sql() {
    assert_eq!(
        multi_shard_reason(PURGE_SESSIONS),
        Some("the session purge, every property's old sessions")
    );
    assert_eq!(multi_shard_reason("SELECT 1"), None);
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// The analysis itself can fail: it flags what it must and passes what it must.

#[test]
fn a_lookup_by_code_alone_is_flagged() {
    assert_eq!(
        problems("SELECT id FROM conversations WHERE code = $1"),
        ["SELECT reads conversations (conversations) without a property_id equality"]
    );
}

#[test]
fn a_lookup_by_property_and_code_passes() {
    assert!(
        problems("SELECT id FROM conversations c WHERE c.property_id = $1 AND c.code = $2")
            .is_empty()
    );
    assert!(problems("SELECT id FROM conversations WHERE property_id = $1::bigint").is_empty());
}

#[test]
fn a_property_inside_an_or_does_not_pin() {
    assert_eq!(
        problems("SELECT 1 FROM messages m WHERE m.property_id = $1 OR m.code = $2").len(),
        1
    );
}

#[test]
fn a_property_list_does_not_pin() {
    assert_eq!(
        problems("SELECT 1 FROM events e WHERE e.property_id = ANY($1)").len(),
        1
    );
}

#[test]
fn a_join_on_the_property_of_a_pinned_table_pins_the_other() {
    assert!(problems(
        "SELECT 1 FROM conversations c JOIN messages m ON m.property_id = c.property_id AND m.conversation_id = c.id
          WHERE c.property_id = $1"
    )
    .is_empty());
    assert_eq!(
        problems(
            "SELECT 1 FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE c.property_id = $1"
        ),
        ["SELECT reads messages (m) without a property_id equality"]
    );
}

#[test]
fn a_correlated_subquery_sees_the_outer_pinned_table() {
    assert!(problems(
        "SELECT (SELECT count(*) FROM messages u WHERE u.property_id = c.property_id) FROM conversations c
          WHERE c.property_id = $1"
    )
    .is_empty());
    assert_eq!(
        problems(
            "SELECT (SELECT count(*) FROM messages u WHERE u.conversation_id = c.id) FROM conversations c
              WHERE c.property_id = $1"
        )
        .len(),
        1
    );
}

#[test]
fn ctes_updates_deletes_and_inserts_are_checked() {
    assert_eq!(
        problems("WITH x AS (UPDATE sessions SET ended_at = now() WHERE id = $1 RETURNING id) SELECT id FROM x")
            .len(),
        1
    );
    assert_eq!(
        problems("DELETE FROM events WHERE created_at < $1").len(),
        1
    );
    assert_eq!(
        problems("INSERT INTO messages (code, content) VALUES ($1, $2)"),
        ["INSERT INTO messages without a property_id column"]
    );
    assert_eq!(
        problems("INSERT INTO events (property_id, type) SELECT c.property_id, 'x' FROM conversations c WHERE c.id = $1")
            .len(),
        1
    );
    assert!(problems("DELETE FROM sessions s WHERE s.property_id = $1 AND s.id = $2").is_empty());
}

#[test]
fn a_cte_pinned_to_a_property_pins_what_joins_its_property() {
    assert!(problems(
        "WITH s AS (INSERT INTO sessions (property_id, id) VALUES ($1, $2) RETURNING *)
         SELECT 1 FROM s LEFT JOIN guest_stays g ON g.property_id = s.property_id"
    )
    .is_empty());
    assert_eq!(
        problems(
            "WITH s AS (SELECT property_id FROM properties_view)
             SELECT 1 FROM s JOIN guest_stays g ON g.property_id = s.property_id"
        ),
        ["SELECT reads guest_stays (g) without a property_id equality"]
    );
}

#[test]
fn reference_tables_need_no_property() {
    assert!(problems("SELECT id FROM staff_keys WHERE key_hash = $1").is_empty());
    assert!(problems("SELECT id FROM properties WHERE code = $1").is_empty());
}

// ---------------------------------------------------------------------------------------------
// The schema

#[bellhop_testdb::test]
async fn every_table_is_placed_and_meets_what_citus_requires(pool: PgPool) {
    let tables: BTreeSet<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let placed: BTreeSet<String> = DISTRIBUTED
        .iter()
        .chain(REFERENCE)
        .map(|t| (*t).to_owned())
        .collect();
    assert_eq!(
        tables, placed,
        "every table must be in exactly one of tenancy::DISTRIBUTED and tenancy::REFERENCE"
    );
    assert!(DISTRIBUTED.iter().all(|t| !REFERENCE.contains(t)));

    // Citus: a distributed table's primary key and unique indexes include the distribution
    // column.
    let uniques: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text,
                array(SELECT a.attname::text FROM unnest(x.indkey) k JOIN pg_attribute a
                        ON a.attrelid = t.oid AND a.attnum = k)
           FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = 'public' AND x.indisunique",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (table, index, columns) in &uniques {
        if DISTRIBUTED.contains(&table.as_str()) {
            assert!(
                columns.iter().any(|c| c == "property_id"),
                "unique index {index} of distributed table {table} lacks property_id: {columns:?}"
            );
        }
    }

    // Foreign keys: between distributed tables they include property_id on both sides; a
    // reference table never points into a distributed one.
    let keys: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT c.conname::text, s.relname::text, t.relname::text,
                array(SELECT a.attname::text FROM unnest(c.conkey) k JOIN pg_attribute a
                        ON a.attrelid = s.oid AND a.attnum = k)
           FROM pg_constraint c JOIN pg_class s ON s.oid = c.conrelid JOIN pg_class t ON t.oid = c.confrelid
           JOIN pg_namespace n ON n.oid = s.relnamespace
          WHERE n.nspname = 'public' AND c.contype = 'f'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (name, source, target, columns) in &keys {
        let (s, t) = (
            DISTRIBUTED.contains(&source.as_str()),
            DISTRIBUTED.contains(&target.as_str()),
        );
        assert!(
            s || !t,
            "reference table {source} has a foreign key {name} into distributed {target}"
        );
        if s && t {
            assert!(
                columns.iter().any(|c| c == "property_id"),
                "foreign key {name} between distributed tables lacks property_id"
            );
        }
    }
}
