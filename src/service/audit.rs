//! Reading the access log (admins). Entries name ids, never child data.

use super::paging::{seq_cursor, seq_page};
use crate::audit::{AuditAction, AuditRecord, ChainedEntry};
use crate::domain::access::may_read_audit_log;
use crate::domain::types::Role;
use crate::store::AuditFilter;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Ctx, PageOf, ServiceError, ServiceResult};
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub child_id: Option<Uuid>,
    /// From this instant (inclusive, RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (exclusive, RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only entries with this flag (`meldcode`: Veilig Thuis informed without consent).
    pub flag: Option<String>,
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the last sequence number seen.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditActorView {
    pub issuer: String,
    pub subject: String,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub staff_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: AuditActorView,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub child_id: Option<Uuid>,
    pub purpose: String,
    pub outcome: String,
    /// Exceptional events (e.g. `meldcode`) that every view must show.
    pub flag: Option<String>,
    pub request_id: String,
    pub hash: String,
}

impl From<ChainedEntry> for AuditEntryView {
    fn from(e: ChainedEntry) -> Self {
        let r = e.record;
        Self {
            seq: e.seq,
            id: r.id,
            occurred_at: r.occurred_at,
            actor: AuditActorView {
                issuer: r.actor.issuer,
                subject: r.actor.subject,
                role: r.actor.role,
                organization_id: r.actor.organization_id,
                staff_id: r.actor.staff_id,
            },
            action: r.action.as_str().into(),
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            child_id: r.child_id,
            purpose: r.purpose,
            outcome: r.outcome.as_str().into(),
            flag: r.flag,
            request_id: r.actor.request_id,
            hash: e.hash,
        }
    }
}

/// Purpose recorded when the access log itself is read.
pub const PURPOSE_AUDIT_REVIEW: &str = "audit_review";

/// The access log, filtered by child and period, oldest first. Each read is itself logged.
#[tracing::instrument(skip_all)]
pub async fn list_audit(
    state: &Ctx,
    caller: &Caller,
    q: AuditParams,
) -> ServiceResult<PageOf<AuditEntryView>> {
    let p = caller.principal()?;
    let role = p.roles.first().copied().unwrap_or(Role::Admin);
    let log_read = |outcome_denied: bool| {
        let record = AuditRecord::new(
            &p.audit_actor(role),
            AuditAction::Search,
            "access_log",
            None,
            q.child_id,
            PURPOSE_AUDIT_REVIEW,
        );
        if outcome_denied {
            record.denied()
        } else {
            record
        }
    };
    // NEN 7513: reads of the log are logged too, refused ones included
    if !may_read_audit_log(&p.actor()) {
        state.store.record(&[log_read(true)]).await?;
        return Err(ServiceError::forbidden(
            "only an admin reads the access log",
        ));
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(ServiceError::field("from", "must not be after to"));
        }
    }
    let (after_seq, limit) = seq_page(q.limit, q.cursor.as_deref())?;
    let filter = AuditFilter {
        child_id: q.child_id,
        from: q.from,
        to: q.to,
        flag: q.flag,
        after_seq,
        limit,
    };
    let entries = state.store.list_audit(&filter).await?;
    state.store.record(&[log_read(false)]).await?;
    let next_cursor = if entries.len() as i64 == limit {
        entries.last().map(|e| seq_cursor(e.seq))
    } else {
        None
    };
    Ok(PageOf {
        items: entries.into_iter().map(Into::into).collect(),
        next_cursor,
    })
}

/// The result of checking the access log's chain, as `kindbrug audit verify` reports it.
#[derive(Serialize, ToSchema)]
pub struct ChainReport {
    pub intact: bool,
    pub entries: u64,
    pub checkpoints: usize,
    /// Everything up to this entry is proven by a signed checkpoint.
    pub newest_checkpoint: Option<i64>,
    pub head: Option<i64>,
    /// Where and how it is broken.
    pub broken: Option<String>,
}

/// Walks the whole chain and checks it against the signed checkpoints (admins); the check is
/// itself logged.
#[tracing::instrument(skip_all)]
pub async fn verify_chain(state: &Ctx, caller: &Caller) -> ServiceResult<ChainReport> {
    let p = caller.principal()?;
    let role = p.roles.first().copied().unwrap_or(Role::Admin);
    let record = AuditRecord::new(
        &p.audit_actor(role),
        AuditAction::Search,
        "access_log",
        None,
        None,
        PURPOSE_AUDIT_REVIEW,
    );
    if !may_read_audit_log(&p.actor()) {
        state.store.record(&[record.denied()]).await?;
        return Err(ServiceError::forbidden(
            "only an admin reads the access log",
        ));
    }
    // logged before the walk: a check that does not finish is in the log too
    state.store.record(&[record]).await?;
    let verifier = state.audit_signer.verifier();
    let result =
        crate::audit::verify::verify_with_checkpoints(state.store.as_ref(), &[], &verifier).await?;
    Ok(match result {
        Ok(v) => ChainReport {
            intact: true,
            entries: v.entries,
            checkpoints: v.checkpoints,
            newest_checkpoint: v.newest_checkpoint,
            head: Some(v.head),
            broken: None,
        },
        Err(b) => ChainReport {
            intact: false,
            entries: 0,
            checkpoints: 0,
            newest_checkpoint: None,
            head: None,
            broken: Some(b.to_string()),
        },
    })
}
