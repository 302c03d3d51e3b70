//! SMART Backend Services clients and the replay store of their assertions. The statements
//! both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_clients {
    ($store:ty, $db:ty) => {
        const CLIENT_COLUMNS: &str =
            "id, organization_id, name, jwks, jwks_uri, scopes, active, created_at, updated_at";

        #[async_trait::async_trait]
        impl ClientStore for $store {
            async fn create_client(&self, row: &SmartClientRow) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO smart_clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(row.id)
                .bind(row.organization_id)
                .bind(&row.name)
                .bind(&row.jwks)
                .bind(&row.jwks_uri)
                .bind(&row.scopes)
                .bind(row.active)
                .bind(row.created_at)
                .bind(row.updated_at)
                .execute(self.writer())
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn get_client(&self, id: Uuid) -> StoreResult<Option<SmartClientRow>> {
                Ok(sqlx::query_as(&format!("SELECT {CLIENT_COLUMNS} FROM smart_clients WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_clients(
                &self,
                organization_id: Option<Uuid>,
                page: Page,
            ) -> StoreResult<Vec<SmartClientRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {CLIENT_COLUMNS} FROM smart_clients \
                     WHERE ($1 IS NULL OR organization_id = $1) AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(organization_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn update_client(&self, row: &SmartClientRow) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE smart_clients SET name = $2, jwks = $3, jwks_uri = $4, scopes = $5, \
                     active = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(row.id)
                .bind(&row.name)
                .bind(&row.jwks)
                .bind(&row.jwks_uri)
                .bind(&row.scopes)
                .bind(row.active)
                .bind(row.updated_at)
                .execute(self.writer())
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn take_assertion(
                &self,
                client_id: Uuid,
                jti: &str,
                expires_at: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query("INSERT INTO smart_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)")
                    .bind(client_id)
                    .bind(jti)
                    .bind(expires_at)
                    .execute(self.writer())
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn forget_assertions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM smart_assertions WHERE expires_at < $1")
                    .bind(before)
                    .execute(self.writer())
                    .await?
                    .rows_affected())
            }
        }
    };
}
