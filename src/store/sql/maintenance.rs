//! Migrations, readiness and settings. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_maintenance {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl Maintenance for $store {
            async fn migrate(&self) -> StoreResult<()> {
                Self::migrator().run(self.writer()).await?;
                Ok(())
            }

            async fn ready(&self) -> bool {
                let latest = Self::migrator().iter().map(|m| m.version).max().unwrap_or(0);
                let applied: Result<Option<i64>, _> =
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                        .fetch_one(self.reader())
                        .await;
                // newer migrations than this binary knows are fine (they are additive, run
                // before a rolling upgrade: the old replicas keep serving); older are not
                matches!(applied, Ok(Some(v)) if v >= latest)
            }

            async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.writer())
                    .await?)
            }

            async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(value)
                .execute(self.writer())
                .await?;
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(self.writer())
                    .await?)
            }

            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            fn web_sessions(&self) -> crate::store::sessions::WebSessions {
                self.session_store()
            }

            async fn ops_stats(&self) -> StoreResult<OpsStats> {
                let (outbox_backlog, outbox_oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(m.created_at) FROM webhook_deliveries d \
                     JOIN webhook_messages m ON m.id = d.message_id WHERE d.state IN ('pending', 'delivering')",
                )
                .fetch_one(self.reader())
                .await?;
                let last_checkpoint: Option<DateTime<Utc>> =
                    sqlx::query_scalar("SELECT MAX(signed_at) FROM audit_checkpoints")
                        .fetch_one(self.reader())
                        .await?;
                let (audit_pending, audit_pending_oldest): (i64, Option<DateTime<Utc>>) =
                    sqlx::query_as("SELECT COUNT(*), MIN(occurred_at) FROM audit_pending")
                        .fetch_one(self.reader())
                        .await?;
                Ok(OpsStats {
                    pools: self.pool_stats(),
                    outbox_backlog,
                    outbox_oldest,
                    last_checkpoint,
                    audit_pending,
                    audit_pending_oldest,
                })
            }

            async fn backup_to(&self, path: &std::path::Path) -> StoreResult<()> {
                self.backup_into(path).await
            }

            async fn close(&self) {
                // what this replica wrote is chained before it goes
                if let Err(e) = Self::chain_all_on(self.writer(), true).await {
                    tracing::warn!(error = %e, "could not chain the access log's pending entries at close");
                }
                self.close_pools().await;
            }
        }
    };
}
