//! Turning sqlx errors into the ports' error type.

use bellhop_domain::RepositoryError;

/// Maps a sqlx error: an unreachable or overloaded database is `Unavailable` (the API answers
/// 503), everything else `Unexpected` (500, logged).
pub fn db_error(error: sqlx::Error) -> RepositoryError {
    let unavailable = match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_state(&code)),
        _ => false,
    };
    if unavailable {
        RepositoryError::Unavailable(Box::new(error))
    } else {
        RepositoryError::Unexpected(Box::new(error))
    }
}

/// SQLSTATEs that say the database cannot serve right now, not that the request or the code
/// is wrong: the API answers 503 and the client may retry.
fn unavailable_state(code: &str) -> bool {
    // Class 08: connection exceptions.
    code.starts_with("08")
        || matches!(
            code,
            // database not accepting connections (e.g. in recovery or being shut down)
            "55000"
            // lock_timeout and statement_timeout
            | "55P03" | "57014"
            // admin / crash shutdown, cannot connect now
            | "57P01" | "57P02" | "57P03"
            // login refused: a wrong password or a removed role is the operator's problem
            | "28000" | "28P01"
            // too many connections
            | "53300"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_shutdowns_and_timeouts_are_unavailable_and_other_states_are_not() {
        for code in [
            "08006", "08001", "55000", "55P03", "57014", "57P01", "57P02", "57P03", "28000",
            "28P01", "53300",
        ] {
            assert!(unavailable_state(code), "{code}");
        }
        for code in ["23505", "22001", "42P01", "40001", "XX000"] {
            assert!(!unavailable_state(code), "{code}");
        }
    }
}
