//! Half-written rows, found with SQL straight on the database (SECURITY-CASES R4):
//! tests run these after a crash or an injected fault to show that every grant,
//! code redemption and refresh rotation either happened whole or not at all.

use sqlx::{Connection, PgConnection, SqliteConnection};

/// What each check finds, named by the rule it breaks. Written once for both
/// databases: no boolean literals, only columns both schemas share.
const CHECKS: [(&str, &str); 4] = [
    (
        "tokens whose grant does not exist",
        "SELECT count(*) FROM tokens t WHERE t.grant_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = t.grant_id)",
    ),
    (
        "grants with no token and no code still to redeem (a grant without its tokens, \
         or a code redeemed without them)",
        "SELECT count(*) FROM grants g \
         WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = g.id) \
         AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = g.id AND c.used_at IS NULL)",
    ),
    (
        "live grants with refresh tokens but not exactly one unspent one (a rotation half done)",
        "SELECT count(*) FROM grants g WHERE g.revoked_at IS NULL \
         AND EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = g.id AND t.kind = 'refresh') \
         AND (SELECT count(*) FROM tokens t WHERE t.grant_id = g.id AND t.kind = 'refresh' \
              AND t.used_at IS NULL AND t.revoked_at IS NULL) <> 1",
    ),
    (
        "grants with refresh tokens whose access tokens do not pair with them (an issue half stored)",
        "SELECT count(*) FROM grants g \
         WHERE EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = g.id AND t.kind = 'refresh') \
         AND (SELECT count(*) FROM tokens t WHERE t.grant_id = g.id AND t.kind = 'refresh') \
          <> (SELECT count(*) FROM tokens t WHERE t.grant_id = g.id AND t.kind <> 'refresh')",
    ),
];

/// Every broken rule with how many rows break it; empty when the database is whole.
///
/// The rotation rules assume what the crash and fault tests do: a grant's refresh
/// tokens are only rotated (no grace-period retries, which leave two unspent, and no
/// single-token revocations), and the realm rotates (`RefreshPolicy::Rotate`).
pub async fn half_written_rows(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    macro_rules! run {
        ($conn:expr) => {{
            let mut conn = $conn;
            for (rule, sql) in CHECKS {
                let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
                if n > 0 {
                    found.push(format!("{n} {rule}"));
                }
            }
        }};
    }
    if url.starts_with("sqlite:") {
        run!(SqliteConnection::connect(url).await.unwrap())
    } else {
        run!(PgConnection::connect(url).await.unwrap())
    }
    found
}
