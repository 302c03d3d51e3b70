//! The web pages' session store on the gateway's own database, for both backends
//! (`tower-sessions-sqlx-store`, on the table of migration 0009).

use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, Result, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

const TABLE: &str = "web_sessions";

/// Sessions kept in the store's database.
#[derive(Clone, Debug)]
pub enum WebSessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl WebSessions {
    pub fn sqlite(pool: sqlx::SqlitePool) -> Self {
        Self::Sqlite(
            SqliteStore::new(pool)
                .with_table_name(TABLE)
                .expect("a valid table name"),
        )
    }

    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Self::Postgres(
            PostgresStore::new(pool)
                .with_schema_name("public")
                .and_then(|s| s.with_table_name(TABLE))
                .expect("valid names"),
        )
    }
}

#[async_trait::async_trait]
impl SessionStore for WebSessions {
    async fn create(&self, record: &mut Record) -> Result<()> {
        match self {
            Self::Sqlite(s) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> Result<()> {
        match self {
            Self::Sqlite(s) => s.save(record).await,
            Self::Postgres(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self {
            Self::Sqlite(s) => s.load(id).await,
            Self::Postgres(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> Result<()> {
        match self {
            Self::Sqlite(s) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for WebSessions {
    async fn delete_expired(&self) -> Result<()> {
        match self {
            Self::Sqlite(s) => s.delete_expired().await,
            Self::Postgres(s) => s.delete_expired().await,
        }
    }
}
