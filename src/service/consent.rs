//! Consent records, the consent check, withdrawal, invitations and parent links, and Meldcode
//! reports. The rules are in `domain::consent`; this module gathers the facts, asks the rules,
//! and records the result with its access-log entry in one transaction.

use super::children::{accessible_child, role_of};
use crate::audit::{AuditAction, AuditRecord};
use crate::auth::Principal;
use crate::domain::calendar::{dutch_date, now};
use crate::domain::children::bsn_warning;
use crate::domain::consent::{
    check_new_decision, consent_in_force, may_withdraw, period_warnings, supersedes, ConsentCheck,
    ConsentFact, ConsentMethod, ConsentStatus, Decision, Giver, GuardianFact, NewDecision, Purpose,
    Recipient, RuleFailure, Target,
};
use crate::domain::consent::{LinkHolder, LinkKind};
use crate::domain::types::{OrganizationKind, RegionCode, Role};
use crate::domain::Validation;
use crate::store::{
    ChildRow, ConsentRecord, ConsentRow, GiverRow, GuardianRow, ParentLinkRow, StoreError,
    VeiligThuisReportRow, Withdrawal,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Ctx, ServiceError, ServiceResult};
/// Purpose recorded in the access log for keeping consent records.
pub const PURPOSE_CONSENT: &str = "consent_management";

// ---------------------------------------------------------------- wire types

/// `{organization_id}` (a youth-care organisation) or `{region_code}` (the specialists of a region).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_code: Option<RegionCode>,
}

/// `{guardian_id}` or `{child: true}`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiverDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardian_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child: Option<bool>,
}

impl From<Giver> for GiverDto {
    fn from(g: Giver) -> Self {
        match g {
            Giver::Guardian(id) => GiverDto {
                guardian_id: Some(id),
                child: None,
            },
            Giver::Child => GiverDto {
                guardian_id: None,
                child: Some(true),
            },
        }
    }
}

fn parse_giver(v: &mut Validation, field: &str, g: &GiverDto) -> Option<Giver> {
    match (g.guardian_id, g.child) {
        (Some(id), None) => Some(Giver::Guardian(id)),
        (None, Some(true)) => Some(Giver::Child),
        _ => {
            v.add(field, "give either guardian_id or child: true");
            None
        }
    }
}

fn parse_recipient(v: &mut Validation, field: &str, r: &RecipientDto) -> Option<Recipient> {
    match (r.organization_id, &r.region_code) {
        (Some(o), None) => Some(Recipient::Organization(o)),
        (None, Some(c)) => Some(Recipient::Region(c.clone())),
        _ => {
            v.add(field, "give either organization_id or region_code");
            None
        }
    }
}

/// Checks that a recipient exists: a youth-care organisation, or a known region.
async fn check_recipient(
    state: &Ctx,
    v: &mut Validation,
    field: &str,
    r: &Recipient,
) -> Result<(), ServiceError> {
    match r {
        Recipient::Organization(o) => {
            let ok = matches!(state.store.get_organization(*o).await?,
                Some(org) if org.kind == OrganizationKind::YouthCare);
            v.check(
                ok,
                &format!("{field}.organization_id"),
                "not a youth-care organisation",
            );
        }
        Recipient::Region(code) => {
            let ok = state.store.get_region(code.as_str()).await?.is_some();
            v.check(ok, &format!("{field}.region_code"), "unknown region");
        }
    }
    Ok(())
}

/// To whom a recorded consent lets data go.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecipientView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "JZ22")]
    pub region_code: Option<String>,
    /// A region-wide consent covers the youth-care organisations that served the region when
    /// it was given, and no provider that joined later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covered_organization_ids: Option<Vec<Uuid>>,
}

/// `false`, or who judged a child of 12 or older not competent in the matter (*wilsonbekwaam*,
/// WGBO 7:465(2)), on which day and why: then the parents with authority decide.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NotCompetentInput {
    Flag(bool),
    Judgement(CompetenceJudgement),
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompetenceJudgement {
    /// Who judged it (name and profession, e.g. "J. de Vries, orthopedagoog").
    pub judged_by: String,
    #[serde(deserialize_with = "crate::domain::calendar::iso_date")]
    pub judged_on: NaiveDate,
    /// Why the child is not competent in this matter (sealed at rest).
    pub reason: String,
}

/// What a consent record says about who judged the child not competent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompetenceJudgementView {
    pub judged_by: String,
    pub judged_on: Option<NaiveDate>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    pub purpose: Purpose,
    pub recipient: RecipientDto,
    pub decision: Decision,
    /// Who gave (or refused) it: guardians with parental authority and/or the child.
    pub given_by: Vec<GiverDto>,
    pub method: ConsentMethod,
    /// Written consent: the reference of the signed form.
    pub evidence_ref: Option<String>,
    /// Oral consent recorded by a partner system: the staff member who noted it.
    pub noted_by_staff_id: Option<Uuid>,
    /// The version of the information text the parents (and child) were given.
    pub information_version: String,
    #[serde(deserialize_with = "crate::domain::calendar::iso_date")]
    pub valid_from: NaiveDate,
    #[serde(default, deserialize_with = "crate::domain::calendar::iso_date_opt")]
    pub valid_until: Option<NaiveDate>,
    /// Information sharing: one parent may consent for both when there are no signs the other disagrees.
    #[serde(default)]
    pub no_signs_of_disagreement: bool,
    /// 12 or older but judged not competent in the matter (*wilsonbekwaam*): the parents decide.
    /// Give who judged it, when and why; `false` (or absent) when not.
    pub child_not_competent: Option<NotCompetentInput>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedConsent {
    pub id: Uuid,
    pub status: String,
    /// Earlier records of the same givers this decision replaces.
    pub superseded: Vec<Uuid>,
    /// What the recorder should know: a birthday within the period that changes who must
    /// consent, free text that seems to hold a BSN.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RuleView>,
}

