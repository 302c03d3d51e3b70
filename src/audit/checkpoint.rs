//! Signed checkpoints of the access log. The hash chain alone shows an edited or removed entry
//! only to someone who trusts the chain's head and anchor, which live in the same database: a
//! writer of that database can remove the newest entries and move the head back, cut entries
//! from the start and move the anchor, or edit an entry and recompute every later hash.
//!
//! A checkpoint is the chain's head (sequence number and hash) and its anchor (where retention
//! cut it), signed with an Ed25519 key the database does not hold (configuration, like the
//! encryption keys). Checkpoints are written regularly and after every retention run, to the
//! database, to an append-only file outside it and to the log (for a log shipper).
//! `kindbrug audit verify` checks the chain against the checkpoints it is given:
//! - an entry at a checkpointed position whose hash differs: the chain was rewritten;
//! - a chain ending before the newest checkpoint: entries were removed from the end;
//! - an anchor other than the newest checkpoint's: entries were removed from the start;
//! - a checkpoint whose signature does not verify: it was forged.
//!
//! What it does not protect: entries written after the newest checkpoint a verifier holds
//! (at most one checkpoint interval), and nothing at all if the signing key is taken too, or if
//! only the database's own copy of the checkpoints is checked by someone who can also delete them
//! (keep the file, or the log lines, somewhere the database writer cannot reach).

use super::ChainCursor;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A signed statement of where the chain stood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub anchor_seq: i64,
    pub anchor_hash: String,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    /// Ed25519 over [`Checkpoint::statement`], base64.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes signed: every field but the signature, in a fixed form.
    pub fn statement(&self) -> String {
        format!(
            "kindbrug-audit-checkpoint:v1|{}|{}|{}|{}|{}|{}",
            self.seq,
            self.hash,
            self.anchor_seq,
            self.anchor_hash,
            self.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.key_id
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointKeyError {
    #[error("audit_signing_key: write it as key-id:base64 of 32 bytes (`kindbrug audit keygen`)")]
    Malformed,
}

/// The key checkpoints are signed with.
pub struct AuditSigner {
    key_id: String,
    key: SigningKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditSigner({}, [REDACTED])", self.key_id)
    }
}

impl AuditSigner {
    /// Parses `key-id:base64(32-byte seed)`.
    pub fn parse(spec: &SecretString) -> Result<Self, CheckpointKeyError> {
        let (kid, seed) = spec
            .expose_secret()
            .trim()
            .split_once(':')
            .ok_or(CheckpointKeyError::Malformed)?;
        let bytes: [u8; 32] = B64
            .decode(seed)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointKeyError::Malformed)?;
        if kid.is_empty() || kid.contains(['|', ':', ',']) {
            return Err(CheckpointKeyError::Malformed);
        }
        Ok(Self {
            key_id: kid.to_string(),
            key: SigningKey::from_bytes(&bytes),
        })
    }

    /// A new key as `key-id:base64`.
    pub fn generate(kid: &str) -> String {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        format!("{kid}:{}", B64.encode(key.to_bytes()))
    }

    /// The public key, as `key-id:base64` (what a verifier is given).
    pub fn public_key(&self) -> String {
        format!(
            "{}:{}",
            self.key_id,
            B64.encode(self.key.verifying_key().to_bytes())
        )
    }

    pub fn verifier(&self) -> CheckpointVerifier {
        CheckpointVerifier {
            keys: HashMap::from([(self.key_id.clone(), self.key.verifying_key())]),
        }
    }

    /// Signs where the chain stands now.
    pub fn sign(&self, head: &ChainCursor, anchor: &ChainCursor, at: DateTime<Utc>) -> Checkpoint {
        let mut cp = Checkpoint {
            seq: head.seq,
            hash: head.hash.clone(),
            anchor_seq: anchor.seq,
            anchor_hash: anchor.hash.clone(),
            // the statement carries microseconds; keep exactly what is signed
            signed_at: DateTime::parse_from_rfc3339(
                &at.to_rfc3339_opts(SecondsFormat::Micros, true),
            )
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(at),
            key_id: self.key_id.clone(),
            signature: String::new(),
        };
        cp.signature = B64.encode(self.key.sign(cp.statement().as_bytes()).to_bytes());
        cp
    }
}

