//! What every endpoint shares: problem details, request ids, limits, health, shutdown.

use crate::common::*;
use crate::db_test;
use reqwest::Method;

db_test!(
    async fn errors_are_problems_with_the_request_id(app) {
        let admin = app.admin();
        let r = app.client.get(format!("{}/api/v1/nothing-here", app.base)).header("x-request-id", "trace-42").send().await.unwrap();
        assert_eq!(r.headers()["x-request-id"], "trace-42");
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status, 404);
        assert_eq!(body["request_id"], "trace-42");
        assert_eq!(body["type"], "urn:kindbrug:problem:not-found");
        // an unusable request id is replaced, not echoed
        let r = app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "<script>").send().await.unwrap();
        assert_ne!(r.headers()["x-request-id"], "<script>");
        // wrong method
        let r = app.request(Method::DELETE, "/api/v1/regions", Some(&admin), None).await;
        assert_eq!(r.problem(405), "method-not-allowed");
        // no token
        app.request(Method::GET, "/api/v1/regions", None, None).await.problem(401);
    }
);

db_test!(
    async fn health_and_readiness(app) {
        app.request(Method::GET, "/healthz", None, None).await.ok(200);
        let ready = app.request(Method::GET, "/readyz", None, None).await;
        assert_eq!(ready.ok(200)["status"], "ready");
        let doc = app.request(Method::GET, "/openapi.json", None, None).await;
        assert_eq!(doc.ok(200)["openapi"], "3.1.0");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_migrations_are_missing() {
    let app = TestApp::sqlite().await;
    app.exec_sql("DELETE FROM _sqlx_migrations").await;
    let r = app.request(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    let state = kindbrug::build_state(test_config(&url)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kindbrug::serve(state, listener, async {
        let _ = rx.await;
    }));
    let ok = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    assert!(reqwest::get(format!("http://{addr}/healthz"))
        .await
        .is_err());
}

/// Sends raw bytes on a fresh connection and reads until the server closes it (or `wait`).
async fn raw_exchange(
    app: &TestApp,
    bytes: &[u8],
    wait: std::time::Duration,
) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// Defect 10: errors produced by the HTTP layer itself are problem+json too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_of_the_http_layer_have_problem_bodies() {
    let app = TestApp::sqlite().await;
    let long = std::time::Duration::from_secs(5);
    let mut huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 507 * 1024));
    huge.extend(b"\r\n\r\n");
    let cases: [(&[u8], &str); 3] = [
        (&huge, "HTTP/1.1 431"),
        (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400"),
        (b"GET /healthz HTTP/1.1\rHost: x\r\n\r\n", "HTTP/1.1 400"),
    ];
    for (bytes, status) in cases {
        let (answer, _) = raw_exchange(&app, bytes, long).await;
        assert!(answer.starts_with(status), "{answer}");
        assert!(
            answer.contains("content-type: application/problem+json"),
            "{answer}"
        );
        let body: serde_json::Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert!(body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:kindbrug:problem:"));
        assert!(body["request_id"].is_string());
    }
}

/// Defect 4: a connection that sends nothing, half a header or goes idle after a request is
/// closed by the server; the number of connections served at once is capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_and_idle_connections_are_closed() {
    let app = TestApp::sqlite_with(|c| {
        c.http_header_read_timeout_seconds = 1;
        c.http_idle_timeout_seconds = 2;
        c.http_max_connections = 3;
    })
    .await;
    let wait = std::time::Duration::from_secs(6);
    for bytes in [
        &b""[..],
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let (answer, took) = raw_exchange(&app, bytes, wait).await;
        assert!(
            took < std::time::Duration::from_millis(3500),
            "still open after {took:?}: {answer:?}"
        );
        if bytes.ends_with(b"\r\n\r\n") {
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
    }
    // the cap: with three silent connections open, a fourth is served only when one closes
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut fourth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    fourth.read_to_end(&mut out).await.unwrap();
    let took = started.elapsed();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    // served once the header timeout closed one of the silent three, not before
    assert!(
        took >= std::time::Duration::from_millis(500),
        "served at once despite the cap: {took:?}"
    );
}

db_test!(
    async fn the_api_reference_reads_offline_under_a_strict_policy(app) {
        let page = app.request(reqwest::Method::GET, "/docs", None, None).await;
        assert_eq!(page.status, 200);
        assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'") && !csp.contains("unsafe"), "{csp}");
        assert!(page.text.contains("<span class=\"method\">POST</span> <code>/api/v1/consultations</code>"));
        assert!(!page.text.contains("http://") && !page.text.contains("https://"), "no outside asset");
        let css = app.request(reqwest::Method::GET, "/docs/style.css", None, None).await;
        assert_eq!(css.status, 200);
        assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));
    }
);