#[derive(Serialize, ToSchema)]
pub struct WithdrawalView {
    pub at: DateTime<Utc>,
    pub by: GiverDto,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordedBy {
    pub subject: String,
    pub role: String,
    pub organization_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub id: Uuid,
    pub child_id: Uuid,
    pub purpose: Purpose,
    pub recipient: RecipientView,
    pub decision: Decision,
    pub given_by: Vec<GiverDto>,
    pub method: ConsentMethod,
    pub evidence_ref: Option<String>,
    pub noted_by_staff_id: Option<Uuid>,
    pub information_version: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub no_signs_of_disagreement: bool,
    pub child_not_competent: bool,
    /// Who judged the child not competent, when and why.
    pub not_competent_judgement: Option<CompetenceJudgementView>,
    /// `active`, `superseded` or `withdrawn`.
    pub status: ConsentStatus,
    pub superseded_by: Option<Uuid>,
    pub withdrawal: Option<WithdrawalView>,
    /// When it stopped counting: withdrawn, or superseded by a newer decision (that one's
    /// recording time).
    pub ended_at: Option<DateTime<Utc>>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: RecordedBy,
    /// Given by the parent through a parent link.
    pub via_parent_link: bool,
}

fn givers_of(rows: &[GiverRow]) -> Vec<Giver> {
    rows.iter()
        .map(|g| match g.guardian_id {
            Some(id) => Giver::Guardian(id),
            None => Giver::Child,
        })
        .collect()
}

/// A consent record as staff, a parent or the child sees it (sealed free text opened).
pub(crate) fn consent_view(
    keys: &crate::crypto::Keyring,
    r: ConsentRecord,
) -> Result<ConsentView, ServiceError> {
    let givers = givers_of(&r.givers);
    let c = r.consent;
    let open = |sealed: &Option<String>| -> Result<Option<String>, ServiceError> {
        sealed
            .as_deref()
            .map(|s| keys.open(c.id, s).map_err(ServiceError::internal))
            .transpose()
    };
    let withdrawal = match c.withdrawn_at {
        Some(at) => Some(WithdrawalView {
            at,
            by: match c.withdrawn_by_guardian_id {
                Some(id) => Giver::Guardian(id).into(),
                None => Giver::Child.into(),
            },
            reason: open(&c.withdrawal_reason)?,
        }),
        None => None,
    };
    let not_competent_judgement = match &c.not_competent_judged_by {
        Some(by) => Some(CompetenceJudgementView {
            judged_by: by.clone(),
            judged_on: c.not_competent_judged_on,
            reason: open(&c.not_competent_reason_sealed)?,
        }),
        None => None,
    };
    let region = c.recipient_region_code.is_some();
    Ok(ConsentView {
        id: c.id,
        child_id: c.child_id,
        purpose: c.purpose,
        recipient: RecipientView {
            organization_id: c.recipient_organization_id,
            region_code: c.recipient_region_code,
            covered_organization_ids: region.then_some(r.region_organizations),
        },
        decision: c.decision,
        given_by: givers.into_iter().map(Into::into).collect(),
        method: c.method,
        evidence_ref: c.evidence_ref,
        noted_by_staff_id: c.noted_by_staff_id,
        information_version: c.information_version,
        valid_from: c.valid_from,
        valid_until: c.valid_until,
        no_signs_of_disagreement: c.no_signs_of_disagreement,
        child_not_competent: c.child_not_competent,
        not_competent_judgement,
        status: c.status,
        superseded_by: c.superseded_by,
        ended_at: c.withdrawn_at,
        withdrawal,
        recorded_at: c.recorded_at,
        recorded_by: RecordedBy {
            subject: c.recorded_by_subject,
            role: c.recorded_by_role,
            organization_id: c.recorded_by_organization_id,
        },
        via_parent_link: c.parent_link_id.is_some(),
    })
}

pub(crate) fn consent_views(
    keys: &crate::crypto::Keyring,
    records: Vec<ConsentRecord>,
) -> Result<Vec<ConsentView>, ServiceError> {
    let mut views: Vec<ConsentView> = records
        .into_iter()
        .map(|r| consent_view(keys, r))
        .collect::<Result<_, _>>()?;
    // a superseded record ended when the one superseding it was recorded (the same child's)
    let recorded: std::collections::HashMap<Uuid, DateTime<Utc>> =
        views.iter().map(|v| (v.id, v.recorded_at)).collect();
    for v in &mut views {
        if let Some(newer) = v.superseded_by.and_then(|id| recorded.get(&id)) {
            v.ended_at.get_or_insert(*newer);
        }
    }
    Ok(views)
}

// ---------------------------------------------------------------- facts for the rules

/// The rules' view of stored records; a record with an unreadable value is left out (it cannot
/// grant anything).
pub(crate) fn consent_facts(records: &[ConsentRecord]) -> Vec<ConsentFact> {
    records
        .iter()
        .filter_map(|r| {
            let c = &r.consent;
            let recipient = match (c.recipient_organization_id, &c.recipient_region_code) {
                (Some(o), _) => Recipient::Organization(o),
                (None, Some(code)) => Recipient::Region(code.parse().ok()?),
                _ => return None,
            };
            Some(ConsentFact {
                id: c.id,
                purpose: c.purpose,
                recipient,
                region_organizations: r.region_organizations.clone(),
                decision: c.decision,
                status: c.status,
                givers: givers_of(&r.givers),
                valid_from: c.valid_from,
                valid_until: c.valid_until,
                no_signs_of_disagreement: c.no_signs_of_disagreement,
                child_not_competent: c.child_not_competent,
                recorded_at: c.recorded_at,
            })
        })
        .collect()
}

/// The rules' view of a child's records for `purpose` and of its guardians, read in one
/// statement (what every consent check decides on).
pub(crate) async fn consent_basis(
    state: &Ctx,
    child_id: Uuid,
    purpose: Purpose,
) -> Result<(Vec<ConsentFact>, Vec<GuardianFact>), ServiceError> {
    let basis = state
        .store
        .consent_basis(child_id, purpose.as_str())
        .await?;
    let guardians = basis
        .guardians
        .iter()
        .map(|&(id, has_parental_authority)| GuardianFact {
            id,
            has_parental_authority,
        })
        .collect();
    Ok((consent_facts(&basis.records), guardians))
}

/// The region the child is served in today (from its location's municipality).
pub(crate) async fn child_region(
    state: &Ctx,
    child: &ChildRow,
    at: DateTime<Utc>,
) -> Result<Option<RegionCode>, ServiceError> {
    let Some(location) = state.store.get_location(child.location_id).await? else {
        return Ok(None);
    };
    let region = state
        .store
        .region_of(&location.municipality_code, dutch_date(at))
        .await?;
    Ok(region.and_then(|r| r.parse().ok()))
}

/// Is `purpose` toward `organization_id` (or the specialists of `region`) allowed for `child`
/// at `at`? The one place every feature asks; it reads the records afresh each time, so a
/// withdrawal holds on the next request on every replica. An organisation is judged in the
/// child's region: a region-wide consent covers it if it served the region when given.
pub(crate) async fn check_consent(
    state: &Ctx,
    child: &ChildRow,
    purpose: Purpose,
    organization_id: Option<Uuid>,
    region: Option<RegionCode>,
    at: DateTime<Utc>,
) -> Result<ConsentCheck, ServiceError> {
    let (facts, guardians) = consent_basis(state, child.id, purpose).await?;
    // the child's region matters only to a region-wide record: looked up only then
    let region_wide = facts
        .iter()
        .any(|f| matches!(f.recipient, Recipient::Region(_)));
    let region = match (region, organization_id) {
        (Some(r), _) => Some(r),
        (None, Some(_)) if region_wide => child_region(state, child, at).await?,
        _ => None,
    };
    let target = Target {
        organization_id,
        region,
    };
    Ok(consent_in_force(
        child.date_of_birth,
        &guardians,
        &facts,
        purpose,
        &target,
        at,
    ))
}

/// The youth-care organisations a consent toward `recipient` covers if given now: the one
/// named, or those serving the region today.
pub(crate) async fn region_organizations(
    state: &Ctx,
    recipient: &Recipient,
) -> Result<Vec<Uuid>, ServiceError> {
    Ok(match recipient {
        Recipient::Organization(_) => Vec::new(),
        Recipient::Region(code) => {
            state
                .store
                .organizations_serving_region(code.as_str())
                .await?
        }
    })
}

/// Logs an attempt that was refused after access to the child was granted (a rule, a conflict,
/// bad input): NEN 7513 logs attempts and their outcome, not only what succeeded.
pub(crate) async fn log_refused(
    state: &Ctx,
    actor: &crate::audit::AuditActor,
    action: AuditAction,
    resource_type: &str,
    child_id: Uuid,
    purpose: &str,
) -> Result<(), ServiceError> {
    let record =
        AuditRecord::new(actor, action, resource_type, None, Some(child_id), purpose).denied();
    state.store.record(&[record]).await?;
    Ok(())
}

// ---------------------------------------------------------------- record a decision

/// Records a consent decision (granted or refused) for the child. A grant must meet
/// who-must-consent together with the decisions already in force, or it is refused with 422
/// naming the rule (e.g. the second parent with authority has not consented).
#[tracing::instrument(skip_all)]
pub async fn create_consent(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: NewConsent,
) -> ServiceResult<CreatedConsent> {
    let p = caller.principal()?;
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Create, "consent").await?;
    super::children::still_here(&child)?;
    let actor = p.audit_actor(role_of(access));
    match record_decision(state, p, &child, access, body).await {
        Ok(created) => Ok(created),
        Err(e) => {
            log_refused(
                state,
                &actor,
                AuditAction::Create,
                "consent",
                child.id,
                PURPOSE_CONSENT,
            )
            .await?;
            Err(e)
        }
    }
}

