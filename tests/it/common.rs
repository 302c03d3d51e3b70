//! Test harness: the real application on a port-0 listener, on SQLite (a temporary file) or
//! PostgreSQL (a database created for the test and dropped after it). `db_test!` turns one
//! test body into a `…::sqlite` and a `…::postgres` test.

#![allow(dead_code)]

use kindbrug::config::RunEnv;
use kindbrug::{AppState, Config};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Duration;
use uuid::Uuid;

pub const TEST_BODY_LIMIT: usize = 64 * 1024;
pub const DEV_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Runs a test body on both backends.
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn run($app: $crate::common::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::TestApp::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::common::TestApp::postgres().await {
                    run(app).await;
                }
            }
        }
    };
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Drops the test's database (or temporary directory) when the test ends, pass or fail.
pub enum DbGuard {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // a fresh runtime on its own thread: the test's runtime may be shutting down
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&pool)
                        .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub backend: Backend,
    pub db_url: String,
    _guard: DbGuard,
}

fn postgres_admin_url() -> String {
    std::env::var("KINDBRUG_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn require_postgres() -> bool {
    std::env::var("KINDBRUG_REQUIRE_POSTGRES")
        .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Whether PostgreSQL answers; asked once per test binary.
async fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    if let Some(a) = AVAILABLE.get() {
        return *a;
    }
    let ok = match tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::PgPool::connect(&postgres_admin_url()),
    )
    .await
    {
        Ok(Ok(pool)) => {
            pool.close().await;
            true
        }
        _ => false,
    };
    *AVAILABLE.get_or_init(|| ok)
}

pub fn test_config(db_url: &str) -> Config {
    Config {
        env: RunEnv::Development,
        listen: "127.0.0.1:0".into(),
        database_url: SecretString::from(db_url.to_string()),
        database_max_connections: 4,
        dev_jwt_secret: Some(SecretString::from(DEV_SECRET)),
        // small, so an oversized test body fits the socket buffers and the 413 is read reliably
        body_limit_bytes: TEST_BODY_LIMIT,
        public_base_url: Some("http://127.0.0.1:8080".into()),
        ..Config::default()
    }
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn sqlite_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("kindbrug.db").display());
        let mut config = test_config(&url);
        adjust(&mut config);
        Self::start(config, Backend::Sqlite, url, DbGuard::Sqlite(dir)).await
    }

    /// A PostgreSQL test app, or `None` (with a loud message) when PostgreSQL is not reachable
    /// and `KINDBRUG_REQUIRE_POSTGRES` is not set.
    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(|_| {}).await
    }

    pub async fn postgres_with(adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let (url, guard) = Self::postgres_database().await?;
        let mut config = test_config(&url);
        adjust(&mut config);
        Some(Self::start(config, Backend::Postgres, url, guard).await)
    }

    /// Creates an empty PostgreSQL database for one test.
    pub async fn postgres_database() -> Option<(String, DbGuard)> {
        if !postgres_available().await {
            if require_postgres() {
                panic!(
                    "KINDBRUG_REQUIRE_POSTGRES=1 but PostgreSQL at {} is not reachable",
                    postgres_admin_url()
                );
            }
            eprintln!("\n*** SKIPPED: PostgreSQL at {} is not reachable; set KINDBRUG_REQUIRE_POSTGRES=1 to fail instead ***\n", postgres_admin_url());
            return None;
        }
        let admin = postgres_admin_url();
        let name = format!("kb_test_{}", Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&pool)
            .await
            .expect("create test database");
        pool.close().await;
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some((
            url.to_string(),
            DbGuard::Postgres {
                admin_url: admin,
                name,
            },
        ))
    }

    /// A test app on `backend`, when that backend is available.
    pub async fn on(backend: Backend) -> Option<TestApp> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    async fn start(config: Config, backend: Backend, db_url: String, guard: DbGuard) -> TestApp {
        // KINDBRUG_TEST_LOG=error (or info, …) shows the gateway's log in failing tests
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("KINDBRUG_TEST_LOG").unwrap_or_else(|_| "off".into()))
            .with_test_writer()
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = kindbrug::build_state(config).await.expect("build app");
        let serve_state = state.clone();
        tokio::spawn(async move {
            kindbrug::serve(serve_state, listener, std::future::pending())
                .await
                .unwrap();
        });
        TestApp {
            base: format!("http://{addr}"),
            // a fresh connection per request: a server that refuses an oversized body closes
            // the connection, and a pooled client may race that close on its next request
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            state,
            backend,
            db_url,
            _guard: guard,
        }
    }

    /// A development token.
    pub fn token(&self, sub: &str, roles: &[&str], org: Option<Uuid>) -> String {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        self.state.auth.dev_issuer().unwrap().mint(
            "kindbrug",
            sub,
            &roles,
            org.map(|o| o.to_string()).as_deref(),
            Duration::from_secs(600),
        )
    }

    pub fn admin(&self) -> String {
        self.token("admin", &["admin"], None)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Resp::from(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// Sends a raw body with a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let req = self
            .client
            .post(format!("{}{}", self.base, path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        Resp::from(req.send().await.expect("request")).await
    }

    /// A direct connection to the test database (to tamper with it, or to count rows).
    pub async fn raw_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::pool::PoolOptions::new()
            .max_connections(1)
            .connect(&self.db_url)
            .await
            .unwrap()
    }

    /// Runs SQL directly against the test database.
    pub async fn exec_sql(&self, sql: &str) {
        // access-log entries committed so far are chained first (PostgreSQL chains them
        // shortly after commit), so a test changes the log as a reader would see it
        self.state.store.chain_audit().await.unwrap();
        let pool = self.raw_pool().await;
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }

    /// `SELECT COUNT(*) FROM table`.
    pub async fn count(&self, table: &str) -> i64 {
        self.state.store.chain_audit().await.unwrap();
        let pool = self.raw_pool().await;
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }

    /// Row counts of `tables`.
    pub async fn snapshot_of(&self, tables: &[&str]) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for t in tables {
            out.push((t.to_string(), self.count(t).await));
        }
        out
    }

    /// Row counts of every table a client can write to, to show a refused request wrote nothing.
    pub async fn snapshot(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for t in WRITABLE_TABLES {
            out.push((t.to_string(), self.count(t).await));
        }
        out
    }
}

