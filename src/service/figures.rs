//! Figures for policy staff: how the Alert4you way of working goes, per youth-care region ×
//! half-year × age band, scoped to the caller's regions or organisation, with disclosure
//! control (`domain::disclosure`) so that no child can be recognised. Only counts, shares,
//! medians and percentiles leave here; never a child, a name or a free-text field.

use super::{Caller, Ctx, ServiceError, ServiceResult};
use crate::auth::Principal;
use crate::domain::calendar::{dutch_date, now};
use crate::domain::disclosure::{
    percentage, publish, publish_linked, Link, Published, Shown, Table,
};
use crate::domain::figures::{request_links, AgeBand, HalfYear, REQUEST_FIGURES};
use crate::domain::types::{OrganizationKind, Role};
use crate::store::{CountFigure, CountRow, FigureScope};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Most half-years one answer covers.
const MAX_HALF_YEARS: usize = 20;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// JSON (default).
    Json,
    /// CSV, UTF-8, comma-separated, decimal point, header row.
    Csv,
    /// CSV for Dutch spreadsheet settings (where the comma is the decimal sign): semicolon-separated.
    CsvNl,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FigureParams {
    /// One region of the caller's scope (`JZxx`).
    pub region: Option<crate::domain::types::RegionCode>,
    /// First half-year, `YYYY-H1|H2` (default: three half-years before `to`).
    #[param(pattern = "^(20[0-9]{2}|2100)-H[12]$")]
    pub from: Option<String>,
    /// Last half-year (default: the current one).
    #[param(pattern = "^(20[0-9]{2}|2100)-H[12]$")]
    pub to: Option<String>,
    #[param(value_type = Option<Format>)]
    pub format: Option<Format>,
}