/// Checks and records a decision given to staff (or a partner system) on paper, orally or
/// through the organisation's own portal.
async fn record_decision(
    state: &Ctx,
    principal: &Principal,
    child: &ChildRow,
    access: crate::domain::access::ChildAccess,
    body: NewConsent,
) -> Result<CreatedConsent, ServiceError> {
    let at = now();
    let today = dutch_date(at);
    let mut v = Validation::new();
    let recipient = parse_recipient(&mut v, "recipient", &body.recipient);
    let mut givers = Vec::new();
    for (i, g) in body.given_by.iter().enumerate() {
        if let Some(giver) = parse_giver(&mut v, &format!("given_by[{i}]"), g) {
            if givers.contains(&giver) {
                v.add(format!("given_by[{i}]"), "named twice");
            }
            givers.push(giver);
        }
    }
    v.check(
        !body.given_by.is_empty(),
        "given_by",
        "say who gave or refused consent",
    );
    v.text("information_version", &body.information_version, 64);
    v.optional_text("evidence_ref", body.evidence_ref.as_deref(), 200);
    v.check(
        body.valid_until.is_none_or(|u| u >= body.valid_from),
        "valid_until",
        "must not be before valid_from",
    );
    v.check(
        body.valid_until
            .is_none_or(|u| u <= body.valid_from + Duration::days(MAX_CONSENT_DAYS)),
        "valid_until",
        "at most 10 years after valid_from",
    );
    v.check(
        body.valid_from <= today + Duration::days(366),
        "valid_from",
        "at most a year ahead",
    );
    v.check(
        body.valid_from >= child.date_of_birth,
        "valid_from",
        "must not be before the child's birth",
    );
    let judgement = match body.child_not_competent {
        None | Some(NotCompetentInput::Flag(false)) => None,
        Some(NotCompetentInput::Flag(true)) => {
            v.add(
                "child_not_competent",
                "say who judged the child not competent, on which day and why (judged_by, judged_on, reason)",
            );
            None
        }
        Some(NotCompetentInput::Judgement(j)) => {
            v.text("child_not_competent.judged_by", &j.judged_by, 200);
            v.text("child_not_competent.reason", &j.reason, 2000);
            v.check(
                j.judged_on <= today,
                "child_not_competent.judged_on",
                "must not be in the future",
            );
            v.check(
                j.judged_on >= child.date_of_birth,
                "child_not_competent.judged_on",
                "must not be before the child's birth",
            );
            Some(j)
        }
    };
    // provable (AVG art. 7(1)): how it was given, and who can show it
    let mut noted_by = None;
    match body.method {
        ConsentMethod::Written => {
            v.check(body.evidence_ref.is_some(), "evidence_ref", "written consent needs the reference of the signed form")
        }
        ConsentMethod::Oral => match (&principal.staff, body.noted_by_staff_id) {
            (Some(s), None) => noted_by = Some(s.staff.id),
            (_, Some(staff_id)) => {
                let ok = matches!(state.store.get_staff(staff_id).await?,
                    Some(s) if s.staff.organization_id == child.organization_id && s.staff.active);
                v.check(ok, "noted_by_staff_id", "not a staff member of the child's organisation");
                noted_by = Some(staff_id);
            }
            (None, None) => v.add("noted_by_staff_id", "oral consent is noted by a named staff member"),
        },
        ConsentMethod::Digital => v.check(
            principal.has(Role::Integration),
            "method",
            "digital consent is given by the parent through a parent link or the organisation's parent portal",
        ),
    }
    if let Some(r) = &recipient {
        check_recipient(state, &mut v, "recipient", r).await?;
    }
    v.finish().map_err(ServiceError::validation)?;
    let recipient = recipient.expect("validated");

    let (existing, guardians) = consent_basis(state, child.id, body.purpose).await?;
    let new = NewDecision {
        purpose: body.purpose,
        region_organizations: region_organizations(state, &recipient).await?,
        recipient,
        decision: body.decision,
        givers,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        no_signs_of_disagreement: body.no_signs_of_disagreement,
        child_not_competent: judgement.is_some(),
    };
    check_new_decision(child.date_of_birth, &guardians, &existing, &new, at, true)
        .map_err(|f| ServiceError::rule(f, "given_by"))?;
    let superseded: Vec<Uuid> = existing
        .iter()
        .filter(|r| supersedes(&new, r))
        .map(|r| r.id)
        .collect();
    let mut warnings: Vec<RuleView> = period_warnings(child.date_of_birth, &new, today)
        .into_iter()
        .map(RuleView::from)
        .collect();
    if let Some(w) = bsn_warning("evidence_ref", body.evidence_ref.as_deref()) {
        warnings.push(RuleView {
            rule: "possible-bsn".into(),
            message: format!("{}: {}", w.field, w.message),
        });
    }
    let mut record = consent_record(
        child,
        &new,
        RecordMeta {
            method: body.method,
            evidence_ref: body.evidence_ref,
            noted_by_staff_id: noted_by,
            information_version: body.information_version.trim().to_string(),
            recorded_by_subject: principal.subject.clone(),
            recorded_by_role: role_of(access).as_str().to_string(),
            recorded_by_organization_id: principal.organization_id,
            parent_link_id: None,
            at,
            region_code: child_region(state, child, at).await?.map(|r| r.to_string()),
        },
    );
    if let Some(j) = judgement {
        let c = &mut record.consent;
        c.not_competent_judged_by = Some(j.judged_by.trim().to_string());
        c.not_competent_judged_on = Some(j.judged_on);
        c.not_competent_reason_sealed = Some(state.keys.seal(c.id, j.reason.trim()));
    }
    let audit = AuditRecord::new(
        &principal.audit_actor(role_of(access)),
        AuditAction::Create,
        "consent",
        Some(record.consent.id),
        Some(child.id),
        PURPOSE_CONSENT,
    );
    state
        .store
        .create_consent(&record, &superseded, &audit)
        .await?;
    Ok(CreatedConsent {
        id: record.consent.id,
        status: "active".into(),
        superseded,
        warnings,
    })
}

