//! Time as a port: every rule that depends on "now" takes it from a [`Clock`], so tests fix it.

use chrono::{DateTime, Utc};

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant, truncated to microseconds (what PostgreSQL stores).
    fn now(&self) -> DateTime<Utc>;
}

/// Truncates an instant to whole microseconds, the precision of `timestamptz`.
pub fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}
