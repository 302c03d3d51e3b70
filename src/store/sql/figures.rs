//! The summaries the policy figures are read from, and bulk loading. The statements both backends share; expanded per backend by `impl_store!`.

macro_rules! impl_figures {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Recomputes the summaries of the half-years whose records changed since the last
            /// refresh (all of them when `full` or the first time), from one snapshot.
            async fn refresh_figures_once(&self, now: DateTime<Utc>, full: bool) -> StoreResult<FigureRefresh> {
                use $crate::domain::figures::{AcceptedFacts, ConsentFacts, RequestFacts, Tally, VisitFacts};
                use futures::TryStreamExt;
                let mut snap = self.begin_snapshot().await?;
                let done: Option<i64> = sqlx::query_scalar("SELECT through_change FROM figure_refresh WHERE id = 1")
                    .fetch_optional(&mut *snap)
                    .await?;
                let full = full || done.is_none();
                let (through, half_years) = if full {
                    let through: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM figure_changes")
                        .fetch_one(&mut *snap)
                        .await?;
                    (through, Vec::new())
                } else {
                    let changed: Vec<(String, i64)> =
                        sqlx::query_as("SELECT half_year, MAX(id) FROM figure_changes GROUP BY half_year ORDER BY half_year")
                            .fetch_all(&mut *snap)
                            .await?;
                    (changed.iter().map(|c| c.1).max(), changed.into_iter().map(|c| c.0).collect())
                };
                let through = through.unwrap_or(0).max(done.unwrap_or(0));
                // only what the figures count leaves the database: no child, no free text
                let filter = |qb: &mut QueryBuilder<'_, $db>| {
                    if full {
                        qb.push(" WHERE t.half_year IS NOT NULL");
                    } else {
                        Self::push_in(qb, " WHERE t.half_year", &half_years);
                    }
                };
                // the database groups equal facts and counts them (the counts need no single
                // record); only the response times are read per accepted request
                let mut tally = Tally::default();
                if full || !half_years.is_empty() {
                    type RequestTuple = (
                        Option<String>, String, Option<String>, Option<Uuid>, Option<Uuid>, String, String, String,
                        Option<String>, i64, bool, Option<bool>, i64,
                    );
                    const REQUEST_FACTS: &str = "t.region_code, t.half_year, t.age_band, t.organization_id, s.organization_id, \
                         t.expertise, t.urgency, t.status, t.outcome, t.reroutes, t.ever_unassigned, t.consent_delayed";
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!(
                        "SELECT {REQUEST_FACTS}, COUNT(*) FROM consultations t LEFT JOIN staff s ON s.id = t.assigned_to"
                    ));
                    filter(&mut qb);
                    qb.push(format!(" GROUP BY {REQUEST_FACTS}"));
                    let mut rows = qb.build_query_as::<RequestTuple>().fetch(&mut *snap);
                    while let Some(r) = rows.try_next().await? {
                        let (Some(region_code), Some(age_band)) = (r.0, r.2) else { continue };
                        tally.requests(&RequestFacts {
                            region_code, half_year: r.1, age_band, organization_id: r.3, provider_id: r.4, expertise: r.5,
                            urgency: r.6, status: r.7, outcome: r.8, reroutes: r.9, ever_unassigned: r.10,
                            consent_delayed: r.11,
                        }, r.12);
                    }
                    drop(rows);
                    type AcceptedTuple = (
                        Option<String>, String, Option<String>, Option<Uuid>, Option<Uuid>, DateTime<Utc>, DateTime<Utc>,
                        Option<NaiveDate>,
                    );
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT t.region_code, t.half_year, t.age_band, t.organization_id, s.organization_id, t.created_at, \
                         t.accepted_at, t.first_visit_on FROM consultations t LEFT JOIN staff s ON s.id = t.assigned_to",
                    );
                    filter(&mut qb);
                    qb.push(" AND t.accepted_at IS NOT NULL");
                    let mut rows = qb.build_query_as::<AcceptedTuple>().fetch(&mut *snap);
                    while let Some(r) = rows.try_next().await? {
                        let (Some(region_code), Some(age_band)) = (r.0, r.2) else { continue };
                        tally.accepted(&AcceptedFacts {
                            region_code, half_year: r.1, age_band, organization_id: r.3, provider_id: r.4,
                            created_at: r.5, accepted_at: r.6, first_visit_on: r.7,
                        });
                    }
                    drop(rows);
                    type ConsentTuple = (Option<String>, String, Option<String>, Option<Uuid>, Option<Uuid>, String, String, String, i64);
                    const CONSENT_FACTS: &str = "t.region_code, t.half_year, t.age_band, t.organization_id, \
                         t.recipient_organization_id, t.purpose, t.decision, t.status";
                    let mut qb: QueryBuilder<$db> =
                        QueryBuilder::new(format!("SELECT {CONSENT_FACTS}, COUNT(*) FROM consents t"));
                    filter(&mut qb);
                    qb.push(format!(" GROUP BY {CONSENT_FACTS}"));
                    let mut rows = qb.build_query_as::<ConsentTuple>().fetch(&mut *snap);
                    while let Some(r) = rows.try_next().await? {
                        let (Some(region_code), Some(age_band)) = (r.0, r.2) else { continue };
                        tally.consents(&ConsentFacts {
                            region_code, half_year: r.1, age_band, organization_id: r.3, recipient_id: r.4,
                            purpose: r.5, decision: r.6, status: r.7,
                        }, r.8);
                    }
                    drop(rows);
                    type VisitTuple = (Option<String>, String, Option<String>, Option<Uuid>, Option<Uuid>, String, String, i64);
                    const VISIT_FACTS: &str = "t.region_code, t.half_year, t.age_band, t.organization_id, s.organization_id, \
                         t.status, t.competences";
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!(
                        "SELECT {VISIT_FACTS}, COUNT(*) FROM visits t LEFT JOIN staff s ON s.id = t.specialist_id"
                    ));
                    filter(&mut qb);
                    qb.push(" AND t.status = 'held'");
                    qb.push(format!(" GROUP BY {VISIT_FACTS}"));
                    let mut rows = qb.build_query_as::<VisitTuple>().fetch(&mut *snap);
                    while let Some(r) = rows.try_next().await? {
                        let (Some(region_code), Some(age_band)) = (r.0, r.2) else { continue };
                        tally.visits(&VisitFacts {
                            region_code, half_year: r.1, age_band, organization_id: r.3, provider_id: r.4,
                            status: r.5, competences: r.6,
                        }, r.7);
                    }
                }
                let counts = tally.counts();
                let timings = tally.timings();
                let mut tx = if Self::SUMMARIES_WRITTEN_IN_SNAPSHOT {
                    snap
                } else {
                    snap.rollback().await?;
                    let mut tx = self.begin_write().await?;
                    // a refresh that read a newer snapshot has written already: this one is older
                    let stored: Option<i64> = sqlx::query_scalar("SELECT through_change FROM figure_refresh WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                    if stored.is_some_and(|s| s > through) {
                        return Ok(FigureRefresh { skipped: true, ..FigureRefresh::default() });
                    }
                    tx
                };
                for table in ["figure_summary", "figure_timings"] {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!("DELETE FROM {table}"));
                    if !full {
                        Self::push_in(&mut qb, " WHERE half_year", &half_years);
                    }
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in counts.chunks(3000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO figure_summary (scope_kind, scope_org, figure, region_code, half_year, age_band, category, n) ",
                    );
                    qb.push_values(chunk, |mut b, (cell, figure, category, n)| {
                        b.push_bind(cell.scope.as_str()).push_bind(cell.org).push_bind(figure.name())
                            .push_bind(cell.region_code.clone()).push_bind(cell.half_year.clone())
                            .push_bind(cell.age_band.clone()).push_bind(category.clone()).push_bind(*n);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in timings.chunks(2000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO figure_timings (scope_kind, scope_org, region_code, half_year, age_band, accepted, \
                         median_hours, p90_hours, visited, median_days, p90_days) ",
                    );
                    qb.push_values(chunk, |mut b, (cell, t)| {
                        b.push_bind(cell.scope.as_str()).push_bind(cell.org).push_bind(cell.region_code.clone())
                            .push_bind(cell.half_year.clone()).push_bind(cell.age_band.clone()).push_bind(t.accepted)
                            .push_bind(t.median_hours).push_bind(t.p90_hours).push_bind(t.visited)
                            .push_bind(t.median_days).push_bind(t.p90_days);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                // in PostgreSQL this deletes only the changes the snapshot saw; in SQLite ids are
                // in commit order, so those are all the changes up to `through`
                sqlx::query("DELETE FROM figure_changes WHERE id <= $1").bind(through).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO figure_refresh (id, refreshed_at, through_change) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET refreshed_at = excluded.refreshed_at, through_change = excluded.through_change",
                )
                .bind(now)
                .bind(through)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                if full {
                    // the planner's statistics of the summaries changed wholesale
                    for table in ["figure_summary", "figure_timings"] {
                        sqlx::query(&format!("ANALYZE {table}")).execute(self.writer()).await?;
                    }
                }
                Ok(FigureRefresh {
                    full,
                    half_years,
                    rows: (counts.len() + timings.len()) as u64,
                    skipped: false,
                })
            }


            /// A refresh that races another anyway (one that did not take its turn: an older
            /// binary during an upgrade) fails to serialise, or meets a summary row the other
            /// inserted after this snapshot; it runs again from a fresh snapshot, and three races
            /// in a row are an error, never a silent skip.
            async fn refresh_figures_retrying(&self, now: DateTime<Utc>, full: bool) -> StoreResult<FigureRefresh> {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match self.refresh_figures_once(now, full).await {
                        Err(StoreError::Database(sqlx::Error::Database(e)))
                            if matches!(e.code().as_deref(), Some("40001" | "40P01" | "23505")) =>
                        {
                            // three races in a row: say so (the job tries again next round; a
                            // duplicate that is not a race is not hidden as a skip)
                            if attempt >= 3 {
                                return Err(StoreError::Database(sqlx::Error::Database(e)));
                            }
                            tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                        }
                        other => return other,
                    }
                }
            }

            /// Which summary rows a scope reads.
            fn push_figure_scope(qb: &mut QueryBuilder<'_, $db>, scope: &FigureScope) {
                let (kind, org) = match (scope.organization_id, scope.provider_id) {
                    (Some(o), _) => ("organization", o),
                    (None, Some(p)) => ("provider", p),
                    (None, None) => ("region", Uuid::nil()),
                };
                qb.push(" AND scope_kind = ").push_bind(kind).push(" AND scope_org = ").push_bind(org);
                if let Some(regions) = &scope.region_codes {
                    Self::push_in(qb, " AND region_code", regions);
                }
                Self::push_in(qb, " AND half_year", &scope.half_years);
            }


            /// `{column} IN (…values)`; never an empty list (an empty string matches nothing).
            fn push_in(qb: &mut QueryBuilder<'_, $db>, column: &str, values: &[String]) {
                qb.push(column).push(" IN (");
                let mut sep = qb.separated(", ");
                sep.push_bind(String::new());
                for v in values {
                    sep.push_bind(v.clone());
                }
                qb.push(")");
            }
        }

        #[async_trait::async_trait]
        impl FigureStore for $store {
            async fn refresh_figures(&self, now: DateTime<Utc>, full: bool) -> StoreResult<FigureRefresh> {
                // refreshes take turns (PostgreSQL: a session lock on a connection of its own,
                // taken before the snapshot, so the next one's snapshot sees what this one wrote;
                // outside the pool, so refreshes waiting their turn cannot starve the one whose
                // turn it is of connections)
                use sqlx::{ConnectOptions, Connection};
                let mut turn = if Self::REFRESH_LOCK.is_empty() {
                    None
                } else {
                    let mut conn = self.writer().connect_options().connect().await?;
                    sqlx::query(Self::REFRESH_LOCK).execute(&mut conn).await?;
                    Some(conn)
                };
                let result = self.refresh_figures_retrying(now, full).await;
                if let Some(mut conn) = turn.take() {
                    // closing the session lets go of the lock too; unlocking first is tidier
                    let _ = sqlx::query(Self::REFRESH_UNLOCK).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
                result
            }

            async fn figures_refreshed_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar("SELECT refreshed_at FROM figure_refresh WHERE id = 1")
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn figure_counts(&self, figures: &[CountFigure], scope: &FigureScope) -> StoreResult<Vec<CountRow>> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT figure, region_code, half_year, age_band, category, CAST(SUM(n) AS BIGINT) AS n FROM figure_summary WHERE 1 = 1",
                );
                let names: Vec<String> = figures.iter().map(|f| f.name().to_string()).collect();
                Self::push_in(&mut qb, " AND figure", &names);
                Self::push_figure_scope(&mut qb, scope);
                qb.push(" GROUP BY figure, region_code, half_year, age_band, category");
                let rows: Vec<(String, String, String, String, String, i64)> = qb.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(figure, region_code, half_year, age_band, category, n)| {
                        let figure = figures.iter().copied().find(|f| f.name() == figure)?;
                        Some(CountRow { figure, region_code, half_year, age_band, category, n })
                    })
                    .collect())
            }

            async fn figure_timings(&self, scope: &FigureScope) -> StoreResult<Vec<TimingRow>> {
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT region_code, half_year, age_band, accepted, median_hours, p90_hours, visited, median_days, p90_days \
                     FROM figure_timings WHERE 1 = 1",
                );
                Self::push_figure_scope(&mut qb, scope);
                type Row = (String, String, String, i64, Option<i64>, Option<i64>, i64, Option<i64>, Option<i64>);
                let rows: Vec<Row> = qb.build_query_as().fetch_all(self.reader()).await?;
                Ok(rows
                    .into_iter()
                    .map(|r| TimingRow {
                        region_code: r.0,
                        half_year: r.1,
                        age_band: r.2,
                        stats: $crate::domain::figures::TimingStats {
                            accepted: r.3, median_hours: r.4, p90_hours: r.5, visited: r.6, median_days: r.7, p90_days: r.8,
                        },
                    })
                    .collect())
            }

            async fn bulk_insert(&self, table: &str, columns: &[&str], rows: &[Vec<BulkValue>]) -> StoreResult<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                // SQLite takes at most 32,766 parameters a statement, PostgreSQL 65,535
                let per = (30_000 / columns.len()).max(1);
                let mut tx = self.begin_write().await?;
                for chunk in rows.chunks(per) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!("INSERT INTO {table} ({}) ", columns.join(", ")));
                    qb.push_values(chunk, |mut b, row| {
                        for v in row {
                            match v {
                                BulkValue::Uuid(x) => b.push_bind(*x),
                                BulkValue::Text(x) => b.push_bind(x.clone()),
                                BulkValue::Int(x) => b.push_bind(*x),
                                BulkValue::Bool(x) => b.push_bind(*x),
                                BulkValue::Date(x) => b.push_bind(*x),
                                BulkValue::Time(x) => b.push_bind(*x),
                            };
                        }
                    });
                    qb.build().execute(&mut *tx).await.map_err(classify)?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
