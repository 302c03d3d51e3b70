//! Persistence. One trait per aggregate; each backend (SQLite, PostgreSQL) implements them all
//! with sqlx. The statements both backends share are written once in [`sql`] and instantiated
//! per backend; what must differ on purpose (transaction start, locking, connection setup)
//! lives in `sqlite.rs` and `postgres.rs`. A write and its audit entries commit together.

use crate::audit::checkpoint::Checkpoint;
use crate::audit::{AuditRecord, ChainCursor, ChainedEntry};
use crate::domain::consent::{LinkHolder, LinkKind, Purpose};
use crate::domain::regions::RegionMembership;
use crate::domain::types::{
    AuthoritySource, ConcernDomain, LocationType, OrganizationKind, Relationship, StaffRole,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;
use uuid::Uuid;

#[macro_use]
mod sql;
pub mod sessions;
pub mod text;
pub use text::TextSet;
pub mod postgres;
pub mod sqlite;

/// What can go wrong in the store, in terms the API can answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule of the database refused the write: the record exists.
    #[error("a record with this key exists already")]
    AlreadyExists,
    /// The write refers to a record that does not exist.
    #[error("the write refers to a record that does not exist")]
    MissingReference,
    /// A check of the database refused the write.
    #[error("the write breaks a rule of the database")]
    CheckViolation,
    /// A consent record the change rests on is no longer in force (withdrawn or replaced meanwhile).
    #[error("a consent record the change rests on is no longer in force")]
    ConsentChanged,
    /// The specialist whose slot was to be claimed has no free capacity.
    #[error("the specialist has no free capacity")]
    NoCapacity,
    /// The record is no longer in the state the change needs (a used invitation, a consent no
    /// longer active).
    #[error("the record no longer takes this change")]
    NotApplicable,
    /// The idempotency key was used before (the stored response stands).
    #[error("duplicate idempotency key")]
    Duplicate,
    /// An `If-Match` precondition no longer holds.
    #[error("the record changed since it was read")]
    Stale,
    /// A shared worker (the access-log writer) failed or stopped.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An access-log row holds a value the gateway never writes: it was changed outside it.
    #[error("access log entry {0} holds a value the gateway never writes")]
    CorruptAuditEntry(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A page request: at most `limit` rows after the opaque cursor's id.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub after: Option<Uuid>,
    pub limit: i64,
}

// ---------------------------------------------------------------- rows

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegionRow {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MunicipalityRow {
    pub municipality_code: String,
    pub municipality_name: String,
    pub region_code: String,
    pub valid_from: NaiveDate,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationRow {
    pub id: Uuid,
    pub name: String,
    pub kind: OrganizationKind,
    pub created_at: DateTime<Utc>,
    pub active: bool,
}

/// Which staff of an organisation to list.
#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    pub role: Option<StaffRole>,
    pub region_code: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LocationRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    #[sqlx(rename = "type")]
    pub location_type: LocationType,
    pub municipality_code: String,
    pub lrk_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub active: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: Uuid,
    pub location_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub active: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub subject: String,
    pub name: String,
    pub role: StaffRole,
    pub capacity: Option<i64>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A staff member with the locations, regions and expertise their record links them to.
#[derive(Debug, Clone)]
pub struct StaffRecord {
    pub staff: StaffRow,
    pub location_ids: Vec<Uuid>,
    pub region_codes: Vec<String>,
    pub expertise: Vec<ConcernDomain>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChildRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub location_id: Uuid,
    pub group_id: Option<Uuid>,
    pub external_ref: String,
    pub given_name: String,
    pub date_of_birth: NaiveDate,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The current mentor, if any (joined in on reads).
    pub mentor_staff_id: Option<Uuid>,
    /// The day the child left the childcare (retention counts from it).
    pub left_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MentorAssignmentRow {
    pub id: Uuid,
    pub child_id: Uuid,
    pub staff_id: Uuid,
    pub assigned_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub parents_informed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GuardianRow {
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: Uuid,
    pub child_id: Uuid,
    pub purpose: crate::domain::consent::Purpose,
    pub recipient_organization_id: Option<Uuid>,
    pub recipient_region_code: Option<String>,
    pub decision: crate::domain::consent::Decision,
    pub method: crate::domain::consent::ConsentMethod,
    pub evidence_ref: Option<String>,
    pub noted_by_staff_id: Option<Uuid>,
    pub information_version: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub no_signs_of_disagreement: bool,
    pub child_not_competent: bool,
    /// Who judged the child (12+) not competent in the matter, on which day, and why (sealed).
    pub not_competent_judged_by: Option<String>,
    pub not_competent_judged_on: Option<NaiveDate>,
    pub not_competent_reason_sealed: Option<String>,
    pub status: crate::domain::consent::ConsentStatus,
    pub superseded_by: Option<Uuid>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by_guardian_id: Option<Uuid>,
    pub withdrawn_by_child: bool,
    /// Sealed (free text).
    pub withdrawal_reason: Option<String>,
    pub recorded_by_subject: String,
    pub recorded_by_role: String,
    pub recorded_by_organization_id: Option<Uuid>,
    pub parent_link_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
    /// Figures: the child's region and organisation, the half-year and age band at recording.
    pub region_code: Option<String>,
    pub organization_id: Option<Uuid>,
    pub half_year: Option<String>,
    pub age_band: Option<String>,
}

/// One giver of a consent record: a guardian, or the child (`guardian_id` empty).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GiverRow {
    pub consent_id: Uuid,
    pub guardian_id: Option<Uuid>,
    pub is_child: bool,
}

/// A consent record with its givers.
#[derive(Debug, Clone)]
pub struct ConsentRecord {
    pub consent: ConsentRow,
    pub givers: Vec<GiverRow>,
    /// A region-wide consent: the youth-care organisations serving the region when it was given.
    pub region_organizations: Vec<Uuid>,
}

/// What the consent rules decide on for one child and purpose, read in one statement: the
/// records for the purpose (every status; the rules judge each) with their givers and covered
/// organisations, and the child's guardians as (id, has parental authority).
#[derive(Debug, Clone, Default)]
pub struct ConsentBasis {
    pub records: Vec<ConsentRecord>,
    pub guardians: Vec<(Uuid, bool)>,
}

/// Who withdrew, when and why.
#[derive(Debug, Clone)]
pub struct Withdrawal {
    pub at: DateTime<Utc>,
    pub by_guardian_id: Option<Uuid>,
    pub by_child: bool,
    pub reason: Option<String>,
}

/// An e-mail waiting in the outbox; `sealed` holds recipient, subject and body.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailRow {
    pub id: Uuid,
    pub parent_link_id: Uuid,
    pub sealed: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParentLinkRow {
    pub id: Uuid,
    pub token_hash: String,
    pub kind: LinkKind,
    pub child_id: Uuid,
    /// `guardian` (a parent or carer) or `child` (the child's own link, from 12).
    pub holder: LinkHolder,
    /// The guardian whose link it is (`None` for the child's own).
    pub guardian_id: Option<Uuid>,
    pub purpose: Option<Purpose>,
    pub recipient_organization_id: Option<Uuid>,
    pub recipient_region_code: Option<String>,
    pub consent_valid_until: Option<NaiveDate>,
    pub information_version: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_by_subject: String,
    pub created_by_organization_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Revoked by staff, or replaced by a newer invitation: then it opens nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The Meldcode report; `reason`, `consulted` and `weighing` are sealed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VeiligThuisReportRow {
    pub id: Uuid,
    pub child_id: Uuid,
    pub legal_basis: String,
    pub reason: String,
    pub consulted: String,
    pub weighing: String,
    pub reported_on: NaiveDate,
    pub recorded_by_subject: String,
    pub recorded_by_staff_id: Option<Uuid>,
    pub organization_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// An access-log entry as a parent sees it: who (name, organisation, role), what, when.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChildAccessRow {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_role: String,
    pub actor_subject: String,
    pub staff_name: Option<String>,
    pub organization_name: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub outcome: String,
    pub flag: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConcernRow {
    pub id: Uuid,
    pub child_id: Uuid,
    pub domains: TextSet<crate::domain::types::ConcernDomain>,
    /// What the mentor saw, sealed.
    pub observation: String,
    pub observed_since: NaiveDate,
    pub recorded_by_subject: String,
    pub recorded_by_staff_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsultationRow {
    pub id: Uuid,
    pub child_id: Uuid,
    pub organization_id: Uuid,
    pub location_id: Uuid,
    pub concern_id: Uuid,
    /// The child's question, sealed.
    pub question: String,
    pub expertise: crate::domain::types::ConcernDomain,
    pub urgency: crate::domain::consultation::Urgency,
    pub region_code: String,
    pub status: crate::domain::consultation::ConsultationStatus,
    pub held_from: Option<crate::domain::consultation::ConsultationStatus>,
    pub offered_to: Option<Uuid>,
    pub offered_at: Option<DateTime<Utc>>,
    pub answer_due: Option<DateTime<Utc>>,
    pub assigned_to: Option<Uuid>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// Why it stands where it stands, in the gateway's own words (never a person's free text).
    pub status_reason: Option<String>,
    /// A person's reason for cancelling or rejecting it, sealed.
    pub status_note_sealed: Option<String>,
    pub requested_by_subject: String,
    pub requested_by_staff_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub outcome: Option<crate::domain::consultation::Outcome>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The closing summary, sealed (see `crypto`).
    pub summary_sealed: Option<String>,
    /// Advice for the group at closing, sealed.
    pub advice_sealed: Option<String>,
    pub parents_involved: Option<bool>,
    /// For a referral: the kind of care referred to.
    pub referral_kind: Option<String>,
    /// Whether `referral` consent was in force when the request was closed.
    pub referral_consent_in_force: Option<bool>,
    /// Figures: the half-year and the child's age band when the request was made.
    pub half_year: Option<String>,
    pub age_band: Option<String>,
    /// Figures: the request waited for consent (the consent came after the concern).
    pub consent_delayed: Option<bool>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitRow {
    pub id: Uuid,
    pub consultation_id: Uuid,
    pub child_id: Uuid,
    pub specialist_id: Uuid,
    pub date: NaiveDate,
    pub duration_minutes: i64,
    pub kind: crate::domain::consultation::VisitKind,
    pub participants: TextSet<crate::domain::consultation::Participant>,
    /// The core competences the coaching worked on.
    pub competences: TextSet<crate::domain::consultation::Competence>,
    pub status: crate::domain::consultation::VisitStatus,
    /// Private notes of the specialist, sealed.
    pub notes_sealed: Option<String>,
    /// Advice for the group, sealed.
    pub advice_sealed: Option<String>,
    /// The specialist shares the notes with the child's mentors.
    pub notes_shared: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Figures: region and organisation of the request, half-year of the visit, age band.
    pub region_code: Option<String>,
    pub organization_id: Option<Uuid>,
    pub half_year: Option<String>,
    pub age_band: Option<String>,
}

/// One event of a child's timeline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineRow {
    pub happened_at: DateTime<Utc>,
    pub kind: String,
    pub id: Uuid,
    pub consultation_id: Option<Uuid>,
    /// A short, non-free-text description (`purpose:decision:status`, `kind:status`, …).
    pub detail: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DestructionRequestRow {
    pub id: Uuid,
    pub child_id: Uuid,
    pub organization_id: Uuid,
    pub requested_by: String,
    pub reason: Option<String>,
    pub recorded_by_subject: String,
    pub requested_at: DateTime<Utc>,
    pub carried_out_at: Option<DateTime<Utc>>,
}

/// What a retention run removed, per kind of record.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PurgeReport {
    pub concerns: u64,
    pub consents: u64,
    pub consultations: u64,
    pub visits: u64,
    pub meldcode_reports: u64,
    pub parent_links: u64,
    pub webhook_records: u64,
    pub idempotency_keys: u64,
    pub audit_entries: u64,
    /// Children destroyed early on request.
    pub children_destroyed: u64,
    /// Records of children who left, past their period.
    pub children_left: u64,
}

/// A sealed value somewhere in the database (for re-encryption).
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub table: &'static str,
    pub column: &'static str,
    pub id: Uuid,
    pub value: String,
}

/// A specialist as routing needs them.
#[derive(Debug, Clone)]
pub struct CandidateRow {
    pub staff_id: Uuid,
    pub organization_id: Uuid,
    pub active: bool,
    pub capacity: i64,
    pub open_count: i64,
    pub last_offered_at: Option<DateTime<Utc>>,
    pub region_codes: Vec<String>,
    pub expertise: Vec<ConcernDomain>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoutingDecisionRow {
    pub id: Uuid,
    pub consultation_id: Uuid,
    pub decided_at: DateTime<Utc>,
    pub trigger: String,
    pub chosen_staff_id: Option<Uuid>,
    pub reason: String,
    /// JSON: every candidate with its verdict.
    pub considered: String,
}

/// A message between the mentor and the specialist about a request; the text is sealed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub consultation_id: Uuid,
    pub child_id: Uuid,
    pub author_role: String,
    pub author_subject: String,
    pub author_staff_id: Option<Uuid>,
    pub body_sealed: String,
    pub created_at: DateTime<Utc>,
}

/// A webhook message to put in the outbox with a change, for these organisations' endpoints
/// (decided by the workflow; the store only writes it).
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub event_type: String,
    pub data: serde_json::Value,
    pub organizations: Vec<Uuid>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeclineRow {
    pub id: Uuid,
    pub consultation_id: Uuid,
    pub staff_id: Uuid,
    pub kind: String,
    /// Sealed (free text of the specialist).
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Routing to do inside a change: offer to the first of `ranked` whose slot can be claimed; the
/// request's status then is `outcomes.offered`, or `outcomes.unassigned` when nobody could take it.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    pub ranking: crate::domain::routing::Ranking,
    pub outcomes: crate::domain::consultation::RoutingOutcomes,
    pub answer_due: DateTime<Utc>,
    pub trigger: String,
}

/// A request's first held visit: it moves from the status it was read in (`row.status`) to
/// `status` (decided by the state machine).
#[derive(Debug, Clone)]
pub struct Start {
    pub row: ConsultationRow,
    pub status: crate::domain::consultation::ConsultationStatus,
}

/// What an `Idempotency-Key` was used for: the request it came with (as a hash) and, once done,
/// the record it made. The workflow answers a repeat from that record; each door renders it.
#[derive(Debug, Clone)]
pub struct IdempotentResponse {
    pub request_hash: String,
    /// The record made, once the first request committed (`None` while it is being handled).
    pub resource_id: Option<Uuid>,
}

/// The key a creating request was sent with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
}

/// A new consultation request and everything that commits with it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The request in status `requested`.
    pub row: ConsultationRow,
    /// The consent records the permission rests on; each must still be active at commit.
    pub consent_ids: Vec<Uuid>,
    pub route: RouteRequest,
    pub audit: AuditRecord,
    pub idempotency: Option<IdempotencyKey>,
}

/// A change of a consultation: the new row (routing fields are filled in by `route`), the
/// slot to release and to claim, and the records that commit with it.
#[derive(Debug, Clone)]
pub struct ConsultationChange {
    pub after: ConsultationRow,
    pub expected_version: i64,
    /// The specialist whose slot frees up.
    pub release: Option<Uuid>,
    /// Claim this specialist's slot (manual assignment); refused when full.
    pub claim: Option<Uuid>,
    pub route: Option<RouteRequest>,
    pub decline: Option<DeclineRow>,
    /// The consent records the request rests on from now (on resume).
    pub relink_consents: Option<Vec<Uuid>>,
    pub audit: Vec<AuditRecord>,
}

/// Filter for listing consultations; every set field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct ConsultationFilter {
    pub organization_id: Option<Uuid>,
    /// Also (OR) the requests assigned to a specialist of this organisation: what a youth-care
    /// provider's system holds beside its own organisation's children.
    pub or_held_by_organization: Option<Uuid>,
    pub child_id: Option<Uuid>,
    pub location_ids: Option<Vec<Uuid>>,
    pub staff_id: Option<Uuid>,
    pub region_codes: Option<Vec<String>>,
    pub status: Option<String>,
    pub after: Option<Uuid>,
    pub limit: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookEndpointRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    /// JSON array of event types (`*` for all, `consultation.*` for a family).
    pub events: String,
    pub signing: String,
    pub secret: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// After a rotation: the secret (or key) before it, which still signs beside the new one
    /// until `previous_valid_until`, so receivers can switch without losing a message.
    pub previous_secret: Option<String>,
    pub previous_valid_until: Option<DateTime<Utc>>,
    /// A FHIR Subscription (criteria and reason, JSON): it notifies with an empty body.
    pub subscription: Option<String>,
}

/// A partner system registered for SMART Backend Services (see `service::smart`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SmartClientRow {
    /// Also its OAuth `client_id`.
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    /// Its public keys as a JWK Set (JSON), or `None` when they are fetched from `jwks_uri`.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// The scopes it may be granted, space-separated, canonical.
    pub scopes: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookMessageRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub event_type: String,
    pub data: String,
    pub created_at: DateTime<Utc>,
}

/// A delivery claimed by a relay, with what it needs to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryJob {
    pub delivery_id: Uuid,
    pub attempts: i64,
    pub message_id: Uuid,
    pub event_type: String,
    pub data: String,
    pub message_created_at: DateTime<Utc>,
    pub endpoint_id: Uuid,
    pub url: String,
    pub signing: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_valid_until: Option<DateTime<Utc>>,
    /// Set for a FHIR Subscription: the notification has an empty body.
    pub subscription: Option<String>,
}

impl DeliveryJob {
    /// The secrets that sign a message sent at `at`: the current one, and the previous one while
    /// a rotation's overlap lasts.
    pub fn signing_secrets(&self, at: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_valid_until) {
            if at < until {
                secrets.push(previous);
            }
        }
        secrets
    }
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered,
    Retry {
        at: DateTime<Utc>,
    },
    Failed,
    /// The receiver answered 410 Gone: the endpoint is disabled.
    EndpointGone,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub message_id: Uuid,
    pub endpoint_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct DeliveryResult {
    pub job: DeliveryJob,
    pub outcome: DeliveryOutcome,
    pub attempt: AttemptRow,
}

/// Filter for reading the access log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub child_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only entries with this flag (e.g. `meldcode`).
    pub flag: Option<String>,
    /// Entries with a sequence number above this (the page cursor).
    pub after_seq: Option<i64>,
    pub limit: i64,
}

