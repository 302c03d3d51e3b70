//! The NEN 7513 access log: what is logged, who reads it, and that tampering is found.

use crate::common::*;
use crate::db_test;
use kindbrug::audit::verify::verify_store;
use kindbrug::audit::ChainBreak;

db_test!(
    async fn every_access_to_a_child_is_logged(app) {
        let w = app.world().await;
        let child = w.child_a1;
        app.get(&format!("/api/v1/children/{child}"), &w.mentor_a1_token).await.ok(200);
        app.get(&format!("/api/v1/children/{child}/guardians"), &w.integration_a).await.ok(200);
        app.get(&format!("/api/v1/children?location_id={}", w.loc_a1), &w.mentor_a1_token).await.ok(200);
        app.get(&format!("/api/v1/children/{child}"), &w.mentor_b1_token).await.problem(404);
        let log = app.get(&format!("/api/v1/audit?child_id={child}"), &app.admin()).await;
        let entries = log.ok(200)["items"].as_array().unwrap().clone();
        let summary: Vec<(String, String, String, String)> = entries
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_string(),
                    e["resource_type"].as_str().unwrap().to_string(),
                    e["actor"]["role"].as_str().unwrap().to_string(),
                    e["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let s = |a: &str, r: &str, role: &str, o: &str| (a.to_string(), r.to_string(), role.to_string(), o.to_string());
        assert_eq!(
            summary,
            [
                s("create", "child", "mentor", "success"),
                s("read", "child", "mentor", "success"),
                s("read", "guardian", "integration", "success"),
                s("search", "child", "mentor", "success"),
                s("read", "child", "mentor", "denied"),
            ]
        );
        let first = &entries[0];
        assert_eq!(first["actor"]["subject"], "mentor-a1");
        assert_eq!(first["actor"]["organization_id"], w.org_a.to_string());
        assert_eq!(first["actor"]["staff_id"], w.mentor_a1.to_string());
        assert_eq!(first["purpose"], "child_record");
        assert!(first["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        // no child data in the log
        assert!(!log.text.contains("Noor"));
        // the chain holds these and the entry for reading the log itself
        assert_eq!(verify_store(app.state.store.as_ref()).await.unwrap(), Ok(entries.len() as u64 + 1));
    }
);

db_test!(
    async fn only_admins_read_the_log(app) {
        let w = app.world().await;
        reads(&app, &w, 2).await;
        app.get("/api/v1/audit", &w.mentor_a1_token).await.problem(403);
        app.get("/api/v1/audit", &w.integration_a).await.problem(403);
        app.get("/api/v1/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", &app.admin()).await.problem(422);
        app.get("/api/v1/audit?from=yesterday", &app.admin()).await.problem(400);
        let all = app.get("/api/v1/audit?limit=1", &app.admin()).await;
        let next = all.ok(200)["next_cursor"].as_str().unwrap().to_string();
        let second = app.get(&format!("/api/v1/audit?limit=1&cursor={next}"), &app.admin()).await;
        assert_eq!(second.ok(200)["items"][0]["seq"], 2);
        let window = app.get("/api/v1/audit?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z", &app.admin()).await;
        assert!(window.ok(200)["items"].as_array().unwrap().is_empty());
    }
);

/// Makes `n` more entries (reads of the child).
async fn reads(app: &TestApp, w: &World, n: usize) {
    for _ in 0..n {
        app.get(
            &format!("/api/v1/children/{}", w.child_a1),
            &w.mentor_a1_token,
        )
        .await
        .ok(200);
    }
}

db_test!(
    async fn one_changed_byte_is_found_at_its_entry(app) {
        let w = app.world().await;
        reads(&app, &w, 6).await;
        let store = app.state.store.as_ref();
        assert_eq!(verify_store(store).await.unwrap(), Ok(7));
        app.exec_sql("UPDATE audit_log SET purpose = 'child_recorc' WHERE seq = 4").await;
        assert_eq!(verify_store(store).await.unwrap(), Err(ChainBreak::Edited { seq: 4 }));
        app.exec_sql("UPDATE audit_log SET purpose = 'child_record' WHERE seq = 4").await;
        assert_eq!(verify_store(store).await.unwrap(), Ok(7));
        app.exec_sql("UPDATE audit_log SET action = 'reaf' WHERE seq = 5").await;
        assert_eq!(verify_store(store).await.unwrap(), Err(ChainBreak::Edited { seq: 5 }));
    }
);

db_test!(
    async fn deleted_and_reordered_entries_are_found(app) {
        let w = app.world().await;
        reads(&app, &w, 6).await;
        let store = app.state.store.as_ref();
        app.exec_sql("DELETE FROM audit_log WHERE seq = 3").await;
        assert_eq!(verify_store(store).await.unwrap(), Err(ChainBreak::Missing { expected: 3, found: 4 }));
        // removing the newest entries is found against the chain head
        app.exec_sql("DELETE FROM audit_log WHERE seq >= 3").await;
        assert_eq!(verify_store(store).await.unwrap(), Err(ChainBreak::Truncated { last: 2, head: 7 }));
    }
);

db_test!(
    async fn swapped_entries_are_found(app) {
        let w = app.world().await;
        reads(&app, &w, 4).await;
        // swap the contents of entries 2 and 3 (numbers kept)
        app.exec_sql("UPDATE audit_log SET seq = -2 WHERE seq = 2").await;
        app.exec_sql("UPDATE audit_log SET seq = 2 WHERE seq = 3").await;
        app.exec_sql("UPDATE audit_log SET seq = 3 WHERE seq = -2").await;
        let result = verify_store(app.state.store.as_ref()).await.unwrap();
        assert_eq!(result, Err(ChainBreak::Edited { seq: 2 }));
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_verify_command_names_the_entry() {
    let app = TestApp::sqlite().await;
    let w = app.world().await;
    reads(&app, &w, 3).await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kindbrug"))
            .args(["audit", "verify"])
            .env("KINDBRUG_DATABASE_URL", &app.db_url)
            .env("KINDBRUG_DEV_JWT_SECRET", DEV_SECRET)
            .env_remove("KINDBRUG_CONFIG")
            .output()
            .unwrap()
    };
    let ok = run();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 entries verified"));
    app.exec_sql("UPDATE audit_log SET actor_subject = 'mentor-a2' WHERE seq = 2")
        .await;
    let broken = run();
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("entry 2 was edited"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_regions_import_command_checks_the_whole_file() {
    let app = TestApp::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |content: &str| {
        let file = dir.path().join("regions.csv");
        std::fs::write(&file, content).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_kindbrug"))
            .args(["regions", "import"])
            .arg(&file)
            .env("KINDBRUG_DATABASE_URL", &app.db_url)
            .env_remove("KINDBRUG_CONFIG")
            .output()
            .unwrap()
    };
    let bad = run(&format!(
        "{REGIONS_CSV}GM12,X,JZ22,Utrecht Stad,2025-01-01\n"
    ));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 5: municipality_code"));
    assert_eq!(app.count("region_memberships").await, 0);
    let good = run(REGIONS_CSV);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert_eq!(app.count("region_memberships").await, 3);
}

/// Signs a checkpoint of the chain as it stands.
async fn checkpoint(app: &TestApp, export: &kindbrug::audit::checkpoint::CheckpointExport) {
    kindbrug::audit::checkpoint::take(
        app.state.store.as_ref(),
        &app.state.audit_signer,
        export,
        true,
    )
    .await
    .unwrap()
    .unwrap();
}

async fn verify_signed(
    app: &TestApp,
    given: &[kindbrug::audit::checkpoint::Checkpoint],
) -> Result<kindbrug::audit::verify::Verified, kindbrug::audit::verify::Broken> {
    kindbrug::audit::verify::verify_with_checkpoints(
        app.state.store.as_ref(),
        given,
        &app.state.audit_signer.verifier(),
    )
    .await
    .unwrap()
}

db_test!(
    /// Defect 5: the three rewritings the probe made without `audit verify` noticing are found
    /// against signed checkpoints: the newest entry removed with the head moved back, entries
    /// cut from the start with the anchor moved, and an edit with every later hash recomputed.
    async fn signed_checkpoints_find_truncation_and_recomputation(app) {
        use kindbrug::audit::checkpoint::CheckpointBreak;
        use kindbrug::audit::verify::Broken;
        let w = app.world().await;
        reads(&app, &w, 20).await;
        let none = Default::default();
        checkpoint(&app, &none).await;
        let ok = verify_signed(&app, &[]).await.unwrap();
        assert_eq!(ok.newest_checkpoint, Some(ok.head));
        let head = ok.head;

        // (a) remove the newest entry and set the head back one: the chain alone is "intact"
        let last = app.state.store.audit_chain(head - 2, 1).await.unwrap().remove(0);
        app.exec_sql(&format!("DELETE FROM audit_log WHERE seq = {head}")).await;
        app.exec_sql(&format!("UPDATE audit_head SET last_seq = {}, last_hash = '{}' WHERE id = 1", last.seq, last.hash)).await;
        assert!(verify_store(app.state.store.as_ref()).await.unwrap().is_ok(), "the chain alone does not see it");
        assert_eq!(verify_signed(&app, &[]).await.unwrap_err(), Broken::Checkpoint(CheckpointBreak::Truncated { last: head - 1, checkpoint: head }));
    }
);

db_test!(
    async fn cutting_the_start_and_moving_the_anchor_is_found(app) {
        use kindbrug::audit::checkpoint::CheckpointBreak;
        use kindbrug::audit::verify::Broken;
        let w = app.world().await;
        reads(&app, &w, 20).await;
        checkpoint(&app, &Default::default()).await;
        let tenth = app.state.store.audit_chain(9, 1).await.unwrap().remove(0);
        app.exec_sql("DELETE FROM audit_log WHERE seq <= 10").await;
        app.exec_sql(&format!("UPDATE audit_head SET anchor_seq = 10, anchor_hash = '{}' WHERE id = 1", tenth.hash)).await;
        assert!(verify_store(app.state.store.as_ref()).await.unwrap().is_ok(), "the chain alone does not see it");
        assert!(matches!(verify_signed(&app, &[]).await.unwrap_err(), Broken::Checkpoint(CheckpointBreak::CutFromStart { anchor: 10, checkpoint: 0 })));
    }
);

db_test!(
    async fn an_edit_with_every_later_hash_recomputed_is_found(app) {
        use kindbrug::audit::checkpoint::CheckpointBreak;
        use kindbrug::audit::verify::Broken;
        let w = app.world().await;
        reads(&app, &w, 10).await;
        checkpoint(&app, &Default::default()).await;
        reads(&app, &w, 5).await;
        // the probe's 20 lines of Python: edit entry 5, recompute every later hash and the head
        let store = app.state.store.as_ref();
        let entries = store.audit_chain(0, 1000).await.unwrap();
        let mut prev = entries[3].hash.clone();
        for e in &entries[4..] {
            let mut record = e.record.clone();
            if e.seq == 5 {
                record.purpose = "rewritten".into();
            }
            let hash = kindbrug::audit::chain_hash(&prev, e.seq, &record);
            app.exec_sql(&format!(
                "UPDATE audit_log SET purpose = '{}', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {}",
                record.purpose, e.seq
            ))
            .await;
            prev = hash;
        }
        let last = entries.last().unwrap().seq;
        app.exec_sql(&format!("UPDATE audit_head SET last_seq = {last}, last_hash = '{prev}' WHERE id = 1")).await;
        assert!(verify_store(store).await.unwrap().is_ok(), "the chain alone does not see it");
        let checkpointed = store.audit_checkpoints().await.unwrap()[0].seq;
        assert_eq!(verify_signed(&app, &[]).await.unwrap_err(), Broken::Checkpoint(CheckpointBreak::Rewritten { seq: checkpointed }));
    }
);

db_test!(
    /// The database's own checkpoints can be deleted by its writer; the exported file is what it
    /// cannot reach. A forged checkpoint (no key) is refused.
    async fn the_exported_checkpoints_outlive_the_databases_own(app) {
        use kindbrug::audit::checkpoint::CheckpointBreak;
        use kindbrug::audit::verify::Broken;
        let w = app.world().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("checkpoints.jsonl");
        let export = kindbrug::audit::checkpoint::CheckpointExport { file: Some(file.clone()) };
        reads(&app, &w, 5).await;
        checkpoint(&app, &export).await;
        reads(&app, &w, 5).await;
        checkpoint(&app, &export).await;
        let exported = kindbrug::audit::checkpoint::parse_lines(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(exported.len(), 2);
        let head = verify_signed(&app, &exported).await.unwrap().head;
        // the writer removes the newest entries, the head and its own checkpoints
        let keep = head - 3;
        let kept = app.state.store.audit_chain(keep - 1, 1).await.unwrap().remove(0);
        app.exec_sql(&format!("DELETE FROM audit_log WHERE seq > {keep}")).await;
        app.exec_sql(&format!("UPDATE audit_head SET last_seq = {keep}, last_hash = '{}' WHERE id = 1", kept.hash)).await;
        app.exec_sql("DELETE FROM audit_checkpoints").await;
        assert!(verify_signed(&app, &[]).await.is_ok(), "without the export nothing shows");
        assert!(matches!(verify_signed(&app, &exported).await.unwrap_err(), Broken::Checkpoint(CheckpointBreak::Truncated { .. })));
        // a checkpoint made up by the writer does not verify
        let mut forged = exported[1].clone();
        forged.seq = keep;
        forged.hash = kept.hash.clone();
        assert_eq!(verify_signed(&app, &[forged]).await.unwrap_err(), Broken::Checkpoint(CheckpointBreak::Forged { seq: keep }));
    }
);

db_test!(
    /// Retention cuts the log from its start and signs the new anchor at once: verification
    /// still passes.
    async fn retention_signs_the_new_anchor(app) {
        let w = app.world().await;
        reads(&app, &w, 6).await;
        checkpoint(&app, &Default::default()).await;
        app.exec_sql("UPDATE audit_log SET occurred_at = '2000-01-01T00:00:00+00:00' WHERE seq <= 4").await;
        let report = kindbrug::retention::run(&app.state.store, &app.state.config.retention, &app.state.audit_signer, &Default::default()).await.unwrap();
        assert_eq!(report.audit_entries, 4);
        let v = verify_signed(&app, &[]).await.unwrap();
        assert_eq!(v.newest_checkpoint, Some(v.head));
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_commands_sign_export_and_check_checkpoints() {
    let app = TestApp::sqlite().await;
    let w = app.world().await;
    reads(&app, &w, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cp.jsonl");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kindbrug"))
            .args(args)
            .env("KINDBRUG_DATABASE_URL", &app.db_url)
            .env("KINDBRUG_DEV_JWT_SECRET", DEV_SECRET)
            .env("KINDBRUG_AUDIT_CHECKPOINT_FILE", &file)
            .env_remove("KINDBRUG_CONFIG")
            .output()
            .unwrap()
    };
    assert!(run(&["audit", "checkpoint"]).status.success());
    let public = String::from_utf8(run(&["audit", "public-key"]).stdout).unwrap();
    let file_arg = file.to_str().unwrap();
    let ok = run(&[
        "audit",
        "verify",
        "--checkpoints",
        file_arg,
        "--public-key",
        public.trim(),
    ]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("signed checkpoints agree"), "{out}");
    // another key does not vouch for them
    let other = kindbrug::audit::checkpoint::AuditSigner::parse(
        &kindbrug::audit::checkpoint::AuditSigner::generate("x").into(),
    )
    .unwrap();
    let bad = run(&[
        "audit",
        "verify",
        "--checkpoints",
        file_arg,
        "--public-key",
        &other.public_key(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("does not verify"));
}
