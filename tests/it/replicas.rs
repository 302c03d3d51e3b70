//! Three gateway processes on one PostgreSQL, as a deployment runs them: capacity under racing
//! submissions, a withdrawal seen at once everywhere, webhooks delivered once by three relays
//! and after a `kill -9`, and the deadline job, retention and the figures' refresh each doing
//! their work once.

use crate::common::*;
use crate::consultations::{ctx, request, specialist};
use crate::webhooks::{endpoint, Receiver};
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A `kindbrug serve` process of the test's binary.
pub struct Replica {
    pub base: String,
    process: tokio::process::Child,
}

impl Replica {
    /// Starts a replica on `db_url` (already migrated) and waits until it is ready.
    pub async fn start(db_url: &str, extra: &[(&str, &str)]) -> Replica {
        Self::start_logging(db_url, extra, None).await
    }

    /// The same, its log written to `log` instead of the test's standard error.
    pub async fn start_logging(
        db_url: &str,
        extra: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Replica {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kindbrug"));
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KINDBRUG_CONFIG", "/nonexistent/kindbrug.toml")
            .env("KINDBRUG_DATABASE_URL", db_url)
            .env("KINDBRUG_LISTEN", format!("127.0.0.1:{port}"))
            .env("KINDBRUG_DEV_JWT_SECRET", DEV_SECRET)
            .env("KINDBRUG_PUBLIC_BASE_URL", "http://127.0.0.1:8080")
            .env("KINDBRUG_DEMO_ON_EMPTY", "false")
            .env("KINDBRUG_MIGRATE_ON_START", "false")
            .env("KINDBRUG_DATABASE_MAX_CONNECTIONS", "6")
            .env("KINDBRUG_SHUTDOWN_GRACE_SECONDS", "0")
            .env(
                "KINDBRUG_LOG",
                std::env::var("KINDBRUG_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                None => Stdio::inherit(),
            })
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut process = cmd.spawn().expect("start a replica");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            if let Ok(Some(exit)) = process.try_wait() {
                panic!("replica at {base} stopped at start: {exit}");
            }
            assert!(
                Instant::now() < deadline,
                "replica at {base} did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Replica { base, process }
    }

    /// `kill -9`: no shutdown, no lease handed back.
    pub async fn kill(&mut self) {
        self.process.start_kill().unwrap();
        let _ = self.process.wait().await;
    }

    /// SIGTERM, and the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.process.id().expect("running") as i32;
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(30), self.process.wait())
            .await
            .expect("exit in time")
            .unwrap()
    }
}

