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
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the last id seen.
    #[param(value_type = Option<uuid::Uuid>)]
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
    pub kind: OrganizationKind,
    pub created_at: DateTime<Utc>,
    pub active: bool,
}

impl From<OrganizationRow> for OrganizationView {
    fn from(r: OrganizationRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            kind: r.kind,
            created_at: r.created_at,
            active: r.active,
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
        kind: body.kind,
        created_at: now(),
        active: true,
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
    pub location_type: LocationType,
    pub municipality_code: String,
    /// The region today (follows the municipality; changes with a merger of regions).
    pub region_code: Option<String>,
    pub lrk_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub active: bool,
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
        active: r.active,
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
    let kind = org.kind;
    if !org.active {
        return Err(ServiceError::conflict(
            "inactive",
            "the organisation is no longer active",
        ));
    }
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
        location_type: body.location_type,
        municipality_code: body.municipality_code.to_string(),
        lrk_number: body.lrk_number,
        created_at: now(),
        active: true,
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
    pub active: bool,
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
    if !loc.active {
        return Err(ServiceError::conflict(
            "inactive",
            "the location is no longer active",
        ));
    }
    let mut v = Validation::new();
    v.text("name", &body.name, 100);
    v.finish().map_err(ServiceError::validation)?;
    let row = GroupRow {
        id: Uuid::now_v7(),
        location_id: loc.id,
        name: body.name.trim().to_string(),
        created_at: now(),
        active: true,
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
    Ok(rows.into_iter().map(group_view).collect())
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
    pub role: StaffRole,
    pub location_ids: Vec<Uuid>,
    pub expertise: Vec<ConcernDomain>,
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
    let org_kind = org.kind;
    body.location_ids.sort();
    body.location_ids.dedup();
    body.expertise.sort();
    body.expertise.dedup();
    body.region_codes.sort();
    body.region_codes.dedup();
    if !org.active {
        return Err(ServiceError::conflict(
            "inactive",
            "the organisation is no longer active",
        ));
    }
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
            role: body.role,
            capacity: body.capacity,
            active: true,
            created_at: now(),
        },
        location_ids: body.location_ids,
        region_codes: body.region_codes.into_iter().map(String::from).collect(),
        expertise: body.expertise,
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
    q: StaffListParams,
) -> ServiceResult<PageOf<StaffView>> {
    let p = caller.principal()?;
    if !(p.has(Role::Admin) || (p.has(Role::Integration) && p.organization_id == Some(org_id))) {
        return Err(ServiceError::not_found("organization"));
    }
    organization(state, p, org_id).await?;
    let page = page(q.limit, q.cursor.as_deref())?;
    let filter = crate::store::StaffFilter {
        role: q.role,
        region_code: q.region.map(String::from),
        active: q.active,
    };
    let rows = state.store.list_staff(org_id, &filter, page).await?;
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

// ---------------------------------------------------------------- the directory

/// A staff member's professional role as partners see it: never the login or the capacity.
#[derive(Serialize, ToSchema)]
pub struct ProfessionalRoleView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub role: StaffRole,
    pub expertise: Vec<ConcernDomain>,
    pub region_codes: Vec<String>,
    pub location_ids: Vec<Uuid>,
    pub active: bool,
}

/// One staff member's professional role: a specialist's for every partner, anyone else's
/// within the organisation (`domain::access::may_read_professional_role`); what the caller may
/// not read answers as what does not exist.
#[tracing::instrument(skip_all)]
pub async fn professional_role(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<ProfessionalRoleView> {
    let p = caller.principal()?;
    let r = state
        .store
        .get_staff(id)
        .await?
        .filter(|r| {
            crate::domain::access::may_read_professional_role(
                &p.actor(),
                r.staff.organization_id,
                r.staff.role,
            )
        })
        .ok_or_else(|| ServiceError::not_found("staff"))?;
    Ok(ProfessionalRoleView {
        id: r.staff.id,
        organization_id: r.staff.organization_id,
        name: r.staff.name,
        role: r.staff.role,
        expertise: r.expertise,
        region_codes: r.region_codes,
        location_ids: r.location_ids,
        active: r.staff.active,
    })
}

/// What a youth-care provider offers: the expertise of its active specialists and the regions
/// they work in.
#[derive(Serialize, ToSchema)]
pub struct ProviderOfferView {
    pub organization_id: Uuid,
    pub organization_name: String,
    pub active: bool,
    pub expertise: Vec<ConcernDomain>,
    pub regions: Vec<RegionView>,
}

/// A youth-care provider's offer (directory information, as a specialist's role); another
/// kind of organisation has none.
#[tracing::instrument(skip_all)]
pub async fn provider_offer(
    state: &Ctx,
    caller: &Caller,
    org_id: Uuid,
) -> ServiceResult<ProviderOfferView> {
    let p = caller.principal()?;
    let org = state
        .store
        .get_organization(org_id)
        .await?
        .filter(|o| o.kind == OrganizationKind::YouthCare)
        .filter(|o| {
            crate::domain::access::may_read_professional_role(
                &p.actor(),
                o.id,
                StaffRole::Specialist,
            )
        })
        .ok_or_else(|| ServiceError::not_found("organization"))?;
    let filter = crate::store::StaffFilter {
        role: Some(StaffRole::Specialist),
        region_code: None,
        active: Some(true),
    };
    let mut expertise = std::collections::BTreeSet::new();
    let mut codes = std::collections::BTreeSet::new();
    let mut after = None;
    loop {
        let rows = state
            .store
            .list_staff(org.id, &filter, crate::store::Page { after, limit: 200 })
            .await?;
        for r in &rows {
            expertise.extend(r.expertise.iter().copied());
            codes.extend(r.region_codes.iter().cloned());
        }
        match rows.last() {
            Some(last) if rows.len() == 200 => after = Some(last.staff.id),
            _ => break,
        }
    }
    let mut regions = Vec::new();
    for code in codes {
        if let Some(r) = state.store.get_region(&code).await? {
            regions.push(RegionView {
                code: r.code,
                name: r.name,
            });
        }
    }
    Ok(ProviderOfferView {
        organization_id: org.id,
        organization_name: org.name,
        active: org.active,
        expertise: expertise.into_iter().collect(),
        regions,
    })
}

/// A group as those who work at its location see it (its mentors, the organisation's
/// integration, an admin): the same rule as the children's records there.
#[tracing::instrument(skip_all)]
pub async fn group_of_location(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<(GroupView, Uuid)> {
    let p = caller.principal()?;
    let g = state
        .store
        .get_group(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("group"))?;
    let loc = state
        .store
        .get_location(g.location_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("group"))?;
    let scope = crate::domain::access::ChildScope {
        organization_id: loc.organization_id,
        location_id: loc.id,
    };
    if !(p.has(Role::Admin)
        || crate::domain::access::child_record_access(&p.actor(), scope).is_some())
    {
        return Err(ServiceError::not_found("group"));
    }
    Ok((group_view(g), loc.organization_id))
}

// ---------------------------------------------------------------- regions

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: u64,
}

/// The rows of a region table an admin sends, every line checked (all valid, or none used).
fn region_rows(
    caller: &Caller,
    csv: &[u8],
    valid_from: Option<chrono::NaiveDate>,
) -> ServiceResult<Vec<crate::domain::regions::RegionMembership>> {
    let p = caller.principal()?;
    if !may_manage_registry(&p.actor()) {
        return Err(ServiceError::forbidden(
            "only an admin imports reference data",
        ));
    }
    crate::domain::regions::parse_region_csv(csv, valid_from).map_err(ServiceError::validation)
}

/// Imports the municipality → region table (our header or the CBS labels). All rows or none.
#[tracing::instrument(skip_all)]
pub async fn import_regions(
    state: &Ctx,
    caller: &Caller,
    csv: &[u8],
    valid_from: Option<chrono::NaiveDate>,
) -> ServiceResult<ImportResult> {
    let rows = region_rows(caller, csv, valid_from)?;
    let imported = state.store.import_regions(&rows).await?;
    tracing::info!(imported, "regions imported");
    Ok(ImportResult { imported })
}

/// One change an import would make, in the gateway's words (`added`, `moved`, `renamed`; and
/// `region_renamed`, where `municipality` holds the region's code).
#[derive(Serialize, ToSchema)]
pub struct RegionChangeView {
    pub kind: String,
    pub municipality: String,
    pub from: Option<String>,
    pub to: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegionPreview {
    pub rows: usize,
    pub unchanged: usize,
    pub changes: Vec<RegionChangeView>,
}

/// What an import of this table would change, against the memberships in force on each row's
/// start date; nothing is written. The same checks as the import itself.
#[tracing::instrument(skip_all)]
pub async fn preview_regions(
    state: &Ctx,
    caller: &Caller,
    csv: &[u8],
    valid_from: Option<chrono::NaiveDate>,
) -> ServiceResult<RegionPreview> {
    use crate::domain::regions::{region_changes, RegionChange};
    let rows = region_rows(caller, csv, valid_from)?;
    let regions = state.store.list_regions().await?;
    let mut dates: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.valid_from).collect();
    dates.sort();
    dates.dedup();
    let names: std::collections::HashMap<String, String> = regions
        .iter()
        .map(|r| (r.code.clone(), r.name.clone()))
        .collect();
    let mut changes = crate::domain::regions::region_renames(&names, &rows);
    let mut unchanged = 0;
    for on in dates {
        let mut current = std::collections::HashMap::new();
        for region in &regions {
            for m in state.store.region_municipalities(&region.code, on).await? {
                current.insert(m.municipality_code, (m.municipality_name, m.region_code));
            }
        }
        let these: Vec<_> = rows
            .iter()
            .filter(|r| r.valid_from == on)
            .cloned()
            .collect();
        let (c, u) = region_changes(&current, &these);
        changes.extend(c);
        unchanged += u;
    }
    let changes = changes
        .into_iter()
        .map(|c| match c {
            RegionChange::Added {
                municipality,
                region_code,
            } => RegionChangeView {
                kind: "added".into(),
                municipality,
                from: None,
                to: region_code,
            },
            RegionChange::Moved {
                municipality,
                from,
                to,
            } => RegionChangeView {
                kind: "moved".into(),
                municipality,
                from: Some(from),
                to,
            },
            RegionChange::RegionRenamed { region, from, to } => RegionChangeView {
                kind: "region_renamed".into(),
                municipality: region,
                from: Some(from),
                to,
            },
            RegionChange::Renamed {
                municipality,
                from,
                to,
            } => RegionChangeView {
                kind: "renamed".into(),
                municipality,
                from: Some(from),
                to,
            },
        })
        .collect();
    Ok(RegionPreview {
        rows: rows.len(),
        unchanged,
        changes,
    })
}

/// Staff members' names by id (names are not child data; for the pages to say who).
pub async fn staff_names(
    state: &Ctx,
    caller: &Caller,
    ids: &[Uuid],
) -> ServiceResult<std::collections::HashMap<Uuid, String>> {
    caller.principal()?;
    let mut out = std::collections::HashMap::new();
    for id in ids {
        if out.contains_key(id) {
            continue;
        }
        if let Some(s) = state.store.get_staff(*id).await? {
            out.insert(*id, s.staff.name);
        }
    }
    Ok(out)
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

// ---------------------------------------------------------------- the first week's changes

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StaffListParams {
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the last id seen.
    #[param(value_type = Option<uuid::Uuid>)]
    pub cursor: Option<String>,
    /// Only this role.
    pub role: Option<StaffRole>,
    /// Only staff serving this region.
    pub region: Option<RegionCode>,
    /// Only active (`true`) or only deactivated (`false`) staff.
    pub active: Option<bool>,
}

/// A change to a staff record: only the fields given change; the rules for the role hold for
/// the result (a specialist keeps expertise, regions and a capacity).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    pub name: Option<String>,
    /// Specialists: open consultations at most, offers included (not below what they hold now).
    pub capacity: Option<i64>,
    pub expertise: Option<Vec<ConcernDomain>>,
    pub region_codes: Option<Vec<RegionCode>>,
    pub location_ids: Option<Vec<Uuid>>,
}

fn staff_of(state_staff: Option<StaffRecord>) -> ServiceResult<StaffRecord> {
    state_staff.ok_or_else(|| ServiceError::not_found("staff"))
}

/// Changes a staff member's name, capacity, expertise, regions or locations (admin).
#[tracing::instrument(skip_all)]
pub async fn update_staff(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: StaffChange,
) -> ServiceResult<StaffView> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut record = staff_of(state.store.get_staff(id).await?)?;
    let org = organization(state, p, record.staff.organization_id).await?;
    let org_kind = org.kind;
    let role = record.staff.role;
    if let Some(name) = &body.name {
        record.staff.name = name.trim().to_string();
    }
    if body.capacity.is_some() {
        record.staff.capacity = body.capacity;
    }
    let mut expertise: Vec<ConcernDomain> = match body.expertise {
        Some(e) => e,
        None => record.expertise.clone(),
    };
    expertise.sort();
    expertise.dedup();
    let mut regions: Vec<RegionCode> = match body.region_codes {
        Some(r) => r,
        None => record
            .region_codes
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect(),
    };
    regions.sort();
    regions.dedup();
    let mut locations = body
        .location_ids
        .unwrap_or_else(|| record.location_ids.clone());
    locations.sort();
    locations.dedup();
    let mut v = Validation::new();
    validate_staff(
        &mut v,
        &StaffShape {
            role,
            org_kind,
            subject: &record.staff.subject,
            name: &record.staff.name,
            location_count: locations.len(),
            expertise: &expertise,
            region_count: regions.len(),
            capacity: record.staff.capacity,
        },
    );
    for (i, l) in locations.iter().enumerate() {
        let ok = matches!(state.store.get_location(*l).await?, Some(x) if x.organization_id == org.id && x.active);
        v.check(
            ok,
            &format!("location_ids[{i}]"),
            "not an active location of this organisation",
        );
    }
    for (i, code) in regions.iter().enumerate() {
        let ok = state.store.get_region(code.as_str()).await?.is_some();
        v.check(ok, &format!("region_codes[{i}]"), "unknown region");
    }
    v.finish().map_err(ServiceError::validation)?;
    record.location_ids = locations;
    record.region_codes = regions.into_iter().map(String::from).collect();
    record.expertise = expertise;
    state
        .store
        .update_staff(&record)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::CheckViolation => ServiceError::field(
                "capacity",
                "lower than the requests the specialist holds now; let those end first",
            ),
            e => e.into(),
        })?;
    Ok(staff_of(state.store.get_staff(id).await?)?.into())
}

