//! The PostgreSQL backend against a real server: the one named by
//! `MASTHEAD_TEST_DATABASE_URL` (scripts/test.sh starts a throwaway cluster
//! when it is unset; `scripts/pg.sh start` does it by hand). Without it these
//! tests fail, never skip. Each test makes its own database, so they run in
//! parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use super::PgStore;
use super::migrate::{self, LOCK_KEY, MIGRATIONS, Migration};
use crate::error::StoreError;

const URL_VAR: &str = "MASTHEAD_TEST_DATABASE_URL";

pub(crate) fn base_config() -> Config {
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: the PostgreSQL tests need a real server. \
             Run them through scripts/test.sh (it starts a throwaway cluster), or start one with \
             `eval \"$(scripts/pg.sh start)\"` and stop it afterwards with \
             `scripts/pg.sh stop \"$MASTHEAD_PG_DIR\"`."
        )
    });
    url.parse()
        .unwrap_or_else(|e| panic!("{URL_VAR} is not a valid PostgreSQL URL: {e}"))
}

async fn connect(config: &Config) -> Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server ({URL_VAR}): {e}"));
    tokio::spawn(connection);
    client
}

/// A database of its own on the test server, dropped at the end.
pub(crate) struct TestDb {
    name: String,
    config: Config,
}

impl TestDb {
    pub(crate) async fn new(tag: &str) -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t_{tag}_{}_{}_{}",
            std::process::id(),
            crate::now_ms(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        connect(&base_config())
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} (the role needs CREATEDB): {e}"));
        let mut config = base_config();
        config.dbname(&name);
        TestDb { name, config }
    }

    pub(crate) async fn store(&self) -> PgStore {
        PgStore::connect_config(self.config.clone())
            .await
            .expect("connect to the test database")
    }

    pub(crate) async fn migrated(&self) -> PgStore {
        let store = self.store().await;
        store.migrate().await.expect("migrate");
        store
    }

    pub(super) async fn client(&self) -> Client {
        connect(&self.config).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // The test's runtime cannot block here: drop it from a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok((client, connection)) = base_config().connect(NoTls).await {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A directory of its own for a SQLite file, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "masthead-pg-{tag}-{}-{}-{}",
            std::process::id(),
            crate::now_ms(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A migrated SQLite file, opened plainly for inspection.
fn migrated_sqlite(dir: &TempDir) -> rusqlite::Connection {
    let path = dir.0.join("masthead.db");
    drop(crate::sqlite::SqliteStore::open(&path).expect("open and migrate SQLite"));
    rusqlite::Connection::open(&path).expect("open SQLite")
}

// --- migration files ----------------------------------------------------------

fn migration_stems(dialect: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let name = entry.expect("directory entry").file_name();
            let name = name.to_string_lossy().into_owned();
            name.strip_suffix(".sql")
                .unwrap_or_else(|| panic!("{dialect}/{name}: not an .sql file"))
                .to_owned()
        })
        .collect();
    stems.sort();
    stems
}

#[test]
fn both_dialects_have_the_same_migrations() {
    let sqlite = migration_stems("sqlite");
    let postgres = migration_stems("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "every migration needs a file for each dialect, with the same version and name \
         (migrations/sqlite and migrations/postgres)"
    );
    for (i, stem) in sqlite.iter().enumerate() {
        let (version, name) = stem.split_once('_').expect("NNNN_name");
        assert_eq!(version.len(), 4, "{stem}: a four-digit version");
        assert_eq!(
            version.parse::<usize>().ok(),
            Some(i + 1),
            "{stem}: versions run 1, 2, 3…"
        );
        assert!(!name.is_empty(), "{stem}: a name after the version");
    }
}

#[test]
fn every_postgres_migration_file_is_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let stems = migration_stems("postgres");
    let embedded: Vec<String> = MIGRATIONS
        .iter()
        .map(|m| format!("{:04}_{}", m.version, m.name))
        .collect();
    assert_eq!(
        embedded, stems,
        "postgres/migrate.rs MIGRATIONS lists every file, in order"
    );
    for m in MIGRATIONS {
        let file = dir.join(format!("{:04}_{}.sql", m.version, m.name));
        let text = std::fs::read_to_string(&file).expect("migration file");
        assert_eq!(m.sql, text, "{} is the embedded text", file.display());
    }
}

// --- migrating -----------------------------------------------------------------