/// The status of a GET with `token`.
async fn status_of(client: &reqwest::Client, url: String, token: &str) -> u16 {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let pool = app.raw_pool().await;
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_on_one_postgresql() {
    // the harness's own gateway sets up the world; its relay and jobs stay off
    let Some(app) = TestApp::postgres_with(|c| c.relay_enabled = false).await else {
        return;
    };
    let c = ctx(&app).await;
    let w = &c.w;
    let (tiny, tiny_token) = specialist(&app, w.youth, "tiny", &["motor"], &["JZ22"], 3).await;
    let (other, other_token) = specialist(&app, w.youth, "other", &["motor"], &["JZ22"], 2).await;
    let rx = Receiver::default();
    // slow enough that a killed relay has deliveries in flight
    rx.delay_ms.store(40, Ordering::SeqCst);
    let url = rx.start().await;
    endpoint(&app, w.org_a, &url, "ed25519", json!(["*"])).await;
    let relay = [
        ("KINDBRUG_RELAY_LEASE_SECONDS", "3"),
        ("KINDBRUG_RELAY_BATCH", "8"),
        ("KINDBRUG_RELAY_CONCURRENCY", "4"),
        ("KINDBRUG_RELAY_POLL_MILLIS", "50"),
        ("KINDBRUG_WEBHOOK_TIMEOUT_SECONDS", "1"),
        ("KINDBRUG_DEADLINE_CHECK_SECONDS", "1"),
    ];
    let mut replicas = vec![
        Replica::start(&app.db_url, &relay).await,
        Replica::start(&app.db_url, &relay).await,
        Replica::start(&app.db_url, &relay).await,
    ];
    let client = reqwest::Client::new();

    // 1. 50 submissions race across the three: no specialist ever holds more than capacity
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (client, base, token, body) = (
            client.clone(),
            replicas[i % 3].base.clone(),
            w.mentor_a1_token.clone(),
            request(&c, "motor"),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/consultations"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
            r.json::<Value>().await.unwrap()
        }));
    }
    let mut offered_to_tiny = Vec::new();
    for t in tasks {
        let v = t.await.unwrap();
        if v["offered_to"] == tiny.to_string() {
            offered_to_tiny.push(v["id"].as_str().unwrap().to_string());
        }
    }
    let over = count(&app, "SELECT COUNT(*) FROM (SELECT s.id FROM consultations t JOIN staff s ON s.id = COALESCE(t.assigned_to, t.offered_to) \
                            WHERE t.status IN ('offered', 'accepted', 'in_progress') GROUP BY s.id, s.capacity HAVING COUNT(*) > s.capacity) x").await;
    assert_eq!(over, 0, "a specialist holds more than their capacity");
    assert_eq!(offered_to_tiny.len(), 3, "exactly tiny's capacity");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM consultations WHERE status = 'offered'"
        )
        .await,
        5,
        "both specialists full"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM consultations WHERE status = 'unassigned'"
        )
        .await,
        45,
        "the rest in the region's queue"
    );

    // 2. the specialist takes one; each replica serves it
    let id = &offered_to_tiny[0];
    let accepted = client
        .post(format!(
            "{}/api/v1/consultations/{id}/accept",
            replicas[1].base
        ))
        .bearer_auth(&tiny_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    for r in &replicas {
        let read = status_of(
            &client,
            format!("{}/api/v1/consultations/{id}", r.base),
            &tiny_token,
        )
        .await;
        assert_eq!(read, 200);
    }
    // 3. the deadline job runs on all three at once; each overdue offer moves on once
    let overdue = count(
        &app,
        "SELECT COUNT(*) FROM consultations WHERE status = 'offered'",
    )
    .await;
    assert!(overdue >= 1);
    app.exec_sql("UPDATE consultations SET answer_due = '2020-01-01T00:00:00+00:00' WHERE status = 'offered'").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let expired = count(
            &app,
            "SELECT COUNT(*) FROM consultation_declines WHERE kind = 'expired'",
        )
        .await;
        if expired >= overdue {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{expired} of {overdue} overdue offers moved on"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM consultation_declines WHERE kind = 'expired'"
        )
        .await,
        overdue,
        "an offer expired twice"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM (SELECT consultation_id, staff_id FROM consultation_declines GROUP BY 1, 2 HAVING COUNT(*) > 1) x").await, 0);

    // 4. a withdrawal through one replica refuses the very next access on each other one
    let withdrawn = client
        .post(format!(
            "{}/api/v1/consents/{}/withdraw",
            replicas[0].base, c.consent
        ))
        .bearer_auth(&w.mentor_a1_token)
        .json(&json!({"by": {"guardian_id": c.eva}}))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 200);
    for r in &replicas[1..] {
        let read = status_of(
            &client,
            format!("{}/api/v1/consultations/{id}", r.base),
            &tiny_token,
        )
        .await;
        assert_eq!(
            read, 403,
            "replica {} still let the specialist read",
            r.base
        );
        let fhir = status_of(
            &client,
            format!("{}/fhir/r4/Task/{id}", r.base),
            &tiny_token,
        )
        .await;
        assert_eq!(fhir, 403);
    }

    // 4b. a specialist deactivated through one replica is refused on the very next request on
    //     each replica, though each had just served them (and remembers who they are)
    for r in &replicas {
        let before = status_of(
            &client,
            format!("{}/api/v1/consultations?limit=1", r.base),
            &other_token,
        )
        .await;
        assert_eq!(before, 200, "replica {}", r.base);
    }
    let gone = client
        .post(format!(
            "{}/api/v1/staff/{other}/deactivate",
            replicas[0].base
        ))
        .bearer_auth(app.admin())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 200);
    for r in &replicas {
        let after = status_of(
            &client,
            format!("{}/api/v1/consultations?limit=1", r.base),
            &other_token,
        )
        .await;
        assert_eq!(
            after, 403,
            "replica {} still knew the deactivated specialist",
            r.base
        );
    }

    // 5. every webhook message is delivered by the three relays; one is killed mid-delivery
    let expected = count(&app, "SELECT COUNT(*) FROM webhook_deliveries").await;
    assert!(expected >= 50, "{expected}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while rx.counts().len() < 10 {
        assert!(Instant::now() < deadline, "nothing was delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    replicas[2].kill().await;
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let delivered = count(
            &app,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'",
        )
        .await;
        if delivered == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {expected} delivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counts = rx.counts();
    assert_eq!(counts.len() as i64, expected, "every message arrived");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "replicas: {expected} messages delivered after a kill -9, {} of them twice",
        twice.len()
    );
    // only what the killed relay had leased could come twice: at most its batch
    assert!(
        twice.len() <= 8 && twice.iter().all(|(_, n)| **n == 2),
        "duplicates beyond the killed relay's lease: {twice:?}"
    );

    // a replica stopped with SIGTERM exits 0
    for r in replicas.iter_mut().take(2) {
        let status = r.terminate().await;
        assert!(status.success(), "{status:?}");
    }
}