/// What deactivating a staff member did with the requests they held.
#[derive(Serialize, ToSchema)]
pub struct Deactivated {
    pub staff: StaffView,
    /// Offers moved on to the next specialist (or the queue).
    pub rerouted: Vec<Uuid>,
    /// Accepted requests now in the region's coordinator queue.
    pub unassigned: Vec<Uuid>,
}

/// A staff member left (admin): their tokens are refused from now on, their offers move on at
/// once, the requests they had accepted go to the region's coordinator queue with a reason.
#[tracing::instrument(skip_all)]
pub async fn deactivate_staff(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Deactivated> {
    let p = caller.principal()?;
    require_admin(p)?;
    let record = staff_of(state.store.get_staff(id).await?)?;
    match state.store.deactivate_staff(id).await {
        Ok(()) => {}
        Err(crate::store::StoreError::NotApplicable) => {
            return Err(ServiceError::conflict(
                "inactive",
                "the staff member is deactivated already",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let mut out = Deactivated {
        staff: staff_of(state.store.get_staff(id).await?)?.into(),
        rerouted: Vec::new(),
        unassigned: Vec::new(),
    };
    if record.staff.role != StaffRole::Specialist {
        return Ok(out);
    }
    let actor = p.audit_actor(Role::Admin);
    let filter = crate::store::ConsultationFilter {
        staff_id: Some(id),
        limit: 10_000,
        ..Default::default()
    };
    for row in state.store.list_consultations(&filter).await? {
        let status = row.status;
        if crate::domain::consultation::slot_holder(
            status,
            row.held_from,
            row.offered_to,
            row.assigned_to,
        ) != Some(id)
        {
            continue;
        }
        let offered = status == crate::domain::consultation::ConsultationStatus::Offered;
        super::consultations::hand_back(state, &row, &actor).await?;
        if offered {
            out.rerouted.push(row.id);
        } else {
            out.unassigned.push(row.id);
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationChange {
    pub name: Option<String>,
}

/// Renames an organisation (admin).
#[tracing::instrument(skip_all)]
pub async fn update_organization(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: OrganizationChange,
) -> ServiceResult<OrganizationView> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut org = organization(state, p, id).await?;
    if let Some(name) = &body.name {
        let mut v = Validation::new();
        v.text("name", name, 200);
        v.finish().map_err(ServiceError::validation)?;
        org.name = name.trim().to_string();
    }
    state.store.update_organization(&org).await?;
    Ok(org.into())
}

/// Marks an organisation inactive (admin): no new locations, children or staff there.
#[tracing::instrument(skip_all)]
pub async fn deactivate_organization(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<OrganizationView> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut org = organization(state, p, id).await?;
    org.active = false;
    state.store.update_organization(&org).await?;
    Ok(org.into())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationChange {
    pub name: Option<String>,
    /// Registration number in the Landelijk Register Kinderopvang (nine digits).
    pub lrk_number: Option<String>,
    /// The municipality; the location's youth-care region follows from it again.
    pub municipality_code: Option<MunicipalityCode>,
}

/// Changes a location (admin); a new municipality gives it the region of that municipality.
#[tracing::instrument(skip_all)]
pub async fn update_location(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: LocationChange,
) -> ServiceResult<LocationView> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut row = location(state, p, id).await?;
    let org = organization(state, p, row.organization_id).await?;
    let kind = org.kind;
    let location_type = row.location_type;
    if let Some(n) = &body.name {
        row.name = n.trim().to_string();
    }
    if body.lrk_number.is_some() {
        row.lrk_number = body.lrk_number.clone();
    }
    let mut v = Validation::new();
    validate_location(
        &mut v,
        kind,
        &row.name,
        row.lrk_number.as_deref(),
        location_type,
    );
    if let Some(m) = &body.municipality_code {
        let region = state.store.region_of(m.as_str(), dutch_date(now())).await?;
        v.check(
            region.is_some(),
            "municipality_code",
            "no youth-care region is known for this municipality today; import the region table first",
        );
        row.municipality_code = m.to_string();
    }
    v.finish().map_err(ServiceError::validation)?;
    state.store.update_location(&row).await?;
    location_view(state, row).await
}

/// Marks a location inactive (admin): no new children or groups there.
#[tracing::instrument(skip_all)]
pub async fn deactivate_location(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<LocationView> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut row = location(state, p, id).await?;
    row.active = false;
    state.store.update_location(&row).await?;
    location_view(state, row).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChange {
    pub name: Option<String>,
}

async fn group(state: &Ctx, p: &Principal, id: Uuid) -> ServiceResult<GroupRow> {
    let g = state
        .store
        .get_group(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("group"))?;
    location(state, p, g.location_id)
        .await
        .map_err(|_| ServiceError::not_found("group"))?;
    Ok(g)
}

fn group_view(g: GroupRow) -> GroupView {
    GroupView {
        id: g.id,
        location_id: g.location_id,
        name: g.name,
        active: g.active,
    }
}

/// One group (admin).
pub async fn get_group(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<GroupView> {
    let p = caller.principal()?;
    require_admin(p)?;
    Ok(group_view(group(state, p, id).await?))
}

/// Renames a group (admin).
#[tracing::instrument(skip_all)]
pub async fn update_group(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: GroupChange,
) -> ServiceResult<GroupView> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut g = group(state, p, id).await?;
    if let Some(name) = &body.name {
        let mut v = Validation::new();
        v.text("name", name, 100);
        v.finish().map_err(ServiceError::validation)?;
        g.name = name.trim().to_string();
    }
    state.store.update_group(&g).await.map_err(|e| match e {
        crate::store::StoreError::AlreadyExists => {
            ServiceError::conflict("duplicate", "the location already has a group of this name")
        }
        e => e.into(),
    })?;
    Ok(group_view(g))
}

/// Marks a group inactive (admin): no child is placed in it any more.
#[tracing::instrument(skip_all)]
pub async fn deactivate_group(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<GroupView> {
    let p = caller.principal()?;
    require_admin(p)?;
    let mut g = group(state, p, id).await?;
    g.active = false;
    state.store.update_group(&g).await?;
    Ok(group_view(g))
}

// ---------------------------------------------------------------- development login

/// A staff member a newcomer may log in as on the development login page.
#[derive(Debug, Clone)]
pub struct DevelopmentLogin {
    pub subject: String,
    pub name: String,
    pub role: Role,
    /// None for the operator (an admin belongs to no organisation).
    pub organization_id: Option<Uuid>,
    pub organization_name: String,
}

/// The development operator's subject (an admin has no staff record).
pub const DEVELOPMENT_ADMIN: &str = "beheerder";

/// The active staff of every organisation, for the development login page; `None` unless the
/// gateway runs in development with its development issuer (production never offers it).
pub async fn development_logins(state: &Ctx) -> ServiceResult<Option<Vec<DevelopmentLogin>>> {
    if state.config.env != crate::config::RunEnv::Development || state.auth.dev_issuer().is_none() {
        return Ok(None);
    }
    let all = crate::store::Page {
        after: None,
        limit: 200,
    };
    let mut out = vec![DevelopmentLogin {
        subject: DEVELOPMENT_ADMIN.into(),
        name: "Beheerder".into(),
        role: Role::Admin,
        organization_id: None,
        organization_name: "Kindbrug (beheer)".into(),
    }];
    for org in state.store.list_organizations(all).await? {
        let filter = crate::store::StaffFilter {
            active: Some(true),
            ..Default::default()
        };
        for s in state.store.list_staff(org.id, &filter, all).await? {
            out.push(DevelopmentLogin {
                subject: s.staff.subject,
                name: s.staff.name,
                role: s.staff.role.into(),
                organization_id: Some(org.id),
                organization_name: org.name.clone(),
            });
        }
    }
    Ok(Some(out))
}
