//! The NEN 7513 access log: every create, read, update, delete, search, export and transfer of a
//! child's data is recorded with who (user, role, organisation), what (resource, child), when,
//! why (purpose) and the outcome. Entries form a hash chain: each entry's hash covers its own
//! fields and the previous entry's hash, so editing, deleting or reordering an entry breaks the
//! chain at that entry. Entries hold ids, never child data, so they can outlive the records they
//! describe (retention).

pub mod checkpoint;
pub mod verify;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

crate::text_enum! {
    /// NEN 7513 event kinds.
    pub enum AuditAction {
        Create => "create",
        Read => "read",
        Update => "update",
        Delete => "delete",
        Search => "search",
        Export => "export",
        Transfer => "transfer",
    }
}

crate::text_enum! {
    /// How the access ended.
    pub enum AuditOutcome {
        Success => "success",
        /// Refused by authorisation or consent.
        Denied => "denied",
    }
}

/// Who acts: filled from the authenticated principal and the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditActor {
    pub issuer: String,
    pub subject: String,
    /// The role the access was made in (`mentor`, `integration`, …; `parent` for parent links).
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub staff_id: Option<Uuid>,
    pub request_id: String,
}

/// One access, before the store places it in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: AuditActor,
    pub action: AuditAction,
    /// The kind of record touched: `child`, `guardian`, `mentor`, `consent`, …
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub child_id: Option<Uuid>,
    /// Why the data was processed (NEN 7513 "doel").
    pub purpose: String,
    pub outcome: AuditOutcome,
    /// Marks exceptional events that every log view must show (e.g. `meldcode`).
    pub flag: Option<String>,
}

impl AuditRecord {
    /// A record of `action` on `resource_type` by `actor`, now.
    pub fn new(
        actor: &AuditActor,
        action: AuditAction,
        resource_type: &str,
        resource_id: Option<Uuid>,
        child_id: Option<Uuid>,
        purpose: &str,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            occurred_at: crate::domain::calendar::now(),
            actor: actor.clone(),
            action,
            resource_type: resource_type.to_string(),
            resource_id,
            child_id,
            purpose: purpose.to_string(),
            outcome: AuditOutcome::Success,
            flag: None,
        }
    }

    pub fn denied(mut self) -> Self {
        self.outcome = AuditOutcome::Denied;
        self
    }
}

/// A stored entry: its place in the chain and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEntry {
    pub seq: i64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of the entry at `seq` with `record`, following `prev_hash` (empty for the first).
