-- Session tokens carry the property id (see crates/application/src/tokens.rs), and every
-- session lookup filters on (property_id, id), the primary key. The unique index on the id
-- alone is unused, and a distributed schema (docs/citus.md) cannot have a unique index without
-- the distribution column. Session ids are random UUIDs; the primary key keeps them unique per
-- property.
DROP INDEX sessions_id_key;
