//! Youth-care regions as reference data, through `service::registry`.

use super::extract::{body_bytes, Path, Query};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{registry, Caller};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

pub use crate::service::registry::{ImportResult, MunicipalityView, RegionDetail, RegionView};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// Validity start for files without a `valid_from` column (CBS files have none).
    #[serde(default, deserialize_with = "crate::domain::calendar::iso_date_opt")]
    pub valid_from: Option<NaiveDate>,
}

/// Imports the municipality → region table (CSV with header
/// `municipality_code,municipality_name,region_code,region_name,valid_from`; the CBS column
/// labels and `;` separators are accepted too). All rows or none.
#[utoipa::path(post, path = "/api/v1/regions/import", tag = "registry", security(("bearer" = [])),
    params(ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResult), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn import_regions(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ImportParams>,
    req: Request,
) -> Result<Json<ImportResult>, ApiError> {
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/csv"));
    let caller = Caller::Principal(principal);
    if !is_csv {
        // who may import is checked first: a stranger learns nothing of the format
        caller.principal()?;
        if !crate::domain::access::may_manage_registry(&caller.principal()?.actor()) {
            return Err(ApiError::forbidden("only an admin imports reference data"));
        }
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the table as Content-Type: text/csv",
        ));
    }
    let body = body_bytes(req, &()).await?;
    Ok(Json(
        registry::import_regions(&state, &caller, &body, params.valid_from).await?,
    ))
}

/// All youth-care regions (a short reference list, returned whole).
#[utoipa::path(get, path = "/api/v1/regions", tag = "registry", security(("bearer" = [])),
    responses((status = 200, body = [RegionView])))]
pub async fn list_regions(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<RegionView>>, ApiError> {
    Ok(Json(
        registry::list_regions(&state, &Caller::Principal(principal)).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RegionParams {
    /// The date the membership is read on (default: today in the Netherlands).
    #[serde(default, deserialize_with = "crate::domain::calendar::iso_date_opt")]
    pub on: Option<NaiveDate>,
}

/// One region with its municipalities on a date.
#[utoipa::path(get, path = "/api/v1/regions/{code}", tag = "registry", security(("bearer" = [])),
    params(("code" = String, Path, description = "JZxx"), RegionParams),
    responses((status = 200, body = RegionDetail), (status = 404, body = crate::error::Problem)))]
pub async fn get_region(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    Query(params): Query<RegionParams>,
) -> Result<Json<RegionDetail>, ApiError> {
    Ok(Json(
        registry::get_region(&state, &Caller::Principal(principal), &code, params.on).await?,
    ))
}