/// SHA-256 over a fixed-order JSON array of every field, hex encoded.
pub fn chain_hash(prev_hash: &str, seq: i64, r: &AuditRecord) -> String {
    let canonical = serde_json::json!([
        prev_hash,
        seq,
        r.id,
        r.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        r.actor.issuer,
        r.actor.subject,
        r.actor.role,
        r.actor.organization_id,
        r.actor.staff_id,
        r.actor.request_id,
        r.action.as_str(),
        r.resource_type,
        r.resource_id,
        r.child_id,
        r.purpose,
        r.outcome.as_str(),
        r.flag,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {seq} was edited: its hash does not match its contents")]
    Edited { seq: i64 },
    #[error("entry {expected} is missing (deleted) before entry {found}")]
    Missing { expected: i64, found: i64 },
    #[error("entry {seq} does not follow the entry before it (reordered or replaced)")]
    Unlinked { seq: i64 },
    #[error("the chain ends at entry {last} but the chain head records entry {head}: entries were removed from the end")]
    Truncated { last: i64, head: i64 },
}

/// Position reached while verifying, carried from one batch of entries to the next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainCursor {
    pub seq: i64,
    pub hash: String,
}

/// Verifies consecutive `entries` after `cursor`, returning the new position.
pub fn verify_batch(
    cursor: &ChainCursor,
    entries: &[ChainedEntry],
) -> Result<ChainCursor, ChainBreak> {
    let mut at = cursor.clone();
    for e in entries {
        if e.seq != at.seq + 1 {
            return Err(if e.seq > at.seq + 1 {
                ChainBreak::Missing {
                    expected: at.seq + 1,
                    found: e.seq,
                }
            } else {
                ChainBreak::Unlinked { seq: e.seq }
            });
        }
        if chain_hash(&e.prev_hash, e.seq, &e.record) != e.hash {
            return Err(ChainBreak::Edited { seq: e.seq });
        }
        if e.prev_hash != at.hash {
            return Err(ChainBreak::Unlinked { seq: e.seq });
        }
        at = ChainCursor {
            seq: e.seq,
            hash: e.hash.clone(),
        };
    }
    Ok(at)
}

/// Checks that verification reached the head the store recorded at the last append.
pub fn verify_head(reached: &ChainCursor, head: &ChainCursor) -> Result<(), ChainBreak> {
    if reached.seq < head.seq {
        return Err(ChainBreak::Truncated {
            last: reached.seq,
            head: head.seq,
        });
    }
    if reached.seq > head.seq || reached.hash != head.hash {
        return Err(ChainBreak::Unlinked { seq: reached.seq });
    }
    Ok(())
}

/// Places `records` after `head`, computing each hash; returns the entries and the new head.
pub fn chain(head: &ChainCursor, records: &[AuditRecord]) -> (Vec<ChainedEntry>, ChainCursor) {
    let mut at = head.clone();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let seq = at.seq + 1;
        let hash = chain_hash(&at.hash, seq, r);
        out.push(ChainedEntry {
            seq,
            record: r.clone(),
            prev_hash: at.hash.clone(),
            hash: hash.clone(),
        });
        at = ChainCursor { seq, hash };
    }
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn actor() -> AuditActor {
        AuditActor {
            issuer: "kindbrug-dev".into(),
            subject: "m1".into(),
            role: "mentor".into(),
            organization_id: Some(Uuid::from_u128(1)),
            staff_id: None,
            request_id: "r".into(),
        }
    }

    fn records(n: usize) -> Vec<AuditRecord> {
        (0..n)
            .map(|i| {
                AuditRecord::new(
                    &actor(),
                    AuditAction::Read,
                    "child",
                    None,
                    Some(Uuid::from_u128(i as u128)),
                    "care",
                )
            })
            .collect()
    }

    #[test]
    fn a_clean_chain_verifies() {
        let (entries, head) = chain(&ChainCursor::default(), &records(5));
        let reached = verify_batch(&ChainCursor::default(), &entries).unwrap();
        assert_eq!(reached, head);
        verify_head(&reached, &head).unwrap();
    }

    #[test]
    fn batches_continue_the_chain() {
        let (first, head1) = chain(&ChainCursor::default(), &records(3));
        let (second, head2) = chain(&head1, &records(2));
        let at = verify_batch(&ChainCursor::default(), &first).unwrap();
        let at = verify_batch(&at, &second).unwrap();
        assert_eq!(at, head2);
    }

    proptest! {
        #[test]
        fn any_edit_delete_or_swap_is_found_at_its_entry(n in 2usize..12, pick in 0usize..12, kind in 0u8..4) {
            let (mut entries, head) = chain(&ChainCursor::default(), &records(n));
            let k = pick % n;
            let seq = entries[k].seq;
            match kind {
                0 => entries[k].record.purpose.push('x'),
                1 => entries[k].record.outcome = AuditOutcome::Denied,
                2 => { entries.remove(k); }
                _ => {
                    let j = (k + 1) % n;
                    let (a, b) = (entries[k].record.clone(), entries[j].record.clone());
                    entries[k].record = b;
                    entries[j].record = a;
                }
            }
            let result = verify_batch(&ChainCursor::default(), &entries)
                .and_then(|reached| verify_head(&reached, &head));
            let err = result.unwrap_err();
            let at = match err {
                ChainBreak::Edited { seq } | ChainBreak::Unlinked { seq } => seq,
                ChainBreak::Missing { expected, .. } => expected,
                ChainBreak::Truncated { last, .. } => last + 1,
            };
            if kind == 3 {
                prop_assert_eq!(at, seq.min(entries[(k + 1) % n].seq));
            } else {
                prop_assert_eq!(at, seq);
            }
        }
    }
}
