//! Teams: an account names the teams it belongs to (`User::teams`); a team exists while
//! one account names it. Read here as the realm's teams, each with its members.

use std::collections::BTreeMap;

use super::{Admin, AdminResult};

/// A team and the ids of its member accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub name: String,
    pub members: Vec<String>,
}

impl Admin<'_> {
    /// The realm's teams ordered by name, each with its members' ids in order.
    pub async fn teams(&self, realm: &str) -> AdminResult<Vec<Team>> {
        self.realm(realm).await?;
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for user in self.store.list_users(realm).await? {
            for team in &user.teams {
                by_name.entry(team.clone()).or_default().push(user.id.clone());
            }
        }
        Ok(by_name
            .into_iter()
            .map(|(name, mut members)| {
                members.sort_unstable();
                members.dedup();
                Team { name, members }
            })
            .collect())
    }
}
