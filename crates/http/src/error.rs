//! The one mapping from errors to HTTP: status codes per error code, the guest envelope and
//! the staff error shape. Unexpected errors are logged here, once, with their cause chain.

use actix_web::{
    http::{header, StatusCode},
    HttpResponse, ResponseError,
};
use bellhop_application::AppError;
use bellhop_domain::{DomainError, ErrorCode};
use serde::Serialize;

use crate::wire::{
    body::BodyError,
    envelope::{envelope, ResponseStatus, WireError, JSON_UTF8},
};

/// The HTTP status of each error code (section 6 of the spec).
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidRequest
        | MessageRequired
        | MessageTooLong
        | InvalidConversationType
        | InvalidPaging => StatusCode::BAD_REQUEST,
        NotFound | OutletNotFound | OrderNotFound | ConversationNotFound | MessageNotFound
        | GuestNotFound | StaffMemberNotFound => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        SessionTokenRequired
        | SessionTokenInvalid
        | SessionExpired
        | StaffKeyInvalid
        | InterfaceTokenInvalid
        | GuestVerificationFailed => StatusCode::UNAUTHORIZED,
        GuestNotVerified | OutletNotAllowed => StatusCode::FORBIDDEN,
        OrderOutletMismatch | ConversationClosed | AssigneeNotAllowed => StatusCode::CONFLICT,
        IdempotencyKeyReused | NoOutletAvailable => StatusCode::UNPROCESSABLE_ENTITY,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Which API the error belongs to, and so its shape on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The guest envelope (section 2).
    Envelope,
    /// `{"error": {"code", "message"}}` (section 8).
    Staff,
}

/// An error on its way to the client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub shape: Shape,
    /// The token the client must use next (guest API, when the request had a valid one).
    pub token: Option<String>,
    /// Seconds for `Retry-After` (rate limiting).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            shape: Shape::Envelope,
            token: None,
            retry_after: None,
        }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Seconds for the `Retry-After` header.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn staff(mut self) -> Self {
        self.shape = Shape::Staff;
        self
    }

    pub fn shaped(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "There is no such route.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            "This route does not accept that method.",
        )
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut error = Self::new(
            ErrorCode::TooManyRequests,
            "Too many requests; retry after the time in Retry-After.",
        );
        error.retry_after = Some(retry_after);
        error
    }

    /// The request's body did not arrive within the read timeout.
    pub fn request_timeout() -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            "The request was not received in time.",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!("The request body is larger than {limit} bytes."),
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let mut api = Self::new(error.code(), error.to_string());
        if let DomainError::TooManyFailedVerifications { retry_after_secs } = error {
            api.retry_after = Some(retry_after_secs.max(1));
        }
        api
    }
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        Self::new(error.code(), error.message())
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Domain(error) => error.into(),
            AppError::Unavailable(source) => {
                crate::outage::database_unavailable(source.as_ref());
                Self::new(
                    ErrorCode::ServiceUnavailable,
                    "The service is temporarily unavailable; try again shortly.",
                )
            }
            AppError::Internal(source) => {
                tracing::error!(error = %source, cause = ?source, "internal error");
                Self::new(ErrorCode::InternalError, "An internal error occurred.")
            }
        }
    }
}

#[derive(Serialize)]
struct StaffErrorBody<'a> {
    error: WireError<'a>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let wire = WireError {
            code: self.code.as_str(),
            message: &self.message,
        };
        let mut response = match self.shape {
            Shape::Envelope => envelope(
                status,
                self.token.as_deref(),
                "responseStatus",
                &ResponseStatus {
                    succeeded: false,
                    errors: Some(vec![wire]),
                },
                false,
            ),
            Shape::Staff => match serde_json::to_vec(&StaffErrorBody { error: wire }) {
                Ok(body) => HttpResponse::build(status)
                    .content_type(JSON_UTF8)
                    .body(body),
                Err(_) => HttpResponse::build(status).finish(),
            },
        };
        if self.code == ErrorCode::RequestTimeout {
            // A client that could not send its request in time gets no second chance on this
            // connection: what it sends next cannot be told from the rest of the late body.
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_error_table() {
        assert_eq!(status_of(ErrorCode::OutletNotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(ErrorCode::OutletNotAllowed),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_of(ErrorCode::NoOutletAvailable),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(ErrorCode::ConversationClosed),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(ErrorCode::StaffMemberNotFound),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status_of(ErrorCode::AssigneeNotAllowed),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(ErrorCode::SessionExpired),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status_of(ErrorCode::ServiceUnavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
