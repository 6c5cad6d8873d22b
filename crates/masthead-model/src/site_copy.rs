//! What copying a whole site between databases reports (`masthead copy`).

use std::fmt;

/// How far a copy has got, as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyProgress {
    /// `rows` rows of `table` written so far (said every few thousand rows
    /// of a large table).
    Rows { table: &'static str, rows: u64 },
    /// `table` is copied: `rows` rows in all.
    Table { table: &'static str, rows: u64 },
    /// Every table is copied; the search index is being rebuilt from the posts.
    SearchIndex,
    /// Everything is written; the transaction is being committed.
    Committing,
}

/// A table a copy leaves out on purpose, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotCopied {
    pub table: &'static str,
    pub why: &'static str,
}

/// What a finished copy wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Every copied table, in the order written, with its rows.
    pub tables: Vec<(&'static str, u64)>,
    /// The tables left out, each with its reason.
    pub not_copied: Vec<NotCopied>,
    /// Whether the target held a site that the copy replaced.
    pub replaced: bool,
    /// Whether the target's search index was rebuilt from the copied posts
    /// (false where the backend has no search index yet).
    pub search_rebuilt: bool,
}

impl CopyReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Why a copy refused to start: the target already holds a site. Nothing
/// was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetNotEmpty {
    /// The tables holding rows, with how many.
    pub tables: Vec<(&'static str, u64)>,
}

impl fmt::Display for TargetNotEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .tables
            .iter()
            .map(|(table, rows)| format!("{table}: {rows}"))
            .collect();
        write!(
            f,
            "the target database already holds a site ({})",
            shown.join(", ")
        )
    }
}
