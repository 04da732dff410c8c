//! Temporary target while other suites are written.
#[path = "../api/foundation.rs"]
mod foundation;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/reliability.rs"]
mod reliability;