pub const WRITABLE_TABLES: &[&str] = &[
    "regions",
    "region_memberships",
    "organizations",
    "locations",
    "groups",
    "staff",
    "staff_locations",
    "staff_regions",
    "staff_expertise",
    "children",
    "child_mentors",
    "guardians",
    "audit_log",
];

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub async fn from_response(r: reqwest::Response) -> Resp {
        Self::from(r).await
    }

    async fn from(r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn id(&self) -> Uuid {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .parse()
            .unwrap()
    }

    /// Asserts a problem+json answer with `status`; returns the problem's slug.
    #[track_caller]
    pub fn problem(&self, status: u16) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/problem+json"),
            "content-type {ct}: {}",
            self.text
        );
        for member in ["type", "title", "status", "detail", "request_id"] {
            assert!(
                !self.body[member].is_null(),
                "problem lacks {member}: {}",
                self.text
            );
        }
        self.body["type"]
            .as_str()
            .unwrap()
            .trim_start_matches("urn:kindbrug:problem:")
            .to_string()
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        &self.body
    }

    /// The fields named in a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub const REGIONS_CSV: &str =
    "municipality_code,municipality_name,region_code,region_name,valid_from\n\
GM0344,Utrecht,JZ22,Utrecht Stad,2025-01-01\n\
GM0363,Amsterdam,JZ14,Amsterdam-Amstelland,2025-01-01\n\
GM0362,Amstelveen,JZ14,Amsterdam-Amstelland,2025-01-01\n";

/// A small world: two childcare organisations (A with locations A1 in Utrecht and A2 in
/// Amsterdam, B with B1), a youth-care provider, a mentor per location, and a child at A1.
pub struct World {
    pub org_a: Uuid,
    pub org_b: Uuid,
    pub youth: Uuid,
    pub loc_a1: Uuid,
    pub loc_a2: Uuid,
    pub loc_b1: Uuid,
    pub group_a1: Uuid,
    pub mentor_a1: Uuid,
    pub mentor_a1_token: String,
    pub mentor_a2_token: String,
    pub mentor_b1_token: String,
    pub integration_a: String,
    pub integration_b: String,
    pub specialist_token: String,
    pub child_a1: Uuid,
}

