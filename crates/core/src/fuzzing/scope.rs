//! The `scope` parameter (`scope::ScopeSet`, RFC 6749 §3.3).

use crate::scope::{MAX_SCOPE_LEN, MAX_SCOPE_VALUES, ScopeSet};

/// The fuzzer's bytes up to the first `\n` are a requested scope, the rest a client's
/// allowed scopes. A parsed scope is at most `MAX_SCOPE_VALUES` distinct values of
/// `scope-token` characters, in request order, that parse back to themselves; a
/// resolved scope never holds a value outside the allowed ones; every refusal is
/// `invalid_scope`.
pub fn check(data: &[u8]) {
    let (requested, allowed) = super::split_two(data);
    let (Ok(requested), Ok(allowed)) = (std::str::from_utf8(requested), std::str::from_utf8(allowed)) else {
        return;
    };
    match ScopeSet::parse(requested) {
        Ok(set) => {
            assert!(requested.len() <= MAX_SCOPE_LEN);
            let values: Vec<&str> = set.iter().collect();
            assert!(values.len() <= MAX_SCOPE_VALUES);
            for (i, v) in values.iter().enumerate() {
                assert!(!v.is_empty());
                assert!(
                    v.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)),
                    "{v:?}"
                );
                assert!(!values[..i].contains(v), "{v:?} twice");
            }
            let first_seen: Vec<&str> =
                requested.split(' ').filter(|t| !t.is_empty()).fold(Vec::new(), |mut acc, t| {
                    if !acc.contains(&t) {
                        acc.push(t);
                    }
                    acc
                });
            assert_eq!(values, first_seen);
            assert_eq!(ScopeSet::parse(&set.to_string_list()).expect("our own list parses"), set);
        }
        Err(e) => assert_eq!(e.code.as_str(), "invalid_scope"),
    }
    let allowed: Vec<String> = allowed.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect();
    let defaults: Vec<String> = allowed.iter().step_by(2).cloned().collect();
    for requested in [Some(requested), None] {
        match ScopeSet::resolve(requested, &allowed, &defaults) {
            Ok(set) => assert!(set.first_outside(&allowed).is_none(), "a scope outside the allowed ones"),
            Err(e) => assert_eq!(e.code.as_str(), "invalid_scope"),
        }
    }
}