async fn applied_rows(client: &Client) -> Vec<(i64, String)> {
    client
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("schema_migrations")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn migrate_applies_everything_once_and_refuses_a_newer_schema() {
    let db = TestDb::new("idem").await;
    let store = db.store().await;
    assert_eq!(store.schema_version().await.expect("version"), 0);

    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(store.migrate().await.expect("first run"), all);
    assert_eq!(
        store.schema_version().await.expect("version"),
        PgStore::newest_known_version()
    );
    assert_eq!(
        store.migrate().await.expect("second run"),
        Vec::<i64>::new()
    );
    let expected: Vec<(i64, String)> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    let client = db.client().await;
    assert_eq!(applied_rows(&client).await, expected);

    // A database migrated by a newer Masthead is left alone.
    client
        .execute(
            "INSERT INTO schema_migrations VALUES (999, 'from_the_future', 0)",
            &[],
        )
        .await
        .expect("insert");
    match store.migrate().await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_migrations_take_turns() {
    let db = TestDb::new("race").await;
    let stores = [db.store().await, db.store().await, db.store().await];
    let (a, b, c) = tokio::join!(
        stores[0].migrate(),
        stores[1].migrate(),
        stores[2].migrate()
    );
    let mut runs = vec![a.expect("a"), b.expect("b"), c.expect("c")];
    runs.sort();
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(
        runs,
        vec![vec![], vec![], all],
        "one run applies everything, the others nothing"
    );
    assert_eq!(
        applied_rows(&db.client().await).await.len(),
        MIGRATIONS.len()
    );
}

#[tokio::test]
async fn migrate_waits_for_the_advisory_lock_and_releases_it() {
    let db = TestDb::new("lock").await;
    let store = db.store().await;
    let holder = db.client().await;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .expect("lock");

    let run = tokio::spawn({
        let store = store.clone();
        async move { store.migrate().await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !run.is_finished(),
        "migrate must wait while another session holds the lock"
    );
    assert_eq!(store.schema_version().await.expect("version"), 0);

    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .expect("unlock");
    let applied = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("migrate finishes once the lock is free")
        .expect("task")
        .expect("migrate");
    assert_eq!(applied.len(), MIGRATIONS.len());

    // And the run let go of it.
    let free: bool = holder
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .expect("try lock")
        .get(0);
    assert!(free, "migrate released the advisory lock");
}

#[tokio::test]
async fn a_failed_migration_leaves_the_version_before_it() {
    let db = TestDb::new("fail").await;
    let steps = [
        Migration {
            version: 1,
            name: "good",
            sql: "CREATE TABLE first_table (x BIGINT)",
        },
        // A version with nothing to do in this dialect is a comment only.
        Migration {
            version: 2,
            name: "nothing",
            sql: "-- SQLite-only change; nothing to do here.\n",
        },
        Migration {
            version: 3,
            name: "broken",
            sql: "CREATE TABLE second_table (x BIGINT); SELECT no_such_function();",
        },
    ];
    match migrate::run(&db.config, &steps).await {
        Err(StoreError::Other(m)) => assert!(m.contains("0003_broken"), "{m}"),
        other => panic!("expected the broken migration to fail, got {other:?}"),
    }
    let client = db.client().await;
    assert_eq!(
        applied_rows(&client).await,
        vec![(1, "good".to_owned()), (2, "nothing".to_owned())]
    );
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        ["first_table", "schema_migrations"],
        "second_table rolled back"
    );
    let free: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .expect("try lock")
        .get(0);
    assert!(free, "a failed run releases the advisory lock too");
}

// --- schema parity -------------------------------------------------------------

/// Business rules that SQLite keeps in triggers and PostgreSQL does not: they
/// move into Rust (issue 9 item 1). The PostgreSQL schema has no triggers.
/// Deliberate differences, for what each dialect does its own way (full-text
/// search: FTS5 virtual tables in SQLite, which the comparison leaves out by
/// itself, against a `tsvector` column and a GIN index here). Each entry is
/// `(table, name)`.
/// The change log's writing transaction: SQLite commits one writer at a
/// time in id order, so its reader needs no such column (see
/// `postgres/changes.rs`); and the search index's `tsvector` (SQLite's
/// index is the FTS5 table).
const POSTGRES_ONLY_COLUMNS: &[(&str, &str)] =
    &[("change_log", "txid"), ("post_search_keys", "document")];
const POSTGRES_ONLY_INDEXES: &[(&str, &str)] = &[
    ("change_log", "change_log_txid"),
    ("post_search_keys", "post_search_keys_document"),
];

const SQLITE_ONLY_TRIGGERS: &[&str] = &[
    "posts_uuid_default",
    "webhooks_post_published_insert",
    "webhooks_post_status",
    "webhooks_member_added",
];

#[derive(Debug, PartialEq)]
struct Column {
    name: String,
    /// SQLite's declared type, or PostgreSQL's `format_type`.
    ty: String,
    not_null: bool,
    /// Normalised: quotes kept, casts and case dropped.
    default: Option<String>,
    /// PostgreSQL: the column's collation, when it is not the type's default.
    collation: Option<String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    name: String,
    unique: bool,
    /// Key columns, " DESC" appended where descending.
    columns: Vec<String>,
    /// Normalised WHERE clause of a partial index.
    predicate: Option<String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    column: String,
    table: String,
    to: String,
    on_delete: String,
}

#[derive(Debug, Default, PartialEq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    /// Columns of single-column `INTEGER PRIMARY KEY` (SQLite) or identity
    /// (PostgreSQL): ids the database hands out.
    generated_id: Option<String>,
    unique: BTreeSet<Vec<String>>,
    indexes: BTreeSet<Index>,
    foreign_keys: BTreeSet<ForeignKey>,
    checks: usize,
    /// SQLite: the 0/1 columns (`CHECK (x IN (0, 1))`).
    flags: BTreeSet<String>,
}

fn normalise_sql(s: &str) -> String {
    s.replace("::text", "")
        .replace("::bigint", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect::<String>()
        .to_lowercase()
}

fn sqlite_schema(c: &rusqlite::Connection) -> BTreeMap<String, Table> {
    let mut tables = BTreeMap::new();
    let names: Vec<(String, String)> = c
        .prepare(
            // `table` only: virtual tables (FTS5) and their shadow tables are
            // each dialect's own business.
            "SELECT l.name, s.sql FROM pragma_table_list() l
               JOIN sqlite_schema s ON s.name = l.name AND s.type = 'table'
              WHERE l.schema = 'main' AND l.type = 'table'
                AND l.name NOT LIKE 'sqlite_%' AND l.name <> 'schema_migrations'",
        )
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    for (name, sql) in names {
        let mut t = Table::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut stmt = c
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
            )
            .expect("prepare");
        let rows = stmt
            .query_map([&name], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .expect("columns");
        for row in rows {
            let (column, ty, not_null, default, pk_pos) = row.expect("column");
            if pk_pos > 0 {
                pk.push((pk_pos, column.clone()));
            }
            if sql.contains(&format!("CHECK ({column} IN (0, 1))")) {
                t.flags.insert(column.clone());
            }
            t.columns.push(Column {
                name: column,
                ty,
                // Primary keys here are rowid aliases or in WITHOUT ROWID
                // tables: never NULL, though SQLite does not say NOT NULL.
                not_null: not_null || pk_pos > 0,
                default: default.map(|d| normalise_sql(&d)),
                collation: None,
            });
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        if t.primary_key.len() == 1 {
            let id = &t.primary_key[0];
            if t.columns.iter().any(|c| &c.name == id && c.ty == "INTEGER") {
                t.generated_id = Some(id.clone());
            }
        }
        t.checks = sql.matches("CHECK (").count();

        let mut stmt = c
            .prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)")
            .expect("prepare");
        let indexes: Vec<(String, bool, String, bool)> = stmt
            .query_map([&name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .expect("indexes")
            .collect::<Result<_, _>>()
            .expect("indexes");
        for (index, unique, origin, partial) in indexes {
            let columns: Vec<String> = c
                .prepare(
                    "SELECT name, \"desc\" FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
                )
                .expect("prepare")
                .query_map([&index], |r| {
                    let column: String = r.get(0)?;
                    let desc: bool = r.get(1)?;
                    Ok(if desc { format!("{column} DESC") } else { column })
                })
                .expect("index columns")
                .collect::<Result<_, _>>()
                .expect("index columns");
            match origin.as_str() {
                "u" => {
                    t.unique.insert(columns);
                }
                "pk" => {}
                _ => {
                    let predicate = partial.then(|| {
                        let sql: String = c
                            .query_row(
                                "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
                                [&index],
                                |r| r.get(0),
                            )
                            .expect("index sql");
                        let at = sql.to_uppercase().rfind(" WHERE ").expect("WHERE");
                        normalise_sql(&sql[at + 7..])
                    });
                    t.indexes.insert(Index {
                        name: index,
                        unique,
                        columns,
                        predicate,
                    });
                }
            }
        }

        let mut stmt = c
            .prepare(
                "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?1)",
            )
            .expect("prepare");
        t.foreign_keys = stmt
            .query_map([&name], |r| {
                Ok(ForeignKey {
                    column: r.get(0)?,
                    table: r.get(1)?,
                    to: r.get(2)?,
                    on_delete: r.get(3)?,
                })
            })
            .expect("foreign keys")
            .collect::<Result<_, _>>()
            .expect("foreign keys");
        tables.insert(name, t);
    }
    tables
}

async fn postgres_schema(c: &Client) -> BTreeMap<String, Table> {
    let mut tables = BTreeMap::new();
    let names: Vec<String> = c
        .query(
            "SELECT relname::text FROM pg_class
              WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'
                AND relname <> 'schema_migrations'",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in names {
        let mut t = Table::default();
        for r in c
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                        pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,
                        CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END
                   FROM pg_attribute a
                   JOIN pg_type t ON t.oid = a.atttypid
                   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                   LEFT JOIN pg_collation co ON co.oid = a.attcollation
                  WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum",
                &[&name],
            )
            .await
            .expect("columns")
        {
            let column: String = r.get(0);
            let ty: String = r.get(1);
            let default: Option<String> = r.get(3);
            let identity: String = r.get(4);
            if !identity.is_empty() {
                assert_eq!(
                    identity, "d",
                    "{name}.{column}: GENERATED BY DEFAULT, so explicit ids work"
                );
                t.generated_id = Some(column.clone());
            }
            // Flags are BOOLEAN here and 0/1 in SQLite.
            let default = default.map(|d| match (ty.as_str(), d.as_str()) {
                ("boolean", "false") => "0".to_owned(),
                ("boolean", "true") => "1".to_owned(),
                _ => normalise_sql(&d),
            });
            t.columns.push(Column {
                name: column,
                ty,
                not_null: r.get(2),
                default,
                collation: r.get(5),
            });
        }
        for r in c
            .query(
                "SELECT c.contype::text,
                        ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                               ORDER BY k.o)
                   FROM pg_constraint c
                  WHERE c.conrelid = $1::text::regclass AND c.contype IN ('p', 'u', 'c')",
                &[&name],
            )
            .await
            .expect("constraints")
        {
            let kind: String = r.get(0);
            let columns: Vec<String> = r.get(1);
            match kind.as_str() {
                "p" => t.primary_key = columns,
                "u" => {
                    t.unique.insert(columns);
                }
                _ => t.checks += 1,
            }
        }
        for r in c
            .query(
                "SELECT ic.relname::text, i.indisunique, pg_get_expr(i.indpred, i.indrelid),
                        ARRAY(SELECT a.attname::text ||
                                     CASE WHEN i.indoption[k.o - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                                FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
                                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                               ORDER BY k.o)
                   FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                  WHERE i.indrelid = $1::text::regclass
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                     WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                                       AND c.contype IN ('p', 'u'))",
                &[&name],
            )
            .await
            .expect("indexes")
        {
            let predicate: Option<String> = r.get(2);
            t.indexes.insert(Index {
                name: r.get(0),
                unique: r.get(1),
                columns: r.get(3),
                predicate: predicate.map(|p| normalise_sql(&p)),
            });
        }
        for r in c
            .query(
                "SELECT a.attname::text, cf.relname::text, af.attname::text, c.confdeltype::text
                   FROM pg_constraint c
                   JOIN pg_class cf ON cf.oid = c.confrelid
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                   JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
                  WHERE c.conrelid = $1::text::regclass AND c.contype = 'f'",
                &[&name],
            )
            .await
            .expect("foreign keys")
        {
            let action: String = r.get(3);
            t.foreign_keys.insert(ForeignKey {
                column: r.get(0),
                table: r.get(1),
                to: r.get(2),
                on_delete: match action.as_str() {
                    "c" => "CASCADE",
                    "n" => "SET NULL",
                    "r" => "RESTRICT",
                    "d" => "SET DEFAULT",
                    _ => "NO ACTION",
                }
                .to_owned(),
            });
        }
        tables.insert(name, t);
    }
    tables
}

/// The type a SQLite column has in PostgreSQL (docs/architecture.md,
/// "PostgreSQL dialect").
fn postgres_type(sqlite_type: &str, flag: bool) -> &'static str {
    match (sqlite_type, flag) {
        ("INTEGER", true) => "boolean",
        ("INTEGER", false) => "bigint",
        ("TEXT", _) => "text",
        ("BLOB", _) => "bytea",
        (other, _) => panic!("no PostgreSQL type decided for SQLite's {other}"),
    }
}

#[tokio::test]
async fn postgres_schema_matches_sqlite() {
    let dir = TempDir::new("parity");
    let lite = migrated_sqlite(&dir);
    let db = TestDb::new("parity").await;
    db.migrated().await;
    let pg_client = db.client().await;
    let sqlite = sqlite_schema(&lite);
    let mut postgres = postgres_schema(&pg_client).await;
    for (name, t) in &mut postgres {
        t.columns
            .retain(|c| !POSTGRES_ONLY_COLUMNS.contains(&(name.as_str(), c.name.as_str())));
        t.indexes
            .retain(|i| !POSTGRES_ONLY_INDEXES.contains(&(name.as_str(), i.name.as_str())));
    }

    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (name, s) in &sqlite {
        let p = &postgres[name];
        let s_cols: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
        let p_cols: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(s_cols, p_cols, "{name}: the same columns in the same order");
        for (sc, pc) in s.columns.iter().zip(&p.columns) {
            let what = format!("{name}.{}", sc.name);
            let flag = s.flags.contains(&sc.name);
            assert_eq!(pc.ty, postgres_type(&sc.ty, flag), "{what}: type");
            assert_eq!(sc.not_null, pc.not_null, "{what}: NOT NULL");
            assert_eq!(sc.default, pc.default, "{what}: default");
            let collation = (pc.ty == "text").then(|| "C".to_owned());
            assert_eq!(
                pc.collation, collation,
                "{what}: text compares bytewise, as SQLite's BINARY"
            );
        }
        assert_eq!(s.primary_key, p.primary_key, "{name}: primary key");
        assert_eq!(
            s.generated_id, p.generated_id,
            "{name}: database-assigned id"
        );
        assert_eq!(s.unique, p.unique, "{name}: unique constraints");
        assert_eq!(s.indexes, p.indexes, "{name}: indexes");
        assert_eq!(s.foreign_keys, p.foreign_keys, "{name}: foreign keys");
        // A BOOLEAN needs no CHECK (x IN (0, 1)); every other CHECK is ported.
        assert_eq!(
            s.checks - s.flags.len(),
            p.checks,
            "{name}: CHECK constraints"
        );
    }

    let lite_triggers: Vec<String> = lite
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("triggers")
        .collect::<Result<_, _>>()
        .expect("triggers");
    for t in &lite_triggers {
        assert!(
            SQLITE_ONLY_TRIGGERS.contains(&t.as_str()),
            "SQLite trigger {t} has no PostgreSQL counterpart: port it (or its rule, into Rust)"
        );
    }
    let pg_triggers: i64 = pg_client
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal",
            &[],
        )
        .await
        .expect("triggers")
        .get(0);
    assert_eq!(
        pg_triggers, 0,
        "business rules live in Rust, not in PostgreSQL triggers"
    );
}

// --- values ----------------------------------------------------------------------

#[tokio::test]
async fn values_round_trip_as_the_port_will_use_them() {
    let db = TestDb::new("values").await;
    db.migrated().await;
    let c = db.client().await;

    // Millisecond times past 2^31 and booleans, ids from RETURNING.
    let at: i64 = 1_767_225_600_123;
    let tag_id: i64 = c
        .query_one(
            "INSERT INTO tags (slug, name, is_section, position, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&"world", &"World", &true, &3_i64, &at],
        )
        .await
        .expect("insert tag")
        .get(0);
    let row = c
        .query_one(
            "SELECT is_section, position, created_at, description FROM tags WHERE id = $1",
            &[&tag_id],
        )
        .await
        .expect("tag");
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i64>(1), 3);
    assert_eq!(row.get::<_, i64>(2), at);
    assert_eq!(row.get::<_, String>(3), "", "defaults apply");
    // Flags compare with TRUE/FALSE (which SQLite reads as 1/0 too), not 1/0.
    let sections: i64 = c
        .query_one("SELECT count(*) FROM tags WHERE is_section = TRUE", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(sections, 1);

    // NULLable numbers are Option<i64>.
    let post_id: i64 = c
        .query_one(
            "INSERT INTO posts (kind, slug, title, primary_tag_id, created_at, updated_at, published_at)
             VALUES ('article', 'a', 'A', $1, $2, $2, $3) RETURNING id",
            &[&tag_id, &at, &None::<i64>],
        )
        .await
        .expect("insert post")
        .get(0);
    let row = c
        .query_one(
            "SELECT published_at, featured, review, uuid FROM posts WHERE id = $1",
            &[&post_id],
        )
        .await
        .expect("post");
    assert_eq!(row.get::<_, Option<i64>>(0), None);
    assert!(!row.get::<_, bool>(1));
    assert_eq!(row.get::<_, String>(2), "none");
    assert_eq!(
        row.get::<_, Option<String>>(3),
        None,
        "no uuid default in the schema: Rust gives one (issue 9 item 1)"
    );

    // BYTEA keys.
    let user_id: i64 = c
        .query_one(
            "INSERT INTO staff_users (email, email_key, name, role, password_hash, created_at, updated_at)
             VALUES ('E@x.org', 'e@x.org', 'E', 'owner', 'h', $1, $1) RETURNING id",
            &[&at],
        )
        .await
        .expect("user")
        .get(0);
    let hash: Vec<u8> = (0..32).map(|i| i * 7).collect();
    c.execute(
        "INSERT INTO staff_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, 'csrf', $3, $3, $3)",
        &[&hash, &user_id, &at],
    )
    .await
    .expect("session");
    let found: i64 = c
        .query_one(
            "SELECT user_id FROM staff_sessions WHERE token_hash = $1",
            &[&hash],
        )
        .await
        .expect("session by hash")
        .get(0);
    assert_eq!(found, user_id);

    // Upserts: ON CONFLICT … DO UPDATE / DO NOTHING, as the SQLite code writes them.
    for value in ["one", "two"] {
        c.execute(
            "INSERT INTO settings (key, value) VALUES ('title', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&value],
        )
        .await
        .expect("upsert");
    }
    let title: String = c
        .query_one("SELECT value FROM settings WHERE key = 'title'", &[])
        .await
        .expect("setting")
        .get(0);
    assert_eq!(title, "two");
    let mut joined = Vec::new();
    for _ in 0..2 {
        joined.push(
            c.query_opt(
                "INSERT INTO members (email, email_key, created_at) VALUES ('M@x.org', 'm@x.org', $1)
                 ON CONFLICT (email_key) DO NOTHING RETURNING id",
                &[&at],
            )
            .await
            .expect("join")
            .map(|r| r.get::<_, i64>(0)),
        );
    }
    assert!(joined[0].is_some() && joined[1].is_none(), "{joined:?}");

    // Foreign keys act as in SQLite.
    c.execute(
        "INSERT INTO post_tags (post_id, tag_id, position) VALUES ($1, $2, 0)",
        &[&post_id, &tag_id],
    )
    .await
    .expect("post tag");
    c.execute("DELETE FROM tags WHERE id = $1", &[&tag_id])
        .await
        .expect("delete tag");
    let row = c
        .query_one(
            "SELECT primary_tag_id, (SELECT count(*) FROM post_tags WHERE post_id = $1)
               FROM posts WHERE id = $1",
            &[&post_id],
        )
        .await
        .expect("post");
    assert_eq!(row.get::<_, Option<i64>>(0), None, "ON DELETE SET NULL");
    assert_eq!(row.get::<_, i64>(1), 0, "ON DELETE CASCADE");
}

#[tokio::test]
async fn constraint_errors_are_conflicts() {
    let db = TestDb::new("conflict").await;
    let store = db.migrated().await;
    let c = store.client().await.expect("client");
    let insert =
        "INSERT INTO posts (kind, slug, title, created_at, updated_at) VALUES ($1, $2, 'T', 0, 0)";
    c.execute(insert, &[&"article", &"taken"])
        .await
        .expect("first");
    let attempts: [(&str, &str, &str); 2] = [
        ("article", "taken", "posts_slug_key"),   // UNIQUE
        ("podcast", "fresh", "posts_kind_check"), // CHECK
    ];
    for (kind, slug, constraint) in attempts {
        let e: StoreError = c
            .execute(insert, &[&kind, &slug])
            .await
            .expect_err("refused")
            .into();
        match e {
            StoreError::Conflict(m) => assert!(m.contains(constraint), "{m}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    let e: StoreError = c
        .execute(
            "INSERT INTO post_notes (post_id, kind, noted_at, note) VALUES (12345, 'update', 0, 'n')",
            &[],
        )
        .await
        .expect_err("no such post")
        .into();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
}

#[tokio::test]
async fn explicit_ids_work_once_sequences_are_moved_past_them() {
    let db = TestDb::new("ids").await;
    let store = db.migrated().await;
    let c = store.client().await.expect("client");
    // A copy or an import keeps its ids…
    for id in [1_i64, 7] {
        c.execute(
            "INSERT INTO authors (id, slug, name, created_at) VALUES ($1, $2, 'A', 0)",
            &[&id, &format!("a{id}")],
        )
        .await
        .expect("explicit id");
    }
    // …and the identity sequence does not know about them:
    let e: StoreError = c
        .query_one(
            "INSERT INTO authors (slug, name, created_at) VALUES ('next', 'N', 0) RETURNING id",
            &[],
        )
        .await
        .expect_err("collides with id 1")
        .into();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");

    store.resync_id_sequences().await.expect("resync");
    let id: i64 = c
        .query_one(
            "INSERT INTO authors (slug, name, created_at) VALUES ('next', 'N', 0) RETURNING id",
            &[],
        )
        .await
        .expect("after resync")
        .get(0);
    assert_eq!(id, 8, "the next id follows the largest");
    // Empty tables start at 1; resyncing twice changes nothing.
    store.resync_id_sequences().await.expect("again");
    let tag: i64 = c
        .query_one(
            "INSERT INTO tags (slug, name, created_at) VALUES ('t', 'T', 0) RETURNING id",
            &[],
        )
        .await
        .expect("tag")
        .get(0);
    assert_eq!(tag, 1);
}

/// The same SQL text gives the same rows on both backends: what the port
/// relies on for text order, case folding and NULL order.
#[tokio::test]
async fn text_order_case_folding_and_nulls_agree_with_sqlite() {
    let dir = TempDir::new("collate");
    let lite = migrated_sqlite(&dir);
    let db = TestDb::new("collate").await;
    db.migrated().await;
    let c = db.client().await;

    let names = ["b", "B", "a", "É", "é", "Zed", "ä"];
    for (i, name) in names.iter().enumerate() {
        let slug = format!("t{i}");
        lite.execute(
            "INSERT INTO tags (slug, name, created_at) VALUES (?1, ?2, 0)",
            [&slug, *name],
        )
        .expect("sqlite insert");
        c.execute(
            "INSERT INTO tags (slug, name, created_at) VALUES ($1, $2, 0)",
            &[&slug, name],
        )
        .await
        .expect("postgres insert");
    }
    // Nullable numbers, in a scratch table on each side.
    lite.execute_batch(
        "CREATE TEMP TABLE n (id INTEGER PRIMARY KEY, name TEXT NOT NULL, v INTEGER);
         INSERT INTO n VALUES (1, 'one', 10), (2, 'two', NULL), (3, 'three', 30), (4, 'four', NULL);",
    )
    .expect("sqlite scratch");
    c.batch_execute(
        "CREATE TEMP TABLE n (id BIGINT PRIMARY KEY, name TEXT NOT NULL, v BIGINT);
         INSERT INTO n VALUES (1, 'one', 10), (2, 'two', NULL), (3, 'three', 30), (4, 'four', NULL);",
    )
    .await
    .expect("postgres scratch");

    async fn pg_names(c: &Client, sql: &str) -> Vec<String> {
        c.query(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
    let lite_names = |sql: &str| -> Vec<String> {
        lite.prepare(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };

    // Byte order, whatever the database's locale.
    let sql = "SELECT name FROM tags ORDER BY name, id";
    assert_eq!(lite_names(sql), pg_names(&c, sql).await);
    assert_eq!(lite_names(sql), ["B", "Zed", "a", "b", "É", "ä", "é"]);
    // SQLite's NOCASE folds ASCII only; lower() on a "C" column does the same.
    assert_eq!(
        lite_names("SELECT name FROM tags ORDER BY name COLLATE NOCASE, id"),
        pg_names(&c, "SELECT name FROM tags ORDER BY lower(name), id").await
    );
    // SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE is its match.
    assert_eq!(
        lite_names("SELECT name FROM tags WHERE name LIKE 'b%' OR name LIKE 'é' ORDER BY id"),
        pg_names(
            &c,
            "SELECT name FROM tags WHERE name ILIKE 'b%' OR name ILIKE 'é' ORDER BY id"
        )
        .await
    );
    // NULLs: smallest in SQLite, largest in PostgreSQL. Spelled out, both agree.
    for sql in [
        "SELECT name FROM n ORDER BY v DESC NULLS LAST, id",
        "SELECT name FROM n ORDER BY v ASC NULLS FIRST, id",
        "SELECT name FROM n WHERE v IS NOT DISTINCT FROM NULL ORDER BY id",
    ] {
        assert_eq!(lite_names(sql), pg_names(&c, sql).await, "{sql}");
    }
    let bare = "SELECT name FROM n ORDER BY v DESC, id";
    assert_ne!(
        lite_names(bare),
        pg_names(&c, bare).await,
        "without NULLS FIRST/LAST the backends differ: the port must spell it out"
    );
}

// --- connecting -------------------------------------------------------------------

#[tokio::test]
async fn connection_problems_are_clear_and_keep_the_password_out() {
    match PgStore::connect("postgres://bad url with spaces:::").await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("database URL"), "{m}"),
        Err(other) => panic!("expected Invalid, got {other:?}"),
        Ok(_) => panic!("expected Invalid, got a store"),
    }

    let base = base_config();
    let mut wrong = base.clone();
    wrong.password("not-the-password-4242");
    match PgStore::connect_config(wrong).await {
        Err(StoreError::Unavailable(m)) => {
            assert!(m.contains("password"), "{m}");
            assert!(!m.contains("not-the-password-4242"), "{m}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("a wrong password connected"),
    }
    let mut missing = base.clone();
    missing.dbname("no_such_database_here");
    assert!(matches!(
        PgStore::connect_config(missing).await,
        Err(StoreError::Unavailable(_))
    ));

    // No TLS yet: a URL that demands it is refused, saying why.
    let mut tls = base.clone();
    tls.ssl_mode(tokio_postgres::config::SslMode::Require);
    match PgStore::connect_config(tls).await {
        Err(e) => assert!(e.to_string().contains("TLS"), "{e}"),
        Ok(_) => panic!("sslmode=require connected without TLS"),
    }

    // The URL as given works, through the public entry point.
    let url = std::env::var(URL_VAR).expect("checked by base_config");
    let store = crate::PgStore::connect(&url).await.expect("connect");
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn the_schema_goes_where_search_path_says() {
    let db = TestDb::new("path").await;
    db.client()
        .await
        .batch_execute("CREATE SCHEMA site")
        .await
        .expect("schema");
    let mut config = db.config.clone();
    config.options("-csearch_path=site");
    let store = PgStore::connect_config(config).await.expect("connect");
    assert_eq!(
        store.migrate().await.expect("migrate").len(),
        MIGRATIONS.len()
    );
    store
        .resync_id_sequences()
        .await
        .expect("resync in that schema");
    let c = db.client().await;
    let count = |schema: &'static str| {
        let c = &c;
        async move {
            c.query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
                &[&schema],
            )
            .await
            .expect("count")
            .get::<_, i64>(0)
        }
    };
    assert_eq!(count("site").await, 42, "41 tables and schema_migrations");
    assert_eq!(count("public").await, 0);
}

/// After a bulk write the planner must know the tables are no longer empty:
/// `analyze` (run after a seed, an import and a copy) records statistics for
/// every table of the site's schema, and the home page's feed then walks its
/// index instead of sorting the whole archive.
#[tokio::test]
async fn analyze_gives_the_planner_statistics_of_every_table() {
    let db = TestDb::new("analyze").await;
    let store = db.migrated().await;
    let client = db.client().await;
    let never = "SELECT COUNT(*) FROM pg_stat_user_tables
                 WHERE schemaname = current_schema() AND last_analyze IS NULL";
    let before: i64 = client.query_one(never, &[]).await.expect("stats").get(0);
    assert!(before > 0, "a fresh schema has tables never analyzed");
    store.analyze().await.expect("analyze");
    // The statistics collector reports asynchronously: give it a moment.
    let mut after = before;
    for _ in 0..50 {
        client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .expect("clear the stats snapshot");
        after = client.query_one(never, &[]).await.expect("stats").get(0);
        if after == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(after, 0, "every table of the schema is analyzed");
}