/// Public keys checkpoints are checked with, by key id.
#[derive(Debug, Clone, Default)]
pub struct CheckpointVerifier {
    keys: HashMap<String, VerifyingKey>,
}

impl CheckpointVerifier {
    /// Parses comma-separated `key-id:base64(32-byte public key)`.
    pub fn parse(spec: &str) -> Result<Self, CheckpointKeyError> {
        let mut keys = HashMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kid, key) = part.split_once(':').ok_or(CheckpointKeyError::Malformed)?;
            let bytes: [u8; 32] = B64
                .decode(key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(CheckpointKeyError::Malformed)?;
            let key =
                VerifyingKey::from_bytes(&bytes).map_err(|_| CheckpointKeyError::Malformed)?;
            keys.insert(kid.to_string(), key);
        }
        Ok(Self { keys })
    }

    pub fn merge(mut self, other: CheckpointVerifier) -> Self {
        self.keys.extend(other.keys);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Does the checkpoint's signature verify with the key it names?
    pub fn verifies(&self, cp: &Checkpoint) -> bool {
        let Some(key) = self.keys.get(&cp.key_id) else {
            return false;
        };
        let Ok(sig) = B64.decode(&cp.signature) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig) else {
            return false;
        };
        key.verify(cp.statement().as_bytes(), &sig).is_ok()
    }
}

/// Checkpoints as written to the export file: one JSON object a line.
pub fn parse_lines(text: &str) -> Result<Vec<Checkpoint>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// What the checkpoints say about a chain that verified on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointBreak {
    #[error("checkpoint at entry {seq} has a signature that does not verify (forged, or signed with a key not given)")]
    Forged { seq: i64 },
    #[error(
        "entry {seq} differs from the signed checkpoint: the chain was rewritten from there on"
    )]
    Rewritten { seq: i64 },
    #[error("the chain ends at entry {last} but a signed checkpoint records entry {checkpoint}: entries were removed from the end")]
    Truncated { last: i64, checkpoint: i64 },
    #[error("the chain starts after entry {anchor} but the newest checkpoint says it started after entry {checkpoint}: entries were removed from the start")]
    CutFromStart { anchor: i64, checkpoint: i64 },
}

/// Checks signatures, and returns the positions whose hashes the chain must have (those after
/// the anchor), or the first forged checkpoint.
pub fn expected_hashes(
    checkpoints: &[Checkpoint],
    verifier: &CheckpointVerifier,
    anchor: &ChainCursor,
) -> Result<HashMap<i64, String>, CheckpointBreak> {
    let mut out = HashMap::new();
    for cp in checkpoints {
        if !verifier.verifies(cp) {
            return Err(CheckpointBreak::Forged { seq: cp.seq });
        }
        if cp.seq > anchor.seq {
            out.insert(cp.seq, cp.hash.clone());
        }
    }
    Ok(out)
}

/// After the chain was walked to `reached` from `anchor`: does it reach the newest checkpoint,
/// and does it start where the newest checkpoint says?
pub fn check_ends(
    checkpoints: &[Checkpoint],
    anchor: &ChainCursor,
    reached: &ChainCursor,
) -> Result<(), CheckpointBreak> {
    let Some(newest) = checkpoints.iter().max_by_key(|c| (c.seq, c.signed_at)) else {
        return Ok(());
    };
    if reached.seq < newest.seq {
        return Err(CheckpointBreak::Truncated {
            last: reached.seq,
            checkpoint: newest.seq,
        });
    }
    // retention moves the anchor and signs a checkpoint at once: the newest knows the anchor
    let latest_anchor = checkpoints
        .iter()
        .max_by_key(|c| c.signed_at)
        .expect("not empty");
    if anchor.seq != latest_anchor.anchor_seq || anchor.hash != latest_anchor.anchor_hash {
        return Err(CheckpointBreak::CutFromStart {
            anchor: anchor.seq,
            checkpoint: latest_anchor.anchor_seq,
        });
    }
    Ok(())
}

/// Where checkpoints go besides the database: an append-only file (one JSON line each).
#[derive(Debug, Clone, Default)]
pub struct CheckpointExport {
    pub file: Option<std::path::PathBuf>,
}

