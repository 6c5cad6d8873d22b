//! The SQLite side of copying a site between databases (see `crate::copy`):
//! the catalog, reading every table in one read transaction (one snapshot
//! of the WAL, so the site may keep serving and writing meanwhile), and
//! writing them in the writer's one transaction.

use masthead_model::{ChangeTopic, CopyProgress, CopyReport, TargetNotEmpty};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use tokio::sync::mpsc;

use super::Writer;
use crate::copy::{
    BATCH_ROWS, CatalogTable, Cell, Chunk, CopyPlan, ProgressFn, TableCount, expect_end,
    in_context, out_of_step, quote_ident, source_stopped,
};
use crate::error::{StoreError, StoreResult};

/// Every table of the main schema (FTS5's shadow tables, which belong to
/// their virtual table, and SQLite's own `sqlite_*` tables left out).
pub fn catalog(c: &Connection) -> StoreResult<Vec<CatalogTable>> {
    let names: Vec<String> = c
        .prepare(
            "SELECT name FROM pragma_table_list
              WHERE schema = 'main' AND type IN ('table', 'virtual')
                AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
              ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::with_capacity(names.len());
    let mut columns = c.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
    for name in names {
        let rows: Vec<(String, i64)> = columns
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut key: Vec<(i64, String)> = rows
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(c, pk)| (*pk, c.clone()))
            .collect();
        key.sort();
        tables.push(CatalogTable {
            name,
            columns: rows.into_iter().map(|(c, _)| c).collect(),
            primary_key: key.into_iter().map(|(_, c)| c).collect(),
        });
    }
    Ok(tables)
}

/// Reads every table of `plan` in one read transaction and sends the rows
/// to `out` in batches, then [`Chunk::Done`]. Runs on a blocking thread. If
/// the writer goes away (it failed, and its error says why), it stops.
pub fn read_site(c: &Connection, plan: &CopyPlan, out: &mpsc::Sender<Chunk>) -> StoreResult<()> {
    // WAL: every statement of this transaction sees the database as it was
    // at the first read, whatever is committed meanwhile.
    let tx = c.unchecked_transaction()?;
    for table in &plan.tables {
        let mut stmt = tx.prepare(&table.select_sql())?;
        let width = table.columns.len();
        let mut rows = stmt.query([])?;
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(width);
            for (i, column) in table.columns.iter().enumerate() {
                cells.push(cell(row.get_ref(i)?, table.name, column)?);
            }
            batch.push(cells);
            if batch.len() == BATCH_ROWS
                && out
                    .blocking_send(Chunk::Rows(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(BATCH_ROWS),
                    )))
                    .is_err()
            {
                return Ok(());
            }
        }
        if !batch.is_empty() && out.blocking_send(Chunk::Rows(batch)).is_err() {
            return Ok(());
        }
        if out.blocking_send(Chunk::EndOfTable(table.name)).is_err() {
            return Ok(());
        }
    }
    let _ = out.blocking_send(Chunk::Done);
    Ok(())
}

fn cell(v: ValueRef<'_>, table: &str, column: &str) -> StoreResult<Cell> {
    Ok(match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Text(t) => Cell::Text(String::from_utf8(t.to_vec()).map_err(|_| {
            StoreError::Invalid(format!(
                "{table}.{column} holds text that is not valid UTF-8; nothing was copied"
            ))
        })?),
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
        ValueRef::Real(_) => {
            return Err(StoreError::Invalid(format!(
                "{table}.{column} holds a floating-point number, which no column of Masthead's \
                 schema should; nothing was copied"
            )));
        }
    })
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null => ValueRef::Null,
            Cell::Int(i) => ValueRef::Integer(*i),
            // The schema's flags are 0/1 integers with a CHECK.
            Cell::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Cell::Text(s) => ValueRef::Text(s.as_bytes()),
            Cell::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

impl Writer<'_> {
    /// The target's half of a copy, in this writer's transaction: refuses a
    /// database that holds a site unless `replace` (then empties it first),
    /// writes every table of `plan` from `rows` with ids kept, rebuilds the
    /// search index and notes the change. Nothing is committed unless the
    /// source said [`Chunk::Done`].
    pub(crate) fn copy_site_in(
        &self,
        plan: &CopyPlan,
        rows: &mut mpsc::Receiver<Chunk>,
        replace: bool,
        progress: &ProgressFn,
    ) -> StoreResult<Result<CopyReport, TargetNotEmpty>> {
        let tx = self.tx();
        let mut held = Vec::new();
        for table in &plan.tables {
            let n: i64 = tx.query_row(
                &format!("SELECT COUNT(*) FROM {}", quote_ident(table.name)),
                [],
                |r| r.get(0),
            )?;
            if n > 0 && !table.defaulted {
                held.push((table.name, n as u64));
            }
        }
        if !held.is_empty() && !replace {
            return Ok(Err(TargetNotEmpty { tables: held }));
        }
        let replaced = !held.is_empty();
        for table in &plan.emptied {
            tx.execute(&format!("DELETE FROM {}", quote_ident(table)), [])
                .map_err(|e| in_context(&format!("emptying {table}"), e.into()))?;
        }

        let mut written = Vec::with_capacity(plan.tables.len());
        for table in &plan.tables {
            let placeholders: Vec<String> =
                (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
            let mut insert = tx.prepare(&format!(
                "INSERT INTO {} ({}) VALUES ({})",
                quote_ident(table.name),
                table.column_list(),
                placeholders.join(", ")
            ))?;
            let mut count = TableCount::new(table.name);
            loop {
                match rows.blocking_recv() {
                    Some(Chunk::Rows(batch)) => {
                        for row in &batch {
                            insert
                                .execute(rusqlite::params_from_iter(row.iter()))
                                .map_err(|e| {
                                    in_context(&format!("writing {}", table.name), e.into())
                                })?;
                        }
                        count.add(batch.len(), progress);
                    }
                    Some(Chunk::EndOfTable(name)) => {
                        expect_end(table.name, name)?;
                        break;
                    }
                    Some(Chunk::Done) => {
                        return Err(out_of_step(&format!(
                            "the source finished while the target was writing {}",
                            table.name
                        )));
                    }
                    None => return Err(source_stopped()),
                }
            }
            progress(CopyProgress::Table {
                table: table.name,
                rows: count.rows,
            });
            written.push((table.name, count.rows));
        }
        match rows.blocking_recv() {
            Some(Chunk::Done) => {}
            Some(_) => return Err(out_of_step("the source sent more tables than planned")),
            None => return Err(source_stopped()),
        }

        progress(CopyProgress::SearchIndex);
        self.rebuild_search_index()?;
        // Servers following this database's change log drop every cached page.
        self.log_change(ChangeTopic::Site, None, None)?;
        progress(CopyProgress::Committing);
        Ok(Ok(CopyReport {
            tables: written,
            not_copied: crate::copy::not_copied(),
            replaced,
            search_rebuilt: true,
        }))
    }
}
