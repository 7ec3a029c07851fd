//! The plans of PostgreSQL's batch statements (`postgres::BATCH_PLANNING`): planned
//! once per connection while the tables are empty, they must still be right once the
//! tables hold millions of rows, so they may read indexes only, and each `UNNEST`
//! once.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The highest `$N` of `sql`: how many parameters `EXECUTE` must be given.
fn parameters(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// Each batch statement's generic plan, made on a fresh database (empty tables, no
/// statistics), as `(name, plan)`, under `settings`.
async fn plans(url: &str, settings: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    for (name, value) in settings {
        sqlx::raw_sql(AssertSqlSafe(format!("SET {name} = {value}"))).execute(&mut conn).await.unwrap();
    }
    let (statements, _) = portcullis_store::testing::postgres_batch_statements();
    let mut plans = Vec::new();
    for (name, sql) in statements {
        sqlx::raw_sql(AssertSqlSafe(format!("PREPARE batch AS {sql}"))).execute(&mut conn).await.unwrap();
        let nulls = vec!["NULL"; parameters(sql)].join(", ");
        let explain = if nulls.is_empty() {
            "EXPLAIN EXECUTE batch".to_owned()
        } else {
            format!("EXPLAIN EXECUTE batch({nulls})")
        };
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(explain)).fetch_all(&mut conn).await.unwrap();
        sqlx::raw_sql("DEALLOCATE batch").execute(&mut conn).await.unwrap();
        plans.push((*name, plan.join("\n")));
    }
    plans
}

/// What would read a whole table, or every row of one side of a join.
fn reads_a_whole_table(plan: &str) -> bool {
    ["Seq Scan", "Hash Join", "Merge Join", "Hash Semi Join", "Hash Anti Join", "Hash Right"]
        .iter()
        .any(|m| plan.contains(m))
}

/// Whether some nested loop runs an `UNNEST` (a function scan) as its inner side,
/// that is once for every row of its outer side: a batch then costs the square of its
/// size. Read off the text plan, where a node's children are the `->` lines two
/// columns right of its name, the outer one first.
fn rescans_an_unnest(plan: &str) -> bool {
    let lines: Vec<&str> = plan.lines().collect();
    let name_column = |line: &str| {
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with("->") { indent + 4 } else { indent }
    };
    lines.iter().enumerate().any(|(at, line)| {
        if !line.trim_start().trim_start_matches("->").trim_start().starts_with("Nested Loop") {
            return false;
        }
        let column = name_column(line);
        let children: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| l.len() - l.trim_start().len() > column)
            .filter(|l| l.len() - l.trim_start().len() == column + 2 && l.trim_start().starts_with("->"))
            .map(|l| l.trim_start().trim_start_matches("->").trim_start())
            .collect();
        children.get(1).is_some_and(|inner| inner.starts_with("Function Scan"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_batch_plans_read_indexes_only() {
    crate::harness::postgres("batch_plans", |url| async move {
        let _migrated = crate::harness::open(&url).await;
        let (statements, settings) = portcullis_store::testing::postgres_batch_statements();
        assert!(settings.contains(&("plan_cache_mode", "force_generic_plan")), "{settings:?}");
        let planned = plans(&url, settings).await;
        assert_eq!(planned.len(), statements.len());
        for (name, plan) in &planned {
            assert!(!reads_a_whole_table(plan), "{name}: \n{plan}");
            assert!(!rescans_an_unnest(plan), "{name} runs an UNNEST once per row: \n{plan}");
        }
        // Why the settings are more than `plan_cache_mode`: the generic plans made on
        // empty tables without them do read whole tables.
        let generic_only = plans(&url, &settings[..1]).await;
        assert!(generic_only.iter().any(|(_, plan)| reads_a_whole_table(plan)), "{generic_only:#?}");
    })
    .await;
}
