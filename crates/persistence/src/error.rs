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
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exceptions; 57P01-57P03: shutdown / cannot connect now;
            // 53300: too many connections.
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    };
    if unavailable {
        RepositoryError::Unavailable(Box::new(error))
    } else {
        RepositoryError::Unexpected(Box::new(error))
    }
}
