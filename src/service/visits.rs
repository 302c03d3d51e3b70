//! The specialist's work on a request: coaching visits (free text sealed at rest), closing with
//! an outcome for the child, and the child's timeline. The assigned specialist works only while
//! the parents' consent is in force; the child's mentors see the advice for the group, not the
//! specialist's private notes unless they are shared.

use super::children::{accessible_child, role_of};
use super::consent::consent_basis;
use super::consultations::{
    consultation_for, slot_holder, specialist_consent, youth_care_consent, PURPOSE_CONSULTATION,
};
use crate::audit::{AuditAction, AuditRecord};
use crate::auth::Principal;
use crate::domain::access::RequestStanding;
use crate::domain::access::{child_record_access, ChildScope};
use crate::domain::calendar::{dutch_date, now};
use crate::domain::consent::{consent_in_force, Giver, Purpose, Recipient, Target};
use crate::domain::consultation::{
    close_outcome_allowed, next, validate_visit, Competence, ConsultationStatus, Event, Outcome,
    Participant, VisitKind, VisitStatus,
};
use crate::domain::types::Role;
use crate::domain::Validation;
use crate::store::{ConsultationRow, DestructionRequestRow, StoreError, TimelineRow, VisitRow};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Ctx, PageOf, ServiceError, ServiceResult};
/// Each value once, in declaration order.
fn set_of<T: Copy + Ord>(items: &[T]) -> crate::store::TextSet<T> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    crate::store::TextSet(items)
}

/// The request must be the caller's as its assigned specialist.
async fn my_request(state: &Ctx, p: &Principal, id: Uuid) -> Result<ConsultationRow, ServiceError> {
    let (row, standing) = consultation_for(state, p, id, AuditAction::Update).await?;
    let me = p.staff.as_ref().map(|s| s.staff.id);
    if standing != RequestStanding::Specialist || row.assigned_to != me || me.is_none() {
        return Err(ServiceError::forbidden(
            "only the specialist who accepted the request works on it",
        ));
    }
    Ok(row)
}

