//! The statements both backends share, written once. `impl_store!` expands to the trait
//! implementations for one backend type; it relies on that type providing `reader()`,
//! `writer()`, `begin_on(pool)`, `begin_snapshot()`, `migrator()`, `close_pools()`, an
//! `audit: AuditQueue` field, the constant `SUMMARIES_WRITTEN_IN_SNAPSHOT`,
//! the constant `BACKEND` and the constant `LOCK_AUDIT_HEAD` (the statement that reads the
//! chain head and, in PostgreSQL, locks it). Placeholders are `$n`, which both accept.
//!
//! Access-log entries of reads go through a group commit: one writer task per store takes
//! whatever entries are waiting, appends them in one transaction, and only then answers the
//! requests that wait for them. A read is answered after its entry is durable, yet concurrent
//! reads share one lock of the chain head and one commit.

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
     expires_at, used_at, created_by_subject, created_by_organization_id, created_at";

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
    "id, organization_id, url, events, signing, secret, status, disabled_reason, created_at";

/// The data of a consultation event: ids and a link, never child data.
pub(crate) fn consultation_event(row: &super::ConsultationRow) -> serde_json::Value {
    serde_json::json!({
        "consultation_id": row.id,
        "status": row.status,
        "link": format!("/api/v1/consultations/{}", row.id),
    })
}