/// Signs where the chain stands and keeps it (database, export file, log line), unless the
/// newest checkpoint already says the same. `force`: sign even then (after retention).
pub async fn take(
    store: &dyn crate::store::Store,
    signer: &AuditSigner,
    export: &CheckpointExport,
    force: bool,
) -> Result<Option<Checkpoint>, crate::store::StoreError> {
    let head = store.audit_head().await?;
    let anchor = store.audit_anchor().await?;
    if head.seq == 0 {
        return Ok(None);
    }
    let latest = store.latest_checkpoint().await?;
    let same = latest
        .as_ref()
        .is_some_and(|l| l.seq == head.seq && l.anchor_seq == anchor.seq);
    if same && !force {
        return Ok(None);
    }
    let cp = signer.sign(&head, &anchor, crate::domain::calendar::now());
    store.record_checkpoint(&cp).await?;
    let line = serde_json::to_string(&cp).expect("a checkpoint serialises");
    if let Some(path) = &export.file {
        use std::io::Write;
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_data()
            });
        if let Err(e) = written {
            tracing::warn!(file = %path.display(), error = %e, "could not append the access-log checkpoint to its export file");
        }
    }
    // for a log shipper: the signed checkpoint itself, which holds no child data
    tracing::info!(target: "kindbrug::audit::checkpoint", checkpoint = %line, "access log checkpoint signed");
    Ok(Some(cp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(seq: i64, hash: &str) -> ChainCursor {
        ChainCursor {
            seq,
            hash: hash.into(),
        }
    }

    #[test]
    fn signed_checkpoints_verify_and_forgeries_do_not() {
        let signer = AuditSigner::parse(&SecretString::from(AuditSigner::generate("a1"))).unwrap();
        let cp = signer.sign(&cur(10, "h10"), &cur(0, ""), Utc::now());
        let v = signer.verifier();
        assert!(v.verifies(&cp));
        let mut moved = cp.clone();
        moved.seq = 9;
        assert!(
            !v.verifies(&moved),
            "a changed position breaks the signature"
        );
        let other = AuditSigner::parse(&SecretString::from(AuditSigner::generate("a1"))).unwrap();
        assert!(
            !other.verifier().verifies(&cp),
            "another key does not verify it"
        );
        // the public key round-trips for a verifier that holds only it
        let public = CheckpointVerifier::parse(&signer.public_key()).unwrap();
        assert!(public.verifies(&cp));
        let line = serde_json::to_string(&cp).unwrap();
        assert_eq!(
            parse_lines(&format!("{line}\n\n{line}\n")).unwrap().len(),
            2
        );
    }

    #[test]
    fn truncation_and_cuts_show() {
        let signer = AuditSigner::parse(&SecretString::from(AuditSigner::generate("a1"))).unwrap();
        let t0 = Utc::now();
        let cps = vec![
            signer.sign(&cur(5, "h5"), &cur(0, ""), t0),
            signer.sign(
                &cur(10, "h10"),
                &cur(0, ""),
                t0 + chrono::Duration::seconds(1),
            ),
        ];
        let v = signer.verifier();
        let expect = expected_hashes(&cps, &v, &cur(0, "")).unwrap();
        assert_eq!(expect.get(&10).map(String::as_str), Some("h10"));
        check_ends(&cps, &cur(0, ""), &cur(12, "h12")).unwrap();
        assert_eq!(
            check_ends(&cps, &cur(0, ""), &cur(9, "h9")).unwrap_err(),
            CheckpointBreak::Truncated {
                last: 9,
                checkpoint: 10
            }
        );
        assert!(matches!(
            check_ends(&cps, &cur(3, "h3"), &cur(12, "h12")).unwrap_err(),
            CheckpointBreak::CutFromStart { .. }
        ));
        // after retention the newest checkpoint carries the new anchor
        let mut after = cps.clone();
        after.push(signer.sign(
            &cur(12, "h12"),
            &cur(3, "h3"),
            t0 + chrono::Duration::seconds(2),
        ));
        check_ends(&after, &cur(3, "h3"), &cur(12, "h12")).unwrap();
        let mut forged = cps[1].clone();
        forged.hash = "other".into();
        assert_eq!(
            expected_hashes(&[forged], &v, &cur(0, "")).unwrap_err(),
            CheckpointBreak::Forged { seq: 10 }
        );
    }
}
