//! The one error vocabulary of Bellhop: the stable codes of the API contract (section 6) and
//! the domain's error type that carries them.

use std::fmt;

/// A stable, PascalCase error identifier, as written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    MessageRequired,
    MessageTooLong,
    InvalidConversationType,
    InvalidPaging,
    NotFound,
    MethodNotAllowed,
    SessionTokenRequired,
    SessionTokenInvalid,
    SessionExpired,
    StaffKeyInvalid,
    InterfaceTokenInvalid,
    GuestVerificationFailed,
    GuestNotVerified,
    OutletNotAllowed,
    OutletNotFound,
    OrderNotFound,
    ConversationNotFound,
    MessageNotFound,
    GuestNotFound,
    StaffMemberNotFound,
    OrderOutletMismatch,
    AssigneeNotAllowed,
    ConversationClosed,
    IdempotencyKeyReused,
    PayloadTooLarge,
    UnsupportedMediaType,
    NoOutletAvailable,
    TooManyRequests,
    RequestTimeout,
    InternalError,
    ServiceUnavailable,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "InvalidRequest",
            Self::MessageRequired => "MessageRequired",
            Self::MessageTooLong => "MessageTooLong",
            Self::InvalidConversationType => "InvalidConversationType",
            Self::InvalidPaging => "InvalidPaging",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::SessionTokenRequired => "SessionTokenRequired",
            Self::SessionTokenInvalid => "SessionTokenInvalid",
            Self::SessionExpired => "SessionExpired",
            Self::StaffKeyInvalid => "StaffKeyInvalid",
            Self::InterfaceTokenInvalid => "InterfaceTokenInvalid",
            Self::GuestVerificationFailed => "GuestVerificationFailed",
            Self::GuestNotVerified => "GuestNotVerified",
            Self::OutletNotAllowed => "OutletNotAllowed",
            Self::OutletNotFound => "OutletNotFound",
            Self::OrderNotFound => "OrderNotFound",
            Self::ConversationNotFound => "ConversationNotFound",
            Self::MessageNotFound => "MessageNotFound",
            Self::GuestNotFound => "GuestNotFound",
            Self::StaffMemberNotFound => "StaffMemberNotFound",
            Self::AssigneeNotAllowed => "AssigneeNotAllowed",
            Self::OrderOutletMismatch => "OrderOutletMismatch",
            Self::ConversationClosed => "ConversationClosed",
            Self::IdempotencyKeyReused => "IdempotencyKeyReused",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::NoOutletAvailable => "NoOutletAvailable",
            Self::TooManyRequests => "TooManyRequests",
            Self::RequestTimeout => "RequestTimeout",
            Self::InternalError => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A business rule said no. Every variant has a stable [`ErrorCode`] and a one-sentence
/// message meant for a developer; none carries another guest's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("A message is required.")]
    MessageRequired,
    #[error("The message is longer than {max} characters.")]
    MessageTooLong { max: usize },
    #[error("The conversation type must be empty or \"guest\".")]
    InvalidConversationType,
    #[error("{0}")]
    InvalidPaging(String),
    #[error("A session token is required.")]
    SessionTokenRequired,
    #[error("The session token is not valid.")]
    SessionTokenInvalid,
    #[error("The session has expired; start a new one.")]
    SessionExpired,
    #[error("The staff key is missing, unknown or disabled.")]
    StaffKeyInvalid,
    #[error("The property code or interface token is not valid.")]
    InterfaceTokenInvalid,
    #[error("No guest staying in that room matches those details.")]
    GuestVerificationFailed,
    #[error("This action needs a session of a verified guest.")]
    GuestNotVerified,
    #[error("This outlet does not accept messages from this guest.")]
    OutletNotAllowed,
    #[error("The outlet was not found.")]
    OutletNotFound,
    #[error("The order was not found.")]
    OrderNotFound,
    #[error("The conversation was not found.")]
    ConversationNotFound,
    #[error("The message was not found.")]
    MessageNotFound,
    #[error("No guest is staying in that room.")]
    GuestNotFound,
    #[error("No staff member has that code.")]
    StaffMemberNotFound,
    #[error("That staff member's key does not cover the conversation's outlet.")]
    AssigneeNotAllowed,
    #[error("The order does not belong to that outlet.")]
    OrderOutletMismatch,
    #[error("The conversation is closed.")]
    ConversationClosed,
    #[error("This idempotency key was already used with a different request.")]
    IdempotencyKeyReused,
    #[error("No outlet is available for messages right now.")]
    NoOutletAvailable,
    /// A reference data entry the store refuses (a reference that does not resolve).
    #[error("A reference data entry does not resolve.")]
    ReferenceRejected(crate::reference::RejectedEntry),
    /// Too many failed room verifications for one room: every attempt waits out the window.
    #[error("Too many failed verifications for this room; retry after the time in Retry-After.")]
    TooManyFailedVerifications {
        /// Seconds until the window has passed.
        retry_after_secs: u64,
    },
}

