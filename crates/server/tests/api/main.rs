//! Black-box tests of the HTTP API against a real PostgreSQL database: every test gets a
//! fresh database (`#[bellhop_testdb::test]`), migrated and loaded with the demo data set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod attacks;
mod conversations_create;
mod events;
mod foundation;
mod guest_api;
mod hostile;
mod inbox;
mod reliability;
mod reply_clock;
mod scale_out;
mod sessions;
mod staff;
mod webhooks;
mod workflow;