/// Longest period a consent may be recorded for.
const MAX_CONSENT_DAYS: i64 = 3653;

/// How and by whom a decision is recorded.
pub struct RecordMeta {
    pub method: ConsentMethod,
    pub evidence_ref: Option<String>,
    pub noted_by_staff_id: Option<Uuid>,
    pub information_version: String,
    pub recorded_by_subject: String,
    pub recorded_by_role: String,
    pub recorded_by_organization_id: Option<Uuid>,
    pub parent_link_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    /// Figures: the child's youth-care region when the decision is recorded.
    pub region_code: Option<String>,
}

pub fn consent_record(child: &ChildRow, new: &NewDecision, meta: RecordMeta) -> ConsentRecord {
    let id = Uuid::now_v7();
    let (org, region) = match &new.recipient {
        Recipient::Organization(o) => (Some(*o), None),
        Recipient::Region(r) => (None, Some(r.to_string())),
    };
    ConsentRecord {
        consent: ConsentRow {
            id,
            child_id: child.id,
            purpose: new.purpose,
            recipient_organization_id: org,
            recipient_region_code: region,
            decision: new.decision,
            method: meta.method,
            evidence_ref: meta.evidence_ref,
            noted_by_staff_id: meta.noted_by_staff_id,
            information_version: meta.information_version,
            valid_from: new.valid_from,
            valid_until: new.valid_until,
            no_signs_of_disagreement: new.no_signs_of_disagreement,
            child_not_competent: new.child_not_competent,
            not_competent_judged_by: None,
            not_competent_judged_on: None,
            not_competent_reason_sealed: None,
            status: ConsentStatus::Active,
            superseded_by: None,
            withdrawn_at: None,
            withdrawn_by_guardian_id: None,
            withdrawn_by_child: false,
            withdrawal_reason: None,
            recorded_by_subject: meta.recorded_by_subject,
            recorded_by_role: meta.recorded_by_role,
            recorded_by_organization_id: meta.recorded_by_organization_id,
            parent_link_id: meta.parent_link_id,
            recorded_at: meta.at,
            region_code: meta.region_code,
            organization_id: Some(child.organization_id),
            half_year: Some(crate::domain::figures::HalfYear::of(dutch_date(meta.at)).to_string()),
            age_band: Some(
                crate::domain::figures::AgeBand::of(child.date_of_birth, dutch_date(meta.at))
                    .as_str()
                    .into(),
            ),
        },
        givers: new
            .givers
            .iter()
            .map(|g| GiverRow {
                consent_id: id,
                guardian_id: match g {
                    Giver::Guardian(id) => Some(*id),
                    Giver::Child => None,
                },
                is_child: *g == Giver::Child,
            })
            .collect(),
        region_organizations: new.region_organizations.clone(),
    }
}

