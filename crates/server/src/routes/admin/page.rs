//! Pagination of list endpoints: `?limit=N&after=CURSOR`. Items are in a stable order
//! (ascending by their id: names for realms, ids for the rest), and the cursor is the
//! id of the last item of a page, so a page never repeats or skips an item that
//! existed through the whole listing, whatever is created or deleted meanwhile.
//! Each page is cut from the full list the store returns (the lists are
//! administrative: realms, a realm's clients, users, keys, grants); a keyset query in
//! the store is the next step if a realm's lists grow large.

use utoipa::IntoParams;

use super::error::AdminApiError;
use super::extract::QueryParams;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// Query parameters of every list endpoint.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by hand from `QueryParams`; this type documents them.
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
}

pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `limit` and `after`; `extra` names further parameters the route accepts.
    pub fn from_query(q: &QueryParams, extra: &[&str]) -> Result<Self, AdminApiError> {
        let allowed: Vec<&str> = ["limit", "after"].iter().chain(extra).copied().collect();
        let limit = match q.one("limit", &allowed)? {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(AdminApiError::invalid("limit", format!("limit must be 1 to {MAX_LIMIT}"))),
            },
        };
        let after = q.one("after", &allowed)?.map(str::to_owned);
        Ok(Self { limit, after })
    }

    /// One page of `items`, ordered by `key`, and the cursor of the next page.
    pub fn page<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
        items.sort_by_key(|i| key(i));
        if let Some(after) = &self.after {
            items.retain(|i| key(i).as_str() > after.as_str());
        }
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let next = if more { items.last().map(&key) } else { None };
        (items, next)
    }
}

/// A page type: `{"items": [...], "next": CURSOR | null}`.
macro_rules! page_of {
    ($name:ident, $item:ty) => {
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `after` for the next page; null on the last page.
            pub next: Option<String>,
        }
    };
}

pub(crate) use page_of;
