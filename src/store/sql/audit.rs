//! The NEN 7513 access log: group-committed appends, the chain, checkpoints. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_audit {
    ($store:ty, $db:ty) => {
        impl $store {

            /// Starts the group-commit writer of read entries on `pool`.
            fn spawn_audit_writer(pool: sqlx::Pool<$db>) -> $crate::store::sql::AuditQueue {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<$crate::store::sql::AuditJob>(4096);
                tokio::spawn(async move {
                    while let Some(first) = rx.recv().await {
                        let mut jobs = vec![first];
                        let mut n = jobs[0].0.len();
                        while n < $crate::store::sql::AUDIT_BATCH {
                            match rx.try_recv() {
                                Ok(job) => {
                                    n += job.0.len();
                                    jobs.push(job);
                                }
                                Err(_) => break,
                            }
                        }
                        let records: Vec<AuditRecord> = jobs.iter().flat_map(|(r, _)| r.iter().cloned()).collect();
                        let started = std::time::Instant::now();
                        let result: StoreResult<()> = async {
                            let mut tx = Self::begin_on(&pool).await?;
                            Self::append_audit(&mut tx, &records).await?;
                            tx.commit().await?;
                            Ok(())
                        }
                        .await;
                        metrics::histogram!("kindbrug_audit_append_seconds", "path" => "group_commit")
                            .record(started.elapsed().as_secs_f64());
                        let result = result.map_err(|e| e.to_string());
                        for (_, done) in jobs {
                            let _ = done.send(result.clone());
                        }
                    }
                });
                tx
            }


            /// Appends `records` to the access log inside `tx`, so they commit with the change
            /// they record. Where the backend chains after commit (PostgreSQL), they go into
            /// `audit_pending` and no row is locked: the chainer chains them shortly after.
            /// Otherwise (SQLite, whose one writer orders every append anyway) they are chained
            /// here, after the head read in the same transaction.
            async fn append_audit(
                tx: &mut Transaction<'static, $db>,
                records: &[AuditRecord],
            ) -> StoreResult<()> {
                if records.is_empty() {
                    return Ok(());
                }
                if Self::CHAIN_AFTER_COMMIT {
                    for chunk in records.chunks(500) {
                        let mut qb: QueryBuilder<$db> =
                            QueryBuilder::new(format!("INSERT INTO audit_pending ({PENDING_COLUMNS}) "));
                        qb.push_values(chunk, |mut b, r| {
                            Self::bind_record(&mut b, r);
                        });
                        qb.build().execute(&mut **tx).await?;
                    }
                    return Ok(());
                }
                let (seq, hash): (i64, String) =
                    sqlx::query_as(Self::LOCK_AUDIT_HEAD).fetch_one(&mut **tx).await?;
                Self::chain_into_log(tx, ChainCursor { seq, hash }, records).await
            }

            /// Binds a record's fields in the order of `PENDING_COLUMNS` (which `AUDIT_COLUMNS`
            /// holds between `seq` and the hashes).
            fn bind_record(b: &mut sqlx::query_builder::Separated<'_, '_, $db, &'static str>, r: &AuditRecord) {
                b.push_bind(r.id)
                    .push_bind(r.occurred_at)
                    .push_bind(r.actor.issuer.clone())
                    .push_bind(r.actor.subject.clone())
                    .push_bind(r.actor.role.clone())
                    .push_bind(r.actor.organization_id)
                    .push_bind(r.actor.staff_id)
                    .push_bind(r.actor.request_id.clone())
                    .push_bind(r.action.as_str())
                    .push_bind(r.resource_type.clone())
                    .push_bind(r.resource_id)
                    .push_bind(r.child_id)
                    .push_bind(r.purpose.clone())
                    .push_bind(r.outcome.as_str())
                    .push_bind(r.flag.clone());
            }

            /// Chains `records` after `head` (read and locked by the caller in `tx`), inserts
            /// them into `audit_log` and moves the head.
            async fn chain_into_log(
                tx: &mut Transaction<'static, $db>,
                head: ChainCursor,
                records: &[AuditRecord],
            ) -> StoreResult<()> {
                let (entries, head) = $crate::audit::chain(&head, records);
                for chunk in entries.chunks(500) {
                    let mut qb: QueryBuilder<$db> =
                        QueryBuilder::new(format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) "));
                    qb.push_values(chunk, |mut b, e| {
                        let r = &e.record;
                        b.push_bind(e.seq);
                        Self::bind_record(&mut b, r);
                        b.push_bind(e.prev_hash.clone()).push_bind(e.hash.clone());
                    });
                    qb.build().execute(&mut **tx).await?;
                }
                sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
                    .bind(head.seq)
                    .bind(&head.hash)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Chains committed pending entries: in one transaction, locks the chain head (or,
            /// with `wait` false, gives up at once when another replica's chainer holds it),
            /// takes up to [`CHAIN_BATCH`] pending entries in the order they were written,
            /// chains them after the head into `audit_log` and deletes exactly those from
            /// `audit_pending`. Entries of transactions still open are not visible yet and are
            /// chained by a later pass: an entry's place in the chain is given when it is chained,
            /// so no watermark of open transactions is needed and none is skipped. Returns how
            /// many were chained.
            ///
            /// [`CHAIN_BATCH`]: $crate::store::sql::CHAIN_BATCH
            async fn chain_pending_on(pool: &sqlx::Pool<$db>, wait: bool) -> StoreResult<u64> {
                if !Self::CHAIN_AFTER_COMMIT {
                    return Ok(0);
                }
                let any: Option<i64> = sqlx::query_scalar("SELECT pending_seq FROM audit_pending ORDER BY pending_seq LIMIT 1")
                    .fetch_optional(pool)
                    .await?;
                if any.is_none() {
                    return Ok(0);
                }
                let started = std::time::Instant::now();
                let mut tx = Self::begin_on(pool).await?;
                let lock = if wait { Self::LOCK_AUDIT_HEAD } else { Self::LOCK_AUDIT_HEAD_OR_SKIP };
                let head: Option<(i64, String)> = sqlx::query_as(lock).fetch_optional(&mut *tx).await?;
                let Some((seq, hash)) = head else {
                    return Ok(0);
                };
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {PENDING_AS_ROW} FROM audit_pending ORDER BY pending_seq LIMIT $1"
                ))
                .bind($crate::store::sql::CHAIN_BATCH)
                .fetch_all(&mut *tx)
                .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let taken: Vec<i64> = rows.iter().map(AuditRow::seq).collect();
                let records: Vec<AuditRecord> = rows
                    .into_iter()
                    .map(|r| r.into_entry().map(|e| e.record))
                    .collect::<StoreResult<_>>()?;
                Self::chain_into_log(&mut tx, ChainCursor { seq, hash }, &records).await?;
                for chunk in taken.chunks(500) {
                    let mut qb: QueryBuilder<$db> =
                        QueryBuilder::new("DELETE FROM audit_pending WHERE pending_seq IN (");
                    let mut sep = qb.separated(", ");
                    for p in chunk {
                        sep.push_bind(*p);
                    }
                    qb.push(")");
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                metrics::histogram!("kindbrug_audit_chain_seconds").record(started.elapsed().as_secs_f64());
                metrics::counter!("kindbrug_audit_chained_total").increment(records.len() as u64);
                Ok(records.len() as u64)
            }

            /// Chains until nothing committed is pending (or another chainer holds the head,
            /// when `wait` is false).
            async fn chain_all_on(pool: &sqlx::Pool<$db>, wait: bool) -> StoreResult<u64> {
                let mut total = 0;
                loop {
                    let n = Self::chain_pending_on(pool, wait).await?;
                    total += n;
                    if n < $crate::store::sql::CHAIN_BATCH as u64 {
                        return Ok(total);
                    }
                }
            }

            /// The chainer of this store (where the backend chains after commit): every
            /// [`CHAIN_EVERY`], chains what is pending; with several replicas their chainers take
            /// turns on the head without waiting for each other. Ends when the pool closes.
            ///
            /// [`CHAIN_EVERY`]: $crate::store::sql::CHAIN_EVERY
            fn spawn_chainer(pool: sqlx::Pool<$db>) {
                if !Self::CHAIN_AFTER_COMMIT {
                    return;
                }
                tokio::spawn(async move {
                    let mut ticks = tokio::time::interval($crate::store::sql::CHAIN_EVERY);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let mut failing = false;
                    while !pool.is_closed() {
                        ticks.tick().await;
                        match Self::chain_all_on(&pool, false).await {
                            Ok(_) => failing = false,
                            Err(e) if !failing && !pool.is_closed() => {
                                failing = true;
                                tracing::warn!(error = %e, "chaining the access log failed; retrying");
                            }
                            Err(_) => {}
                        }
                    }
                });
            }
        }

        #[async_trait::async_trait]
        impl AuditStore for $store {
            async fn record(&self, records: &[AuditRecord]) -> StoreResult<()> {
                if records.is_empty() {
                    return Ok(());
                }
                let (done, committed) = tokio::sync::oneshot::channel();
                self.audit
                    .send((records.to_vec(), done))
                    .await
                    .map_err(|_| StoreError::Unavailable("the access-log writer has stopped".into()))?;
                committed
                    .await
                    .map_err(|_| StoreError::Unavailable("the access-log writer has stopped".into()))?
                    .map_err(StoreError::Unavailable)
            }

            async fn chain_audit(&self) -> StoreResult<u64> {
                Self::chain_all_on(self.writer(), true).await
            }

            async fn list_audit(&self, f: &AuditFilter) -> StoreResult<Vec<ChainedEntry>> {
                // what was committed before this read is in the chain, and so in the answer
                self.chain_audit().await?;
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log \
                     WHERE ($1 IS NULL OR child_id = $1) AND ($2 IS NULL OR occurred_at >= $2) \
                     AND ($3 IS NULL OR occurred_at < $3) AND ($4 IS NULL OR seq > $4) \
                     AND ($6 IS NULL OR flag = $6) ORDER BY seq LIMIT $5"
                ))
                .bind(f.child_id)
                .bind(f.from)
                .bind(f.to)
                .bind(f.after_seq)
                .bind(f.limit)
                .bind(&f.flag)
                .fetch_all(self.reader())
                .await?;
                rows.into_iter().map(AuditRow::into_entry).collect()
            }

            async fn audit_chain(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<ChainedEntry>> {
                self.chain_audit().await?;
                let rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after_seq)
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
                rows.into_iter().map(AuditRow::into_entry).collect()
            }

            async fn audit_anchor(&self) -> StoreResult<ChainCursor> {
                let (seq, hash): (i64, String) =
                    sqlx::query_as("SELECT anchor_seq, anchor_hash FROM audit_head WHERE id = 1")
                        .fetch_one(self.reader())
                        .await?;
                Ok(ChainCursor { seq, hash })
            }

            async fn record_checkpoint(&self, cp: &$crate::audit::checkpoint::Checkpoint) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (seq, anchor_seq) DO NOTHING",
                )
                .bind(cp.seq)
                .bind(&cp.hash)
                .bind(cp.anchor_seq)
                .bind(&cp.anchor_hash)
                .bind(cp.signed_at)
                .bind(&cp.key_id)
                .bind(&cp.signature)
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn latest_checkpoint(&self) -> StoreResult<Option<$crate::audit::checkpoint::Checkpoint>> {
                let rows: Vec<(i64, String, i64, String, DateTime<Utc>, String, String)> = sqlx::query_as(
                    "SELECT seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature FROM audit_checkpoints \
                     ORDER BY seq DESC, anchor_seq DESC LIMIT 1",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature)| {
                        $crate::audit::checkpoint::Checkpoint { seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature }
                    })
                    .next())
            }

            async fn audit_checkpoints(&self) -> StoreResult<Vec<$crate::audit::checkpoint::Checkpoint>> {
                let rows: Vec<(i64, String, i64, String, DateTime<Utc>, String, String)> = sqlx::query_as(
                    "SELECT seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature FROM audit_checkpoints ORDER BY seq, anchor_seq",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature)| {
                        $crate::audit::checkpoint::Checkpoint { seq, hash, anchor_seq, anchor_hash, signed_at, key_id, signature }
                    })
                    .collect())
            }

            async fn audit_head(&self) -> StoreResult<ChainCursor> {
                // the head of everything committed so far: a checkpoint or a verification
                // covers every entry written before it started
                self.chain_audit().await?;
                let (seq, hash): (i64, String) =
                    sqlx::query_as("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
                        .fetch_one(self.reader())
                        .await?;
                Ok(ChainCursor { seq, hash })
            }
        }
    };
}
