//! Concerns, consultation requests and their routing, visits, the timeline. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_consultations {
    ($store:ty, $db:ty) => {
        impl $store {

            /// Tells the child's organisation and the organisations of the specialists involved
            /// (now, or until this change) about a consultation's new status.
            async fn consultation_events(
                tx: &mut Transaction<'static, $db>,
                row: &ConsultationRow,
                formerly: Option<Uuid>,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut specialist_orgs = Vec::new();
                for staff in [row.offered_to, row.assigned_to, formerly].into_iter().flatten() {
                    let org: Option<Uuid> = sqlx::query_scalar("SELECT organization_id FROM staff WHERE id = $1")
                        .bind(staff)
                        .fetch_optional(&mut **tx)
                        .await?;
                    specialist_orgs.extend(org);
                }
                let orgs = $crate::domain::consultation::event_recipients(row.organization_id, specialist_orgs);
                let event_type = format!("consultation.{}", row.status);
                let data = $crate::webhooks::consultation_event_data(row.id, row.status.as_str());
                for org in orgs {
                    Self::enqueue(tx, org, &event_type, &data, at).await?;
                }
                Ok(())
            }


            /// Takes one slot of a specialist's capacity, if one is free (the database's check
            /// makes an overrun impossible even without this condition).
            async fn claim_slot(tx: &mut Transaction<'static, $db>, staff: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE staff SET open_count = open_count + 1, last_offered_at = $2 \
                     WHERE id = $1 AND active AND role = 'specialist' AND open_count < capacity",
                )
                .bind(staff)
                .bind(at)
                .execute(&mut **tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }


            /// Offers the request to the first ranked specialist with a free slot, or leaves it
            /// unassigned; records the decision with its reason. In PostgreSQL a first pass takes
            /// the first ranked specialist whose row no other transaction holds
            /// (`CLAIM_SLOT_OR_SKIP`), so concurrent submissions spread over the equally suited
            /// instead of queueing on one row; only when every one of them is held or full does a
            /// second pass wait, in rank order.
            async fn route_in_tx(
                tx: &mut Transaction<'static, $db>,
                row: &mut ConsultationRow,
                route: &RouteRequest,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut chosen = None;
                let mut passed_over = Vec::new();
                if !Self::CLAIM_SLOT_OR_SKIP.is_empty() {
                    for staff in &route.ranking.ranked {
                        let done = sqlx::query(Self::CLAIM_SLOT_OR_SKIP)
                            .bind(*staff)
                            .bind(at)
                            .execute(&mut **tx)
                            .await?;
                        if done.rows_affected() == 1 {
                            chosen = Some(*staff);
                            break;
                        }
                        passed_over.push(*staff);
                    }
                }
                let mut full = Vec::new();
                if chosen.is_none() {
                    passed_over.clear();
                    for staff in &route.ranking.ranked {
                        if Self::claim_slot(tx, *staff, at).await? {
                            chosen = Some(*staff);
                            break;
                        }
                        full.push(*staff);
                    }
                }
                match chosen {
                    Some(staff) => {
                        row.status = route.outcomes.offered;
                        row.offered_to = Some(staff);
                        row.offered_at = Some(at);
                        row.answer_due = Some(route.answer_due);
                    }
                    None => {
                        sqlx::query("UPDATE consultations SET ever_unassigned = TRUE WHERE id = $1")
                            .bind(row.id)
                            .execute(&mut **tx)
                            .await?;
                        row.status = route.outcomes.unassigned;
                        row.offered_to = None;
                        row.offered_at = None;
                        row.answer_due = None;
                    }
                }
                let reason = $crate::domain::routing::reason(&route.ranking, chosen, &full, &passed_over);
                sqlx::query(
                    "INSERT INTO routing_decisions (id, consultation_id, decided_at, trigger, chosen_staff_id, reason, considered) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(Uuid::now_v7())
                .bind(row.id)
                .bind(at)
                .bind(&route.trigger)
                .bind(chosen)
                .bind(reason)
                .bind(serde_json::to_string(&route.ranking.considered).unwrap_or_default())
                .execute(&mut **tx)
                .await?;
                Ok(())
            }


            async fn write_consultation(tx: &mut Transaction<'static, $db>, row: &ConsultationRow) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE consultations SET status = $2, held_from = $3, offered_to = $4, offered_at = $5, \
                     answer_due = $6, assigned_to = $7, accepted_at = $8, status_reason = $9, version = $10, \
                     updated_at = $11, outcome = $12, closed_at = $13, summary_sealed = $14, advice_sealed = $15, \
                     parents_involved = $16, referral_kind = $17, referral_consent_in_force = $18, \
                     status_note_sealed = $19 WHERE id = $1",
                )
                .bind(row.id)
                .bind(&row.status)
                .bind(&row.held_from)
                .bind(row.offered_to)
                .bind(row.offered_at)
                .bind(row.answer_due)
                .bind(row.assigned_to)
                .bind(row.accepted_at)
                .bind(&row.status_reason)
                .bind(row.version)
                .bind(row.updated_at)
                .bind(&row.outcome)
                .bind(row.closed_at)
                .bind(&row.summary_sealed)
                .bind(&row.advice_sealed)
                .bind(row.parents_involved)
                .bind(&row.referral_kind)
                .bind(row.referral_consent_in_force)
                .bind(&row.status_note_sealed)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }


            /// Moves a request to the status its first held visit gives it (`start.status`), if it
            /// is still in the status it was read in.
            async fn start_in_tx(tx: &mut Transaction<'static, $db>, start: &Start, at: DateTime<Utc>) -> StoreResult<()> {
                let row = &start.row;
                let done = sqlx::query(
                    "UPDATE consultations SET status = $3, version = version + 1, updated_at = $2 \
                     WHERE id = $1 AND status = $4",
                )
                .bind(row.id)
                .bind(at)
                .bind(start.status.as_str())
                .bind(&row.status)
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() == 1 {
                    let mut after = row.clone();
                    after.status = start.status;
                    Self::consultation_events(tx, &after, None, at).await?;
                }
                Ok(())
            }


            async fn insert_visit(tx: &mut Transaction<'static, $db>, v: &VisitRow) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO visits ({VISIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
                ))
                .bind(v.id)
                .bind(v.consultation_id)
                .bind(v.child_id)
                .bind(v.specialist_id)
                .bind(v.date)
                .bind(v.duration_minutes)
                .bind(&v.kind)
                .bind(&v.participants)
                .bind(&v.competences)
                .bind(&v.status)
                .bind(&v.notes_sealed)
                .bind(&v.advice_sealed)
                .bind(v.notes_shared)
                .bind(v.version)
                .bind(v.created_at)
                .bind(v.updated_at)
                .bind(&v.region_code)
                .bind(v.organization_id)
                .bind(&v.half_year)
                .bind(&v.age_band)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
                Self::first_visit(tx, v).await?;
                Ok(())
            }


            /// Figures: the day of the first held visit of a request.
            async fn first_visit(tx: &mut Transaction<'static, $db>, v: &VisitRow) -> StoreResult<()> {
                if v.status == $crate::domain::consultation::VisitStatus::Held {
                    sqlx::query(
                        "UPDATE consultations SET first_visit_on = $2 WHERE id = $1 AND (first_visit_on IS NULL OR first_visit_on > $2)",
                    )
                    .bind(v.consultation_id)
                    .bind(v.date)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl ConsultationStore for $store {
            async fn create_concern(&self, row: &ConcernRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO concerns (id, child_id, domains, observation, observed_since, recorded_by_subject, \
                     recorded_by_staff_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(&row.domains)
                .bind(&row.observation)
                .bind(row.observed_since)
                .bind(&row.recorded_by_subject)
                .bind(row.recorded_by_staff_id)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_concern(&self, id: Uuid) -> StoreResult<Option<ConcernRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, domains, observation, observed_since, recorded_by_subject, recorded_by_staff_id, \
                     created_at FROM concerns WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.reader())
                .await?)
            }

            async fn concerns_of_child(&self, child_id: Uuid) -> StoreResult<Vec<ConcernRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, domains, observation, observed_since, recorded_by_subject, recorded_by_staff_id, \
                     created_at FROM concerns WHERE child_id = $1 ORDER BY id",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn routing_candidates(&self, region_code: &str) -> StoreResult<Vec<CandidateRow>> {
                let rows: Vec<(Uuid, Uuid, bool, Option<i64>, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
                    "SELECT s.id, s.organization_id, s.active, s.capacity, s.open_count, s.last_offered_at \
                     FROM staff s JOIN staff_regions r ON r.staff_id = s.id \
                     WHERE r.region_code = $1 AND s.role = 'specialist' ORDER BY s.id",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?;
                let regions: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT staff_id, region_code FROM staff_regions WHERE staff_id IN \
                     (SELECT staff_id FROM staff_regions WHERE region_code = $1)",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?;
                let expertise: Vec<(Uuid, ConcernDomain)> = sqlx::query_as(
                    "SELECT staff_id, expertise FROM staff_expertise WHERE staff_id IN \
                     (SELECT staff_id FROM staff_regions WHERE region_code = $1)",
                )
                .bind(region_code)
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, org, active, capacity, open, last)| CandidateRow {
                        staff_id: id,
                        organization_id: org,
                        active,
                        capacity: capacity.unwrap_or(0),
                        open_count: open,
                        last_offered_at: last,
                        region_codes: regions.iter().filter(|r| r.0 == id).map(|r| r.1.clone()).collect(),
                        expertise: expertise.iter().filter(|e| e.0 == id).map(|e| e.1).collect(),
                    })
                    .collect())
            }

            async fn submit_consultation(&self, sub: &Submission) -> StoreResult<ConsultationRow> {
                let at = sub.row.created_at;
                let mut tx = self.begin_write().await?;
                sqlx::query(Self::LOCK_CHILD).bind(sub.row.child_id).execute(&mut *tx).await?;
                if let Some(k) = &sub.idempotency {
                    sqlx::query(
                        "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body, created_at) \
                         VALUES ($1, $2, $3, 0, '', $4)",
                    )
                    .bind(&k.scope)
                    .bind(&k.key)
                    .bind(&k.request_hash)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match classify(e) {
                        StoreError::AlreadyExists => StoreError::Duplicate,
                        other => other,
                    })?;
                }
                // the consent the permission rests on must still be in force at commit
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT COUNT(*) FROM consents WHERE status = 'active' AND id IN (");
                let mut sep = qb.separated(", ");
                for id in &sub.consent_ids {
                    sep.push_bind(*id);
                }
                qb.push(")");
                let active: i64 = qb.build_query_scalar().fetch_one(&mut *tx).await?;
                if active as usize != sub.consent_ids.len() {
                    return Err(StoreError::ConsentChanged);
                }
                let mut row = sub.row.clone();
                sqlx::query(&format!(
                    "INSERT INTO consultations ({CONSULTATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)"
                ))
                .bind(row.id)
                .bind(row.child_id)
                .bind(row.organization_id)
                .bind(row.location_id)
                .bind(row.concern_id)
                .bind(&row.question)
                .bind(&row.expertise)
                .bind(&row.urgency)
                .bind(&row.region_code)
                .bind(&row.status)
                .bind(&row.held_from)
                .bind(row.offered_to)
                .bind(row.offered_at)
                .bind(row.answer_due)
                .bind(row.assigned_to)
                .bind(row.accepted_at)
                .bind(&row.status_reason)
                .bind(&row.status_note_sealed)
                .bind(&row.requested_by_subject)
                .bind(row.requested_by_staff_id)
                .bind(row.version)
                .bind(row.created_at)
                .bind(row.updated_at)
                .bind(&row.outcome)
                .bind(row.closed_at)
                .bind(&row.summary_sealed)
                .bind(&row.advice_sealed)
                .bind(row.parents_involved)
                .bind(&row.referral_kind)
                .bind(row.referral_consent_in_force)
                .bind(&row.half_year)
                .bind(&row.age_band)
                .bind(row.consent_delayed)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                for consent in &sub.consent_ids {
                    sqlx::query("INSERT INTO consultation_consents (consultation_id, consent_id) VALUES ($1, $2)")
                        .bind(row.id)
                        .bind(consent)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::route_in_tx(&mut tx, &mut row, &sub.route, at).await?;
                Self::write_consultation(&mut tx, &row).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(&sub.audit)).await?;
                Self::consultation_events(&mut tx, &row, None, at).await?;
                if let Some(k) = &sub.idempotency {
                    sqlx::query("UPDATE idempotency_keys SET status_code = 201, response_body = $3 WHERE scope = $1 AND key = $2")
                        .bind(&k.scope)
                        .bind(&k.key)
                        .bind(row.id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(row)
            }

            async fn get_consultation(&self, id: Uuid) -> StoreResult<Option<ConsultationRow>> {
                Ok(sqlx::query_as(&format!("SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_consultations(&self, f: &ConsultationFilter) -> StoreResult<Vec<ConsultationRow>> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!("SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE 1 = 1"));
                match (f.organization_id, f.or_held_by_organization) {
                    (Some(org), Some(holder)) => {
                        qb.push(" AND (organization_id = ").push_bind(org)
                            .push(" OR assigned_to IN (SELECT id FROM staff WHERE organization_id = ").push_bind(holder)
                            .push("))");
                    }
                    (Some(org), None) => {
                        qb.push(" AND organization_id = ").push_bind(org);
                    }
                    (None, Some(holder)) => {
                        qb.push(" AND assigned_to IN (SELECT id FROM staff WHERE organization_id = ").push_bind(holder).push(")");
                    }
                    (None, None) => {}
                }
                if let Some(child) = f.child_id {
                    qb.push(" AND child_id = ").push_bind(child);
                }
                if let Some(locations) = &f.location_ids {
                    qb.push(" AND location_id IN (");
                    let mut sep = qb.separated(", ");
                    sep.push_bind(Uuid::nil());
                    for l in locations {
                        sep.push_bind(*l);
                    }
                    qb.push(")");
                }
                if let Some(staff) = f.staff_id {
                    qb.push(" AND (offered_to = ").push_bind(staff).push(" OR assigned_to = ").push_bind(staff).push(")");
                }
                if let Some(regions) = &f.region_codes {
                    qb.push(" AND region_code IN (");
                    let mut sep = qb.separated(", ");
                    sep.push_bind("");
                    for r in regions {
                        sep.push_bind(r.clone());
                    }
                    qb.push(")");
                }
                if let Some(status) = &f.status {
                    qb.push(" AND status = ").push_bind(status.clone());
                }
                if let Some(after) = f.after {
                    qb.push(" AND id > ").push_bind(after);
                }
                qb.push(" ORDER BY id LIMIT ").push_bind(f.limit);
                Ok(qb.build_query_as().fetch_all(self.reader()).await?)
            }

            async fn change_consultation(&self, c: &ConsultationChange) -> StoreResult<ConsultationRow> {
                let at = c.after.updated_at;
                let mut tx = self.begin_write().await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE consultations SET version = version + 1 WHERE id = $1 AND version = $2 RETURNING version",
                )
                .bind(c.after.id)
                .bind(c.expected_version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(version) = version else {
                    let exists: Option<i64> = sqlx::query_scalar("SELECT version FROM consultations WHERE id = $1")
                        .bind(c.after.id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(if exists.is_some() { StoreError::Stale } else { StoreError::NotFound });
                };
                if let Some(staff) = c.release {
                    sqlx::query("UPDATE staff SET open_count = open_count - 1 WHERE id = $1 AND open_count > 0")
                        .bind(staff)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(d) = &c.decline {
                    sqlx::query("UPDATE consultations SET reroutes = reroutes + 1 WHERE id = $1")
                        .bind(d.consultation_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO consultation_declines (id, consultation_id, staff_id, kind, reason, at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(d.id)
                    .bind(d.consultation_id)
                    .bind(d.staff_id)
                    .bind(&d.kind)
                    .bind(&d.reason)
                    .bind(d.at)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(consents) = &c.relink_consents {
                    sqlx::query("DELETE FROM consultation_consents WHERE consultation_id = $1")
                        .bind(c.after.id)
                        .execute(&mut *tx)
                        .await?;
                    for consent in consents {
                        sqlx::query("INSERT INTO consultation_consents (consultation_id, consent_id) VALUES ($1, $2)")
                            .bind(c.after.id)
                            .bind(consent)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let mut row = c.after.clone();
                row.version = version;
                if let Some(staff) = c.claim {
                    if !Self::claim_slot(&mut tx, staff, at).await? {
                        return Err(StoreError::NoCapacity);
                    }
                }
                if let Some(route) = &c.route {
                    Self::route_in_tx(&mut tx, &mut row, route, at).await?;
                }
                Self::write_consultation(&mut tx, &row).await?;
                Self::append_audit(&mut tx, &c.audit).await?;
                Self::consultation_events(&mut tx, &row, c.release, at).await?;
                tx.commit().await?;
                Ok(row)
            }

            async fn add_message(&self, row: &MessageRow, event: &OutboxEvent, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO consultation_messages (id, consultation_id, child_id, author_role, author_subject, \
                     author_staff_id, body_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(row.id)
                .bind(row.consultation_id)
                .bind(row.child_id)
                .bind(&row.author_role)
                .bind(&row.author_subject)
                .bind(row.author_staff_id)
                .bind(&row.body_sealed)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::enqueue_event(&mut tx, event, row.created_at).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn messages_of(&self, consultation_id: Uuid) -> StoreResult<Vec<MessageRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, consultation_id, child_id, author_role, author_subject, author_staff_id, body_sealed, created_at \
                     FROM consultation_messages WHERE consultation_id = $1 ORDER BY created_at, id",
                )
                .bind(consultation_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn declines(&self, consultation_id: Uuid) -> StoreResult<Vec<DeclineRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, consultation_id, staff_id, kind, reason, at FROM consultation_declines \
                     WHERE consultation_id = $1 ORDER BY at",
                )
                .bind(consultation_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn routing_decisions(&self, consultation_id: Uuid) -> StoreResult<Vec<RoutingDecisionRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, consultation_id, decided_at, trigger, chosen_staff_id, reason, considered \
                     FROM routing_decisions WHERE consultation_id = $1 ORDER BY decided_at, id",
                )
                .bind(consultation_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn overdue_offers(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<ConsultationRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE status = 'offered' AND answer_due < $1 \
                     ORDER BY answer_due LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn idempotent_response(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotentResponse>> {
                // status 0: the first request is still being handled; else the id of what it made
                let row: Option<(String, i64, String)> = sqlx::query_as(
                    "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2",
                )
                .bind(scope)
                .bind(key)
                .fetch_optional(self.writer())
                .await?;
                Ok(row.map(|(request_hash, status, id)| IdempotentResponse {
                    request_hash,
                    resource_id: if status == 0 { None } else { id.parse().ok() },
                }))
            }

            async fn create_visit(&self, row: &VisitRow, start: Option<&Start>, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                Self::insert_visit(&mut tx, row).await?;
                if let Some(c) = start {
                    Self::start_in_tx(&mut tx, c, row.created_at).await?;
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_visit(&self, id: Uuid) -> StoreResult<Option<VisitRow>> {
                Ok(sqlx::query_as(&format!("SELECT {VISIT_COLUMNS} FROM visits WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn visits_of(&self, consultation_id: Uuid) -> StoreResult<Vec<VisitRow>> {
                Ok(sqlx::query_as(&format!("SELECT {VISIT_COLUMNS} FROM visits WHERE consultation_id = $1 ORDER BY date, id"))
                    .bind(consultation_id)
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn update_visit(&self, v: &VisitRow, expected_version: i64, start: Option<&Start>, audit: &AuditRecord) -> StoreResult<i64> {
                let mut tx = self.begin_write().await?;
                let version: Option<i64> = sqlx::query_scalar(
                    "UPDATE visits SET date = $3, duration_minutes = $4, kind = $5, participants = $6, competences = $7, \
                     status = $8, notes_sealed = $9, advice_sealed = $10, notes_shared = $11, version = version + 1, \
                     updated_at = $12, half_year = $13 WHERE id = $1 AND version = $2 RETURNING version",
                )
                .bind(v.id)
                .bind(expected_version)
                .bind(v.date)
                .bind(v.duration_minutes)
                .bind(&v.kind)
                .bind(&v.participants)
                .bind(&v.competences)
                .bind(&v.status)
                .bind(&v.notes_sealed)
                .bind(&v.advice_sealed)
                .bind(v.notes_shared)
                .bind(v.updated_at)
                .bind(&v.half_year)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(version) = version else { return Err(StoreError::Stale) };
                Self::first_visit(&mut tx, v).await?;
                if let Some(c) = start {
                    Self::start_in_tx(&mut tx, c, v.updated_at).await?;
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(version)
            }

            async fn timeline(&self, child_id: Uuid, before: Option<(DateTime<Utc>, Uuid)>, consultations: Option<&[Uuid]>, limit: i64) -> StoreResult<Vec<TimelineRow>> {
                // each kind of event is a branch that takes at most `limit` rows of its own
                // (newest first, after the cursor) through its index; the union is then cut to
                // `limit`: cheap however long the child's history is
                let branches: [(&str, &str, &str, &str, &str); 8] = [
                    ("created_at", "'concern'", "id", "CAST(NULL AS UUID)", "domains FROM concerns WHERE child_id = "),
                    ("recorded_at", "'consent'", "id", "CAST(NULL AS UUID)", "purpose || ':' || decision || ':' || status FROM consents WHERE child_id = "),
                    ("withdrawn_at", "'consent_withdrawn'", "id", "CAST(NULL AS UUID)", "purpose FROM consents WHERE withdrawn_at IS NOT NULL AND child_id = "),
                    ("created_at", "'consultation'", "id", "id", "expertise || ':' || urgency FROM consultations WHERE child_id = "),
                    ("r.decided_at", "'routing'", "r.id", "r.consultation_id", "r.trigger FROM routing_decisions r JOIN consultations k ON k.id = r.consultation_id WHERE k.child_id = "),
                    ("accepted_at", "'accepted'", "id", "id", "status FROM consultations WHERE accepted_at IS NOT NULL AND child_id = "),
                    ("created_at", "'visit'", "id", "consultation_id", "kind || ':' || status FROM visits WHERE child_id = "),
                    ("closed_at", "'outcome'", "id", "id", "outcome FROM consultations WHERE closed_at IS NOT NULL AND child_id = "),
                ];
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT happened_at, kind, id, consultation_id, detail FROM (");
                for (i, (at, kind, id, consultation, rest)) in branches.iter().enumerate() {
                    if i > 0 {
                        qb.push(" UNION ALL ");
                    }
                    let (detail, from) = rest.split_once(" FROM ").expect("a branch reads from a table");
                    qb.push(format!(
                        "SELECT * FROM (SELECT {at} AS happened_at, {kind} AS kind, {id} AS id, \
                         {consultation} AS consultation_id, {detail} AS detail FROM {from}"
                    ));
                    qb.push_bind(child_id);
                    if let Some(ids) = consultations {
                        qb.push(format!(" AND {consultation} IN ("));
                        let mut sep = qb.separated(", ");
                        sep.push_bind(Uuid::nil());
                        for c in ids {
                            sep.push_bind(*c);
                        }
                        qb.push(")");
                    }
                    if let Some((cursor_at, cursor_id)) = before {
                        qb.push(format!(" AND ({at} < ")).push_bind(cursor_at);
                        qb.push(format!(" OR ({at} = ")).push_bind(cursor_at);
                        qb.push(format!(" AND {id} < ")).push_bind(cursor_id).push("))");
                    }
                    qb.push(format!(" ORDER BY {at} DESC, {id} DESC LIMIT ")).push_bind(limit).push(") b");
                    qb.push(i.to_string());
                }
                qb.push(") t ORDER BY happened_at DESC, id DESC LIMIT ").push_bind(limit);
                Ok(qb.build_query_as().fetch_all(self.reader()).await?)
            }
        }
    };
}
