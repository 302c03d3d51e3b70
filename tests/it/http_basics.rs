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