pub(crate) const CHILD_SELECT: &str = "SELECT c.id, c.organization_id, c.location_id, c.group_id, \
     c.external_ref, c.given_name, c.date_of_birth, c.version, c.created_at, c.updated_at, \
     m.staff_id AS mentor_staff_id \
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
        use $crate::audit::{AuditRecord, ChainCursor, ChainedEntry};
        use $crate::domain::regions::RegionMembership;
        use $crate::store::sql::{
            consultation_event, with_givers, AuditRow, ATTEMPT_COLUMNS, AUDIT_COLUMNS, CHILD_SELECT,
            CONSENT_COLUMNS, CONSULTATION_COLUMNS, ENDPOINT_COLUMNS, PARENT_LINK_COLUMNS, VISIT_COLUMNS,
        };
        use chrono::{DateTime, Utc};
        use $crate::store::*;
        use chrono::NaiveDate;
        use sqlx::{QueryBuilder, Transaction};
        use uuid::Uuid;

        impl $store {
            async fn begin_write(&self) -> Result<Transaction<'static, $db>, sqlx::Error> {
                Self::begin_on(self.writer()).await
            }

            /// Starts the group-commit writer of read entries on `pool`.
            fn spawn_audit_writer(pool: sqlx::Pool<$db>) -> $crate::store::sql::AuditQueue {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<$crate::store::sql::AuditJob>(4096);
                tokio::spawn(async move {
                    while let Some(first) = rx.recv().await {
                        let mut jobs = vec![first];
                        let mut n = jobs[0].0.len();
                        while n < $crate::store::sql::AUDIT_BATCH {
                            match rx.try_recv() {
                                Ok(job) => {
                                    n += job.0.len();
                                    jobs.push(job);
                                }
                                Err(_) => break,
                            }
                        }
                        let records: Vec<AuditRecord> = jobs.iter().flat_map(|(r, _)| r.iter().cloned()).collect();
                        let result: StoreResult<()> = async {
                            let mut tx = Self::begin_on(&pool).await?;
                            Self::append_audit(&mut tx, &records).await?;
                            tx.commit().await?;
                            Ok(())
                        }
                        .await;
                        let result = result.map_err(|e| e.to_string());
                        for (_, done) in jobs {
                            let _ = done.send(result.clone());
                        }
                    }
                });
                tx
            }

            /// Appends `records` to the access log inside `tx`: reads (and in PostgreSQL locks)
            /// the chain head, chains the records after it and moves the head.
            async fn append_audit(
                tx: &mut Transaction<'static, $db>,
                records: &[AuditRecord],
            ) -> StoreResult<()> {
                if records.is_empty() {
                    return Ok(());
                }
                let (seq, hash): (i64, String) =
                    sqlx::query_as(Self::LOCK_AUDIT_HEAD).fetch_one(&mut **tx).await?;
                let (entries, head) = $crate::audit::chain(&ChainCursor { seq, hash }, records);
                for chunk in entries.chunks(500) {
                    let mut qb: QueryBuilder<$db> =
                        QueryBuilder::new(format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) "));
                    qb.push_values(chunk, |mut b, e| {
                        let r = &e.record;
                        b.push_bind(e.seq)
                            .push_bind(r.id)
                            .push_bind(r.occurred_at)
                            .push_bind(r.actor.issuer.clone())
                            .push_bind(r.actor.subject.clone())
                            .push_bind(r.actor.role.clone())
                            .push_bind(r.actor.organization_id)
                            .push_bind(r.actor.staff_id)
                            .push_bind(r.actor.request_id.clone())
                            .push_bind(r.action.as_str())
                            .push_bind(r.resource_type.clone())
                            .push_bind(r.resource_id)
                            .push_bind(r.child_id)
                            .push_bind(r.purpose.clone())
                            .push_bind(r.outcome.as_str())
                            .push_bind(r.flag.clone())
                            .push_bind(e.prev_hash.clone())
                            .push_bind(e.hash.clone());
                    });
                    qb.build().execute(&mut **tx).await?;
                }
                sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
                    .bind(head.seq)
                    .bind(&head.hash)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Inserts a consent record with its givers and supersedes what it replaces.
            async fn insert_consent(
                tx: &mut Transaction<'static, $db>,
                record: &ConsentRecord,
                supersede: &[Uuid],
            ) -> StoreResult<()> {
                let c = &record.consent;
                sqlx::query(&format!(
                    "INSERT INTO consents ({CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, \
                     $30, $31, $32)"
                ))
                .bind(c.id)
                .bind(c.child_id)
                .bind(&c.purpose)
                .bind(c.recipient_organization_id)
                .bind(&c.recipient_region_code)
                .bind(&c.decision)
                .bind(&c.method)
                .bind(&c.evidence_ref)
                .bind(c.noted_by_staff_id)
                .bind(&c.information_version)
                .bind(c.valid_from)
                .bind(c.valid_until)
                .bind(c.no_signs_of_disagreement)
                .bind(c.child_not_competent)
                .bind(&c.not_competent_judged_by)
                .bind(c.not_competent_judged_on)
                .bind(&c.not_competent_reason_sealed)
                .bind(&c.status)
                .bind(c.superseded_by)
                .bind(c.withdrawn_at)
                .bind(c.withdrawn_by_guardian_id)
                .bind(c.withdrawn_by_child)
                .bind(&c.withdrawal_reason)
                .bind(&c.recorded_by_subject)
                .bind(&c.recorded_by_role)
                .bind(c.recorded_by_organization_id)
                .bind(c.parent_link_id)
                .bind(c.recorded_at)
                .bind(&c.region_code)
                .bind(c.organization_id)
                .bind(&c.half_year)
                .bind(&c.age_band)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
                for g in &record.givers {
                    sqlx::query("INSERT INTO consent_givers (consent_id, guardian_id, is_child) VALUES ($1, $2, $3)")
                        .bind(c.id)
                        .bind(g.guardian_id)
                        .bind(g.is_child)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
                for org in &record.region_organizations {
                    sqlx::query("INSERT INTO consent_region_organizations (consent_id, organization_id) VALUES ($1, $2)")
                        .bind(c.id)
                        .bind(org)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
                for old in supersede {
                    sqlx::query(
                        "UPDATE consents SET status = 'superseded', superseded_by = $2 \
                         WHERE id = $1 AND status = 'active'",
                    )
                    .bind(old)
                    .bind(c.id)
                    .execute(&mut **tx)
                    .await?;
                }
                // requests resting on a replaced record: a new grant carries them on, a refusal holds them
                if c.decision == "granted" {
                    for old in supersede {
                        sqlx::query("UPDATE consultation_consents SET consent_id = $2 WHERE consent_id = $1")
                            .bind(old)
                            .bind(c.id)
                            .execute(&mut **tx)
                            .await?;
                    }
                } else {
                    Self::hold_dependents(tx, supersede, c.recorded_at).await?;
                }
                Ok(())
            }

            /// Queues a webhook message for `org` and a delivery for each of its active endpoints
            /// subscribed to `event_type`: in the caller's transaction (the outbox).
            async fn enqueue(
                tx: &mut Transaction<'static, $db>,
                org: Uuid,
                event_type: &str,
                data: &serde_json::Value,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let endpoints: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT id, events FROM webhook_endpoints WHERE organization_id = $1 AND status = 'active'",
                )
                .bind(org)
                .fetch_all(&mut **tx)
                .await?;
                let hearing: Vec<Uuid> = endpoints
                    .into_iter()
                    .filter(|(_, events)| $crate::webhooks::subscribed(events, event_type))
                    .map(|(id, _)| id)
                    .collect();
                if hearing.is_empty() {
                    return Ok(());
                }
                let message = Uuid::now_v7();
                sqlx::query("INSERT INTO webhook_messages (id, organization_id, event_type, data, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(message)
                    .bind(org)
                    .bind(event_type)
                    .bind(data.to_string())
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                for endpoint in hearing {
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (id, message_id, endpoint_id, state, attempts, next_attempt_at) \
                         VALUES ($1, $2, $3, 'pending', 0, $4)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(message)
                    .bind(endpoint)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// Tells the child's organisation and the organisations of the specialists involved
            /// (now, or until this change) about a consultation's new status.
            async fn consultation_events(
                tx: &mut Transaction<'static, $db>,
                row: &ConsultationRow,
                formerly: Option<Uuid>,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut orgs = vec![row.organization_id];
                for staff in [row.offered_to, row.assigned_to, formerly].into_iter().flatten() {
                    let org: Option<Uuid> = sqlx::query_scalar("SELECT organization_id FROM staff WHERE id = $1")
                        .bind(staff)
                        .fetch_optional(&mut **tx)
                        .await?;
                    if let Some(org) = org {
                        if !orgs.contains(&org) {
                            orgs.push(org);
                        }
                    }
                }
                let event_type = format!("consultation.{}", row.status);
                let data = consultation_event(row);
                for org in orgs {
                    Self::enqueue(tx, org, &event_type, &data, at).await?;
                }
                Ok(())
            }

            /// Takes one slot of a specialist's capacity, if one is free (the database's check
            /// makes an overrun impossible even without this condition).
            async fn claim_slot(tx: &mut Transaction<'static, $db>, staff: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE staff SET open_count = open_count + 1, last_offered_at = $2 \
                     WHERE id = $1 AND active AND role = 'specialist' AND open_count < capacity",
                )
                .bind(staff)
                .bind(at)
                .execute(&mut **tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Offers the request to the first ranked specialist with a free slot, or leaves it
            /// unassigned; records the decision with its reason.
            async fn route_in_tx(
                tx: &mut Transaction<'static, $db>,
                row: &mut ConsultationRow,
                route: &RouteRequest,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut chosen = None;
                let mut full = Vec::new();
                for staff in &route.ranking.ranked {
                    if Self::claim_slot(tx, *staff, at).await? {
                        chosen = Some(*staff);
                        break;
                    }
                    full.push(*staff);
                }
                match chosen {
                    Some(staff) => {
                        row.status = "offered".into();
                        row.offered_to = Some(staff);
                        row.offered_at = Some(at);
                        row.answer_due = Some(route.answer_due);
                    }
                    None => {
                        sqlx::query("UPDATE consultations SET ever_unassigned = TRUE WHERE id = $1")
                            .bind(row.id)
                            .execute(&mut **tx)
                            .await?;
                        row.status = "unassigned".into();
                        row.offered_to = None;
                        row.offered_at = None;
                        row.answer_due = None;
                    }
                }
                let reason = $crate::domain::routing::reason(&route.ranking, chosen, &full);
                sqlx::query(
                    "INSERT INTO routing_decisions (id, consultation_id, decided_at, trigger, chosen_staff_id, reason, considered) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(Uuid::now_v7())
                .bind(row.id)
                .bind(at)
                .bind(&route.trigger)
                .bind(chosen)
                .bind(reason)
                .bind(serde_json::to_string(&route.ranking.considered).unwrap_or_default())
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn write_consultation(tx: &mut Transaction<'static, $db>, row: &ConsultationRow) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE consultations SET status = $2, held_from = $3, offered_to = $4, offered_at = $5, \
                     answer_due = $6, assigned_to = $7, accepted_at = $8, status_reason = $9, version = $10, \
                     updated_at = $11, outcome = $12, closed_at = $13, summary_sealed = $14, advice_sealed = $15, \
                     parents_involved = $16, referral_kind = $17, referral_consent_in_force = $18, \
                     status_note_sealed = $19 WHERE id = $1",
                )
                .bind(row.id)
                .bind(&row.status)
                .bind(&row.held_from)
                .bind(row.offered_to)
                .bind(row.offered_at)
                .bind(row.answer_due)
                .bind(row.assigned_to)
                .bind(row.accepted_at)
                .bind(&row.status_reason)
                .bind(row.version)
                .bind(row.updated_at)
                .bind(&row.outcome)
                .bind(row.closed_at)
                .bind(&row.summary_sealed)
                .bind(&row.advice_sealed)
                .bind(row.parents_involved)
                .bind(&row.referral_kind)
                .bind(row.referral_consent_in_force)
                .bind(&row.status_note_sealed)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Moves an accepted request to `in_progress` (its first held visit).
            async fn start_in_tx(tx: &mut Transaction<'static, $db>, row: &ConsultationRow, at: DateTime<Utc>) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE consultations SET status = 'in_progress', version = version + 1, updated_at = $2 \
                     WHERE id = $1 AND status = 'accepted'",
                )
                .bind(row.id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() == 1 {
                    let mut after = row.clone();
                    after.status = "in_progress".into();
                    Self::consultation_events(tx, &after, None, at).await?;
                }
                Ok(())
            }

            async fn insert_visit(tx: &mut Transaction<'static, $db>, v: &VisitRow) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO visits ({VISIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
                ))
                .bind(v.id)
                .bind(v.consultation_id)
                .bind(v.child_id)
                .bind(v.specialist_id)
                .bind(v.date)
                .bind(v.duration_minutes)
                .bind(&v.kind)
                .bind(&v.participants)
                .bind(&v.competences)
                .bind(&v.status)
                .bind(&v.notes_sealed)
                .bind(&v.advice_sealed)
                .bind(v.notes_shared)
                .bind(v.version)
                .bind(v.created_at)
                .bind(v.updated_at)
                .bind(&v.region_code)
                .bind(v.organization_id)
                .bind(&v.half_year)
                .bind(&v.age_band)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
                Self::first_visit(tx, v).await?;
                Ok(())
            }

            /// Figures: the day of the first held visit of a request.
            async fn first_visit(tx: &mut Transaction<'static, $db>, v: &VisitRow) -> StoreResult<()> {
                if v.status == "held" {
                    sqlx::query(
                        "UPDATE consultations SET first_visit_on = $2 WHERE id = $1 AND (first_visit_on IS NULL OR first_visit_on > $2)",
                    )
                    .bind(v.consultation_id)
                    .bind(v.date)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// Deletes everything about one child (early destruction); the access log keeps its ids.
            async fn destroy_child(tx: &mut Transaction<'static, $db>, child: Uuid) -> StoreResult<()> {
                // free the capacity open requests held
                let holders: Vec<Option<Uuid>> = sqlx::query_scalar(
                    "SELECT COALESCE(assigned_to, offered_to) FROM consultations WHERE child_id = $1 \
                     AND status IN ('offered', 'accepted', 'in_progress', 'on_hold')",
                )
                .bind(child)
                .fetch_all(&mut **tx)
                .await?;
                for staff in holders.into_iter().flatten() {
                    sqlx::query("UPDATE staff SET open_count = open_count - 1 WHERE id = $1 AND open_count > 0")
                        .bind(staff)
                        .execute(&mut **tx)
                        .await?;
                }
                let consultations = "SELECT id FROM consultations WHERE child_id = $1";
                let statements = [
                    "DELETE FROM visits WHERE child_id = $1".to_string(),
                    format!("DELETE FROM consultation_declines WHERE consultation_id IN ({consultations})"),
                    format!("DELETE FROM routing_decisions WHERE consultation_id IN ({consultations})"),
                    format!("DELETE FROM consultation_consents WHERE consultation_id IN ({consultations})"),
                    "DELETE FROM consultations WHERE child_id = $1".to_string(),
                    "DELETE FROM concerns WHERE child_id = $1".to_string(),
                    "DELETE FROM consent_givers WHERE consent_id IN (SELECT id FROM consents WHERE child_id = $1)".to_string(),
                    "DELETE FROM consents WHERE child_id = $1".to_string(),
                    "DELETE FROM parent_links WHERE child_id = $1".to_string(),
                    "DELETE FROM veilig_thuis_reports WHERE child_id = $1".to_string(),
                    "DELETE FROM guardians WHERE child_id = $1".to_string(),
                    "DELETE FROM child_mentors WHERE child_id = $1".to_string(),
                    "DELETE FROM children WHERE id = $1".to_string(),
                ];
                for sql in statements {
                    sqlx::query(&sql).bind(child).execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Puts the open requests resting on `consents` on hold (consent withdrawn or refused).
            async fn hold_dependents(tx: &mut Transaction<'static, $db>, consents: &[Uuid], at: DateTime<Utc>) -> StoreResult<()> {
                for consent in consents {
                    let rows: Vec<ConsultationRow> = sqlx::query_as(&format!(
                        "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE id IN \
                         (SELECT consultation_id FROM consultation_consents WHERE consent_id = $1) \
                         AND status IN ('requested', 'offered', 'accepted', 'in_progress', 'unassigned')"
                    ))
                    .bind(consent)
                    .fetch_all(&mut **tx)
                    .await?;
                    for mut row in rows {
                        row.held_from = Some(row.status.clone());
                        row.status = "on_hold".into();
                        row.status_reason = Some("consent withdrawn".into());
                        row.version += 1;
                        row.updated_at = at;
                        Self::write_consultation(tx, &row).await?;
                        Self::consultation_events(tx, &row, None, at).await?;
                    }
                }
                Ok(())
            }

            async fn staff_links(&self, row: StaffRow) -> StoreResult<StaffRecord> {
                let pool = self.reader();
                let location_ids: Vec<Uuid> = sqlx::query_scalar(
                    "SELECT location_id FROM staff_locations WHERE staff_id = $1 ORDER BY location_id",
                )
                .bind(row.id)
                .fetch_all(pool)
                .await?;
                let region_codes: Vec<String> = sqlx::query_scalar(
                    "SELECT region_code FROM staff_regions WHERE staff_id = $1 ORDER BY region_code",
                )
                .bind(row.id)
                .fetch_all(pool)
                .await?;
                let expertise: Vec<String> = sqlx::query_scalar(
                    "SELECT expertise FROM staff_expertise WHERE staff_id = $1 ORDER BY expertise",
                )
                .bind(row.id)
                .fetch_all(pool)
                .await?;
                Ok(StaffRecord { staff: row, location_ids, region_codes, expertise })
            }
        }

        #[async_trait::async_trait]
        impl RegistryStore for $store {
            async fn import_regions(&self, rows: &[RegionMembership]) -> StoreResult<u64> {
                let now = $crate::domain::calendar::now();
                let mut tx = self.begin_write().await?;
                for r in rows {
                    sqlx::query(
                        "INSERT INTO regions (code, name, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                    )
                    .bind(r.region_code.as_str())
                    .bind(&r.region_name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO region_memberships \
                         (municipality_code, municipality_name, region_code, valid_from, imported_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (municipality_code, valid_from) DO UPDATE SET \
                         municipality_name = excluded.municipality_name, \
                         region_code = excluded.region_code, imported_at = excluded.imported_at",
                    )
                    .bind(r.municipality_code.as_str())
                    .bind(&r.municipality_name)
                    .bind(r.region_code.as_str())
                    .bind(r.valid_from)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(rows.len() as u64)
            }

            async fn list_regions(&self) -> StoreResult<Vec<RegionRow>> {
                Ok(sqlx::query_as("SELECT code, name FROM regions ORDER BY code")
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn get_region(&self, code: &str) -> StoreResult<Option<RegionRow>> {
                Ok(sqlx::query_as("SELECT code, name FROM regions WHERE code = $1")
                    .bind(code)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn region_municipalities(&self, code: &str, on: NaiveDate) -> StoreResult<Vec<MunicipalityRow>> {
                Ok(sqlx::query_as(
                    "SELECT m.municipality_code, m.municipality_name, m.region_code, m.valid_from \
                     FROM region_memberships m \
                     WHERE m.region_code = $1 AND m.valid_from <= $2 AND NOT EXISTS ( \
                       SELECT 1 FROM region_memberships n WHERE n.municipality_code = m.municipality_code \
                       AND n.valid_from <= $2 AND n.valid_from > m.valid_from) \
                     ORDER BY m.municipality_code",
                )
                .bind(code)
                .bind(on)
                .fetch_all(self.reader())
                .await?)
            }

            async fn region_of(&self, municipality_code: &str, on: NaiveDate) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT region_code FROM region_memberships \
                     WHERE municipality_code = $1 AND valid_from <= $2 \
                     ORDER BY valid_from DESC LIMIT 1",
                )
                .bind(municipality_code)
                .bind(on)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn create_organization(&self, row: &OrganizationRow) -> StoreResult<()> {
                sqlx::query("INSERT INTO organizations (id, name, kind, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(row.id)
                    .bind(&row.name)
                    .bind(&row.kind)
                    .bind(row.created_at)
                    .execute(self.writer())
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn get_organization(&self, id: Uuid) -> StoreResult<Option<OrganizationRow>> {
                Ok(sqlx::query_as("SELECT id, name, kind, created_at FROM organizations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_organizations(&self, page: Page) -> StoreResult<Vec<OrganizationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, name, kind, created_at FROM organizations \
                     WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                )
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn create_location(&self, row: &LocationRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO locations (id, organization_id, name, type, municipality_code, lrk_number, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(row.id)
                .bind(row.organization_id)
                .bind(&row.name)
                .bind(&row.location_type)
                .bind(&row.municipality_code)
                .bind(&row.lrk_number)
                .bind(row.created_at)
                .execute(self.writer())
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn get_location(&self, id: Uuid) -> StoreResult<Option<LocationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, organization_id, name, type, municipality_code, lrk_number, created_at \
                     FROM locations WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn list_locations(&self, organization_id: Uuid, page: Page) -> StoreResult<Vec<LocationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, organization_id, name, type, municipality_code, lrk_number, created_at \
                     FROM locations WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                )
                .bind(organization_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn create_group(&self, row: &GroupRow) -> StoreResult<()> {
                sqlx::query("INSERT INTO groups (id, location_id, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(row.id)
                    .bind(row.location_id)
                    .bind(&row.name)
                    .bind(row.created_at)
                    .execute(self.writer())
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn get_group(&self, id: Uuid) -> StoreResult<Option<GroupRow>> {
                Ok(sqlx::query_as("SELECT id, location_id, name, created_at FROM groups WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_groups(&self, location_id: Uuid) -> StoreResult<Vec<GroupRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, location_id, name, created_at FROM groups WHERE location_id = $1 ORDER BY name",
                )
                .bind(location_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn create_staff(&self, record: &StaffRecord) -> StoreResult<()> {
                let s = &record.staff;
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO staff (id, organization_id, subject, name, role, capacity, active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(s.id)
                .bind(s.organization_id)
                .bind(&s.subject)
                .bind(&s.name)
                .bind(&s.role)
                .bind(s.capacity)
                .bind(s.active)
                .bind(s.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                for l in &record.location_ids {
                    sqlx::query("INSERT INTO staff_locations (staff_id, location_id) VALUES ($1, $2)")
                        .bind(s.id)
                        .bind(l)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                for r in &record.region_codes {
                    sqlx::query("INSERT INTO staff_regions (staff_id, region_code) VALUES ($1, $2)")
                        .bind(s.id)
                        .bind(r)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                for e in &record.expertise {
                    sqlx::query("INSERT INTO staff_expertise (staff_id, expertise) VALUES ($1, $2)")
                        .bind(s.id)
                        .bind(e)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_staff(&self, id: Uuid) -> StoreResult<Option<StaffRecord>> {
                let row: Option<StaffRow> = sqlx::query_as(
                    "SELECT id, organization_id, subject, name, role, capacity, active, created_at \
                     FROM staff WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
                match row {
                    Some(row) => Ok(Some(self.staff_links(row).await?)),
                    None => Ok(None),
                }
            }

            async fn list_staff(&self, organization_id: Uuid, page: Page) -> StoreResult<Vec<StaffRecord>> {
                let rows: Vec<StaffRow> = sqlx::query_as(
                    "SELECT id, organization_id, subject, name, role, capacity, active, created_at \
                     FROM staff WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                )
                .bind(organization_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(self.reader())
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.push(self.staff_links(row).await?);
                }
                Ok(out)
            }

            async fn organizations_serving_region(&self, region_code: &str) -> StoreResult<Vec<Uuid>> {
                Ok(sqlx::query_scalar(
                    "SELECT DISTINCT s.organization_id FROM staff s JOIN staff_regions r ON r.staff_id = s.id \
                     WHERE r.region_code = $1 AND s.active AND s.role IN ('specialist', 'coordinator') \
                     ORDER BY s.organization_id",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?)
            }

            async fn staff_by_subject(&self, organization_id: Uuid, subject: &str) -> StoreResult<Option<StaffRecord>> {
                let row: Option<StaffRow> = sqlx::query_as(
                    "SELECT id, organization_id, subject, name, role, capacity, active, created_at \
                     FROM staff WHERE organization_id = $1 AND subject = $2 AND active",
                )
                .bind(organization_id)
                .bind(subject)
                .fetch_optional(self.reader())
                .await?;
                match row {
                    Some(row) => Ok(Some(self.staff_links(row).await?)),
                    None => Ok(None),
                }
            }
        }

        #[async_trait::async_trait]
        impl ChildStore for $store {
            async fn create_child(&self, row: &ChildRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO children (id, organization_id, location_id, group_id, external_ref, \
                     given_name, date_of_birth, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(row.id)
                .bind(row.organization_id)
                .bind(row.location_id)
                .bind(row.group_id)
                .bind(&row.external_ref)
                .bind(&row.given_name)
                .bind(row.date_of_birth)
                .bind(row.version)
                .bind(row.created_at)
                .bind(row.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_child(&self, id: Uuid) -> StoreResult<Option<ChildRow>> {
                Ok(sqlx::query_as(&format!("{CHILD_SELECT} WHERE c.id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_children(&self, organization_id: Uuid, location_id: Option<Uuid>, page: Page) -> StoreResult<Vec<ChildRow>> {
                Ok(sqlx::query_as(&format!(
                    "{CHILD_SELECT} WHERE c.organization_id = $1 AND ($2 IS NULL OR c.location_id = $2) \
                     AND ($3 IS NULL OR c.id > $3) ORDER BY c.id LIMIT $4"
                ))
                .bind(organization_id)
                .bind(location_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn assign_mentor(&self, row: &MentorAssignmentRow, if_version: Option<i64>, audit: &AuditRecord) -> StoreResult<i64> {
                let mut tx = self.begin_write().await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE children SET version = version + 1, updated_at = $2 \
                     WHERE id = $1 AND ($3 IS NULL OR version = $3) RETURNING version",
                )
                .bind(row.child_id)
                .bind(row.assigned_at)
                .bind(if_version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(version) = version else {
                    let exists: Option<i64> = sqlx::query_scalar("SELECT version FROM children WHERE id = $1")
                        .bind(row.child_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(if exists.is_some() { StoreError::Stale } else { StoreError::NotFound });
                };
                sqlx::query("UPDATE child_mentors SET ended_at = $2 WHERE child_id = $1 AND ended_at IS NULL")
                    .bind(row.child_id)
                    .bind(row.assigned_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO child_mentors (id, child_id, staff_id, assigned_at, ended_at, parents_informed_at) \
                     VALUES ($1, $2, $3, $4, NULL, $5)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(row.staff_id)
                .bind(row.assigned_at)
                .bind(row.parents_informed_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(version)
            }

            async fn mentor_history(&self, child_id: Uuid) -> StoreResult<Vec<MentorAssignmentRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, staff_id, assigned_at, ended_at, parents_informed_at \
                     FROM child_mentors WHERE child_id = $1 ORDER BY assigned_at DESC, id DESC",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn add_guardian(&self, row: &GuardianRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO guardians (id, child_id, name, relationship, has_parental_authority, \
                     authority_source, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(&row.name)
                .bind(&row.relationship)
                .bind(row.has_parental_authority)
                .bind(&row.authority_source)
                .bind(&row.email)
                .bind(&row.phone)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_guardians(&self, child_id: Uuid) -> StoreResult<Vec<GuardianRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, name, relationship, has_parental_authority, authority_source, \
                     email, phone, created_at FROM guardians WHERE child_id = $1 ORDER BY id",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }
        }

        #[async_trait::async_trait]
        impl ConsentStore for $store {
            async fn create_consent(&self, record: &ConsentRecord, supersede: &[Uuid], audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(Self::LOCK_CHILD).bind(record.consent.child_id).execute(&mut *tx).await?;
                Self::insert_consent(&mut tx, record, supersede).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn consents_of_child(&self, child_id: Uuid, active_purpose: Option<&str>) -> StoreResult<Vec<ConsentRecord>> {
                let rows: Vec<ConsentRow> = sqlx::query_as(&format!(
                    "SELECT {CONSENT_COLUMNS} FROM consents WHERE child_id = $1 \
                     AND ($2 IS NULL OR purpose = $2) ORDER BY recorded_at, id"
                ))
                .bind(child_id)
                .bind(active_purpose)
                .fetch_all(self.reader())
                .await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let givers: Vec<GiverRow> = sqlx::query_as(
                    "SELECT g.consent_id, g.guardian_id, g.is_child FROM consent_givers g \
                     JOIN consents c ON c.id = g.consent_id \
                     WHERE c.child_id = $1 AND ($2 IS NULL OR c.purpose = $2)",
                )
                .bind(child_id)
                .bind(active_purpose)
                .fetch_all(self.reader())
                .await?;
                let orgs: Vec<(Uuid, Uuid)> = if rows.iter().any(|r| r.recipient_region_code.is_some()) {
                    sqlx::query_as(
                        "SELECT o.consent_id, o.organization_id FROM consent_region_organizations o \
                         JOIN consents c ON c.id = o.consent_id \
                         WHERE c.child_id = $1 AND ($2 IS NULL OR c.purpose = $2)",
                    )
                    .bind(child_id)
                    .bind(active_purpose)
                    .fetch_all(self.reader())
                    .await?
                } else {
                    Vec::new()
                };
                Ok(with_givers(rows, givers, orgs))
            }

            async fn get_consent(&self, id: Uuid) -> StoreResult<Option<ConsentRecord>> {
                let row: Option<ConsentRow> = sqlx::query_as(&format!("SELECT {CONSENT_COLUMNS} FROM consents WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let givers: Vec<GiverRow> =
                    sqlx::query_as("SELECT consent_id, guardian_id, is_child FROM consent_givers WHERE consent_id = $1")
                        .bind(id)
                        .fetch_all(self.reader())
                        .await?;
                let orgs: Vec<(Uuid, Uuid)> = sqlx::query_as(
                    "SELECT consent_id, organization_id FROM consent_region_organizations WHERE consent_id = $1",
                )
                .bind(id)
                .fetch_all(self.reader())
                .await?;
                Ok(with_givers(vec![row], givers, orgs).pop())
            }

            async fn withdraw_consent(&self, id: Uuid, w: &Withdrawal, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let child: Option<(Uuid, Uuid)> = sqlx::query_as(
                    "SELECT c.id, c.organization_id FROM children c JOIN consents k ON k.child_id = c.id WHERE k.id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((child_id, child_org)) = child else { return Err(StoreError::NotFound) };
                sqlx::query(Self::LOCK_CHILD).bind(child_id).execute(&mut *tx).await?;
                let done = sqlx::query(
                    "UPDATE consents SET status = 'withdrawn', withdrawn_at = $2, withdrawn_by_guardian_id = $3, \
                     withdrawn_by_child = $4, withdrawal_reason = $5 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(w.at)
                .bind(w.by_guardian_id)
                .bind(w.by_child)
                .bind(&w.reason)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Conflict("the consent is not in force".into()));
                }
                // stop all further use at once: requests resting on it go on hold, partners are told
                Self::hold_dependents(&mut tx, &[id], w.at).await?;
                let data = serde_json::json!({
                    "consent_id": id,
                    "child_id": child_id,
                    "link": format!("/api/v1/children/{child_id}/consents"),
                });
                Self::enqueue(&mut tx, child_org, "consent.withdrawn", &data, w.at).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_parent_link(&self, row: &ParentLinkRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(&format!(
                    "INSERT INTO parent_links ({PARENT_LINK_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                ))
                .bind(row.id)
                .bind(&row.token_hash)
                .bind(&row.kind)
                .bind(row.child_id)
                .bind(&row.holder)
                .bind(row.guardian_id)
                .bind(&row.purpose)
                .bind(row.recipient_organization_id)
                .bind(&row.recipient_region_code)
                .bind(row.consent_valid_until)
                .bind(&row.information_version)
                .bind(row.expires_at)
                .bind(row.used_at)
                .bind(&row.created_by_subject)
                .bind(row.created_by_organization_id)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn parent_link_by_hash(&self, token_hash: &str) -> StoreResult<Option<ParentLinkRow>> {
                Ok(sqlx::query_as(&format!("SELECT {PARENT_LINK_COLUMNS} FROM parent_links WHERE token_hash = $1"))
                    .bind(token_hash)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn decide_invitation(&self, link_id: Uuid, record: &ConsentRecord, supersede: &[Uuid], audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(Self::LOCK_CHILD).bind(record.consent.child_id).execute(&mut *tx).await?;
                let used = sqlx::query("UPDATE parent_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
                    .bind(link_id)
                    .bind(record.consent.recorded_at)
                    .execute(&mut *tx)
                    .await?;
                if used.rows_affected() == 0 {
                    return Err(StoreError::Conflict("the link was used already".into()));
                }
                Self::insert_consent(&mut tx, record, supersede).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_veilig_thuis_report(&self, row: &VeiligThuisReportRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO veilig_thuis_reports (id, child_id, legal_basis, reason, consulted, weighing, \
                     reported_on, recorded_by_subject, recorded_by_staff_id, organization_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(&row.legal_basis)
                .bind(&row.reason)
                .bind(&row.consulted)
                .bind(&row.weighing)
                .bind(row.reported_on)
                .bind(&row.recorded_by_subject)
                .bind(row.recorded_by_staff_id)
                .bind(row.organization_id)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn veilig_thuis_reports(&self, child_id: Uuid) -> StoreResult<Vec<VeiligThuisReportRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, legal_basis, reason, consulted, weighing, reported_on, recorded_by_subject, \
                     recorded_by_staff_id, organization_id, created_at FROM veilig_thuis_reports \
                     WHERE child_id = $1 ORDER BY created_at",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn child_access_log(&self, child_id: Uuid, after_seq: Option<i64>, limit: i64) -> StoreResult<Vec<ChildAccessRow>> {
                Ok(sqlx::query_as(
                    "SELECT a.seq, a.occurred_at, a.actor_role, a.actor_subject, s.name AS staff_name, \
                     o.name AS organization_name, a.action, a.resource_type, a.outcome, a.flag \
                     FROM audit_log a LEFT JOIN staff s ON s.id = a.actor_staff_id \
                     LEFT JOIN organizations o ON o.id = a.actor_organization_id \
                     WHERE a.child_id = $1 AND ($2 IS NULL OR a.seq > $2) ORDER BY a.seq LIMIT $3",
                )
                .bind(child_id)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(self.reader())
                .await?)
            }
        }

        #[async_trait::async_trait]
        impl ConsultationStore for $store {
            async fn create_concern(&self, row: &ConcernRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO concerns (id, child_id, domains, observation, observed_since, recorded_by_subject, \
                     recorded_by_staff_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(&row.domains)
                .bind(&row.observation)
                .bind(row.observed_since)
                .bind(&row.recorded_by_subject)
                .bind(row.recorded_by_staff_id)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_concern(&self, id: Uuid) -> StoreResult<Option<ConcernRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, domains, observation, observed_since, recorded_by_subject, recorded_by_staff_id, \
                     created_at FROM concerns WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn concerns_of_child(&self, child_id: Uuid) -> StoreResult<Vec<ConcernRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, domains, observation, observed_since, recorded_by_subject, recorded_by_staff_id, \
                     created_at FROM concerns WHERE child_id = $1 ORDER BY id",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn routing_candidates(&self, region_code: &str) -> StoreResult<Vec<CandidateRow>> {
                let rows: Vec<(Uuid, Uuid, bool, Option<i64>, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
                    "SELECT s.id, s.organization_id, s.active, s.capacity, s.open_count, s.last_offered_at \
                     FROM staff s JOIN staff_regions r ON r.staff_id = s.id \
                     WHERE r.region_code = $1 AND s.role = 'specialist' ORDER BY s.id",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?;
                let regions: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT staff_id, region_code FROM staff_regions WHERE staff_id IN \
                     (SELECT staff_id FROM staff_regions WHERE region_code = $1)",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?;
                let expertise: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT staff_id, expertise FROM staff_expertise WHERE staff_id IN \
                     (SELECT staff_id FROM staff_regions WHERE region_code = $1)",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, org, active, capacity, open, last)| CandidateRow {
                        staff_id: id,
                        organization_id: org,
                        active,
                        capacity: capacity.unwrap_or(0),
                        open_count: open,
                        last_offered_at: last,
                        region_codes: regions.iter().filter(|r| r.0 == id).map(|r| r.1.clone()).collect(),
                        expertise: expertise.iter().filter(|e| e.0 == id).map(|e| e.1.clone()).collect(),
                    })
                    .collect())
            }

            async fn submit_consultation(&self, sub: &Submission) -> StoreResult<ConsultationRow> {
                let at = sub.row.created_at;
                let mut tx = self.begin_write().await?;
                sqlx::query(Self::LOCK_CHILD).bind(sub.row.child_id).execute(&mut *tx).await?;
                if let Some(k) = &sub.idempotency {
                    sqlx::query(
                        "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body, created_at) \
                         VALUES ($1, $2, $3, 0, '', $4)",
                    )
                    .bind(&k.scope)
                    .bind(&k.key)
                    .bind(&k.request_hash)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match classify(e) {
                        StoreError::Conflict(_) => StoreError::Duplicate,
                        other => other,
                    })?;
                }
                // the consent the permission rests on must still be in force at commit
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT COUNT(*) FROM consents WHERE status = 'active' AND id IN (");
                let mut sep = qb.separated(", ");
                for id in &sub.consent_ids {
                    sep.push_bind(*id);
                }
                qb.push(")");
                let active: i64 = qb.build_query_scalar().fetch_one(&mut *tx).await?;
                if active as usize != sub.consent_ids.len() {
                    return Err(StoreError::Conflict("the consent changed meanwhile".into()));
                }
                let mut row = sub.row.clone();
                sqlx::query(&format!(
                    "INSERT INTO consultations ({CONSULTATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)"
                ))
                .bind(row.id)
                .bind(row.child_id)
                .bind(row.organization_id)
                .bind(row.location_id)
                .bind(row.concern_id)
                .bind(&row.question)
                .bind(&row.expertise)
                .bind(&row.urgency)
                .bind(&row.region_code)
                .bind(&row.status)
                .bind(&row.held_from)
                .bind(row.offered_to)
                .bind(row.offered_at)
                .bind(row.answer_due)
                .bind(row.assigned_to)
                .bind(row.accepted_at)
                .bind(&row.status_reason)
                .bind(&row.status_note_sealed)
                .bind(&row.requested_by_subject)
                .bind(row.requested_by_staff_id)
                .bind(row.version)
                .bind(row.created_at)
                .bind(row.updated_at)
                .bind(&row.outcome)
                .bind(row.closed_at)
                .bind(&row.summary_sealed)
                .bind(&row.advice_sealed)
                .bind(row.parents_involved)
                .bind(&row.referral_kind)
                .bind(row.referral_consent_in_force)
                .bind(&row.half_year)
                .bind(&row.age_band)
                .bind(row.consent_delayed)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                for consent in &sub.consent_ids {
                    sqlx::query("INSERT INTO consultation_consents (consultation_id, consent_id) VALUES ($1, $2)")
                        .bind(row.id)
                        .bind(consent)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::route_in_tx(&mut tx, &mut row, &sub.route, at).await?;
                Self::write_consultation(&mut tx, &row).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(&sub.audit)).await?;
                Self::consultation_events(&mut tx, &row, None, at).await?;
                if let Some(k) = &sub.idempotency {
                    sqlx::query("UPDATE idempotency_keys SET status_code = 201, response_body = $3 WHERE scope = $1 AND key = $2")
                        .bind(&k.scope)
                        .bind(&k.key)
                        .bind((sub.respond)(&row))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(row)
            }

            async fn get_consultation(&self, id: Uuid) -> StoreResult<Option<ConsultationRow>> {
                Ok(sqlx::query_as(&format!("SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_consultations(&self, f: &ConsultationFilter) -> StoreResult<Vec<ConsultationRow>> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!("SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE 1 = 1"));
                if let Some(org) = f.organization_id {
                    qb.push(" AND organization_id = ").push_bind(org);
                }
                if let Some(locations) = &f.location_ids {
                    qb.push(" AND location_id IN (");
                    let mut sep = qb.separated(", ");
                    sep.push_bind(Uuid::nil());
                    for l in locations {
                        sep.push_bind(*l);
                    }
                    qb.push(")");
                }
                if let Some(staff) = f.staff_id {
                    qb.push(" AND (offered_to = ").push_bind(staff).push(" OR assigned_to = ").push_bind(staff).push(")");
                }
                if let Some(regions) = &f.region_codes {
                    qb.push(" AND region_code IN (");
                    let mut sep = qb.separated(", ");
                    sep.push_bind("");
                    for r in regions {
                        sep.push_bind(r.clone());
                    }
                    qb.push(")");
                }
                if let Some(status) = &f.status {
                    qb.push(" AND status = ").push_bind(status.clone());
                }
                if let Some(after) = f.after {
                    qb.push(" AND id > ").push_bind(after);
                }
                qb.push(" ORDER BY id LIMIT ").push_bind(f.limit);
                Ok(qb.build_query_as().fetch_all(self.reader()).await?)
            }

            async fn change_consultation(&self, c: &ConsultationChange) -> StoreResult<ConsultationRow> {
                let at = c.after.updated_at;
                let mut tx = self.begin_write().await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE consultations SET version = version + 1 WHERE id = $1 AND version = $2 RETURNING version",
                )
                .bind(c.after.id)
                .bind(c.expected_version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(version) = version else {
                    let exists: Option<i64> = sqlx::query_scalar("SELECT version FROM consultations WHERE id = $1")
                        .bind(c.after.id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(if exists.is_some() { StoreError::Stale } else { StoreError::NotFound });
                };
                if let Some(staff) = c.release {
                    sqlx::query("UPDATE staff SET open_count = open_count - 1 WHERE id = $1 AND open_count > 0")
                        .bind(staff)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(d) = &c.decline {
                    sqlx::query("UPDATE consultations SET reroutes = reroutes + 1 WHERE id = $1")
                        .bind(d.consultation_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO consultation_declines (id, consultation_id, staff_id, kind, reason, at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(d.id)
                    .bind(d.consultation_id)
                    .bind(d.staff_id)
                    .bind(&d.kind)
                    .bind(&d.reason)
                    .bind(d.at)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(consents) = &c.relink_consents {
                    sqlx::query("DELETE FROM consultation_consents WHERE consultation_id = $1")
                        .bind(c.after.id)
                        .execute(&mut *tx)
                        .await?;
                    for consent in consents {
                        sqlx::query("INSERT INTO consultation_consents (consultation_id, consent_id) VALUES ($1, $2)")
                            .bind(c.after.id)
                            .bind(consent)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let mut row = c.after.clone();
                row.version = version;
                if let Some(staff) = c.claim {
                    if !Self::claim_slot(&mut tx, staff, at).await? {
                        return Err(StoreError::Conflict("the specialist has no free capacity".into()));
                    }
                }
                if let Some(route) = &c.route {
                    Self::route_in_tx(&mut tx, &mut row, route, at).await?;
                }
                Self::write_consultation(&mut tx, &row).await?;
                Self::append_audit(&mut tx, &c.audit).await?;
                Self::consultation_events(&mut tx, &row, c.release, at).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn declines(&self, consultation_id: Uuid) -> StoreResult<Vec<DeclineRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, consultation_id, staff_id, kind, reason, at FROM consultation_declines \
                     WHERE consultation_id = $1 ORDER BY at",
                )
                .bind(consultation_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn routing_decisions(&self, consultation_id: Uuid) -> StoreResult<Vec<RoutingDecisionRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, consultation_id, decided_at, trigger, chosen_staff_id, reason, considered \
                     FROM routing_decisions WHERE consultation_id = $1 ORDER BY decided_at, id",
                )
                .bind(consultation_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn overdue_offers(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<ConsultationRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE status = 'offered' AND answer_due < $1 \
                     ORDER BY answer_due LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn idempotent_response(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotentResponse>> {
                Ok(sqlx::query_as(
                    "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2",
                )
                .bind(scope)
                .bind(key)
                .fetch_optional(self.writer())
                .await?)
            }

            async fn create_visit(&self, row: &VisitRow, start: Option<&ConsultationRow>, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_visit(&mut tx, row).await?;
                if let Some(c) = start {
                    Self::start_in_tx(&mut tx, c, row.created_at).await?;
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_visit(&self, id: Uuid) -> StoreResult<Option<VisitRow>> {
                Ok(sqlx::query_as(&format!("SELECT {VISIT_COLUMNS} FROM visits WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn visits_of(&self, consultation_id: Uuid) -> StoreResult<Vec<VisitRow>> {
                Ok(sqlx::query_as(&format!("SELECT {VISIT_COLUMNS} FROM visits WHERE consultation_id = $1 ORDER BY date, id"))
                    .bind(consultation_id)
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn update_visit(&self, v: &VisitRow, expected_version: i64, start: Option<&ConsultationRow>, audit: &AuditRecord) -> StoreResult<i64> {
                let mut tx = self.begin_write().await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE visits SET date = $3, duration_minutes = $4, kind = $5, participants = $6, competences = $7, \
                     status = $8, notes_sealed = $9, advice_sealed = $10, notes_shared = $11, version = version + 1, \
                     updated_at = $12, half_year = $13 WHERE id = $1 AND version = $2 RETURNING version",
                )
                .bind(v.id)
                .bind(expected_version)
                .bind(v.date)
                .bind(v.duration_minutes)
                .bind(&v.kind)
                .bind(&v.participants)
                .bind(&v.competences)
                .bind(&v.status)
                .bind(&v.notes_sealed)
                .bind(&v.advice_sealed)
                .bind(v.notes_shared)
                .bind(v.updated_at)
                .bind(&v.half_year)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(version) = version else { return Err(StoreError::Stale) };
                Self::first_visit(&mut tx, v).await?;
                if let Some(c) = start {
                    Self::start_in_tx(&mut tx, c, v.updated_at).await?;
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(version)
            }

            async fn timeline(&self, child_id: Uuid, before: Option<(DateTime<Utc>, Uuid)>, consultations: Option<&[Uuid]>, limit: i64) -> StoreResult<Vec<TimelineRow>> {
                // each kind of event is a branch that takes at most `limit` rows of its own
                // (newest first, after the cursor) through its index; the union is then cut to
                // `limit`: cheap however long the child's history is
                let branches: [(&str, &str, &str, &str, &str); 8] = [
                    ("created_at", "'concern'", "id", "CAST(NULL AS UUID)", "domains FROM concerns WHERE child_id = "),
                    ("recorded_at", "'consent'", "id", "CAST(NULL AS UUID)", "purpose || ':' || decision || ':' || status FROM consents WHERE child_id = "),
                    ("withdrawn_at", "'consent_withdrawn'", "id", "CAST(NULL AS UUID)", "purpose FROM consents WHERE withdrawn_at IS NOT NULL AND child_id = "),
                    ("created_at", "'consultation'", "id", "id", "expertise || ':' || urgency FROM consultations WHERE child_id = "),
                    ("r.decided_at", "'routing'", "r.id", "r.consultation_id", "r.trigger FROM routing_decisions r JOIN consultations k ON k.id = r.consultation_id WHERE k.child_id = "),
                    ("accepted_at", "'accepted'", "id", "id", "status FROM consultations WHERE accepted_at IS NOT NULL AND child_id = "),
                    ("created_at", "'visit'", "id", "consultation_id", "kind || ':' || status FROM visits WHERE child_id = "),
                    ("closed_at", "'outcome'", "id", "id", "outcome FROM consultations WHERE closed_at IS NOT NULL AND child_id = "),
                ];
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT happened_at, kind, id, consultation_id, detail FROM (");
                for (i, (at, kind, id, consultation, rest)) in branches.iter().enumerate() {
                    if i > 0 {
                        qb.push(" UNION ALL ");
                    }
                    let (detail, from) = rest.split_once(" FROM ").expect("a branch reads from a table");
                    qb.push(format!(
                        "SELECT * FROM (SELECT {at} AS happened_at, {kind} AS kind, {id} AS id, \
                         {consultation} AS consultation_id, {detail} AS detail FROM {from}"
                    ));
                    qb.push_bind(child_id);
                    if let Some(ids) = consultations {
                        qb.push(format!(" AND {consultation} IN ("));
                        let mut sep = qb.separated(", ");
                        sep.push_bind(Uuid::nil());
                        for c in ids {
                            sep.push_bind(*c);
                        }
                        qb.push(")");
                    }
                    if let Some((cursor_at, cursor_id)) = before {
                        qb.push(format!(" AND ({at} < ")).push_bind(cursor_at);
                        qb.push(format!(" OR ({at} = ")).push_bind(cursor_at);
                        qb.push(format!(" AND {id} < ")).push_bind(cursor_id).push("))");
                    }
                    qb.push(format!(" ORDER BY {at} DESC, {id} DESC LIMIT ")).push_bind(limit).push(") b");
                    qb.push(i.to_string());
                }
                qb.push(") t ORDER BY happened_at DESC, id DESC LIMIT ").push_bind(limit);
                Ok(qb.build_query_as().fetch_all(self.reader()).await?)
            }
        }

        impl $store {
            /// Recomputes the summaries of the half-years whose records changed since the last
            /// refresh (all of them when `full` or the first time), from one snapshot.
            async fn refresh_figures_once(&self, now: DateTime<Utc>, full: bool) -> StoreResult<FigureRefresh> {
                use $crate::domain::figures::{ConsentFacts, RequestFacts, Tally, VisitFacts};
                use futures::TryStreamExt;
                let mut snap = self.begin_snapshot().await?;
                let done: Option<i64> = sqlx::query_scalar("SELECT through_change FROM figure_refresh WHERE id = 1")
                    .fetch_optional(&mut *snap)
                    .await?;
                let full = full || done.is_none();
                let (through, half_years) = if full {
                    let through: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM figure_changes")
                        .fetch_one(&mut *snap)
                        .await?;
                    (through, Vec::new())
                } else {
                    let changed: Vec<(String, i64)> =
                        sqlx::query_as("SELECT half_year, MAX(id) FROM figure_changes GROUP BY half_year ORDER BY half_year")
                            .fetch_all(&mut *snap)
                            .await?;
                    (changed.iter().map(|c| c.1).max(), changed.into_iter().map(|c| c.0).collect())
                };
                let through = through.unwrap_or(0).max(done.unwrap_or(0));
                // only what the figures count leaves the database: no child, no free text
                let filter = |qb: &mut QueryBuilder<'_, $db>| {
                    if full {
                        qb.push(" WHERE t.half_year IS NOT NULL");
                    } else {
                        Self::push_in(qb, " WHERE t.half_year", &half_years);
                    }
                };
                let mut tally = Tally::default();
                if full || !half_years.is_empty() {
                    type RequestTuple = (
                        Option<String>, String, Option<String>, Option<Uuid>, Option<Uuid>, String, String, String,
                        Option<String>, i64, bool, Option<bool>, DateTime<Utc>, Option<DateTime<Utc>>, Option<NaiveDate>,
                    );
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT t.region_code, t.half_year, t.age_band, t.organization_id, s.organization_id, t.expertise, \
                         t.urgency, t.status, t.outcome, t.reroutes, t.ever_unassigned, t.consent_delayed, t.created_at, \
                         t.accepted_at, t.first_visit_on FROM consultations t LEFT JOIN staff s ON s.id = t.assigned_to",
                    );
                    filter(&mut qb);
                    let mut rows = qb.build_query_as::<RequestTuple>().fetch(&mut *snap);
                    while let Some(r) = rows.try_next().await? {
                        let (Some(region_code), Some(age_band)) = (r.0, r.2) else { continue };
                        tally.request(&RequestFacts {
                            region_code, half_year: r.1, age_band, organization_id: r.3, provider_id: r.4, expertise: r.5,
                            urgency: r.6, status: r.7, outcome: r.8, reroutes: r.9, ever_unassigned: r.10,
                            consent_delayed: r.11, created_at: r.12, accepted_at: r.13, first_visit_on: r.14,
                        });
                    }
                    drop(rows);
                    type ConsentTuple = (Option<String>, String, Option<String>, Option<Uuid>, Option<Uuid>, String, String, String);
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT t.region_code, t.half_year, t.age_band, t.organization_id, t.recipient_organization_id, \
                         t.purpose, t.decision, t.status FROM consents t",
                    );
                    filter(&mut qb);
                    let mut rows = qb.build_query_as::<ConsentTuple>().fetch(&mut *snap);
                    while let Some(r) = rows.try_next().await? {
                        let (Some(region_code), Some(age_band)) = (r.0, r.2) else { continue };
                        tally.consent(&ConsentFacts {
                            region_code, half_year: r.1, age_band, organization_id: r.3, recipient_id: r.4,
                            purpose: r.5, decision: r.6, status: r.7,
                        });
                    }
                    drop(rows);
                    type VisitTuple = (Option<String>, String, Option<String>, Option<Uuid>, Option<Uuid>, String, String);
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT t.region_code, t.half_year, t.age_band, t.organization_id, s.organization_id, t.status, \
                         t.competences FROM visits t LEFT JOIN staff s ON s.id = t.specialist_id",
                    );
                    filter(&mut qb);
                    let mut rows = qb.build_query_as::<VisitTuple>().fetch(&mut *snap);
                    while let Some(r) = rows.try_next().await? {
                        let (Some(region_code), Some(age_band)) = (r.0, r.2) else { continue };
                        tally.visit(&VisitFacts {
                            region_code, half_year: r.1, age_band, organization_id: r.3, provider_id: r.4,
                            status: r.5, competences: r.6,
                        });
                    }
                }
                let counts = tally.counts();
                let timings = tally.timings();
                let mut tx = if Self::SUMMARIES_WRITTEN_IN_SNAPSHOT {
                    snap
                } else {
                    snap.rollback().await?;
                    let mut tx = self.begin_write().await?;
                    // a refresh that read a newer snapshot has written already: this one is older
                    let stored: Option<i64> = sqlx::query_scalar("SELECT through_change FROM figure_refresh WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                    if stored.is_some_and(|s| s > through) {
                        return Ok(FigureRefresh { skipped: true, ..FigureRefresh::default() });
                    }
                    tx
                };
                for table in ["figure_summary", "figure_timings"] {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!("DELETE FROM {table}"));
                    if !full {
                        Self::push_in(&mut qb, " WHERE half_year", &half_years);
                    }
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in counts.chunks(3000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO figure_summary (scope_kind, scope_org, figure, region_code, half_year, age_band, category, n) ",
                    );
                    qb.push_values(chunk, |mut b, (cell, figure, category, n)| {
                        b.push_bind(cell.scope.as_str()).push_bind(cell.org).push_bind(figure.name())
                            .push_bind(cell.region_code.clone()).push_bind(cell.half_year.clone())
                            .push_bind(cell.age_band.clone()).push_bind(category.clone()).push_bind(*n);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in timings.chunks(2000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO figure_timings (scope_kind, scope_org, region_code, half_year, age_band, accepted, \
                         median_hours, p90_hours, visited, median_days, p90_days) ",
                    );
                    qb.push_values(chunk, |mut b, (cell, t)| {
                        b.push_bind(cell.scope.as_str()).push_bind(cell.org).push_bind(cell.region_code.clone())
                            .push_bind(cell.half_year.clone()).push_bind(cell.age_band.clone()).push_bind(t.accepted)
                            .push_bind(t.median_hours).push_bind(t.p90_hours).push_bind(t.visited)
                            .push_bind(t.median_days).push_bind(t.p90_days);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                // in PostgreSQL this deletes only the changes the snapshot saw; in SQLite ids are
                // in commit order, so those are all the changes up to `through`
                sqlx::query("DELETE FROM figure_changes WHERE id <= $1").bind(through).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO figure_refresh (id, refreshed_at, through_change) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET refreshed_at = excluded.refreshed_at, through_change = excluded.through_change",
                )
                .bind(now)
                .bind(through)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                if full {
                    // the planner's statistics of the summaries changed wholesale
                    for table in ["figure_summary", "figure_timings"] {
                        sqlx::query(&format!("ANALYZE {table}")).execute(self.writer()).await?;
                    }
                }
                Ok(FigureRefresh {
                    full,
                    half_years,
                    rows: (counts.len() + timings.len()) as u64,
                    skipped: false,
                })
            }

            /// Which summary rows a scope reads.
            fn push_figure_scope(qb: &mut QueryBuilder<'_, $db>, scope: &FigureScope) {
                let (kind, org) = match (scope.organization_id, scope.provider_id) {
                    (Some(o), _) => ("organization", o),
                    (None, Some(p)) => ("provider", p),
                    (None, None) => ("region", Uuid::nil()),
                };
                qb.push(" AND scope_kind = ").push_bind(kind).push(" AND scope_org = ").push_bind(org);
                if let Some(regions) = &scope.region_codes {
                    Self::push_in(qb, " AND region_code", regions);
                }
                Self::push_in(qb, " AND half_year", &scope.half_years);
            }

            /// `{column} IN (…values)`; never an empty list (an empty string matches nothing).
            fn push_in(qb: &mut QueryBuilder<'_, $db>, column: &str, values: &[String]) {
                qb.push(column).push(" IN (");
                let mut sep = qb.separated(", ");
                sep.push_bind(String::new());
                for v in values {
                    sep.push_bind(v.clone());
                }
                qb.push(")");
            }
        }

        #[async_trait::async_trait]
        impl FigureStore for $store {
            async fn refresh_figures(&self, now: DateTime<Utc>, full: bool) -> StoreResult<FigureRefresh> {
                match self.refresh_figures_once(now, full).await {
                    // another replica refreshed at the same time (PostgreSQL): its summaries stand
                    Err(StoreError::Database(sqlx::Error::Database(e))) if matches!(e.code().as_deref(), Some("40001" | "40P01")) => {
                        Ok(FigureRefresh { skipped: true, ..FigureRefresh::default() })
                    }
                    other => other,
                }
            }

            async fn figures_refreshed_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar("SELECT refreshed_at FROM figure_refresh WHERE id = 1")
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn figure_counts(&self, figures: &[CountFigure], scope: &FigureScope) -> StoreResult<Vec<CountRow>> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT figure, region_code, half_year, age_band, category, CAST(SUM(n) AS BIGINT) AS n FROM figure_summary WHERE 1 = 1",
                );
                let names: Vec<String> = figures.iter().map(|f| f.name().to_string()).collect();
                Self::push_in(&mut qb, " AND figure", &names);
                Self::push_figure_scope(&mut qb, scope);
                qb.push(" GROUP BY figure, region_code, half_year, age_band, category");
                let rows: Vec<(String, String, String, String, String, i64)> = qb.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(figure, region_code, half_year, age_band, category, n)| {
                        let figure = figures.iter().copied().find(|f| f.name() == figure)?;
                        Some(CountRow { figure, region_code, half_year, age_band, category, n })
                    })
                    .collect())
            }

            async fn figure_timings(&self, scope: &FigureScope) -> StoreResult<Vec<TimingRow>> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT region_code, half_year, age_band, accepted, median_hours, p90_hours, visited, median_days, p90_days \
                     FROM figure_timings WHERE 1 = 1",
                );
                Self::push_figure_scope(&mut qb, scope);
                type Row = (String, String, String, i64, Option<i64>, Option<i64>, i64, Option<i64>, Option<i64>);
                let rows: Vec<Row> = qb.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows
                    .into_iter()
                    .map(|r| TimingRow {
                        region_code: r.0,
                        half_year: r.1,
                        age_band: r.2,
                        stats: $crate::domain::figures::TimingStats {
                            accepted: r.3, median_hours: r.4, p90_hours: r.5, visited: r.6, median_days: r.7, p90_days: r.8,
                        },
                    })
                    .collect())
            }

            async fn bulk_insert(&self, table: &str, columns: &[&str], rows: &[Vec<BulkValue>]) -> StoreResult<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                // SQLite takes at most 32,766 parameters a statement, PostgreSQL 65,535
                let per = (30_000 / columns.len()).max(1);
                let mut tx = self.begin_write().await?;
                for chunk in rows.chunks(per) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!("INSERT INTO {table} ({}) ", columns.join(", ")));
                    qb.push_values(chunk, |mut b, row| {
                        for v in row {
                            match v {
                                BulkValue::Uuid(x) => b.push_bind(*x),
                                BulkValue::Text(x) => b.push_bind(x.clone()),
                                BulkValue::Int(x) => b.push_bind(*x),
                                BulkValue::Bool(x) => b.push_bind(*x),
                                BulkValue::Date(x) => b.push_bind(*x),
                                BulkValue::Time(x) => b.push_bind(*x),
                            };
                        }
                    });
                    qb.build().execute(&mut *tx).await.map_err(classify)?;
                }
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl RetentionStore for $store {
            async fn create_destruction_request(&self, row: &DestructionRequestRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO destruction_requests (id, child_id, organization_id, requested_by, reason, recorded_by_subject, \
                     requested_at, carried_out_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(row.organization_id)
                .bind(&row.requested_by)
                .bind(&row.reason)
                .bind(&row.recorded_by_subject)
                .bind(row.requested_at)
                .bind(row.carried_out_at)
                .execute(&mut *tx)
                .await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn purge(&self, cut: &$crate::domain::retention::Cutoffs, now: DateTime<Utc>) -> StoreResult<PurgeReport> {
                let mut report = PurgeReport::default();
                let mut tx = self.begin_write().await?;
                // early destruction on request
                let pending: Vec<(Uuid, Uuid)> =
                    sqlx::query_as("SELECT id, child_id FROM destruction_requests WHERE carried_out_at IS NULL")
                        .fetch_all(&mut *tx)
                        .await?;
                for (request, child) in pending {
                    Self::destroy_child(&mut tx, child).await?;
                    sqlx::query("UPDATE destruction_requests SET carried_out_at = $2, reason = NULL WHERE id = $1")
                        .bind(request)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    report.children_destroyed += 1;
                }
                // the youth-care file: closed requests past their period, with all they hold
                let closed = "SELECT id FROM consultations WHERE status IN ('completed', 'cancelled', 'rejected') \
                              AND COALESCE(closed_at, updated_at) < $1";
                report.visits += sqlx::query(&format!("DELETE FROM visits WHERE consultation_id IN ({closed})"))
                    .bind(cut.youth_care_file).execute(&mut *tx).await?.rows_affected();
                for table in ["consultation_declines", "routing_decisions", "consultation_consents"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE consultation_id IN ({closed})"))
                        .bind(cut.youth_care_file).execute(&mut *tx).await?;
                }
                report.consultations += sqlx::query(
                    "DELETE FROM consultations WHERE status IN ('completed', 'cancelled', 'rejected') \
                     AND COALESCE(closed_at, updated_at) < $1",
                )
                .bind(cut.youth_care_file).execute(&mut *tx).await?.rows_affected();
                // childcare signals without a request
                report.concerns += sqlx::query(
                    "DELETE FROM concerns WHERE created_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM consultations k WHERE k.concern_id = concerns.id)",
                )
                .bind(cut.concern).execute(&mut *tx).await?.rows_affected();
                // ended consent records no request rests on
                let ended = "SELECT id FROM consents WHERE status <> 'active' AND recorded_at < $1 AND NOT EXISTS \
                             (SELECT 1 FROM consultation_consents l WHERE l.consent_id = consents.id)";
                sqlx::query(&format!("DELETE FROM consent_givers WHERE consent_id IN ({ended})"))
                    .bind(cut.ended_consent).execute(&mut *tx).await?;
                report.consents += sqlx::query(&format!("DELETE FROM consents WHERE id IN ({ended})"))
                    .bind(cut.ended_consent).execute(&mut *tx).await?.rows_affected();
                report.meldcode_reports += sqlx::query("DELETE FROM veilig_thuis_reports WHERE created_at < $1")
                    .bind(cut.meldcode).execute(&mut *tx).await?.rows_affected();
                report.parent_links += sqlx::query("DELETE FROM parent_links WHERE expires_at < $1")
                    .bind(cut.parent_link).execute(&mut *tx).await?.rows_affected();
                // operational records
                report.webhook_records += sqlx::query("DELETE FROM webhook_attempts WHERE attempted_at < $1")
                    .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                report.webhook_records += sqlx::query(
                    "DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND NOT EXISTS \
                     (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = webhook_deliveries.id) AND message_id IN \
                     (SELECT id FROM webhook_messages WHERE created_at < $1)",
                )
                .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                report.webhook_records += sqlx::query(
                    "DELETE FROM webhook_messages WHERE created_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
                )
                .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                report.idempotency_keys += sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                // the access log from its start: the last purged entry's hash becomes the anchor
                let last: Option<(i64, String)> = sqlx::query_as(
                    "SELECT seq, hash FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log WHERE occurred_at < $1)",
                )
                .bind(cut.audit)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((seq, hash)) = last {
                    report.audit_entries += sqlx::query("DELETE FROM audit_log WHERE seq <= $1").bind(seq).execute(&mut *tx).await?.rows_affected();
                    // checkpoints of removed entries prove nothing any more
                    sqlx::query("DELETE FROM audit_checkpoints WHERE seq <= $1").bind(seq).execute(&mut *tx).await?;
                    sqlx::query("UPDATE audit_head SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1")
                        .bind(seq)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(report)
            }

            async fn seal_legacy_text(&self, seal: &(dyn for<'s> Fn(Uuid, &'s str) -> String + Send + Sync)) -> StoreResult<u64> {
                let mut sealed = 0u64;
                let mut touched = Vec::new();
                for (table, columns) in $crate::store::sql::LEGACY_TEXT {
                    let mut tx = self.begin_write().await?;
                    let ids: Vec<Uuid> = sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE plaintext_legacy"))
                        .fetch_all(&mut *tx)
                        .await?;
                    if ids.is_empty() {
                        continue;
                    }
                    for column in *columns {
                        let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
                            "SELECT id, {column} FROM {table} WHERE plaintext_legacy AND {column} IS NOT NULL"
                        ))
                        .fetch_all(&mut *tx)
                        .await?;
                        for (id, text) in rows {
                            sqlx::query(&format!("UPDATE {table} SET {column} = $2 WHERE id = $1"))
                                .bind(id)
                                .bind(seal(id, &text))
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    if *table == "consultations" {
                        // a cancellation or rejection reason was a person's words: it becomes the
                        // sealed note, and the status reason the gateway's own wording
                        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
                            "SELECT id, status, status_reason FROM consultations WHERE plaintext_legacy \
                             AND status IN ('cancelled', 'rejected') AND status_reason IS NOT NULL",
                        )
                        .fetch_all(&mut *tx)
                        .await?;
                        for (id, status, reason) in rows {
                            let wording = if status == "cancelled" {
                                "cancelled by the childcare organisation"
                            } else {
                                "rejected by the region's coordinator"
                            };
                            sqlx::query("UPDATE consultations SET status_note_sealed = $2, status_reason = $3 WHERE id = $1")
                                .bind(id)
                                .bind(seal(id, &reason))
                                .bind(wording)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    sealed += sqlx::query(&format!("UPDATE {table} SET plaintext_legacy = FALSE WHERE plaintext_legacy"))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    touched.push(*table);
                }
                for table in touched {
                    for statement in Self::AFTER_SEALING {
                        sqlx::query(&statement.replace("{table}", table)).execute(self.writer()).await?;
                    }
                }
                Ok(sealed)
            }

            async fn sealed_values(&self) -> StoreResult<Vec<SealedValue>> {
                let mut out = Vec::new();
                for (table, column) in $crate::store::sql::SEALED_COLUMNS {
                    let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
                        "SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND NOT {}",
                        if $crate::store::sql::has_legacy_flag(table) { "plaintext_legacy" } else { "FALSE" }
                    ))
                        .fetch_all(self.reader())
                        .await?;
                    out.extend(rows.into_iter().map(|(id, value)| SealedValue { table, column, id, value }));
                }
                Ok(out)
            }

            async fn reseal(&self, v: &SealedValue, sealed: &str) -> StoreResult<()> {
                sqlx::query(&format!("UPDATE {} SET {} = $2 WHERE id = $1 AND {} = $3", v.table, v.column, v.column))
                    .bind(v.id)
                    .bind(sealed)
                    .bind(&v.value)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl WebhookStore for $store {
            async fn create_endpoint(&self, row: &WebhookEndpointRow) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(row.id)
                .bind(row.organization_id)
                .bind(&row.url)
                .bind(&row.events)
                .bind(&row.signing)
                .bind(&row.secret)
                .bind(&row.status)
                .bind(&row.disabled_reason)
                .bind(row.created_at)
                .execute(self.writer())
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn get_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>> {
                Ok(sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_endpoints(&self, organization_id: Uuid) -> StoreResult<Vec<WebhookEndpointRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 ORDER BY id"
                ))
                .bind(organization_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn get_message(&self, id: Uuid) -> StoreResult<Option<WebhookMessageRow>> {
                Ok(sqlx::query_as("SELECT id, organization_id, event_type, data, created_at FROM webhook_messages WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn claim_deliveries(&self, owner: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64, per_endpoint: i64) -> StoreResult<Vec<DeliveryJob>> {
                // endpoints at their cap of deliveries in flight (by any relay) are passed over:
                // a slow receiver holds a few slots and never the whole relay
                let busy: Vec<(Uuid, i64)> = sqlx::query_as(
                    "SELECT endpoint_id, COUNT(*) FROM webhook_deliveries \
                     WHERE state = 'delivering' AND locked_until >= $1 GROUP BY endpoint_id",
                )
                .bind(now)
                .fetch_all(self.writer())
                .await?;
                let mut room: std::collections::HashMap<Uuid, i64> =
                    busy.iter().map(|(e, n)| (*e, per_endpoint - n)).collect();
                let full: Vec<Uuid> = room.iter().filter(|(_, r)| **r <= 0).map(|(e, _)| *e).collect();
                // the oldest due deliveries of the other endpoints (a lease that ran out is due)
                let mut candidates: Vec<(Uuid, Uuid)> = Vec::new();
                for due in [
                    "state = 'delivering' AND locked_until < ",
                    "state = 'pending' AND next_attempt_at <= ",
                ] {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT id, endpoint_id FROM webhook_deliveries WHERE ");
                    qb.push(due).push_bind(now);
                    if !full.is_empty() {
                        qb.push(" AND endpoint_id NOT IN (");
                        let mut sep = qb.separated(", ");
                        for e in &full {
                            sep.push_bind(*e);
                        }
                        qb.push(")");
                    }
                    qb.push(" ORDER BY next_attempt_at LIMIT ").push_bind(limit * 4);
                    candidates.extend(qb.build_query_as::<(Uuid, Uuid)>().fetch_all(self.writer()).await?);
                }
                let mut picked = Vec::new();
                for (id, endpoint) in candidates {
                    let r = room.entry(endpoint).or_insert(per_endpoint);
                    if *r > 0 && (picked.len() as i64) < limit {
                        *r -= 1;
                        picked.push(id);
                    }
                }
                if picked.is_empty() {
                    return Ok(Vec::new());
                }
                // lease them, unless another relay was quicker
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("UPDATE webhook_deliveries SET state = 'delivering', locked_until = ");
                qb.push_bind(lease_until).push(", lease_owner = ").push_bind(owner.to_string());
                qb.push(" WHERE id IN (SELECT id FROM webhook_deliveries WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in &picked {
                    sep.push_bind(*id);
                }
                qb.push(") AND ((state = 'pending' AND next_attempt_at <= ").push_bind(now);
                qb.push(") OR (state = 'delivering' AND locked_until < ").push_bind(now);
                qb.push("))").push(Self::LEASE_LOCK).push(") RETURNING id");
                let ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(self.writer()).await?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT d.id AS delivery_id, d.attempts, m.id AS message_id, m.event_type, m.data, \
                     m.created_at AS message_created_at, e.id AS endpoint_id, e.url, e.signing, e.secret \
                     FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id \
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id IN (",
                );
                let mut sep = qb.separated(", ");
                for id in &ids {
                    sep.push_bind(*id);
                }
                qb.push(")");
                Ok(qb.build_query_as().fetch_all(self.writer()).await?)
            }

            async fn finish_deliveries(&self, owner: &str, results: &[DeliveryResult]) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                for r in results {
                    let a = &r.attempt;
                    sqlx::query(&format!(
                        "INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ))
                    .bind(a.id)
                    .bind(a.delivery_id)
                    .bind(a.message_id)
                    .bind(a.endpoint_id)
                    .bind(a.attempted_at)
                    .bind(a.status_code)
                    .bind(&a.error)
                    .bind(a.duration_ms)
                    .bind(a.next_attempt_at)
                    .execute(&mut *tx)
                    .await?;
                    let (state, next, delivered) = match &r.outcome {
                        DeliveryOutcome::Delivered => ("delivered", a.attempted_at, Some(a.attempted_at)),
                        DeliveryOutcome::Retry { at } => ("pending", *at, None),
                        DeliveryOutcome::Failed | DeliveryOutcome::EndpointGone => ("failed", a.attempted_at, None),
                    };
                    sqlx::query(
                        "UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, next_attempt_at = $4, \
                         delivered_at = $5, last_status = $6, locked_until = NULL, lease_owner = NULL \
                         WHERE id = $1 AND lease_owner = $2",
                    )
                    .bind(a.delivery_id)
                    .bind(owner)
                    .bind(state)
                    .bind(next)
                    .bind(delivered)
                    .bind(a.status_code)
                    .execute(&mut *tx)
                    .await?;
                    if let DeliveryOutcome::EndpointGone = r.outcome {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'the receiver answered 410 Gone' WHERE id = $1",
                        )
                        .bind(a.endpoint_id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE webhook_deliveries SET state = 'failed' WHERE endpoint_id = $1 AND state = 'pending'")
                            .bind(a.endpoint_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_attempts(&self, endpoint_id: Uuid, after: Option<Uuid>, limit: i64) -> StoreResult<Vec<AttemptRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE endpoint_id = $1 AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(endpoint_id)
                .bind(after)
                .bind(limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn renew_leases(&self, owner: &str, ids: &[Uuid], until: DateTime<Utc>) -> StoreResult<()> {
                for chunk in ids.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("UPDATE webhook_deliveries SET locked_until = ");
                    qb.push_bind(until).push(" WHERE state = 'delivering' AND lease_owner = ").push_bind(owner.to_string()).push(" AND id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn release_leases(&self, owner: &str, ids: &[Uuid]) -> StoreResult<()> {
                for chunk in ids.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "UPDATE webhook_deliveries SET state = 'pending', locked_until = NULL, lease_owner = NULL WHERE state = 'delivering' AND lease_owner = ",
                    );
                    qb.push_bind(owner.to_string()).push(" AND id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn count_pending_deliveries(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state IN ('pending', 'delivering')")
                    .fetch_one(self.reader())
                    .await?)
            }

            async fn redeliver(&self, message_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64> {
                let mut tx = self.begin_write().await?;
                let message: Option<(Uuid, String)> =
                    sqlx::query_as("SELECT organization_id, event_type FROM webhook_messages WHERE id = $1")
                        .bind(message_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some((org, event_type)) = message else { return Err(StoreError::NotFound) };
                let endpoints: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT id, events FROM webhook_endpoints WHERE organization_id = $1 AND status = 'active'",
                )
                .bind(org)
                .fetch_all(&mut *tx)
                .await?;
                let mut n = 0;
                for (endpoint, events) in endpoints {
                    if !$crate::webhooks::subscribed(&events, &event_type) {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (id, message_id, endpoint_id, state, attempts, next_attempt_at) \
                         VALUES ($1, $2, $3, 'pending', 0, $4)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(message_id)
                    .bind(endpoint)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    n += 1;
                }
                tx.commit().await?;
                Ok(n)
            }
        }

        #[async_trait::async_trait]
        impl AuditStore for $store {
            async fn record(&self, records: &[AuditRecord]) -> StoreResult<()> {
                if records.is_empty() {
                    return Ok(());
                }
                let (done, committed) = tokio::sync::oneshot::channel();
                self.audit
                    .send((records.to_vec(), done))
                    .await
                    .map_err(|_| StoreError::Unavailable("the access-log writer has stopped".into()))?;
                committed
                    .await
                    .map_err(|_| StoreError::Unavailable("the access-log writer has stopped".into()))?
                    .map_err(StoreError::Unavailable)
            }

            async fn list_audit(&self, f: &AuditFilter) -> StoreResult<Vec<ChainedEntry>> {
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log \
                     WHERE ($1 IS NULL OR child_id = $1) AND ($2 IS NULL OR occurred_at >= $2) \
                     AND ($3 IS NULL OR occurred_at < $3) AND ($4 IS NULL OR seq > $4) \
                     AND ($6 IS NULL OR flag = $6) ORDER BY seq LIMIT $5"
                ))
                .bind(f.child_id)
                .bind(f.from)
                .bind(f.to)
                .bind(f.after_seq)
                .bind(f.limit)
                .bind(&f.flag)
                .fetch_all(self.reader())
                .await?;
                rows.into_iter().map(AuditRow::into_entry).collect()
            }

            async fn audit_chain(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<ChainedEntry>> {
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after_seq)
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows.into_iter().map(AuditRow::into_entry).collect()
            }

            async fn audit_anchor(&self) -> StoreResult<ChainCursor> {
                let (seq, hash): (i64, String) =
                    sqlx::query_as("SELECT anchor_seq, anchor_hash FROM audit_head WHERE id = 1")
                        .fetch_one(self.reader())
                        .await?;
                Ok(ChainCursor { seq, hash })
            }

            async fn record_checkpoint(&self, cp: &$crate::audit::checkpoint::Checkpoint) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (seq, anchor_seq) DO NOTHING",
                )
                .bind(cp.seq)
                .bind(&cp.hash)
                .bind(cp.anchor_seq)
                .bind(&cp.anchor_hash)
                .bind(cp.signed_at)
                .bind(&cp.key_id)
                .bind(&cp.signature)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn latest_checkpoint(&self) -> StoreResult<Option<$crate::audit::checkpoint::Checkpoint>> {
                let rows: Vec<(i64, String, i64, String, DateTime<Utc>, String, String)> = sqlx::query_as(
                    "SELECT seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature FROM audit_checkpoints \
                     ORDER BY seq DESC, anchor_seq DESC LIMIT 1",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature)| {
                        $crate::audit::checkpoint::Checkpoint { seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature }
                    })
                    .next())
            }

            async fn audit_checkpoints(&self) -> StoreResult<Vec<$crate::audit::checkpoint::Checkpoint>> {
                let rows: Vec<(i64, String, i64, String, DateTime<Utc>, String, String)> = sqlx::query_as(
                    "SELECT seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature FROM audit_checkpoints ORDER BY seq, anchor_seq",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature)| {
                        $crate::audit::checkpoint::Checkpoint { seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature }
                    })
                    .collect())
            }

            async fn audit_head(&self) -> StoreResult<ChainCursor> {
                let (seq, hash): (i64, String) =
                    sqlx::query_as("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
                        .fetch_one(self.reader())
                        .await?;
                Ok(ChainCursor { seq, hash })
            }
        }

        #[async_trait::async_trait]
        impl Maintenance for $store {
            async fn migrate(&self) -> StoreResult<()> {
                Self::migrator().run(self.writer()).await?;
                Ok(())
            }

            async fn ready(&self) -> bool {
                let latest = Self::migrator().iter().map(|m| m.version).max().unwrap_or(0);
                let applied: Result<Option<i64>, _> =
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                        .fetch_one(self.reader())
                        .await;
                matches!(applied, Ok(Some(v)) if v == latest)
            }

            async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.writer())
                    .await?)
            }

            async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(value)
                .execute(self.writer())
                .await?;
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(self.writer())
                    .await?)
            }

            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            async fn close(&self) {
                self.close_pools().await;
            }
        }
    };
}
