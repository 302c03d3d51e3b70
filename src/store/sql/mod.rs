//! The statements both backends share, written once. `impl_store!` expands to the trait
//! implementations for one backend type; it relies on that type providing `reader()`,
//! `writer()`, `begin_on(pool)`, `begin_snapshot_pair()`, `migrator()`, `close_pools()`, an
//! `audit: AuditQueue` field, the constants `SUMMARIES_WRITTEN_IN_SNAPSHOT` and `FIGURE_PASS_SETTINGS`,
//! the constant `BACKEND`, the constants `LOCK_AUDIT_HEAD` and `LOCK_AUDIT_HEAD_OR_SKIP` (the
//! statements that read the chain head and, in PostgreSQL, lock it, or skip it when locked)
//! and `CHAIN_AFTER_COMMIT` (whether entries are appended unchained and chained after commit).
//! Placeholders are `$n`, which both accept.
//!
//! Access-log entries of reads go through a group commit: one writer task per store takes
//! whatever entries are waiting, appends them in one transaction, and only then answers the
//! requests that wait for them. A read is answered after its entry is durable, yet concurrent
//! reads share one commit.

#[macro_use]
mod audit;
#[macro_use]
mod children;
#[macro_use]
mod clients;
#[macro_use]
mod consent;
#[macro_use]
mod consultations;
#[macro_use]
mod figures;
pub(crate) use figures::{FigureChange, FIGURE_DELTAS_AT_MOST};
#[macro_use]
mod maintenance;
#[macro_use]
mod registry;
#[macro_use]
mod retention;
#[macro_use]
mod webhooks;

/// Column list of `audit_pending` in insert order: an entry before the chainer chains it.
pub(crate) const PENDING_COLUMNS: &str =
    "id, occurred_at, actor_issuer, actor_subject, actor_role, \
     actor_organization_id, actor_staff_id, request_id, action, resource_type, resource_id, \
     child_id, purpose, outcome, flag";

/// A pending entry read as an [`AuditRow`], its place in the queue standing in for `seq`.
pub(crate) const PENDING_AS_ROW: &str = "pending_seq AS seq, id, occurred_at, actor_issuer, actor_subject, \
     actor_role, actor_organization_id, actor_staff_id, request_id, action, resource_type, resource_id, \
     child_id, purpose, outcome, flag, '' AS prev_hash, '' AS hash";

/// Pending access-log entries chained per transaction.
pub(crate) const CHAIN_BATCH: i64 = 5_000;

/// How often a store's chainer looks for pending entries.
pub(crate) const CHAIN_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Column list of `audit_log` in insert order.
pub(crate) const AUDIT_COLUMNS: &str =
    "seq, id, occurred_at, actor_issuer, actor_subject, actor_role, \
     actor_organization_id, actor_staff_id, request_id, action, resource_type, resource_id, \
     child_id, purpose, outcome, flag, prev_hash, hash";

pub(crate) const CONSENT_COLUMNS: &str = "id, child_id, purpose, recipient_organization_id, \
     recipient_region_code, decision, method, evidence_ref, noted_by_staff_id, information_version, \
     valid_from, valid_until, no_signs_of_disagreement, child_not_competent, not_competent_judged_by, \
     not_competent_judged_on, not_competent_reason_sealed, status, superseded_by, \
     withdrawn_at, withdrawn_by_guardian_id, withdrawn_by_child, withdrawal_reason, \
     recorded_by_subject, recorded_by_role, recorded_by_organization_id, parent_link_id, recorded_at, \
     region_code, organization_id, half_year, age_band";

pub(crate) const PARENT_LINK_COLUMNS: &str =
    "id, token_hash, kind, child_id, holder, guardian_id, purpose, \
     recipient_organization_id, recipient_region_code, consent_valid_until, information_version, \
     expires_at, used_at, created_by_subject, created_by_organization_id, created_at, revoked_at";

