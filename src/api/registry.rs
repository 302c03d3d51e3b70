//! The registry: organisations, their childcare locations and groups, and staff. Kept by
//! admins; a partner system (integration) may read its own organisation's entries.

use super::extract::{Json, Path, Query};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::Caller;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

pub use crate::service::registry::*;
pub use crate::service::PageOf;

type Created<T> = (StatusCode, axum::Json<T>);

/// Registers an organisation (childcare, youth care or municipality).
#[utoipa::path(post, path = "/api/v1/organizations", tag = "registry", security(("bearer" = [])),
    request_body = NewOrganization,
    responses((status = 201, body = CreatedId), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_organization(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewOrganization>,
) -> Result<Created<CreatedId>, ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::registry::create_organization(
                &state,
                &Caller::Principal(principal),
                body,
            )
            .await?,
        ),
    ))
}

/// Lists organisations (admin).
#[utoipa::path(get, path = "/api/v1/organizations", tag = "registry", security(("bearer" = [])),
    params(ListParams), responses((status = 200, body = PageOf<OrganizationView>)))]
pub async fn list_organizations(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListParams>,
) -> Result<axum::Json<PageOf<OrganizationView>>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::list_organizations(&state, &Caller::Principal(principal), q)
            .await?,
    ))
}

/// One organisation (admin, or a member of it).
#[utoipa::path(get, path = "/api/v1/organizations/{org}", tag = "registry", security(("bearer" = [])),
    params(("org" = Uuid, Path)), responses((status = 200, body = OrganizationView), (status = 404, body = crate::error::Problem)))]
pub async fn get_organization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<OrganizationView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::get_organization(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}

/// Registers a childcare location; its region follows from the municipality.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/locations", tag = "registry", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = NewLocation,
    responses((status = 201, body = CreatedLocation), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_location(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(body): Json<NewLocation>,
) -> Result<Created<CreatedLocation>, ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::registry::create_location(
                &state,
                &Caller::Principal(principal),
                org_id,
                body,
            )
            .await?,
        ),
    ))
}

/// The locations of an organisation.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/locations", tag = "registry", security(("bearer" = [])),
    params(("org" = Uuid, Path), ListParams), responses((status = 200, body = PageOf<LocationView>)))]
pub async fn list_locations(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(q): Query<ListParams>,
) -> Result<axum::Json<PageOf<LocationView>>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::list_locations(&state, &Caller::Principal(principal), org_id, q)
            .await?,
    ))
}

/// One location.
#[utoipa::path(get, path = "/api/v1/locations/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = LocationView), (status = 404, body = crate::error::Problem)))]
pub async fn get_location(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<LocationView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::get_location(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// Adds a group (*groep*) to a location.
#[utoipa::path(post, path = "/api/v1/locations/{id}/groups", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewGroup,
    responses((status = 201, body = CreatedId), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_group(
    State(state): State<AppState>,
    principal: Principal,
    Path(location_id): Path<Uuid>,
    Json(body): Json<NewGroup>,
) -> Result<Created<CreatedId>, ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::registry::create_group(
                &state,
                &Caller::Principal(principal),
                location_id,
                body,
            )
            .await?,
        ),
    ))
}

/// The groups of a location.
#[utoipa::path(get, path = "/api/v1/locations/{id}/groups", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = [GroupView])))]
pub async fn list_groups(
    State(state): State<AppState>,
    principal: Principal,
    Path(location_id): Path<Uuid>,
) -> Result<axum::Json<Vec<GroupView>>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::list_groups(&state, &Caller::Principal(principal), location_id)
            .await?,
    ))
}

/// Registers a staff member: a mentor linked to locations, a specialist with expertise,
/// regions and capacity, a coordinator of regions, or policy staff.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/staff", tag = "registry", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = NewStaff,
    responses((status = 201, body = CreatedId), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_staff(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Json(body): Json<NewStaff>,
) -> Result<Created<CreatedId>, ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::registry::create_staff(
                &state,
                &Caller::Principal(principal),
                org_id,
                body,
            )
            .await?,
        ),
    ))
}

/// The staff of an organisation (admin, or the organisation's integration client).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/staff", tag = "registry", security(("bearer" = [])),
    params(("org" = Uuid, Path), StaffListParams), responses((status = 200, body = PageOf<StaffView>)))]
pub async fn list_staff(
    State(state): State<AppState>,
    principal: Principal,
    Path(org_id): Path<Uuid>,
    Query(q): Query<StaffListParams>,
) -> Result<axum::Json<PageOf<StaffView>>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::list_staff(&state, &Caller::Principal(principal), org_id, q)
            .await?,
    ))
}

/// One staff record (admin, the organisation's integration client, or the staff member).
#[utoipa::path(get, path = "/api/v1/staff/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = StaffView), (status = 404, body = crate::error::Problem)))]
pub async fn get_staff(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<StaffView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::get_staff(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// Changes a staff member: name, capacity, expertise, regions, locations (admin).
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = StaffChange,
    responses((status = 200, body = StaffView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn update_staff(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<StaffChange>,
) -> Result<axum::Json<StaffView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::update_staff(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// A staff member left: tokens refused from now, offers move on, accepted requests go to the region's queue (admin).
#[utoipa::path(post, path = "/api/v1/staff/{id}/deactivate", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Deactivated), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn deactivate_staff(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Deactivated>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::deactivate_staff(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}

/// Renames an organisation (admin).
#[utoipa::path(patch, path = "/api/v1/organizations/{org}", tag = "registry", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = OrganizationChange,
    responses((status = 200, body = OrganizationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn update_organization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<OrganizationChange>,
) -> Result<axum::Json<OrganizationView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::update_organization(
            &state,
            &Caller::Principal(principal),
            id,
            body,
        )
        .await?,
    ))
}

/// Marks an organisation inactive: no new locations, children or staff (admin).
#[utoipa::path(post, path = "/api/v1/organizations/{org}/deactivate", tag = "registry", security(("bearer" = [])),
    params(("org" = Uuid, Path)),
    responses((status = 200, body = OrganizationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn deactivate_organization(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<OrganizationView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::deactivate_organization(
            &state,
            &Caller::Principal(principal),
            id,
        )
        .await?,
    ))
}

/// Changes a location; a new municipality gives it that municipality's region (admin).
#[utoipa::path(patch, path = "/api/v1/locations/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = LocationChange,
    responses((status = 200, body = LocationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn update_location(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<LocationChange>,
) -> Result<axum::Json<LocationView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::update_location(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// Marks a location inactive: no new children or groups (admin).
#[utoipa::path(post, path = "/api/v1/locations/{id}/deactivate", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LocationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn deactivate_location(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<LocationView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::deactivate_location(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}

/// Renames a group (admin).
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = GroupChange,
    responses((status = 200, body = GroupView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn update_group(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<GroupChange>,
) -> Result<axum::Json<GroupView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::update_group(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// Marks a group inactive: no child is placed in it any more (admin).
#[utoipa::path(post, path = "/api/v1/groups/{id}/deactivate", tag = "registry", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = GroupView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn deactivate_group(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<GroupView>, ApiError> {
    Ok(axum::Json(
        crate::service::registry::deactivate_group(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}
