//! Children, their guardians and their mentor, through the workflow in `service::children`.

use super::extract::{Json, Path, Query};
use super::{etag, if_match, PageOf};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{children, Caller};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

pub use crate::service::children::*;

/// Registers a child at a location (a mentor of that location, or the organisation's
/// integration client).
#[utoipa::path(post, path = "/api/v1/children", tag = "children", security(("bearer" = [])),
    request_body = NewChild,
    responses((status = 201, body = CreatedChild), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_child(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewChild>,
) -> Result<Response, ApiError> {
    let created = children::register_child(&state, &Caller::Principal(principal), body).await?;
    let version = created.version;
    let mut res = (StatusCode::CREATED, axum::Json(created)).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// Lists children of a location; each child listed is logged as a search hit.
#[utoipa::path(get, path = "/api/v1/children", tag = "children", security(("bearer" = [])),
    params(ChildListParams),
    responses((status = 200, body = PageOf<ChildView>), (status = 403, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_children(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ChildListParams>,
) -> Result<axum::Json<PageOf<ChildView>>, ApiError> {
    Ok(axum::Json(
        children::list_children(&state, &Caller::Principal(principal), q).await?,
    ))
}

/// One child, with an `ETag` for conditional updates.
#[utoipa::path(get, path = "/api/v1/children/{id}", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ChildView, headers(("ETag" = String))), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn get_child(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let child = children::get_child(&state, &Caller::Principal(principal), id).await?;
    let version = child.version;
    let mut res = axum::Json(child).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// Corrects or moves a child: given name, date of birth (the consent rules judge the corrected
/// age), group, location within the organisation. Needs `If-Match` with the child's ETag.
#[utoipa::path(patch, path = "/api/v1/children/{id}", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "the child's ETag")),
    request_body = ChildChange,
    responses((status = 200, body = ChildView, headers(("ETag" = String))), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 412, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 428, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn update_child(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<ChildChange>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let child =
        children::update_child(&state, &Caller::Principal(principal), id, expected, body).await?;
    let version = child.version;
    let mut res = axum::Json(child).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// Records that the child left: its open requests are cancelled ("the child left"), its parent
/// links stop working, and its record's retention period runs from `left_on`.
#[utoipa::path(post, path = "/api/v1/children/{id}/leave", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Leaving,
    responses((status = 200, body = Left), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn leave(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Leaving>,
) -> Result<axum::Json<Left>, ApiError> {
    Ok(axum::Json(
        children::leave(&state, &Caller::Principal(principal), id, body).await?,
    ))
}

// ---------------------------------------------------------------- mentor

/// Sets the child's mentor; the previous assignment ends and stays in the history.
/// Takes `If-Match` with the child's ETag (412 when stale).
#[utoipa::path(put, path = "/api/v1/children/{id}/mentor", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "the child's ETag")),
    request_body = MentorChange,
    responses((status = 200, body = MentorAssignmentView, headers(("ETag" = String))), (status = 404, body = crate::error::Problem),
        (status = 412, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn assign_mentor(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<MentorChange>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let (view, version) =
        children::assign_mentor(&state, &Caller::Principal(principal), id, expected, body).await?;
    let mut res = axum::Json(view).into_response();
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// The child's mentors, most recent first.
#[utoipa::path(get, path = "/api/v1/children/{id}/mentor", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [MentorAssignmentView]), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn mentor_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<MentorAssignmentView>>, ApiError> {
    Ok(axum::Json(
        children::mentor_history(&state, &Caller::Principal(principal), id).await?,
    ))
}

// ---------------------------------------------------------------- guardians

/// Records a parent or carer of the child, with whether they hold parental authority.
#[utoipa::path(post, path = "/api/v1/children/{id}/guardians", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewGuardian,
    responses((status = 201, body = CreatedChild), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn add_guardian(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewGuardian>,
) -> Result<(StatusCode, axum::Json<CreatedChild>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(children::add_guardian(&state, &Caller::Principal(principal), id, body).await?),
    ))
}

/// The child's guardians.
#[utoipa::path(get, path = "/api/v1/children/{id}/guardians", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [GuardianView]), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_guardians(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<GuardianView>>, ApiError> {
    Ok(axum::Json(
        children::list_guardians(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// One guardian of the child.
#[utoipa::path(get, path = "/api/v1/children/{id}/guardians/{guardian_id}", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("guardian_id" = Uuid, Path)),
    responses((status = 200, body = GuardianView), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn get_guardian(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guardian_id)): Path<(Uuid, Uuid)>,
) -> Result<axum::Json<GuardianView>, ApiError> {
    Ok(axum::Json(
        children::get_guardian(&state, &Caller::Principal(principal), id, guardian_id).await?,
    ))
}

/// Corrects a guardian: parental authority and its source, name, contact. A change of authority
/// counts from now on for every consent check.
#[utoipa::path(patch, path = "/api/v1/children/{id}/guardians/{guardian_id}", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("guardian_id" = Uuid, Path)), request_body = GuardianChange,
    responses((status = 200, body = GuardianView), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn update_guardian(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, guardian_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<GuardianChange>,
) -> Result<axum::Json<GuardianView>, ApiError> {
    Ok(axum::Json(
        children::update_guardian(&state, &Caller::Principal(principal), id, guardian_id, body)
            .await?,
    ))
}
