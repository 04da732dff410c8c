//! Black-box tests of the HTTP API against a real PostgreSQL database: every test gets a
//! fresh database (`#[sqlx::test]`), migrated and loaded with the demo data set.

mod helpers;

mod conversations_create;
mod foundation;
mod guest_api;
mod reliability;
mod sessions;
mod staff;
