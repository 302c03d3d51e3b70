//! Regions, organisations, locations, groups and staff. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_registry {
    ($store:ty, $db:ty) => {
        impl $store {
            /// A staff member's locations, regions and expertise, in the caller's transaction.
            async fn insert_staff_links(tx: &mut Transaction<'static, $db>, record: &StaffRecord) -> StoreResult<()> {
                let id = record.staff.id;
                for l in &record.location_ids {
                    sqlx::query("INSERT INTO staff_locations (staff_id, location_id) VALUES ($1, $2)")
                        .bind(id)
                        .bind(l)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
                for r in &record.region_codes {
                    sqlx::query("INSERT INTO staff_regions (staff_id, region_code) VALUES ($1, $2)")
                        .bind(id)
                        .bind(r)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
                for e in &record.expertise {
                    sqlx::query("INSERT INTO staff_expertise (staff_id, expertise) VALUES ($1, $2)")
                        .bind(id)
                        .bind(e)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
                Ok(())
            }

            async fn staff_links(&self, row: StaffRow) -> StoreResult<StaffRecord> {
                let pool = self.reader();
                let location_ids: Vec<Uuid> = sqlx::query_scalar(
                    "SELECT location_id FROM staff_locations WHERE staff_id = $1 ORDER BY location_id",
                )
                .bind(row.id)
                .fetch_all(pool)
                .await?;
                let region_codes: Vec<String> = sqlx::query_scalar(
                    "SELECT region_code FROM staff_regions WHERE staff_id = $1 ORDER BY region_code",
                )
                .bind(row.id)
                .fetch_all(pool)
                .await?;
                let expertise: Vec<ConcernDomain> = sqlx::query_scalar(
                    "SELECT expertise FROM staff_expertise WHERE staff_id = $1 ORDER BY expertise",
                )
                .bind(row.id)
                .fetch_all(pool)
                .await?;
                Ok(StaffRecord { staff: row, location_ids, region_codes, expertise })
            }
        }

        #[async_trait::async_trait]
        impl RegistryStore for $store {
            async fn import_regions(&self, rows: &[RegionMembership]) -> StoreResult<u64> {
                let now = $crate::domain::calendar::now();
                let mut tx = self.begin_write().await?;
                for r in rows {
                    sqlx::query(
                        "INSERT INTO regions (code, name, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
                    )
                    .bind(r.region_code.as_str())
                    .bind(&r.region_name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO region_memberships \
                         (municipality_code, municipality_name, region_code, valid_from, imported_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (municipality_code, valid_from) DO UPDATE SET \
                         municipality_name = excluded.municipality_name, \
                         region_code = excluded.region_code, imported_at = excluded.imported_at",
                    )
                    .bind(r.municipality_code.as_str())
                    .bind(&r.municipality_name)
                    .bind(r.region_code.as_str())
                    .bind(r.valid_from)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(rows.len() as u64)
            }

            async fn list_regions(&self) -> StoreResult<Vec<RegionRow>> {
                Ok(sqlx::query_as("SELECT code, name FROM regions ORDER BY code")
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn get_region(&self, code: &str) -> StoreResult<Option<RegionRow>> {
                Ok(sqlx::query_as("SELECT code, name FROM regions WHERE code = $1")
                    .bind(code)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn region_municipalities(&self, code: &str, on: NaiveDate) -> StoreResult<Vec<MunicipalityRow>> {
                Ok(sqlx::query_as(
                    "SELECT m.municipality_code, m.municipality_name, m.region_code, m.valid_from \
                     FROM region_memberships m \
                     WHERE m.region_code = $1 AND m.valid_from <= $2 AND NOT EXISTS ( \
                       SELECT 1 FROM region_memberships n WHERE n.municipality_code = m.municipality_code \
                       AND n.valid_from <= $2 AND n.valid_from > m.valid_from) \
                     ORDER BY m.municipality_code",
                )
                .bind(code)
                .bind(on)
                .fetch_all(self.reader())
                .await?)
            }

            async fn region_of(&self, municipality_code: &str, on: NaiveDate) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT region_code FROM region_memberships \
                     WHERE municipality_code = $1 AND valid_from <= $2 \
                     ORDER BY valid_from DESC LIMIT 1",
                )
                .bind(municipality_code)
                .bind(on)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn create_organization(&self, row: &OrganizationRow) -> StoreResult<()> {
                sqlx::query("INSERT INTO organizations (id, name, kind, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(row.id)
                    .bind(&row.name)
                    .bind(&row.kind)
                    .bind(row.created_at)
                    .execute(self.writer())
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn get_organization(&self, id: Uuid) -> StoreResult<Option<OrganizationRow>> {
                Ok(sqlx::query_as("SELECT id, name, kind, created_at, active FROM organizations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_organizations(&self, page: Page) -> StoreResult<Vec<OrganizationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, name, kind, created_at, active FROM organizations \
                     WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                )
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn create_location(&self, row: &LocationRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO locations (id, organization_id, name, type, municipality_code, lrk_number, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(row.id)
                .bind(row.organization_id)
                .bind(&row.name)
                .bind(&row.location_type)
                .bind(&row.municipality_code)
                .bind(&row.lrk_number)
                .bind(row.created_at)
                .execute(self.writer())
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn get_location(&self, id: Uuid) -> StoreResult<Option<LocationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, organization_id, name, type, municipality_code, lrk_number, created_at, active \
                     FROM locations WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn list_locations(&self, organization_id: Uuid, page: Page) -> StoreResult<Vec<LocationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, organization_id, name, type, municipality_code, lrk_number, created_at, active \
                     FROM locations WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
                )
                .bind(organization_id)
                .bind(page.after)
                .bind(page.limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn create_group(&self, row: &GroupRow) -> StoreResult<()> {
                sqlx::query("INSERT INTO groups (id, location_id, name, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(row.id)
                    .bind(row.location_id)
                    .bind(&row.name)
                    .bind(row.created_at)
                    .execute(self.writer())
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn get_group(&self, id: Uuid) -> StoreResult<Option<GroupRow>> {
                Ok(sqlx::query_as("SELECT id, location_id, name, created_at, active FROM groups WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_groups(&self, location_id: Uuid) -> StoreResult<Vec<GroupRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, location_id, name, created_at, active FROM groups WHERE location_id = $1 ORDER BY name",
                )
                .bind(location_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn create_staff(&self, record: &StaffRecord) -> StoreResult<()> {
                let s = &record.staff;
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO staff (id, organization_id, subject, name, role, capacity, active, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(s.id)
                .bind(s.organization_id)
                .bind(&s.subject)
                .bind(&s.name)
                .bind(&s.role)
                .bind(s.capacity)
                .bind(s.active)
                .bind(s.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::insert_staff_links(&mut tx, record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_staff(&self, id: Uuid) -> StoreResult<Option<StaffRecord>> {
                let row: Option<StaffRow> = sqlx::query_as(
                    "SELECT id, organization_id, subject, name, role, capacity, active, created_at \
                     FROM staff WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
                match row {
                    Some(row) => Ok(Some(self.staff_links(row).await?)),
                    None => Ok(None),
                }
            }

            async fn list_staff(&self, organization_id: Uuid, f: &StaffFilter, page: Page) -> StoreResult<Vec<StaffRecord>> {
                let rows: Vec<StaffRow> = sqlx::query_as(
                    "SELECT id, organization_id, subject, name, role, capacity, active, created_at \
                     FROM staff WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) \
                     AND ($4 IS NULL OR role = $4) AND ($5 IS NULL OR active = $5) \
                     AND ($6 IS NULL OR id IN (SELECT staff_id FROM staff_regions WHERE region_code = $6)) \
                     ORDER BY id LIMIT $3",
                )
                .bind(organization_id)
                .bind(page.after)
                .bind(page.limit)
                .bind(&f.role)
                .bind(f.active)
                .bind(&f.region_code)
                .fetch_all(self.reader())
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.push(self.staff_links(row).await?);
                }
                Ok(out)
            }

            async fn update_staff(&self, record: &StaffRecord) -> StoreResult<()> {
                let s = &record.staff;
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE staff SET name = $2, capacity = $3 WHERE id = $1")
                    .bind(s.id)
                    .bind(&s.name)
                    .bind(s.capacity)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                for table in ["staff_locations", "staff_regions", "staff_expertise"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE staff_id = $1"))
                        .bind(s.id)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::insert_staff_links(&mut tx, record).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn deactivate_staff(&self, id: Uuid) -> StoreResult<()> {
                let done = sqlx::query("UPDATE staff SET active = FALSE WHERE id = $1 AND active")
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotApplicable);
                }
                Ok(())
            }

            async fn update_organization(&self, row: &OrganizationRow) -> StoreResult<()> {
                sqlx::query("UPDATE organizations SET name = $2, active = $3 WHERE id = $1")
                    .bind(row.id)
                    .bind(&row.name)
                    .bind(row.active)
                    .execute(self.writer())
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn update_location(&self, row: &LocationRow) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE locations SET name = $2, municipality_code = $3, lrk_number = $4, active = $5 WHERE id = $1",
                )
                .bind(row.id)
                .bind(&row.name)
                .bind(&row.municipality_code)
                .bind(&row.lrk_number)
                .bind(row.active)
                .execute(self.writer())
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn update_group(&self, row: &GroupRow) -> StoreResult<()> {
                sqlx::query("UPDATE groups SET name = $2, active = $3 WHERE id = $1")
                    .bind(row.id)
                    .bind(&row.name)
                    .bind(row.active)
                    .execute(self.writer())
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn organizations_serving_region(&self, region_code: &str) -> StoreResult<Vec<Uuid>> {
                Ok(sqlx::query_scalar(
                    "SELECT DISTINCT s.organization_id FROM staff s JOIN staff_regions r ON r.staff_id = s.id \
                     WHERE r.region_code = $1 AND s.active AND s.role IN ('specialist', 'coordinator') \
                     ORDER BY s.organization_id",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?)
            }

            async fn staff_by_subject(&self, organization_id: Uuid, subject: &str) -> StoreResult<Option<StaffRecord>> {
                let row: Option<StaffRow> = sqlx::query_as(
                    "SELECT id, organization_id, subject, name, role, capacity, active, created_at \
                     FROM staff WHERE organization_id = $1 AND subject = $2 AND active",
                )
                .bind(organization_id)
                .bind(subject)
                .fetch_optional(self.reader())
                .await?;
                match row {
                    Some(row) => Ok(Some(self.staff_links(row).await?)),
                    None => Ok(None),
                }
            }

            async fn scope_version(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT version FROM scope_version WHERE id = 1")
                    .fetch_one(self.reader())
                    .await?)
            }
        }
    };
}
