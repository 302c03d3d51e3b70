//! Children, their mentors and guardians. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_children {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl ChildStore for $store {
            async fn create_child(&self, row: &ChildRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO children (id, organization_id, location_id, group_id, external_ref, \
                     given_name, date_of_birth, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(row.id)
                .bind(row.organization_id)
                .bind(row.location_id)
                .bind(row.group_id)
                .bind(&row.external_ref)
                .bind(&row.given_name)
                .bind(row.date_of_birth)
                .bind(row.version)
                .bind(row.created_at)
                .bind(row.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_child(&self, id: Uuid) -> StoreResult<Option<ChildRow>> {
                Ok(sqlx::query_as(&format!("{CHILD_SELECT} WHERE c.id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_children(&self, organization_id: Uuid, location_ids: &[Uuid], external_ref: Option<&str>, page: Page) -> StoreResult<Vec<ChildRow>> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(CHILD_SELECT);
                qb.push(" WHERE c.organization_id = ").push_bind(organization_id);
                if let Some(r) = external_ref {
                    qb.push(" AND c.external_ref = ").push_bind(r.to_string());
                }
                if !location_ids.is_empty() {
                    qb.push(" AND c.location_id IN (");
                    let mut sep = qb.separated(", ");
                    for l in location_ids {
                        sep.push_bind(*l);
                    }
                    qb.push(")");
                }
                if let Some(after) = page.after {
                    qb.push(" AND c.id > ").push_bind(after);
                }
                qb.push(" ORDER BY c.id LIMIT ").push_bind(page.limit);
                Ok(qb.build_query_as().fetch_all(self.reader()).await?)
            }

            async fn assign_mentor(&self, row: &MentorAssignmentRow, if_version: Option<i64>, audit: &AuditRecord) -> StoreResult<i64> {
                let mut tx = self.begin_write().await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE children SET version = version + 1, updated_at = $2 \
                     WHERE id = $1 AND ($3 IS NULL OR version = $3) RETURNING version",
                )
                .bind(row.child_id)
                .bind(row.assigned_at)
                .bind(if_version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(version) = version else {
                    let exists: Option<i64> = sqlx::query_scalar("SELECT version FROM children WHERE id = $1")
                        .bind(row.child_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(if exists.is_some() { StoreError::Stale } else { StoreError::NotFound });
                };
                sqlx::query("UPDATE child_mentors SET ended_at = $2 WHERE child_id = $1 AND ended_at IS NULL")
                    .bind(row.child_id)
                    .bind(row.assigned_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO child_mentors (id, child_id, staff_id, assigned_at, ended_at, parents_informed_at) \
                     VALUES ($1, $2, $3, $4, NULL, $5)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(row.staff_id)
                .bind(row.assigned_at)
                .bind(row.parents_informed_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(version)
            }

            async fn mentor_history(&self, child_id: Uuid) -> StoreResult<Vec<MentorAssignmentRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, staff_id, assigned_at, ended_at, parents_informed_at \
                     FROM child_mentors WHERE child_id = $1 ORDER BY assigned_at DESC, id DESC",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn add_guardian(&self, row: &GuardianRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO guardians (id, child_id, name, relationship, has_parental_authority, \
                     authority_source, email, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(&row.name)
                .bind(&row.relationship)
                .bind(row.has_parental_authority)
                .bind(&row.authority_source)
                .bind(&row.email)
                .bind(&row.phone)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_guardian(&self, row: &GuardianRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(Self::LOCK_CHILD).bind(row.child_id).execute(&mut *tx).await?;
                let done = sqlx::query(
                    "UPDATE guardians SET name = $3, relationship = $4, has_parental_authority = $5, \
                     authority_source = $6, email = $7, phone = $8 WHERE id = $1 AND child_id = $2",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(&row.name)
                .bind(&row.relationship)
                .bind(row.has_parental_authority)
                .bind(&row.authority_source)
                .bind(&row.email)
                .bind(&row.phone)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_child(&self, row: &ChildRow, expected_version: i64, end_mentor: bool, audit: &AuditRecord) -> StoreResult<i64> {
                let mut tx = self.begin_write().await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE children SET given_name = $3, date_of_birth = $4, group_id = $5, location_id = $6, \
                     version = version + 1, updated_at = $7 WHERE id = $1 AND version = $2 RETURNING version",
                )
                .bind(row.id)
                .bind(expected_version)
                .bind(&row.given_name)
                .bind(row.date_of_birth)
                .bind(row.group_id)
                .bind(row.location_id)
                .bind(row.updated_at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
                let Some(version) = version else { return Err(StoreError::Stale) };
                if end_mentor {
                    sqlx::query("UPDATE child_mentors SET ended_at = $2 WHERE child_id = $1 AND ended_at IS NULL")
                        .bind(row.id)
                        .bind(row.updated_at)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(version)
            }

            async fn child_left(&self, child_id: Uuid, left_on: NaiveDate, at: DateTime<Utc>, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE children SET left_on = $2, version = version + 1, updated_at = $3 WHERE id = $1 AND left_on IS NULL",
                )
                .bind(child_id)
                .bind(left_on)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotApplicable);
                }
                sqlx::query("UPDATE parent_links SET revoked_at = $2 WHERE child_id = $1 AND revoked_at IS NULL")
                    .bind(child_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_guardians(&self, child_id: Uuid) -> StoreResult<Vec<GuardianRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, name, relationship, has_parental_authority, authority_source, \
                     email, phone, created_at FROM guardians WHERE child_id = $1 ORDER BY id",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }
        }
    };
}
