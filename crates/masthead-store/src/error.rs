use thiserror::Error;

/// What can go wrong in storage, in terms the layers above can act on.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid data: {0}")]
    Invalid(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match &e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(f, msg) => match f.code {
                ErrorCode::ConstraintViolation => {
                    StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
                }
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
                | ErrorCode::ReadOnly => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Other(e.to_string()),
            },
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl From<masthead_domain::DomainError> for StoreError {
    fn from(e: masthead_domain::DomainError) -> Self {
        StoreError::Invalid(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
