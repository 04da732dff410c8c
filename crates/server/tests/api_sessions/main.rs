//! Temporary test target while the sessions and create-conversation suites are written.
#[path = "../api/conversations_create.rs"]
mod conversations_create;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/sessions.rs"]
mod sessions;