/// Retention and the figures' refresh started at the same moment by three replicas (three
/// stores of their own on one database, as three processes hold them): each piece of work is
/// done once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_and_figures_run_once_across_replicas() {
    let Some(app) = TestApp::postgres_with(|c| c.relay_enabled = false).await else {
        return;
    };
    let (c, _id) = crate::specialist_work::accepted(&app).await;
    let w = &c.w;
    for _ in 0..3 {
        app.post(
            "/api/v1/consultations",
            &w.mentor_a1_token,
            request(&c, "language"),
        )
        .await
        .ok(201);
    }
    let mut config = (*app.state.config).clone();
    config.database_url = app.db_url.clone().into();
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(kindbrug::open_store(&config).await.unwrap());
    }

    // the figures, refreshed by three at once, then rebuilt in full by one: the same summaries
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(3));
    let refreshes = stores.iter().map(|store| {
        let (store, start) = (store.clone(), start.clone());
        async move {
            start.wait().await;
            store
                .refresh_figures(kindbrug::domain::calendar::now(), false)
                .await
        }
    });
    for r in futures::future::join_all(refreshes).await {
        r.unwrap();
    }
    let summary = "SELECT COALESCE(string_agg(concat_ws('|', scope_kind, scope_org, figure, region_code, half_year, age_band, category, n), ',' \
                   ORDER BY concat_ws('|', scope_kind, scope_org, figure, region_code, half_year, age_band, category)), '') FROM figure_summary";
    let pool = app.raw_pool().await;
    let concurrent: String = sqlx::query_scalar(summary).fetch_one(&pool).await.unwrap();
    assert!(!concurrent.is_empty(), "the refresh summarised nothing");
    stores[0]
        .refresh_figures(kindbrug::domain::calendar::now(), true)
        .await
        .unwrap();
    let full: String = sqlx::query_scalar(summary).fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(
        concurrent, full,
        "three refreshes at once counted differently from one full build"
    );

    // retention: the child is to be destroyed; the specialist also holds other requests
    // (counted, as submissions elsewhere would): exactly this child's slots come back, once
    app.exec_sql("UPDATE staff SET capacity = capacity + 4, open_count = open_count + 4 WHERE subject = 'spec-1'")
        .await;
    let before = count(
        &app,
        "SELECT open_count::BIGINT FROM staff WHERE subject = 'spec-1'",
    )
    .await;
    let held = count(
        &app,
        "SELECT COUNT(*) FROM consultations k JOIN staff s ON s.id = COALESCE(k.assigned_to, k.offered_to) \
         WHERE s.subject = 'spec-1' AND k.status IN ('offered', 'accepted', 'in_progress', 'on_hold')",
    )
    .await;
    assert!(held >= 1);
    app.post(
        &format!("/api/v1/children/{}/destruction-requests", w.child_a1),
        &w.mentor_a1_token,
        json!({"requested_by": {"guardian_id": c.eva}}),
    )
    .await
    .ok(202);
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(3));
    let runs = stores.iter().map(|store| {
        let (store, start, app) = (store.clone(), start.clone(), &app);
        async move {
            start.wait().await;
            kindbrug::retention::run(
                &store,
                &app.state.config.retention,
                &app.state.audit_signer,
                &Default::default(),
            )
            .await
            .unwrap()
        }
    });
    let reports = futures::future::join_all(runs).await;
    let destroyed: u64 = reports.iter().map(|r| r.children_destroyed).sum();
    assert_eq!(
        destroyed, 1,
        "the child was destroyed more than once: {reports:?}"
    );
    let after = count(
        &app,
        "SELECT open_count::BIGINT FROM staff WHERE subject = 'spec-1'",
    )
    .await;
    assert_eq!(
        after,
        before - held,
        "the slots were given back more than once"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM consultations").await, 0);
    for s in stores {
        s.close().await;
    }
    let verified = kindbrug::audit::verify::verify_store(app.state.store.as_ref())
        .await
        .unwrap();
    assert!(verified.is_ok(), "{verified:?}");
}

