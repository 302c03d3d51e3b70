//! Parent links: pages a guardian opens without an account. The token in the path is the only
//! credential: 256 random bits, stored as a hash, single purpose, expiring. An invitation lets
//! the guardian see what is asked and decide once; a standing link shows the child's consents,
//! lets the guardian withdraw what they gave, and shows the child's access log (NEN 7513 client
//! view). A link never reaches another child.

use super::consent::{
    consent_basis, consent_record, link_token_hash, withdraw, ConsentView, RecordMeta,
};
use super::paging::{seq_cursor, seq_page};
use super::{Ctx, PageOf, ServiceError, ServiceResult};
use crate::audit::{AuditAction, AuditActor, AuditRecord};
use crate::domain::calendar::{dutch_date, now};
use crate::domain::consent::{
    check_new_decision, may_invite, overview_scope, supersedes, ConsentMethod, Decision, Giver,
    LinkHolder, LinkKind, NewDecision, OverviewScope, Purpose, Recipient, RIGHTS_NL,
};
use crate::error::current_request_id;
use crate::store::{ChildRow, ParentLinkRow, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The client's address as the door saw it (rate limits are per address).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

const PURPOSE_PARENT_VIEW: &str = "parent_access";

fn unknown_link() -> ServiceError {
    ServiceError::NotFound {
        code: "link-unknown",
        detail: "this link is not known; ask the childcare organisation for a new one".into(),
    }
}

/// The link behind a token, if it is known and not expired; the link's kind must be `kind`.
/// A client that tries too many unknown links is refused for a while (429): the 256-bit tokens
/// make guessing hopeless, but an operator expects the attempt to be braked and logged.
async fn link(
    state: &Ctx,
    client: &ClientAddr,
    token: &str,
    kind: LinkKind,
) -> Result<(ParentLinkRow, ChildRow), ServiceError> {
    if let Some(ip) = client.0 {
        state
            .parent_link_failures
            .check(ip)
            .map_err(|wait| ServiceError::TooManyRequests {
                detail: "too many unknown links were tried from this address; wait and try again"
                    .into(),
                retry_after_seconds: wait.0.as_secs(),
            })?;
    }
    let unknown = || {
        if let Some(ip) = client.0 {
            state.parent_link_failures.charge(ip);
        }
        unknown_link()
    };
    // a token we handed out is 43 URL-safe characters; anything else was altered
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(unknown());
    }
    let row = state
        .store
        .parent_link_by_hash(&link_token_hash(token))
        .await?
        .ok_or_else(unknown)?;
    // a revoked (or replaced) link answers as one that never was
    if row.revoked_at.is_some() {
        return Err(unknown());
    }
    if row.expires_at <= now() {
        return Err(ServiceError::Gone {
            code: "link-expired",
            detail: "this link has expired; ask the childcare organisation for a new one".into(),
        });
    }
    // once decided, an invitation is its holder's overview until it expires
    let decided_invitation = row.kind == LinkKind::Invitation && row.used_at.is_some();
    if row.kind != kind && !(kind == LinkKind::Standing && decided_invitation) {
        return Err(ServiceError::Forbidden {
            code: "link-not-for-this",
            detail: "this link does not give access to this page".into(),
            rules: Vec::new(),
        });
    }
    let child = state
        .store
        .get_child(row.child_id)
        .await?
        .ok_or_else(unknown_link)?;
    Ok((row, child))
}

/// Whose link it is: a guardian's, or the child's own.
fn holder(link: &ParentLinkRow) -> Giver {
    match link.guardian_id {
        Some(id) => Giver::Guardian(id),
        None => Giver::Child,
    }
}

/// How the link's holder is named in the access log and on records they make.
fn holder_subject(link: &ParentLinkRow) -> String {
    match holder(link) {
        Giver::Guardian(id) => format!("guardian:{id}"),
        Giver::Child => format!("child:{}", link.child_id),
    }
}

fn holder_role(link: &ParentLinkRow) -> &'static str {
    match holder(link) {
        Giver::Guardian(_) => "parent",
        Giver::Child => "child",
    }
}

fn parent_actor(link: &ParentLinkRow) -> AuditActor {
    AuditActor {
        issuer: "parent-link".into(),
        subject: holder_subject(link),
        role: holder_role(link).into(),
        organization_id: None,
        staff_id: None,
        request_id: current_request_id(),
    }
}

/// The child's age on today's Dutch date.
fn age_today(child: &ChildRow) -> u32 {
    crate::domain::calendar::age_on(child.date_of_birth, dutch_date(now())).unwrap_or(0)
}