impl TestApp {
    pub async fn world(&self) -> World {
        let admin = self.admin();
        self.post_raw("/api/v1/regions/import", &admin, "text/csv", REGIONS_CSV)
            .await
            .ok(200);
        let org = |name: &str, kind: &str| json!({"name": name, "kind": kind});
        let org_a = self
            .post(
                "/api/v1/organizations",
                &admin,
                org("Kinderopvang A", "childcare"),
            )
            .await
            .id();
        let org_b = self
            .post(
                "/api/v1/organizations",
                &admin,
                org("Kinderopvang B", "childcare"),
            )
            .await
            .id();
        let youth = self
            .post(
                "/api/v1/organizations",
                &admin,
                org("Jeugdhulp C", "youth_care"),
            )
            .await
            .id();
        let loc = |name: &str, t: &str, gm: &str| json!({"name": name, "type": t, "municipality_code": gm});
        let loc_a1 = self
            .post(
                &format!("/api/v1/organizations/{org_a}/locations"),
                &admin,
                loc("A1", "kdv", "GM0344"),
            )
            .await
            .id();
        let loc_a2 = self
            .post(
                &format!("/api/v1/organizations/{org_a}/locations"),
                &admin,
                loc("A2", "bso", "GM0363"),
            )
            .await
            .id();
        let loc_b1 = self
            .post(
                &format!("/api/v1/organizations/{org_b}/locations"),
                &admin,
                loc("B1", "kdv", "GM0344"),
            )
            .await
            .id();
        let group_a1 = self
            .post(
                &format!("/api/v1/locations/{loc_a1}/groups"),
                &admin,
                json!({"name": "Peuters"}),
            )
            .await
            .id();
        let staff = |org: Uuid, sub: &str, loc: Uuid| {
            let path = format!("/api/v1/organizations/{org}/staff");
            let body =
                json!({"subject": sub, "name": sub, "role": "mentor", "location_ids": [loc]});
            (path, body)
        };
        let (p, b) = staff(org_a, "mentor-a1", loc_a1);
        let mentor_a1 = self.post(&p, &admin, b).await.id();
        let (p, b) = staff(org_a, "mentor-a2", loc_a2);
        self.post(&p, &admin, b).await.ok(201);
        let (p, b) = staff(org_b, "mentor-b1", loc_b1);
        self.post(&p, &admin, b).await.ok(201);
        self.post(
            &format!("/api/v1/organizations/{youth}/staff"),
            &admin,
            json!({"subject": "spec-1", "name": "Spec", "role": "specialist", "expertise": ["language"], "region_codes": ["JZ22"], "capacity": 3}),
        )
        .await
        .ok(201);
        let mentor_a1_token = self.token("mentor-a1", &["mentor"], Some(org_a));
        let child_a1 = self
            .post(
                "/api/v1/children",
                &mentor_a1_token,
                json!({"location_id": loc_a1, "group_id": group_a1, "external_ref": "A-1", "given_name": "Noor", "date_of_birth": "2023-03-01"}),
            )
            .await
            .id();
        World {
            org_a,
            org_b,
            youth,
            loc_a1,
            loc_a2,
            loc_b1,
            group_a1,
            mentor_a1,
            mentor_a1_token,
            mentor_a2_token: self.token("mentor-a2", &["mentor"], Some(org_a)),
            mentor_b1_token: self.token("mentor-b1", &["mentor"], Some(org_b)),
            integration_a: self.token("system-a", &["integration"], Some(org_a)),
            integration_b: self.token("system-b", &["integration"], Some(org_b)),
            specialist_token: self.token("spec-1", &["specialist"], Some(youth)),
            child_a1,
        }
    }
}

/// A uuid as a SQL literal of the backend, for a test that ages records by hand.
pub fn uuid_literal(app: &TestApp, id: Uuid) -> String {
    match app.backend {
        Backend::Sqlite => format!("x'{}'", id.simple()),
        Backend::Postgres => format!("'{id}'"),
    }
}

/// Runs this build's `kindbrug` command on `db_url`, with no configuration file.
pub async fn kindbrug_cli(args: &[&str], db_url: &str) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_kindbrug"))
        .args(args)
        .env("KINDBRUG_DATABASE_URL", db_url)
        .env("KINDBRUG_CONFIG", "/nonexistent/kindbrug.toml")
        .output()
        .await
        .unwrap()
}
