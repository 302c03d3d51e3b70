//! The summaries the policy figures are read from, and bulk loading. The statements both backends share; expanded per backend by `impl_store!`.

use crate::domain::figures::{AcceptedFacts, ConsentFacts, RequestFacts, Tally, VisitFacts};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// A row of `figure_changes` (0015) with the provider it counts for: what the figures need of
/// a record before (sign −1) or after (+1) a change, or (kind NULL) a mark that its half-year
/// is to be recomputed. No child, no free text.
#[derive(sqlx::FromRow)]
pub(crate) struct FigureChange {
    half_year: String,
    kind: Option<String>,
    sign: Option<i64>,
    region_code: Option<String>,
    age_band: Option<String>,
    organization_id: Option<Uuid>,
    /// The consent's recipient, or the request's or visit's specialist.
    other_id: Option<Uuid>,
    expertise: Option<String>,
    urgency: Option<String>,
    status: Option<String>,
    outcome: Option<String>,
    reroutes: Option<i64>,
    ever_unassigned: Option<bool>,
    consent_delayed: Option<bool>,
    created_at: Option<DateTime<Utc>>,
    accepted_at: Option<DateTime<Utc>>,
    first_visit_on: Option<NaiveDate>,
    purpose: Option<String>,
    decision: Option<String>,
    competences: Option<String>,
}

/// A half-year with more noted changes than this is recomputed from its records instead.
pub(crate) const FIGURE_DELTAS_AT_MOST: i64 = 100_000;

impl FigureChange {
    pub(crate) const SELECT: &'static str = "SELECT c.half_year, c.kind, c.sign, c.region_code, c.age_band, \
         c.organization_id, c.other_id, c.expertise, c.urgency, c.status, c.outcome, c.reroutes, c.ever_unassigned, \
         c.consent_delayed, c.created_at, c.accepted_at, c.first_visit_on, c.purpose, c.decision, c.competences \
         FROM figure_changes c";

    /// Counts the change into a tally of deltas (a mark counts nothing: its half-year is
    /// recomputed). `providers`: staff member → their youth-care organisation.
    pub(crate) fn count_into(self, tally: &mut Tally, providers: &HashMap<Uuid, Uuid>) {
        let (Some(kind), Some(n), Some(region_code), Some(age_band)) =
            (self.kind, self.sign, self.region_code, self.age_band)
        else {
            return;
        };
        let half_year = self.half_year;
        let provider = self.other_id.and_then(|s| providers.get(&s).copied());
        match kind.as_str() {
            "request" => {
                if let (Some(created_at), Some(accepted_at)) = (self.created_at, self.accepted_at) {
                    tally.accepted(
                        &AcceptedFacts {
                            region_code: region_code.clone(),
                            half_year: half_year.clone(),
                            age_band: age_band.clone(),
                            organization_id: self.organization_id,
                            provider_id: provider,
                            created_at,
                            accepted_at,
                            first_visit_on: self.first_visit_on,
                        },
                        n,
                    );
                }
                tally.requests(
                    &RequestFacts {
                        region_code,
                        half_year,
                        age_band,
                        organization_id: self.organization_id,
                        provider_id: provider,
                        expertise: self.expertise.unwrap_or_default(),
                        urgency: self.urgency.unwrap_or_default(),
                        status: self.status.unwrap_or_default(),
                        outcome: self.outcome,
                        reroutes: self.reroutes.unwrap_or(0),
                        ever_unassigned: self.ever_unassigned.unwrap_or(false),
                        consent_delayed: self.consent_delayed,
                    },
                    n,
                );
            }
            "consent" => tally.consents(
                &ConsentFacts {
                    region_code,
                    half_year,
                    age_band,
                    organization_id: self.organization_id,
                    recipient_id: self.other_id,
                    purpose: self.purpose.unwrap_or_default(),
                    decision: self.decision.unwrap_or_default(),
                    status: self.status.unwrap_or_default(),
                },
                n,
            ),
            "visit" => tally.visits(
                &VisitFacts {
                    region_code,
                    half_year,
                    age_band,
                    organization_id: self.organization_id,
                    provider_id: provider,
                    status: self.status.unwrap_or_default(),
                    competences: self.competences.unwrap_or_default(),
                },
                n,
            ),
            _ => {}
        }
    }
}