/// Every consent record of the child: in force, superseded, withdrawn and refused.
#[tracing::instrument(skip_all)]
pub async fn list_consents(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<ConsentView>> {
    let p = caller.principal()?;
    let (child, access) = accessible_child(state, caller, id, AuditAction::Read, "consent").await?;
    let records = state.store.consents_of_child(child.id, None).await?;
    let audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Read,
        "consent",
        None,
        Some(child.id),
        PURPOSE_CONSENT,
    );
    state.store.record(&[audit]).await?;
    consent_views(&state.keys, records)
}

/// One consent record, for those who keep the child's record; another's answers as an
/// unknown id.
#[tracing::instrument(skip_all)]
pub async fn get_consent(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<ConsentView> {
    let p = caller.principal()?;
    let record = state
        .store
        .get_consent(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consent"))?;
    let (child, access) = match accessible_child(
        state,
        caller,
        record.consent.child_id,
        AuditAction::Read,
        "consent",
    )
    .await
    {
        Ok(found) => found,
        Err(e) if e.is_refusal() => return Err(ServiceError::not_found("consent")),
        Err(e) => return Err(e),
    };
    let audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Read,
        "consent",
        Some(id),
        Some(child.id),
        PURPOSE_CONSENT,
    );
    state.store.record(&[audit]).await?;
    let superseded_by = record.consent.superseded_by;
    let mut view = consent_view(&state.keys, record)?;
    if let Some(newer) = superseded_by {
        if let Some(n) = state.store.get_consent(newer).await? {
            view.ended_at.get_or_insert(n.consent.recorded_at);
        }
    }
    Ok(view)
}

// ---------------------------------------------------------------- withdraw

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Who withdraws: a guardian who gave the consent, or the child where the child gave it.
    pub by: GiverDto,
    pub reason: Option<String>,
}

