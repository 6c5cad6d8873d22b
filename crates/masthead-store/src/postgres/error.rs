//! PostgreSQL's errors in the store's terms, matching what the SQLite
//! backend reports for the same situations: a broken constraint is a
//! `Conflict`, a server that cannot be reached or is shutting down is
//! `Unavailable`.

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::error::StoreError;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            let class = &code.code()[..2];
            let message = match db.detail() {
                Some(detail) => format!("{} ({detail})", db.message()),
                None => db.message().to_owned(),
            };
            if *code == SqlState::UNIQUE_VIOLATION
                || *code == SqlState::FOREIGN_KEY_VIOLATION
                || *code == SqlState::CHECK_VIOLATION
                || *code == SqlState::NOT_NULL_VIOLATION
                || *code == SqlState::EXCLUSION_VIOLATION
            {
                StoreError::Conflict(message)
            } else if class == "08" // connection exception
                || class == "53" // insufficient resources
                || class == "57" // operator intervention (shutdown, cancel)
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                || *code == SqlState::INVALID_CATALOG_NAME
            {
                StoreError::Unavailable(message)
            } else {
                StoreError::Other(message)
            }
        } else if e.is_closed() || is_io(&e) {
            StoreError::Unavailable(with_causes(&e))
        } else {
            StoreError::Other(with_causes(&e))
        }
    }
}

/// The error and what caused it ("error connecting to server: Connection
/// refused"), which tokio-postgres's own message leaves out.
fn with_causes(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// Whether the error came from the network (a refused or broken connection).
fn is_io(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    // Timeouts while connecting carry no source.
    e.to_string().contains("timeout")
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e.into(),
            PoolError::Timeout(_) => {
                StoreError::Unavailable("no database connection became free in time".into())
            }
            PoolError::Closed => StoreError::Unavailable("the connection pool is closed".into()),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}
