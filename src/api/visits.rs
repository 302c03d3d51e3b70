//! The specialist's work on a request, through the workflow in `service::visits`.

use super::extract::{Json, Path, Query};
use super::if_match;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{visits, Caller};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

pub use crate::service::visits::*;
pub use crate::service::PageOf;

fn with_etag(view: VisitView, status: StatusCode) -> Response {
    let version = view.version;
    let mut res = (status, axum::Json(view)).into_response();
    res.headers_mut().insert(header::ETAG, super::etag(version));
    res
}

/// Logs a coaching visit on an accepted request; the first held visit starts the work
/// (`in_progress`).
#[utoipa::path(post, path = "/api/v1/consultations/{id}/visits", tag = "specialist work", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = VisitInput,
    responses((status = 201, body = VisitView, headers(("ETag" = String))), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_visit(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<VisitInput>,
) -> Result<Response, ApiError> {
    let view = visits::create_visit(&state, &Caller::Principal(principal), id, body).await?;
    Ok(with_etag(view, StatusCode::CREATED))
}

/// The visits of a request: in full for the assigned specialist; advice (and notes, when
/// shared) for the child's mentors.
#[utoipa::path(get, path = "/api/v1/consultations/{id}/visits", tag = "specialist work", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [VisitView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_visits(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<VisitView>>, ApiError> {
    Ok(axum::Json(
        crate::service::visits::list_visits(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// Updates a visit (the assigned specialist); takes `If-Match` with the visit's ETag.
#[utoipa::path(put, path = "/api/v1/visits/{id}", tag = "specialist work", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "the visit's ETag")), request_body = VisitInput,
    responses((status = 200, body = VisitView, headers(("ETag" = String))), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 412, body = crate::error::Problem), (status = 428, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn update_visit(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<VisitInput>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let view =
        visits::update_visit(&state, &Caller::Principal(principal), id, expected, body).await?;
    Ok(with_etag(view, StatusCode::OK))
}

/// The assigned specialist closes the request with an outcome for the child. Closed requests
/// are read-only.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/close", tag = "specialist work", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CloseRequest,
    responses((status = 200, body = ClosedView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn close(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<CloseRequest>,
) -> Result<axum::Json<ClosedView>, ApiError> {
    Ok(axum::Json(
        crate::service::visits::close(&state, &Caller::Principal(principal), id, body).await?,
    ))
}

/// Everything that happened around a child, newest first: concerns, consents and withdrawals,
/// requests and their routing, visits and outcomes. For the child's mentors; for a specialist,
/// the requests they accepted, while consent is in force.
#[utoipa::path(get, path = "/api/v1/children/{id}/timeline", tag = "specialist work", security(("bearer" = [])),
    params(("id" = Uuid, Path), TimelineParams),
    responses((status = 200, body = PageOf<TimelineEntry>), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn timeline(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<TimelineParams>,
) -> Result<axum::Json<PageOf<TimelineEntry>>, ApiError> {
    Ok(axum::Json(
        crate::service::visits::timeline(&state, &Caller::Principal(principal), id, q).await?,
    ))
}

/// Records a request for early destruction of the child's data (by a parent with authority, or
/// a child of 12 or older); the retention job carries it out.
#[utoipa::path(post, path = "/api/v1/children/{id}/destruction-requests", tag = "children", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = DestructionRequest,
    responses((status = 202, body = DestructionAccepted), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn request_destruction(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<DestructionRequest>,
) -> Result<(StatusCode, axum::Json<DestructionAccepted>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(
            crate::service::visits::request_destruction(
                &state,
                &Caller::Principal(principal),
                id,
                body,
            )
            .await?,
        ),
    ))
}
