//! Turning sqlx errors into the ports' error type, in one place: named constraints the
//! database enforces become the domain errors they stand for.

use bellhop_domain::{message::MessageContent, DomainError, RepositoryError};

/// The domain error a violated named constraint stands for, if it stands for one: what the
/// domain already refuses (so a request that slips past it still gets its proper answer, not
/// a 500), or a reference-data entry the database refuses.
fn constraint_error(constraint: &str) -> Option<DomainError> {
    let invalid = DomainError::invalid_request;
    Some(match constraint {
        "messages_content_length" => DomainError::MessageTooLong {
            max: MessageContent::MAX_CHARS,
        },
        "conversations_form_size" => invalid("orderFormDetailsDictionary is too large."),
        "idempotency_keys_key_length" => {
            invalid("The Idempotency-Key header must be 1 to 255 printable ASCII characters.")
        }
        "guest_stays_dates_ordered" => invalid("A stay's checkOut must be after its checkIn."),
        "properties_code_length"
        | "outlets_code_length"
        | "guest_stays_code_length"
        | "orders_code_length" => invalid("A code must be 1 to 50 characters."),
        "guest_stays_room_number_length" => invalid("A room number must be 1 to 20 characters."),
        "staff_keys_code_key" => {
            invalid("A staff member code is already used by another key of the property.")
        }
        "conversation_notes_content_length" => DomainError::MessageTooLong {
            max: MessageContent::MAX_CHARS,
        },
        _ => return None,
    })
}

/// Maps a sqlx error: a violated named constraint that stands for a domain rule is that
/// domain error; an unreachable or overloaded database is `Unavailable` (the API answers
/// 503), everything else `Unexpected` (500, logged).
pub fn db_error(error: sqlx::Error) -> RepositoryError {
    if let Some(domain) = match &error {
        sqlx::Error::Database(db) => db.constraint().and_then(constraint_error),
        _ => None,
    } {
        return RepositoryError::Domain(domain);
    }
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
    fn named_constraints_of_domain_rules_are_their_domain_errors_and_others_are_not() {
        assert_eq!(
            constraint_error("messages_content_length"),
            Some(DomainError::MessageTooLong { max: 4000 })
        );
        assert!(constraint_error("conversations_pkey").is_none());
    }

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
