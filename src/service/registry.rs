//! The registry: organisations, their childcare locations and groups, and staff. Kept by
//! admins; a partner system (integration) may read its own organisation's entries.

use super::paging::{next_cursor, page, page_of};
use crate::auth::Principal;
use crate::domain::access::may_manage_registry;
use crate::domain::calendar::{dutch_date, now};
use crate::domain::registry::{validate_location, validate_staff, StaffShape};
use crate::domain::types::{
    ConcernDomain, LocationType, MunicipalityCode, OrganizationKind, RegionCode, Role, StaffRole,
};
use crate::domain::Validation;
use crate::store::{GroupRow, LocationRow, OrganizationRow, StaffRecord, StaffRow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Ctx, PageOf, ServiceError, ServiceResult};

fn require_admin(p: &Principal) -> Result<(), ServiceError> {
    if may_manage_registry(&p.actor()) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            "only an admin manages the registry",
        ))
    }
}

/// Admins read everything in the registry; an organisation's own integration client, policy
/// staff and staff read their own organisation.
fn may_read_organization(p: &Principal, org: Uuid) -> bool {
    p.has(Role::Admin) || p.organization_id == Some(org)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedId {
    pub id: Uuid,
    /// Free text that seems to hold a BSN (stored, but please remove it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::domain::FieldError>,
}

impl CreatedId {
    pub fn new(id: Uuid) -> Self {
        Self {
            id,
            warnings: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------- organisations

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub name: String,
    pub kind: OrganizationKind,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

impl From<OrganizationRow> for OrganizationView {
    fn from(r: OrganizationRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            kind: r.kind,
            created_at: r.created_at,
        }
    }
}

/// Registers an organisation (childcare, youth care or municipality).
#[tracing::instrument(skip_all)]
pub async fn create_organization(
    state: &Ctx,
    caller: &Caller,
    body: NewOrganization,
) -> ServiceResult<CreatedId> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut v = Validation::new();
    v.text("name", &body.name, 200);
    v.finish().map_err(ServiceError::validation)?;
    let row = OrganizationRow {
        id: Uuid::now_v7(),
        name: body.name.trim().to_string(),
        kind: body.kind.as_str().to_string(),
        created_at: now(),
    };
    state.store.create_organization(&row).await?;
    Ok(CreatedId::new(row.id))
}

/// Lists organisations (admin).
#[tracing::instrument(skip_all)]
pub async fn list_organizations(
    state: &Ctx,
    caller: &Caller,
    q: ListParams,
) -> ServiceResult<PageOf<OrganizationView>> {
    let p = caller.principal()?;
    require_admin(p)?;
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows = state.store.list_organizations(page).await?;
    Ok(page_of(rows, page.limit, |r| r.id, OrganizationView::from))
}

async fn organization(
    state: &Ctx,
    p: &Principal,
    id: Uuid,
) -> Result<OrganizationRow, ServiceError> {
    match state.store.get_organization(id).await? {
        Some(org) if may_read_organization(p, id) => Ok(org),
        _ => Err(ServiceError::not_found("organization")),
    }
}

/// One organisation (admin, or a member of it).
#[tracing::instrument(skip_all)]
pub async fn get_organization(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<OrganizationView> {
    let p = caller.principal()?;
    Ok(organization(state, p, id).await?.into())
}

// ---------------------------------------------------------------- locations

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLocation {
    pub name: String,
    #[serde(rename = "type")]
    pub location_type: LocationType,
    #[schema(value_type = String, example = "GM0344")]
    pub municipality_code: MunicipalityCode,
    /// Registration number in the Landelijk Register Kinderopvang (nine digits).
    pub lrk_number: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedLocation {
    pub id: Uuid,
    /// The youth-care region of the location's municipality today.
    pub region_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct LocationView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub location_type: String,
    pub municipality_code: String,
    /// The region today (follows the municipality; changes with a merger of regions).
    pub region_code: Option<String>,
    pub lrk_number: Option<String>,
    pub created_at: DateTime<Utc>,
}

async fn location_view(state: &Ctx, r: LocationRow) -> Result<LocationView, ServiceError> {
    let region_code = state
        .store
        .region_of(&r.municipality_code, dutch_date(now()))
        .await?;
    Ok(LocationView {
        id: r.id,
        organization_id: r.organization_id,
        name: r.name,
        location_type: r.location_type,
        municipality_code: r.municipality_code,
        region_code,
        lrk_number: r.lrk_number,
        created_at: r.created_at,
    })
}

/// Registers a childcare location; its region follows from the municipality.
#[tracing::instrument(skip_all)]
pub async fn create_location(
    state: &Ctx,
    caller: &Caller,
    org_id: Uuid,
    body: NewLocation,
) -> ServiceResult<CreatedLocation> {
    let p = caller.principal()?;
    require_admin(p)?;
    let org = organization(state, p, org_id).await?;
    let kind: OrganizationKind = org.kind.parse().map_err(ServiceError::internal)?;
    let mut v = Validation::new();
    validate_location(
        &mut v,
        kind,
        &body.name,
        body.lrk_number.as_deref(),
        body.location_type,
    );
    let region = state
        .store
        .region_of(body.municipality_code.as_str(), dutch_date(now()))
        .await?;
    if region.is_none() {
        v.add("municipality_code", "no youth-care region is known for this municipality today; import the region table first");
    }
    v.finish().map_err(ServiceError::validation)?;
    let row = LocationRow {
        id: Uuid::now_v7(),
        organization_id: org.id,
        name: body.name.trim().to_string(),
        location_type: body.location_type.as_str().to_string(),
        municipality_code: body.municipality_code.to_string(),
        lrk_number: body.lrk_number,
        created_at: now(),
    };
    state.store.create_location(&row).await?;
    Ok(CreatedLocation {
        id: row.id,
        region_code: region.unwrap_or_default(),
    })
}

/// The locations of an organisation.
#[tracing::instrument(skip_all)]
pub async fn list_locations(
    state: &Ctx,
    caller: &Caller,
    org_id: Uuid,
    q: ListParams,
) -> ServiceResult<PageOf<LocationView>> {
    let p = caller.principal()?;
    organization(state, p, org_id).await?;
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows = state.store.list_locations(org_id, page).await?;
    let next_cursor = next_cursor(&rows, page.limit, |r| r.id);
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(location_view(state, r).await?);
    }
    Ok(PageOf { items, next_cursor })
}

async fn location(state: &Ctx, p: &Principal, id: Uuid) -> Result<LocationRow, ServiceError> {
    match state.store.get_location(id).await? {
        Some(l) if may_read_organization(p, l.organization_id) => Ok(l),
        _ => Err(ServiceError::not_found("location")),
    }
}

/// One location.
#[tracing::instrument(skip_all)]
pub async fn get_location(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<LocationView> {
    let p = caller.principal()?;
    let row = location(state, p, id).await?;
    location_view(state, row).await
}

// ---------------------------------------------------------------- groups

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct GroupView {
    pub id: Uuid,
    pub location_id: Uuid,
    pub name: String,
}

/// Adds a group (*groep*) to a location.
#[tracing::instrument(skip_all)]
pub async fn create_group(
    state: &Ctx,
    caller: &Caller,
    location_id: Uuid,
    body: NewGroup,
) -> ServiceResult<CreatedId> {
    let p = caller.principal()?;
    require_admin(p)?;
    let loc = location(state, p, location_id).await?;
    let mut v = Validation::new();
    v.text("name", &body.name, 100);
    v.finish().map_err(ServiceError::validation)?;
    let row = GroupRow {
        id: Uuid::now_v7(),
        location_id: loc.id,
        name: body.name.trim().to_string(),
        created_at: now(),
    };
    state.store.create_group(&row).await.map_err(|e| match e {
        crate::store::StoreError::AlreadyExists => {
            ServiceError::conflict("duplicate", "the location already has a group of this name")
        }
        e => e.into(),
    })?;
    Ok(CreatedId::new(row.id))
}

/// The groups of a location.
#[tracing::instrument(skip_all)]
pub async fn list_groups(
    state: &Ctx,
    caller: &Caller,
    location_id: Uuid,
) -> ServiceResult<Vec<GroupView>> {
    let p = caller.principal()?;
    let loc = location(state, p, location_id).await?;
    let rows = state.store.list_groups(loc.id).await?;
    Ok(rows
        .into_iter()
        .map(|g| GroupView {
            id: g.id,
            location_id: g.location_id,
            name: g.name,
        })
        .collect())
}

// ---------------------------------------------------------------- staff

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// The `sub` the staff member's tokens carry.
    pub subject: String,
    pub name: String,
    pub role: StaffRole,
    /// Mentors: the locations they work at.
    #[serde(default)]
    pub location_ids: Vec<Uuid>,
    /// Specialists: the concern domains they are expert in.
    #[serde(default)]
    pub expertise: Vec<ConcernDomain>,
    /// Specialists, coordinators, policy: the regions they serve.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub region_codes: Vec<RegionCode>,
    /// Specialists: open consultations at most, offers included.
    pub capacity: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub subject: String,
    pub name: String,
    pub role: String,
    pub location_ids: Vec<Uuid>,
    pub expertise: Vec<String>,
    pub region_codes: Vec<String>,
    pub capacity: Option<i64>,
    pub active: bool,
}

impl From<StaffRecord> for StaffView {
    fn from(r: StaffRecord) -> Self {
        Self {
            id: r.staff.id,
            organization_id: r.staff.organization_id,
            subject: r.staff.subject,
            name: r.staff.name,
            role: r.staff.role,
            location_ids: r.location_ids,
            expertise: r.expertise,
            region_codes: r.region_codes,
            capacity: r.staff.capacity,
            active: r.staff.active,
        }
    }
}

/// Registers a staff member: a mentor linked to locations, a specialist with expertise,
/// regions and capacity, a coordinator of regions, or policy staff.
#[tracing::instrument(skip_all)]
pub async fn create_staff(
    state: &Ctx,
    caller: &Caller,
    org_id: Uuid,
    mut body: NewStaff,
) -> ServiceResult<CreatedId> {
    let p = caller.principal()?;
    require_admin(p)?;
    let org = organization(state, p, org_id).await?;
    let org_kind: OrganizationKind = org.kind.parse().map_err(ServiceError::internal)?;
    body.location_ids.sort();
    body.location_ids.dedup();
    body.expertise.sort();
    body.expertise.dedup();
    body.region_codes.sort();
    body.region_codes.dedup();
    let mut v = Validation::new();
    validate_staff(
        &mut v,
        &StaffShape {
            role: body.role,
            org_kind,
            subject: &body.subject,
            name: &body.name,
            location_count: body.location_ids.len(),
            expertise: &body.expertise,
            region_count: body.region_codes.len(),
            capacity: body.capacity,
        },
    );
    for (i, id) in body.location_ids.iter().enumerate() {
        let ok =
            matches!(state.store.get_location(*id).await?, Some(l) if l.organization_id == org.id);
        v.check(
            ok,
            &format!("location_ids[{i}]"),
            "not a location of this organisation",
        );
    }
    for (i, code) in body.region_codes.iter().enumerate() {
        let ok = state.store.get_region(code.as_str()).await?.is_some();
        v.check(ok, &format!("region_codes[{i}]"), "unknown region");
    }
    v.finish().map_err(ServiceError::validation)?;
    let record = StaffRecord {
        staff: StaffRow {
            id: Uuid::now_v7(),
            organization_id: org.id,
            subject: body.subject.trim().to_string(),
            name: body.name.trim().to_string(),
            role: body.role.as_str().to_string(),
            capacity: body.capacity,
            active: true,
            created_at: now(),
        },
        location_ids: body.location_ids,
        region_codes: body.region_codes.into_iter().map(String::from).collect(),
        expertise: body
            .expertise
            .iter()
            .map(|e| e.as_str().to_string())
            .collect(),
    };
    state
        .store
        .create_staff(&record)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::AlreadyExists => ServiceError::conflict(
                "duplicate",
                "this organisation already has staff with this subject",
            ),
            e => e.into(),
        })?;
    Ok(CreatedId::new(record.staff.id))
}

/// The staff of an organisation (admin, or the organisation's integration client).
#[tracing::instrument(skip_all)]
pub async fn list_staff(
    state: &Ctx,
    caller: &Caller,
    org_id: Uuid,
    q: ListParams,
) -> ServiceResult<PageOf<StaffView>> {
    let p = caller.principal()?;
    if !(p.has(Role::Admin) || (p.has(Role::Integration) && p.organization_id == Some(org_id))) {
        return Err(ServiceError::not_found("organization"));
    }
    organization(state, p, org_id).await?;
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows = state.store.list_staff(org_id, page).await?;
    Ok(page_of(rows, page.limit, |r| r.staff.id, StaffView::from))
}

/// One staff record (admin, the organisation's integration client, or the staff member).
#[tracing::instrument(skip_all)]
pub async fn get_staff(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<StaffView> {
    let p = caller.principal()?;
    let record = state
        .store
        .get_staff(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("staff"))?;
    let own = p.staff.as_ref().is_some_and(|s| s.staff.id == id);
    let org_client =
        p.has(Role::Integration) && p.organization_id == Some(record.staff.organization_id);
    if !(p.has(Role::Admin) || own || org_client) {
        return Err(ServiceError::not_found("staff"));
    }
    Ok(record.into())
}

// ---------------------------------------------------------------- regions

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: u64,
}

/// Imports the municipality → region table (our header or the CBS labels). All rows or none.
#[tracing::instrument(skip_all)]
pub async fn import_regions(
    state: &Ctx,
    caller: &Caller,
    csv: &[u8],
    valid_from: Option<chrono::NaiveDate>,
) -> ServiceResult<ImportResult> {
    let p = caller.principal()?;
    if !may_manage_registry(&p.actor()) {
        return Err(ServiceError::forbidden(
            "only an admin imports reference data",
        ));
    }
    let rows = crate::domain::regions::parse_region_csv(csv, valid_from)
        .map_err(ServiceError::validation)?;
    let imported = state.store.import_regions(&rows).await?;
    tracing::info!(imported, "regions imported");
    Ok(ImportResult { imported })
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
    pub valid_from: chrono::NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct RegionDetail {
    pub code: String,
    pub name: String,
    /// The municipalities in the region on `on`.
    pub municipalities: Vec<MunicipalityView>,
    pub on: chrono::NaiveDate,
}

/// All youth-care regions (public reference data for every authenticated caller).
pub async fn list_regions(state: &Ctx, caller: &Caller) -> ServiceResult<Vec<RegionView>> {
    caller.principal()?;
    let rows = state.store.list_regions().await?;
    Ok(rows
        .into_iter()
        .map(|r| RegionView {
            code: r.code,
            name: r.name,
        })
        .collect())
}

/// One region with its municipalities on a date (default: today in the Netherlands).
pub async fn get_region(
    state: &Ctx,
    caller: &Caller,
    code: &str,
    on: Option<chrono::NaiveDate>,
) -> ServiceResult<RegionDetail> {
    caller.principal()?;
    let code = code.to_ascii_uppercase();
    let region = state
        .store
        .get_region(&code)
        .await?
        .ok_or_else(|| ServiceError::not_found("region"))?;
    let on = on.unwrap_or_else(|| dutch_date(now()));
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
    Ok(RegionDetail {
        code: region.code,
        name: region.name,
        municipalities,
        on,
    })
}
