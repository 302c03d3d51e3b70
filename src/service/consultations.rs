//! Concerns (*signalering*) and consultation requests: submission with the consent check,
//! routing to a regional specialist and the outbox in one transaction; the specialist's answer,
//! the coordinator's queue, cancellation, hold and resume. Transitions are decided in
//! `domain::consultation`, the choice of specialist in `domain::routing`.

use super::children::{accessible_child, role_of};
use super::consent::{consent_basis, log_refused};
use super::paging::{next_cursor, page};
use crate::audit::{AuditAction, AuditActor, AuditRecord};
use crate::auth::Principal;
use crate::domain::access::{
    request_standing, request_visibility, ChildScope, RequestScope, RequestStanding,
};
use crate::domain::calendar::{dutch_date, now};
use crate::domain::children::bsn_warning;
use crate::domain::consent::{consent_in_force, ConsentCheck, Purpose, Target};
use crate::domain::consultation::{next, ConsultationStatus, Event, Urgency};
use crate::domain::routing::{answer_due, rank, AnswerDays, Candidate, Need, Ranking};
use crate::domain::types::{ConcernDomain, RegionCode, Role, StaffRole};
use crate::domain::Validation;
use crate::store::{
    ChildRow, ConcernRow, ConsultationChange, ConsultationFilter, ConsultationRow, DeclineRow,
    IdempotencyKey, RouteRequest, StoreError, Submission,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Ctx, PageOf, ServiceError, ServiceResult};
/// Purpose recorded in the access log for the consultation workflow.
pub const PURPOSE_CONSULTATION: &str = "consultation";

// ---------------------------------------------------------------- concerns

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConcern {
    /// The developmental domains the concern is about.
    pub domains: Vec<ConcernDomain>,
    /// What was seen (*opvallend gedrag*), in the mentor's words.
    pub observation: String,
    #[serde(deserialize_with = "crate::domain::calendar::iso_date")]
    pub observed_since: NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedConcern {
    pub id: Uuid,
    /// Free text that seems to hold a BSN (stored, but please remove it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::domain::FieldError>,
}

#[derive(Serialize, ToSchema)]
pub struct ConcernView {
    pub id: Uuid,
    pub child_id: Uuid,
    pub domains: Vec<String>,
    pub observation: String,
    pub observed_since: NaiveDate,
    pub recorded_by_subject: String,
    pub created_at: DateTime<Utc>,
}

/// A concern with its observation opened (it is sealed at rest).
fn concern_view(keys: &crate::crypto::Keyring, c: ConcernRow) -> Result<ConcernView, ServiceError> {
    Ok(ConcernView {
        id: c.id,
        child_id: c.child_id,
        domains: c.domains.iter().map(|d| d.as_str().to_string()).collect(),
        observation: keys
            .open(c.id, &c.observation)
            .map_err(ServiceError::internal)?,
        observed_since: c.observed_since,
        recorded_by_subject: c.recorded_by_subject,
        created_at: c.created_at,
    })
}

/// Records a concern about a child (a mentor of the child's location).
#[tracing::instrument(skip_all)]
pub async fn create_concern(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: NewConcern,
) -> ServiceResult<CreatedConcern> {
    let p = caller.principal()?;
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Create, "concern").await?;
    super::children::still_here(&child)?;
    let today = dutch_date(now());
    let mut domains = body.domains.clone();
    domains.sort();
    domains.dedup();
    let mut v = Validation::new();
    v.check(
        !domains.is_empty(),
        "domains",
        "name at least one developmental domain",
    );
    v.text("observation", &body.observation, 4000);
    v.check(
        body.observed_since <= today,
        "observed_since",
        "must not be in the future",
    );
    v.check(
        body.observed_since >= child.date_of_birth,
        "observed_since",
        "must not be before the child's birth",
    );
    v.finish().map_err(ServiceError::validation)?;
    let concern_id = Uuid::now_v7();
    let warnings: Vec<_> = bsn_warning("observation", Some(&body.observation))
        .into_iter()
        .collect();
    let row = ConcernRow {
        id: concern_id,
        child_id: child.id,
        domains: crate::store::TextSet(domains.to_vec()),
        observation: state.keys.seal(concern_id, body.observation.trim()),
        observed_since: body.observed_since,
        recorded_by_subject: p.subject.clone(),
        recorded_by_staff_id: p.staff.as_ref().map(|s| s.staff.id),
        created_at: now(),
    };
    let audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Create,
        "concern",
        Some(row.id),
        Some(child.id),
        PURPOSE_CONSULTATION,
    );
    state.store.create_concern(&row, &audit).await?;
    Ok(CreatedConcern {
        id: row.id,
        warnings,
    })
}

