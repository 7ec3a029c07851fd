//! SQLite: a realm's verifying keys read on the hot path's readers. The JWK set reads
//! them on every request (so that a key rotated at another instance is published at
//! once), and that endpoint is anonymous: through sqlx each read was a hand-off to a
//! worker thread and back (bench/README.md, "The JWK set").

use portcullis_core::at_rest::AtRest;
use portcullis_core::model::SigningKeyRecord;
use portcullis_core::store::StoreResult;
use rusqlite::Connection;

use super::errors::map_rusqlite as map_err;
use super::statements::{Columns, named};
use crate::rows::SigningKeyRow;
use crate::sealing::open_key;
use crate::sql;

/// The keys that still verify at `now`, newest first, their private parts opened.
pub(super) fn verifying(
    conn: &Connection,
    at_rest: &AtRest,
    realm: &str,
    now: i64,
) -> StoreResult<Vec<SigningKeyRecord>> {
    let mut statement = conn.prepare_cached(sql::KEY_LIST_VERIFYING).map_err(map_err)?;
    let rows = statement
        .query_map(&named([&realm, &now])[..], |r| {
            let mut c = Columns::new(r);
            Ok(SigningKeyRow {
                kid: c.get("kid")?,
                realm: c.get("realm")?,
                alg: c.get("alg")?,
                private_pem: c.get("private_pem")?,
                created_at: c.get("created_at")?,
                retired_at: c.get("retired_at")?,
                verify_until: c.get("verify_until")?,
            })
        })
        .map_err(map_err)?;
    rows.map(|row| open_key(at_rest, SigningKeyRecord::try_from(row.map_err(map_err)?)?)).collect()
}
