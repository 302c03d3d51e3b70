//! Verifying the whole chain from the store, in batches.

use super::{verify_batch, verify_head, ChainBreak, ChainCursor};
use crate::store::{Store, StoreError};

const BATCH: i64 = 5_000;

/// Walks the chain from the first entry; `Ok(Ok(n))` when all `n` entries verify,
/// `Ok(Err(break))` naming the first broken entry.
pub async fn verify_store(store: &dyn Store) -> Result<Result<u64, ChainBreak>, StoreError> {
    let head = store.audit_head().await?;
    // entries before the anchor were removed by retention; the chain continues from its hash
    let mut at: ChainCursor = store.audit_anchor().await?;
    let mut count = 0u64;
    loop {
        let entries = match store.audit_chain(at.seq, BATCH).await {
            Ok(e) => e,
            Err(StoreError::CorruptAuditEntry(seq)) => return Ok(Err(ChainBreak::Edited { seq })),
            Err(e) => return Err(e),
        };
        if entries.is_empty() {
            break;
        }
        count += entries.len() as u64;
        at = match verify_batch(&at, &entries) {
            Ok(next) => next,
            Err(brk) => return Ok(Err(brk)),
        };
    }
    Ok(verify_head(&at, &head).map(|_| count))
}
