//! Copying a whole site from one database into another (`masthead copy`):
//! SQLite to PostgreSQL, back, or between two of a kind. This module holds
//! what both dialects share: the decision for every table of the schema
//! ([`TABLES`]), the plan checked against both databases' catalogs, and the
//! values that travel between them. Each dialect's `copy` module reads a
//! consistent snapshot of its tables and writes them in one transaction.
//!
//! The source is read in one snapshot (a read transaction on SQLite,
//! `REPEATABLE READ` on PostgreSQL) and streamed in batches over a bounded
//! channel to the target's one write transaction, so memory stays small
//! however large the site, and the target commits everything or nothing: an
//! error or a killed process leaves it as it was.

use masthead_model::{CopyProgress, NotCopied};

use crate::error::{StoreError, StoreResult};

/// What a copy does with one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// Copied row for row, ids kept.
    Copied,
    /// Copied row for row, ids kept, replacing the default rows the
    /// migrations put there (a new site's first newsletter): those do not
    /// make a target "hold a site".
    Defaulted,
    /// Not copied; emptied on the target when a copy replaces a site there.
    Dropped(&'static str),
    /// Not copied; the target keeps its own.
    Kept(&'static str),
    /// Derived from other tables: rebuilt on the target, never copied.
    Rebuilt,
}

use Treatment::*;

/// Every table of the schema (both dialects; SQLite's FTS5 shadow tables
/// belong to `post_search`), and what a copy does with it. The `Copied` tables
/// are written in this order, parents before the tables that refer to them,
/// and emptied in the reverse order. A table missing here stops a copy
/// before it starts, and fails the store's tests.
pub(crate) const TABLES: &[(&str, Treatment)] = &[
    ("settings", Copied),
    ("authors", Copied),
    ("tags", Copied),
    ("staff_users", Copied),
    ("media", Copied),
    ("tiers", Defaulted),
    ("tier_benefits", Copied),
    ("posts", Copied),
    ("post_tags", Copied),
    ("post_tiers", Copied),
    ("post_authors", Copied),
    ("post_notes", Copied),
    ("live_entries", Copied),
    ("post_revisions", Copied),
    ("slug_redirects", Copied),
    ("review_comments", Copied),
    ("members", Copied),
    ("member_events", Copied),
    ("newsletters", Defaulted),
    ("member_newsletters", Copied),
    ("labels", Copied),
    ("member_labels", Copied),
    ("campaigns", Copied),
    ("api_keys", Copied),
    ("webhooks", Copied),
    ("webhook_deliveries", Copied),
    ("email_sends", Copied),
    ("email_recipients", Copied),
    ("stripe_customers", Copied),
    ("stripe_products", Copied),
    ("stripe_prices", Copied),
    ("stripe_subscriptions", Copied),
    // Kept so that Stripe's repeats of events already handled stay ignored.
    ("stripe_events", Copied),
    ("donations", Copied),
    (
        "staff_sessions",
        Dropped("signed-in desk sessions: staff sign in again on the new database"),
    ),
    (
        "one_time_tokens",
        Dropped("unused set-up and password-reset links: ask for a new one"),
    ),
    ("signin_failures", Dropped("sign-in throttling counts")),
    (
        "member_sessions",
        Dropped("signed-in members' sessions: members sign in again on the new database"),
    ),
    (
        "member_requests",
        Dropped("pending sign-ups and unused sign-in links: ask for a new one"),
    ),
    (
        "change_log",
        Kept(
            "the change log that running servers follow stays each database's own; \
             the copy adds one entry saying the whole site changed",
        ),
    ),
    (
        "schema_migrations",
        Kept("each database records its own migrations"),
    ),
    ("post_search", Rebuilt),
    ("post_search_keys", Rebuilt),
];

/// The tables a copy leaves out, with why, for its report.
pub(crate) fn not_copied() -> Vec<NotCopied> {
    TABLES
        .iter()
        .filter_map(|&(table, t)| match t {
            Dropped(why) | Kept(why) => Some(NotCopied { table, why }),
            Rebuilt => Some(NotCopied {
                table,
                why: "the search index is rebuilt from the copied posts",
            }),
            Copied | Defaulted => None,
        })
        .collect()
}

/// Columns that exist in one dialect only and hold what the target derives
/// from other columns (such as a PostgreSQL full-text `tsvector`): never
/// copied, `(table, column)`. Generated columns are left out by the
/// catalogs themselves.
pub(crate) const DERIVED_COLUMNS: &[(&str, &str)] = &[];

/// What the writer calls as it goes.
pub(crate) type ProgressFn = dyn Fn(CopyProgress) + Send + Sync;

/// Rows sent to the target at a time.
pub(crate) const BATCH_ROWS: usize = 500;
/// Batches in flight between the reader and the writer.
pub(crate) const CHANNEL_BATCHES: usize = 4;
/// Progress is said every this many rows of a large table.
pub(crate) const PROGRESS_EVERY: u64 = 10_000;

/// One table as a database's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogTable {
    pub name: String,
    /// In the table's order.
    pub columns: Vec<String>,
    /// The primary key's columns, in key order (empty if none).
    pub primary_key: Vec<String>,
}

