//! `/admin/realms/{realm}/teams`: the teams accounts name (an account's `teams`, set
//! through the users resource), each with its members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{AdminApiError, ErrorBody};
use super::extract::{Caller, PathParams, QueryParams};
use super::page::{PageParams, PageRequest, page_of};
use super::{admin, json};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub name: String,
    /// Account ids, ascending.
    pub members: Vec<String>,
}

page_of!(TeamPage, TeamView);

#[utoipa::path(get, path = "/admin/realms/{realm}/teams", tag = "teams", operation_id = "list_teams",
    params(("realm" = String, Path), PageParams),
    responses((status = 200, description = "by team name", body = TeamPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    p: PathParams,
    q: QueryParams,
) -> Result<Response, AdminApiError> {
    let realm = p.get(0);
    caller.realm(realm)?;
    let page = PageRequest::from_query(&q, &[])?;
    let (items, next) = page.page(admin(&state).teams(realm).await?, |t| t.name.clone());
    let items = items.into_iter().map(|t| TeamView { name: t.name, members: t.members }).collect();
    Ok(json(StatusCode::OK, &TeamPage { items, next }))
}
