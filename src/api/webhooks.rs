//! Webhook endpoints, their attempts and redelivery, through `service::webhooks`.

use super::extract::{Json, Path, Query};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::Caller;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

pub use crate::service::webhooks::*;
pub use crate::service::PageOf;

/// Registers an endpoint; an organisation hears of what concerns it (its children's requests,
/// its specialists' offers and requests, consent withdrawals).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = NewEndpoint,
    responses((status = 201, body = CreatedEndpoint), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<Uuid>,
    Json(body): Json<NewEndpoint>,
) -> Result<(StatusCode, axum::Json<CreatedEndpoint>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::webhooks::create_endpoint(
                &state,
                &Caller::Principal(principal),
                org,
                body,
            )
            .await?,
        ),
    ))
}

/// The organisation's endpoints (without secrets).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    params(("org" = Uuid, Path)), responses((status = 200, body = [EndpointView]), (status = 404, body = crate::error::Problem)))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<Uuid>,
) -> Result<axum::Json<Vec<EndpointView>>, ApiError> {
    Ok(axum::Json(
        crate::service::webhooks::list_endpoints(&state, &Caller::Principal(principal), org)
            .await?,
    ))
}

/// Every delivery attempt to an endpoint, oldest first.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/attempts", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), AttemptParams),
    responses((status = 200, body = PageOf<AttemptView>), (status = 404, body = crate::error::Problem)))]
pub async fn list_attempts(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<AttemptParams>,
) -> Result<axum::Json<PageOf<AttemptView>>, ApiError> {
    Ok(axum::Json(
        crate::service::webhooks::list_attempts(&state, &Caller::Principal(principal), id, q)
            .await?,
    ))
}

/// Sends a message again to the organisation's active endpoints.
#[utoipa::path(post, path = "/api/v1/webhook-messages/{id}/redeliver", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 202, body = Redelivery), (status = 404, body = crate::error::Problem)))]
pub async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, axum::Json<Redelivery>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(
            crate::service::webhooks::redeliver(&state, &Caller::Principal(principal), id).await?,
        ),
    ))
}

/// Changes an endpoint's url, events or status (`disabled` stops deliveries, `active` resumes).
#[utoipa::path(patch, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EndpointChange,
    responses((status = 200, body = EndpointView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<EndpointChange>,
) -> Result<axum::Json<EndpointView>, ApiError> {
    Ok(axum::Json(
        crate::service::webhooks::update_endpoint(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// Removes an endpoint with its deliveries and their attempts.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    crate::service::webhooks::delete_endpoint(&state, &Caller::Principal(principal), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret (or key pair), shown once; the previous one keeps signing beside it during the
/// overlap, so messages carry two signatures until then.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Rotation,
    responses((status = 200, body = RotatedEndpoint), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(rotation): Json<Rotation>,
) -> Result<axum::Json<RotatedEndpoint>, ApiError> {
    Ok(axum::Json(
        crate::service::webhooks::rotate_secret(
            &state,
            &Caller::Principal(principal),
            id,
            rotation,
        )
        .await?,
    ))
}
