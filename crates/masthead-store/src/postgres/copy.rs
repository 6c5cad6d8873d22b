//! The PostgreSQL side of copying a site between databases (see
//! `crate::copy`): the catalog, reading every table in one `REPEATABLE READ`
//! snapshot through portals (a batch at a time, never a whole table in
//! memory), and writing them with binary `COPY` in the writer's one
//! transaction.

use deadpool_postgres::GenericClient;
use masthead_model::{ChangeTopic, CopyProgress, CopyReport, TargetNotEmpty};
use tokio::sync::mpsc;
use tokio_postgres::IsolationLevel;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::PgWriter;
use super::sql::rows;
use crate::copy::{
    BATCH_ROWS, CatalogTable, Cell, Chunk, CopyPlan, ProgressFn, TableCount, expect_end,
    in_context, out_of_step, quote_ident, source_stopped,
};
use crate::error::{StoreError, StoreResult};

/// Every ordinary table of the current schema, with its columns (generated
/// ones left out: they cannot be written, and hold what the target derives)
/// and primary key.
pub async fn catalog(c: &impl GenericClient) -> StoreResult<Vec<CatalogTable>> {
    let found = rows(
        c,
        "SELECT c.relname::text, a.attname::text,
                COALESCE(array_position(i.indkey::int2[], a.attnum), 0)::BIGINT
           FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                              AND NOT a.attisdropped AND a.attgenerated = ''
           LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
          WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
          ORDER BY c.relname, a.attnum",
        &[],
    )
    .await?;
    let mut tables: Vec<CatalogTable> = Vec::new();
    let mut keys: Vec<Vec<(i64, String)>> = Vec::new();
    for row in found {
        let table: String = row.try_get(0)?;
        let column: String = row.try_get(1)?;
        let key_at: i64 = row.try_get(2)?;
        if tables.last().is_none_or(|t| t.name != table) {
            tables.push(CatalogTable {
                name: table,
                columns: Vec::new(),
                primary_key: Vec::new(),
            });
            keys.push(Vec::new());
        }
        if key_at > 0
            && let Some(key) = keys.last_mut()
        {
            key.push((key_at, column.clone()));
        }
        if let Some(t) = tables.last_mut() {
            t.columns.push(column);
        }
    }
    for (t, mut key) in tables.iter_mut().zip(keys) {
        key.sort();
        t.primary_key = key.into_iter().map(|(_, c)| c).collect();
    }
    Ok(tables)
}

/// Reads every table of `plan` in one read-only `REPEATABLE READ`
/// transaction (one snapshot, whatever commits meanwhile) and sends the rows
/// to `out` in batches, then [`Chunk::Done`]. If the writer goes away (it
/// failed, and its error says why), it stops.
pub async fn read_site(
    client: &mut deadpool_postgres::Object,
    plan: &CopyPlan,
    out: &mpsc::Sender<Chunk>,
) -> StoreResult<()> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    for table in &plan.tables {
        let stmt = tx.prepare(&table.select_sql()).await?;
        let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
        let portal = tx.bind(&stmt, &[]).await?;
        loop {
            let found = tx.query_portal(&portal, BATCH_ROWS as i32).await?;
            let last = found.len() < BATCH_ROWS;
            if !found.is_empty() {
                let mut batch = Vec::with_capacity(found.len());
                for row in &found {
                    let mut cells = Vec::with_capacity(types.len());
                    for (i, ty) in types.iter().enumerate() {
                        cells.push(cell(row, i, ty, table.name, &table.columns[i])?);
                    }
                    batch.push(cells);
                }
                if out.send(Chunk::Rows(batch)).await.is_err() {
                    return Ok(());
                }
            }
            if last {
                break;
            }
        }
        if out.send(Chunk::EndOfTable(table.name)).await.is_err() {
            return Ok(());
        }
    }
    tx.commit().await?;
    let _ = out.send(Chunk::Done).await;
    Ok(())
}

