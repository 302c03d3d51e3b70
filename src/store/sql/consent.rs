//! Consent records, parent links, Meldcode reports, the parent's view of the log. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_consent {
    ($store:ty, $db:ty) => {
        impl $store {

            /// Inserts a consent record with its givers and supersedes what it replaces.
            async fn insert_consent(
                tx: &mut Transaction<'static, $db>,
                record: &ConsentRecord,
                supersede: &[Uuid],
            ) -> StoreResult<()> {
                let c = &record.consent;
                sqlx::query(&format!(
                    "INSERT INTO consents ({CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, \
                     $30, $31, $32)"
                ))
                .bind(c.id)
                .bind(c.child_id)
                .bind(&c.purpose)
                .bind(c.recipient_organization_id)
                .bind(&c.recipient_region_code)
                .bind(&c.decision)
                .bind(&c.method)
                .bind(&c.evidence_ref)
                .bind(c.noted_by_staff_id)
                .bind(&c.information_version)
                .bind(c.valid_from)
                .bind(c.valid_until)
                .bind(c.no_signs_of_disagreement)
                .bind(c.child_not_competent)
                .bind(&c.not_competent_judged_by)
                .bind(c.not_competent_judged_on)
                .bind(&c.not_competent_reason_sealed)
                .bind(&c.status)
                .bind(c.superseded_by)
                .bind(c.withdrawn_at)
                .bind(c.withdrawn_by_guardian_id)
                .bind(c.withdrawn_by_child)
                .bind(&c.withdrawal_reason)
                .bind(&c.recorded_by_subject)
                .bind(&c.recorded_by_role)
                .bind(c.recorded_by_organization_id)
                .bind(c.parent_link_id)
                .bind(c.recorded_at)
                .bind(&c.region_code)
                .bind(c.organization_id)
                .bind(&c.half_year)
                .bind(&c.age_band)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
                for g in &record.givers {
                    sqlx::query("INSERT INTO consent_givers (consent_id, guardian_id, is_child) VALUES ($1, $2, $3)")
                        .bind(c.id)
                        .bind(g.guardian_id)
                        .bind(g.is_child)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
                for org in &record.region_organizations {
                    sqlx::query("INSERT INTO consent_region_organizations (consent_id, organization_id) VALUES ($1, $2)")
                        .bind(c.id)
                        .bind(org)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
                for old in supersede {
                    sqlx::query(
                        "UPDATE consents SET status = 'superseded', superseded_by = $2 \
                         WHERE id = $1 AND status = 'active'",
                    )
                    .bind(old)
                    .bind(c.id)
                    .execute(&mut **tx)
                    .await?;
                }
                // requests resting on a replaced record: a new grant carries them on, a refusal holds them
                if c.decision == $crate::domain::consent::Decision::Granted {
                    for old in supersede {
                        sqlx::query("UPDATE consultation_consents SET consent_id = $2 WHERE consent_id = $1")
                            .bind(old)
                            .bind(c.id)
                            .execute(&mut **tx)
                            .await?;
                    }
                } else {
                    Self::hold_dependents(tx, supersede, c.recorded_at).await?;
                }
                Ok(())
            }


            /// Puts the open requests resting on `consents` on hold (consent withdrawn or refused).
            async fn hold_dependents(tx: &mut Transaction<'static, $db>, consents: &[Uuid], at: DateTime<Utc>) -> StoreResult<()> {
                for consent in consents {
                    let rows: Vec<ConsultationRow> = sqlx::query_as(&format!(
                        "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE id IN \
                         (SELECT consultation_id FROM consultation_consents WHERE consent_id = $1) \
                         AND status IN ('requested', 'offered', 'accepted', 'in_progress', 'unassigned')"
                    ))
                    .bind(consent)
                    .fetch_all(&mut **tx)
                    .await?;
                    for mut row in rows {
                        // the transition is the state machine's; a request it cannot hold stays
                        let from = row.status;
                        let Ok(held) = $crate::domain::consultation::next(from, $crate::domain::consultation::Event::Hold, None) else {
                            continue;
                        };
                        row.held_from = Some(row.status);
                        row.status = held;
                        row.status_reason = Some($crate::domain::consultation::HELD_FOR_CONSENT.into());
                        row.version += 1;
                        row.updated_at = at;
                        Self::write_consultation(tx, &row).await?;
                        Self::consultation_events(tx, &row, None, at).await?;
                    }
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl ConsentStore for $store {
            async fn create_consent(&self, record: &ConsentRecord, supersede: &[Uuid], audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(Self::LOCK_CHILD).bind(record.consent.child_id).execute(&mut *tx).await?;
                Self::insert_consent(&mut tx, record, supersede).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn consent_basis(&self, child_id: Uuid, purpose: &str) -> StoreResult<ConsentBasis> {
                use sqlx::{FromRow, Row};
                let rows = sqlx::query(&$crate::store::sql::CONSENT_BASIS)
                    .bind(child_id)
                    .bind(purpose)
                    .fetch_all(self.reader())
                    .await?;
                let (mut records, mut givers, mut orgs, mut guardians) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for row in &rows {
                    let part: String = row.try_get("part")?;
                    let id: Uuid = row.try_get("id")?;
                    let ref_id: Option<Uuid> = row.try_get("ref_id")?;
                    let flag: Option<bool> = row.try_get("flag")?;
                    match part.as_str() {
                        "c" => records.push(ConsentRow::from_row(row)?),
                        "g" => givers.push(GiverRow { consent_id: id, guardian_id: ref_id, is_child: flag.unwrap_or(false) }),
                        "o" => orgs.extend(ref_id.map(|org| (id, org))),
                        _ => guardians.push((id, flag.unwrap_or(false))),
                    }
                }
                Ok(ConsentBasis { records: with_givers(records, givers, orgs), guardians })
            }

            async fn consents_of_child(&self, child_id: Uuid, active_purpose: Option<&str>) -> StoreResult<Vec<ConsentRecord>> {
                let rows: Vec<ConsentRow> = sqlx::query_as(&format!(
                    "SELECT {CONSENT_COLUMNS} FROM consents WHERE child_id = $1 \
                     AND ($2 IS NULL OR purpose = $2) ORDER BY recorded_at, id"
                ))
                .bind(child_id)
                .bind(active_purpose)
                .fetch_all(self.reader())
                .await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let givers: Vec<GiverRow> = sqlx::query_as(
                    "SELECT g.consent_id, g.guardian_id, g.is_child FROM consent_givers g \
                     JOIN consents c ON c.id = g.consent_id \
                     WHERE c.child_id = $1 AND ($2 IS NULL OR c.purpose = $2)",
                )
                .bind(child_id)
                .bind(active_purpose)
                .fetch_all(self.reader())
                .await?;
                let orgs: Vec<(Uuid, Uuid)> = if rows.iter().any(|r| r.recipient_region_code.is_some()) {
                    sqlx::query_as(
                        "SELECT o.consent_id, o.organization_id FROM consent_region_organizations o \
                         JOIN consents c ON c.id = o.consent_id \
                         WHERE c.child_id = $1 AND ($2 IS NULL OR c.purpose = $2)",
                    )
                    .bind(child_id)
                    .bind(active_purpose)
                    .fetch_all(self.reader())
                    .await?
                } else {
                    Vec::new()
                };
                Ok(with_givers(rows, givers, orgs))
            }

            async fn get_consent(&self, id: Uuid) -> StoreResult<Option<ConsentRecord>> {
                let row: Option<ConsentRow> = sqlx::query_as(&format!("SELECT {CONSENT_COLUMNS} FROM consents WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let givers: Vec<GiverRow> =
                    sqlx::query_as("SELECT consent_id, guardian_id, is_child FROM consent_givers WHERE consent_id = $1")
                        .bind(id)
                        .fetch_all(self.reader())
                        .await?;
                let orgs: Vec<(Uuid, Uuid)> = sqlx::query_as(
                    "SELECT consent_id, organization_id FROM consent_region_organizations WHERE consent_id = $1",
                )
                .bind(id)
                .fetch_all(self.reader())
                .await?;
                Ok(with_givers(vec![row], givers, orgs).pop())
            }

            async fn withdraw_consent(&self, id: Uuid, w: &Withdrawal, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let child: Option<(Uuid, Uuid)> = sqlx::query_as(
                    "SELECT c.id, c.organization_id FROM children c JOIN consents k ON k.child_id = c.id WHERE k.id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((child_id, child_org)) = child else { return Err(StoreError::NotFound) };
                sqlx::query(Self::LOCK_CHILD).bind(child_id).execute(&mut *tx).await?;
                let done = sqlx::query(
                    "UPDATE consents SET status = 'withdrawn', withdrawn_at = $2, withdrawn_by_guardian_id = $3, \
                     withdrawn_by_child = $4, withdrawal_reason = $5 WHERE id = $1 AND status = 'active'",
                )
                .bind(id)
                .bind(w.at)
                .bind(w.by_guardian_id)
                .bind(w.by_child)
                .bind(&w.reason)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotApplicable);
                }
                // stop all further use at once: requests resting on it go on hold, partners are told
                Self::hold_dependents(&mut tx, &[id], w.at).await?;
                let data = $crate::webhooks::consent_withdrawn_data(id, child_id);
                Self::enqueue(&mut tx, child_org, "consent.withdrawn", &data, w.at).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_parent_link(&self, row: &ParentLinkRow, replace: bool, audit: &AuditRecord, mail: Option<&MailRow>) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                if replace {
                    sqlx::query(
                        "UPDATE parent_links SET revoked_at = $5 WHERE child_id = $1 AND kind = 'invitation' \
                         AND holder = $2 AND (guardian_id = $3 OR (guardian_id IS NULL AND $3 IS NULL)) AND purpose = $4 \
                         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $5",
                    )
                    .bind(row.child_id)
                    .bind(&row.holder)
                    .bind(row.guardian_id)
                    .bind(&row.purpose)
                    .bind(row.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(&format!(
                    "INSERT INTO parent_links ({PARENT_LINK_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                ))
                .bind(row.id)
                .bind(&row.token_hash)
                .bind(&row.kind)
                .bind(row.child_id)
                .bind(&row.holder)
                .bind(row.guardian_id)
                .bind(&row.purpose)
                .bind(row.recipient_organization_id)
                .bind(&row.recipient_region_code)
                .bind(row.consent_valid_until)
                .bind(&row.information_version)
                .bind(row.expires_at)
                .bind(row.used_at)
                .bind(&row.created_by_subject)
                .bind(row.created_by_organization_id)
                .bind(row.created_at)
                .bind(row.revoked_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                if let Some(m) = mail {
                    sqlx::query(
                        "INSERT INTO mail_outbox (id, parent_link_id, sealed, created_at, attempts, next_attempt_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(m.id)
                    .bind(m.parent_link_id)
                    .bind(&m.sealed)
                    .bind(m.created_at)
                    .bind(m.attempts)
                    .bind(m.next_attempt_at)
                    .execute(&mut *tx)
                    .await?;
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn claim_mail(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64) -> StoreResult<Vec<MailRow>> {
                let mut tx = self.begin_write().await?;
                let rows: Vec<MailRow> = sqlx::query_as(
                    "UPDATE mail_outbox SET locked_until = $2 WHERE id IN (\
                       SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 \
                       AND (locked_until IS NULL OR locked_until < $1) ORDER BY next_attempt_at LIMIT $3) \
                     RETURNING id, parent_link_id, sealed, created_at, attempts, next_attempt_at",
                )
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(rows)
            }

            async fn mail_sent(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE mail_outbox SET sent_at = $2, locked_until = NULL, attempts = attempts + 1, last_error = NULL WHERE id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn mail_failed(&self, id: Uuid, retry_at: DateTime<Utc>, error: &str) -> StoreResult<()> {
                sqlx::query("UPDATE mail_outbox SET next_attempt_at = $2, locked_until = NULL, attempts = attempts + 1, last_error = $3 WHERE id = $1")
                    .bind(id)
                    .bind(retry_at)
                    .bind(error)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn links_of_child(&self, child_id: Uuid) -> StoreResult<Vec<ParentLinkRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {PARENT_LINK_COLUMNS} FROM parent_links WHERE child_id = $1 ORDER BY created_at DESC, id DESC"
                ))
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn get_parent_link(&self, id: Uuid) -> StoreResult<Option<ParentLinkRow>> {
                Ok(sqlx::query_as(&format!("SELECT {PARENT_LINK_COLUMNS} FROM parent_links WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn revoke_parent_link(&self, id: Uuid, at: DateTime<Utc>, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE parent_links SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotApplicable);
                }
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn parent_link_by_hash(&self, token_hash: &str) -> StoreResult<Option<ParentLinkRow>> {
                Ok(sqlx::query_as(&format!("SELECT {PARENT_LINK_COLUMNS} FROM parent_links WHERE token_hash = $1"))
                    .bind(token_hash)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn decide_invitation(&self, link_id: Uuid, record: &ConsentRecord, supersede: &[Uuid], audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(Self::LOCK_CHILD).bind(record.consent.child_id).execute(&mut *tx).await?;
                let used = sqlx::query("UPDATE parent_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
                    .bind(link_id)
                    .bind(record.consent.recorded_at)
                    .execute(&mut *tx)
                    .await?;
                if used.rows_affected() == 0 {
                    return Err(StoreError::NotApplicable);
                }
                Self::insert_consent(&mut tx, record, supersede).await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_veilig_thuis_report(&self, row: &VeiligThuisReportRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO veilig_thuis_reports (id, child_id, legal_basis, reason, consulted, weighing, \
                     reported_on, recorded_by_subject, recorded_by_staff_id, organization_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(&row.legal_basis)
                .bind(&row.reason)
                .bind(&row.consulted)
                .bind(&row.weighing)
                .bind(row.reported_on)
                .bind(&row.recorded_by_subject)
                .bind(row.recorded_by_staff_id)
                .bind(row.organization_id)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn veilig_thuis_reports(&self, child_id: Uuid) -> StoreResult<Vec<VeiligThuisReportRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, child_id, legal_basis, reason, consulted, weighing, reported_on, recorded_by_subject, \
                     recorded_by_staff_id, organization_id, created_at FROM veilig_thuis_reports \
                     WHERE child_id = $1 ORDER BY created_at",
                )
                .bind(child_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn child_access_log(&self, child_id: Uuid, after_seq: Option<i64>, limit: i64) -> StoreResult<Vec<ChildAccessRow>> {
                // every access committed before this read is in the chain, and so shown
                self.chain_audit().await?;
                Ok(sqlx::query_as(
                    "SELECT a.seq, a.occurred_at, a.actor_role, a.actor_subject, s.name AS staff_name, \
                     o.name AS organization_name, a.action, a.resource_type, a.outcome, a.flag \
                     FROM audit_log a LEFT JOIN staff s ON s.id = a.actor_staff_id \
                     LEFT JOIN organizations o ON o.id = a.actor_organization_id \
                     WHERE a.child_id = $1 AND ($2 IS NULL OR a.seq > $2) ORDER BY a.seq LIMIT $3",
                )
                .bind(child_id)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(self.reader())
                .await?)
            }
        }
    };
}
