//! PostgreSQL backend: for production, where several stateless replicas share one database.
//! Access-log entries commit with their change into `audit_pending`, locking nothing shared;
//! each replica's chainer chains them after the head (`FOR UPDATE SKIP LOCKED`), in turn.

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
            // with the database gone, a request is answered 503 after this, not held
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let audit = Self::spawn_audit_writer(pool.clone());
        Self::spawn_chainer(pool.clone());
        Ok(Self { pool, audit })
    }

    /// Takes a slot of a specialist's capacity unless another transaction holds their row at
    /// this moment (then nothing: routing tries the next ranked specialist first).
    const CLAIM_SLOT_OR_SKIP: &'static str =
        "UPDATE staff SET open_count = open_count + 1, last_offered_at = $2 \
         WHERE id = (SELECT id FROM staff WHERE id = $1 AND active AND role = 'specialist' \
         AND open_count < capacity FOR UPDATE SKIP LOCKED) AND open_count < capacity";

    /// Serialises writes about one child across replicas (consent changes and submissions).
    const LOCK_CHILD: &'static str = "SELECT id FROM children WHERE id = $1 FOR UPDATE";

    /// `FOR UPDATE SKIP LOCKED`: several relays lease disjoint deliveries without waiting on
    /// each other.
    const LEASE_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";

    const LOCK_AUDIT_HEAD: &'static str =
        "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE";
    /// The head for a background chaining pass: none when another replica's chainer has it.
    const LOCK_AUDIT_HEAD_OR_SKIP: &'static str =
        "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE SKIP LOCKED";

    /// Entries are appended unchained with their change, and chained after commit: a write
    /// locks no row every other write needs (see README, "The access log").
    const CHAIN_AFTER_COMMIT: bool = true;

    /// Taken (and let go) around a refresh of the figures, on a connection of its own.
    const REFRESH_LOCK: &'static str = "SELECT pg_advisory_lock(7513001)";
    const REFRESH_UNLOCK: &'static str = "SELECT pg_advisory_unlock(7513001)";

    /// Taken at the start of a retention run's transaction: replicas purge in turn, and the
    /// second sees what the first removed (without it both would read the same open requests
    /// of a child to destroy and give their specialist's capacity back twice).
    const PURGE_LOCK: &'static str = "SELECT pg_advisory_xact_lock(7513002)";

    /// The pool write transactions come from (one pool for reads and writes), as `/metrics` names it.
    const WRITE_POOL: &'static str = "main";

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

    fn pool_stats(&self) -> Vec<super::PoolStat> {
        vec![super::PoolStat {
            name: "main",
            max: self.pool.options().get_max_connections(),
            open: self.pool.size(),
            idle: self.pool.num_idle() as u32,
        }]
    }

    async fn backup_into(&self, _path: &std::path::Path) -> super::StoreResult<()> {
        Err(super::StoreError::NotApplicable)
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn session_store(&self) -> super::sessions::WebSessions {
        super::sessions::WebSessions::postgres(self.pool.clone())
    }

    async fn begin_on(pool: &PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    /// The figures' refresh reads and writes in one REPEATABLE READ transaction: it deletes
    /// exactly the changes its snapshot saw, and a concurrent refresh fails to serialise
    /// instead of overwriting newer summaries with older ones.
    const SUMMARIES_WRITTEN_IN_SNAPSHOT: bool = true;

    /// Set in the figures' snapshot: its grouping passes aggregate millions of rows in memory
    /// (the default 4 MB spills them to disk) and gain nothing from JIT compilation.
    const FIGURE_PASS_SETTINGS: &'static [&'static str] =
        &["SET LOCAL work_mem = '128MB'", "SET LOCAL jit = off"];

    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
    }

    /// Two transactions on one snapshot: the second imports the first's exported snapshot.
    async fn begin_snapshot_pair(
        &self,
    ) -> Result<
        (
            sqlx::Transaction<'static, Postgres>,
            sqlx::Transaction<'static, Postgres>,
        ),
        sqlx::Error,
    > {
        let mut first = self.begin_snapshot().await?;
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *first)
            .await?;
        let mut second = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        // (the id comes from the server; SET takes no parameters)
        sqlx::query(&format!(
            "SET TRANSACTION SNAPSHOT '{}'",
            id.replace('\'', "")
        ))
        .execute(&mut *second)
        .await?;
        Ok((first, second))
    }
}

impl_store!(PgStore, sqlx::Postgres);