impl DomainError {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    pub const fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::MessageRequired => ErrorCode::MessageRequired,
            Self::MessageTooLong { .. } => ErrorCode::MessageTooLong,
            Self::InvalidConversationType => ErrorCode::InvalidConversationType,
            Self::InvalidPaging(_) => ErrorCode::InvalidPaging,
            Self::SessionTokenRequired => ErrorCode::SessionTokenRequired,
            Self::SessionTokenInvalid => ErrorCode::SessionTokenInvalid,
            Self::SessionExpired => ErrorCode::SessionExpired,
            Self::StaffKeyInvalid => ErrorCode::StaffKeyInvalid,
            Self::InterfaceTokenInvalid => ErrorCode::InterfaceTokenInvalid,
            Self::GuestVerificationFailed => ErrorCode::GuestVerificationFailed,
            Self::GuestNotVerified => ErrorCode::GuestNotVerified,
            Self::OutletNotAllowed => ErrorCode::OutletNotAllowed,
            Self::OutletNotFound => ErrorCode::OutletNotFound,
            Self::OrderNotFound => ErrorCode::OrderNotFound,
            Self::ConversationNotFound => ErrorCode::ConversationNotFound,
            Self::MessageNotFound => ErrorCode::MessageNotFound,
            Self::GuestNotFound => ErrorCode::GuestNotFound,
            Self::StaffMemberNotFound => ErrorCode::StaffMemberNotFound,
            Self::AssigneeNotAllowed => ErrorCode::AssigneeNotAllowed,
            Self::OrderOutletMismatch => ErrorCode::OrderOutletMismatch,
            Self::ConversationClosed => ErrorCode::ConversationClosed,
            Self::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            Self::NoOutletAvailable => ErrorCode::NoOutletAvailable,
            Self::ReferenceRejected(_) => ErrorCode::InvalidRequest,
            Self::TooManyFailedVerifications { .. } => ErrorCode::TooManyRequests,
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a repository port may fail with.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// The stored state contradicts the request (a unique code taken, a closed conversation...).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The store cannot be reached right now (pool timeout, connection refused).
    #[error("the data store is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or a broken invariant.
    #[error("unexpected data store error")]
    Unexpected(#[source] BoxError),
}

impl RepositoryError {
    pub fn unexpected(error: impl Into<BoxError>) -> Self {
        Self::Unexpected(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_error_maps_to_the_code_of_its_name() {
        let samples = [
            DomainError::MessageRequired,
            DomainError::OutletNotFound,
            DomainError::NoOutletAvailable,
            DomainError::ConversationClosed,
            DomainError::StaffMemberNotFound,
            DomainError::AssigneeNotAllowed,
        ];
        for error in samples {
            let debug = format!("{error:?}");
            assert!(debug.starts_with(error.code().as_str()), "{debug}");
        }
    }

    #[test]
    fn messages_are_single_sentences() {
        let message = DomainError::MessageTooLong { max: 4000 }.to_string();
        assert_eq!(message, "The message is longer than 4000 characters.");
    }
}
