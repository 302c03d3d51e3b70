//! PostgreSQL backend: for production, where several stateless replicas share one database.
//! Appends to the access log lock the chain head row (`FOR UPDATE`) so replicas chain in turn.

use super::sql::AuditQueue;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    audit: AuditQueue,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        let options = PgConnectOptions::from_str(url)?.application_name("kindbrug");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        let audit = Self::spawn_audit_writer(pool.clone());
        Ok(Self { pool, audit })
    }

    /// Serialises writes about one child across replicas (consent changes and submissions).
    const LOCK_CHILD: &'static str = "SELECT id FROM children WHERE id = $1 FOR UPDATE";

    /// Leases due deliveries; `FOR UPDATE SKIP LOCKED` lets several relays take disjoint
    /// batches without waiting on each other.
    async fn claim_delivery_ids(
        &self,
        owner: &str,
        endpoint: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
        sqlx::query_scalar(
            "UPDATE webhook_deliveries d SET state = 'delivering', locked_until = $2, lease_owner = $3 \
             FROM (SELECT id FROM webhook_deliveries WHERE endpoint_id = $5 \
               AND ((state = 'pending' AND next_attempt_at <= $1) OR (state = 'delivering' AND locked_until < $1)) \
               ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) due \
             WHERE d.id = due.id RETURNING d.id",
        )
        .bind(now)
        .bind(until)
        .bind(owner)
        .bind(limit)
        .bind(endpoint)
        .fetch_all(&self.pool)
        .await
    }

    const LOCK_AUDIT_HEAD: &'static str =
        "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE";

    const BACKEND: &'static str = "postgres";

    /// After sealing old plaintext: rewrite the table, so the old row versions (which still
    /// hold the plaintext until their space is reused) are gone from its files.
    const AFTER_SEALING: &'static [&'static str] = &["VACUUM FULL {table}"];

    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    async fn close_pools(&self) {
        self.pool.close().await;
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_on(pool: &PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    /// The figures' refresh reads and writes in one REPEATABLE READ transaction: it deletes
    /// exactly the changes its snapshot saw, and a concurrent refresh fails to serialise
    /// instead of overwriting newer summaries with older ones.
    const SUMMARIES_WRITTEN_IN_SNAPSHOT: bool = true;

    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
    }
}

impl_store!(PgStore, sqlx::Postgres);
