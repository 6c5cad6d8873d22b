//! Errors raised by domain rules. Each has a stable code that surfaces map to
//! their own envelope (HTML page, JSON error, CLI message).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("malformed cursor: {0}")]
    BadCursor(&'static str),
    #[error("invalid e-mail address: {0}")]
    BadEmail(&'static str),
    #[error("invalid slug: {0}")]
    BadSlug(&'static str),
    #[error("unknown {what}: {value:?}")]
    UnknownValue { what: &'static str, value: String },
}

impl DomainError {
    /// A stable machine-readable code for API surfaces and logs.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::BadCursor(_) => "bad_cursor",
            DomainError::BadEmail(_) => "bad_email",
            DomainError::BadSlug(_) => "bad_slug",
            DomainError::UnknownValue { .. } => "unknown_value",
        }
    }
}
