//! Idempotent creation (section 7 of the spec): a client-chosen key, scoped to a session or a
//! staff key, under which a successful creation is stored and replayed.

use chrono::Duration;

use crate::{error::DomainError, session::SessionId};

/// How long a key is remembered.
pub fn key_lifetime() -> Duration {
    Duration::hours(24)
}

/// An `Idempotency-Key` header value: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, DomainError> {
        let printable = raw.iter().all(|b| (0x20..=0x7e).contains(b));
        if raw.is_empty() || raw.len() > 255 || !printable {
            return Err(DomainError::invalid_request(
                "The Idempotency-Key header must be 1 to 255 printable ASCII characters.",
            ));
        }
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whose key it is: keys of different scopes never meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdempotencyScope {
    /// A guest session (all its tokens).
    Session(SessionId),
    /// A staff key, by id.
    StaffKey(i64),
}

/// A creation made under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    pub scope: IdempotencyScope,
    pub key: IdempotencyKey,
    /// A digest of the request (its fields after decoding, without the session token).
    pub fingerprint: [u8; 32],
}

/// The result of a creation that may have been a replay.
#[derive(Debug, Clone, PartialEq)]
pub enum Created<T> {
    /// Created now (under a key: stored for replay once the response is rendered).
    New(T),
    /// The key was seen before with the same request: the stored response (JSON text),
    /// nothing created.
    Replayed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_printable_ascii_characters() {
        assert!(IdempotencyKey::parse(b"a").is_ok());
        assert!(IdempotencyKey::parse(b"order 42 / retry").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_err());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"tab\there").is_err());
        assert!(IdempotencyKey::parse("clé".as_bytes()).is_err());
    }
}