/// The access log with three replicas writing at once (three stores of their own on one
/// database, each with its chainer): writes lock no shared row, every entry committed is in
/// the chain exactly once, the chain verifies, and nothing is left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_write_the_access_log_at_once() {
    let Some(app) = TestApp::postgres_with(|c| c.relay_enabled = false).await else {
        return;
    };
    let w = app.world().await;
    let mut config = (*app.state.config).clone();
    config.database_url = app.db_url.clone().into();
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(kindbrug::open_store(&config).await.unwrap());
    }
    let before = app.count("audit_log").await;
    let actor = kindbrug::audit::AuditActor {
        issuer: "test".into(),
        subject: "writer".into(),
        role: "mentor".into(),
        organization_id: Some(w.org_a),
        staff_id: None,
        request_id: "replicas".into(),
    };
    // per replica: 200 reads recorded through the group commit, and 40 writes of a child's
    // registration (each its own transaction with its entry), all at once
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(3));
    let work = stores.iter().enumerate().map(|(k, store)| {
        let (store, start, actor, location, org) = (
            store.clone(),
            start.clone(),
            actor.clone(),
            w.loc_a1,
            w.org_a,
        );
        async move {
            start.wait().await;
            let reads = futures::future::join_all((0..200).map(|_| {
                let (store, actor) = (store.clone(), actor.clone());
                async move {
                    store
                        .record(&[kindbrug::audit::AuditRecord::new(
                            &actor,
                            kindbrug::audit::AuditAction::Read,
                            "child",
                            None,
                            None,
                            "child_record",
                        )])
                        .await
                }
            }));
            let writes = futures::future::join_all((0..40).map(|i| {
                let (store, actor) = (store.clone(), actor.clone());
                async move {
                    let at = kindbrug::domain::calendar::now();
                    let row = kindbrug::store::ChildRow {
                        id: uuid::Uuid::now_v7(),
                        organization_id: org,
                        location_id: location,
                        group_id: None,
                        external_ref: format!("replica-{k}-{i}"),
                        given_name: "Kind".into(),
                        date_of_birth: chrono::NaiveDate::from_ymd_opt(2022, 5, 1).unwrap(),
                        version: 1,
                        created_at: at,
                        updated_at: at,
                        mentor_staff_id: None,
                        left_on: None,
                    };
                    let audit = kindbrug::audit::AuditRecord::new(
                        &actor,
                        kindbrug::audit::AuditAction::Create,
                        "child",
                        Some(row.id),
                        Some(row.id),
                        "child_record",
                    );
                    store.create_child(&row, &audit).await
                }
            }));
            let (reads, writes) = futures::join!(reads, writes);
            for r in reads {
                r.unwrap();
            }
            for r in writes {
                r.unwrap();
            }
        }
    });
    futures::future::join_all(work).await;
    // each replica's chainer runs on its own; wait for them, then see what they made
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&app, "SELECT COUNT(*) FROM audit_pending").await > 0 {
        assert!(
            Instant::now() < deadline,
            "the chainers left entries pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log").await,
        before + 3 * 240,
        "an entry was lost or doubled"
    );
    let gaps = count(
        &app,
        "SELECT COUNT(*) FROM audit_log a WHERE a.seq > 1 AND NOT EXISTS \
         (SELECT 1 FROM audit_log b WHERE b.seq = a.seq - 1)",
    )
    .await;
    assert_eq!(gaps, 0, "the chain has holes");
    for store in &stores {
        let verified = kindbrug::audit::verify::verify_store(store.as_ref())
            .await
            .unwrap();
        assert_eq!(verified.unwrap() as i64, before + 3 * 240);
        store.close().await;
    }
}