// ---------------------------------------------------------------- traits

/// Regions, organisations, locations, groups and staff: reference data kept by admins.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Upserts the memberships and region names in one transaction; returns how many rows.
    async fn import_regions(&self, rows: &[RegionMembership]) -> StoreResult<u64>;
    async fn list_regions(&self) -> StoreResult<Vec<RegionRow>>;
    async fn get_region(&self, code: &str) -> StoreResult<Option<RegionRow>>;
    /// The municipalities of a region on a date.
    async fn region_municipalities(
        &self,
        code: &str,
        on: NaiveDate,
    ) -> StoreResult<Vec<MunicipalityRow>>;
    /// The region of a municipality on a date (the membership with the latest `valid_from <= on`).
    async fn region_of(
        &self,
        municipality_code: &str,
        on: NaiveDate,
    ) -> StoreResult<Option<String>>;

    async fn create_organization(&self, row: &OrganizationRow) -> StoreResult<()>;
    async fn get_organization(&self, id: Uuid) -> StoreResult<Option<OrganizationRow>>;
    async fn list_organizations(&self, page: Page) -> StoreResult<Vec<OrganizationRow>>;

    async fn create_location(&self, row: &LocationRow) -> StoreResult<()>;
    async fn get_location(&self, id: Uuid) -> StoreResult<Option<LocationRow>>;
    async fn list_locations(
        &self,
        organization_id: Uuid,
        page: Page,
    ) -> StoreResult<Vec<LocationRow>>;

    async fn create_group(&self, row: &GroupRow) -> StoreResult<()>;
    async fn get_group(&self, id: Uuid) -> StoreResult<Option<GroupRow>>;
    async fn list_groups(&self, location_id: Uuid) -> StoreResult<Vec<GroupRow>>;

    async fn create_staff(&self, record: &StaffRecord) -> StoreResult<()>;
    async fn get_staff(&self, id: Uuid) -> StoreResult<Option<StaffRecord>>;
    async fn list_staff(
        &self,
        organization_id: Uuid,
        filter: &StaffFilter,
        page: Page,
    ) -> StoreResult<Vec<StaffRecord>>;
    /// Replaces a staff record's name, capacity and links ([`StoreError::CheckViolation`] when
    /// the capacity would fall below the requests the specialist holds).
    async fn update_staff(&self, record: &StaffRecord) -> StoreResult<()>;
    /// Marks a staff member as left: no token of theirs is taken from now, no request offered.
    async fn deactivate_staff(&self, id: Uuid) -> StoreResult<()>;
    /// Renames an organisation, or marks it inactive.
    async fn update_organization(&self, row: &OrganizationRow) -> StoreResult<()>;
    async fn update_location(&self, row: &LocationRow) -> StoreResult<()>;
    async fn update_group(&self, row: &GroupRow) -> StoreResult<()>;
    /// The youth-care organisations with active specialists or coordinators serving the region
    /// (what a region-wide consent given now covers).
    async fn organizations_serving_region(&self, region_code: &str) -> StoreResult<Vec<Uuid>>;
    /// The active staff record a token's `org` + `sub` refers to.
    async fn staff_by_subject(
        &self,
        organization_id: Uuid,
        subject: &str,
    ) -> StoreResult<Option<StaffRecord>>;
    /// The counter every change to staff, their links, locations, organisations and SMART
    /// clients moves (by trigger, in the change's transaction): what a cached principal is
    /// checked against on each request.
    async fn scope_version(&self) -> StoreResult<i64>;
}