/// The concerns recorded about a child.
#[tracing::instrument(skip_all)]
pub async fn list_concerns(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<ConcernView>> {
    let p = caller.principal()?;
    let (child, access) = accessible_child(state, caller, id, AuditAction::Read, "concern").await?;
    let rows = state.store.concerns_of_child(child.id).await?;
    let audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Read,
        "concern",
        None,
        Some(child.id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    let views: Result<Vec<ConcernView>, ServiceError> = rows
        .into_iter()
        .map(|c| concern_view(&state.keys, c))
        .collect();
    views
}

/// One concern, for those who keep the child's record; another's answers as one that does not
/// exist.
#[tracing::instrument(skip_all)]
pub async fn get_concern(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<ConcernView> {
    let p = caller.principal()?;
    let concern = state
        .store
        .get_concern(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("concern"))?;
    let (child, access) = accessible_child(
        state,
        caller,
        concern.child_id,
        AuditAction::Read,
        "concern",
    )
    .await
    .map_err(|e| match e {
        ServiceError::NotFound { .. } => ServiceError::not_found("concern"),
        e => e,
    })?;
    let audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Read,
        "concern",
        Some(concern.id),
        Some(child.id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    concern_view(&state.keys, concern)
}

// ---------------------------------------------------------------- consent coverage and routing

/// Which specialists' organisations the parents' consent covers for a consultation in `region`.
pub(crate) struct Coverage {
    /// Consent toward the specialists of the whole region.
    pub region: ConsentCheck,
    pub organizations: HashSet<Uuid>,
    /// The records the permission rests on.
    pub relied_on: Vec<Uuid>,
    /// When the newest of those was recorded (figures: did the request wait for consent?).
    pub latest_grant_at: Option<DateTime<Utc>>,
}

impl Coverage {
    /// Does the consent cover this organisation (named, or within a region-wide consent)?
    pub fn covers(&self, org: Uuid) -> bool {
        self.organizations.contains(&org)
    }

    pub fn any(&self) -> bool {
        self.region.allowed || !self.organizations.is_empty()
    }
}

/// Is the parents' consent for this request in force toward `org` now? Read afresh on every
/// access, so a withdrawal through any replica holds on the next request everywhere.
pub(crate) async fn covered(
    state: &Ctx,
    row: &ConsultationRow,
    org: Uuid,
) -> Result<ConsentCheck, ServiceError> {
    let Some(child) = state.store.get_child(row.child_id).await? else {
        return Ok(ConsentCheck {
            allowed: false,
            consent_id: None,
            relied_on: Vec::new(),
            missing: Vec::new(),
            any_one_guardian: false,
            refused_by: Vec::new(),
            reasons: Vec::new(),
            age: None,
        });
    };
    let region: RegionCode = row.region_code.parse().map_err(ServiceError::internal)?;
    let (records, guardians) = consent_basis(state, child.id, Purpose::Consultation).await?;
    Ok(consent_in_force(
        child.date_of_birth,
        &guardians,
        &records,
        Purpose::Consultation,
        &Target {
            organization_id: Some(org),
            region: Some(region),
        },
        now(),
    ))
}

pub(crate) async fn coverage(
    state: &Ctx,
    child: &ChildRow,
    region: &RegionCode,
    organizations: impl IntoIterator<Item = Uuid>,
    at: DateTime<Utc>,
) -> Result<Coverage, ServiceError> {
    let (records, guardians) = consent_basis(state, child.id, Purpose::Consultation).await?;
    let check = |org: Option<Uuid>| {
        let target = Target {
            organization_id: org,
            region: Some(region.clone()),
        };
        consent_in_force(
            child.date_of_birth,
            &guardians,
            &records,
            Purpose::Consultation,
            &target,
            at,
        )
    };
    let region_check = check(None);
    let mut relied_on = region_check.relied_on.clone();
    let mut covered = HashSet::new();
    for org in organizations {
        let c = check(Some(org));
        if c.allowed {
            covered.insert(org);
            for id in c.relied_on {
                if !relied_on.contains(&id) {
                    relied_on.push(id);
                }
            }
        }
    }
    let latest_grant_at = records
        .iter()
        .filter(|r| relied_on.contains(&r.id))
        .map(|r| r.recorded_at)
        .max();
    Ok(Coverage {
        region: region_check,
        organizations: covered,
        relied_on,
        latest_grant_at,
    })
}

/// The child's youth-care region today, from its location's municipality.
async fn region_of_child(
    state: &Ctx,
    child: &ChildRow,
    at: DateTime<Utc>,
) -> Result<RegionCode, ServiceError> {
    let location = state
        .store
        .get_location(child.location_id)
        .await?
        .ok_or_else(|| ServiceError::internal("child without location"))?;
    state
        .store
        .region_of(&location.municipality_code, dutch_date(at))
        .await?
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            ServiceError::field(
                "child_id",
                "the child's location has no youth-care region today; import the region table",
            )
        })
}

/// Ranks the region's specialists for a request; also returns the consent coverage.
async fn ranking_for(
    state: &Ctx,
    child: &ChildRow,
    region: &RegionCode,
    expertise: ConcernDomain,
    declined: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(Ranking, Coverage), ServiceError> {
    let rows = state.store.routing_candidates(region.as_str()).await?;
    let candidates: Vec<Candidate> = rows
        .into_iter()
        .map(|r| Candidate {
            staff_id: r.staff_id,
            organization_id: r.organization_id,
            active: r.active,
            regions: r
                .region_codes
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect(),
            expertise: r.expertise,
            capacity: r.capacity,
            open: r.open_count,
            last_offered_at: r.last_offered_at,
        })
        .collect();
    let orgs: HashSet<Uuid> = candidates.iter().map(|c| c.organization_id).collect();
    let cover = coverage(state, child, region, orgs, at).await?;
    let need = Need {
        region,
        expertise,
        declined,
    };
    let ranking = rank(&need, &candidates, |c| cover.covers(c.organization_id));
    Ok((ranking, cover))
}

fn answer_days(state: &Ctx) -> AnswerDays {
    AnswerDays {
        normal: state.config.answer_days_normal,
        high: state.config.answer_days_high,
    }
}

/// A 409 for someone who does not keep the child's record: the rule, never who must consent.
fn consent_not_covering(what: &str) -> ServiceError {
    ServiceError::conflict(
        "consent-required",
        format!("the parents' consent in force does not cover {what}"),
    )
}

fn consent_required(check: &ConsentCheck) -> ServiceError {
    ServiceError::Conflict {
        code: "consent-required",
        detail:
            "consent for a consultation is not in force; see missing for who still must consent"
                .into(),
        current_status: None,
        missing: Some(check.missing.clone()),
        reasons: check.reasons.clone(),
    }
}

// ---------------------------------------------------------------- views

/// Whether the parents' consent the request rests on is in force now, and if not, why.
#[derive(Serialize, ToSchema)]
pub struct ConsentStateView {
    pub in_force: bool,
    pub reasons: Vec<super::consent::RuleView>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsultationView {
    pub id: Uuid,
    pub child_id: Uuid,
    pub organization_id: Uuid,
    pub location_id: Uuid,
    pub concern_id: Uuid,
    /// The child's question (*hulpvraag*); withheld from a specialist until they accept.
    pub question: Option<String>,
    pub expertise: ConcernDomain,
    pub urgency: Urgency,
    pub region_code: String,
    pub status: ConsultationStatus,
    pub held_from: Option<ConsultationStatus>,
    /// Why it stands where it stands, in the gateway's words.
    pub status_reason: Option<String>,
    /// The reason a person gave for cancelling or rejecting it.
    pub status_note: Option<String>,
    pub offered_to: Option<Uuid>,
    pub answer_due: Option<DateTime<Utc>>,
    pub assigned_to: Option<Uuid>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How it ended for the child (closed requests).
    pub outcome: Option<crate::domain::consultation::Outcome>,
    pub closed_at: Option<DateTime<Utc>>,
    pub parents_involved: Option<bool>,
    pub referral_kind: Option<String>,
    pub referral_consent_in_force: Option<bool>,
    /// The specialist's advice for the group at closing.
    pub advice_for_group: Option<String>,
    /// The closing summary (the youth-care file): for the assigned specialist only.
    pub summary: Option<String>,
    /// For the child's mentors, on an open request: is the consent it rests on in force, and
    /// if not, which rule stops it (e.g. the child turned 12 and must consent too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentStateView>,
}

/// A request as a caller with `standing` may see it (decided in `domain::access`), with its
/// sealed texts opened. Every path that shows a request goes through here.
pub(crate) fn view_for(
    state: &Ctx,
    row: ConsultationRow,
    standing: RequestStanding,
) -> Result<ConsultationView, ServiceError> {
    let open = |sealed: &Option<String>| -> Result<Option<String>, ServiceError> {
        sealed
            .as_deref()
            .map(|s| state.keys.open(row.id, s).map_err(ServiceError::internal))
            .transpose()
    };
    let sees = request_visibility(standing, row.assigned_to.is_some());
    let question = if sees.question {
        Some(
            state
                .keys
                .open(row.id, &row.question)
                .map_err(ServiceError::internal)?,
        )
    } else {
        None
    };
    let advice_for_group = if sees.advice {
        open(&row.advice_sealed)?
    } else {
        None
    };
    let summary = if sees.summary {
        open(&row.summary_sealed)?
    } else {
        None
    };
    let status_note = open(&row.status_note_sealed)?;
    Ok(ConsultationView {
        id: row.id,
        child_id: row.child_id,
        organization_id: row.organization_id,
        location_id: row.location_id,
        concern_id: row.concern_id,
        question,
        expertise: row.expertise,
        urgency: row.urgency,
        region_code: row.region_code,
        status: row.status,
        held_from: row.held_from,
        status_reason: row.status_reason,
        status_note,
        offered_to: row.offered_to,
        answer_due: row.answer_due,
        assigned_to: row.assigned_to,
        accepted_at: row.accepted_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        outcome: row.outcome,
        closed_at: row.closed_at,
        parents_involved: row.parents_involved,
        referral_kind: row.referral_kind,
        referral_consent_in_force: row.referral_consent_in_force,
        advice_for_group,
        summary,
        consent: None,
    })
}

/// The answer to a submission (also what a repeated `Idempotency-Key` returns).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SubmittedConsultation {
    pub id: Uuid,
    pub status: ConsultationStatus,
    pub offered_to: Option<Uuid>,
    pub answer_due: Option<DateTime<Utc>>,
    /// Free text that seems to hold a BSN (stored, but please remove it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::domain::FieldError>,
}

fn submitted(row: &ConsultationRow) -> SubmittedConsultation {
    SubmittedConsultation {
        id: row.id,
        status: row.status,
        offered_to: row.offered_to,
        answer_due: row.answer_due,
        warnings: Vec::new(),
    }
}

// ---------------------------------------------------------------- submission

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsultation {
    pub child_id: Uuid,
    pub concern_id: Uuid,
    /// The child's question (*hulpvraag*): "what question does this child have?", not "what is wrong".
    pub question: String,
    pub expertise: ConcernDomain,
    pub urgency: Urgency,
}

/// How a submission ended: made now, or the answer to an earlier request with the same key.
pub enum Submitted {
    Created(SubmittedConsultation),
    Replayed(SubmittedConsultation),
}

/// Asks for a consultation: with consent in force, the request is routed at once to a
/// specialist of the child's region (or queued for the coordinator). With an idempotency key
/// (unique per caller), a repeat answers what the first request did; the same key with another
/// request is refused.
#[tracing::instrument(skip_all)]
pub async fn submit(
    state: &Ctx,
    caller: &Caller,
    req: NewConsultation,
    idempotency_key: Option<String>,
) -> ServiceResult<Submitted> {
    let p = caller.principal()?;
    let idempotency = idempotency_key.map(|key| IdempotencyKey {
        scope: format!(
            "{}|{}|{}",
            p.issuer,
            p.subject,
            p.organization_id.unwrap_or_default()
        ),
        key,
        request_hash: hex::encode(Sha256::digest(serde_json::to_vec(&req).unwrap_or_default())),
    });
    if let Some(k) = &idempotency {
        if let Some(stored) = state.store.idempotent_response(&k.scope, &k.key).await? {
            return replay(state, stored, k).await;
        }
    }
    let (child, access) = accessible_child(
        state,
        caller,
        req.child_id,
        AuditAction::Create,
        "consultation",
    )
    .await?;
    super::children::still_here(&child)?;
    let child_id = child.id;
    let actor = caller.audit_actor(role_of(access));
    match submit_for(state, p, child, access, req, idempotency).await {
        Err(e) if e.is_refusal() => {
            // NEN 7513: the refused attempt is logged too (consent not in force, bad input)
            log_refused(
                state,
                &actor,
                AuditAction::Create,
                "consultation",
                child_id,
                PURPOSE_CONSULTATION,
            )
            .await?;
            Err(e)
        }
        other => other,
    }
}

async fn submit_for(
    state: &Ctx,
    principal: &Principal,
    child: ChildRow,
    access: crate::domain::access::ChildAccess,
    req: NewConsultation,
    idempotency: Option<IdempotencyKey>,
) -> ServiceResult<Submitted> {
    let at = now();
    let mut v = Validation::new();
    v.text("question", &req.question, 2000);
    let concern = state
        .store
        .get_concern(req.concern_id)
        .await?
        .filter(|c| c.child_id == child.id);
    v.check(
        concern.is_some(),
        "concern_id",
        "not a concern recorded about this child",
    );
    v.finish().map_err(ServiceError::validation)?;
    let region = region_of_child(state, &child, at).await?;
    let (ranking, cover) = ranking_for(state, &child, &region, req.expertise, &[], at).await?;
    if !cover.any() {
        return Err(consent_required(&cover.region));
    }
    let id = Uuid::now_v7();
    let row = ConsultationRow {
        id,
        child_id: child.id,
        organization_id: child.organization_id,
        location_id: child.location_id,
        concern_id: req.concern_id,
        question: state.keys.seal(id, req.question.trim()),
        expertise: req.expertise,
        urgency: req.urgency,
        region_code: region.to_string(),
        status: ConsultationStatus::Requested,
        held_from: None,
        offered_to: None,
        offered_at: None,
        answer_due: None,
        assigned_to: None,
        accepted_at: None,
        status_reason: None,
        status_note_sealed: None,
        requested_by_subject: principal.subject.clone(),
        requested_by_staff_id: principal.staff.as_ref().map(|s| s.staff.id),
        version: 1,
        created_at: at,
        updated_at: at,
        half_year: Some(crate::domain::figures::HalfYear::of(dutch_date(at)).to_string()),
        age_band: Some(
            crate::domain::figures::AgeBand::of(child.date_of_birth, dutch_date(at))
                .as_str()
                .into(),
        ),
        consent_delayed: Some(
            cover
                .latest_grant_at
                .zip(concern.as_ref())
                .is_some_and(|(grant, c)| grant > c.created_at),
        ),
        outcome: None,
        closed_at: None,
        summary_sealed: None,
        advice_sealed: None,
        parents_involved: None,
        referral_kind: None,
        referral_consent_in_force: None,
    };
    let submission = Submission {
        consent_ids: cover.relied_on.clone(),
        route: RouteRequest {
            ranking,
            outcomes: routing_outcomes(ConsultationStatus::Requested)?,
            answer_due: answer_due(at, req.urgency, answer_days(state)),
            trigger: "submitted".into(),
        },
        audit: AuditRecord::new(
            &principal.audit_actor(role_of(access)),
            AuditAction::Create,
            "consultation",
            Some(row.id),
            Some(child.id),
            PURPOSE_CONSULTATION,
        ),
        idempotency: idempotency.clone(),
        row,
    };
    match state.store.submit_consultation(&submission).await {
        Ok(row) => {
            let mut out = submitted(&row);
            out.warnings = bsn_warning("question", Some(&req.question))
                .into_iter()
                .collect();
            Ok(Submitted::Created(out))
        }
        Err(StoreError::Duplicate) => {
            let k = idempotency.expect("only with a key");
            match state.store.idempotent_response(&k.scope, &k.key).await? {
                Some(stored) => replay(state, stored, &k).await,
                None => Err(ServiceError::conflict(
                    "idempotency-in-progress",
                    "a request with this Idempotency-Key is being handled",
                )),
            }
        }
        Err(StoreError::ConsentChanged) => Err(ServiceError::conflict(
            "consent-required",
            "the consent changed while the request was submitted; check consent and try again",
        )),
        Err(e) => Err(e.into()),
    }
}

/// A repeat of a request with the same key: the request the first one made, as it stands.
async fn replay(
    state: &Ctx,
    stored: crate::store::IdempotentResponse,
    k: &IdempotencyKey,
) -> ServiceResult<Submitted> {
    if stored.request_hash != k.request_hash {
        return Err(ServiceError::IdempotencyKeyReused);
    }
    let Some(id) = stored.resource_id else {
        return Err(ServiceError::conflict(
            "idempotency-in-progress",
            "a request with this Idempotency-Key is being handled",
        ));
    };
    let row = state
        .store
        .get_consultation(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consultation"))?;
    Ok(Submitted::Replayed(submitted(&row)))
}

// ---------------------------------------------------------------- reading

fn scope_of(row: &ConsultationRow, holder_organization: Option<Uuid>) -> RequestScope<'_> {
    RequestScope {
        child: ChildScope {
            organization_id: row.organization_id,
            location_id: row.location_id,
        },
        region_code: &row.region_code,
        offered_to: row.offered_to,
        assigned_to: row.assigned_to,
        holder_organization,
    }
}

/// The organisation of the specialist holding a request, looked up only when it can matter:
/// for a partner system that does not keep the child's record.
async fn holder_organization(
    state: &Ctx,
    p: &Principal,
    row: &ConsultationRow,
) -> Result<Option<Uuid>, ServiceError> {
    let Some(holder) = row.assigned_to else {
        return Ok(None);
    };
    if !p.has(Role::Integration) || p.organization_id == Some(row.organization_id) {
        return Ok(None);
    }
    Ok(state
        .store
        .get_staff(holder)
        .await?
        .map(|s| s.staff.organization_id))
}

pub(crate) fn standing_role(s: RequestStanding) -> Role {
    match s {
        RequestStanding::ChildRecord(a) => role_of(a),
        RequestStanding::Specialist => Role::Specialist,
        RequestStanding::Coordinator => Role::Coordinator,
        RequestStanding::ProviderSystem => Role::Integration,
    }
}

/// Loads a consultation the caller has a standing toward; 404 otherwise (logged as refused).
/// A coordinator stands toward a request of their region only while the parents' consent in
/// force covers the coordinator's organisation: otherwise it is answered like an unknown id.
pub(crate) async fn consultation_for(
    state: &Ctx,
    p: &Principal,
    id: Uuid,
    action: AuditAction,
) -> Result<(ConsultationRow, RequestStanding), ServiceError> {
    let row = state
        .store
        .get_consultation(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consultation"))?;
    let holder = holder_organization(state, p, &row).await?;
    let standing = match request_standing(&p.actor(), scope_of(&row, holder)) {
        Some(RequestStanding::Coordinator) => {
            let org = p.organization_id.unwrap_or_default();
            covered(state, &row, org)
                .await?
                .allowed
                .then_some(RequestStanding::Coordinator)
        }
        other => other,
    };
    match standing {
        Some(s) => Ok((row, s)),
        None => {
            let role = p.roles.first().copied().unwrap_or(Role::Admin);
            let record = AuditRecord::new(
                &p.audit_actor(role),
                action,
                "consultation",
                Some(row.id),
                Some(row.child_id),
                PURPOSE_CONSULTATION,
            )
            .denied();
            state.store.record(&[record]).await?;
            Err(ServiceError::not_found("consultation"))
        }
    }
}

/// A specialist (or their provider's system) reads a child's request only while the consent
/// covers their organisation; the refusal names the rule that applies (withdrawn, the child
/// turned 12, the period ended…).
pub(crate) async fn specialist_consent(
    state: &Ctx,
    p: &Principal,
    row: &ConsultationRow,
) -> Result<(), ServiceError> {
    youth_care_consent(state, p, row, RequestStanding::Specialist).await
}

pub(crate) async fn youth_care_consent(
    state: &Ctx,
    p: &Principal,
    row: &ConsultationRow,
    standing: RequestStanding,
) -> Result<(), ServiceError> {
    let org = p.organization_id.unwrap_or_default();
    let check = covered(state, row, org).await?;
    if check.allowed {
        return Ok(());
    }
    let record = AuditRecord::new(
        &p.audit_actor(standing_role(standing)),
        AuditAction::Read,
        "consultation",
        Some(row.id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    )
    .denied();
    state.store.record(&[record]).await?;
    let withdrawn = check
        .reasons
        .iter()
        .any(|r| r.rule == "withdrawn" || r.rule == "refused");
    let because: Vec<String> = check.reasons.iter().map(|r| r.message.clone()).collect();
    let detail = format!(
        "the parents' consent for this consultation is not in force, so nothing of the child can be shown: {}",
        if because.is_empty() {
            "it does not cover your organisation".to_string()
        } else {
            because.join("; ")
        }
    );
    Err(ServiceError::Forbidden {
        code: if withdrawn {
            "consent-withdrawn"
        } else {
            "consent-not-in-force"
        },
        detail,
        rules: check.reasons.iter().map(|r| r.rule).collect(),
    })
}

/// For the child's mentors: is the consent an open request rests on in force now, and why not?
async fn consent_state(
    state: &Ctx,
    row: &ConsultationRow,
) -> Result<Option<ConsentStateView>, ServiceError> {
    let status = row.status;
    if !status.is_open() {
        return Ok(None);
    }
    let specialist_org = match row.assigned_to.or(row.offered_to) {
        Some(s) => state
            .store
            .get_staff(s)
            .await?
            .map(|s| s.staff.organization_id),
        None => None,
    };
    let check = match specialist_org {
        Some(org) => covered(state, row, org).await?,
        None => {
            let Some(child) = state.store.get_child(row.child_id).await? else {
                return Ok(None);
            };
            let region: RegionCode = row.region_code.parse().map_err(ServiceError::internal)?;
            coverage(state, &child, &region, [], now()).await?.region
        }
    };
    Ok(Some(ConsentStateView {
        in_force: check.allowed,
        reasons: check.reasons.into_iter().map(Into::into).collect(),
    }))
}

/// One consultation request.
#[tracing::instrument(skip_all)]
pub async fn get_consultation(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<ConsultationView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Read).await?;
    if matches!(
        standing,
        RequestStanding::Specialist | RequestStanding::ProviderSystem
    ) {
        youth_care_consent(state, p, &row, standing).await?;
    }
    let audit = AuditRecord::new(
        &p.audit_actor(standing_role(standing)),
        AuditAction::Read,
        "consultation",
        Some(row.id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    let consent = match standing {
        RequestStanding::ChildRecord(_) => consent_state(state, &row).await?,
        _ => None,
    };
    let mut view = view_for(state, row, standing)?;
    view.consent = consent;
    Ok(view)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<ConsultationStatus>,
    /// `me`: only requests offered or assigned to the calling specialist.
    #[param(pattern = "^me$")]
    pub assigned: Option<String>,
    /// Only this region (coordinators: one of theirs).
    pub region: Option<RegionCode>,
    /// Only the requests about this child.
    pub child_id: Option<Uuid>,
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the last id seen.
    #[param(value_type = Option<uuid::Uuid>)]
    pub cursor: Option<String>,
}

/// Consultation requests the caller may see: a mentor's locations, the organisation's (partner
/// system), a specialist's own (`assigned=me`), a coordinator's regions (the queue:
/// `status=unassigned`).
#[tracing::instrument(skip_all)]
pub async fn list_consultations(
    state: &Ctx,
    caller: &Caller,
    q: ListParams,
) -> ServiceResult<PageOf<ConsultationView>> {
    let p = caller.principal()?;
    let page = page(q.limit, q.cursor.as_deref())?;
    if q.assigned.as_deref().is_some_and(|a| a != "me") {
        return Err(ServiceError::bad_request(
            "assigned takes only the value me",
        ));
    }
    let actor = p.actor();
    let mut filter = ConsultationFilter {
        status: q.status.map(|s| s.as_str().to_string()),
        child_id: q.child_id,
        after: page.after,
        limit: page.limit,
        ..Default::default()
    };
    let role = if p.has(Role::Specialist) && (q.assigned.is_some() || !p.has(Role::Mentor)) {
        filter.staff_id = actor.staff_id;
        Role::Specialist
    } else if p.has(Role::Mentor) && q.assigned.is_none() {
        filter.organization_id = p.organization_id;
        filter.location_ids = Some(actor.location_ids.clone());
        Role::Mentor
    } else if p.has(Role::Integration) && q.assigned.is_none() {
        filter.organization_id = p.organization_id;
        filter.or_held_by_organization = p.organization_id;
        Role::Integration
    } else if p.has(Role::Coordinator) && q.assigned.is_none() {
        let mine: Vec<String> = actor.region_codes.iter().map(|r| r.to_string()).collect();
        filter.region_codes = Some(match &q.region {
            Some(r) if mine.iter().any(|m| m == r.as_str()) => vec![r.to_string()],
            Some(_) => return Err(ServiceError::forbidden("not a region you coordinate")),
            None => mine,
        });
        Role::Coordinator
    } else {
        return Err(ServiceError::forbidden(
            "no consultation list for this role",
        ));
    };
    if let Some(r) = &q.region {
        if role != Role::Coordinator {
            filter.region_codes = Some(vec![r.to_string()]);
        }
    }
    let rows = state.store.list_consultations(&filter).await?;
    let next_cursor = next_cursor(&rows, page.limit, |r| r.id);
    // the youth-care side sees a request only while the consent covers its organisation
    let standing_of = |row: &ConsultationRow| match role {
        Role::Specialist => RequestStanding::Specialist,
        Role::Coordinator => RequestStanding::Coordinator,
        // a partner system: its own organisation's child, or one its specialist took
        Role::Integration if p.organization_id == Some(row.organization_id) => {
            RequestStanding::ChildRecord(crate::domain::access::ChildAccess::OwnIntegration)
        }
        Role::Integration => RequestStanding::ProviderSystem,
        _ => RequestStanding::ChildRecord(crate::domain::access::ChildAccess::MentorOfLocation),
    };
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        let standing = standing_of(&row);
        let visible = match standing {
            RequestStanding::ChildRecord(_) => true,
            _ => {
                let org = p.organization_id.unwrap_or_default();
                covered(state, &row, org).await?.allowed
            }
        };
        if visible {
            kept.push((row, standing));
        }
    }
    let records: Vec<AuditRecord> = kept
        .iter()
        .map(|(r, standing)| {
            AuditRecord::new(
                &p.audit_actor(standing_role(*standing)),
                AuditAction::Search,
                "consultation",
                Some(r.id),
                Some(r.child_id),
                PURPOSE_CONSULTATION,
            )
        })
        .collect();
    state.store.record(&records).await?;
    let items: Result<Vec<ConsultationView>, ServiceError> = kept
        .into_iter()
        .map(|(r, standing)| view_for(state, r, standing))
        .collect();
    Ok(PageOf {
        items: items?,
        next_cursor,
    })
}

#[derive(Serialize, ToSchema)]
pub struct RoutingDecisionView {
    pub decided_at: DateTime<Utc>,
    /// `submitted`, `declined`, `expired`, `resumed`.
    pub trigger: String,
    pub chosen_staff_id: Option<Uuid>,
    pub reason: String,
    /// Every candidate with its verdict (`eligible`, `full`, `declined_before`, `not_covered_by_consent`, …).
    #[schema(value_type = Object)]
    pub considered: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct DeclineView {
    pub staff_id: Uuid,
    /// `declined` or `expired` (deadline missed).
    pub kind: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct RoutingView {
    pub decisions: Vec<RoutingDecisionView>,
    pub declines: Vec<DeclineView>,
}

/// How the request was routed, and why.
#[tracing::instrument(skip_all)]
pub async fn routing(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<RoutingView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Read).await?;
    if matches!(
        standing,
        RequestStanding::Specialist | RequestStanding::ProviderSystem
    ) {
        return Err(ServiceError::not_found("consultation"));
    }
    let decisions = state.store.routing_decisions(row.id).await?;
    let declines = state.store.declines(row.id).await?;
    let audit = AuditRecord::new(
        &p.audit_actor(standing_role(standing)),
        AuditAction::Read,
        "routing",
        Some(row.id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    let open = |d: &DeclineRow| -> Result<Option<String>, ServiceError> {
        d.reason
            .as_deref()
            .map(|r| state.keys.open(d.id, r).map_err(ServiceError::internal))
            .transpose()
    };
    let mut decline_views = Vec::with_capacity(declines.len());
    for d in &declines {
        decline_views.push(DeclineView {
            staff_id: d.staff_id,
            kind: d.kind.clone(),
            reason: open(d)?,
            at: d.at,
        });
    }
    Ok(RoutingView {
        decisions: decisions
            .into_iter()
            .map(|d| RoutingDecisionView {
                decided_at: d.decided_at,
                trigger: d.trigger,
                chosen_staff_id: d.chosen_staff_id,
                reason: d.reason,
                considered: serde_json::from_str(&d.considered).unwrap_or_default(),
            })
            .collect(),
        declines: decline_views,
    })
}

// ---------------------------------------------------------------- transitions

fn status_of(row: &ConsultationRow) -> Result<ConsultationStatus, ServiceError> {
    Ok(row.status)
}

/// The specialist whose capacity the request holds now, if any.
pub(crate) fn slot_holder(row: &ConsultationRow) -> Result<Option<Uuid>, ServiceError> {
    let held_from = row.held_from;
    Ok(crate::domain::consultation::slot_holder(
        status_of(row)?,
        held_from,
        row.offered_to,
        row.assigned_to,
    ))
}

/// Where routing sends a request in status `from` (decided by the state machine).
fn routing_outcomes(
    from: ConsultationStatus,
) -> ServiceResult<crate::domain::consultation::RoutingOutcomes> {
    crate::domain::consultation::routing_outcomes(from).map_err(|e| {
        ServiceError::conflict("illegal-transition", e.to_string()).in_status(from.as_str())
    })
}

/// The next status, or a 409 naming the current one.
fn transition(row: &ConsultationRow, event: Event) -> Result<ConsultationStatus, ServiceError> {
    let held_from = row.held_from;
    next(status_of(row)?, event, held_from).map_err(|e| {
        ServiceError::conflict("illegal-transition", e.to_string()).in_status(row.status.as_str())
    })
}

fn stale_or(e: StoreError) -> ServiceError {
    match e {
        StoreError::Stale => ServiceError::conflict(
            "changed-meanwhile",
            "the request changed meanwhile; read it again",
        ),
        StoreError::NoCapacity => {
            ServiceError::conflict("specialist-full", "the specialist has no free capacity")
        }
        e => e.into(),
    }
}

async fn apply(
    state: &Ctx,
    change: ConsultationChange,
    standing: RequestStanding,
) -> Result<ConsultationView, ServiceError> {
    let row = state
        .store
        .change_consultation(&change)
        .await
        .map_err(stale_or)?;
    view_for(state, row, standing)
}

fn change(row: &ConsultationRow, at: DateTime<Utc>, audit: AuditRecord) -> ConsultationChange {
    let mut after = row.clone();
    after.updated_at = at;
    ConsultationChange {
        after,
        expected_version: row.version,
        release: None,
        claim: None,
        route: None,
        decline: None,
        relink_consents: None,
        audit: vec![audit],
    }
}

fn audit_for(actor: &AuditActor, row: &ConsultationRow) -> AuditRecord {
    AuditRecord::new(
        actor,
        AuditAction::Update,
        "consultation",
        Some(row.id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    )
}

/// The specialist it is offered to takes the request.
#[tracing::instrument(skip_all)]
pub async fn accept(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<ConsultationView> {
    accept_based(state, caller, id, None).await
}

/// [`accept`], when the caller based it on version `expected` (FHIR `If-Match`): another
/// version is [`ServiceError::Stale`].
pub async fn accept_based(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    expected: Option<i64>,
) -> ServiceResult<ConsultationView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Update).await?;
    if expected.is_some_and(|v| v != row.version) {
        return Err(ServiceError::Stale);
    }
    let me = p.staff.as_ref().map(|s| s.staff.id);
    if standing != RequestStanding::Specialist || row.offered_to != me || me.is_none() {
        return Err(ServiceError::forbidden(
            "only the specialist it is offered to accepts it",
        ));
    }
    let status = transition(&row, Event::Accept)?;
    specialist_consent(state, p, &row).await?;
    let at = now();
    let mut c = change(&row, at, audit_for(&p.audit_actor(Role::Specialist), &row));
    c.after.status = status;
    c.after.assigned_to = me;
    c.after.accepted_at = Some(at);
    c.after.answer_due = None;
    apply(state, c, standing).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

/// Moves a request on from its current specialist (declined, or deadline missed): the slot
/// frees up, the specialist is not asked again, and routing picks the next one or queues it.
pub(crate) async fn move_on(
    state: &Ctx,
    row: &ConsultationRow,
    kind: &str,
    reason: Option<String>,
    actor: &AuditActor,
) -> Result<ConsultationRow, ServiceError> {
    let status = transition(row, Event::Decline)?;
    let staff = row
        .offered_to
        .ok_or_else(|| ServiceError::internal("offered without specialist"))?;
    let at = now();
    let child = state
        .store
        .get_child(row.child_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consultation"))?;
    let region: RegionCode = row.region_code.parse().map_err(ServiceError::internal)?;
    let mut declined: Vec<Uuid> = state
        .store
        .declines(row.id)
        .await?
        .into_iter()
        .map(|d| d.staff_id)
        .collect();
    declined.push(staff);
    let (expertise, urgency) = (row.expertise, row.urgency);
    let (ranking, _) = ranking_for(state, &child, &region, expertise, &declined, at).await?;
    let mut c = change(row, at, audit_for(actor, row));
    c.after.status = status;
    c.release = Some(staff);
    let decline_id = Uuid::now_v7();
    c.decline = Some(DeclineRow {
        id: decline_id,
        consultation_id: row.id,
        staff_id: staff,
        kind: kind.into(),
        reason: reason.map(|r| state.keys.seal(decline_id, &r)),
        at,
    });
    c.route = Some(RouteRequest {
        ranking,
        outcomes: routing_outcomes(status)?,
        answer_due: answer_due(at, urgency, answer_days(state)),
        trigger: kind.into(),
    });
    state.store.change_consultation(&c).await.map_err(stale_or)
}

/// The specialist it is offered to declines, with a reason; it moves on to the next specialist.
#[tracing::instrument(skip_all)]
pub async fn decline(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: ReasonBody,
) -> ServiceResult<ConsultationView> {
    decline_based(state, caller, id, body, None).await
}

/// [`decline`], based on version `expected` (FHIR `If-Match`).
pub async fn decline_based(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: ReasonBody,
    expected: Option<i64>,
) -> ServiceResult<ConsultationView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Update).await?;
    if expected.is_some_and(|v| v != row.version) {
        return Err(ServiceError::Stale);
    }
    let me = p.staff.as_ref().map(|s| s.staff.id);
    if standing != RequestStanding::Specialist || row.offered_to != me || me.is_none() {
        return Err(ServiceError::forbidden(
            "only the specialist it is offered to declines it",
        ));
    }
    let mut v = Validation::new();
    v.text("reason", &body.reason, 1000);
    v.finish().map_err(ServiceError::validation)?;
    transition(&row, Event::Decline)?;
    let row = move_on(
        state,
        &row,
        "declined",
        Some(body.reason.trim().into()),
        &p.audit_actor(Role::Specialist),
    )
    .await?;
    view_for(state, row, standing)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    pub specialist_id: Uuid,
}

/// The region's coordinator assigns an unassigned request by hand.
#[tracing::instrument(skip_all)]
pub async fn assign(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: AssignBody,
) -> ServiceResult<ConsultationView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Update).await?;
    if standing != RequestStanding::Coordinator {
        return Err(ServiceError::forbidden(
            "only a coordinator of the region assigns by hand",
        ));
    }
    let actor = p.audit_actor(Role::Coordinator);
    match assign_to(state, p, row, body.specialist_id, standing).await {
        Ok(view) => Ok(view),
        Err((e, child_id)) => {
            log_refused(
                state,
                &actor,
                AuditAction::Update,
                "consultation",
                child_id,
                PURPOSE_CONSULTATION,
            )
            .await?;
            Err(e)
        }
    }
}

async fn assign_to(
    state: &Ctx,
    principal: &Principal,
    row: ConsultationRow,
    specialist_id: Uuid,
    standing: RequestStanding,
) -> Result<ConsultationView, (ServiceError, Uuid)> {
    let child_id = row.child_id;
    let fail = |e: ServiceError| (e, child_id);
    let status = transition(&row, Event::Assign).map_err(fail)?;
    let specialist = state
        .store
        .get_staff(specialist_id)
        .await
        .map_err(|e| fail(e.into()))?;
    let serves = specialist.as_ref().is_some_and(|s| {
        s.staff.active
            && s.staff.role == StaffRole::Specialist
            && s.region_codes.contains(&row.region_code)
    });
    let Some(specialist) = specialist.filter(|_| serves) else {
        return Err(fail(ServiceError::field(
            "specialist_id",
            "not an active specialist serving this region",
        )));
    };
    let org = specialist.staff.organization_id;
    let check = covered(state, &row, org).await.map_err(fail)?;
    if !check.allowed {
        return Err(fail(consent_not_covering("this specialist's organisation")));
    }
    let at = now();
    let mut c = change(
        &row,
        at,
        audit_for(&principal.audit_actor(Role::Coordinator), &row),
    );
    c.after.status = status;
    c.after.assigned_to = Some(specialist.staff.id);
    c.after.offered_to = Some(specialist.staff.id);
    c.after.accepted_at = Some(at);
    c.after.status_reason = Some("assigned by the region's coordinator".into());
    c.claim = Some(specialist.staff.id);
    c.relink_consents = Some(check.relied_on);
    apply(state, c, standing).await.map_err(fail)
}

/// A person ends the request (`event`) with a reason of their own: the reason is checked and
/// sealed, the status reason is the gateway's own `why`.
fn ended_by_person(
    state: &Ctx,
    row: &ConsultationRow,
    event: Event,
    actor: &AuditActor,
    why: &str,
    body: &ReasonBody,
) -> ServiceResult<ConsultationChange> {
    let mut v = Validation::new();
    v.text("reason", &body.reason, 1000);
    v.finish().map_err(ServiceError::validation)?;
    let status = transition(row, event)?;
    let mut c = change(row, now(), audit_for(actor, row));
    c.after.status = status;
    c.after.status_reason = Some(why.into());
    c.after.status_note_sealed = Some(state.keys.seal(row.id, body.reason.trim()));
    Ok(c)
}

/// The mentor (or the organisation's system) withdraws the request before acceptance.
#[tracing::instrument(skip_all)]
pub async fn cancel(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: ReasonBody,
) -> ServiceResult<ConsultationView> {
    cancel_based(state, caller, id, body, None).await
}

/// [`cancel`], based on version `expected` (FHIR `If-Match`).
pub async fn cancel_based(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: ReasonBody,
    expected: Option<i64>,
) -> ServiceResult<ConsultationView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Update).await?;
    if expected.is_some_and(|v| v != row.version) {
        return Err(ServiceError::Stale);
    }
    let RequestStanding::ChildRecord(access) = standing else {
        return Err(ServiceError::forbidden(
            "only the child's mentor or organisation cancels a request",
        ));
    };
    let mut c = ended_by_person(
        state,
        &row,
        Event::Cancel,
        &p.audit_actor(role_of(access)),
        "cancelled by the childcare organisation",
        &body,
    )?;
    c.after.answer_due = None;
    // an offer or an accepted request (also one on hold) held a slot of the specialist's capacity
    c.release = slot_holder(&row)?;
    apply(state, c, standing).await
}

/// The region's coordinator turns an unassigned request down.
#[tracing::instrument(skip_all)]
pub async fn reject(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: ReasonBody,
) -> ServiceResult<ConsultationView> {
    reject_based(state, caller, id, body, None).await
}

/// [`reject`], based on version `expected` (FHIR `If-Match`).
pub async fn reject_based(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: ReasonBody,
    expected: Option<i64>,
) -> ServiceResult<ConsultationView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Update).await?;
    if expected.is_some_and(|v| v != row.version) {
        return Err(ServiceError::Stale);
    }
    if standing != RequestStanding::Coordinator {
        return Err(ServiceError::forbidden(
            "only a coordinator of the region rejects a request",
        ));
    }
    let c = ended_by_person(
        state,
        &row,
        Event::Reject,
        &p.audit_actor(Role::Coordinator),
        "rejected by the region's coordinator",
        &body,
    )?;
    apply(state, c, standing).await
}

/// Takes a request off hold once consent is in force again; it returns to where it was.
#[tracing::instrument(skip_all)]
pub async fn resume(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<ConsultationView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Update).await?;
    let RequestStanding::ChildRecord(access) = standing else {
        return Err(ServiceError::forbidden(
            "only the child's mentor or organisation resumes a request",
        ));
    };
    let role = role_of(access);
    let status = transition(&row, Event::Resume)?;
    let child = state
        .store
        .get_child(row.child_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consultation"))?;
    let region: RegionCode = row.region_code.parse().map_err(ServiceError::internal)?;
    let specialist_org = match row.assigned_to.or(row.offered_to) {
        Some(s) => state
            .store
            .get_staff(s)
            .await?
            .map(|s| s.staff.organization_id),
        None => None,
    };
    let cover = coverage(state, &child, &region, specialist_org, now()).await?;
    let ok = match specialist_org {
        Some(org) => cover.covers(org),
        None => cover.any(),
    };
    if !ok {
        return Err(consent_required(&cover.region));
    }
    let mut c = change(&row, now(), audit_for(&p.audit_actor(role), &row));
    c.after.status = status;
    c.after.held_from = None;
    c.after.status_reason = Some("consent in force again".into());
    // from now the request rests on the records in force now
    c.relink_consents = Some(cover.relied_on);
    apply(state, c, standing).await
}

/// Moves on every offer whose answer deadline passed; safe on several replicas at once (each
/// change is conditional on the version read, so one replica wins and the others skip).
pub async fn expire_overdue_offers(state: &Ctx) -> Result<usize, ServiceError> {
    let overdue = state.store.overdue_offers(now(), 100).await?;
    let mut moved = 0;
    for row in overdue {
        match move_on(
            state,
            &row,
            "expired",
            Some("no answer before the deadline".into()),
            &super::system_actor("deadline-job"),
        )
        .await
        {
            Ok(_) => moved += 1,
            Err(e) if matches!(e.code(), "changed-meanwhile" | "illegal-transition") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(moved)
}

// ---------------------------------------------------------------- messages

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// What the mentor or the specialist writes about the request (sealed at rest). Write
    /// about the child's situation, never another child's, and no BSN.
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    pub consultation_id: Uuid,
    /// `mentor` or `integration` (the childcare side) or `specialist`.
    pub author_role: String,
    pub author_staff_id: Option<Uuid>,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Text that seems to hold a BSN (stored, but please remove it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::domain::FieldError>,
}

/// The parties of a request's thread: its childcare side (mentor of the location, the
/// organisation's system) and the specialist who took it, while the consent covers them. The
/// specialist it is only offered to, and coordinators, are not parties: answered as unknown.
async fn thread_party(
    state: &Ctx,
    p: &Principal,
    id: Uuid,
    action: AuditAction,
) -> ServiceResult<(ConsultationRow, RequestStanding)> {
    let (row, standing) = consultation_for(state, p, id, action).await?;
    let me = p.staff.as_ref().map(|s| s.staff.id);
    match standing {
        RequestStanding::ChildRecord(_) => Ok((row, standing)),
        RequestStanding::Specialist if me.is_some() && row.assigned_to == me => {
            specialist_consent(state, p, &row).await?;
            Ok((row, standing))
        }
        RequestStanding::ProviderSystem => {
            youth_care_consent(state, p, &row, standing).await?;
            Ok((row, standing))
        }
        _ => Err(ServiceError::not_found("consultation")),
    }
}

fn message_view(
    keys: &crate::crypto::Keyring,
    m: crate::store::MessageRow,
) -> ServiceResult<MessageView> {
    Ok(MessageView {
        text: keys.open(m.id, &m.body_sealed)?,
        id: m.id,
        consultation_id: m.consultation_id,
        author_role: m.author_role,
        author_staff_id: m.author_staff_id,
        created_at: m.created_at,
        warnings: Vec::new(),
    })
}

/// Writes in a request's thread (the childcare side or the specialist who took it, on an open
/// request). The parties' organisations hear of it by webhook, with ids only.
#[tracing::instrument(skip_all)]
pub async fn post_message(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: NewMessage,
) -> ServiceResult<MessageView> {
    let p = caller.principal()?;
    let (row, standing) = thread_party(state, p, id, AuditAction::Create).await?;
    if !status_of(&row)?.is_open() {
        return Err(ServiceError::conflict(
            "closed-or-paused",
            "the request is closed: it takes no messages",
        )
        .in_status(row.status.as_str()));
    }
    let mut v = Validation::new();
    v.text("text", &body.text, 4000);
    v.finish().map_err(ServiceError::validation)?;
    let at = now();
    let message_id = Uuid::now_v7();
    let role = standing_role(standing);
    let message = crate::store::MessageRow {
        id: message_id,
        consultation_id: row.id,
        child_id: row.child_id,
        author_role: role.as_str().into(),
        author_subject: p.subject.clone(),
        author_staff_id: p.staff.as_ref().map(|s| s.staff.id),
        body_sealed: state.keys.seal(message_id, body.text.trim()),
        created_at: at,
    };
    let specialist_org = match row.assigned_to {
        Some(s) => state
            .store
            .get_staff(s)
            .await?
            .map(|s| s.staff.organization_id),
        None => None,
    };
    let event = crate::store::OutboxEvent {
        event_type: "consultation.message".into(),
        data: crate::webhooks::message_event_data(row.id, message_id),
        organizations: crate::domain::consultation::event_recipients(
            row.organization_id,
            specialist_org,
        ),
    };
    let audit = AuditRecord::new(
        &p.audit_actor(role),
        AuditAction::Create,
        "message",
        Some(message_id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state.store.add_message(&message, &event, &audit).await?;
    let mut view = message_view(&state.keys, message)?;
    view.warnings = bsn_warning("text", Some(&body.text)).into_iter().collect();
    Ok(view)
}

/// A request's thread, oldest first (its parties, as for writing; closed requests too).
#[tracing::instrument(skip_all)]
pub async fn list_messages(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<MessageView>> {
    let p = caller.principal()?;
    let (row, standing) = thread_party(state, p, id, AuditAction::Read).await?;
    let rows = state.store.messages_of(row.id).await?;
    let audit = AuditRecord::new(
        &p.audit_actor(standing_role(standing)),
        AuditAction::Read,
        "message",
        None,
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    rows.into_iter()
        .map(|m| message_view(&state.keys, m))
        .collect()
}

/// The specialist who held a request left: an offer moves on to the next specialist at once,
/// an accepted or running request goes to the region's coordinator queue (held ones stay held,
/// and return to the queue). Returns the request as it now stands.
pub(crate) async fn hand_back(
    state: &Ctx,
    row: &ConsultationRow,
    actor: &AuditActor,
) -> ServiceResult<ConsultationRow> {
    let status = status_of(row)?;
    if status == ConsultationStatus::Offered {
        return move_on(
            state,
            row,
            "left",
            Some("the specialist left the organisation".into()),
            actor,
        )
        .await;
    }
    let next_status = transition(row, Event::Unassign)?;
    let mut c = change(row, now(), audit_for(actor, row));
    c.release = slot_holder(row)?;
    c.after.status = next_status;
    if next_status == ConsultationStatus::OnHold {
        c.after.held_from = Some(ConsultationStatus::Unassigned);
    }
    c.after.assigned_to = None;
    c.after.offered_to = None;
    c.after.accepted_at = None;
    c.after.status_reason =
        Some("the specialist left; waiting for the region's coordinator".into());
    state.store.change_consultation(&c).await.map_err(stale_or)
}

/// The child left childcare: every open request of the child ends as cancelled with that
/// reason, freeing the specialist's slot. Returns the ids of the requests it ended.
pub(crate) async fn end_for_child_left(
    state: &Ctx,
    child_id: Uuid,
    actor: &AuditActor,
) -> ServiceResult<Vec<Uuid>> {
    let filter = ConsultationFilter {
        child_id: Some(child_id),
        limit: 10_000,
        ..Default::default()
    };
    let mut ended = Vec::new();
    for row in state.store.list_consultations(&filter).await? {
        if !status_of(&row)?.is_open() {
            continue;
        }
        let status = transition(&row, Event::ChildLeft)?;
        let mut c = change(&row, now(), audit_for(actor, &row));
        c.after.status = status;
        c.after.status_reason = Some("the child left the childcare organisation".into());
        c.after.answer_due = None;
        c.release = slot_holder(&row)?;
        state
            .store
            .change_consultation(&c)
            .await
            .map_err(stale_or)?;
        ended.push(row.id);
    }
    Ok(ended)
}

// ---------------------------------------------------------------- readiness

/// Whether a consultation request about the child could be made now, as far as consent goes,
/// and if not, who still must consent and which rule is not met: for a door that offers the
/// request only when it can work (the submission itself checks again).
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub missing: Vec<super::consent::MissingGiver>,
    pub reasons: Vec<super::consent::RuleView>,
}

/// See [`Readiness`]; logged as a consent check of the child.
pub async fn submission_readiness(
    state: &Ctx,
    caller: &Caller,
    child_id: Uuid,
) -> ServiceResult<Readiness> {
    // only those who keep the child's record get here (a mentor of its location, its
    // organisation's system); everyone else gets the same answer as for an unknown child
    let (child, _) = super::children::accessible_child(
        state,
        caller,
        child_id,
        AuditAction::Read,
        "consent_check",
    )
    .await?;
    let at = now();
    let region = region_of_child(state, &child, at).await?;
    let orgs: HashSet<Uuid> = state
        .store
        .routing_candidates(region.as_str())
        .await?
        .into_iter()
        .map(|r| r.organization_id)
        .collect();
    let cover = coverage(state, &child, &region, orgs, at).await?;
    if cover.any() {
        return Ok(Readiness {
            ready: true,
            missing: Vec::new(),
            reasons: Vec::new(),
        });
    }
    let guardians = state.store.list_guardians(child.id).await?;
    Ok(Readiness {
        ready: false,
        missing: super::consent::named(&cover.region.missing, &guardians),
        reasons: cover
            .region
            .reasons
            .into_iter()
            .map(super::consent::RuleView::from)
            .collect(),
    })
}

// ---------------------------------------------------------------- for the desks of the pages

/// The concern a request rests on: for those who keep the child's record, and for the
/// specialist who accepted it while the parents' consent is in force.
#[tracing::instrument(skip_all)]
pub async fn concern_of_request(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<ConcernView> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Read).await?;
    let me = p.staff.as_ref().map(|s| s.staff.id);
    let role = match standing {
        RequestStanding::Specialist if row.assigned_to.is_some() && row.assigned_to == me => {
            specialist_consent(state, p, &row).await?;
            Role::Specialist
        }
        RequestStanding::ProviderSystem => {
            youth_care_consent(state, p, &row, standing).await?;
            Role::Integration
        }
        RequestStanding::ChildRecord(access) => role_of(access),
        _ => return Err(ServiceError::not_found("concern")),
    };
    let concern = state
        .store
        .get_concern(row.concern_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("concern"))?;
    let audit = AuditRecord::new(
        &p.audit_actor(role),
        AuditAction::Read,
        "concern",
        Some(concern.id),
        Some(row.child_id),
        PURPOSE_CONSULTATION,
    );
    state.store.record(&[audit]).await?;
    concern_view(&state.keys, concern)
}

/// Where a request's child goes to childcare, by name: the location and its youth-care region.
/// Names of places and regions only (no child data); for requests the caller was shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaceView {
    pub location_name: String,
    pub organization_name: String,
    pub region_code: String,
    pub region_name: String,
}

/// The places of requests the caller already holds views of, by request id.
pub async fn places(
    state: &Ctx,
    caller: &Caller,
    views: &[ConsultationView],
) -> ServiceResult<std::collections::HashMap<Uuid, PlaceView>> {
    caller.principal()?;
    let mut locations = std::collections::HashMap::new();
    let mut orgs = std::collections::HashMap::new();
    let mut regions = std::collections::HashMap::new();
    let mut out = std::collections::HashMap::new();
    for v in views {
        if let std::collections::hash_map::Entry::Vacant(e) = locations.entry(v.location_id) {
            let name = state
                .store
                .get_location(v.location_id)
                .await?
                .map(|r| r.name)
                .unwrap_or_default();
            e.insert(name);
        }
        if let std::collections::hash_map::Entry::Vacant(e) = orgs.entry(v.organization_id) {
            let name = state
                .store
                .get_organization(v.organization_id)
                .await?
                .map(|r| r.name)
                .unwrap_or_default();
            e.insert(name);
        }
        if !regions.contains_key(&v.region_code) {
            let name = state
                .store
                .get_region(&v.region_code)
                .await?
                .map(|r| r.name)
                .unwrap_or_default();
            regions.insert(v.region_code.clone(), name);
        }
        out.insert(
            v.id,
            PlaceView {
                location_name: locations[&v.location_id].clone(),
                organization_name: orgs[&v.organization_id].clone(),
                region_code: v.region_code.clone(),
                region_name: regions[&v.region_code].clone(),
            },
        );
    }
    Ok(out)
}

/// A specialist of the region as a coordinator weighs them for a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CandidateView {
    pub staff_id: Uuid,
    pub name: String,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub expertise: Vec<ConcernDomain>,
    pub region_codes: Vec<String>,
    /// Open requests now (offers included).
    pub open: i64,
    pub capacity: i64,
    /// Has the expertise the request asks for.
    pub has_expertise: bool,
    /// The parents' consent covers the specialist's organisation (else assigning is refused).
    pub covered_by_consent: bool,
    /// Declined this request before (or let the deadline pass).
    pub declined_before: bool,
}

/// The active specialists of an unassigned request's region, for its coordinator to choose
/// from: expertise, regions and open load beside capacity, and whether consent covers them.
#[tracing::instrument(skip_all)]
pub async fn candidates(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<CandidateView>> {
    let p = caller.principal()?;
    let (row, standing) = consultation_for(state, p, id, AuditAction::Read).await?;
    if standing != RequestStanding::Coordinator {
        return Err(ServiceError::not_found("consultation"));
    }
    let declined: HashSet<Uuid> = state
        .store
        .declines(row.id)
        .await?
        .into_iter()
        .map(|d| d.staff_id)
        .collect();
    let mut out = Vec::new();
    let mut coverage: std::collections::HashMap<Uuid, bool> = Default::default();
    for c in state.store.routing_candidates(&row.region_code).await? {
        if !c.active {
            continue;
        }
        let Some(staff) = state.store.get_staff(c.staff_id).await? else {
            continue;
        };
        let covered_by_consent = match coverage.get(&c.organization_id) {
            Some(v) => *v,
            None => {
                let v = covered(state, &row, c.organization_id).await?.allowed;
                coverage.insert(c.organization_id, v);
                v
            }
        };
        let organization_name = state
            .store
            .get_organization(c.organization_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        out.push(CandidateView {
            staff_id: c.staff_id,
            name: staff.staff.name,
            organization_id: c.organization_id,
            organization_name,
            has_expertise: c.expertise.contains(&row.expertise),
            expertise: c.expertise,
            region_codes: c.region_codes,
            open: c.open_count,
            capacity: c.capacity,
            covered_by_consent,
            declined_before: declined.contains(&c.staff_id),
        });
    }
    // the likeliest choice first: expertise, consent, room, then the lightest load
    out.sort_by_key(|c| {
        (
            !c.has_expertise,
            !c.covered_by_consent,
            c.open >= c.capacity,
            c.open * 1000 / c.capacity.max(1),
            c.name.clone(),
        )
    });
    Ok(out)
}

/// Open requests and capacity of a region's active specialists for one expertise.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CapacityLine {
    pub expertise: ConcernDomain,
    pub specialists: usize,
    pub open: i64,
    pub capacity: i64,
}

/// The region's capacity per expertise (open / capacity), for its coordinator. A specialist
/// with several expertises counts under each.
#[tracing::instrument(skip_all)]
pub async fn region_capacity(
    state: &Ctx,
    caller: &Caller,
    region: &str,
) -> ServiceResult<Vec<CapacityLine>> {
    let p = caller.principal()?;
    let mine =
        p.has(Role::Coordinator) && p.actor().region_codes.iter().any(|r| r.as_str() == region);
    if !mine {
        return Err(ServiceError::not_found("region"));
    }
    let rows = state.store.routing_candidates(region).await?;
    Ok(ConcernDomain::ALL
        .iter()
        .copied()
        .map(|e| {
            let with: Vec<_> = rows
                .iter()
                .filter(|c| c.active && c.expertise.contains(&e))
                .collect();
            CapacityLine {
                expertise: e,
                specialists: with.len(),
                open: with.iter().map(|c| c.open_count).sum(),
                capacity: with.iter().map(|c| c.capacity).sum(),
            }
        })
        .collect())
}

/// A request of mine whose child I may no longer see: only that it exists and its status, so
/// the specialist can close it (as "parents withdrew") without anything of the child.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndedAccessView {
    pub id: Uuid,
    pub status: ConsultationStatus,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// The calling specialist's open requests on hold whose consent no longer covers their
/// organisation (a withdrawal): listed without child data.
#[tracing::instrument(skip_all)]
pub async fn ended_for_me(state: &Ctx, caller: &Caller) -> ServiceResult<Vec<EndedAccessView>> {
    let p = caller.principal()?;
    let Some(me) = p
        .staff
        .as_ref()
        .map(|s| s.staff.id)
        .filter(|_| p.has(Role::Specialist))
    else {
        return Err(ServiceError::forbidden("for specialists"));
    };
    let filter = ConsultationFilter {
        staff_id: Some(me),
        status: Some(ConsultationStatus::OnHold.as_str().to_string()),
        limit: 200,
        ..Default::default()
    };
    let org = p.organization_id.unwrap_or_default();
    let mut out = Vec::new();
    let mut listed = Vec::new();
    for row in state.store.list_consultations(&filter).await? {
        if row.assigned_to == Some(me) && !covered(state, &row, org).await?.allowed {
            listed.push(
                AuditRecord::new(
                    &p.audit_actor(Role::Specialist),
                    AuditAction::Search,
                    "consultation",
                    Some(row.id),
                    Some(row.child_id),
                    PURPOSE_CONSULTATION,
                )
                .denied(),
            );
            out.push(EndedAccessView {
                id: row.id,
                status: row.status,
                accepted_at: row.accepted_at,
            });
        }
    }
    // listed without the child: logged as a refused search (access ended), like any refusal
    state.store.record(&listed).await?;
    Ok(out)
}
