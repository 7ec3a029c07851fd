//! Where the master key comes from (README, "Master key"): `PORTCULLIS_MASTER_KEY`,
//! or a key file (`--master-key-file`, `PORTCULLIS_MASTER_KEY_FILE`, `master_key_file`),
//! or, for a SQLite file with neither, `<database file>.master-key`, generated on first
//! use. PostgreSQL without one keeps secrets in the clear: several instances must share
//! one key, so no instance may invent its own, and the stable surface lets
//! `portcullis serve --database postgres://…` start with nothing else configured.

use std::io::Write;
use std::path::{Path, PathBuf};

use portcullis_core::at_rest::{AtRest, MasterKey};

pub const ENV: &str = "PORTCULLIS_MASTER_KEY";

#[derive(Debug)]
pub enum Origin {
    Environment,
    File(PathBuf),
    /// Written just now, next to the SQLite database.
    Generated(PathBuf),
    /// An in-memory SQLite database: a key of the process, gone with the data.
    Ephemeral,
    /// PostgreSQL with no master key configured.
    None,
}

#[derive(Debug)]
pub struct Resolved {
    pub at_rest: AtRest,
    pub origin: Origin,
}

/// Reads (or, for a SQLite file with nothing configured, generates) the master key.
pub fn resolve(file: Option<&Path>, database_url: &str) -> Result<Resolved, String> {
    let from_env = std::env::var(ENV).ok().filter(|v| !v.trim().is_empty());
    let (key, origin) = match (from_env, file) {
        (Some(_), Some(file)) => {
            return Err(format!("both {ENV} and a master key file ({}) are set: set only one", file.display()));
        }
        (Some(text), None) => (Some(MasterKey::parse(&text).map_err(|e| format!("{ENV}: {e}"))?), Origin::Environment),
        (None, Some(file)) => (Some(read_file(file)?), Origin::File(file.to_owned())),
        (None, None) => match sqlite_file(database_url) {
            Some(None) => (Some(MasterKey::generate()), Origin::Ephemeral),
            Some(Some(db)) => {
                let path = PathBuf::from(format!("{}.master-key", db.display()));
                match write_new(&path)? {
                    Some(key) => (Some(key), Origin::Generated(path)),
                    None => (Some(read_file(&path)?), Origin::File(path)),
                }
            }
            None => (None, Origin::None),
        },
    };
    Ok(Resolved { at_rest: AtRest::new(key), origin })
}

pub fn read_file(path: &Path) -> Result<MasterKey, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read master key file {}: {e}", path.display()))?;
    MasterKey::parse(&text).map_err(|e| format!("master key file {}: {e}", path.display()))
}

/// A new key in a new file readable by its owner only; `None` if the file exists.
pub fn write_new(path: &Path) -> Result<Option<MasterKey>, String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(format!("cannot create master key file {}: {e}", path.display())),
    };
    let key = MasterKey::generate();
    file.write_all(format!("{}\n", key.encode()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write master key file {}: {e}", path.display()))?;
    Ok(Some(key))
}

/// `Some(Some(path))` for a SQLite file, `Some(None)` for in-memory SQLite, `None`
/// otherwise (same reading of the URL as the store's).
fn sqlite_file(url: &str) -> Option<Option<PathBuf>> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    if database == ":memory:" || database.is_empty() || params.split('&').any(|p| p == "mode=memory") {
        return Some(None);
    }
    Some(Some(PathBuf::from(database)))
}

/// The log lines an operator must see at start.
pub fn log(origin: &Origin) {
    match origin {
        Origin::Generated(path) => tracing::warn!(
            path = %path.display(),
            "GENERATED A NEW MASTER KEY: private signing keys and the pepper are sealed under the key in this \
             file. Back it up apart from the database: without it the database's keys cannot be opened"
        ),
        Origin::None => tracing::warn!(
            "NO MASTER KEY CONFIGURED: private signing keys and the pepper are stored IN THE CLEAR in PostgreSQL. \
             Give every instance the same key with PORTCULLIS_MASTER_KEY_FILE or PORTCULLIS_MASTER_KEY"
        ),
        Origin::File(path) => {
            tracing::info!(path = %path.display(), "private keys and the pepper are sealed under the master key in this file");
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path)
                && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "the master key file is readable by other users: chmod 600 it");
            }
        }
        Origin::Environment => tracing::info!("private keys and the pepper are sealed under the master key from {ENV}"),
        Origin::Ephemeral => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file_or_memory() {
        assert_eq!(sqlite_file("sqlite://dir/p.db?mode=rwc"), Some(Some(PathBuf::from("dir/p.db"))));
        assert_eq!(sqlite_file("sqlite:p.db"), Some(Some(PathBuf::from("p.db"))));
        assert_eq!(sqlite_file("sqlite::memory:"), Some(None));
        assert_eq!(sqlite_file("sqlite://x?mode=memory"), Some(None));
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[test]
    fn a_generated_key_file_is_private_and_read_back_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let first = resolve(None, &url).unwrap();
        let Origin::Generated(path) = &first.origin else { panic!("{:?}", first.origin) };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let second = resolve(None, &url).unwrap();
        assert!(matches!(second.origin, Origin::File(_)));
        assert_eq!(second.at_rest, first.at_rest);
        assert!(resolve(None, "postgres://h/db").unwrap().at_rest.key().is_none());
        let missing = resolve(Some(&dir.path().join("nope")), &url).unwrap_err();
        assert!(missing.starts_with("cannot read master key file"), "{missing}");
    }
}
