//! The checks behind the `cargo fuzz` targets in `fuzz/`, shared with the replay of
//! their corpora in the normal test suite so the two cannot drift. Each takes the
//! fuzzer's bytes, runs one parser on them, and panics when an invariant breaks:
//! besides "never panics", each states what a parser may accept (see each module).
//! Compiled only for tests and under the `fuzzing` feature, never into the server.

pub mod form;
pub mod jwt;
pub mod redirect;
pub mod scope;
pub mod tokens;

use std::path::PathBuf;

/// `fuzz/corpus/<target>/` of this repository.
pub fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

/// Runs `check` on every file of `target`'s committed corpus, in name order, and
/// returns how many there were. An empty or missing corpus fails: a replay that
/// checks nothing would pass forever.
pub fn replay_corpus(target: &str, check: fn(&[u8])) -> usize {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        if let Err(panic) = outcome {
            eprintln!("corpus file {} broke an invariant", file.display());
            std::panic::resume_unwind(panic);
        }
    }
    files.len()
}

/// The fuzzer's bytes cut at the first `\n`: two inputs from one.
pub fn split_two(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

#[cfg(test)]
mod replay {
    use super::*;

    #[test]
    fn form_corpus_replays() {
        replay_corpus("form", form::check_form);
    }

    #[test]
    fn basic_auth_corpus_replays() {
        replay_corpus("basic_auth", form::check_basic_auth);
    }

    #[test]
    fn token_strings_corpus_replays() {
        replay_corpus("token_strings", tokens::check);
    }

    #[test]
    fn jwt_corpus_replays() {
        replay_corpus("jwt", jwt::check);
    }

    #[test]
    fn redirect_uri_corpus_replays() {
        replay_corpus("redirect_uri", redirect::check);
    }

    #[test]
    fn scope_corpus_replays() {
        replay_corpus("scope", scope::check);
    }
}