/// What this link's holder may see now (the child may have turned 16 since it was made).
fn scope(link: &ParentLinkRow, child: &ChildRow) -> Result<OverviewScope, ServiceError> {
    overview_scope(age_today(child), holder(link)).map_err(|f| ServiceError::Forbidden {
        code: "link-not-for-this",
        detail: f.message,
        rules: vec![f.rule],
    })
}

async fn log(
    state: &Ctx,
    link: &ParentLinkRow,
    action: AuditAction,
    resource: &str,
    resource_id: Option<Uuid>,
) -> Result<(), ServiceError> {
    let record = AuditRecord::new(
        &parent_actor(link),
        action,
        resource,
        resource_id,
        Some(link.child_id),
        PURPOSE_PARENT_VIEW,
    );
    state.store.record(&[record]).await?;
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct AskedView {
    pub purpose: Purpose,
    /// Someone else (the other parent with *gezag*, or the child from 12) must consent too
    /// before anything is shared.
    pub others_must_decide: bool,
    /// What is asked, in plain Dutch.
    pub explanation: String,
    pub recipient_name: String,
    /// A region-wide request: the youth-care organisations it would cover (those serving the
    /// region today), by name.
    pub covered_organizations: Vec<String>,
    pub information_version: Option<String>,
    pub consent_valid_until: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct ParentPage {
    /// An invitation (decide once, then the overview) or a standing link.
    pub kind: LinkKind,
    /// A parent or carer, or the child's own link.
    pub holder: LinkHolder,
    /// The guardian whose link it is (absent on the child's own), to tell their own decisions
    /// from others'.
    pub holder_guardian_id: Option<Uuid>,
    /// Who asks: the staff member who sent the link (else the child's mentor).
    pub mentor_name: Option<String>,
    pub child_given_name: String,
    /// The guardian's name (empty on the child's own link).
    pub guardian_name: String,
    pub organization_name: String,
    pub asked: Option<AskedView>,
    /// An invitation that was already answered.
    pub decided: bool,
    /// The parent's rights, in plain Dutch.
    pub rights: String,
    /// From 16 a parent's overview shows only their own decisions and no access log.
    pub only_own_decisions: bool,
    pub expires_at: DateTime<Utc>,
}

/// What the link is for: the question (invitation) or the overview (standing link).
#[tracing::instrument(skip_all)]
pub async fn parent_page(
    state: &Ctx,
    client: &ClientAddr,
    token: String,
) -> ServiceResult<ParentPage> {
    let (row, child) = match link(state, client, &token, LinkKind::Invitation).await {
        Err(e) if e.code() == "link-not-for-this" => {
            link(state, client, &token, LinkKind::Standing).await?
        }
        other => other?,
    };
    let guardian = state
        .store
        .list_guardians(child.id)
        .await?
        .into_iter()
        .find(|g| Some(g.id) == row.guardian_id);
    let organization = state.store.get_organization(child.organization_id).await?;
    // who asks: the staff member who sent the link, else the child's mentor
    let sender = match row.created_by_organization_id {
        Some(org) => state
            .store
            .staff_by_subject(org, &row.created_by_subject)
            .await?
            .map(|s| s.staff.name),
        None => None,
    };
    let mentor_name = match (sender, child.mentor_staff_id) {
        (Some(name), _) => Some(name),
        (None, Some(id)) => state.store.get_staff(id).await?.map(|s| s.staff.name),
        (None, None) => None,
    };
    let asked = match (row.purpose, row.kind) {
        (Some(purpose), LinkKind::Invitation) => {
            let recipient_name = match (row.recipient_organization_id, &row.recipient_region_code) {
                (Some(o), _) => state
                    .store
                    .get_organization(o)
                    .await?
                    .map(|o| o.name)
                    .unwrap_or_default(),
                (None, Some(r)) => state
                    .store
                    .get_region(r)
                    .await?
                    .map(|r| format!("de jeugdhulpspecialisten van regio {}", r.name))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let mut covered_organizations = Vec::new();
            if let Some(code) = &row.recipient_region_code {
                for org in state.store.organizations_serving_region(code).await? {
                    if let Some(o) = state.store.get_organization(org).await? {
                        covered_organizations.push(o.name);
                    }
                }
            }
            // does anyone besides this holder still have to decide? (not said to a parent of a
            // young person of 16 or older, whose decisions are their own)
            let region = row
                .recipient_region_code
                .as_deref()
                .and_then(|r| r.parse().ok());
            let check = super::consent::check_consent(
                state,
                &child,
                purpose,
                row.recipient_organization_id,
                region,
                now(),
            )
            .await?;
            let me = holder(&row);
            let others_must_decide = !check.allowed
                && overview_scope(age_today(&child), me) != Ok(OverviewScope::OwnDecisionsOnly)
                && check.missing.iter().any(|g| *g != me);
            Some(AskedView {
                purpose,
                others_must_decide,
                explanation: purpose.explanation_nl().into(),
                recipient_name,
                covered_organizations,
                information_version: row.information_version.clone(),
                consent_valid_until: row.consent_valid_until,
            })
        }
        _ => None,
    };
    log(state, &row, AuditAction::Read, "parent_link", Some(row.id)).await?;
    let only_own_decisions = row.kind == LinkKind::Standing
        && overview_scope(age_today(&child), holder(&row)) == Ok(OverviewScope::OwnDecisionsOnly);
    Ok(ParentPage {
        kind: row.kind,
        holder: row.holder,
        holder_guardian_id: row.guardian_id,
        mentor_name,
        only_own_decisions,
        child_given_name: child.given_name,
        guardian_name: guardian.map(|g| g.name).unwrap_or_default(),
        organization_name: organization.map(|o| o.name).unwrap_or_default(),
        asked,
        decided: row.used_at.is_some(),
        rights: RIGHTS_NL.into(),
        expires_at: row.expires_at,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentDecision {
    pub decision: Decision,
}

#[derive(Serialize, ToSchema)]
pub struct ParentDecisionResult {
    pub consent_id: Uuid,
    pub decision: String,
}

/// The guardian's own decision (digital). The link works once.
#[tracing::instrument(skip_all)]
pub async fn parent_decision(
    state: &Ctx,
    client: &ClientAddr,
    token: String,
    body: ParentDecision,
) -> ServiceResult<ParentDecisionResult> {
    let (row, child) = link(state, client, &token, LinkKind::Invitation).await?;
    let used = || {
        ServiceError::conflict(
            "link-used",
            "this link was used already; your earlier answer stands",
        )
    };
    if row.used_at.is_some() {
        return Err(used());
    }
    let purpose: Purpose = row
        .purpose
        .ok_or_else(|| ServiceError::internal("an invitation without a purpose"))?;
    let recipient = match (row.recipient_organization_id, &row.recipient_region_code) {
        (Some(o), _) => Recipient::Organization(o),
        (None, Some(r)) => Recipient::Region(r.parse().map_err(ServiceError::internal)?),
        _ => return Err(ServiceError::internal("invitation without recipient")),
    };
    let at = now();
    let (existing, guardians) = consent_basis(state, child.id, purpose).await?;
    let authority = guardians
        .iter()
        .any(|g| Some(g.id) == row.guardian_id && g.has_parental_authority);
    // judged today: the child may have turned 16 since the invitation was sent
    may_invite(age_today(&child), holder(&row), authority)
        .map_err(|f| ServiceError::rule(vec![f], "decision"))?;
    let new = NewDecision {
        purpose,
        region_organizations: super::consent::region_organizations(state, &recipient).await?,
        recipient,
        decision: body.decision,
        givers: vec![holder(&row)],
        valid_from: dutch_date(at),
        valid_until: row.consent_valid_until,
        no_signs_of_disagreement: false,
        child_not_competent: false,
    };
    // the guardian's own decision stands on its own; the other parent decides separately
    check_new_decision(child.date_of_birth, &guardians, &existing, &new, at, false)
        .map_err(|f| ServiceError::rule(f, "decision"))?;
    let superseded: Vec<Uuid> = existing
        .iter()
        .filter(|r| supersedes(&new, r))
        .map(|r| r.id)
        .collect();
    let record = consent_record(
        &child,
        &new,
        RecordMeta {
            method: ConsentMethod::Digital,
            evidence_ref: Some(format!("parent-link:{}", row.id)),
            noted_by_staff_id: None,
            information_version: row.information_version.clone().unwrap_or_default(),
            recorded_by_subject: holder_subject(&row),
            recorded_by_role: holder_role(&row).into(),
            recorded_by_organization_id: None,
            parent_link_id: Some(row.id),
            at,
            region_code: super::consent::child_region(state, &child, at)
                .await?
                .map(|r| r.to_string()),
        },
    );
    let audit = AuditRecord::new(
        &parent_actor(&row),
        AuditAction::Create,
        "consent",
        Some(record.consent.id),
        Some(child.id),
        PURPOSE_PARENT_VIEW,
    );
    match state
        .store
        .decide_invitation(row.id, &record, &superseded, &audit)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotApplicable) => return Err(used()),
        Err(e) => return Err(e.into()),
    }
    Ok(ParentDecisionResult {
        consent_id: record.consent.id,
        decision: body.decision.as_str().into(),
    })
}

/// Every consent record of the child (the guardian's own and others').
#[tracing::instrument(skip_all)]
pub async fn parent_consents(
    state: &Ctx,
    client: &ClientAddr,
    token: String,
) -> ServiceResult<Vec<ConsentView>> {
    let (row, child) = link(state, client, &token, LinkKind::Standing).await?;
    let mut records = state.store.consents_of_child(child.id, None).await?;
    if scope(&row, &child)? == OverviewScope::OwnDecisionsOnly {
        let me = holder(&row);
        records.retain(|r| {
            r.givers.iter().any(|g| match me {
                Giver::Guardian(id) => g.guardian_id == Some(id),
                Giver::Child => g.is_child,
            })
        });
    }
    log(state, &row, AuditAction::Read, "consent", None).await?;
    super::consent::consent_views(&state.keys, records)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentWithdrawal {
    pub reason: Option<String>,
}

/// The guardian withdraws a consent they gave; effective at once.
#[tracing::instrument(skip_all)]
pub async fn parent_withdraw(
    state: &Ctx,
    client: &ClientAddr,
    (token, id): (String, Uuid),
    body: ParentWithdrawal,
) -> ServiceResult<ConsentView> {
    let (row, child) = link(state, client, &token, LinkKind::Standing).await?;
    if body
        .reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > 1000)
    {
        return Err(ServiceError::field(
            "reason",
            "must be at most 1000 characters",
        ));
    }
    let record = match state.store.get_consent(id).await? {
        Some(r) if r.consent.child_id == child.id => r,
        _ => return Err(ServiceError::not_found("consent")),
    };
    scope(&row, &child)?;
    withdraw(
        state,
        record,
        holder(&row),
        body.reason,
        parent_actor(&row),
        child.id,
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccessLogParams {
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the last sequence number seen.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccessView {
    pub occurred_at: DateTime<Utc>,
    /// The staff member's name, or for a partner system or parent, who it was.
    pub who: String,
    pub organization: Option<String>,
    pub role: String,
    pub action: String,
    pub what: String,
    pub outcome: String,
    /// `meldcode` when Veilig Thuis was informed without consent.
    pub flag: Option<String>,
}

/// Who accessed the child's data, when, in which role and organisation, and what they did.
#[tracing::instrument(skip_all)]
pub async fn parent_access_log(
    state: &Ctx,
    client: &ClientAddr,
    token: String,
    q: AccessLogParams,
) -> ServiceResult<PageOf<AccessView>> {
    let (row, child) = link(state, client, &token, LinkKind::Standing).await?;
    if scope(&row, &child)? == OverviewScope::OwnDecisionsOnly {
        return Err(ServiceError::Forbidden {
            code: "young-person-decides",
            detail: "from 16 who saw the young person's data is theirs to know: a parent sees it only with their consent (WGBO 7:457)".into(),
            rules: vec!["young-person-decides"],
        });
    }
    let (after, limit) = seq_page(q.limit, q.cursor.as_deref())?;
    let rows = state.store.child_access_log(child.id, after, limit).await?;
    log(state, &row, AuditAction::Read, "access_log", None).await?;
    let next_cursor = if rows.len() as i64 == limit {
        rows.last().map(|r| seq_cursor(r.seq))
    } else {
        None
    };
    let own = holder_subject(&row);
    let items = rows
        .into_iter()
        .map(|r| AccessView {
            occurred_at: r.occurred_at,
            who: match (r.staff_name, r.actor_role.as_str()) {
                (Some(name), _) => name,
                (None, "parent" | "child") if r.actor_subject == own => "u zelf".into(),
                (None, "parent") => "een ouder of verzorger".into(),
                (None, "child") => "het kind zelf".into(),
                (None, "integration") => "het systeem van de organisatie".into(),
                (None, _) => "beheer".into(),
            },
            organization: r.organization_name,
            role: r.actor_role,
            action: r.action,
            what: r.resource_type,
            outcome: r.outcome,
            flag: r.flag,
        })
        .collect();
    Ok(PageOf { items, next_cursor })
}
