//! The NEN 7513 access log, through `service::audit`.

use super::extract::Query;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::Caller;
use crate::AppState;
use axum::extract::State;

pub use crate::service::audit::*;
pub use crate::service::PageOf;

/// The access log, filtered by child and period, oldest first. Each read is itself logged.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, body = PageOf<AuditEntryView>), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_audit(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AuditParams>,
) -> Result<axum::Json<PageOf<AuditEntryView>>, ApiError> {
    Ok(axum::Json(
        crate::service::audit::list_audit(&state, &Caller::Principal(principal), q).await?,
    ))
}
