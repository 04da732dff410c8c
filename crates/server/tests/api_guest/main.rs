//! Temporary test target while the guest API and staff suites are written.
#[path = "../api/guest_api.rs"]
mod guest_api;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/staff.rs"]
mod staff;
