//! SQLite: the issued tokens of one writer batch inserted in a few statements.
//!
//! Each `insert_token_if_client_at` (every token the token endpoint issues) is a row
//! that goes in only while its client is at the revision the caller authenticated
//! against. One job per token paid SQLite's per-statement work twice per request (the
//! revision read, then the insert's start, bindings and end). Here the batch's tokens
//! read each client's revision once, inside the batch's transaction (which holds the
//! write lock, so no other connection changes a client before the commit), and the
//! rows that pass go in chunks of up to `CHUNKS[0]` rows per `INSERT`.
//!
//! A chunk is one statement, so a row that breaks a constraint (a repeated id) undoes
//! the whole chunk and nothing else; its rows are then inserted one by one, so that only
//! the faulty row's caller gets the error.

use std::sync::OnceLock;

use portcullis_core::model::TokenRecord;
use portcullis_core::store::StoreResult;
use rusqlite::Connection;

use super::errors::map_rusqlite as map_err;
use super::statements::{TOKEN_VALUES, bind_token, client_revision_of};
use crate::sql;

/// Rows per statement, largest first: a batch of n tokens takes at most n / 32 + 3 + 7
/// statements, of three prepared shapes.
const CHUNKS: [usize; 3] = [32, 8, 1];

/// A token to insert if its client is still at `client_revision`.
pub(super) struct TokenInsert {
    pub(super) token: TokenRecord,
    pub(super) client_revision: i64,
}

/// Inserts each token whose client is at its revision: `Ok(true)` written, `Ok(false)`
/// not (the client changed or is gone), `Err` the row could not be written. One answer
/// per token, in order.
pub(super) fn insert_all(conn: &Connection, inserts: &[TokenInsert]) -> Vec<StoreResult<bool>> {
    let mut answers: Vec<StoreResult<bool>> = Vec::with_capacity(inserts.len());
    // The clients of one batch are few (one, under a single busy client): a short list.
    let mut revisions: Vec<(&str, &str, StoreResult<Option<i64>>)> = Vec::new();
    let mut rows: Vec<&TokenRecord> = Vec::with_capacity(inserts.len());
    let mut row_answers: Vec<usize> = Vec::with_capacity(inserts.len());
    for insert in inserts {
        let t = &insert.token;
        let known = revisions.iter().position(|(realm, client, _)| *realm == t.realm && *client == t.client_id);
        let at = match known {
            Some(i) => &revisions[i].2,
            None => {
                let read = client_revision_of(conn, &t.realm, &t.client_id);
                revisions.push((&t.realm, &t.client_id, read));
                &revisions[revisions.len() - 1].2
            }
        };
        match at {
            Ok(at) if *at == Some(insert.client_revision) => {
                row_answers.push(answers.len());
                rows.push(t);
                answers.push(Ok(true));
            }
            Ok(_) => answers.push(Ok(false)),
            Err(e) => answers.push(Err(e.clone())),
        }
    }
    for (i, outcome) in insert_rows(conn, &rows).into_iter().enumerate() {
        if let Err(e) = outcome {
            answers[row_answers[i]] = Err(e);
        }
    }
    answers
}

/// Inserts `rows` in chunks; one outcome per row, in order.
fn insert_rows(conn: &Connection, mut rows: &[&TokenRecord]) -> Vec<StoreResult<()>> {
    static STATEMENTS: OnceLock<[String; CHUNKS.len()]> = OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| CHUNKS.map(insert_statement));
    let mut outcomes = Vec::with_capacity(rows.len());
    while !rows.is_empty() {
        let (size, sql) = CHUNKS.iter().zip(statements).find(|(size, _)| **size <= rows.len()).expect("1 fits");
        let (chunk, rest) = rows.split_at(*size);
        match insert_chunk(conn, sql, chunk) {
            Ok(()) => outcomes.extend(chunk.iter().map(|_| Ok(()))),
            // One row per statement: its error is that row's.
            Err(e) if *size == 1 => outcomes.push(Err(e)),
            // A transaction SQLite rolled back whole cannot take the rows one by one.
            Err(e) if conn.is_autocommit() => outcomes.extend(chunk.iter().map(|_| Err(e.clone()))),
            Err(_) => {
                let one = &statements[CHUNKS.len() - 1];
                outcomes.extend(chunk.iter().map(|row| insert_chunk(conn, one, std::slice::from_ref(row))));
            }
        }
        rows = rest;
    }
    outcomes
}

/// Inserts `chunk` in one statement.
fn insert_chunk(conn: &Connection, sql: &str, chunk: &[&TokenRecord]) -> StoreResult<()> {
    let mut statement = conn.prepare_cached(sql).map_err(map_err)?;
    for (row, t) in chunk.iter().enumerate() {
        bind_token(&mut statement, row * TOKEN_VALUES, t)?;
    }
    statement.raw_execute().map(drop).map_err(map_err)
}

/// `INSERT` of `rows` rows of bound values.
fn insert_statement(rows: usize) -> String {
    let row = format!("({})", vec!["?"; TOKEN_VALUES].join(", "));
    format!("INSERT INTO tokens ({}) VALUES {}", sql::TOKEN_COLUMNS, vec![row; rows].join(", "))
}