#[derive(Serialize, ToSchema)]
pub struct ScopeView {
    /// `regions` or `organization`.
    pub kind: String,
    pub region_codes: Vec<String>,
    pub organization_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct Rules {
    pub dimensions: Vec<String>,
    pub suppressed_counts: String,
    pub rounding: String,
    pub zeros: String,
    pub percentages: String,
    pub medians: String,
}

fn rules() -> Rules {
    Rules {
        dimensions: vec!["region".into(), "half_year".into(), "age_band".into()],
        suppressed_counts: "counts of 1 to 9 are not shown (small_count); other entries are hidden where a small count could otherwise be worked out from the totals (secondary)".into(),
        rounding: "shown counts are rounded to the nearest multiple of 5".into(),
        zeros: "a zero is shown as 0".into(),
        percentages: "computed from the shown counts, whole percents, only where the denominator is at least 10".into(),
        medians: "medians and 90th percentiles only over at least 10 requests; hours to acceptance, days to the first visit".into(),
    }
}

#[derive(Clone, Serialize, ToSchema)]
pub struct FigureTable {
    /// Which table of the figure (`consents`, `consent_delay`, `expertise`, …).
    pub name: String,
    pub region_code: String,
    pub half_year: String,
    /// Rows are age bands, columns categories; totals as published.
    #[schema(value_type = Object)]
    pub published: Published,
    /// A share per age band (and `total`), where the figure has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<Share>,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct Share {
    pub age_band: String,
    /// What the share is of (`delayed`, `rerouted`, `handled_within_childcare`, …).
    pub of: String,
    pub percent: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct SuppressedCell {
    pub table: String,
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    pub column: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct Timing {
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    /// Accepted requests (rounded; hidden under 10).
    #[schema(value_type = Object)]
    pub accepted: Shown,
    pub median_hours_to_acceptance: Option<i64>,
    pub p90_hours_to_acceptance: Option<i64>,
    pub median_days_to_first_visit: Option<i64>,
    pub p90_days_to_first_visit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct FigureAnswer {
    pub figure: String,
    pub scope: ScopeView,
    pub half_years: Vec<String>,
    /// When the figures were computed (they are refreshed in the background).
    pub refreshed_at: chrono::DateTime<chrono::Utc>,
    pub rules: Rules,
    pub tables: Vec<FigureTable>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timings: Vec<Timing>,
    /// Every hidden entry and why.
    pub suppressed: Vec<SuppressedCell>,
}

/// The caller's scope: a policy staff member's regions, else their organisation.
async fn scope(
    state: &Ctx,
    p: &Principal,
    q: &FigureParams,
) -> Result<(FigureScope, ScopeView), ServiceError> {
    if !p.has(Role::Policy) {
        return Err(ServiceError::forbidden("figures are for policy staff"));
    }
    let to = match &q.to {
        Some(t) => t
            .parse::<HalfYear>()
            .map_err(|e| ServiceError::bad_request(format!("to: {e}")))?,
        None => HalfYear::of(dutch_date(now())),
    };
    let from = match &q.from {
        Some(f) => f
            .parse::<HalfYear>()
            .map_err(|e| ServiceError::bad_request(format!("from: {e}")))?,
        None => {
            let mut h = to;
            for _ in 0..3 {
                h = h.previous();
            }
            h
        }
    };
    let half_years =
        HalfYear::range(from, to, MAX_HALF_YEARS).map_err(|e| ServiceError::field("from", &e))?;
    let mut s = FigureScope {
        half_years: half_years.iter().map(|h| h.to_string()).collect(),
        ..Default::default()
    };
    let regions: Vec<String> = p
        .staff
        .as_ref()
        .map(|st| st.region_codes.clone())
        .unwrap_or_default();
    let view = if !regions.is_empty() {
        let chosen = match &q.region {
            Some(r) => {
                let r = r.to_string();
                if !regions.contains(&r) {
                    return Err(ServiceError::forbidden("not a region of your scope"));
                }
                vec![r]
            }
            None => regions.clone(),
        };
        s.region_codes = Some(chosen.clone());
        ScopeView {
            kind: "regions".into(),
            region_codes: chosen,
            organization_id: None,
        }
    } else {
        let org_id = p
            .organization_id
            .ok_or_else(|| ServiceError::forbidden("no scope"))?;
        let org = state
            .store
            .get_organization(org_id)
            .await?
            .ok_or_else(|| ServiceError::forbidden("no scope"))?;
        match org.kind {
            OrganizationKind::Childcare => s.organization_id = Some(org_id),
            OrganizationKind::YouthCare => s.provider_id = Some(org_id),
            _ => return Err(ServiceError::forbidden("policy staff of a municipality see the figures of their regions; ask the admin to link them")),
        }
        if let Some(r) = &q.region {
            s.region_codes = Some(vec![r.to_string()]);
        }
        ScopeView {
            kind: "organization".into(),
            region_codes: s.region_codes.clone().unwrap_or_default(),
            organization_id: Some(org_id),
        }
    };
    Ok((s, view))
}

/// Tables of the given figures, one per figure and region × half-year where it counts anything,
/// rows the age bands; the figures of one region × half-year published together with `links`
/// between them (indexes into `figures`).
fn tables(rows: &[CountRow], figures: &[CountFigure], links: &[Link]) -> Vec<FigureTable> {
    let cols: Vec<Vec<String>> = figures.iter().map(|f| f.categories()).collect();
    let mut by_cell: BTreeMap<(String, String), Vec<Vec<Vec<u64>>>> = BTreeMap::new();
    for r in rows {
        let Some(k) = figures.iter().position(|f| *f == r.figure) else {
            continue;
        };
        let Some(col) = cols[k].iter().position(|c| *c == r.category) else {
            continue;
        };
        let Some(band) = AgeBand::ALL.iter().position(|b| b.as_str() == r.age_band) else {
            continue;
        };
        let grids = by_cell
            .entry((r.region_code.clone(), r.half_year.clone()))
            .or_insert_with(|| {
                cols.iter()
                    .map(|c| vec![vec![0; c.len()]; AgeBand::ALL.len()])
                    .collect()
            });
        grids[k][band][col] += r.n.max(0) as u64;
    }
    let mut out = Vec::new();
    for ((region, half), grids) in by_cell {
        let counted: Vec<bool> = grids
            .iter()
            .map(|g| g.iter().flatten().any(|n| *n > 0))
            .collect();
        let tables: Vec<Table> = grids
            .into_iter()
            .zip(&cols)
            .map(|(counts, columns)| Table {
                rows: AgeBand::ALL
                    .iter()
                    .map(|b| b.as_str().to_string())
                    .collect(),
                columns: columns.clone(),
                counts,
            })
            .collect();
        for (k, published) in publish_linked(&tables, links).into_iter().enumerate() {
            if counted[k] {
                out.push(FigureTable {
                    name: figures[k].name().into(),
                    region_code: region.clone(),
                    half_year: half.clone(),
                    published,
                    shares: Vec::new(),
                });
            }
        }
    }
    out
}

/// Adds per age band (and total) the share of `of` (one or more columns) in the row total.
fn add_shares(t: &mut FigureTable, label: &str, of: &[&str]) {
    let cols: Vec<usize> = of
        .iter()
        .filter_map(|c| t.published.columns.iter().position(|x| x == c))
        .collect();
    let sum = |cells: &[Shown]| -> Shown {
        let mut total = 0;
        for &c in &cols {
            match cells[c].value {
                Some(v) => total += v,
                None => return cells[c],
            }
        }
        Shown {
            value: Some(total),
            suppressed: None,
        }
    };
    let mut shares = Vec::new();
    for (i, band) in t.published.rows.iter().enumerate() {
        shares.push(Share {
            age_band: band.clone(),
            of: label.into(),
            percent: percentage(&sum(&t.published.cells[i]), &t.published.row_totals[i]),
        });
    }
    shares.push(Share {
        age_band: "total".into(),
        of: label.into(),
        percent: percentage(&sum(&t.published.column_totals), &t.published.total),
    });
    t.shares = shares;
}

fn suppressed_list(tables: &[FigureTable]) -> Vec<SuppressedCell> {
    let mut out = Vec::new();
    for t in tables {
        let p = &t.published;
        let mut note = |band: &str, column: &str, s: &Shown| {
            if let Some(why) = s.suppressed {
                out.push(SuppressedCell {
                    table: t.name.clone(),
                    region_code: t.region_code.clone(),
                    half_year: t.half_year.clone(),
                    age_band: band.into(),
                    column: column.into(),
                    reason: serde_json::to_value(why)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                });
            }
        };
        for (i, band) in p.rows.iter().enumerate() {
            for (j, col) in p.columns.iter().enumerate() {
                note(band, col, &p.cells[i][j]);
            }
            note(band, "total", &p.row_totals[i]);
        }
        for (j, col) in p.columns.iter().enumerate() {
            note("total", col, &p.column_totals[j]);
        }
        note("total", "total", &p.total);
    }
    out
}

fn strs(items: impl IntoIterator<Item = &'static str>) -> Vec<String> {
    items.into_iter().map(String::from).collect()
}

/// How long a request waits for the very first build of the summaries.
const FIRST_BUILD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One first build of the summaries at a time in this process.
static FIRST_BUILD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// When the summaries were brought up to date (the background job keeps them so). Before the
/// very first build, the first request starts it: a small database answers at once, a national
/// one gets 503 with Retry-After while the build goes on (it is not tied to the request).
pub async fn refreshed_at(
    state: &Ctx,
    wait: std::time::Duration,
) -> Result<chrono::DateTime<chrono::Utc>, ServiceError> {
    if let Some(at) = state.store.figures_refreshed_at().await? {
        return Ok(at);
    }
    let store = state.store.clone();
    let build = tokio::spawn(async move {
        let _one = FIRST_BUILD.lock().await;
        if let Some(at) = store.figures_refreshed_at().await? {
            return Ok(at);
        }
        let at = now();
        store.refresh_figures(at, true).await?;
        Ok::<_, crate::store::StoreError>(at)
    });
    match tokio::time::timeout(wait, build).await {
        Ok(Ok(built)) => Ok(built?),
        Ok(Err(e)) => Err(ServiceError::internal(e)),
        Err(_) => Err(ServiceError::Unavailable {
            detail: "the figures are computed for the first time; try again in a minute".into(),
            retry_after_seconds: 60,
        }),
    }
}

/// One figure (`consents`, `consultations`, `response-times`, `outcomes`, `visits`) for the
/// caller's scope, disclosure-controlled.
#[tracing::instrument(skip_all)]
pub async fn figure(
    state: &Ctx,
    caller: &Caller,
    q: &FigureParams,
    figure: &str,
) -> ServiceResult<FigureAnswer> {
    let p = caller.principal()?;
    let (s, view) = scope(state, p, q).await?;
    let refreshed_at = refreshed_at(state, FIRST_BUILD_WAIT).await?;
    let own: &[CountFigure] = match figure {
        "consents" => &[CountFigure::Consents],
        "visits" => &[CountFigure::Competences, CountFigure::Visits],
        "consultations" | "response-times" | "outcomes" => &[],
        _ => return Err(ServiceError::not_found("figure")),
    };
    let wanted: Vec<CountFigure> = REQUEST_FIGURES.iter().chain(own).copied().collect();
    let rows = state.store.figure_counts(&wanted, &s).await?;
    let requests = tables(&rows, &REQUEST_FIGURES, &request_links());
    let of = |f: CountFigure| -> Vec<FigureTable> {
        requests
            .iter()
            .filter(|t| t.name == f.name())
            .cloned()
            .collect()
    };
    let mut all = Vec::new();
    let mut timings = Vec::new();
    match figure {
        "consents" => {
            all.extend(tables(&rows, &[CountFigure::Consents], &[]));
            let mut delay = of(CountFigure::ConsentDelay);
            delay
                .iter_mut()
                .for_each(|t| add_shares(t, "delayed", &["delayed"]));
            all.extend(delay);
        }
        "consultations" => {
            all.extend(of(CountFigure::Expertise));
            all.extend(of(CountFigure::Urgency));
            all.extend(of(CountFigure::Status));
        }
        "response-times" => {
            let mut rerouted = of(CountFigure::Rerouted);
            rerouted
                .iter_mut()
                .for_each(|t| add_shares(t, "rerouted", &["rerouted"]));
            let mut unassigned = of(CountFigure::Unassigned);
            unassigned
                .iter_mut()
                .for_each(|t| add_shares(t, "went_unassigned", &["went_unassigned"]));
            all.extend(rerouted);
            all.extend(unassigned);
            timings = timing(state.store.figure_timings(&s).await?);
        }
        "outcomes" => {
            let mut t = of(CountFigure::Outcomes);
            for table in t.iter_mut() {
                add_shares(
                    table,
                    "handled_within_childcare",
                    &["handled_within_childcare"],
                );
                let within = std::mem::take(&mut table.shares);
                add_shares(
                    table,
                    "referred_on",
                    &["referred_youth_care", "referred_youth_health_care"],
                );
                let referred = std::mem::take(&mut table.shares);
                table.shares = within.into_iter().chain(referred).collect();
            }
            all.extend(t);
        }
        // "visits" (any other figure was refused above)
        _ => {
            all.extend(tables(&rows, &[CountFigure::Competences], &[]));
            let mut visits = tables(&rows, &[CountFigure::Visits], &[]);
            let requests = of(CountFigure::Status);
            // visits per request: shown visits over shown requests of the same cell, as a share ×100
            for v in visits.iter_mut() {
                if let Some(r) = requests
                    .iter()
                    .find(|r| r.region_code == v.region_code && r.half_year == v.half_year)
                {
                    let mut shares = Vec::new();
                    for (i, band) in v.published.rows.iter().enumerate() {
                        shares.push(Share {
                            age_band: band.clone(),
                            of: "visits_per_100_requests".into(),
                            percent: percentage(
                                &v.published.row_totals[i],
                                &r.published.row_totals[i],
                            ),
                        });
                    }
                    shares.push(Share {
                        age_band: "total".into(),
                        of: "visits_per_100_requests".into(),
                        percent: percentage(&v.published.total, &r.published.total),
                    });
                    v.shares = shares;
                }
            }
            all.extend(visits);
        }
    }
    let suppressed = suppressed_list(&all);
    Ok(FigureAnswer {
        figure: figure.into(),
        scope: view,
        half_years: s.half_years.clone(),
        refreshed_at,
        rules: rules(),
        tables: all,
        timings,
        suppressed,
    })
}

/// Response times per region × half-year × age band from the summaries; medians and
/// percentiles exist there only over at least 10 requests.
fn timing(rows: Vec<crate::store::TimingRow>) -> Vec<Timing> {
    let mut merged: BTreeMap<(String, String, String), crate::store::TimingRow> = BTreeMap::new();
    for r in rows {
        merged.insert(
            (
                r.region_code.clone(),
                r.half_year.clone(),
                r.age_band.clone(),
            ),
            r,
        );
    }
    merged
        .into_values()
        .map(|r| {
            let accepted = publish(&Table {
                rows: vec![r.age_band.clone()],
                columns: vec!["accepted".into()],
                counts: vec![vec![r.stats.accepted.max(0) as u64]],
            })
            .cells[0][0];
            let enough = |n: i64| n >= crate::domain::disclosure::MIN_DENOMINATOR as i64;
            Timing {
                region_code: r.region_code,
                half_year: r.half_year,
                age_band: r.age_band,
                accepted,
                median_hours_to_acceptance: r
                    .stats
                    .median_hours
                    .filter(|_| enough(r.stats.accepted)),
                p90_hours_to_acceptance: r.stats.p90_hours.filter(|_| enough(r.stats.accepted)),
                median_days_to_first_visit: r.stats.median_days.filter(|_| enough(r.stats.visited)),
                p90_days_to_first_visit: r.stats.p90_days.filter(|_| enough(r.stats.visited)),
            }
        })
        .collect()
}

/// The answer as CSV (`;`-separated for Dutch spreadsheet settings when `dutch`).
pub fn to_csv(a: &FigureAnswer, dutch: bool) -> String {
    // every value is a whole number (counts, whole percents, hours, days): only the separator
    // differs for Dutch spreadsheet settings, where the comma is the decimal sign
    let sep = if dutch { ';' } else { ',' };
    let mut out = String::new();
    let line = |cells: &[String]| cells.join(&sep.to_string()) + "\r\n";
    out.push_str(&line(&strs([
        "figure",
        "table",
        "region",
        "half_year",
        "age_band",
        "column",
        "value",
        "suppressed",
    ])));
    let value = |s: &Shown| {
        (
            s.value.map(|v| v.to_string()).unwrap_or_default(),
            s.suppressed
                .and_then(|w| serde_json::to_value(w).ok())
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        )
    };
    for t in &a.tables {
        let p = &t.published;
        let mut emit = |band: &str, col: &str, s: &Shown| {
            let (v, why) = value(s);
            out.push_str(&line(&[
                a.figure.clone(),
                t.name.clone(),
                t.region_code.clone(),
                t.half_year.clone(),
                band.into(),
                col.into(),
                v,
                why,
            ]));
        };
        for (i, band) in p.rows.iter().enumerate() {
            for (j, col) in p.columns.iter().enumerate() {
                emit(band, col, &p.cells[i][j]);
            }
            emit(band, "total", &p.row_totals[i]);
        }
        for (j, col) in p.columns.iter().enumerate() {
            emit("total", col, &p.column_totals[j]);
        }
        emit("total", "total", &p.total);
        for s in &t.shares {
            out.push_str(&line(&[
                a.figure.clone(),
                t.name.clone(),
                t.region_code.clone(),
                t.half_year.clone(),
                s.age_band.clone(),
                format!("percent_{}", s.of),
                s.percent.map(|p| p.to_string()).unwrap_or_default(),
                if s.percent.is_none() {
                    "denominator_under_10_or_hidden".into()
                } else {
                    String::new()
                },
            ]));
        }
    }
    for tm in &a.timings {
        let (v, why) = value(&tm.accepted);
        let opt = |x: Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
        for (col, val, w) in [
            ("accepted", v, why),
            (
                "median_hours_to_acceptance",
                opt(tm.median_hours_to_acceptance),
                String::new(),
            ),
            (
                "p90_hours_to_acceptance",
                opt(tm.p90_hours_to_acceptance),
                String::new(),
            ),
            (
                "median_days_to_first_visit",
                opt(tm.median_days_to_first_visit),
                String::new(),
            ),
            (
                "p90_days_to_first_visit",
                opt(tm.p90_days_to_first_visit),
                String::new(),
            ),
        ] {
            out.push_str(&line(&[
                a.figure.clone(),
                "timings".into(),
                tm.region_code.clone(),
                tm.half_year.clone(),
                tm.age_band.clone(),
                col.into(),
                val,
                w,
            ]));
        }
    }
    out
}
