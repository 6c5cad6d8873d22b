//! What a checked database snapshot holds.

/// What a checked snapshot holds.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// The newest migration applied to it.
    pub schema_version: i64,
    /// Keys of its media items: each needs its folder under `media/`.
    pub media_keys: Vec<String>,
    pub posts: u64,
    pub members: u64,
}
