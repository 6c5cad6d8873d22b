//! `masthead copy --to URL|PATH`: the whole site into another database.
//! Wiring only: it works out the two databases from the arguments, opens
//! both (which migrates them), calls the store's `copy_to` and says on
//! standard error how far it has got. Messages name a PostgreSQL database
//! as `user@host:port/database`, never with its password.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use masthead_store::{CopyProgress, Store, describe_postgres_url};

/// The exit status when the target already holds a site and `--replace`
/// was not given: nothing was changed.
pub const REFUSED_STATUS: u8 = 3;

/// The copy was refused before anything was written (see [`REFUSED_STATUS`]).
#[derive(Debug)]
pub struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Where `--to` points.
enum Target {
    /// The URL, and where it points for messages.
    Postgres { url: String, place: String },
    /// A SQLite database file.
    Sqlite(PathBuf),
}

impl Target {
    fn parse(to: &str) -> Result<Target> {
        let to = to.trim();
        let lower = to.to_ascii_lowercase();
        let url = lower.starts_with("postgres://") || lower.starts_with("postgresql://");
        // libpq's `host=… dbname=…` form, as --database-url takes it.
        let key_value =
            !to.contains("://") && to.contains('=') && describe_postgres_url(to).is_some();
        if url || key_value {
            let Some(place) = describe_postgres_url(to) else {
                bail!(
                    "--to is not a valid PostgreSQL URL; write it as \
                     postgres://user:password@host:port/database"
                );
            };
            return Ok(Target::Postgres {
                url: to.to_owned(),
                place,
            });
        }
        if let Some((scheme, _)) = to.split_once("://") {
            // Only the scheme: the rest may hold a password.
            bail!(
                "--to takes a PostgreSQL URL (postgres://user:password@host:port/database) or \
                 the path of a SQLite database file, not a {scheme}:// address"
            );
        }
        if to.is_empty() {
            bail!("--to is empty: give a PostgreSQL URL or the path of a SQLite database file");
        }
        let path = PathBuf::from(to);
        let path = if path.is_dir() {
            path.join("masthead.db")
        } else {
            path
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            bail!(
                "--to names a file in {}, which is not a directory; create it first",
                parent.display()
            );
        }
        Ok(Target::Sqlite(path))
    }

    fn describe(&self) -> String {
        match self {
            Target::Postgres { place, .. } => format!("PostgreSQL database {place}"),
            Target::Sqlite(path) => format!("SQLite database {}", path.display()),
        }
    }
}

/// The file `path` names, resolved (it need not exist yet), for telling
/// whether two paths are one file.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            parent
                .canonicalize()
                .map_or_else(|_| path.to_owned(), |p| p.join(name))
        }
        _ => path.to_owned(),
    }
}