fn cell(
    row: &tokio_postgres::Row,
    i: usize,
    ty: &Type,
    table: &str,
    column: &str,
) -> StoreResult<Cell> {
    let cell = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Cell::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map(Cell::Bool)
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        row.try_get::<_, Option<String>>(i)?.map(Cell::Text)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Bytes)
    } else {
        return Err(StoreError::Other(format!(
            "{table}.{column} is of type {ty}, which the copy does not know; nothing was copied"
        )));
    };
    Ok(cell.unwrap_or(Cell::Null))
}

/// A value converted to its target column's type, ready to bind.
enum Typed {
    Int(Option<i64>),
    Int4(Option<i32>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Typed {
    /// `cell` for a column of type `ty`; the cell back when it does not fit.
    fn of(cell: Cell, ty: &Type) -> Result<Typed, Cell> {
        Ok(match cell {
            Cell::Null if *ty == Type::INT8 => Typed::Int(None),
            Cell::Null if *ty == Type::INT4 => Typed::Int4(None),
            Cell::Null if *ty == Type::BOOL => Typed::Bool(None),
            Cell::Null if *ty == Type::TEXT || *ty == Type::VARCHAR => Typed::Text(None),
            Cell::Null if *ty == Type::BYTEA => Typed::Bytes(None),
            Cell::Int(v) if *ty == Type::INT8 => Typed::Int(Some(v)),
            Cell::Int(v) if *ty == Type::INT4 => match i32::try_from(v) {
                Ok(v) => Typed::Int4(Some(v)),
                Err(_) => return Err(Cell::Int(v)),
            },
            // SQLite's flags are 0/1 integers (a CHECK keeps them so).
            Cell::Int(0) if *ty == Type::BOOL => Typed::Bool(Some(false)),
            Cell::Int(1) if *ty == Type::BOOL => Typed::Bool(Some(true)),
            Cell::Bool(b) if *ty == Type::BOOL => Typed::Bool(Some(b)),
            Cell::Bool(b) if *ty == Type::INT8 => Typed::Int(Some(b.into())),
            Cell::Text(s) if *ty == Type::TEXT || *ty == Type::VARCHAR => Typed::Text(Some(s)),
            Cell::Bytes(b) if *ty == Type::BYTEA => Typed::Bytes(Some(b)),
            other => return Err(other),
        })
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Typed::Int(v) => v,
            Typed::Int4(v) => v,
            Typed::Bool(v) => v,
            Typed::Text(v) => v,
            Typed::Bytes(v) => v,
        }
    }
}

impl PgWriter<'_> {
    /// The target's half of a copy, in this writer's transaction: refuses a
    /// database that holds a site unless `replace` (then empties it first),
    /// writes every table of `plan` from `rows` with ids kept, moves the
    /// identity sequences past them and notes the change. Nothing is
    /// committed unless the source said [`Chunk::Done`].
    pub(crate) async fn copy_site_in(
        &self,
        plan: &CopyPlan,
        rows: &mut mpsc::Receiver<Chunk>,
        replace: bool,
        progress: &ProgressFn,
    ) -> StoreResult<Result<CopyReport, TargetNotEmpty>> {
        let tx = self.tx();
        // Other sessions may read but not write these until the copy
        // commits, so what is checked below stays true. Always in the same
        // order, so two copies cannot deadlock.
        let locked: Vec<String> = crate::copy::TABLES
            .iter()
            .filter(|(name, _)| plan.emptied.contains(name))
            .map(|(name, _)| quote_ident(name))
            .collect();
        if !locked.is_empty() {
            tx.batch_execute(&format!(
                "LOCK TABLE {} IN EXCLUSIVE MODE",
                locked.join(", ")
            ))
            .await?;
        }
        let mut held = Vec::new();
        for table in &plan.tables {
            let sql = format!("SELECT COUNT(*) FROM {}", quote_ident(table.name));
            let n: i64 = tx.query_one(sql.as_str(), &[]).await?.try_get(0)?;
            if n > 0 && !table.defaulted {
                held.push((table.name, n as u64));
            }
        }
        if !held.is_empty() && !replace {
            return Ok(Err(TargetNotEmpty { tables: held }));
        }
        let replaced = !held.is_empty();
        for table in plan.emptied.iter().chain(&plan.rebuilt) {
            tx.batch_execute(&format!("DELETE FROM {}", quote_ident(table)))
                .await
                .map_err(|e| in_context(&format!("emptying {table}"), e.into()))?;
        }

        let mut written = Vec::with_capacity(plan.tables.len());
        for table in &plan.tables {
            let n = self
                .copy_table_in(table, rows, progress)
                .await
                .map_err(|e| in_context(&format!("writing {}", table.name), e))?;
            progress(CopyProgress::Table {
                table: table.name,
                rows: n,
            });
            written.push((table.name, n));
        }
        match rows.recv().await {
            Some(Chunk::Done) => {}
            Some(_) => return Err(out_of_step("the source sent more tables than planned")),
            None => return Err(source_stopped()),
        }

        // Rows came with their ids; the next id handed out must follow them.
        super::resync_sequences(tx).await?;
        // The search index is derived: built from the copied posts.
        self.rebuild_search_index().await?;
        let search_rebuilt = true;
        // Servers following this database's change log drop every cached page.
        self.log_change(ChangeTopic::Site, None, None).await?;
        progress(CopyProgress::Committing);
        Ok(Ok(CopyReport {
            tables: written,
            not_copied: crate::copy::not_copied(),
            replaced,
            search_rebuilt,
        }))
    }

