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
