//! Youth-care regions as reference data: imported from the CBS table, read by everyone
//! authenticated (regions are public facts).

use super::extract::{body_bytes, Path, Query};
use crate::auth::Principal;
use crate::domain::access::may_manage_registry;
use crate::domain::calendar::{dutch_date, now};
use crate::domain::regions::parse_region_csv;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// Validity start for files without a `valid_from` column (CBS files have none).
    #[serde(default, deserialize_with = "crate::domain::calendar::iso_date_opt")]
    pub valid_from: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: u64,
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
    if !may_manage_registry(&principal.actor()) {
        return Err(ApiError::forbidden("only an admin imports reference data"));
    }
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the table as Content-Type: text/csv",
        ));
    }
    let body = body_bytes(req, &()).await?;
    let rows = parse_region_csv(&body, params.valid_from).map_err(ApiError::validation)?;
    let imported = state.store.import_regions(&rows).await?;
    tracing::info!(imported, "regions imported");
    Ok(Json(ImportResult { imported }))
}

#[derive(Serialize, ToSchema)]
pub struct RegionView {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct MunicipalityView {
    pub code: String,
    pub name: String,
    pub valid_from: NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct RegionDetail {
    pub code: String,
    pub name: String,
    /// The municipalities in the region on `on`.
    pub municipalities: Vec<MunicipalityView>,
    pub on: NaiveDate,
}

/// All youth-care regions (a short reference list, returned whole).
#[utoipa::path(get, path = "/api/v1/regions", tag = "registry", security(("bearer" = [])),
    responses((status = 200, body = [RegionView])))]
pub async fn list_regions(
    State(state): State<AppState>,
    _p: Principal,
) -> Result<Json<Vec<RegionView>>, ApiError> {
    let rows = state.store.list_regions().await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| RegionView {
                code: r.code,
                name: r.name,
            })
            .collect(),
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
    _p: Principal,
    Path(code): Path<String>,
    Query(params): Query<RegionParams>,
) -> Result<Json<RegionDetail>, ApiError> {
    let code = code.to_ascii_uppercase();
    let region = state
        .store
        .get_region(&code)
        .await?
        .ok_or_else(|| ApiError::not_found("region"))?;
    let on = params.on.unwrap_or_else(|| dutch_date(now()));
    let municipalities = state
        .store
        .region_municipalities(&code, on)
        .await?
        .into_iter()
        .map(|m| MunicipalityView {
            code: m.municipality_code,
            name: m.municipality_name,
            valid_from: m.valid_from,
        })
        .collect();
    Ok(Json(RegionDetail {
        code: region.code,
        name: region.name,
        municipalities,
        on,
    }))
}