    /// One table, through binary `COPY … FROM STDIN`: the rows until the
    /// source ends the table. Returns how many.
    async fn copy_table_in(
        &self,
        table: &crate::copy::CopyTable,
        rows: &mut mpsc::Receiver<Chunk>,
        progress: &ProgressFn,
    ) -> StoreResult<u64> {
        let tx = self.tx();
        let name = quote_ident(table.name);
        let columns = table.column_list();
        let types: Vec<Type> = tx
            .prepare(&format!("SELECT {columns} FROM {name} LIMIT 0"))
            .await?
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let sql = format!("COPY {name} ({columns}) FROM STDIN (FORMAT binary)");
        let sink = tx.copy_in(sql.as_str()).await?;
        // Dropped unfinished (an error below), the COPY is aborted.
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        let mut count = TableCount::new(table.name);
        loop {
            match rows.recv().await {
                Some(Chunk::Rows(batch)) => {
                    let n = batch.len();
                    for (row_number, row) in batch.into_iter().enumerate() {
                        let mut typed = Vec::with_capacity(row.len());
                        for ((cell, ty), column) in row.into_iter().zip(&types).zip(&table.columns)
                        {
                            typed.push(Typed::of(cell, ty).map_err(|cell| {
                                StoreError::Invalid(format!(
                                    "{}.{column} of row {} holds {}, which does not fit the \
                                     target's column of type {ty}; nothing was copied",
                                    table.name,
                                    count.rows + row_number as u64 + 1,
                                    cell.kind()
                                ))
                            })?);
                        }
                        let values: Vec<&(dyn ToSql + Sync)> =
                            typed.iter().map(Typed::as_sql).collect();
                        writer.as_mut().write(&values).await?;
                    }
                    count.add(n, progress);
                }
                Some(Chunk::EndOfTable(ended)) => {
                    expect_end(table.name, ended)?;
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
        let written = writer.as_mut().finish().await?;
        if written != count.rows {
            return Err(StoreError::Other(format!(
                "PostgreSQL took {written} rows of {} where {} were sent",
                table.name, count.rows
            )));
        }
        Ok(written)
    }
}
