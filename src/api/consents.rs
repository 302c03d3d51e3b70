//! Consent records, the consent check, withdrawal, invitations and parent links, and Meldcode
//! reports, through the workflow in `service::consent`.

use super::extract::{Json, Path, Query};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::Caller;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

pub use crate::service::consent::*;

/// Records a consent decision (granted or refused) for the child. A grant must meet
/// who-must-consent together with the decisions already in force, or it is refused with 422
/// naming the rule (e.g. the second parent with authority has not consented).
#[utoipa::path(post, path = "/api/v1/children/{id}/consents", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewConsent,
    responses((status = 201, body = CreatedConsent), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_consent(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewConsent>,
) -> Result<(StatusCode, axum::Json<CreatedConsent>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::consent::create_consent(
                &state,
                &Caller::Principal(principal),
                id,
                body,
            )
            .await?,
        ),
    ))
}

/// Every consent record of the child: in force, superseded, withdrawn and refused.
#[utoipa::path(get, path = "/api/v1/children/{id}/consents", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [ConsentView]), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_consents(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<ConsentView>>, ApiError> {
    Ok(axum::Json(
        crate::service::consent::list_consents(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// Withdraws consent at once, for a giver (recorded by staff or the partner system). What was
/// done before stays lawful; nothing further happens under it. Again → 409.
#[utoipa::path(post, path = "/api/v1/consents/{id}/withdraw", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WithdrawRequest,
    responses((status = 200, body = ConsentView), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<WithdrawRequest>,
) -> Result<axum::Json<ConsentView>, ApiError> {
    Ok(axum::Json(
        crate::service::consent::withdraw_consent(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// Is consent in force for a purpose toward an organisation (or a region's specialists) now?
/// Names who still must consent.
#[utoipa::path(get, path = "/api/v1/children/{id}/consent-check", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path), CheckParams),
    responses((status = 200, body = ConsentCheckView), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn consent_check(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<CheckParams>,
) -> Result<axum::Json<ConsentCheckView>, ApiError> {
    Ok(axum::Json(
        crate::service::consent::consent_check(&state, &Caller::Principal(principal), id, q)
            .await?,
    ))
}

/// Invites one guardian (or the child, from 12) to decide digitally on one purpose toward one
/// recipient. The link is single use for the decision and expires.
#[utoipa::path(post, path = "/api/v1/children/{id}/consent-invitations", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewInvitation,
    responses((status = 201, body = CreatedLink), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_invitation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewInvitation>,
) -> Result<(StatusCode, axum::Json<CreatedLink>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::consent::create_invitation(
                &state,
                &Caller::Principal(principal),
                id,
                body,
            )
            .await?,
        ),
    ))
}

/// A standing link for one guardian (or the child's own, from 12): the child's consents,
/// withdrawal, and the child's access log (NEN 7513 client view). Not for a parent of a young
/// person of 16 or older: what the young person shares is theirs (WGBO 7:457).
#[utoipa::path(post, path = "/api/v1/children/{id}/parent-links", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewParentLink,
    responses((status = 201, body = CreatedLink), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_parent_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewParentLink>,
) -> Result<(StatusCode, axum::Json<CreatedLink>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::consent::create_parent_link(
                &state,
                &Caller::Principal(principal),
                id,
                body,
            )
            .await?,
        ),
    ))
}

/// Records that Veilig Thuis was informed without consent (Meldcode). An exceptional, reasoned
/// event: flagged in every access-log view; it unlocks no sharing with specialists.
#[utoipa::path(post, path = "/api/v1/children/{id}/veilig-thuis-reports", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewVeiligThuisReport,
    responses((status = 201, body = crate::api::registry::CreatedId), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_veilig_thuis_report(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewVeiligThuisReport>,
) -> Result<(StatusCode, axum::Json<crate::api::registry::CreatedId>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::consent::create_veilig_thuis_report(
                &state,
                &Caller::Principal(principal),
                id,
                body,
            )
            .await?,
        ),
    ))
}

/// The Meldcode reports of a child (for the child's mentors and organisation).
#[utoipa::path(get, path = "/api/v1/children/{id}/veilig-thuis-reports", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [VeiligThuisReportView]), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_veilig_thuis_reports(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<VeiligThuisReportView>>, ApiError> {
    Ok(axum::Json(
        crate::service::consent::list_veilig_thuis_reports(
            &state,
            &Caller::Principal(principal),
            id,
        )
        .await?,
    ))
}

/// The links sent for a child: purpose, holder, made, expires, used, revoked (never the token).
#[utoipa::path(get, path = "/api/v1/children/{id}/parent-links", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [ParentLinkView]), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_parent_links(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<ParentLinkView>>, ApiError> {
    Ok(axum::Json(
        crate::service::consent::list_parent_links(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}

/// Revokes a parent link at once.
#[utoipa::path(post, path = "/api/v1/parent-links/{id}/revoke", tag = "consent", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ParentLinkView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn revoke_parent_link(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ParentLinkView>, ApiError> {
    Ok(axum::Json(
        crate::service::consent::revoke_parent_link(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}
