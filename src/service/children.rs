//! Children, their guardians and their mentor. Access is for a mentor of the child's location
//! and the organisation's own integration client (decided in `domain::access`); every read and
//! write of a child's data is in the NEN 7513 access log, refused attempts included. A caller
//! who may not see a child is told the child does not exist.

use super::paging::{next_cursor, page};
use super::{Caller, Ctx, PageOf, ServiceError, ServiceResult};
use crate::audit::{AuditAction, AuditRecord};
use crate::auth::Principal;
use crate::domain::access::{
    child_record_access, may_list_organization_children, ChildAccess, ChildScope,
};
use crate::domain::calendar::{dutch_date, now};
use crate::domain::children::{bsn_warning, validate_authority, validate_child, validate_guardian};
use crate::domain::types::{AuthoritySource, Relationship, Role, StaffRole};
use crate::domain::{FieldError, Validation};
use crate::store::{ChildRow, GuardianRow, MentorAssignmentRow, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Purpose recorded in the access log for keeping the child's record (NEN 7513 "doel").
pub const PURPOSE_CHILD_RECORD: &str = "child_record";

pub fn role_of(access: ChildAccess) -> Role {
    match access {
        ChildAccess::MentorOfLocation => Role::Mentor,
        ChildAccess::OwnIntegration => Role::Integration,
    }
}

impl Caller {
    /// The authenticated principal, for operations only people and partner systems perform.
    pub fn principal(&self) -> ServiceResult<&Principal> {
        match self {
            Caller::Principal(p) => Ok(p),
            Caller::System(_) => Err(ServiceError::forbidden(
                "this operation is not for the gateway's own jobs",
            )),
        }
    }

    /// The role a refused attempt is logged under: the first role the caller holds.
    pub fn attempted_role(&self) -> Role {
        match self {
            Caller::Principal(p) => p.roles.first().copied().unwrap_or(Role::Admin),
            Caller::System(_) => Role::Admin,
        }
    }
}

/// Loads a child the caller may keep the record of. A refusal is logged and answered as an
/// unknown child.
pub async fn accessible_child(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    action: AuditAction,
    resource_type: &str,
) -> ServiceResult<(ChildRow, ChildAccess)> {
    let p = caller.principal()?;
    let Some(child) = state.store.get_child(id).await? else {
        return Err(ServiceError::not_found("child"));
    };
    let scope = ChildScope {
        organization_id: child.organization_id,
        location_id: child.location_id,
    };
    match child_record_access(&p.actor(), scope) {
        Some(access) => Ok((child, access)),
        None => {
            let record = AuditRecord::new(
                &caller.audit_actor(caller.attempted_role()),
                action,
                resource_type,
                None,
                Some(id),
                PURPOSE_CHILD_RECORD,
            )
            .denied();
            state.store.record(&[record]).await?;
            Err(ServiceError::not_found("child"))
        }
    }
}

/// Logs one read (or search) of a child's data by `actor`.
pub(crate) async fn log_access(
    state: &Ctx,
    actor: &crate::audit::AuditActor,
    action: AuditAction,
    resource_type: &str,
    resource_id: Option<Uuid>,
    child_id: Uuid,
    purpose: &str,
) -> ServiceResult<()> {
    let record = AuditRecord::new(
        actor,
        action,
        resource_type,
        resource_id,
        Some(child_id),
        purpose,
    );
    state.store.record(&[record]).await?;
    Ok(())
}

// ---------------------------------------------------------------- children

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChild {
    pub location_id: Uuid,
    pub group_id: Option<Uuid>,
    /// The childcare organisation's own reference for the child (never a BSN).
    pub external_ref: String,
    pub given_name: String,
    /// `YYYY-MM-DD`.
    #[serde(deserialize_with = "crate::domain::calendar::iso_date")]
    pub date_of_birth: NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct ChildView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub location_id: Uuid,
    pub group_id: Option<Uuid>,
    pub external_ref: String,
    pub given_name: String,
    pub date_of_birth: NaiveDate,
    /// The day the child left the organisation; the record no longer changes.
    pub left_on: Option<NaiveDate>,
    /// The current mentor's staff id.
    pub mentor_staff_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ChildRow> for ChildView {
    fn from(c: ChildRow) -> Self {
        Self {
            id: c.id,
            organization_id: c.organization_id,
            location_id: c.location_id,
            group_id: c.group_id,
            external_ref: c.external_ref,
            given_name: c.given_name,
            date_of_birth: c.date_of_birth,
            left_on: c.left_on,
            mentor_staff_id: c.mentor_staff_id,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedChild {
    pub id: Uuid,
    /// A field that seems to hold a BSN (stored, but please remove it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldError>,
    /// The version, for a later `If-Match`.
    #[serde(skip)]
    pub version: i64,
}

/// Registers a child at a location (a mentor of that location, or the organisation's
/// integration client).
pub async fn register_child(
    state: &Ctx,
    caller: &Caller,
    body: NewChild,
) -> ServiceResult<CreatedChild> {
    let p = caller.principal()?;
    // an unknown location and another organisation's answer alike: nothing is learnt by probing
    let not_yours = || {
        ServiceError::field(
            "location_id",
            "not a location where you may register children",
        )
    };
    let location = state
        .store
        .get_location(body.location_id)
        .await?
        .ok_or_else(not_yours)?;
    let scope = ChildScope {
        organization_id: location.organization_id,
        location_id: location.id,
    };
    let access = child_record_access(&p.actor(), scope).ok_or_else(not_yours)?;
    let mut v = Validation::new();
    v.check(
        location.active,
        "location_id",
        "the location is no longer active",
    );
    validate_child(
        &mut v,
        &body.external_ref,
        &body.given_name,
        body.date_of_birth,
        dutch_date(now()),
    );
    if let Some(group_id) = body.group_id {
        let ok = matches!(state.store.get_group(group_id).await?, Some(g) if g.location_id == location.id && g.active);
        v.check(ok, "group_id", "not an active group of this location");
    }
    v.finish().map_err(ServiceError::validation)?;
    let at = now();
    let row = ChildRow {
        id: Uuid::now_v7(),
        organization_id: location.organization_id,
        location_id: location.id,
        group_id: body.group_id,
        external_ref: body.external_ref.trim().to_string(),
        given_name: body.given_name.trim().to_string(),
        date_of_birth: body.date_of_birth,
        version: 1,
        created_at: at,
        updated_at: at,
        mentor_staff_id: None,
        left_on: None,
    };
    let audit = AuditRecord::new(
        &caller.audit_actor(role_of(access)),
        AuditAction::Create,
        "child",
        Some(row.id),
        Some(row.id),
        PURPOSE_CHILD_RECORD,
    );
    state
        .store
        .create_child(&row, &audit)
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists => ServiceError::conflict(
                "duplicate",
                "the organisation already has a child with this external_ref",
            ),
            e => e.into(),
        })?;
    Ok(CreatedChild {
        id: row.id,
        warnings: Vec::new(),
        version: row.version,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChildListParams {
    /// Only this location. Without it: a mentor's own locations, or an integration client's
    /// whole organisation.
    pub location_id: Option<Uuid>,
    /// Only the child with this own number of the organisation.
    pub external_ref: Option<String>,
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the last id seen.
    #[param(value_type = Option<uuid::Uuid>)]
    pub cursor: Option<String>,
}

/// Lists children of a location; each child listed is logged as a search hit.
pub async fn list_children(
    state: &Ctx,
    caller: &Caller,
    q: ChildListParams,
) -> ServiceResult<PageOf<ChildView>> {
    let p = caller.principal()?;
    let page = page(q.limit, q.cursor.as_deref())?;
    let actor = p.actor();
    let (organization_id, role, locations) = match q.location_id {
        Some(location_id) => {
            let location = state.store.get_location(location_id).await?;
            let access = location.as_ref().and_then(|l| {
                child_record_access(
                    &actor,
                    ChildScope {
                        organization_id: l.organization_id,
                        location_id: l.id,
                    },
                )
            });
            match (location, access) {
                (Some(l), Some(access)) => (l.organization_id, role_of(access), vec![l.id]),
                _ => {
                    return Err(ServiceError::forbidden(
                        "not a location whose children you may see",
                    ))
                }
            }
        }
        None => match (
            p.organization_id,
            crate::domain::access::own_listable_locations(&actor),
        ) {
            (Some(org), _) if may_list_organization_children(&actor, org) => {
                (org, Role::Integration, Vec::new())
            }
            // a mentor without a location: the children of every location they work at
            (Some(org), Some(locations)) => (org, Role::Mentor, locations.to_vec()),
            _ => {
                return Err(ServiceError::forbidden(
                    "only mentors and the organisation's own system list children",
                ))
            }
        },
    };
    let rows = state
        .store
        .list_children(organization_id, &locations, q.external_ref.as_deref(), page)
        .await?;
    let audit_actor = caller.audit_actor(role);
    let records: Vec<AuditRecord> = rows
        .iter()
        .map(|c| {
            AuditRecord::new(
                &audit_actor,
                AuditAction::Search,
                "child",
                Some(c.id),
                Some(c.id),
                PURPOSE_CHILD_RECORD,
            )
        })
        .collect();
    state.store.record(&records).await?;
    let next_cursor = next_cursor(&rows, page.limit, |c| c.id);
    Ok(PageOf {
        items: rows.into_iter().map(ChildView::from).collect(),
        next_cursor,
    })
}

/// One child.
pub async fn get_child(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<ChildView> {
    let (child, access) = accessible_child(state, caller, id, AuditAction::Read, "child").await?;
    log_access(
        state,
        &caller.audit_actor(role_of(access)),
        AuditAction::Read,
        "child",
        Some(id),
        id,
        PURPOSE_CHILD_RECORD,
    )
    .await?;
    Ok(child.into())
}

// ---------------------------------------------------------------- mentor

/// The name of the child's current mentor, for those who keep the child's record.
pub async fn mentor_name(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<Option<String>> {
    let (child, _) = accessible_child(state, caller, id, AuditAction::Read, "mentor").await?;
    match child.mentor_staff_id {
        Some(staff) => Ok(state.store.get_staff(staff).await?.map(|s| s.staff.name)),
        None => Ok(None),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MentorChange {
    /// A mentor of the child's location.
    pub staff_id: Uuid,
    /// When the parents were told who the mentor is (Wet IKK: parents are told).
    pub parents_informed_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct MentorAssignmentView {
    pub id: Uuid,
    pub staff_id: Uuid,
    pub assigned_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub parents_informed_at: Option<DateTime<Utc>>,
}

impl From<MentorAssignmentRow> for MentorAssignmentView {
    fn from(m: MentorAssignmentRow) -> Self {
        Self {
            id: m.id,
            staff_id: m.staff_id,
            assigned_at: m.assigned_at,
            ended_at: m.ended_at,
            parents_informed_at: m.parents_informed_at,
        }
    }
}

/// Sets the child's mentor; the previous assignment ends and stays in the history. With
/// `expected_version`, refused when the child changed meanwhile. Returns the child's new version.
pub async fn assign_mentor(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    expected_version: Option<i64>,
    body: MentorChange,
) -> ServiceResult<(MentorAssignmentView, i64)> {
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Update, "mentor").await?;
    still_here(&child)?;
    let at = now();
    let mut v = Validation::new();
    let staff = state.store.get_staff(body.staff_id).await?;
    let is_mentor_here = staff.as_ref().is_some_and(|s| {
        s.staff.active
            && s.staff.role == StaffRole::Mentor
            && s.staff.organization_id == child.organization_id
            && s.location_ids.contains(&child.location_id)
    });
    v.check(
        is_mentor_here,
        "staff_id",
        "not an active mentor of the child's location",
    );
    if let Some(t) = body.parents_informed_at {
        v.check(
            t <= at + chrono::Duration::minutes(5),
            "parents_informed_at",
            "must not be in the future",
        );
    }
    v.finish().map_err(ServiceError::validation)?;
    let row = MentorAssignmentRow {
        id: Uuid::now_v7(),
        child_id: child.id,
        staff_id: body.staff_id,
        assigned_at: at,
        ended_at: None,
        parents_informed_at: body
            .parents_informed_at
            .map(crate::domain::calendar::truncate_micros),
    };
    let audit = AuditRecord::new(
        &caller.audit_actor(role_of(access)),
        AuditAction::Update,
        "mentor",
        Some(row.id),
        Some(child.id),
        PURPOSE_CHILD_RECORD,
    );
    let version = state
        .store
        .assign_mentor(&row, expected_version, &audit)
        .await?;
    Ok((row.into(), version))
}

/// The child's mentors, most recent first.
pub async fn mentor_history(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<MentorAssignmentView>> {
    let (child, access) = accessible_child(state, caller, id, AuditAction::Read, "mentor").await?;
    let rows = state.store.mentor_history(child.id).await?;
    log_access(
        state,
        &caller.audit_actor(role_of(access)),
        AuditAction::Read,
        "mentor",
        None,
        child.id,
        PURPOSE_CHILD_RECORD,
    )
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

// ---------------------------------------------------------------- guardians

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGuardian {
    pub name: String,
    pub relationship: Relationship,
    /// Holds parental authority (*ouderlijk gezag*); only then can they consent.
    pub has_parental_authority: bool,
    /// Where the authority is known from; required when it is held.
    pub authority_source: Option<AuthoritySource>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GuardianView {
    pub id: Uuid,
    pub child_id: Uuid,
    pub name: String,
    pub relationship: Relationship,
    pub has_parental_authority: bool,
    pub authority_source: Option<AuthoritySource>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<GuardianRow> for GuardianView {
    fn from(g: GuardianRow) -> Self {
        Self {
            id: g.id,
            child_id: g.child_id,
            name: g.name,
            relationship: g.relationship,
            has_parental_authority: g.has_parental_authority,
            authority_source: g.authority_source,
            email: g.email,
            phone: g.phone,
            created_at: g.created_at,
        }
    }
}

/// Records a parent or carer of the child, with whether they hold parental authority.
pub async fn add_guardian(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: NewGuardian,
) -> ServiceResult<CreatedChild> {
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Create, "guardian").await?;
    still_here(&child)?;
    let mut v = Validation::new();
    validate_guardian(
        &mut v,
        &body.name,
        body.email.as_deref(),
        body.phone.as_deref(),
    );
    validate_authority(
        &mut v,
        body.has_parental_authority,
        body.authority_source.is_some(),
    );
    v.finish().map_err(ServiceError::validation)?;
    let row = GuardianRow {
        id: Uuid::now_v7(),
        child_id: child.id,
        name: body.name.trim().to_string(),
        relationship: body.relationship,
        has_parental_authority: body.has_parental_authority,
        authority_source: body.authority_source,
        email: body.email.map(|e| e.trim().to_string()),
        phone: body.phone.map(|p| p.trim().to_string()),
        created_at: now(),
    };
    let audit = AuditRecord::new(
        &caller.audit_actor(role_of(access)),
        AuditAction::Create,
        "guardian",
        Some(row.id),
        Some(child.id),
        PURPOSE_CHILD_RECORD,
    );
    state.store.add_guardian(&row, &audit).await?;
    Ok(CreatedChild {
        id: row.id,
        warnings: bsn_warning("phone", row.phone.as_deref())
            .into_iter()
            .collect(),
        version: 1,
    })
}

/// The child's guardians.
pub async fn list_guardians(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<GuardianView>> {
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Read, "guardian").await?;
    let rows = state.store.list_guardians(child.id).await?;
    log_access(
        state,
        &caller.audit_actor(role_of(access)),
        AuditAction::Read,
        "guardian",
        None,
        child.id,
        PURPOSE_CHILD_RECORD,
    )
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

// ---------------------------------------------------------------- corrections and leaving

/// What may change about a child. Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildChange {
    pub given_name: Option<String>,
    /// `YYYY-MM-DD`; a correction: the consent rules judge the corrected age from now on.
    #[serde(default, deserialize_with = "crate::domain::calendar::iso_date_opt")]
    pub date_of_birth: Option<NaiveDate>,
    /// A group of the child's (new) location.
    pub group_id: Option<Uuid>,
    /// Another location of the same organisation (the caller must keep records there too).
    pub location_id: Option<Uuid>,
}

/// A child who left, refused for anything but reading.
pub(crate) fn still_here(child: &ChildRow) -> ServiceResult<()> {
    match child.left_on {
        Some(_) => Err(ServiceError::conflict(
            "child-left",
            "the child left the organisation; its record can no longer change",
        )),
        None => Ok(()),
    }
}

/// Corrects or moves a child (a mentor of its location, or the organisation's integration
/// client). Needs the version it was based on (`If-Match`). Moving to a location its mentor does
/// not work at ends the mentor assignment. Returns the child as it now is.
pub async fn update_child(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    expected_version: Option<i64>,
    body: ChildChange,
) -> ServiceResult<ChildView> {
    let (child, access) = accessible_child(state, caller, id, AuditAction::Update, "child").await?;
    let Some(expected_version) = expected_version else {
        return Err(ServiceError::PreconditionRequired(
            "send If-Match with the child's ETag".into(),
        ));
    };
    still_here(&child)?;
    let p = caller.principal()?;
    let mut v = Validation::new();
    let mut after = child.clone();
    if let Some(name) = &body.given_name {
        after.given_name = name.trim().to_string();
    }
    if let Some(born) = body.date_of_birth {
        after.date_of_birth = born;
    }
    validate_child(
        &mut v,
        &after.external_ref,
        &after.given_name,
        after.date_of_birth,
        dutch_date(now()),
    );
    if let Some(location_id) = body.location_id.filter(|l| *l != child.location_id) {
        let location = state.store.get_location(location_id).await?;
        let allowed = location.as_ref().is_some_and(|l| {
            l.active
                && l.organization_id == child.organization_id
                && child_record_access(
                    &p.actor(),
                    ChildScope {
                        organization_id: l.organization_id,
                        location_id: l.id,
                    },
                )
                .is_some()
        });
        v.check(
            allowed,
            "location_id",
            "not an active location of this organisation where you keep children's records",
        );
        after.location_id = location_id;
        // the old location's group does not move along
        after.group_id = None;
    }
    if let Some(group_id) = body.group_id {
        let ok = matches!(state.store.get_group(group_id).await?, Some(g) if g.location_id == after.location_id && g.active);
        v.check(
            ok,
            "group_id",
            "not an active group of the child's location",
        );
        after.group_id = Some(group_id);
    }
    v.finish().map_err(ServiceError::validation)?;
    let end_mentor = match (
        after.location_id != child.location_id,
        child.mentor_staff_id,
    ) {
        (true, Some(mentor)) => !state
            .store
            .get_staff(mentor)
            .await?
            .is_some_and(|s| s.location_ids.contains(&after.location_id)),
        _ => false,
    };
    after.updated_at = now();
    let audit = AuditRecord::new(
        &caller.audit_actor(role_of(access)),
        AuditAction::Update,
        "child",
        Some(child.id),
        Some(child.id),
        PURPOSE_CHILD_RECORD,
    );
    state
        .store
        .update_child(&after, expected_version, end_mentor, &audit)
        .await?;
    let Some(now_row) = state.store.get_child(id).await? else {
        return Err(ServiceError::not_found("child"));
    };
    Ok(now_row.into())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Leaving {
    /// The last day at the organisation, `YYYY-MM-DD` (today or earlier).
    #[serde(deserialize_with = "crate::domain::calendar::iso_date")]
    pub left_on: NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct Left {
    pub child: ChildView,
    /// The open requests that ended (cancelled: "the child left").
    pub cancelled_consultations: Vec<Uuid>,
}

/// Records that the child left: open requests are cancelled with that reason, the parents'
/// links stop working, and the record's retention period runs from `left_on`.
pub async fn leave(state: &Ctx, caller: &Caller, id: Uuid, body: Leaving) -> ServiceResult<Left> {
    let (child, access) = accessible_child(state, caller, id, AuditAction::Update, "child").await?;
    still_here(&child)?;
    let today = dutch_date(now());
    let mut v = Validation::new();
    v.check(
        body.left_on >= child.created_at.date_naive() - chrono::Duration::days(366),
        "left_on",
        "too long before the child was registered",
    );
    v.check(
        body.left_on <= today,
        "left_on",
        "record a leaving on or after the day itself",
    );
    v.check(
        body.left_on >= child.date_of_birth,
        "left_on",
        "before the child's date of birth",
    );
    v.finish().map_err(ServiceError::validation)?;
    let actor = caller.audit_actor(role_of(access));
    // the requests first: a retry after a failure finds them ended and the child still here
    let cancelled = super::consultations::end_for_child_left(state, child.id, &actor).await?;
    let audit = AuditRecord::new(
        &actor,
        AuditAction::Update,
        "child",
        Some(child.id),
        Some(child.id),
        PURPOSE_CHILD_RECORD,
    );
    match state
        .store
        .child_left(child.id, body.left_on, now(), &audit)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotApplicable) => {
            return Err(ServiceError::conflict(
                "child-left",
                "the child left the organisation already",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let Some(row) = state.store.get_child(id).await? else {
        return Err(ServiceError::not_found("child"));
    };
    Ok(Left {
        child: row.into(),
        cancelled_consultations: cancelled,
    })
}

// ---------------------------------------------------------------- one guardian

/// What may change about a guardian. Absent fields stay as they are; an empty `email` or
/// `phone` removes it. A change of authority counts from now: consent checks judge who holds
/// authority at the moment they are made.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardianChange {
    pub name: Option<String>,
    pub relationship: Option<Relationship>,
    pub has_parental_authority: Option<bool>,
    /// Required when authority is (still) held; cleared when it is not.
    pub authority_source: Option<AuthoritySource>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

async fn guardian_of(
    state: &Ctx,
    child: &ChildRow,
    guardian_id: Uuid,
) -> ServiceResult<GuardianRow> {
    state
        .store
        .list_guardians(child.id)
        .await?
        .into_iter()
        .find(|g| g.id == guardian_id)
        .ok_or_else(|| ServiceError::not_found("guardian"))
}

/// One guardian of the child.
pub async fn get_guardian(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    guardian_id: Uuid,
) -> ServiceResult<GuardianView> {
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Read, "guardian").await?;
    let row = guardian_of(state, &child, guardian_id).await?;
    log_access(
        state,
        &caller.audit_actor(role_of(access)),
        AuditAction::Read,
        "guardian",
        Some(row.id),
        child.id,
        PURPOSE_CHILD_RECORD,
    )
    .await?;
    Ok(row.into())
}

/// Corrects a guardian: parental authority and its source, name, contact.
pub async fn update_guardian(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    guardian_id: Uuid,
    body: GuardianChange,
) -> ServiceResult<GuardianView> {
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Update, "guardian").await?;
    still_here(&child)?;
    let mut row = guardian_of(state, &child, guardian_id).await?;
    let optional = |value: String| {
        let value = value.trim().to_string();
        (!value.is_empty()).then_some(value)
    };
    if let Some(name) = body.name {
        row.name = name.trim().to_string();
    }
    if let Some(relationship) = body.relationship {
        row.relationship = relationship;
    }
    if let Some(email) = body.email {
        row.email = optional(email);
    }
    if let Some(phone) = body.phone {
        row.phone = optional(phone);
    }
    if let Some(has) = body.has_parental_authority {
        row.has_parental_authority = has;
        if !has {
            row.authority_source = None;
        }
    }
    if let Some(source) = body.authority_source {
        row.authority_source = Some(source);
    }
    let mut v = Validation::new();
    validate_guardian(
        &mut v,
        &row.name,
        row.email.as_deref(),
        row.phone.as_deref(),
    );
    validate_authority(
        &mut v,
        row.has_parental_authority,
        row.authority_source.is_some(),
    );
    if body.authority_source.is_some() && body.has_parental_authority == Some(false) {
        v.add(
            "authority_source",
            "only for a guardian with parental authority",
        );
    }
    v.finish().map_err(ServiceError::validation)?;
    let audit = AuditRecord::new(
        &caller.audit_actor(role_of(access)),
        AuditAction::Update,
        "guardian",
        Some(row.id),
        Some(child.id),
        PURPOSE_CHILD_RECORD,
    );
    state.store.update_guardian(&row, &audit).await?;
    Ok(row.into())
}