/// Children, their guardians and their mentor history.
#[async_trait]
pub trait ChildStore: Send + Sync {
    async fn create_child(&self, row: &ChildRow, audit: &AuditRecord) -> StoreResult<()>;
    async fn get_child(&self, id: Uuid) -> StoreResult<Option<ChildRow>>;
    /// The organisation's children at these locations (all of them when `location_ids` is empty),
    /// only the one with this own number when `external_ref` is given.
    async fn list_children(
        &self,
        organization_id: Uuid,
        location_ids: &[Uuid],
        external_ref: Option<&str>,
        page: Page,
    ) -> StoreResult<Vec<ChildRow>>;
    /// Ends the current mentor assignment and starts `row`; bumps the child's version.
    /// With `if_version`, refuses with [`StoreError::Stale`] when the child has changed.
    async fn assign_mentor(
        &self,
        row: &MentorAssignmentRow,
        if_version: Option<i64>,
        audit: &AuditRecord,
    ) -> StoreResult<i64>;
    async fn mentor_history(&self, child_id: Uuid) -> StoreResult<Vec<MentorAssignmentRow>>;
    async fn add_guardian(&self, row: &GuardianRow, audit: &AuditRecord) -> StoreResult<()>;
    /// Replaces a guardian's fields (authority, source, contact).
    async fn update_guardian(&self, row: &GuardianRow, audit: &AuditRecord) -> StoreResult<()>;
    /// Replaces the child's own fields if it is still at `expected_version` ([`StoreError::Stale`]
    /// otherwise); with `end_mentor`, the current mentor assignment ends (a move to a location the
    /// mentor does not work at). Returns the new version.
    async fn update_child(
        &self,
        row: &ChildRow,
        expected_version: i64,
        end_mentor: bool,
        audit: &AuditRecord,
    ) -> StoreResult<i64>;
    /// Records the day the child left and revokes its parent links; [`StoreError::NotApplicable`]
    /// when it left already.
    async fn child_left(
        &self,
        child_id: Uuid,
        left_on: NaiveDate,
        at: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    async fn list_guardians(&self, child_id: Uuid) -> StoreResult<Vec<GuardianRow>>;
}

/// Consent records, parent links and Meldcode reports.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Records a decision, marks `supersede` (active records it replaces) superseded, and logs.
    async fn create_consent(
        &self,
        record: &ConsentRecord,
        supersede: &[Uuid],
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// The consent records of `child_id` for `purpose` and the child's guardians, in one
    /// statement: what every consent check reads.
    async fn consent_basis(&self, child_id: Uuid, purpose: &str) -> StoreResult<ConsentBasis>;
    /// A child's consent records, every version; with `active_purpose`, only the active ones
    /// for that purpose (what the consent check needs).
    async fn consents_of_child(
        &self,
        child_id: Uuid,
        active_purpose: Option<&str>,
    ) -> StoreResult<Vec<ConsentRecord>>;
    async fn get_consent(&self, id: Uuid) -> StoreResult<Option<ConsentRecord>>;
    /// Withdraws an active record; [`StoreError::NotApplicable`] when it is not active (any more).
    async fn withdraw_consent(
        &self,
        id: Uuid,
        withdrawal: &Withdrawal,
        audit: &AuditRecord,
    ) -> StoreResult<()>;

    /// Stores a link; with `replace`, the holder's open invitations for the same purpose are
    /// revoked in the same transaction (a new invitation replaces the open one). `mail` is the
    /// invitation's e-mail, queued in the same transaction.
    async fn create_parent_link(
        &self,
        row: &ParentLinkRow,
        replace: bool,
        audit: &AuditRecord,
        mail: Option<&MailRow>,
    ) -> StoreResult<()>;
    /// Claims up to `limit` mails due at `now` until `lease_until` (another sender skips them).
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<MailRow>>;
    /// A claimed mail was taken by the SMTP server.
    async fn mail_sent(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// A claimed mail could not be sent: try again at `retry_at` (the error has no mail content).
    async fn mail_failed(&self, id: Uuid, retry_at: DateTime<Utc>, error: &str) -> StoreResult<()>;
    /// Every link of a child, newest first.
    async fn links_of_child(&self, child_id: Uuid) -> StoreResult<Vec<ParentLinkRow>>;
    async fn get_parent_link(&self, id: Uuid) -> StoreResult<Option<ParentLinkRow>>;
    /// Revokes a link; [`StoreError::NotApplicable`] when it was revoked already.
    async fn revoke_parent_link(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    async fn parent_link_by_hash(&self, token_hash: &str) -> StoreResult<Option<ParentLinkRow>>;
    /// Uses an invitation once: records the parent's decision with it, or
    /// [`StoreError::NotApplicable`] when the link was used already.
    async fn decide_invitation(
        &self,
        link_id: Uuid,
        record: &ConsentRecord,
        supersede: &[Uuid],
        audit: &AuditRecord,
    ) -> StoreResult<()>;

    async fn create_veilig_thuis_report(
        &self,
        row: &VeiligThuisReportRow,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    async fn veilig_thuis_reports(&self, child_id: Uuid) -> StoreResult<Vec<VeiligThuisReportRow>>;

    /// The access log of one child, with names, for the parent's view (NEN 7513 client view).
    async fn child_access_log(
        &self,
        child_id: Uuid,
        after_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<ChildAccessRow>>;
}

/// Concerns, consultation requests, routing and idempotency.
#[async_trait]
pub trait ConsultationStore: Send + Sync {
    async fn create_concern(&self, row: &ConcernRow, audit: &AuditRecord) -> StoreResult<()>;
    async fn get_concern(&self, id: Uuid) -> StoreResult<Option<ConcernRow>>;
    async fn concerns_of_child(&self, child_id: Uuid) -> StoreResult<Vec<ConcernRow>>;
    /// Active specialists serving `region_code` (with their load), for routing.
    async fn routing_candidates(&self, region_code: &str) -> StoreResult<Vec<CandidateRow>>;
    /// Inserts the request and routes it in one transaction with its consent links, audit entry,
    /// webhook messages and idempotency key. [`StoreError::ConsentChanged`] when a consent it rests
    /// on is no longer active; [`StoreError::Duplicate`] when the idempotency key exists.
    async fn submit_consultation(&self, submission: &Submission) -> StoreResult<ConsultationRow>;
    async fn get_consultation(&self, id: Uuid) -> StoreResult<Option<ConsultationRow>>;
    async fn list_consultations(
        &self,
        filter: &ConsultationFilter,
    ) -> StoreResult<Vec<ConsultationRow>>;
    /// Applies a change if the request is still at `expected_version` ([`StoreError::Stale`]
    /// otherwise); [`StoreError::NoCapacity`] when a slot to claim is taken.
    async fn change_consultation(
        &self,
        change: &ConsultationChange,
    ) -> StoreResult<ConsultationRow>;
    async fn declines(&self, consultation_id: Uuid) -> StoreResult<Vec<DeclineRow>>;
    /// Adds a message to a request's thread with its access-log entry and webhook message.
    async fn add_message(
        &self,
        row: &MessageRow,
        event: &OutboxEvent,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// A request's thread, oldest first.
    async fn messages_of(&self, consultation_id: Uuid) -> StoreResult<Vec<MessageRow>>;
    async fn routing_decisions(
        &self,
        consultation_id: Uuid,
    ) -> StoreResult<Vec<RoutingDecisionRow>>;
    /// Offers whose answer deadline passed.
    async fn overdue_offers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ConsultationRow>>;
    async fn idempotent_response(
        &self,
        scope: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotentResponse>>;
    /// Adds a visit; `start` also moves an accepted request to `in_progress` (first held visit).
    async fn create_visit(
        &self,
        row: &VisitRow,
        start: Option<&Start>,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    async fn get_visit(&self, id: Uuid) -> StoreResult<Option<VisitRow>>;
    async fn visits_of(&self, consultation_id: Uuid) -> StoreResult<Vec<VisitRow>>;
    /// Replaces a visit if it is still at `expected_version` ([`StoreError::Stale`] otherwise).
    async fn update_visit(
        &self,
        row: &VisitRow,
        expected_version: i64,
        start: Option<&Start>,
        audit: &AuditRecord,
    ) -> StoreResult<i64>;
    /// A child's timeline, newest first, before the cursor `(at, id)`; with `consultations`,
    /// only the events of those requests.
    async fn timeline(
        &self,
        child_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        consultations: Option<&[Uuid]>,
        limit: i64,
    ) -> StoreResult<Vec<TimelineRow>>;
}

/// Which records a policy figure covers: the caller's regions or organisation, and whole
/// half-years.
#[derive(Debug, Clone, Default)]
pub struct FigureScope {
    pub region_codes: Option<Vec<String>>,
    /// A childcare organisation: its children's records.
    pub organization_id: Option<Uuid>,
    /// A youth-care provider: the requests its specialists took, their visits, consents toward it.
    pub provider_id: Option<Uuid>,
    pub half_years: Vec<String>,
}

pub use crate::domain::figures::CountFigure;

/// What a refresh of the figures' summaries did.
#[derive(Debug, Clone, Default)]
pub struct FigureRefresh {
    /// Every half-year was recomputed.
    pub full: bool,
    /// The half-years whose summaries changed (when not `full`).
    pub half_years: Vec<String>,
    /// Of those, the ones recomputed from their records (a bulk insert or delete noted only
    /// its half-years); the others took in the changes as deltas.
    pub recomputed: Vec<String>,
    /// Changed records taken in as deltas (a change counts twice: before and after).
    pub changes: u64,
    /// Summary rows written.
    pub rows: u64,
    /// Another refresh, from a newer snapshot, had written already.
    pub skipped: bool,
}

impl FigureRefresh {
    /// Whether nothing had changed since the last refresh.
    pub fn idle(&self) -> bool {
        !self.full && !self.skipped && self.half_years.is_empty()
    }
}

impl std::fmt::Display for FigureRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.skipped {
            write!(
                f,
                "nothing: another refresh wrote newer summaries meanwhile"
            )
        } else if self.idle() {
            write!(f, "nothing changed")
        } else if self.full {
            write!(f, "all half-years ({} summary rows)", self.rows)
        } else {
            write!(
                f,
                "{} ({} changes added, {} recomputed; {} summary rows written)",
                self.half_years.join(", "),
                self.changes,
                if self.recomputed.is_empty() {
                    "none".to_string()
                } else {
                    self.recomputed.join(", ")
                },
                self.rows
            )
        }
    }
}

/// One count of a figure: region × half-year × age band × category.
#[derive(Debug, Clone)]
pub struct CountRow {
    pub figure: CountFigure,
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    pub category: String,
    pub n: i64,
}

/// Response times of one cell, as summarised at the last refresh.
#[derive(Debug, Clone)]
pub struct TimingRow {
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    pub stats: crate::domain::figures::TimingStats,
}

/// A value for bulk loading (the national-scale generator).
#[derive(Debug, Clone)]
pub enum BulkValue {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    Time(Option<DateTime<Utc>>),
}

/// SMART Backend Services clients and the replay store of their assertions.
#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn create_client(&self, row: &SmartClientRow) -> StoreResult<()>;
    async fn get_client(&self, id: Uuid) -> StoreResult<Option<SmartClientRow>>;
    /// Clients by id, of one organisation or all.
    async fn list_clients(
        &self,
        organization_id: Option<Uuid>,
        page: Page,
    ) -> StoreResult<Vec<SmartClientRow>>;
    async fn update_client(&self, row: &SmartClientRow) -> StoreResult<()>;
    /// Takes an assertion's `jti` for the client until `expires_at`:
    /// [`StoreError::AlreadyExists`] when it was taken before (a replay).
    async fn take_assertion(
        &self,
        client_id: Uuid,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Forgets assertions that expired before `before` (no longer acceptable, so no longer a
    /// replay risk); how many.
    async fn forget_assertions(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// Policy figures (aggregates only: no row about a child leaves this trait). Figures are read
/// from summaries that [`FigureStore::refresh_figures`] keeps up to date, half-year by half-year.
#[async_trait]
pub trait FigureStore: Send + Sync {
    /// Brings the summaries up to date: recomputes the half-years whose records changed since
    /// the last refresh, or all of them when `full` (and the first time).
    async fn refresh_figures(&self, now: DateTime<Utc>, full: bool) -> StoreResult<FigureRefresh>;
    /// When the summaries were last rebuilt.
    async fn figures_refreshed_at(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// The counts of the given figures in the scope, summed over the scope's organisations.
    async fn figure_counts(
        &self,
        figures: &[CountFigure],
        scope: &FigureScope,
    ) -> StoreResult<Vec<CountRow>>;
    async fn figure_timings(&self, scope: &FigureScope) -> StoreResult<Vec<TimingRow>>;
    /// Inserts rows as they are (generator only: no rules, no access log).
    async fn bulk_insert(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<BulkValue>],
    ) -> StoreResult<()>;
}

/// Retention: what is past its period goes; early destruction on request.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    async fn create_destruction_request(
        &self,
        row: &DestructionRequestRow,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Removes what is past the cutoffs and carries out pending destruction requests.
    async fn purge(
        &self,
        cutoffs: &crate::domain::retention::Cutoffs,
        now: DateTime<Utc>,
    ) -> StoreResult<PurgeReport>;
    /// Every sealed value, for re-encryption under a new key.
    async fn sealed_values(&self) -> StoreResult<Vec<SealedValue>>;
    /// Seals the free text that rows written before sealing was introduced still hold in the
    /// clear (`plaintext_legacy`), with `seal(record id, text)`, and clears the old page images
    /// where the backend keeps them. Returns how many rows were sealed.
    async fn seal_legacy_text(
        &self,
        seal: &(dyn for<'s> Fn(Uuid, &'s str) -> String + Send + Sync),
    ) -> StoreResult<u64>;
    async fn reseal(&self, value: &SealedValue, sealed: &str) -> StoreResult<()>;
}

/// Webhook endpoints, the outbox and its deliveries.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_endpoint(&self, row: &WebhookEndpointRow) -> StoreResult<()>;
    async fn get_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>>;
    async fn list_endpoints(&self, organization_id: Uuid) -> StoreResult<Vec<WebhookEndpointRow>>;
    /// Writes an endpoint's url, events, status and secrets. When it stops being active, its
    /// pending deliveries fail (they can be sent again with a redelivery).
    async fn update_endpoint(&self, row: &WebhookEndpointRow) -> StoreResult<()>;
    /// Removes an endpoint with its deliveries and their attempts; the messages stay.
    async fn delete_endpoint(&self, id: Uuid) -> StoreResult<()>;
    async fn get_message(&self, id: Uuid) -> StoreResult<Option<WebhookMessageRow>>;
    /// Leases up to `limit` due deliveries to `owner` until `lease_until` (expired leases of
    /// crashed relays included), at most `per_endpoint` in flight to one endpoint counting those
    /// of every relay. Several relays never lease the same delivery at once.
    ///
    /// `own` is what `owner` itself holds per endpoint (claimed and not yet finished): its own
    /// leases in the table may be deliveries already answered whose outcome is still being
    /// recorded, so they count from what the relay knows, and other relays' from the table.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_endpoint: i64,
        own: &[(Uuid, i64)],
    ) -> StoreResult<Vec<DeliveryJob>>;
    /// Extends the leases `owner` holds on `ids` (a live relay never loses them).
    async fn renew_leases(
        &self,
        owner: &str,
        ids: &[Uuid],
        until: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Hands leased deliveries not yet attempted back to the outbox (a relay stopping).
    async fn release_leases(&self, owner: &str, ids: &[Uuid]) -> StoreResult<()>;
    /// Records the attempts and their outcomes in one transaction (as they come in: the relay
    /// gathers what finished meanwhile into one commit).
    async fn finish_deliveries(&self, owner: &str, results: &[DeliveryResult]) -> StoreResult<()>;
    async fn list_attempts(
        &self,
        endpoint_id: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<AttemptRow>>;
    /// Deliveries not yet delivered or failed (the relay's backlog).
    async fn count_pending_deliveries(&self) -> StoreResult<i64>;
    /// Queues the message again for the organisation's active endpoints; returns how many.
    async fn redeliver(&self, message_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// The NEN 7513 access log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends entries for reads (writes append theirs in their own transaction).
    async fn record(&self, records: &[AuditRecord]) -> StoreResult<()>;
    /// Chains every committed pending entry into the log now (PostgreSQL appends entries
    /// unchained, with their change, and a chainer chains them within moments; SQLite chains
    /// in the appending transaction and has nothing pending). Readers of the log call it
    /// first, so an answer holds every entry committed before it. Returns how many it chained.
    async fn chain_audit(&self) -> StoreResult<u64>;
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<ChainedEntry>>;
    /// Up to `limit` entries after `after_seq`, in chain order (for verification).
    async fn audit_chain(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<ChainedEntry>>;
    /// The head recorded at the last append.
    async fn audit_head(&self) -> StoreResult<ChainCursor>;
    /// Where the chain starts: the last entry removed by retention (seq 0 when none was).
    async fn audit_anchor(&self) -> StoreResult<ChainCursor>;
    /// Keeps a signed checkpoint (one per position and anchor; a second replica's for the same
    /// is ignored).
    async fn record_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()>;
    /// Every checkpoint kept, oldest first.
    async fn audit_checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;
    /// The newest checkpoint kept.
    async fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>>;
}

/// Operating the database itself.
#[async_trait]
pub trait Maintenance: Send + Sync {
    async fn migrate(&self) -> StoreResult<()>;
    /// True when the database answers and every migration this binary knows is applied
    /// (newer ones, applied before a rolling upgrade, do not stop an older replica).
    async fn ready(&self) -> bool;
    /// A per-installation setting (e.g. the generated development signing secret).
    async fn setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Stores a setting unless one exists; returns the value now in force.
    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String>;
    /// Which backend this is (`sqlite` or `postgres`).
    fn backend(&self) -> &'static str;
    /// The web pages' sessions, on this database.
    fn web_sessions(&self) -> sessions::WebSessions;
    /// What an operator watches: the pools, the outbox's backlog, the last checkpoint.
    async fn ops_stats(&self) -> StoreResult<OpsStats>;
    /// A consistent copy of the whole database at `path`, made while writes go on (SQLite:
    /// `VACUUM INTO`). PostgreSQL answers `NotApplicable`: `pg_dump` and WAL archiving do it.
    async fn backup_to(&self, path: &std::path::Path) -> StoreResult<()>;
    async fn close(&self);
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStat {
    pub name: &'static str,
    pub max: u32,
    pub open: u32,
    pub idle: u32,
}

/// The operational figures `/metrics` shows (none of them about a child).
#[derive(Debug, Clone, Default)]
pub struct OpsStats {
    pub pools: Vec<PoolStat>,
    /// Deliveries waiting or in flight.
    pub outbox_backlog: i64,
    /// When the oldest message with an undelivered delivery was made.
    pub outbox_oldest: Option<DateTime<Utc>>,
    /// When the access log's newest checkpoint was signed.
    pub last_checkpoint: Option<DateTime<Utc>>,
    /// Access-log entries committed but not yet chained, and when the oldest was written
    /// (PostgreSQL; the chainer keeps this near zero, a growing age means it is stuck).
    pub audit_pending: i64,
    pub audit_pending_oldest: Option<DateTime<Utc>>,
}

/// Everything the application needs from a database.
pub trait Store:
    RegistryStore
    + ChildStore
    + ConsentStore
    + ConsultationStore
    + WebhookStore
    + ClientStore
    + RetentionStore
    + FigureStore
    + AuditStore
    + Maintenance
{
}
impl<T> Store for T where
    T: RegistryStore
        + ChildStore
        + ConsentStore
        + ConsultationStore
        + WebhookStore
        + ClientStore
        + RetentionStore
        + FigureStore
        + AuditStore
        + Maintenance
{
}

pub type DynStore = Arc<dyn Store>;

/// Opens the backend the URL's scheme names (`sqlite:` or `postgres:`/`postgresql:`).
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<DynStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::connect(url, max_connections).await?,
        ))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            postgres::PgStore::connect(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Database(sqlx::Error::Configuration(
            "the database URL must start with sqlite: or postgres:".into(),
        )))
    }
}

/// Turns a database refusal into a [`StoreError`]: unique and foreign-key violations are
/// conflicts the API can explain; anything else stays a database error.
pub(crate) fn classify(err: sqlx::Error) -> StoreError {
    if let Some(db) = err.as_database_error() {
        if db.is_unique_violation() {
            return StoreError::AlreadyExists;
        }
        if db.is_foreign_key_violation() {
            return StoreError::MissingReference;
        }
        if db.is_check_violation() {
            return StoreError::CheckViolation;
        }
    }
    StoreError::Database(err)
}
