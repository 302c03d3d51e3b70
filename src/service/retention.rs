//! Retention and re-encryption over the store, for the jobs and the CLI (the rules and periods are in
//! `domain::retention`). Both are idempotent and safe to run on several replicas.

use crate::audit::checkpoint::{AuditSigner, CheckpointExport};
use crate::crypto::Keyring;
use crate::domain::calendar::now;
use crate::domain::retention::RetentionPolicy;
use crate::store::{DynStore, PurgeReport, StoreResult};

/// Removes what is past its period and carries out early-destruction requests. When the access
/// log was cut from its start, a checkpoint with the new anchor is signed at once (without one,
/// a moved anchor reads as tampering).
pub async fn run(
    store: &DynStore,
    policy: &RetentionPolicy,
    signer: &AuditSigner,
    export: &CheckpointExport,
) -> StoreResult<PurgeReport> {
    let at = now();
    let report = store.purge(&policy.cutoffs(at), at).await?;
    // the web pages' sessions past their expiry (they hold no child data, but a table that only
    // grows is a leak)
    {
        use tower_sessions::ExpiredDeletion;
        if let Err(e) = store.web_sessions().delete_expired().await {
            tracing::warn!(error = %e, "expired web sessions were not deleted; tried again next round");
        }
    }
    // SMART assertions past their expiry (and the leeway): no longer a replay risk. A minute's
    // margin for replicas whose clocks differ a little.
    match store
        .forget_assertions(at - chrono::Duration::seconds(60))
        .await
    {
        Ok(n) if n > 0 => tracing::info!(assertions = n, "forgot expired SMART assertions"),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "expired SMART assertions were not forgotten; tried again next round")
        }
    }
    if report.audit_entries > 0 {
        crate::audit::checkpoint::take(store.as_ref(), signer, export, true).await?;
    }
    Ok(report)
}

/// Re-seals every value not sealed with the active key; returns (re-sealed, total).
pub async fn reencrypt(store: &DynStore, keys: &Keyring) -> anyhow::Result<(usize, usize)> {
    let values = store.sealed_values().await?;
    let mut done = 0;
    for v in &values {
        if keys.needs_reseal(&v.value) {
            let plain = keys.open(v.id, &v.value)?;
            store.reseal(v, &keys.seal(v.id, &plain)).await?;
            done += 1;
        }
    }
    Ok((done, values.len()))
}

/// Seals free text that rows from before sealing still hold in the clear (run at start).
pub async fn seal_legacy(store: &DynStore, keys: &Keyring) -> StoreResult<u64> {
    store
        .seal_legacy_text(&|id, text| keys.seal(id, text))
        .await
}
