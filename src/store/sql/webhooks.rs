//! The outbox, leases and delivery attempts. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_webhooks {
    ($store:ty, $db:ty) => {
        impl $store {

            /// Queues an event for each organisation it names (see [`Self::enqueue`]).
            async fn enqueue_event(
                tx: &mut Transaction<'static, $db>,
                event: &OutboxEvent,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                for org in &event.organizations {
                    Self::enqueue(tx, *org, &event.event_type, &event.data, at).await?;
                }
                Ok(())
            }

            /// Queues a webhook message for `org` and a delivery for each of its active endpoints
            /// subscribed to `event_type`: in the caller's transaction (the outbox).
            async fn enqueue(
                tx: &mut Transaction<'static, $db>,
                org: Uuid,
                event_type: &str,
                data: &serde_json::Value,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let endpoints: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT id, events FROM webhook_endpoints WHERE organization_id = $1 AND status = 'active'",
                )
                .bind(org)
                .fetch_all(&mut **tx)
                .await?;
                let hearing: Vec<Uuid> = endpoints
                    .into_iter()
                    .filter(|(_, events)| $crate::webhooks::subscribed(events, event_type))
                    .map(|(id, _)| id)
                    .collect();
                if hearing.is_empty() {
                    return Ok(());
                }
                let message = Uuid::now_v7();
                sqlx::query("INSERT INTO webhook_messages (id, organization_id, event_type, data, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(message)
                    .bind(org)
                    .bind(event_type)
                    .bind(data.to_string())
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                for endpoint in hearing {
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (id, message_id, endpoint_id, state, attempts, next_attempt_at) \
                         VALUES ($1, $2, $3, 'pending', 0, $4)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(message)
                    .bind(endpoint)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl WebhookStore for $store {
            async fn create_endpoint(&self, row: &WebhookEndpointRow) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(row.id)
                .bind(row.organization_id)
                .bind(&row.url)
                .bind(&row.events)
                .bind(&row.signing)
                .bind(&row.secret)
                .bind(&row.status)
                .bind(&row.disabled_reason)
                .bind(row.created_at)
                .bind(&row.previous_secret)
                .bind(row.previous_valid_until)
                .bind(&row.subscription)
                .execute(self.writer())
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn update_endpoint(&self, row: &WebhookEndpointRow) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE webhook_endpoints SET url = $2, events = $3, secret = $4, status = $5, \
                     disabled_reason = $6, previous_secret = $7, previous_valid_until = $8 WHERE id = $1",
                )
                .bind(row.id)
                .bind(&row.url)
                .bind(&row.events)
                .bind(&row.secret)
                .bind(&row.status)
                .bind(&row.disabled_reason)
                .bind(&row.previous_secret)
                .bind(row.previous_valid_until)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
                if row.status != "active" {
                    sqlx::query("UPDATE webhook_deliveries SET state = 'failed' WHERE endpoint_id = $1 AND state = 'pending'")
                        .bind(row.id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_endpoint(&self, id: Uuid) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                for sql in [
                    "DELETE FROM webhook_attempts WHERE endpoint_id = $1",
                    "DELETE FROM webhook_deliveries WHERE endpoint_id = $1",
                    "DELETE FROM webhook_endpoints WHERE id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpointRow>> {
                Ok(sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn list_endpoints(&self, organization_id: Uuid) -> StoreResult<Vec<WebhookEndpointRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 ORDER BY id"
                ))
                .bind(organization_id)
                .fetch_all(self.reader())
                .await?)
            }

            async fn get_message(&self, id: Uuid) -> StoreResult<Option<WebhookMessageRow>> {
                Ok(sqlx::query_as("SELECT id, organization_id, event_type, data, created_at FROM webhook_messages WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn claim_deliveries(&self, owner: &str, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: i64, per_endpoint: i64, own: &[(Uuid, i64)]) -> StoreResult<Vec<DeliveryJob>> {
                // endpoints at their cap of deliveries in flight (by any relay) are passed over:
                // a slow receiver holds a few slots and never the whole relay
                let busy: Vec<(Uuid, i64)> = sqlx::query_as(
                    "SELECT endpoint_id, COUNT(*) FROM webhook_deliveries \
                     WHERE state = 'delivering' AND locked_until >= $1 AND lease_owner <> $2 GROUP BY endpoint_id",
                )
                .bind(now)
                .bind(owner)
                .fetch_all(self.writer())
                .await?;
                let mut room: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
                for (e, n) in busy.iter().chain(own.iter()) {
                    *room.entry(*e).or_insert(per_endpoint) -= n;
                }
                let full: Vec<Uuid> = room.iter().filter(|(_, r)| **r <= 0).map(|(e, _)| *e).collect();
                // the oldest due deliveries of the other endpoints (a lease that ran out is due)
                let mut candidates: Vec<(Uuid, Uuid)> = Vec::new();
                for due in [
                    "state = 'delivering' AND locked_until < ",
                    "state = 'pending' AND next_attempt_at <= ",
                ] {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("SELECT id, endpoint_id FROM webhook_deliveries WHERE ");
                    qb.push(due).push_bind(now);
                    if !full.is_empty() {
                        qb.push(" AND endpoint_id NOT IN (");
                        let mut sep = qb.separated(", ");
                        for e in &full {
                            sep.push_bind(*e);
                        }
                        qb.push(")");
                    }
                    qb.push(" ORDER BY next_attempt_at LIMIT ").push_bind(limit * 4);
                    candidates.extend(qb.build_query_as::<(Uuid, Uuid)>().fetch_all(self.writer()).await?);
                }
                let mut picked = Vec::new();
                for (id, endpoint) in candidates {
                    let r = room.entry(endpoint).or_insert(per_endpoint);
                    if *r > 0 && (picked.len() as i64) < limit {
                        *r -= 1;
                        picked.push(id);
                    }
                }
                if picked.is_empty() {
                    return Ok(Vec::new());
                }
                // lease them, unless another relay was quicker
                let mut qb: QueryBuilder<$db> = QueryBuilder::new("UPDATE webhook_deliveries SET state = 'delivering', locked_until = ");
                qb.push_bind(lease_until).push(", lease_owner = ").push_bind(owner.to_string());
                qb.push(" WHERE id IN (SELECT id FROM webhook_deliveries WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in &picked {
                    sep.push_bind(*id);
                }
                qb.push(") AND ((state = 'pending' AND next_attempt_at <= ").push_bind(now);
                qb.push(") OR (state = 'delivering' AND locked_until < ").push_bind(now);
                qb.push("))").push(Self::LEASE_LOCK).push(") RETURNING id");
                let ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(self.writer()).await?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT d.id AS delivery_id, d.attempts, m.id AS message_id, m.event_type, m.data, \
                     m.created_at AS message_created_at, e.id AS endpoint_id, e.url, e.signing, e.secret, \
                     e.previous_secret, e.previous_valid_until, e.subscription \
                     FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id \
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id IN (",
                );
                let mut sep = qb.separated(", ");
                for id in &ids {
                    sep.push_bind(*id);
                }
                qb.push(")");
                Ok(qb.build_query_as().fetch_all(self.writer()).await?)
            }

            async fn finish_deliveries(&self, owner: &str, results: &[DeliveryResult]) -> StoreResult<()> {
                if results.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                // the attempts in a few multi-row inserts, the delivered ones in one update per
                // answer code: a batch costs a handful of statements, not two per delivery (their
                // delivered_at is the group's latest attempt; each attempt's own time is in
                // webhook_attempts)
                for chunk in results.chunks(100) {
                    let mut qb: QueryBuilder<$db> =
                        QueryBuilder::new(format!("INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) "));
                    qb.push_values(chunk, |mut b, r| {
                        let a = &r.attempt;
                        b.push_bind(a.id)
                            .push_bind(a.delivery_id)
                            .push_bind(a.message_id)
                            .push_bind(a.endpoint_id)
                            .push_bind(a.attempted_at)
                            .push_bind(a.status_code)
                            .push_bind(a.error.clone())
                            .push_bind(a.duration_ms)
                            .push_bind(a.next_attempt_at);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                let mut delivered: std::collections::BTreeMap<Option<i64>, (DateTime<Utc>, Vec<Uuid>)> =
                    std::collections::BTreeMap::new();
                for r in results {
                    let a = &r.attempt;
                    let (state, next) = match &r.outcome {
                        DeliveryOutcome::Delivered => {
                            let group = delivered.entry(a.status_code).or_insert((a.attempted_at, Vec::new()));
                            group.0 = group.0.max(a.attempted_at);
                            group.1.push(a.delivery_id);
                            continue;
                        }
                        DeliveryOutcome::Retry { at } => ("pending", *at),
                        DeliveryOutcome::Failed | DeliveryOutcome::EndpointGone => ("failed", a.attempted_at),
                    };
                    sqlx::query(
                        "UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, next_attempt_at = $4, \
                         last_status = $5, locked_until = NULL, lease_owner = NULL \
                         WHERE id = $1 AND lease_owner = $2",
                    )
                    .bind(a.delivery_id)
                    .bind(owner)
                    .bind(state)
                    .bind(next)
                    .bind(a.status_code)
                    .execute(&mut *tx)
                    .await?;
                    if let DeliveryOutcome::EndpointGone = r.outcome {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'the receiver answered 410 Gone' WHERE id = $1",
                        )
                        .bind(a.endpoint_id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE webhook_deliveries SET state = 'failed' WHERE endpoint_id = $1 AND state = 'pending'")
                            .bind(a.endpoint_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                for (status, (at, ids)) in delivered {
                    for chunk in ids.chunks(500) {
                        let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                            "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = ",
                        );
                        qb.push_bind(at).push(", delivered_at = ").push_bind(at);
                        qb.push(", last_status = ").push_bind(status);
                        qb.push(", locked_until = NULL, lease_owner = NULL WHERE lease_owner = ").push_bind(owner.to_string());
                        qb.push(" AND id IN (");
                        let mut sep = qb.separated(", ");
                        for id in chunk {
                            sep.push_bind(*id);
                        }
                        qb.push(")");
                        qb.build().execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_attempts(&self, endpoint_id: Uuid, after: Option<Uuid>, limit: i64) -> StoreResult<Vec<AttemptRow>> {
                Ok(sqlx::query_as(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE endpoint_id = $1 AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3"
                ))
                .bind(endpoint_id)
                .bind(after)
                .bind(limit)
                .fetch_all(self.reader())
                .await?)
            }

            async fn renew_leases(&self, owner: &str, ids: &[Uuid], until: DateTime<Utc>) -> StoreResult<()> {
                for chunk in ids.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("UPDATE webhook_deliveries SET locked_until = ");
                    qb.push_bind(until).push(" WHERE state = 'delivering' AND lease_owner = ").push_bind(owner.to_string()).push(" AND id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn release_leases(&self, owner: &str, ids: &[Uuid]) -> StoreResult<()> {
                for chunk in ids.chunks(500) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "UPDATE webhook_deliveries SET state = 'pending', locked_until = NULL, lease_owner = NULL WHERE state = 'delivering' AND lease_owner = ",
                    );
                    qb.push_bind(owner.to_string()).push(" AND id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(self.writer()).await?;
                }
                Ok(())
            }

            async fn count_pending_deliveries(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state IN ('pending', 'delivering')")
                    .fetch_one(self.reader())
                    .await?)
            }

            async fn redeliver(&self, message_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64> {
                let mut tx = self.begin_write().await?;
                let message: Option<(Uuid, String)> =
                    sqlx::query_as("SELECT organization_id, event_type FROM webhook_messages WHERE id = $1")
                        .bind(message_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some((org, event_type)) = message else { return Err(StoreError::NotFound) };
                let endpoints: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT id, events FROM webhook_endpoints WHERE organization_id = $1 AND status = 'active'",
                )
                .bind(org)
                .fetch_all(&mut *tx)
                .await?;
                let mut n = 0;
                for (endpoint, events) in endpoints {
                    if !$crate::webhooks::subscribed(&events, &event_type) {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (id, message_id, endpoint_id, state, attempts, next_attempt_at) \
                         VALUES ($1, $2, $3, 'pending', 0, $4)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(message_id)
                    .bind(endpoint)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    n += 1;
                }
                tx.commit().await?;
                Ok(n)
            }
        }
    };
}
