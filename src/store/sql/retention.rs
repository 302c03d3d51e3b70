//! Retention, early destruction and re-sealing. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_retention {
    ($store:ty, $db:ty) => {
        impl $store {

            /// Deletes everything about one child (early destruction); the access log keeps its ids.
            async fn destroy_child(tx: &mut Transaction<'static, $db>, child: Uuid) -> StoreResult<()> {
                // free the capacity open requests held
                let holders: Vec<Option<Uuid>> = sqlx::query_scalar(
                    "SELECT COALESCE(assigned_to, offered_to) FROM consultations WHERE child_id = $1 \
                     AND status IN ('offered', 'accepted', 'in_progress', 'on_hold')",
                )
                .bind(child)
                .fetch_all(&mut **tx)
                .await?;
                for staff in holders.into_iter().flatten() {
                    sqlx::query("UPDATE staff SET open_count = open_count - 1 WHERE id = $1 AND open_count > 0")
                        .bind(staff)
                        .execute(&mut **tx)
                        .await?;
                }
                let consultations = "SELECT id FROM consultations WHERE child_id = $1";
                let statements = [
                    "DELETE FROM visits WHERE child_id = $1".to_string(),
                    format!("DELETE FROM consultation_declines WHERE consultation_id IN ({consultations})"),
                    format!("DELETE FROM consultation_messages WHERE consultation_id IN ({consultations})"),
                    format!("DELETE FROM routing_decisions WHERE consultation_id IN ({consultations})"),
                    format!("DELETE FROM consultation_consents WHERE consultation_id IN ({consultations})"),
                    "DELETE FROM consultations WHERE child_id = $1".to_string(),
                    "DELETE FROM concerns WHERE child_id = $1".to_string(),
                    "DELETE FROM consent_givers WHERE consent_id IN (SELECT id FROM consents WHERE child_id = $1)".to_string(),
                    "DELETE FROM consents WHERE child_id = $1".to_string(),
                    "DELETE FROM parent_links WHERE child_id = $1".to_string(),
                    "DELETE FROM veilig_thuis_reports WHERE child_id = $1".to_string(),
                    "DELETE FROM guardians WHERE child_id = $1".to_string(),
                    "DELETE FROM child_mentors WHERE child_id = $1".to_string(),
                    "DELETE FROM children WHERE id = $1".to_string(),
                ];
                for sql in statements {
                    sqlx::query(&sql).bind(child).execute(&mut **tx).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl RetentionStore for $store {
            async fn create_destruction_request(&self, row: &DestructionRequestRow, audit: &AuditRecord) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO destruction_requests (id, child_id, organization_id, requested_by, reason, recorded_by_subject, \
                     requested_at, carried_out_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(row.id)
                .bind(row.child_id)
                .bind(row.organization_id)
                .bind(&row.requested_by)
                .bind(&row.reason)
                .bind(&row.recorded_by_subject)
                .bind(row.requested_at)
                .bind(row.carried_out_at)
                .execute(&mut *tx)
                .await?;
                Self::append_audit(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn purge(&self, cut: &$crate::domain::retention::Cutoffs, now: DateTime<Utc>) -> StoreResult<PurgeReport> {
                let mut report = PurgeReport::default();
                let mut tx = self.begin_write().await?;
                if !Self::PURGE_LOCK.is_empty() {
                    sqlx::query(Self::PURGE_LOCK).execute(&mut *tx).await?;
                }
                // early destruction on request
                let pending: Vec<(Uuid, Uuid)> =
                    sqlx::query_as("SELECT id, child_id FROM destruction_requests WHERE carried_out_at IS NULL")
                        .fetch_all(&mut *tx)
                        .await?;
                for (request, child) in pending {
                    Self::destroy_child(&mut tx, child).await?;
                    sqlx::query("UPDATE destruction_requests SET carried_out_at = $2, reason = NULL WHERE id = $1")
                        .bind(request)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    report.children_destroyed += 1;
                }
                // the youth-care file: closed requests past their period, with all they hold
                let closed = "SELECT id FROM consultations WHERE status IN ('completed', 'cancelled', 'rejected') \
                              AND COALESCE(closed_at, updated_at) < $1";
                report.visits += sqlx::query(&format!("DELETE FROM visits WHERE consultation_id IN ({closed})"))
                    .bind(cut.youth_care_file).execute(&mut *tx).await?.rows_affected();
                for table in ["consultation_declines", "consultation_messages", "routing_decisions", "consultation_consents"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE consultation_id IN ({closed})"))
                        .bind(cut.youth_care_file).execute(&mut *tx).await?;
                }
                report.consultations += sqlx::query(
                    "DELETE FROM consultations WHERE status IN ('completed', 'cancelled', 'rejected') \
                     AND COALESCE(closed_at, updated_at) < $1",
                )
                .bind(cut.youth_care_file).execute(&mut *tx).await?.rows_affected();
                // children who left, past their period, once no youth-care file rests on them
                let gone: Vec<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM children WHERE left_on IS NOT NULL AND left_on < $1 AND NOT EXISTS \
                     (SELECT 1 FROM consultations k WHERE k.child_id = children.id)",
                )
                .bind(cut.left_child)
                .fetch_all(&mut *tx)
                .await?;
                for child in gone {
                    Self::destroy_child(&mut tx, child).await?;
                    report.children_left += 1;
                }
                // childcare signals without a request
                report.concerns += sqlx::query(
                    "DELETE FROM concerns WHERE created_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM consultations k WHERE k.concern_id = concerns.id)",
                )
                .bind(cut.concern).execute(&mut *tx).await?.rows_affected();
                // ended consent records no request rests on
                let ended = "SELECT id FROM consents WHERE status <> 'active' AND recorded_at < $1 AND NOT EXISTS \
                             (SELECT 1 FROM consultation_consents l WHERE l.consent_id = consents.id)";
                sqlx::query(&format!("DELETE FROM consent_givers WHERE consent_id IN ({ended})"))
                    .bind(cut.ended_consent).execute(&mut *tx).await?;
                report.consents += sqlx::query(&format!("DELETE FROM consents WHERE id IN ({ended})"))
                    .bind(cut.ended_consent).execute(&mut *tx).await?.rows_affected();
                report.meldcode_reports += sqlx::query("DELETE FROM veilig_thuis_reports WHERE created_at < $1")
                    .bind(cut.meldcode).execute(&mut *tx).await?.rows_affected();
                report.parent_links += sqlx::query("DELETE FROM parent_links WHERE expires_at < $1")
                    .bind(cut.parent_link).execute(&mut *tx).await?.rows_affected();
                // operational records
                report.webhook_records += sqlx::query("DELETE FROM webhook_attempts WHERE attempted_at < $1")
                    .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                report.webhook_records += sqlx::query(
                    "DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND NOT EXISTS \
                     (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = webhook_deliveries.id) AND message_id IN \
                     (SELECT id FROM webhook_messages WHERE created_at < $1)",
                )
                .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                report.webhook_records += sqlx::query(
                    "DELETE FROM webhook_messages WHERE created_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
                )
                .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                report.idempotency_keys += sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(cut.operational).execute(&mut *tx).await?.rows_affected();
                // the access log from its start: the last purged entry's hash becomes the anchor
                let last: Option<(i64, String)> = sqlx::query_as(
                    "SELECT seq, hash FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log WHERE occurred_at < $1)",
                )
                .bind(cut.audit)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((seq, hash)) = last {
                    report.audit_entries += sqlx::query("DELETE FROM audit_log WHERE seq <= $1").bind(seq).execute(&mut *tx).await?.rows_affected();
                    // checkpoints of removed entries prove nothing any more
                    sqlx::query("DELETE FROM audit_checkpoints WHERE seq <= $1").bind(seq).execute(&mut *tx).await?;
                    sqlx::query("UPDATE audit_head SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1")
                        .bind(seq)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(report)
            }

            async fn seal_legacy_text(&self, seal: &(dyn for<'s> Fn(Uuid, &'s str) -> String + Send + Sync)) -> StoreResult<u64> {
                let mut sealed = 0u64;
                let mut touched = Vec::new();
                for (table, columns) in $crate::store::sql::LEGACY_TEXT {
                    let mut tx = self.begin_write().await?;
                    let ids: Vec<Uuid> = sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE plaintext_legacy"))
                        .fetch_all(&mut *tx)
                        .await?;
                    if ids.is_empty() {
                        continue;
                    }
                    for column in *columns {
                        let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
                            "SELECT id, {column} FROM {table} WHERE plaintext_legacy AND {column} IS NOT NULL"
                        ))
                        .fetch_all(&mut *tx)
                        .await?;
                        for (id, text) in rows {
                            sqlx::query(&format!("UPDATE {table} SET {column} = $2 WHERE id = $1"))
                                .bind(id)
                                .bind(seal(id, &text))
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    if *table == "consultations" {
                        // a cancellation or rejection reason was a person's words: it becomes the
                        // sealed note, and the status reason the gateway's own wording
                        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
                            "SELECT id, status, status_reason FROM consultations WHERE plaintext_legacy \
                             AND status IN ('cancelled', 'rejected') AND status_reason IS NOT NULL",
                        )
                        .fetch_all(&mut *tx)
                        .await?;
                        for (id, status, reason) in rows {
                            let wording = if status == "cancelled" {
                                "cancelled by the childcare organisation"
                            } else {
                                "rejected by the region's coordinator"
                            };
                            sqlx::query("UPDATE consultations SET status_note_sealed = $2, status_reason = $3 WHERE id = $1")
                                .bind(id)
                                .bind(seal(id, &reason))
                                .bind(wording)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    sealed += sqlx::query(&format!("UPDATE {table} SET plaintext_legacy = FALSE WHERE plaintext_legacy"))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    touched.push(*table);
                }
                for table in touched {
                    for statement in Self::AFTER_SEALING {
                        sqlx::query(&statement.replace("{table}", table)).execute(self.writer()).await?;
                    }
                }
                Ok(sealed)
            }

            async fn sealed_values(&self) -> StoreResult<Vec<SealedValue>> {
                let mut out = Vec::new();
                for (table, column) in $crate::store::sql::SEALED_COLUMNS {
                    let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
                        "SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND NOT {}",
                        if $crate::store::sql::has_legacy_flag(table) { "plaintext_legacy" } else { "FALSE" }
                    ))
                        .fetch_all(self.reader())
                        .await?;
                    out.extend(rows.into_iter().map(|(id, value)| SealedValue { table, column, id, value }));
                }
                Ok(out)
            }

            async fn reseal(&self, v: &SealedValue, sealed: &str) -> StoreResult<()> {
                sqlx::query(&format!("UPDATE {} SET {} = $2 WHERE id = $1 AND {} = $3", v.table, v.column, v.column))
                    .bind(v.id)
                    .bind(sealed)
                    .bind(&v.value)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }
        }
    };
}
