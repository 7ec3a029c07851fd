use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use super::Api;

/// 25 clients paged by 10: 10, 10, 5, every client exactly once, in the same order on
/// a second walk, and a client created mid-walk does not shift what follows.
#[tokio::test]
async fn pages_are_stable_without_duplicates_or_gaps() {
    let api = Api::start().await;
    let mut created = BTreeSet::new();
    for i in 0..25 {
        let c = api.expect(Method::POST, "/realms/default/clients", Some(json!({"name": format!("c{i}")})), 201).await;
        created.insert(c["client_id"].as_str().unwrap().to_owned());
    }
    let walk = |insert_midway: bool| {
        let api = &api;
        async move {
            let (mut seen, mut sizes, mut after) = (Vec::new(), Vec::new(), None::<String>);
            loop {
                let path = match &after {
                    None => "/realms/default/clients?limit=10".to_owned(),
                    Some(a) => format!("/realms/default/clients?limit=10&after={a}"),
                };
                let page = api.expect(Method::GET, &path, None, 200).await;
                let items = page["items"].as_array().unwrap();
                sizes.push(items.len());
                seen.extend(items.iter().map(|c| c["client_id"].as_str().unwrap().to_owned()));
                if insert_midway && sizes.len() == 1 {
                    api.expect(Method::POST, "/realms/default/clients", Some(json!({"name": "late"})), 201).await;
                }
                match page["next"].as_str() {
                    Some(n) => after = Some(n.to_owned()),
                    None => break,
                }
            }
            (seen, sizes)
        }
    };
    let (first, sizes) = walk(false).await;
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(first.iter().cloned().collect::<BTreeSet<_>>(), created, "every client once");
    assert_eq!(first.len(), 25, "no duplicates");
    let (second, _) = walk(false).await;
    assert_eq!(first, second, "the same order twice");
    let (third, _) = walk(true).await;
    let without_late: Vec<_> = third.iter().filter(|id| created.contains(*id)).cloned().collect();
    assert_eq!(without_late, first, "an insertion mid-walk skips or repeats nothing");
}
