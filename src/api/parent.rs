//! Parent links: pages a guardian (or the child, from 12) opens without an account, through the
//! workflow in `service::parent`. The token in the path is the only credential.

use super::extract::{ClientAddr, Json, Path, Query};
use crate::error::ApiError;
use crate::service::parent;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

pub use crate::service::consent::ConsentView;
pub use crate::service::parent::{
    AccessLogParams, AccessView, AskedView, ParentDecision, ParentDecisionResult, ParentPage,
    ParentWithdrawal,
};
pub use crate::service::PageOf;

/// What the link is for: the question (invitation) or the overview (standing link).
#[utoipa::path(get, path = "/api/v1/parent/{token}", tag = "parent",
    params(("token" = String, Path)),
    responses((status = 200, body = ParentPage),
        (status = 303, description = "A browser (HTML preferred over JSON) is sent to the parent's web page."),
        (status = 404, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn parent_page(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: axum::http::HeaderMap,
    Path(token): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // the invitation link opened in a browser: on to the page, recording nothing here
    if wants_html(&headers) && token.len() <= 64 {
        let to = format!("/ouder/link/{}", urlencoding_path(&token));
        return Ok(axum::response::Redirect::to(&to).into_response());
    }
    Ok(axum::Json(parent::parent_page(&state, &client, token).await?).into_response())
}

/// A browser's `Accept` (HTML before any JSON), not an API client's.
fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let html = accept.find("text/html");
    let json = accept.find("application/json");
    match (html, json) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The token as one path segment (ours are URL-safe already; anything else is escaped).
fn urlencoding_path(token: &str) -> String {
    token
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The guardian's own decision (digital). The link works once.
#[utoipa::path(post, path = "/api/v1/parent/{token}/decision", tag = "parent",
    params(("token" = String, Path)), request_body = ParentDecision,
    responses((status = 201, body = ParentDecisionResult), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 410, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn parent_decision(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(token): Path<String>,
    Json(body): Json<ParentDecision>,
) -> Result<(StatusCode, axum::Json<ParentDecisionResult>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(parent::parent_decision(&state, &client, token, body).await?),
    ))
}

/// Every consent record of the child (the guardian's own and others').
#[utoipa::path(get, path = "/api/v1/parent/{token}/consents", tag = "parent",
    params(("token" = String, Path)),
    responses((status = 200, body = [ConsentView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn parent_consents(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(token): Path<String>,
) -> Result<axum::Json<Vec<ConsentView>>, ApiError> {
    Ok(axum::Json(
        parent::parent_consents(&state, &client, token).await?,
    ))
}

/// The guardian withdraws a consent they gave; effective at once.
#[utoipa::path(post, path = "/api/v1/parent/{token}/consents/{id}/withdraw", tag = "parent",
    params(("token" = String, Path), ("id" = Uuid, Path)), request_body = ParentWithdrawal,
    responses((status = 200, body = ConsentView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 410, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn parent_withdraw(
    State(state): State<AppState>,
    client: ClientAddr,
    Path((token, id)): Path<(String, Uuid)>,
    Json(body): Json<ParentWithdrawal>,
) -> Result<axum::Json<ConsentView>, ApiError> {
    Ok(axum::Json(
        parent::parent_withdraw(&state, &client, (token, id), body).await?,
    ))
}

/// Who accessed the child's data, when, in which role and organisation, and what they did.
#[utoipa::path(get, path = "/api/v1/parent/{token}/access-log", tag = "parent",
    params(("token" = String, Path), AccessLogParams),
    responses((status = 200, body = PageOf<AccessView>), (status = 404, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn parent_access_log(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(token): Path<String>,
    Query(q): Query<AccessLogParams>,
) -> Result<axum::Json<PageOf<AccessView>>, ApiError> {
    Ok(axum::Json(
        parent::parent_access_log(&state, &client, token, q).await?,
    ))
}