/// The consent rules' inputs for one child (`$1`) and purpose (`$2`) in one statement, for
/// `consent_basis`: the records (`part` 'c', in the order recorded), their givers ('g': `id`
/// the record, `ref_id` the guardian, `flag` whether the child gave it), the organisations a
/// region-wide record covers ('o': `ref_id`) and the child's guardians ('p': `id` the guardian,
/// `flag` parental authority). The other parts leave the record's columns empty.
pub(crate) static CONSENT_BASIS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns: Vec<&str> = CONSENT_COLUMNS.split(',').map(str::trim).collect();
    let record = columns
        .iter()
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let blank = |id: &str| {
        std::iter::once(id.to_string())
            .chain(columns[1..].iter().map(|_| "NULL".to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // output columns: 1 part, 2 id, …, then ref_id and flag
    let recorded_at = 2 + columns
        .iter()
        .position(|c| *c == "recorded_at")
        .expect("recorded_at");
    let of_child = "WHERE c.child_id = $1 AND c.purpose = $2";
    format!(
        "SELECT 'c' AS part, {record}, CAST(NULL AS UUID) AS ref_id, CAST(NULL AS BOOLEAN) AS flag \
         FROM consents c {of_child} \
         UNION ALL SELECT 'g', {giver}, g.guardian_id, g.is_child FROM consent_givers g \
         JOIN consents c ON c.id = g.consent_id {of_child} \
         UNION ALL SELECT 'o', {org}, o.organization_id, NULL FROM consent_region_organizations o \
         JOIN consents c ON c.id = o.consent_id {of_child} \
         UNION ALL SELECT 'p', {guardian}, NULL, gu.has_parental_authority FROM guardians gu \
         WHERE gu.child_id = $1 \
         ORDER BY 1, {recorded_at}, 2",
        giver = blank("g.consent_id"),
        org = blank("o.consent_id"),
        guardian = blank("gu.id"),
    )
});

/// Attaches givers and covered organisations to their records, keeping the records' order.
pub(crate) fn with_givers(
    rows: Vec<super::ConsentRow>,
    givers: Vec<super::GiverRow>,
    region_organizations: Vec<(uuid::Uuid, uuid::Uuid)>,
) -> Vec<super::ConsentRecord> {
    let mut by_consent: std::collections::HashMap<uuid::Uuid, Vec<super::GiverRow>> =
        std::collections::HashMap::new();
    for g in givers {
        by_consent.entry(g.consent_id).or_default().push(g);
    }
    let mut orgs: std::collections::HashMap<uuid::Uuid, Vec<uuid::Uuid>> =
        std::collections::HashMap::new();
    for (consent, org) in region_organizations {
        orgs.entry(consent).or_default().push(org);
    }
    rows.into_iter()
        .map(|c| super::ConsentRecord {
            givers: by_consent.remove(&c.id).unwrap_or_default(),
            region_organizations: orgs.remove(&c.id).unwrap_or_default(),
            consent: c,
        })
        .collect()
}

pub(crate) const CONSULTATION_COLUMNS: &str = "id, child_id, organization_id, location_id, concern_id, \
     question, expertise, urgency, region_code, status, held_from, offered_to, offered_at, answer_due, \
     assigned_to, accepted_at, status_reason, status_note_sealed, requested_by_subject, requested_by_staff_id, version, \
     created_at, updated_at, outcome, closed_at, summary_sealed, advice_sealed, parents_involved, \
     referral_kind, referral_consent_in_force, half_year, age_band, consent_delayed";

pub(crate) const VISIT_COLUMNS: &str =
    "id, consultation_id, child_id, specialist_id, date, duration_minutes, \
     kind, participants, competences, status, notes_sealed, advice_sealed, notes_shared, version, \
     created_at, updated_at, region_code, organization_id, half_year, age_band";

pub(crate) const ATTEMPT_COLUMNS: &str = "id, delivery_id, message_id, endpoint_id, attempted_at, \
     status_code, error, duration_ms, next_attempt_at";

pub(crate) const ENDPOINT_COLUMNS: &str =
    "id, organization_id, url, events, signing, secret, status, disabled_reason, created_at, \
     previous_secret, previous_valid_until, subscription";

pub(crate) const CHILD_SELECT: &str = "SELECT c.id, c.organization_id, c.location_id, c.group_id, \
     c.external_ref, c.given_name, c.date_of_birth, c.version, c.created_at, c.updated_at, \
     c.left_on, m.staff_id AS mentor_staff_id \
     FROM children c LEFT JOIN child_mentors m ON m.child_id = c.id AND m.ended_at IS NULL";

/// Free text sealed at rest that rows older than sealing may hold in the clear.
pub(crate) const LEGACY_TEXT: &[(&str, &[&str])] = &[
    ("consultations", &["question"]),
    ("concerns", &["observation"]),
    ("veilig_thuis_reports", &["reason", "consulted", "weighing"]),
    ("consents", &["withdrawal_reason"]),
    ("consultation_declines", &["reason"]),
];

/// Every sealed column (for re-encryption under a new key).
pub(crate) const SEALED_COLUMNS: &[(&str, &str)] = &[
    ("visits", "notes_sealed"),
    ("visits", "advice_sealed"),
    ("consultations", "summary_sealed"),
    ("consultations", "advice_sealed"),
    ("consultations", "question"),
    ("consultations", "status_note_sealed"),
    ("concerns", "observation"),
    ("veilig_thuis_reports", "reason"),
    ("veilig_thuis_reports", "consulted"),
    ("veilig_thuis_reports", "weighing"),
    ("consents", "withdrawal_reason"),
    ("consents", "not_competent_reason_sealed"),
    ("consultation_declines", "reason"),
    ("consultation_messages", "body_sealed"),
];

pub(crate) fn has_legacy_flag(table: &str) -> bool {
    LEGACY_TEXT.iter().any(|(t, _)| *t == table)
}

/// Most entries one group commit appends.
pub(crate) const AUDIT_BATCH: usize = 512;

/// Entries waiting for the audit writer, each with the caller waiting for the commit.
pub(crate) type AuditJob = (
    Vec<crate::audit::AuditRecord>,
    tokio::sync::oneshot::Sender<Result<(), String>>,
);
pub(crate) type AuditQueue = tokio::sync::mpsc::Sender<AuditJob>;

/// A caller waiting for a write transaction, counted in `kindbrug_db_pool_waiting` until it
/// has one (or gave up: dropped with its request), its wait in `kindbrug_db_acquire_seconds`.
pub(crate) struct Waiting {
    pool: &'static str,
    started: std::time::Instant,
    gauge: metrics::Gauge,
}

impl Waiting {
    pub(crate) fn start(pool: &'static str) -> Self {
        let gauge = metrics::gauge!("kindbrug_db_pool_waiting", "pool" => pool);
        gauge.increment(1.0);
        Self {
            pool,
            started: std::time::Instant::now(),
            gauge,
        }
    }

    pub(crate) fn done(self) {
        metrics::histogram!("kindbrug_db_acquire_seconds", "pool" => self.pool)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}

/// A row of `audit_log` as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    seq: i64,
    id: uuid::Uuid,
    occurred_at: chrono::DateTime<chrono::Utc>,
    actor_issuer: String,
    actor_subject: String,
    actor_role: String,
    actor_organization_id: Option<uuid::Uuid>,
    actor_staff_id: Option<uuid::Uuid>,
    request_id: String,
    action: String,
    resource_type: String,
    resource_id: Option<uuid::Uuid>,
    child_id: Option<uuid::Uuid>,
    purpose: String,
    outcome: String,
    flag: Option<String>,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    pub(crate) fn seq(&self) -> i64 {
        self.seq
    }

    /// An entry whose action or outcome is not a known value was written outside the
    /// gateway: it is reported as edited.
    pub(crate) fn into_entry(self) -> Result<crate::audit::ChainedEntry, super::StoreError> {
        let corrupt = || super::StoreError::CorruptAuditEntry(self.seq);
        Ok(crate::audit::ChainedEntry {
            seq: self.seq,
            record: crate::audit::AuditRecord {
                id: self.id,
                occurred_at: self.occurred_at,
                actor: crate::audit::AuditActor {
                    issuer: self.actor_issuer,
                    subject: self.actor_subject,
                    role: self.actor_role,
                    organization_id: self.actor_organization_id,
                    staff_id: self.actor_staff_id,
                    request_id: self.request_id,
                },
                action: self.action.parse().map_err(|_| corrupt())?,
                resource_type: self.resource_type,
                resource_id: self.resource_id,
                child_id: self.child_id,
                purpose: self.purpose,
                outcome: self.outcome.parse().map_err(|_| corrupt())?,
                flag: self.flag,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        use chrono::NaiveDate;
        use chrono::{DateTime, Utc};
        use sqlx::{QueryBuilder, Transaction};
        use uuid::Uuid;
        use $crate::audit::{AuditRecord, ChainCursor, ChainedEntry};
        use $crate::domain::regions::RegionMembership;
        use $crate::store::sql::{
            with_givers, AuditRow, ATTEMPT_COLUMNS, AUDIT_COLUMNS, CHILD_SELECT, CONSENT_COLUMNS,
            CONSULTATION_COLUMNS, ENDPOINT_COLUMNS, PARENT_LINK_COLUMNS, PENDING_AS_ROW,
            PENDING_COLUMNS, VISIT_COLUMNS,
        };
        use $crate::store::*;

        impl $store {
            /// A write transaction. How many wait for one (a connection of the writing pool
            /// and its BEGIN) and how long they waited go to `/metrics`.
            async fn begin_write(&self) -> Result<Transaction<'static, $db>, sqlx::Error> {
                let waiting = $crate::store::sql::Waiting::start(Self::WRITE_POOL);
                let tx = Self::begin_on(self.writer()).await;
                waiting.done();
                tx
            }
        }

        impl_audit!($store, $db);
        impl_registry!($store, $db);
        impl_children!($store, $db);
        impl_consent!($store, $db);
        impl_consultations!($store, $db);
        impl_figures!($store, $db);
        impl_retention!($store, $db);
        impl_webhooks!($store, $db);
        impl_clients!($store, $db);
        impl_maintenance!($store, $db);
    };
}
