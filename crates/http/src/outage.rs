//! One warning per database outage, not one per request: while PostgreSQL is down every
//! request fails the same way, and a log line for each would bury everything else. The first
//! failure is logged at `warn` with where the database is (host, port, database, user — never a
//! password) and the cause; further failures within [`QUIET_PERIOD`] are counted and logged at
//! `debug`, and the next warning says how many there were.

use std::{
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

/// How long after a warning further failures are only counted.
pub const QUIET_PERIOD: Duration = Duration::from_secs(60);

/// The outage state of one process.
#[derive(Debug, Default)]
pub struct OutageLog {
    target: OnceLock<String>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_warning: Option<Instant>,
    suppressed: u64,
}

impl OutageLog {
    pub const fn new() -> Self {
        Self {
            target: OnceLock::new(),
            state: Mutex::new(State {
                last_warning: None,
                suppressed: 0,
            }),
        }
    }

    /// Whether a failure at `now` is to be warned about, and how many were suppressed since
    /// the last warning; `None` while the quiet period runs (the failure is then counted).
    pub fn on_failure(&self, now: Instant) -> Option<u64> {
        let Ok(mut state) = self.state.lock() else {
            return Some(0);
        };
        match state.last_warning {
            Some(at) if now.duration_since(at) < QUIET_PERIOD => {
                state.suppressed += 1;
                None
            }
            _ => {
                state.last_warning = Some(now);
                Some(std::mem::take(&mut state.suppressed))
            }
        }
    }
}

static PROCESS: OutageLog = OutageLog::new();

/// Names the database in outage warnings (`database "bellhop" on db:5432 as user "app"`); the
/// server sets it once at start-up.
pub fn set_database_target(target: String) {
    let _ = PROCESS.target.set(target);
}

/// Logs a database failure that the client sees as 503.
pub(crate) fn database_unavailable(source: &(dyn std::error::Error + 'static)) {
    let target = PROCESS.target.get().map_or("the database", String::as_str);
    match PROCESS.on_failure(Instant::now()) {
        Some(suppressed) => tracing::warn!(
            database = target,
            error = %source,
            cause = ?source,
            failures_since_last_warning = suppressed,
            "database unavailable; answering 503 (further failures within a minute are logged at debug)"
        ),
        None => tracing::debug!(database = target, error = %source, "database unavailable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_warned_about_once_a_minute_with_the_count_in_between() {
        let log = OutageLog::new();
        let start = Instant::now();
        assert_eq!(log.on_failure(start), Some(0));
        for s in 1..=10 {
            assert_eq!(log.on_failure(start + Duration::from_secs(s)), None);
        }
        assert_eq!(log.on_failure(start + Duration::from_secs(61)), Some(10));
        assert_eq!(log.on_failure(start + Duration::from_secs(62)), None);
    }
}