/// Withdraws consent at once, for a giver (recorded by staff or the partner system). What was
/// done before stays lawful; nothing further happens under it. Again → 409.
#[tracing::instrument(skip_all)]
pub async fn withdraw_consent(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: WithdrawRequest,
) -> ServiceResult<ConsentView> {
    let p = caller.principal()?;
    let record = state
        .store
        .get_consent(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consent"))?;
    let (child, access) = accessible_child(
        state,
        caller,
        record.consent.child_id,
        AuditAction::Update,
        "consent",
    )
    .await
    .map_err(|_| ServiceError::not_found("consent"))?;
    let mut v = Validation::new();
    let by = parse_giver(&mut v, "by", &body.by);
    v.optional_text("reason", body.reason.as_deref(), 1000);
    v.finish().map_err(ServiceError::validation)?;
    let by = by.expect("validated");
    let actor = p.audit_actor(role_of(access));
    withdraw(state, record, by, body.reason, actor, child.id).await
}

/// The withdrawal itself, shared by staff and the parent link.
pub(crate) async fn withdraw(
    state: &Ctx,
    record: ConsentRecord,
    by: Giver,
    reason: Option<String>,
    actor: crate::audit::AuditActor,
    child_id: Uuid,
) -> Result<ConsentView, ServiceError> {
    if record.consent.decision != Decision::Granted {
        return Err(ServiceError::conflict(
            "not-withdrawable",
            "a refusal is not withdrawn; record a new decision instead",
        ));
    }
    if record.consent.status != ConsentStatus::Active {
        return Err(ServiceError::conflict(
            "not-in-force",
            format!("the consent is {} already", record.consent.status),
        )
        .in_status(record.consent.status.as_str()));
    }
    may_withdraw(&givers_of(&record.givers), by).map_err(|f| ServiceError::rule(vec![f], "by"))?;
    let w = Withdrawal {
        at: now(),
        by_guardian_id: match by {
            Giver::Guardian(id) => Some(id),
            Giver::Child => None,
        },
        by_child: by == Giver::Child,
        reason: reason.map(|r| state.keys.seal(record.consent.id, r.trim())),
    };
    let audit = AuditRecord::new(
        &actor,
        AuditAction::Update,
        "consent",
        Some(record.consent.id),
        Some(child_id),
        PURPOSE_CONSENT,
    );
    match state
        .store
        .withdraw_consent(record.consent.id, &w, &audit)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotApplicable) => {
            return Err(ServiceError::conflict(
                "not-in-force",
                "the consent was withdrawn or replaced meanwhile",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let updated = state
        .store
        .get_consent(record.consent.id)
        .await?
        .ok_or_else(|| ServiceError::not_found("consent"))?;
    consent_view(&state.keys, updated)
}

// ---------------------------------------------------------------- the check

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    pub purpose: Purpose,
    /// The youth-care organisation the data would go to.
    pub organization_id: Option<Uuid>,
    /// Or: the specialists of this region.
    pub region_code: Option<RegionCode>,
}

#[derive(Serialize, ToSchema)]
pub struct MissingGiver {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardian_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct RuleView {
    pub rule: String,
    pub message: String,
}

impl From<RuleFailure> for RuleView {
    fn from(r: RuleFailure) -> Self {
        Self {
            rule: r.rule.into(),
            message: r.message,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConsentCheckView {
    pub allowed: bool,
    pub consent_id: Option<Uuid>,
    /// Who still must consent (so the mentor knows whom to ask).
    pub missing: Vec<MissingGiver>,
    /// One of the `missing` guardians suffices (information sharing without signs of disagreement).
    pub any_one_guardian: bool,
    pub refused_by: Vec<MissingGiver>,
    pub reasons: Vec<RuleView>,
    /// The child's age on the day judged (Europe/Amsterdam).
    pub age: Option<u32>,
    pub checked_at: DateTime<Utc>,
}

pub(crate) fn named(givers: &[Giver], guardians: &[GuardianRow]) -> Vec<MissingGiver> {
    givers
        .iter()
        .map(|g| match g {
            Giver::Guardian(id) => MissingGiver {
                guardian_id: Some(*id),
                name: guardians
                    .iter()
                    .find(|x| x.id == *id)
                    .map(|x| x.name.clone()),
                child: None,
            },
            Giver::Child => MissingGiver {
                guardian_id: None,
                name: None,
                child: Some(true),
            },
        })
        .collect()
}

/// Is consent in force for a purpose toward an organisation (or a region's specialists) now?
/// Names who still must consent.
#[tracing::instrument(skip_all)]
pub async fn consent_check(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    q: CheckParams,
) -> ServiceResult<ConsentCheckView> {
    let p = caller.principal()?;
    if q.organization_id.is_none() == q.region_code.is_none() {
        return Err(ServiceError::field(
            "organization_id",
            "give organization_id or region_code, one of the two",
        ));
    }
    let (child, access) = accessible_child(state, caller, id, AuditAction::Read, "consent").await?;
    let at = now();
    let check = check_consent(
        state,
        &child,
        q.purpose,
        q.organization_id,
        q.region_code,
        at,
    )
    .await?;
    let guardians = if check.missing.is_empty() && check.refused_by.is_empty() {
        Vec::new()
    } else {
        state.store.list_guardians(child.id).await?
    };
    let audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Read,
        "consent_check",
        None,
        Some(child.id),
        PURPOSE_CONSENT,
    );
    state.store.record(&[audit]).await?;
    Ok(ConsentCheckView {
        allowed: check.allowed,
        consent_id: check.consent_id,
        missing: named(&check.missing, &guardians),
        any_one_guardian: check.any_one_guardian,
        refused_by: named(&check.refused_by, &guardians),
        reasons: check.reasons.into_iter().map(RuleView::from).collect(),
        age: check.age,
        checked_at: at,
    })
}

// ---------------------------------------------------------------- parent links

/// A fresh link token (256 random bits, URL-safe) and its stored hash.
pub(crate) fn new_link_token() -> (String, String) {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = link_token_hash(&token);
    (token, hash)
}

/// Links are stored only as this hash.
pub(crate) fn link_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// The guardian (with parental authority) who is asked; or give `child: true`.
    pub guardian_id: Option<Uuid>,
    /// The child itself is asked (from 12; from 16 the young person decides alone).
    pub child: Option<bool>,
    pub purpose: Purpose,
    pub recipient: RecipientDto,
    /// The version of the information text the parent will be shown.
    pub information_version: String,
    /// Until when the consent, if given, holds.
    #[serde(default, deserialize_with = "crate::domain::calendar::iso_date_opt")]
    pub valid_until: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParentLink {
    /// The guardian whose link it is; or give `child: true` for the child's own (from 12).
    pub guardian_id: Option<Uuid>,
    pub child: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedLink {
    pub id: Uuid,
    /// Send this to the parent; it is shown once and stored only as a hash.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// Kindbrug e-mails the invitation itself (the guardian has an e-mail address).
    pub mailed: bool,
}

/// The address a parent opens.
pub(crate) fn link_url(state: &Ctx, token: &str) -> String {
    format!("{}/api/v1/parent/{token}", state.config.public_base())
}

/// The holder of a link: a guardian of the child, or the child.
async fn link_holder(
    state: &Ctx,
    child: &ChildRow,
    guardian_id: Option<Uuid>,
    is_child: Option<bool>,
) -> Result<(Giver, bool), ServiceError> {
    match (guardian_id, is_child) {
        (Some(id), None | Some(false)) => {
            let guardian = state
                .store
                .list_guardians(child.id)
                .await?
                .into_iter()
                .find(|g| g.id == id)
                .ok_or_else(|| {
                    ServiceError::field("guardian_id", "not a guardian of this child")
                })?;
            Ok((Giver::Guardian(id), guardian.has_parental_authority))
        }
        (None, Some(true)) => Ok((Giver::Child, false)),
        _ => Err(ServiceError::field(
            "guardian_id",
            "give either guardian_id or child: true",
        )),
    }
}

fn holder_columns(holder: Giver) -> (LinkHolder, Option<Uuid>) {
    match holder {
        Giver::Guardian(id) => (LinkHolder::Guardian, Some(id)),
        Giver::Child => (LinkHolder::Child, None),
    }
}

fn age_today(child: &ChildRow) -> u32 {
    crate::domain::calendar::age_on(child.date_of_birth, dutch_date(now())).unwrap_or(0)
}

/// Invites one guardian (or the child, from 12) to decide digitally on one purpose toward one
/// recipient. The link is single use for the decision and expires.
#[tracing::instrument(skip_all)]
pub async fn create_invitation(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: NewInvitation,
) -> ServiceResult<CreatedLink> {
    let p = caller.principal()?;
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Create, "parent_link").await?;
    super::children::still_here(&child)?;
    let mut v = Validation::new();
    let recipient = parse_recipient(&mut v, "recipient", &body.recipient);
    v.text("information_version", &body.information_version, 64);
    let today = dutch_date(now());
    v.check(
        body.valid_until.is_none_or(|u| u >= today),
        "valid_until",
        "must not be in the past",
    );
    v.check(
        body.valid_until
            .is_none_or(|u| u <= today + Duration::days(MAX_CONSENT_DAYS)),
        "valid_until",
        "at most 10 years ahead",
    );
    if let Some(r) = &recipient {
        check_recipient(state, &mut v, "recipient", r).await?;
    }
    v.finish().map_err(ServiceError::validation)?;
    let (holder, authority) = link_holder(state, &child, body.guardian_id, body.child).await?;
    crate::domain::consent::may_invite(age_today(&child), holder, authority)
        .map_err(|f| ServiceError::rule(vec![f], "guardian_id"))?;
    let (org, region) = match recipient.expect("validated") {
        Recipient::Organization(o) => (Some(o), None),
        Recipient::Region(r) => (None, Some(r.to_string())),
    };
    let at = now();
    let (token, hash) = new_link_token();
    let (holder_kind, guardian_id) = holder_columns(holder);
    let row = ParentLinkRow {
        id: Uuid::now_v7(),
        token_hash: hash,
        kind: LinkKind::Invitation,
        child_id: child.id,
        holder: holder_kind,
        guardian_id,
        purpose: Some(body.purpose),
        recipient_organization_id: org,
        recipient_region_code: region,
        consent_valid_until: body.valid_until,
        information_version: Some(body.information_version.trim().into()),
        expires_at: at + Duration::days(state.config.parent_invitation_days),
        used_at: None,
        created_by_subject: p.subject.clone(),
        created_by_organization_id: p.organization_id,
        created_at: at,
        revoked_at: None,
    };
    let mail = super::mail::invitation_mail(state, &child, &row, &token).await?;
    issue_link(
        state,
        &p.audit_actor(role_of(access)),
        &row,
        &token,
        true,
        mail,
    )
    .await
}

/// Stores a new link with its access-log entry (with `replace`, the holder's open invitation
/// for the purpose ends) and answers the address to send, shown this once.
async fn issue_link(
    state: &Ctx,
    actor: &crate::audit::AuditActor,
    row: &ParentLinkRow,
    token: &str,
    replace: bool,
    mail: Option<crate::store::MailRow>,
) -> ServiceResult<CreatedLink> {
    let audit = AuditRecord::new(
        actor,
        AuditAction::Create,
        "parent_link",
        Some(row.id),
        Some(row.child_id),
        PURPOSE_CONSENT,
    );
    state
        .store
        .create_parent_link(row, replace, &audit, mail.as_ref())
        .await?;
    Ok(CreatedLink {
        id: row.id,
        url: link_url(state, token),
        expires_at: row.expires_at,
        mailed: mail.is_some(),
    })
}

/// A standing link for one guardian (or the child's own, from 12): the child's consents,
/// withdrawal, and the child's access log (NEN 7513 client view). Not for a parent of a young
/// person of 16 or older: what the young person shares is theirs (WGBO 7:457).
#[tracing::instrument(skip_all)]
pub async fn create_parent_link(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: NewParentLink,
) -> ServiceResult<CreatedLink> {
    let p = caller.principal()?;
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Create, "parent_link").await?;
    let (holder, _) = link_holder(state, &child, body.guardian_id, body.child).await?;
    crate::domain::consent::may_give_overview(age_today(&child), holder)
        .map_err(|f| ServiceError::rule(vec![f], "guardian_id"))?;
    let at = now();
    let (token, hash) = new_link_token();
    let (holder_kind, guardian_id) = holder_columns(holder);
    let row = ParentLinkRow {
        id: Uuid::now_v7(),
        token_hash: hash,
        kind: LinkKind::Standing,
        child_id: child.id,
        holder: holder_kind,
        guardian_id,
        purpose: None,
        recipient_organization_id: None,
        recipient_region_code: None,
        consent_valid_until: None,
        information_version: None,
        expires_at: at + Duration::days(state.config.parent_link_days),
        used_at: None,
        created_by_subject: p.subject.clone(),
        created_by_organization_id: p.organization_id,
        created_at: at,
        revoked_at: None,
    };
    issue_link(
        state,
        &p.audit_actor(role_of(access)),
        &row,
        &token,
        false,
        None,
    )
    .await
}

// ---------------------------------------------------------------- Meldcode

crate::text_enum! {
    /// The legal ground for informing Veilig Thuis without consent.
    pub enum MeldcodeBasis {
        /// Art. 5.2.6 Wmo 2015: a professional may inform Veilig Thuis without consent.
        Wmo2015Art526 => "wmo_2015_art_5_2_6",
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVeiligThuisReport {
    pub legal_basis: MeldcodeBasis,
    /// Why Veilig Thuis was informed.
    pub reason: String,
    /// Who was consulted (e.g. the aandachtsfunctionaris, Veilig Thuis advice line).
    pub consulted: String,
    /// The weighing of the Meldcode's steps.
    pub weighing: String,
    /// The day Veilig Thuis was informed (default today).
    #[serde(default, deserialize_with = "crate::domain::calendar::iso_date_opt")]
    pub reported_on: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct VeiligThuisReportView {
    pub id: Uuid,
    pub child_id: Uuid,
    pub legal_basis: String,
    pub reason: String,
    pub consulted: String,
    pub weighing: String,
    pub reported_on: NaiveDate,
    pub recorded_by_subject: String,
    pub created_at: DateTime<Utc>,
}

/// Records that Veilig Thuis was informed without consent (Meldcode). An exceptional, reasoned
/// event: flagged in every access-log view; it unlocks no sharing with specialists.
#[tracing::instrument(skip_all)]
pub async fn create_veilig_thuis_report(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    body: NewVeiligThuisReport,
) -> ServiceResult<crate::service::registry::CreatedId> {
    let p = caller.principal()?;
    let (child, access) = accessible_child(
        state,
        caller,
        id,
        AuditAction::Transfer,
        "veilig_thuis_report",
    )
    .await?;
    let today = dutch_date(now());
    let mut v = Validation::new();
    v.text("reason", &body.reason, 4000);
    v.text("consulted", &body.consulted, 1000);
    v.text("weighing", &body.weighing, 4000);
    v.check(
        body.reported_on.is_none_or(|d| d <= today),
        "reported_on",
        "must not be in the future",
    );
    v.finish().map_err(ServiceError::validation)?;
    let report_id = Uuid::now_v7();
    let seal = |text: &str| state.keys.seal(report_id, text.trim());
    let row = VeiligThuisReportRow {
        id: report_id,
        child_id: child.id,
        legal_basis: body.legal_basis.as_str().into(),
        reason: seal(&body.reason),
        consulted: seal(&body.consulted),
        weighing: seal(&body.weighing),
        reported_on: body.reported_on.unwrap_or(today),
        recorded_by_subject: p.subject.clone(),
        recorded_by_staff_id: p.staff.as_ref().map(|s| s.staff.id),
        organization_id: child.organization_id,
        created_at: now(),
    };
    let mut audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Transfer,
        "veilig_thuis_report",
        Some(row.id),
        Some(child.id),
        "meldcode_veilig_thuis",
    );
    audit.flag = Some("meldcode".into());
    state.store.create_veilig_thuis_report(&row, &audit).await?;
    tracing::warn!(report = %row.id, "Meldcode: Veilig Thuis informed without consent");
    let mut created = crate::service::registry::CreatedId::new(row.id);
    created.warnings = [
        bsn_warning("reason", Some(&body.reason)),
        bsn_warning("consulted", Some(&body.consulted)),
        bsn_warning("weighing", Some(&body.weighing)),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(created)
}

/// The Meldcode reports of a child (for the child's mentors and organisation).
#[tracing::instrument(skip_all)]
pub async fn list_veilig_thuis_reports(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<VeiligThuisReportView>> {
    let p = caller.principal()?;
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Read, "veilig_thuis_report").await?;
    let rows = state.store.veilig_thuis_reports(child.id).await?;
    let mut audit = AuditRecord::new(
        &p.audit_actor(role_of(access)),
        AuditAction::Read,
        "veilig_thuis_report",
        None,
        Some(child.id),
        "meldcode_veilig_thuis",
    );
    audit.flag = Some("meldcode".into());
    state.store.record(&[audit]).await?;
    let views: Result<Vec<VeiligThuisReportView>, ServiceError> = rows
        .into_iter()
        .map(|r| {
            let open = |sealed: &str| {
                state
                    .keys
                    .open(r.id, sealed)
                    .map_err(ServiceError::internal)
            };
            Ok(VeiligThuisReportView {
                id: r.id,
                child_id: r.child_id,
                legal_basis: r.legal_basis.clone(),
                reason: open(&r.reason)?,
                consulted: open(&r.consulted)?,
                weighing: open(&r.weighing)?,
                reported_on: r.reported_on,
                recorded_by_subject: r.recorded_by_subject.clone(),
                created_at: r.created_at,
            })
        })
        .collect();
    views
}

// ---------------------------------------------------------------- links, as staff see them

/// A link as the staff who keep the child's record see it: never the token.
#[derive(Serialize, ToSchema)]
pub struct ParentLinkView {
    pub id: Uuid,
    /// An invitation (a decision, then the holder's overview) or a standing link.
    pub kind: LinkKind,
    pub holder: LinkHolder,
    pub guardian_id: Option<Uuid>,
    pub purpose: Option<Purpose>,
    pub created_at: DateTime<Utc>,
    pub created_by_subject: String,
    pub expires_at: DateTime<Utc>,
    /// When the invitation was answered.
    pub used_at: Option<DateTime<Utc>>,
    /// When it was revoked (or replaced by a newer invitation).
    pub revoked_at: Option<DateTime<Utc>>,
    /// `open`, `decided`, `expired` or `revoked`.
    pub state: String,
}

impl From<ParentLinkRow> for ParentLinkView {
    fn from(r: ParentLinkRow) -> Self {
        let state = if r.revoked_at.is_some() {
            "revoked"
        } else if r.expires_at <= now() {
            "expired"
        } else if r.used_at.is_some() {
            "decided"
        } else {
            "open"
        };
        Self {
            id: r.id,
            kind: r.kind,
            holder: r.holder,
            guardian_id: r.guardian_id,
            purpose: r.purpose,
            created_at: r.created_at,
            created_by_subject: r.created_by_subject,
            expires_at: r.expires_at,
            used_at: r.used_at,
            revoked_at: r.revoked_at,
            state: state.into(),
        }
    }
}

/// The links sent for a child (purpose, holder, made, expires, used, revoked; never the token).
#[tracing::instrument(skip_all)]
pub async fn list_parent_links(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<Vec<ParentLinkView>> {
    let (child, access) =
        accessible_child(state, caller, id, AuditAction::Read, "parent_link").await?;
    let rows = state.store.links_of_child(child.id).await?;
    let audit = AuditRecord::new(
        &caller.audit_actor(role_of(access)),
        AuditAction::Read,
        "parent_link",
        None,
        Some(child.id),
        PURPOSE_CONSENT,
    );
    state.store.record(&[audit]).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Revokes a link at once: it then opens nothing (answered as an unknown link). Staff who keep
/// the child's record; another's link answers as unknown.
#[tracing::instrument(skip_all)]
pub async fn revoke_parent_link(
    state: &Ctx,
    caller: &Caller,
    link_id: Uuid,
) -> ServiceResult<ParentLinkView> {
    let link = state
        .store
        .get_parent_link(link_id)
        .await?
        .ok_or_else(|| ServiceError::not_found("parent link"))?;
    let (child, access) = accessible_child(
        state,
        caller,
        link.child_id,
        AuditAction::Update,
        "parent_link",
    )
    .await
    .map_err(|_| ServiceError::not_found("parent link"))?;
    let audit = AuditRecord::new(
        &caller.audit_actor(role_of(access)),
        AuditAction::Update,
        "parent_link",
        Some(link.id),
        Some(child.id),
        PURPOSE_CONSENT,
    );
    let at = now();
    match state.store.revoke_parent_link(link.id, at, &audit).await {
        Ok(()) => {}
        Err(StoreError::NotApplicable) => {
            return Err(ServiceError::conflict(
                "link-revoked",
                "the link was revoked already",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let mut revoked = link;
    revoked.revoked_at = Some(at);
    Ok(revoked.into())
}
