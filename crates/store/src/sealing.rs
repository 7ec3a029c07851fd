//! Private keys and the pepper at rest (`portcullis_core::at_rest`): what a stored
//! value is bound to, the check every start makes, the sealing of values written in the
//! clear, and `keys rewrap`. Cold-path functions per wing, as in `crate::cold`.

use portcullis_core::at_rest::{AtRest, Sealed};
use portcullis_core::model::SigningKeyRecord;
use portcullis_core::store::{StoreError, StoreResult};

pub(crate) fn key_purpose(k: &SigningKeyRecord) -> Sealed<'_> {
    Sealed::SigningKey { realm: &k.realm, kid: &k.kid, alg: k.alg.as_str() }
}

/// `record` as read from its row, with its private part opened.
pub(crate) fn open_key(at_rest: &AtRest, mut record: SigningKeyRecord) -> StoreResult<SigningKeyRecord> {
    let plain = at_rest.open(&key_purpose(&record), record.private_pem.as_bytes()).map_err(StoreError::Backend)?;
    record.private_pem =
        String::from_utf8(plain).map_err(|_| StoreError::Backend(format!("signing key {} is not text", record.kid)))?;
    Ok(record)
}

/// What a start found at rest.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AtRestReport {
    /// Values rewritten under the master key (sealed now, or rewrapped).
    pub sealed: usize,
}

pub(crate) fn log_report(report: AtRestReport) {
    if report.sealed > 0 {
        tracing::info!(
            sealed = report.sealed,
            "private keys and the pepper written in the clear are now sealed under the master key"
        );
    }
}

/// Expands, in a wing's `cold` module (after `cold_paths!`), the functions that walk
/// every sealed value.
macro_rules! sealing_paths {
    ($db:ty, $map_err:path) => {
        use portcullis_core::at_rest::Sealed;

        use $crate::sealing::AtRestReport;

        /// One stored secret: a signing key `(kid, realm, alg)`, or the pepper (`None`).
        type Stored = (Option<(String, String, String)>, Vec<u8>);

        async fn stored_secrets(conn: &mut <$db as Database>::Connection) -> StoreResult<Vec<Stored>> {
            let keys = sqlx::query_as::<$db, (String, String, String, String)>(sql::KEY_MATERIAL_ALL)
                .fetch_all(&mut *conn)
                .await
                .map_err($map_err)?;
            let pepper = sqlx::query_scalar::<$db, Vec<u8>>(sql::SETTING_GET)
                .bind("pepper")
                .fetch_optional(&mut *conn)
                .await
                .map_err($map_err)?;
            let mut all: Vec<Stored> =
                keys.into_iter().map(|(kid, realm, alg, pem)| (Some((kid, realm, alg)), pem.into_bytes())).collect();
            all.extend(pepper.map(|p| (None, p)));
            Ok(all)
        }

        fn purpose(which: &Option<(String, String, String)>) -> Sealed<'_> {
            match which {
                Some((kid, realm, alg)) => Sealed::SigningKey { realm, kid, alg },
                None => Sealed::Setting("pepper"),
            }
        }

        /// At start: every stored secret must open under the configured master key (a
        /// wrong or missing key is refused here, not at the first token), and those
        /// still in the clear are sealed once a master key is configured. Instances
        /// starting together may seal the same rows: the loser's conditional update
        /// fails, and it looks again (finding them sealed).
        pub(crate) async fn check_at_rest(pools: &Pools<$db>) -> StoreResult<AtRestReport> {
            let mut attempts = 0;
            loop {
                let mut report = AtRestReport::default();
                let mut conn = pools.read.acquire().await.map_err($map_err)?;
                let stored_now = stored_secrets(&mut conn).await?;
                drop(conn);
                for (which, stored) in stored_now {
                    pools.at_rest.open(&purpose(&which), &stored).map_err(StoreError::Backend)?;
                    if pools.at_rest.needs_sealing(&stored) {
                        report.sealed += 1;
                    }
                }
                if report.sealed == 0 {
                    return Ok(report);
                }
                attempts += 1;
                match reseal(pools, &pools.at_rest).await {
                    Ok(sealed) => return Ok(AtRestReport { sealed }),
                    Err(StoreError::Conflict(_)) if attempts < 3 => continue,
                    Err(e) => return Err(e),
                }
            }
        }

        /// Rewrites every stored secret that is not sealed under `to`'s key: opened
        /// under the pools' key (or read in the clear), sealed under `to`. One
        /// transaction, whose conditional updates fail it if another process changed
        /// a value meanwhile. Values already under `to` are left, so a rewrap cut
        /// short can be run again with the new key.
        pub(crate) async fn reseal(pools: &Pools<$db>, to: &AtRest) -> StoreResult<usize> {
            let mut tx = pools.begin().await.map_err($map_err)?;
            let mut done = 0;
            for (which, stored) in stored_secrets(&mut *tx).await? {
                if !to.needs_sealing(&stored) {
                    continue;
                }
                let what = purpose(&which);
                let plain = pools.at_rest.open(&what, &stored).map_err(StoreError::Backend)?;
                let sealed = to.seal(&what, &plain);
                let updated = match &which {
                    Some((kid, ..)) => query(sql::KEY_MATERIAL_REPLACE)
                        .bind(kid)
                        .bind(String::from_utf8_lossy(&sealed).into_owned())
                        .bind(String::from_utf8_lossy(&stored).into_owned()),
                    None => query(sql::SETTING_REPLACE).bind("pepper").bind(sealed).bind(stored),
                }
                .execute(&mut *tx)
                .await
                .map_err($map_err)?;
                if updated.rows_affected() != 1 {
                    return Err(StoreError::Conflict(
                        "a key changed while being sealed (another instance?): run again".into(),
                    ));
                }
                done += 1;
            }
            tx.commit().await.map_err($map_err)?;
            Ok(done)
        }
    };
}

pub(crate) use sealing_paths;
