//! SQLite backend: the embedded default. One writer connection (SQLite has one writer at a
//! time; funnelling writes through one connection avoids busy-waiting) and a pool of readers,
//! WAL journal so readers never block the writer.

use super::sql::AuditQueue;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The SQLite store.
/// How long a request waits for a connection before it is answered 503: the writer is one
/// connection, and a queue longer than this means the gateway is overloaded.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    audit: AuditQueue,
}

impl SqliteStore {
    /// Opens (and creates if missing) the database file of `url`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            // deleted and overwritten content is zeroed, so sealed-over plaintext does not linger
            .pragma("secure_delete", "on")
            .pragma("cache_size", "-32000");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await?;
        let audit = Self::spawn_audit_writer(write.clone());
        // (chains in the appending transaction: the chainer has nothing to do and ends at once)
        Self::spawn_chainer(write.clone());
        Ok(Self { write, read, audit })
    }

    /// No pass that skips held rows: the single writer holds no row another transaction waits on.
    const CLAIM_SLOT_OR_SKIP: &'static str = "";

    /// Serialises writes about one child (a no-op in SQLite, whose writer is single anyway).
    const LOCK_CHILD: &'static str = "SELECT id FROM children WHERE id = $1";

    /// Leasing needs no row lock in SQLite: the single writer makes the lease update atomic, and
    /// the lease (`locked_until`) lets another relay take over from one that died.
    const LEASE_LOCK: &'static str = "";

    const LOCK_AUDIT_HEAD: &'static str = "SELECT last_seq, last_hash FROM audit_head WHERE id = 1";
    const LOCK_AUDIT_HEAD_OR_SKIP: &'static str = Self::LOCK_AUDIT_HEAD;

    /// The one writer already orders every append, so chaining in the appending transaction
    /// costs no extra waiting: entries are chained at once and `audit_pending` stays empty.
    const CHAIN_AFTER_COMMIT: bool = false;

    /// Taken (and let go) around a refresh of the figures, on a connection of its own.
    const REFRESH_LOCK: &'static str = "";
    const REFRESH_UNLOCK: &'static str = "";

    /// Retention runs in turn anyway: its transaction begins IMMEDIATE, holding the write lock.
    const PURGE_LOCK: &'static str = "";

    /// The pool write transactions come from (the single writer), as `/metrics` names it.
    const WRITE_POOL: &'static str = "write";

    const BACKEND: &'static str = "sqlite";

    /// After sealing old plaintext: move the WAL into the database (secure_delete zeroed the
    /// old pages) and empty the WAL file, which still held their images.
    const AFTER_SEALING: &'static [&'static str] = &["PRAGMA wal_checkpoint(TRUNCATE)"];

    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    async fn close_pools(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    fn pool_stats(&self) -> Vec<super::PoolStat> {
        let stat = |name, pool: &SqlitePool| super::PoolStat {
            name,
            max: pool.options().get_max_connections(),
            open: pool.size(),
            idle: pool.num_idle() as u32,
        };
        vec![stat("write", &self.write), stat("read", &self.read)]
    }

    /// `VACUUM INTO` on a reading connection: one read transaction, so the copy is the
    /// database as of one moment, while the writer goes on (WAL). The file must not exist.
    async fn backup_into(&self, path: &std::path::Path) -> super::StoreResult<()> {
        let target = path.to_str().ok_or(super::StoreError::NotApplicable)?;
        // the reading pool is read-only; VACUUM INTO writes only the new file, which SQLite
        // allows from a read-only connection
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    fn reader(&self) -> &SqlitePool {
        &self.read
    }

    fn writer(&self) -> &SqlitePool {
        &self.write
    }

    /// Sessions are written on most page views: through the one writer, like every write.
    fn session_store(&self) -> super::sessions::WebSessions {
        super::sessions::WebSessions::sqlite(self.write.clone())
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads before it
    /// writes cannot fail to upgrade when another process (a CLI command) wrote in between.
    async fn begin_on(
        pool: &SqlitePool,
    ) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// A read snapshot for the figures' refresh: a deferred transaction on a reader sees the
    /// database as of its first read. Its summaries are written afterwards by the writer.
    const SUMMARIES_WRITTEN_IN_SNAPSHOT: bool = false;

    /// (The grouping passes stream covering indexes in their order: nothing to set.)
    const FIGURE_PASS_SETTINGS: &'static [&'static str] = &[];

    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.read.begin().await
    }

    /// Two read transactions on one snapshot: both begin while this process's writer holds
    /// the write lock (`BEGIN IMMEDIATE`), so no commit falls between their first reads.
    async fn begin_snapshot_pair(
        &self,
    ) -> Result<
        (
            sqlx::Transaction<'static, Sqlite>,
            sqlx::Transaction<'static, Sqlite>,
        ),
        sqlx::Error,
    > {
        let lock = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let mut first = self.begin_snapshot().await?;
        let mut second = self.begin_snapshot().await?;
        for tx in [&mut first, &mut second] {
            sqlx::query("SELECT COUNT(*) FROM figure_refresh")
                .fetch_one(&mut **tx)
                .await?;
        }
        lock.rollback().await?;
        Ok((first, second))
    }
}

impl_store!(SqliteStore, sqlx::Sqlite);
