//! Verifying the whole chain from the store, in batches, and against signed checkpoints.

use super::checkpoint::{
    check_ends, expected_hashes, Checkpoint, CheckpointBreak, CheckpointVerifier,
};
use super::{verify_batch, verify_head, ChainBreak, ChainCursor};
use crate::store::{Store, StoreError};

const BATCH: i64 = 5_000;

/// Walks the chain from the first entry; `Ok(Ok(n))` when all `n` entries verify,
/// `Ok(Err(break))` naming the first broken entry. The chain alone: see [`verify_with_checkpoints`].
pub async fn verify_store(store: &dyn Store) -> Result<Result<u64, ChainBreak>, StoreError> {
    Ok(walk(store, &Default::default())
        .await?
        .map(|(n, _, _)| n)
        .map_err(|b| match b {
            Broken::Chain(c) => c,
            Broken::Checkpoint(_) => unreachable!("no checkpoints were given"),
        }))
}

/// How the log is broken: in its own chain, or against a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error(transparent)]
    Chain(#[from] ChainBreak),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointBreak),
}

/// What a verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    /// Signed checkpoints checked (the database's own and those given).
    pub checkpoints: usize,
    /// The newest checkpointed entry: everything up to it is proven by a signature.
    pub newest_checkpoint: Option<i64>,
    pub head: i64,
}

/// Walks the chain and checks it against every checkpoint the store holds and those `given`
/// (e.g. read from the export file), each of which must carry a signature `verifier` accepts.
pub async fn verify_with_checkpoints(
    store: &dyn Store,
    given: &[Checkpoint],
    verifier: &CheckpointVerifier,
) -> Result<Result<Verified, Broken>, StoreError> {
    let mut checkpoints = store.audit_checkpoints().await?;
    for cp in given {
        if !checkpoints.contains(cp) {
            checkpoints.push(cp.clone());
        }
    }
    let anchor = store.audit_anchor().await?;
    let expected = match expected_hashes(&checkpoints, verifier, &anchor) {
        Ok(e) => e,
        Err(b) => return Ok(Err(b.into())),
    };
    let (entries, reached, head) = match walk(store, &expected).await? {
        Ok(r) => r,
        Err(b) => return Ok(Err(b)),
    };
    if let Err(b) = check_ends(&checkpoints, &anchor, &reached) {
        return Ok(Err(b.into()));
    }
    Ok(Ok(Verified {
        entries,
        checkpoints: checkpoints.len(),
        newest_checkpoint: checkpoints.iter().map(|c| c.seq).max(),
        head: head.seq,
    }))
}

async fn walk(
    store: &dyn Store,
    expected: &std::collections::HashMap<i64, String>,
) -> Result<Result<(u64, ChainCursor, ChainCursor), Broken>, StoreError> {
    let head = store.audit_head().await?;
    // entries before the anchor were removed by retention; the chain continues from its hash
    let mut at: ChainCursor = store.audit_anchor().await?;
    let mut count = 0u64;
    loop {
        let entries = match store.audit_chain(at.seq, BATCH).await {
            Ok(e) => e,
            Err(StoreError::CorruptAuditEntry(seq)) => {
                return Ok(Err(ChainBreak::Edited { seq }.into()))
            }
            Err(e) => return Err(e),
        };
        if entries.is_empty() {
            break;
        }
        count += entries.len() as u64;
        at = match verify_batch(&at, &entries) {
            Ok(next) => next,
            Err(brk) => return Ok(Err(brk.into())),
        };
        for e in &entries {
            if expected.get(&e.seq).is_some_and(|h| *h != e.hash) {
                return Ok(Err(CheckpointBreak::Rewritten { seq: e.seq }.into()));
            }
        }
    }
    if let Err(b) = verify_head(&at, &head) {
        return Ok(Err(b.into()));
    }
    Ok(Ok((count, at, head)))
}
