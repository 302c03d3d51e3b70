//! Running it: metrics, limits, graceful shutdown and backup.

use crate::common::*;
use crate::db_test;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The value of a series with exactly these labels, from Prometheus text.
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .next()
}

db_test!(
    async fn metrics_show_routes_pools_outbox_and_jobs_without_child_data(app) {
        let w = app.world().await;
        let child = format!("/api/v1/children/{}", w.child_a1);
        for _ in 0..3 {
            app.get(&child, &w.mentor_a1_token).await.ok(200);
        }
        app.get(&child, "not-a-token").await.problem(401);
        let res = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = res.text().await.unwrap();
        // requests by matched route (the template, never the id), method and status, with latency
        let labels = [("route", "/api/v1/children/{id}"), ("method", "GET"), ("status", "200")];
        assert!(series(&text, "kindbrug_http_requests_total", &labels).unwrap() >= 3.0, "{text}");
        assert!(series(&text, "kindbrug_http_request_duration_seconds_count", &labels).unwrap() >= 3.0);
        assert!(series(&text, "kindbrug_http_request_duration_seconds_bucket", &[("route", "/api/v1/children/{id}"), ("le", "+Inf")]).is_some());
        assert!(series(&text, "kindbrug_http_requests_total", &[("route", "/api/v1/children/{id}"), ("status", "401")]).is_some());
        // the database pool, the outbox, the access log
        let pool = if app.backend == Backend::Sqlite { "read" } else { "main" };
        assert!(series(&text, "kindbrug_db_pool_connections", &[("pool", pool), ("state", "max")]).unwrap() >= 1.0);
        assert!(series(&text, "kindbrug_db_pool_connections", &[("pool", pool), ("state", "in_use")]).is_some());
        let writing = if app.backend == Backend::Sqlite { "write" } else { "main" };
        assert!(series(&text, "kindbrug_db_pool_waiting", &[("pool", writing)]).unwrap() >= 0.0, "{text}");
        assert!(series(&text, "kindbrug_db_acquire_seconds_count", &[("pool", writing)]).unwrap() >= 1.0);
        assert!(series(&text, "kindbrug_outbox_backlog", &[]).is_some());
        assert!(series(&text, "kindbrug_outbox_oldest_age_seconds", &[]).is_some());
        assert!(series(&text, "kindbrug_audit_append_seconds_count", &[]).unwrap() >= 1.0);
        // (the gauges are the process's: tests beside this one set them too, so only their
        // presence is checked)
        assert!(series(&text, "kindbrug_audit_checkpoint_age_seconds", &[]).is_some());
        assert!(series(&text, "kindbrug_audit_pending", &[]).is_some());
        assert!(series(&text, "kindbrug_audit_pending_oldest_age_seconds", &[]).is_some());
        // the three reads by one mentor: who she is was looked up, then remembered
        assert!(series(&text, "kindbrug_principal_cache_total", &[("result", "hit")]).unwrap() >= 1.0, "{text}");
        assert!(series(&text, "kindbrug_db_up", &[]).is_some());
        assert!(series(&text, "kindbrug_draining", &[]).is_some());
        assert!(!text.contains(&w.child_a1.to_string()), "an id in a label");
        assert!(!text.contains("Noor") && !text.contains("meedoen"), "child data in metrics");
        // a job round shows as a run and a last success
        let checkpoint = kindbrug::audit::checkpoint::take(app.state.store.as_ref(), &app.state.audit_signer, &kindbrug::checkpoint_export(&app.state.config), true).await;
        assert!(checkpoint.is_ok());
        let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        let age = series(&text, "kindbrug_audit_checkpoint_age_seconds", &[]).unwrap();
        assert!((-1.0..3600.0).contains(&age), "{age}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_have_their_own_listener() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = TestApp::sqlite_with(|c| c.metrics_listen = Some(format!("127.0.0.1:{port}"))).await;
    // not on the main listener
    let main = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(r) = app
            .client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
        {
            text = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text.contains("kindbrug_db_pool_connections"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_is_braked_per_client_address() {
    let app = TestApp::sqlite_with(|c| {
        c.auth_failures_per_minute = 5;
        // the tests' client is the proxy: X-Forwarded-For names the client
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let w = app.world().await;
    let child = format!("{}/api/v1/children/{}", app.base, w.child_a1);
    let from = |ip: &'static str, token: String| {
        app.client
            .get(&child)
            .header("x-forwarded-for", format!("{ip}, 127.0.0.1"))
            .bearer_auth(token)
    };
    for _ in 0..5 {
        assert_eq!(
            from("203.0.113.5", "guess".into())
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let refused = from("203.0.113.5", "guess".into()).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(refused.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    // a good token from there still works: a guesser does not lock out a colleague behind the
    // same address
    assert_eq!(
        from("203.0.113.5", w.mentor_a1_token.clone())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // the FHIR door and the token endpoint answer in their own shapes
    let fhir = app
        .client
        .get(format!("{}/fhir/r4/Patient", app.base))
        .header("x-forwarded-for", "203.0.113.5")
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(fhir.status(), 429);
    assert!(fhir.headers().contains_key("retry-after"));
    let outcome: serde_json::Value = fhir.json().await.unwrap();
    assert_eq!(
        (
            outcome["resourceType"].as_str(),
            outcome["issue"][0]["code"].as_str()
        ),
        (Some("OperationOutcome"), Some("throttled"))
    );
    let oauth = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .header("x-forwarded-for", "203.0.113.5")
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "system/Patient.rs"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", "eyJhbGciOiJSUzM4NCJ9.e30.c2ln"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth.status(), 429);
    assert!(oauth.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    // another client behind the same proxy, and the proxy itself, are not braked
    assert_eq!(
        from("203.0.113.6", w.mentor_a1_token.clone())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.get(
        &format!("/api/v1/children/{}", w.child_a1),
        &w.mentor_a1_token,
    )
    .await
    .ok(200);
    // requests without credentials, and other refusals, are not failed authentication
    for _ in 0..10 {
        let r = app
            .client
            .get(&child)
            .header("x-forwarded-for", "203.0.113.7")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            401,
            "no credentials: asked to log in, not braked"
        );
    }
    for _ in 0..6 {
        app.get(
            &format!("/api/v1/children/{}", uuid::Uuid::now_v7()),
            &w.mentor_a1_token,
        )
        .await
        .problem(404);
    }
    assert_eq!(
        from("203.0.113.7", w.mentor_a1_token.clone())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // IPv6 is braked per /64
    for k in 0..5 {
        assert_eq!(
            from_v6(&app, &child, &format!("2001:db8:1:2::{k}")).await,
            401
        );
    }
    assert_eq!(from_v6(&app, &child, "2001:db8:1:2::ffff").await, 429);
    assert_eq!(
        from_v6(&app, &child, "2001:db8:1:3::1").await,
        401,
        "another /64"
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        series(
            &metrics,
            "kindbrug_refused_total",
            &[("reason", "auth_failures")]
        )
        .unwrap()
            >= 4.0
    );
}

async fn from_v6(app: &TestApp, url: &str, ip: &str) -> u16 {
    let r = app
        .client
        .get(url)
        .header("x-forwarded-for", ip)
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// Sends a POST's head and the first half of its body, and leaves the rest for later: a
/// request that stays in flight as long as the test wants.
async fn half_sent(
    base: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (tokio::net::TcpStream, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
    (s, rest.to_string())
}

async fn finish(mut s: tokio::net::TcpStream, rest: &str) -> String {
    s.write_all(rest.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_the_in_flight_cap_a_request_gets_a_fast_503() {
    let app = TestApp::sqlite_with(|c| c.max_in_flight_requests = 1).await;
    let admin = app.admin();
    let body = json!({"name": "Kinderopvang Traag", "kind": "childcare"}).to_string();
    let (held, rest) = half_sent(&app.base, "/api/v1/organizations", &admin, &body).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let busy = app.get("/api/v1/organizations", &admin).await;
    assert_eq!(busy.status, 503, "{}", busy.text);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the refusal waited"
    );
    assert_eq!(busy.headers["retry-after"], "1");
    assert_eq!(
        busy.body["type"]
            .as_str()
            .map(|t| t.ends_with("unavailable")),
        Some(true),
        "{}",
        busy.text
    );
    // the probes still answer: an operator sees the replica is alive and busy
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // the held request completes, and then there is room again
    let answer = finish(held, &rest).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    app.get("/api/v1/organizations", &admin).await.ok(200);
}

db_test!(
    async fn sigterm_drains_without_failing_a_request(app) {
        // a second gateway on the same database, with a grace period, to be shut down
        let mut config = (*app.state.config).clone();
        config.shutdown_grace_seconds = 1;
        config.shutdown_timeout_seconds = 10;
        let state = kindbrug::AppState {
            gate: Arc::new(kindbrug::gate::Gate::new(&config)),
            config: Arc::new(config),
            ..app.state.clone()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(kindbrug::serve(state, listener, async move {
            let _ = signalled.await;
        }));
        let w = app.world().await;
        let probe = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let child = format!("{base}/api/v1/children/{}", w.child_a1);
        // clients opening a connection per request, as the load did
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed, after_signal) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let signalled_at = Arc::new(AtomicBool::new(false));
        let mut load = Vec::new();
        for _ in 0..6 {
            let (client, child, token) = (reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(), child.clone(), w.mentor_a1_token.clone());
            let (stop, ok, failed, after_signal, signalled_at) = (stop.clone(), ok.clone(), failed.clone(), after_signal.clone(), signalled_at.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    match client.get(&child).bearer_auth(&token).send().await {
                        Ok(r) if r.status() == 200 => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            if signalled_at.load(Ordering::SeqCst) {
                                after_signal.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        // the listener is closed: a load balancer would have taken us out
                        Err(e) if e.is_connect() => tokio::time::sleep(Duration::from_millis(20)).await,
                        Ok(r) => panic!("a request failed during shutdown: {}", r.status()),
                        Err(e) => {
                            eprintln!("a request failed during shutdown: {e:?}");
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(ok.load(Ordering::SeqCst) > 0);
        let ready = probe.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        // a write in flight across the whole shutdown: its body's second half comes after the
        // listener has closed
        let admin = app.admin();
        let body = json!({"name": "Kinderopvang Laat", "kind": "childcare"}).to_string();
        let (held, rest) = half_sent(&base, "/api/v1/organizations", &admin, &body).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t0 = Instant::now();
        signal.send(()).unwrap();
        signalled_at.store(true, Ordering::SeqCst);
        // at once: not ready, yet still serving
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ready = probe.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let during = probe.get(&child).bearer_auth(&w.mentor_a1_token).send().await.unwrap();
        assert_eq!(during.status(), 200, "served during the grace period");
        // after the grace period: no new connections
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(reqwest::Client::new().get(format!("{base}/healthz")).send().await.is_err_and(|e| e.is_connect()));
        let answer = finish(held, &rest).await;
        assert!(answer.starts_with("HTTP/1.1 201"), "the request in flight: {answer}");
        served.await.unwrap().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(8), "shutdown took {:?}", t0.elapsed());
        stop.store(true, Ordering::SeqCst);
        for l in load {
            l.await.unwrap();
        }
        assert_eq!(failed.load(Ordering::SeqCst), 0, "requests reset during shutdown");
        assert!(after_signal.load(Ordering::SeqCst) > 0, "nothing was served during the grace period");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_made_while_writes_go_on_holds_every_acknowledged_write() {
    let app = TestApp::sqlite().await;
    let admin = app.admin();
    let _w = app.world().await;
    // a writer that keeps going through the backup; each acknowledged id is noted with when
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(Instant, uuid::Uuid)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, client, base, admin) = (
            acked.clone(),
            stop.clone(),
            app.client.clone(),
            app.base.clone(),
            admin.clone(),
        );
        tokio::spawn(async move {
            let mut k = 0;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                let r = client
                    .post(format!("{base}/api/v1/organizations"))
                    .bearer_auth(&admin)
                    .json(&json!({"name": format!("Opvang {k}"), "kind": "childcare"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let id: uuid::Uuid = r.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                acked.lock().unwrap().push((Instant::now(), id));
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let started = Instant::now();
    let out = kindbrug_cli(&["backup", copy.to_str().unwrap()], &app.db_url).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    let before: Vec<uuid::Uuid> = acked
        .iter()
        .filter(|(t, _)| *t < started)
        .map(|(_, id)| *id)
        .collect();
    assert!(
        before.len() >= 5 && acked.len() > before.len(),
        "writes went on before and during: {} {}",
        before.len(),
        acked.len()
    );
    // a backup is never written over a file
    let again = kindbrug_cli(&["backup", copy.to_str().unwrap()], &app.db_url).await;
    assert!(!again.status.success());
    // restored: the access log verifies on the copy, and every write acknowledged before the
    // backup started is in it
    let url = format!("sqlite://{}", copy.display());
    let verify = kindbrug_cli(&["audit", "verify"], &url).await;
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("access log intact"));
    sqlx::any::install_default_drivers();
    let pool: sqlx::AnyPool = sqlx::pool::PoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT lower(hex(id)) FROM organizations")
        .fetch_all(&pool)
        .await
        .unwrap();
    for id in &before {
        assert!(
            ids.contains(&id.simple().to_string()),
            "acknowledged write {id} is not in the backup"
        );
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_backup_says_how() {
    let Some((url, _guard)) = TestApp::postgres_database().await else {
        return;
    };
    let out = kindbrug_cli(&["backup", "/tmp/never-written.db"], &url).await;
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("pg_dump") && said.contains("pg_restore") && said.contains("WAL"),
        "{said}"
    );
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_limited_per_token_and_page_session() {
    // the world is built with a few writes of its own; the limit leaves room for them
    let app = TestApp::sqlite_with(|c| c.writes_per_minute_per_token = 40).await;
    let w = app.world().await;
    let guardians = format!("/api/v1/children/{}/guardians", w.child_a1);
    let guardian = |name: &str| json!({"name": name, "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"});
    let write = |token: String, name: &str| {
        app.client
            .post(format!("{}{guardians}", app.base))
            .bearer_auth(token)
            .json(&guardian(name))
            .send()
    };
    let mut made = 0;
    let refused = loop {
        let before = app.count("guardians").await;
        let r = write(w.mentor_a1_token.clone(), "Eva").await.unwrap();
        if r.status() == 429 {
            assert_eq!(
                app.count("guardians").await,
                before,
                "a refused write changed nothing"
            );
            break r;
        }
        assert_eq!(r.status(), 201);
        made += 1;
        assert!(made <= 40, "no limit after {made} writes");
    };
    assert!(made >= 20, "refused after only {made} writes");
    assert!(refused.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // the same token still reads; another token of the same organisation still writes
    app.get(&guardians, &w.mentor_a1_token).await.ok(200);
    let other = write(w.mentor_a2_token.clone(), "Noor").await.unwrap();
    assert_eq!(
        other.status(),
        404,
        "another location's mentor: not limited, not theirs"
    );
    // unknown tokens are braked as failed authentication, not counted here
    for _ in 0..5 {
        let r = write("not-a-token".into(), "X").await.unwrap();
        assert_eq!(r.status(), 401);
    }
    // a page session: its form posts count, and the refusal is a Dutch page
    let mut b = crate::web::Browser::new(&app);
    b.login("mentor-a1", "mentor", w.org_a).await;
    let mut statuses = Vec::new();
    for _ in 0..42 {
        let page = b
            .post("/uitloggen", &[("csrf", "not-this-session's")])
            .await;
        statuses.push(page.status.as_u16());
        if page.status == 429 {
            assert!(page.body.contains("Even wachten"), "{}", page.body);
            assert!(page.headers.contains_key("retry-after"));
        }
    }
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    assert!(statuses[..38].iter().all(|s| *s == 403), "{statuses:?}");
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("kindbrug_refused_total") && l.contains("reason=\"writes\"")),
        "{text}"
    );
}