pub async fn run(db_url: Option<&str>, data_dir: &Path, to: &str, replace: bool) -> Result<()> {
    let target = Target::parse(to)?;
    let source_place = crate::database_place(db_url, data_dir);
    let onto_itself = match (db_url, &target) {
        (None, Target::Sqlite(path)) => resolved(&data_dir.join("masthead.db")) == resolved(path),
        (Some(url), Target::Postgres { place, .. }) => {
            describe_postgres_url(url).as_deref() == Some(place.as_str())
        }
        _ => false,
    };
    if onto_itself {
        bail!("--to names the site's own database ({source_place}); copy it elsewhere");
    }
    if db_url.is_none() && !data_dir.join("masthead.db").is_file() {
        bail!(
            "{} holds no Masthead site to copy (it has no masthead.db): name the site's data \
             directory with --data-dir, or its PostgreSQL database with --database-url",
            data_dir.display()
        );
    }
    let source = crate::open_store(db_url, data_dir).await?;
    let target_place = target.describe();
    let destination = match &target {
        Target::Postgres { url, place } => Store::open_postgres(url).await.with_context(|| {
            format!(
                "cannot open the PostgreSQL database {place} (--to): check that the server is \
                 running and reachable, that the database exists (createdb makes one) and that \
                 the user and password are right"
            )
        })?,
        Target::Sqlite(path) => Store::open_sqlite(path).with_context(|| {
            format!("cannot open the SQLite database {} (--to)", path.display())
        })?,
    };

    eprintln!(
        "Copying the site from the {source_place} to the {target_place}, in one transaction."
    );
    let started = Instant::now();
    let outcome = source
        .copy_to(&destination, replace, |p| match p {
            CopyProgress::Rows { table, rows } => eprintln!("  {table}: {} so far", count(rows)),
            CopyProgress::Table { table, rows } => eprintln!("  {table}: {}", count(rows)),
            CopyProgress::SearchIndex => eprintln!("Rebuilding the search index..."),
            CopyProgress::Committing => eprintln!("Committing..."),
        })
        .await
        .with_context(|| {
            format!(
                "the copy failed and was rolled back: none of the site was written to the \
                 {target_place}"
            )
        })?;
    let report = match outcome {
        Ok(report) => report,
        Err(not_empty) => {
            let held: Vec<String> = not_empty
                .tables
                .iter()
                .map(|(table, rows)| format!("{table}: {}", group(*rows)))
                .collect();
            return Err(Refused(format!(
                "Refused: the {target_place} already holds a site ({}). Nothing was changed. \
                 To overwrite it, copy again with --replace: it empties the target in the same \
                 transaction as the copy, so an error still leaves it as it was.",
                held.join(", ")
            ))
            .into());
        }
    };
    eprintln!(
        "Copied {} in {} tables in {:.1} s{}.",
        count(report.rows()),
        report.tables.len(),
        started.elapsed().as_secs_f64(),
        if report.replaced {
            ", replacing the site that was there"
        } else {
            ""
        }
    );
    eprintln!("Not copied:");
    for n in &report.not_copied {
        eprintln!("  {}: {}", n.table, n.why);
    }
    if report.search_rebuilt {
        eprintln!("The search index was rebuilt from the copied posts.");
    }
    eprintln!(
        "Media and content files were not copied: they stay in {} (or --media-url), and a \
         server on the copy needs the same.",
        data_dir.display()
    );
    match &target {
        Target::Postgres { place, .. } => eprintln!(
            "Serve from it with --database-url (MASTHEAD_DATABASE_URL) set to the URL of {place}."
        ),
        Target::Sqlite(path) => match path.parent() {
            Some(dir) if path.file_name().is_some_and(|n| n == "masthead.db") => eprintln!(
                "Serve from it with --data-dir {} and no --database-url.",
                if dir.as_os_str().is_empty() {
                    Path::new(".").display()
                } else {
                    dir.display()
                }
            ),
            _ => eprintln!(
                "A site's SQLite database is DATA_DIR/masthead.db: rename the file to serve from it."
            ),
        },
    }
    Ok(())
}

/// "1 row", "1,234 rows".
fn count(rows: u64) -> String {
    match rows {
        1 => "1 row".to_owned(),
        n => format!("{} rows", group(n)),
    }
}

/// 1234567 as "1,234,567".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(count(1), "1 row");
        assert_eq!(count(0), "0 rows");
        assert_eq!(count(10_000), "10,000 rows");
    }

    #[test]
    fn targets_are_told_apart_and_bad_ones_refused_without_secrets() {
        let pg = Target::parse("postgres://u:s3cret@db.example:5433/news").expect("url");
        assert_eq!(pg.describe(), "PostgreSQL database u@db.example:5433/news");
        assert!(matches!(
            Target::parse("postgresql://u@localhost/news"),
            Ok(Target::Postgres { .. })
        ));
        let dir = std::env::temp_dir();
        match Target::parse(dir.to_str().expect("path")) {
            Ok(Target::Sqlite(p)) => assert_eq!(p, dir.join("masthead.db")),
            _ => panic!("a directory means its masthead.db"),
        }
        let kv = Target::parse("host=db.example user=u dbname=news password=s3cret").expect("kv");
        assert_eq!(kv.describe(), "PostgreSQL database u@db.example:5432/news");
        for (bad, says) in [
            ("mysql://u:s3cret@h/db", "not a mysql:// address"),
            (
                "postgres://u:s3cret@h:notaport/db",
                "not a valid PostgreSQL URL",
            ),
            ("/no/such/dir/masthead.db", "/no/such/dir"),
            ("", "empty"),
        ] {
            let err = Target::parse(bad).err().expect("refused").to_string();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains("s3cret"), "{bad}: {err}");
        }
    }
}