macro_rules! impl_figures {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Brings the summaries up to date from one snapshot: all of them when `full` or the
            /// first time; otherwise the changes noted since the last refresh are added to them
            /// as deltas, and the half-years a bulk statement only marked are recomputed.
            async fn refresh_figures_once(&self, now: DateTime<Utc>, full: bool) -> StoreResult<FigureRefresh> {
                use $crate::domain::figures::{merge_counts, merge_timings, Histogram, Histograms, ScopeKind, Tally};
                use $crate::store::sql::FigureChange;
                use futures::TryStreamExt;
                let started = std::time::Instant::now();
                // two transactions on one snapshot: the full passes run on both at once
                let (mut snap, second) = self.begin_snapshot_pair().await?;
                let done: Option<i64> = sqlx::query_scalar("SELECT through_change FROM figure_refresh WHERE id = 1")
                    .fetch_optional(&mut *snap)
                    .await?;
                let full = full || done.is_none();
                // per half-year: the last change, how many, how many of them facts (not marks)
                let noted: Vec<(String, i64, i64, i64)> = sqlx::query_as(
                    "SELECT half_year, MAX(id), COUNT(*), COUNT(kind) FROM figure_changes GROUP BY half_year ORDER BY half_year",
                )
                .fetch_all(&mut *snap)
                .await?;
                let through = noted.iter().map(|c| c.1).max().unwrap_or(0).max(done.unwrap_or(0));
                // a half-year some statement only marked, or with so many changes that counting
                // its records again is cheaper, is recomputed; the others take deltas
                let (recompute, delta_half_years): (Vec<String>, Vec<String>) = if full {
                    (Vec::new(), Vec::new())
                } else {
                    let (r, d): (Vec<_>, Vec<_>) =
                        noted.into_iter().partition(|c| c.3 < c.2 || c.2 > $crate::store::sql::FIGURE_DELTAS_AT_MOST);
                    (r.into_iter().map(|c| c.0).collect(), d.into_iter().map(|c| c.0).collect())
                };
                // the youth-care organisation of each staff member (the provider a request's or
                // visit's specialist counts for), read once for the deltas and the passes
                let providers: std::sync::Arc<std::collections::HashMap<Uuid, Uuid>> =
                    if full || !recompute.is_empty() || !delta_half_years.is_empty() {
                        std::sync::Arc::new(
                            sqlx::query_as::<_, (Uuid, Uuid)>("SELECT id, organization_id FROM staff")
                                .fetch_all(&mut *snap)
                                .await?
                                .into_iter()
                                .collect(),
                        )
                    } else {
                        std::sync::Arc::default()
                    };
                let mut delta = Tally::default();
                let mut changes = 0u64;
                if !delta_half_years.is_empty() {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(FigureChange::SELECT);
                    Self::push_in(&mut qb, " WHERE c.half_year", &delta_half_years);
                    let mut rows = qb.build_query_as::<FigureChange>().fetch(&mut *snap);
                    while let Some(change) = rows.try_next().await? {
                        changes += 1;
                        change.count_into(&mut delta, &providers);
                    }
                }
                // the database groups equal facts and counts them (the counts need no single
                // record); only the response times are read per accepted request. Two passes at
                // once, one per core: requests and consents, accepted requests and visits.
                let (mut counts, mut timings) = (Vec::new(), Vec::new());
                if full || !recompute.is_empty() {
                    let scope = (!full).then(|| recompute.clone());
                    let one = tokio::spawn(Self::count_requests_and_consents(snap, scope.clone(), providers.clone()));
                    let two = tokio::spawn(Self::count_accepted_and_visits(second, scope, providers));
                    let joined = |r: Result<StoreResult<(sqlx::Transaction<'static, $db>, Tally)>, tokio::task::JoinError>| {
                        r.map_err(|e| StoreError::Unavailable(format!("a figures pass stopped: {e}")))?
                    };
                    let (one, two) = (joined(one.await), joined(two.await));
                    let ((s, a), (other, b)) = (one?, two?);
                    snap = s;
                    other.rollback().await?;
                    counts = merge_counts([a.counts(), b.counts()]);
                    timings = merge_timings([a.timings(), b.timings()]);
                } else {
                    second.rollback().await?;
                }
                let counted = started.elapsed();
                let delta_counts = delta.counts();
                let delta_timings = delta.timings();
                let mut tx = if Self::SUMMARIES_WRITTEN_IN_SNAPSHOT {
                    snap
                } else {
                    snap.rollback().await?;
                    let mut tx = self.begin_write().await?;
                    // another refresh wrote meanwhile: a full one from a newer snapshot makes this
                    // one stale, and deltas are added only to the summaries they were counted for
                    let stored: Option<i64> = sqlx::query_scalar("SELECT through_change FROM figure_refresh WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                    if (full && stored.is_some_and(|s| s > through)) || (!full && stored != done) {
                        return Ok(FigureRefresh { skipped: true, ..FigureRefresh::default() });
                    }
                    tx
                };
                // recomputed half-years: replaced
                if full || !recompute.is_empty() {
                    for table in ["figure_summary", "figure_timings"] {
                        let mut qb: QueryBuilder<$db> = QueryBuilder::new(format!("DELETE FROM {table}"));
                        if !full {
                            Self::push_in(&mut qb, " WHERE half_year", &recompute);
                        }
                        qb.build().execute(&mut *tx).await?;
                    }
                }
                Self::write_counts(&mut tx, &counts, false).await?;
                Self::write_timings(&mut tx, &timings).await?;
                // delta half-years: counts added (a count that reaches zero goes), histograms
                // merged into the stored ones
                Self::write_counts(&mut tx, &delta_counts, true).await?;
                if !delta_counts.is_empty() {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new("DELETE FROM figure_summary WHERE n = 0");
                    Self::push_in(&mut qb, " AND half_year", &delta_half_years);
                    qb.build().execute(&mut *tx).await?;
                }
                let mut merged_timings = Vec::new();
                if !delta_timings.is_empty() {
                    let mut regions: Vec<String> = delta_timings.iter().map(|t| t.0.region_code.clone()).collect();
                    regions.sort();
                    regions.dedup();
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "SELECT scope_kind, scope_org, region_code, half_year, age_band, hours_histogram, days_histogram \
                         FROM figure_timings WHERE 1 = 1",
                    );
                    Self::push_in(&mut qb, " AND half_year", &delta_half_years);
                    Self::push_in(&mut qb, " AND region_code", &regions);
                    let stored: Vec<(String, Uuid, String, String, String, String, String)> =
                        qb.build_query_as().fetch_all(&mut *tx).await?;
                    let mut stored: std::collections::HashMap<$crate::domain::figures::CellKey, Histograms> = stored
                        .into_iter()
                        .filter_map(|r| {
                            let cell = $crate::domain::figures::CellKey {
                                scope: ScopeKind::parse(&r.0)?, org: r.1, region_code: r.2, half_year: r.3, age_band: r.4,
                            };
                            Some((cell, (Histogram::decode(&r.5), Histogram::decode(&r.6))))
                        })
                        .map(|(cell, h)| match h {
                            (Ok(hours), Ok(days)) => Ok((cell, Histograms { hours, days })),
                            // only the gateway writes these: a full refresh writes them anew
                            _ => Err(StoreError::Unavailable(
                                "figure_timings holds a histogram the gateway never writes: run a full refresh".into(),
                            )),
                        })
                        .collect::<StoreResult<_>>()?;
                    let mut emptied = Vec::new();
                    for (cell, change) in delta_timings {
                        let mut h = stored.remove(&cell).unwrap_or_default();
                        h.merge(&change);
                        if h.is_empty() {
                            emptied.push(cell);
                        } else {
                            merged_timings.push((cell, h));
                        }
                    }
                    for cell in &emptied {
                        sqlx::query(
                            "DELETE FROM figure_timings WHERE scope_kind = $1 AND scope_org = $2 AND region_code = $3 \
                             AND half_year = $4 AND age_band = $5",
                        )
                        .bind(cell.scope.as_str()).bind(cell.org).bind(&cell.region_code).bind(&cell.half_year)
                        .bind(&cell.age_band)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Self::write_timings(&mut tx, &merged_timings).await?;
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
                let mut half_years: Vec<String> = recompute.iter().chain(&delta_half_years).cloned().collect();
                half_years.sort();
                tracing::debug!(
                    counted_ms = counted.as_millis() as u64,
                    written_ms = (started.elapsed() - counted).as_millis() as u64,
                    full,
                    changes,
                    "figures refreshed"
                );
                Ok(FigureRefresh {
                    full,
                    half_years,
                    recomputed: recompute,
                    changes,
                    rows: (counts.len() + timings.len() + delta_counts.len() + merged_timings.len()) as u64,
                    skipped: false,
                })
            }

            /// `WHERE` of a pass: the half-years to recompute, or (None) all of them. Only what
            /// the figures count leaves the database: no child, no free text.
            fn push_figure_filter(qb: &mut QueryBuilder<'_, $db>, half_years: &Option<Vec<String>>) {
                match half_years {
                    None => {
                        qb.push(" WHERE t.half_year IS NOT NULL");
                    }
                    Some(h) => Self::push_in(qb, " WHERE t.half_year", h),
                }
            }

            /// Counts requests and consent records. Each pass groups by the table's own columns
            /// in the order of its covering index (SQLite then aggregates while it walks the index,
            /// without sorting); the specialist's provider comes from `providers` (staff → organisation).
            async fn count_requests_and_consents(
                mut snap: sqlx::Transaction<'static, $db>,
                half_years: Option<Vec<String>>,
                providers: std::sync::Arc<std::collections::HashMap<Uuid, Uuid>>,
            ) -> StoreResult<(sqlx::Transaction<'static, $db>, $crate::domain::figures::Tally)> {
                use $crate::domain::figures::{ConsentFacts, RequestFacts, Tally};
                use futures::TryStreamExt;
                for setting in Self::FIGURE_PASS_SETTINGS {
                    sqlx::query(setting).execute(&mut *snap).await?;
                }
                let provider = |staff: Option<Uuid>| staff.and_then(|s| providers.get(&s).copied());
                let mut tally = Tally::default();
                type RequestTuple = (
                    String, Option<String>, Option<String>, Option<Uuid>, Option<Uuid>, String, String, String,
                    Option<String>, i64, bool, Option<bool>, i64,
                );
                const REQUEST_FACTS: &str = "t.half_year, t.region_code, t.age_band, t.organization_id, t.assigned_to, \
                     t.expertise, t.urgency, t.status, t.outcome, t.reroutes, t.ever_unassigned, t.consent_delayed";
                let mut qb: QueryBuilder<$db> =
                    QueryBuilder::new(format!("SELECT {REQUEST_FACTS}, COUNT(*) FROM consultations t"));
                Self::push_figure_filter(&mut qb, &half_years);
                qb.push(format!(" GROUP BY {REQUEST_FACTS}"));
                let mut rows = qb.build_query_as::<RequestTuple>().fetch(&mut *snap);
                while let Some(r) = rows.try_next().await? {
                    let (Some(region_code), Some(age_band)) = (r.1, r.2) else { continue };
                    tally.requests(&RequestFacts {
                        region_code, half_year: r.0, age_band, organization_id: r.3, provider_id: provider(r.4),
                        expertise: r.5, urgency: r.6, status: r.7, outcome: r.8, reroutes: r.9, ever_unassigned: r.10,
                        consent_delayed: r.11,
                    }, r.12);
                }
                drop(rows);
                type ConsentTuple = (String, Option<String>, Option<String>, Option<Uuid>, Option<Uuid>, String, String, String, i64);
                const CONSENT_FACTS: &str = "t.half_year, t.region_code, t.age_band, t.organization_id, \
                     t.recipient_organization_id, t.purpose, t.decision, t.status";
                let mut qb: QueryBuilder<$db> =
                    QueryBuilder::new(format!("SELECT {CONSENT_FACTS}, COUNT(*) FROM consents t"));
                Self::push_figure_filter(&mut qb, &half_years);
                qb.push(format!(" GROUP BY {CONSENT_FACTS}"));
                let mut rows = qb.build_query_as::<ConsentTuple>().fetch(&mut *snap);
                while let Some(r) = rows.try_next().await? {
                    let (Some(region_code), Some(age_band)) = (r.1, r.2) else { continue };
                    tally.consents(&ConsentFacts {
                        region_code, half_year: r.0, age_band, organization_id: r.3, recipient_id: r.4,
                        purpose: r.5, decision: r.6, status: r.7,
                    }, r.8);
                }
                drop(rows);
                Ok((snap, tally))
            }

            /// Takes accepted requests into the response times and counts visits (see
            /// `count_requests_and_consents`).
            async fn count_accepted_and_visits(
                mut snap: sqlx::Transaction<'static, $db>,
                half_years: Option<Vec<String>>,
                providers: std::sync::Arc<std::collections::HashMap<Uuid, Uuid>>,
            ) -> StoreResult<(sqlx::Transaction<'static, $db>, $crate::domain::figures::Tally)> {
                use $crate::domain::figures::{AcceptedFacts, Tally, VisitFacts};
                use futures::TryStreamExt;
                for setting in Self::FIGURE_PASS_SETTINGS {
                    sqlx::query(setting).execute(&mut *snap).await?;
                }
                let provider = |staff: Option<Uuid>| staff.and_then(|s| providers.get(&s).copied());
                let mut tally = Tally::default();
                type AcceptedTuple = (
                    String, Option<String>, Option<String>, Option<Uuid>, Option<Uuid>, DateTime<Utc>, DateTime<Utc>,
                    Option<NaiveDate>,
                );
                let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                    "SELECT t.half_year, t.region_code, t.age_band, t.organization_id, t.assigned_to, t.created_at, \
                     t.accepted_at, t.first_visit_on FROM consultations t",
                );
                Self::push_figure_filter(&mut qb, &half_years);
                qb.push(" AND t.accepted_at IS NOT NULL");
                let mut rows = qb.build_query_as::<AcceptedTuple>().fetch(&mut *snap);
                while let Some(r) = rows.try_next().await? {
                    let (Some(region_code), Some(age_band)) = (r.1, r.2) else { continue };
                    tally.accepted(&AcceptedFacts {
                        region_code, half_year: r.0, age_band, organization_id: r.3, provider_id: provider(r.4),
                        created_at: r.5, accepted_at: r.6, first_visit_on: r.7,
                    }, 1);
                }
                drop(rows);
                // (all statuses: the tally counts the held ones; a filter on status would make
                // SQLite sort instead of walking the index)
                type VisitTuple = (String, Option<String>, Option<String>, Option<Uuid>, Option<Uuid>, String, String, i64);
                const VISIT_FACTS: &str = "t.half_year, t.region_code, t.age_band, t.organization_id, t.specialist_id, \
                     t.status, t.competences";
                let mut qb: QueryBuilder<$db> =
                    QueryBuilder::new(format!("SELECT {VISIT_FACTS}, COUNT(*) FROM visits t"));
                Self::push_figure_filter(&mut qb, &half_years);
                qb.push(format!(" GROUP BY {VISIT_FACTS}"));
                let mut rows = qb.build_query_as::<VisitTuple>().fetch(&mut *snap);
                while let Some(r) = rows.try_next().await? {
                    let (Some(region_code), Some(age_band)) = (r.1, r.2) else { continue };
                    tally.visits(&VisitFacts {
                        region_code, half_year: r.0, age_band, organization_id: r.3, provider_id: provider(r.4),
                        status: r.5, competences: r.6,
                    }, r.7);
                }
                drop(rows);
                Ok((snap, tally))
            }

            /// Inserts summary counts; with `add`, adds them to the stored ones instead.
            async fn write_counts(
                tx: &mut sqlx::Transaction<'static, $db>,
                counts: &[($crate::domain::figures::CellKey, CountFigure, String, i64)],
                add: bool,
            ) -> StoreResult<()> {
                for chunk in counts.chunks(3000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO figure_summary (scope_kind, scope_org, figure, region_code, half_year, age_band, category, n) ",
                    );
                    qb.push_values(chunk, |mut b, (cell, figure, category, n)| {
                        b.push_bind(cell.scope.as_str()).push_bind(cell.org).push_bind(figure.name())
                            .push_bind(cell.region_code.clone()).push_bind(cell.half_year.clone())
                            .push_bind(cell.age_band.clone()).push_bind(category.clone()).push_bind(*n);
                    });
                    if add {
                        qb.push(
                            " ON CONFLICT (scope_kind, scope_org, figure, region_code, half_year, age_band, category) \
                             DO UPDATE SET n = figure_summary.n + excluded.n",
                        );
                    }
                    qb.build().execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Writes response-time cells (histograms and the figures read from them), replacing
            /// a stored cell.
            async fn write_timings(
                tx: &mut sqlx::Transaction<'static, $db>,
                timings: &[($crate::domain::figures::CellKey, $crate::domain::figures::Histograms)],
            ) -> StoreResult<()> {
                for chunk in timings.chunks(2000) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO figure_timings (scope_kind, scope_org, region_code, half_year, age_band, accepted, \
                         median_hours, p90_hours, visited, median_days, p90_days, hours_histogram, days_histogram) ",
                    );
                    qb.push_values(chunk, |mut b, (cell, h)| {
                        let t = h.stats();
                        b.push_bind(cell.scope.as_str()).push_bind(cell.org).push_bind(cell.region_code.clone())
                            .push_bind(cell.half_year.clone()).push_bind(cell.age_band.clone()).push_bind(t.accepted)
                            .push_bind(t.median_hours).push_bind(t.p90_hours).push_bind(t.visited)
                            .push_bind(t.median_days).push_bind(t.p90_days)
                            .push_bind(h.hours.encode()).push_bind(h.days.encode());
                    });
                    qb.push(
                        " ON CONFLICT (scope_kind, scope_org, region_code, half_year, age_band) DO UPDATE SET \
                         accepted = excluded.accepted, median_hours = excluded.median_hours, p90_hours = excluded.p90_hours, \
                         visited = excluded.visited, median_days = excluded.median_days, p90_days = excluded.p90_days, \
                         hours_histogram = excluded.hours_histogram, days_histogram = excluded.days_histogram",
                    );
                    qb.build().execute(&mut **tx).await?;
                }
                Ok(())
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
                // a bulk load notes only the half-years it touched (they are recomputed), not
                // what the figures need of every record (PostgreSQL's statement triggers do the
                // same for statements of more than 1,000 rows; SQLite's are per row)
                let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM figure_changes")
                    .fetch_one(&mut *tx)
                    .await?;
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
                if rows.len() > 1000 {
                    sqlx::query(
                        "INSERT INTO figure_changes (half_year) SELECT DISTINCT half_year FROM figure_changes \
                         WHERE id > $1 AND kind IS NOT NULL",
                    )
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM figure_changes WHERE id > $1 AND kind IS NOT NULL")
                        .bind(before)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