/// The request must be the caller's as its assigned specialist, open for work, with consent in force.
async fn my_open_request(
    state: &Ctx,
    p: &Principal,
    id: Uuid,
) -> Result<ConsultationRow, ServiceError> {
    let row = my_request(state, p, id).await?;
    specialist_consent(state, p, &row).await?;
    let status = row.status;
    if !matches!(
        status,
        ConsultationStatus::Accepted | ConsultationStatus::InProgress
    ) {
        return Err(ServiceError::conflict(
            "closed-or-paused",
            format!("the request is {}: it takes no changes", row.status),
        )
        .in_status(row.status.as_str()));
    }
    Ok(row)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitInput {
    #[serde(deserialize_with = "crate::domain::calendar::iso_date")]
    pub date: NaiveDate,
    pub duration_minutes: i64,
    pub kind: VisitKind,
    /// Who took part, by role (never names of other children).
    pub participants: Vec<Participant>,
    /// The core competences the coaching worked on.
    #[serde(default)]
    pub competences: Vec<Competence>,
    /// Private notes of the specialist (sealed at rest).
    pub notes: Option<String>,
    /// Advice for the group, shown to the child's mentors (sealed at rest).
    pub advice: Option<String>,
    /// Default `held`.
    pub status: Option<VisitStatus>,
    /// Share the private notes with the child's mentors.
    #[serde(default)]
    pub notes_shared: bool,
}

#[derive(Serialize, ToSchema)]
pub struct VisitView {
    pub id: Uuid,
    pub consultation_id: Uuid,
    /// The child the request is about.
    pub child_id: Uuid,
    /// The specialist who logged it.
    pub specialist_id: Uuid,
    pub date: NaiveDate,
    pub duration_minutes: i64,
    pub kind: VisitKind,
    pub participants: Vec<Participant>,
    pub competences: Vec<Competence>,
    pub status: VisitStatus,
    /// Only for the specialist, or when shared.
    pub notes: Option<String>,
    pub advice: Option<String>,
    pub notes_shared: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// On a write: free text that seems to hold a BSN (stored, but please remove it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::domain::FieldError>,
}

fn visit_view(state: &Ctx, v: VisitRow, full: bool) -> Result<VisitView, ServiceError> {
    let open = |sealed: &Option<String>| -> Result<Option<String>, ServiceError> {
        sealed
            .as_deref()
            .map(|s| state.keys.open(v.id, s).map_err(ServiceError::internal))
            .transpose()
    };
    let notes = if full || v.notes_shared {
        open(&v.notes_sealed)?
    } else {
        None
    };
    Ok(VisitView {
        id: v.id,
        consultation_id: v.consultation_id,
        child_id: v.child_id,
        specialist_id: v.specialist_id,
        date: v.date,
        duration_minutes: v.duration_minutes,
        kind: v.kind,
        participants: v.participants.to_vec(),
        competences: v.competences.to_vec(),
        status: v.status,
        notes,
        advice: open(&v.advice_sealed)?,
        notes_shared: v.notes_shared,
        version: v.version,
        updated_at: v.updated_at,
        warnings: Vec::new(),
    })
}

fn check_visit(v: &mut Validation, body: &VisitInput, request: &ConsultationRow) {
    validate_visit(
        v,
        body.date,
        dutch_date(now()),
        dutch_date(request.created_at),
        body.status.unwrap_or(VisitStatus::Held),
        body.duration_minutes,
        body.participants.len(),
    );
    v.optional_text("notes", body.notes.as_deref(), 20_000);
    v.optional_text("advice", body.advice.as_deref(), 10_000);
}

/// A held visit on an accepted request starts the work: the state machine says to which status.
fn first_held_visit(
    row: &ConsultationRow,
    visit: VisitStatus,
) -> ServiceResult<Option<crate::store::Start>> {
    if visit != VisitStatus::Held || row.status != ConsultationStatus::Accepted {
        return Ok(None);
    }
    let status = next(ConsultationStatus::Accepted, Event::Start, None).map_err(|e| {
        ServiceError::conflict("illegal-transition", e.to_string()).in_status(row.status.as_str())
    })?;
    Ok(Some(crate::store::Start {
        row: row.clone(),
        status,
    }))
}

fn text_warnings(body: &VisitInput) -> Vec<crate::domain::FieldError> {
    use crate::domain::children::bsn_warning;
    [
        bsn_warning("notes", body.notes.as_deref()),
        bsn_warning("advice", body.advice.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn seal(state: &Ctx, id: Uuid, text: &Option<String>) -> Option<String> {
    text.as_deref().map(|t| state.keys.seal(id, t.trim()))
}

/// Logs a coaching visit on an accepted request; the first held visit starts the work
/// (`in_progress`). The view carries the new version (the ETag).
#[tracing::instrument(skip_all)]
pub async fn create_visit(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: VisitInput,
) -> ServiceResult<VisitView> {
    create_visit_about(state, caller, id, None, body).await
}

/// [`create_visit`], when the caller also names the child the visit is about (a FHIR
/// Encounter's subject): it must be the request's child.
#[tracing::instrument(skip_all)]
pub async fn create_visit_about(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    child: Option<Uuid>,
    body: VisitInput,
) -> ServiceResult<VisitView> {
    let p = caller.principal()?;
    let row = my_open_request(state, p, id).await?;
    if child.is_some_and(|c| c != row.child_id) {
        return Err(ServiceError::field(
            "subject",
            "the visit is about the child of the request it is based on",
        ));
    }
    let mut v = Validation::new();
    check_visit(&mut v, &body, &row);
    v.finish().map_err(ServiceError::validation)?;
    let at = now();
    let visit_id = Uuid::now_v7();
    let status = body.status.unwrap_or(VisitStatus::Held);
    let visit = VisitRow {
        id: visit_id,
        consultation_id: row.id,
        child_id: row.child_id,
        specialist_id: row.assigned_to.expect("assigned"),
        date: body.date,
        duration_minutes: body.duration_minutes,
        kind: body.kind,
        participants: set_of(&body.participants),
        competences: set_of(&body.competences),
        status,
        notes_sealed: seal(state, visit_id, &body.notes),
        advice_sealed: seal(state, visit_id, &body.advice),
        notes_shared: body.notes_shared,
        version: 1,
        created_at: at,
        updated_at: at,
        region_code: Some(row.region_code.clone()),
        organization_id: Some(row.organization_id),
        half_year: Some(crate::domain::figures::HalfYear::of(body.date).to_string()),
        age_band: row.age_band.clone(),
    };
    let start = first_held_visit(&row, status)?;
    let audit = AuditRecord::new(
        &p.audit_actor(Role::Specialist),
        AuditAction::Create,
        "visit",
        Some(visit_id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state
        .store
        .create_visit(&visit, start.as_ref(), &audit)
        .await?;
    let mut view = visit_view(state, visit, true)?;
    view.warnings = text_warnings(&body);
    Ok(view)
}

/// Updates a visit (the assigned specialist), if it is still at `expected_version`.
#[tracing::instrument(skip_all)]
pub async fn update_visit(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    expected_version: Option<i64>,
    body: VisitInput,
) -> ServiceResult<VisitView> {
    let p = caller.principal()?;
    let visit = state
        .store
        .get_visit(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("visit"))?;
    let row = my_open_request(state, p, visit.consultation_id)
        .await
        .map_err(|e| {
            if matches!(e, ServiceError::NotFound { .. }) {
                ServiceError::not_found("visit")
            } else {
                e
            }
        })?;
    let Some(expected) = expected_version else {
        return Err(ServiceError::PreconditionRequired(
            "send If-Match with the visit's ETag".into(),
        ));
    };
    let mut v = Validation::new();
    check_visit(&mut v, &body, &row);
    v.finish().map_err(ServiceError::validation)?;
    let status = body.status.unwrap_or(VisitStatus::Held);
    let mut updated = visit.clone();
    updated.date = body.date;
    updated.duration_minutes = body.duration_minutes;
    updated.kind = body.kind;
    updated.participants = set_of(&body.participants);
    updated.competences = set_of(&body.competences);
    updated.status = status;
    updated.notes_sealed = seal(state, visit.id, &body.notes);
    updated.advice_sealed = seal(state, visit.id, &body.advice);
    updated.notes_shared = body.notes_shared;
    updated.updated_at = now();
    updated.half_year = Some(crate::domain::figures::HalfYear::of(body.date).to_string());
    let start = first_held_visit(&row, status)?;
    let audit = AuditRecord::new(
        &p.audit_actor(Role::Specialist),
        AuditAction::Update,
        "visit",
        Some(visit.id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    let version = state
        .store
        .update_visit(&updated, expected, start.as_ref(), &audit)
        .await
        .map_err(|e| match e {
            StoreError::Stale => ServiceError::Stale,
            e => e.into(),
        })?;
    updated.version = version;
    let mut view = visit_view(state, updated, true)?;
    view.warnings = text_warnings(&body);
    Ok(view)
}

/// Who may read a request's visits, and how much: in full for the assigned specialist (while
/// consent is in force), advice (and notes, when shared) for the child's mentors.
async fn visit_reader(
    state: &Ctx,
    p: &Principal,
    consultation_id: Uuid,
) -> Result<(ConsultationRow, bool, Role), ServiceError> {
    let (row, standing) = consultation_for(state, p, consultation_id, AuditAction::Read).await?;
    match standing {
        RequestStanding::Specialist
            if row.assigned_to.is_some()
                && row.assigned_to == p.staff.as_ref().map(|s| s.staff.id) =>
        {
            specialist_consent(state, p, &row).await?;
            Ok((row, true, Role::Specialist))
        }
        RequestStanding::ProviderSystem => {
            youth_care_consent(state, p, &row, standing).await?;
            Ok((row, true, Role::Integration))
        }
        RequestStanding::ChildRecord(access) => Ok((row, false, role_of(access))),
        _ => Err(ServiceError::not_found("consultation")),
    }
}

/// The visits of a request: in full for the assigned specialist; advice (and notes, when
/// shared) for the child's mentors.
#[tracing::instrument(skip_all)]
pub async fn list_visits(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<Vec<VisitView>> {
    let p = caller.principal()?;
    let (row, full, role) = visit_reader(state, p, id).await?;
    let visits = state.store.visits_of(row.id).await?;
    let audit = AuditRecord::new(
        &p.audit_actor(role),
        AuditAction::Read,
        "visit",
        None,
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    let views: Result<Vec<VisitView>, ServiceError> = visits
        .into_iter()
        .map(|v| visit_view(state, v, full))
        .collect();
    views
}

/// One visit, for those who may read its request's visits (as [`list_visits`]); another's
/// visit answers as one that does not exist.
#[tracing::instrument(skip_all)]
pub async fn get_visit(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<VisitView> {
    let p = caller.principal()?;
    let visit = state
        .store
        .get_visit(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("visit"))?;
    let (row, full, role) = visit_reader(state, p, visit.consultation_id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound { .. } => ServiceError::not_found("visit"),
            e => e,
        })?;
    let audit = AuditRecord::new(
        &p.audit_actor(role),
        AuditAction::Read,
        "visit",
        Some(visit.id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    visit_view(state, visit, full)
}

// ---------------------------------------------------------------- closing

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    /// The kind of care referred to (e.g. "ambulante jeugdhulp", "logopedie").
    pub kind_of_care: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub outcome: Outcome,
    /// The specialist's summary (sealed at rest; for the youth-care file).
    pub summary: String,
    /// Advice for the group, shown to the child's mentors.
    pub advice_for_group: Option<String>,
    pub parents_involved: bool,
    /// For a referral outcome: where to.
    pub referral: Option<Referral>,
}

#[derive(Serialize, ToSchema)]
pub struct ClosedView {
    pub id: Uuid,
    pub status: ConsultationStatus,
    pub outcome: Outcome,
    pub closed_at: DateTime<Utc>,
    pub parents_involved: bool,
    pub referral_kind: Option<String>,
    /// Whether `referral` consent was in force when closing (needed before referral data leaves).
    pub referral_consent_in_force: Option<bool>,
}

/// Is consent for a referral in force toward any recipient it names?
async fn referral_consent(state: &Ctx, child_id: Uuid) -> Result<bool, ServiceError> {
    let child = state
        .store
        .get_child(child_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consultation"))?;
    let (records, guardians) = consent_basis(state, child_id, Purpose::Referral).await?;
    let at = now();
    Ok(records.iter().any(|r| {
        let target = match &r.recipient {
            Recipient::Organization(o) => Target {
                organization_id: Some(*o),
                region: None,
            },
            Recipient::Region(code) => Target {
                organization_id: None,
                region: Some(code.clone()),
            },
        };
        consent_in_force(
            child.date_of_birth,
            &guardians,
            &records,
            Purpose::Referral,
            &target,
            at,
        )
        .allowed
    }))
}

/// The assigned specialist closes the request with an outcome for the child. Closed requests
/// are read-only.
#[tracing::instrument(skip_all)]
pub async fn close(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: CloseRequest,
) -> ServiceResult<ClosedView> {
    let p = caller.principal()?;
    // a request on hold (consent withdrawn) is closed as "parents withdrew" without reading
    // anything the withdrawal closed off; any other close needs the request open and consent
    let row = my_request(state, p, id).await?;
    let current = row.status;
    if !close_outcome_allowed(current, body.outcome) {
        return Err(ServiceError::conflict(
            "closed-or-paused",
            "consent was withdrawn: the request is on hold and is closed only with the outcome parents_withdrew",
        )
        .in_status(row.status.as_str()));
    }
    let row = if current == ConsultationStatus::OnHold {
        row
    } else {
        my_open_request(state, p, id).await?
    };
    let mut v = Validation::new();
    v.text("summary", &body.summary, 20_000);
    v.optional_text("advice_for_group", body.advice_for_group.as_deref(), 10_000);
    match (&body.referral, body.outcome.is_referral()) {
        (None, true) => v.add(
            "referral",
            "a referral outcome says where to (kind_of_care)",
        ),
        (Some(_), false) => v.add("referral", "only for a referral outcome"),
        (Some(r), true) => v.text("referral.kind_of_care", &r.kind_of_care, 200),
        (None, false) => {}
    }
    v.finish().map_err(ServiceError::validation)?;
    let held_from = row.held_from;
    let status = next(row.status, Event::Close, held_from).map_err(|e| {
        ServiceError::conflict("illegal-transition", e.to_string()).in_status(row.status.as_str())
    })?;
    let referral_in_force = if body.outcome.is_referral() {
        Some(referral_consent(state, row.child_id).await?)
    } else {
        None
    };
    let at = now();
    let mut after = row.clone();
    after.status = status;
    after.updated_at = at;
    after.outcome = Some(body.outcome);
    after.closed_at = Some(at);
    after.summary_sealed = Some(state.keys.seal(row.id, body.summary.trim()));
    after.advice_sealed = seal(state, row.id, &body.advice_for_group);
    after.parents_involved = Some(body.parents_involved);
    after.referral_kind = body
        .referral
        .as_ref()
        .map(|r| r.kind_of_care.trim().to_string());
    after.referral_consent_in_force = referral_in_force;
    let change = crate::store::ConsultationChange {
        release: slot_holder(&row)?,
        audit: vec![AuditRecord::new(
            &p.audit_actor(Role::Specialist),
            AuditAction::Update,
            "outcome",
            Some(row.id),
            Some(row.child_id),
            PURPOSE_CONSULTATION,
        )],
        expected_version: row.version,
        claim: None,
        route: None,
        decline: None,
        relink_consents: None,
        after,
    };
    let done = state
        .store
        .change_consultation(&change)
        .await
        .map_err(|e| match e {
            StoreError::Stale => ServiceError::conflict(
                "changed-meanwhile",
                "the request changed meanwhile; read it again",
            ),
            e => e.into(),
        })?;
    Ok(ClosedView {
        id: done.id,
        status: done.status,
        outcome: done.outcome.unwrap_or(body.outcome),
        closed_at: at,
        parents_involved: body.parents_involved,
        referral_kind: done.referral_kind,
        referral_consent_in_force: done.referral_consent_in_force,
    })
}

// ---------------------------------------------------------------- timeline

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TimelineParams {
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: `{microseconds}_{id}` of the last item seen.
    #[param(pattern = "^[0-9]{1,15}_[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `concern`, `consent`, `consent_withdrawn`, `consultation`, `routing`, `accepted`, `visit`, `outcome`.
    pub kind: String,
    pub id: Uuid,
    pub consultation_id: Option<Uuid>,
    /// A short structured description (`purpose:decision:status`, `kind:status`, an outcome…).
    pub detail: String,
}

// the cursor names the last item seen: its time in microseconds and its id, `{micros}_{id}`;
// any value of that shape is a valid place to go on from
fn timeline_cursor(row: &TimelineRow) -> String {
    format!("{}_{}", row.happened_at.timestamp_micros(), row.id.simple())
}

fn parse_timeline_cursor(c: &str) -> Result<(DateTime<Utc>, Uuid), ServiceError> {
    let bad = || ServiceError::bad_request("the cursor is not one this list handed out");
    let (micros, id) = c.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// Everything that happened around a child, newest first: concerns, consents and withdrawals,
/// requests and their routing, visits and outcomes. For the child's mentors; for a specialist,
/// the requests they accepted, while consent is in force.
#[tracing::instrument(skip_all)]
pub async fn timeline(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    q: TimelineParams,
) -> ServiceResult<PageOf<TimelineEntry>> {
    let p = caller.principal()?;
    let limit = match q.limit.unwrap_or(50) {
        l @ 1..=200 => i64::from(l),
        _ => return Err(ServiceError::bad_request("limit must be 1 to 200")),
    };
    let before = q.cursor.as_deref().map(parse_timeline_cursor).transpose()?;
    let child = state.store.get_child(id).await?;
    let record_access = child.as_ref().and_then(|c| {
        child_record_access(
            &p.actor(),
            ChildScope {
                organization_id: c.organization_id,
                location_id: c.location_id,
            },
        )
    });
    let (only, role) = match (record_access, p.has(Role::Specialist), &p.staff) {
        (Some(a), _, _) => (None, role_of(a)),
        (None, true, Some(me)) => {
            let filter = crate::store::ConsultationFilter {
                staff_id: Some(me.staff.id),
                limit: 1000,
                ..Default::default()
            };
            let mine: Vec<ConsultationRow> = state
                .store
                .list_consultations(&filter)
                .await?
                .into_iter()
                .filter(|r| r.child_id == id && r.assigned_to == Some(me.staff.id))
                .collect();
            let Some(first) = mine.first() else {
                // logged as refused, answered like an unknown child
                accessible_child(state, caller, id, AuditAction::Read, "timeline").await?;
                return Err(ServiceError::not_found("child"));
            };
            specialist_consent(state, p, first).await?;
            (
                Some(mine.iter().map(|r| r.id).collect::<Vec<_>>()),
                Role::Specialist,
            )
        }
        _ => {
            accessible_child(state, caller, id, AuditAction::Read, "timeline").await?;
            return Err(ServiceError::not_found("child"));
        }
    };
    let rows = state
        .store
        .timeline(id, before, only.as_deref(), limit)
        .await?;
    let audit = AuditRecord::new(
        &p.audit_actor(role),
        AuditAction::Read,
        "timeline",
        None,
        Some(id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    let next_cursor = if rows.len() as i64 == limit {
        rows.last().map(timeline_cursor)
    } else {
        None
    };
    Ok(PageOf {
        items: rows
            .into_iter()
            .map(|r| TimelineEntry {
                at: r.happened_at,
                kind: r.kind,
                id: r.id,
                consultation_id: r.consultation_id,
                detail: r.detail,
            })
            .collect(),
        next_cursor,
    })
}

// ---------------------------------------------------------------- early destruction

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestructionRequest {
    /// A guardian with parental authority, or the child (12 or older).
    pub requested_by: super::consent::GiverDto,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DestructionAccepted {
    pub id: Uuid,
    /// The next retention run destroys the child's data; the access log keeps its ids.
    pub carried_out_by: String,
}

/// Records a request for early destruction of the child's data (by a parent with authority, or
/// a child of 12 or older); the retention job carries it out.
#[tracing::instrument(skip_all)]
pub async fn request_destruction(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: DestructionRequest,
) -> ServiceResult<DestructionAccepted> {
    let p = caller.principal()?;
    let (child, access) = accessible_child(state, caller, id, AuditAction::Delete, "child").await?;
    let requested_by = match (body.requested_by.guardian_id, body.requested_by.child) {
        (Some(g), None) => {
            let ok = state
                .store
                .list_guardians(child.id)
                .await?
                .iter()
                .any(|x| x.id == g && x.has_parental_authority);
            if !ok {
                return Err(ServiceError::field(
                    "requested_by.guardian_id",
                    "not a guardian with parental authority of this child",
                ));
            }
            Giver::Guardian(g)
        }
        (None, Some(true)) => {
            let age = crate::domain::calendar::age_on(child.date_of_birth, dutch_date(now()))
                .unwrap_or(0);
            if age < crate::domain::consent::CHILD_CONSENTS_FROM {
                return Err(ServiceError::field(
                    "requested_by",
                    "a child asks for this itself from 12",
                ));
            }
            Giver::Child
        }
        _ => {
            return Err(ServiceError::field(
                "requested_by",
                "give either guardian_id or child: true",
            ))
        }
    };
    let mut v = Validation::new();
    v.optional_text("reason", body.reason.as_deref(), 1000);
    v.finish().map_err(ServiceError::validation)?;
    let row = DestructionRequestRow {
        id: Uuid::now_v7(),
        child_id: child.id,
        organization_id: child.organization_id,
        requested_by: match requested_by {
            Giver::Guardian(g) => format!("guardian:{g}"),
            Giver::Child => "child".into(),
        },
        reason: body.reason.map(|r| r.trim().to_string()),
        recorded_by_subject: p.subject.clone(),
        requested_at: now(),
        carried_out_at: None,
    };
    let audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Delete,
        "child",
        Some(row.id),
        Some(child.id),
        "early_destruction",
    );
    state.store.create_destruction_request(&row, &audit).await?;
    Ok(DestructionAccepted {
        id: row.id,
        carried_out_by: "the next retention run".into(),
    })
}