/// One table to copy: the columns in the target's order, and the source's
/// primary key to read it in (so reads are deterministic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyTable {
    pub name: &'static str,
    pub columns: Vec<String>,
    pub order_by: Vec<String>,
    /// Migrations fill this table with defaults, which the copy replaces:
    /// rows in it alone do not make the target non-empty.
    pub defaulted: bool,
}

impl CopyTable {
    /// `SELECT cols FROM table ORDER BY key`, identifiers quoted.
    pub(crate) fn select_sql(&self) -> String {
        let mut sql = format!(
            "SELECT {} FROM {}",
            column_list(&self.columns),
            quote_ident(self.name)
        );
        if !self.order_by.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(&column_list(&self.order_by));
        }
        sql
    }

    pub(crate) fn column_list(&self) -> String {
        column_list(&self.columns)
    }
}

fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name` as an SQL identifier, quoted (both dialects use double quotes).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The decision for `table`, if the copy knows it.
pub(crate) fn treatment(table: &str) -> Option<Treatment> {
    TABLES.iter().find(|(t, _)| *t == table).map(|&(_, t)| t)
}

/// What a copy will do, worked out from both databases' catalogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyPlan {
    /// The tables to copy, in the order to write them.
    pub tables: Vec<CopyTable>,
    /// The target's tables a replacing copy empties first, children first.
    pub emptied: Vec<&'static str>,
    /// The target's derived tables, rebuilt after the copy.
    pub rebuilt: Vec<&'static str>,
}

/// Checks both catalogs against [`TABLES`] and works out the plan. Refuses
/// a table the copy has no decision for (a schema newer than this code:
/// copying would silently leave it behind) and a copied table whose columns
/// differ between the two databases.
pub(crate) fn plan(source: &[CatalogTable], target: &[CatalogTable]) -> StoreResult<CopyPlan> {
    for (side, catalog) in [("source", source), ("target", target)] {
        if let Some(t) = catalog.iter().find(|t| treatment(&t.name).is_none()) {
            return Err(StoreError::Other(format!(
                "the {side} database has a table, {}, that this build's copy does not know how to \
                 treat; nothing was copied (the list is masthead-store's copy::TABLES)",
                t.name
            )));
        }
    }
    let mut tables = Vec::new();
    for &(name, t) in TABLES {
        if !matches!(t, Copied | Defaulted) {
            continue;
        }
        let find = |catalog: &[CatalogTable], side: &str| {
            catalog
                .iter()
                .find(|t| t.name == name)
                .cloned()
                .ok_or_else(|| {
                    StoreError::Other(format!(
                        "the {side} database has no table {name}; are both databases at this \
                         build's schema version?"
                    ))
                })
        };
        let from = find(source, "source")?;
        let to = find(target, "target")?;
        let copied = |t: &CatalogTable| -> Vec<String> {
            t.columns
                .iter()
                .filter(|c| !DERIVED_COLUMNS.contains(&(name, c.as_str())))
                .cloned()
                .collect()
        };
        let columns = copied(&to);
        let mut a = copied(&from);
        let mut b = columns.clone();
        a.sort();
        b.sort();
        if a != b {
            return Err(StoreError::Other(format!(
                "table {name} has different columns in the source ({}) and the target ({}); \
                 nothing was copied",
                from.columns.join(", "),
                to.columns.join(", ")
            )));
        }
        tables.push(CopyTable {
            name,
            columns,
            order_by: from.primary_key,
            defaulted: t == Defaulted,
        });
    }
    let on_target = |wanted: fn(Treatment) -> bool| -> Vec<&'static str> {
        TABLES
            .iter()
            .filter(|&&(name, t)| wanted(t) && target.iter().any(|c| c.name == name))
            .map(|&(name, _)| name)
            .collect()
    };
    let mut emptied = on_target(|t| matches!(t, Copied | Defaulted | Dropped(_)));
    emptied.reverse();
    Ok(CopyPlan {
        tables,
        emptied,
        rebuilt: on_target(|t| t == Rebuilt),
    })
}

/// One value on its way from one database to the other, in the few shapes
/// the schema uses. SQLite's 0/1 flags arrive as `Int` and PostgreSQL's as
/// `Bool`; each writer converts to its own column's type, refusing what
/// does not fit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

impl Cell {
    /// What the value is, for messages (never the value itself: it may be a
    /// secret, such as a webhook's signing key).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Cell::Null => "NULL",
            Cell::Int(_) => "an integer",
            Cell::Bool(_) => "a boolean",
            Cell::Text(_) => "text",
            Cell::Bytes(_) => "bytes",
        }
    }
}

/// What the reader sends the writer.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Rows of the current table, each with the plan's columns in order.
    Rows(Vec<Vec<Cell>>),
    /// The current table is done; the next chunk starts the next one.
    EndOfTable(&'static str),
    /// Every table is done: the writer may commit.
    Done,
}

/// What a writer says when the reader stopped without saying [`Chunk::Done`]
/// (the reader's own error says why).
pub(crate) fn source_stopped() -> StoreError {
    StoreError::Other("the source stopped sending rows before the end".into())
}

/// Says where an error happened, keeping its kind.
pub(crate) fn in_context(what: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::NotFound => StoreError::Other(format!("{what}: not found")),
        StoreError::Conflict(m) => StoreError::Conflict(format!("{what}: {m}")),
        StoreError::Invalid(m) => StoreError::Invalid(format!("{what}: {m}")),
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{what}: {m}")),
        StoreError::Other(m) => StoreError::Other(format!("{what}: {m}")),
    }
}

/// Tells the writer's progress callback about `rows` more rows of `table`.
pub(crate) struct TableCount {
    pub table: &'static str,
    pub rows: u64,
}

impl TableCount {
    pub(crate) fn new(table: &'static str) -> TableCount {
        TableCount { table, rows: 0 }
    }

    /// Counts `n` rows written; says so when a multiple of
    /// [`PROGRESS_EVERY`] was passed.
    pub(crate) fn add(&mut self, n: usize, progress: &ProgressFn) {
        let before = self.rows / PROGRESS_EVERY;
        self.rows += n as u64;
        if self.rows / PROGRESS_EVERY > before {
            progress(CopyProgress::Rows {
                table: self.table,
                rows: self.rows,
            });
        }
    }
}

/// The reader and the writer disagree on the plan (a bug).
pub(crate) fn out_of_step(detail: &str) -> StoreError {
    StoreError::Other(format!("copy out of step: {detail}"))
}

/// The source ended table `got` while the target was writing `table`:
/// they must be the same.
pub(crate) fn expect_end(table: &'static str, got: &str) -> StoreResult<()> {
    if got == table {
        Ok(())
    } else {
        Err(out_of_step(&format!(
            "the source ended {got} while the target was writing {table}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, columns: &[&str]) -> CatalogTable {
        CatalogTable {
            name: name.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            primary_key: vec![columns[0].to_owned()],
        }
    }

    fn full_catalog() -> Vec<CatalogTable> {
        TABLES.iter().map(|(t, _)| table(t, &["id", "x"])).collect()
    }

    #[test]
    fn every_table_has_one_decision() {
        let mut names: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a table is listed twice in TABLES");
    }

    #[test]
    fn the_plan_follows_tables_and_takes_the_targets_column_order() {
        let source = full_catalog();
        let mut target = full_catalog();
        target[0].columns.reverse();
        let plan = plan(&source, &target).expect("plan");
        let copied: Vec<&str> = TABLES
            .iter()
            .filter(|(_, t)| matches!(t, Copied | Defaulted))
            .map(|(n, _)| *n)
            .collect();
        let names: Vec<&str> = plan.tables.iter().map(|t| t.name).collect();
        assert_eq!(names, copied);
        let first = &plan.tables[0];
        assert_eq!(first.columns, ["x", "id"]);
        assert_eq!(first.order_by, ["id"]);
        assert_eq!(
            first.select_sql(),
            "SELECT \"x\", \"id\" FROM \"settings\" ORDER BY \"id\""
        );
        // Emptied children first: deliveries before their webhooks, every
        // table before settings; sessions too, though never copied.
        let at = |t: &str| plan.emptied.iter().position(|e| *e == t);
        assert!(at("webhook_deliveries") < at("webhooks"));
        assert!(at("staff_sessions") < at("staff_users"));
        assert_eq!(plan.emptied.last(), Some(&"settings"));
        assert_eq!(at("change_log"), None, "the target keeps its change log");
        assert_eq!(plan.rebuilt, ["post_search", "post_search_keys"]);

        // A target without the SQLite-only search table rebuilds the rest.
        let target: Vec<CatalogTable> = full_catalog()
            .into_iter()
            .filter(|t| t.name != "post_search")
            .collect();
        assert_eq!(
            super::plan(&source, &target).expect("plan").rebuilt,
            ["post_search_keys"]
        );
    }

    #[test]
    fn an_unknown_table_or_different_columns_stop_the_copy() {
        let mut source = full_catalog();
        source.push(table("gift_cards", &["id"]));
        let err = plan(&source, &full_catalog()).expect_err("unknown table");
        assert!(err.to_string().contains("gift_cards"), "{err}");
        assert!(err.to_string().contains("source"), "{err}");

        let mut target = full_catalog();
        target[3].columns.push("added_later".into());
        let err = plan(&full_catalog(), &target).expect_err("columns differ");
        assert!(err.to_string().contains("staff_users"), "{err}");

        let target: Vec<CatalogTable> = full_catalog()
            .into_iter()
            .filter(|t| t.name != "members")
            .collect();
        let err = plan(&full_catalog(), &target).expect_err("missing table");
        assert!(err.to_string().contains("no table members"), "{err}");
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_ident("posts"), "\"posts\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
