//! The policy officer's pages: the five figures of `/api/v1/stats/*` for their own scope, per
//! youth-care region × half-year × age band, each as a table and a server-drawn SVG chart, with
//! a period choice and the same CSV files as the API. Only published numbers reach these pages
//! (the workflow's disclosure control): a hidden count is shown as its reason, never as a number.

use super::{chart, html, labels, staff_caller, Frame, WebError};
use crate::domain::disclosure::{Shown, Suppression};
use crate::domain::figures::HalfYear;
use crate::service::figures::{self, FigureAnswer, FigureParams, FigureTable, Format};
use crate::service::Caller;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The figures, their page titles and what they show, in the order of the menu.
const FIGURES: [(&str, &str, &str); 5] = [
    (
        "consents",
        "Toestemming",
        "Hoe vaak ouders toestemming gaven, weigerden of introkken, per doel; en hoe vaak een aanvraag op toestemming wachtte.",
    ),
    (
        "consultations",
        "Aanvragen",
        "Aanvragen voor een specialist per deskundigheid, spoed en stand.",
    ),
    (
        "response-times",
        "Reactietijden",
        "Hoe snel een specialist een aanvraag aannam en het eerste bezoek kwam, hoe vaak een aanvraag werd doorgestuurd en hoe vaak de regio moest toewijzen.",
    ),
    (
        "outcomes",
        "Uitkomsten",
        "Hoe afgeronde aanvragen afliepen: opgelost binnen de opvang, of doorverwezen.",
    ),
    (
        "visits",
        "Bezoeken",
        "Coachingsbezoeken op de groep en aan welke kerncompetenties ze werkten.",
    ),
];

fn title_of(figure: &str) -> Option<(&'static str, &'static str)> {
    FIGURES
        .iter()
        .find(|(f, _, _)| *f == figure)
        .map(|(_, t, d)| (*t, *d))
}

/// A half-year as a person reads it: "1e helft 2026".
fn half_year(code: &str) -> String {
    match code.parse::<HalfYear>() {
        Ok(h) => format!("{}e helft {}", h.half, h.year),
        Err(_) => code.to_string(),
    }
}

fn age_band(code: &str) -> &'static str {
    match code {
        "0-4" => "0 tot 4 jaar",
        "4-13" => "4 tot 13 jaar",
        "13-18" => "13 tot 18 jaar",
        "total" => "Totaal",
        _ => "",
    }
}

fn table_title(name: &str) -> &'static str {
    match name {
        "consents" => "Toestemmingen per doel",
        "consent_delay" => "Aanvragen die op toestemming wachtten",
        "expertise" => "Aanvragen per deskundigheid",
        "urgency" => "Aanvragen met en zonder spoed",
        "status" => "Aanvragen naar stand",
        "outcomes" => "Uitkomsten van afgeronde aanvragen",
        "rerouted" => "Aanvragen doorgestuurd naar een volgende specialist",
        "unassigned" => "Aanvragen die de regio moest toewijzen",
        "competences" => "Bezoeken per kerncompetentie",
        "visits" => "Bezoeken",
        _ => "Tabel",
    }
}

/// A column of a figure's table in words (every code the figures use has one).
fn column(table: &str, code: &str) -> String {
    use crate::domain::consent::Purpose;
    if code == "total" {
        return "Totaal".into();
    }
    let simple = match (table, code) {
        (_, "delayed") => Some("wachtte op toestemming"),
        (_, "not_delayed") => Some("wachtte niet"),
        (_, "rerouted") => Some("doorgestuurd"),
        (_, "not_rerouted") => Some("niet doorgestuurd"),
        (_, "went_unassigned") => Some("toegewezen door de regio"),
        (_, "never_unassigned") => Some("meteen bij een specialist"),
        (_, "referred_on") => Some("doorverwezen"),
        (_, "visits_per_100_requests") => Some("bezoeken per 100 aanvragen"),
        ("visits", "visits") => Some("bezoeken"),
        _ => None,
    };
    if let Some(s) = simple {
        return s.into();
    }
    if let Some((purpose, decision)) = code.split_once(':') {
        let p = match purpose.parse::<Purpose>() {
            Ok(Purpose::Consultation) => "consultatie",
            Ok(Purpose::InformationSharing) => "informatie delen",
            Ok(Purpose::Referral) => "doorverwijzen",
            Err(_) => "",
        };
        let d = match decision {
            "granted" => "toestemming gegeven",
            "refused" => "geen toestemming",
            "withdrawn" => "ingetrokken",
            _ => "",
        };
        return format!("{p}: {d}");
    }
    if let Ok(d) = code.parse() {
        return labels::domain(d).into();
    }
    if let Ok(u) = code.parse() {
        return labels::urgency(u).into();
    }
    if let Ok(s) = code.parse() {
        return labels::consultation_status(s).into();
    }
    if let Ok(o) = code.parse() {
        return labels::outcome(o).into();
    }
    if let Ok(c) = code.parse() {
        return labels::competence(c).into();
    }
    String::new()
}

/// A published value as a table cell shows it.
fn cell(s: &Shown) -> (String, bool) {
    match (s.value, s.suppressed) {
        (Some(v), _) => (v.to_string(), false),
        (None, why) => (
            chart::hidden_mark(why.unwrap_or(Suppression::Secondary))
                .1
                .to_string(),
            true,
        ),
    }
}

struct Row {
    band: &'static str,
    cells: Vec<(String, bool)>,
}

struct HalfYearTable {
    caption: String,
    columns: Vec<String>,
    rows: Vec<Row>,
    shares: Vec<(String, String)>,
}

struct Block {
    title: String,
    chart: String,
    legend: Vec<(&'static str, String)>,
    tables: Vec<HalfYearTable>,
}

struct TimingRow {
    half_year: String,
    band: &'static str,
    accepted: (String, bool),
    median_hours: String,
    p90_hours: String,
    median_days: String,
    p90_days: String,
}

#[derive(Template)]
#[template(path = "figure.html")]
struct FigurePage {
    frame: Frame,
    figure: &'static str,
    heading: &'static str,
    about: &'static str,
    menu: Vec<(&'static str, &'static str, bool)>,
    periods: Vec<(String, String)>,
    from: String,
    to: String,
    regions: Vec<(String, bool)>,
    refreshed: String,
    blocks: Vec<Block>,
    timings: Vec<TimingRow>,
    query: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct FigureQuery {
    #[serde(default)]
    van: String,
    #[serde(default)]
    tot: String,
    #[serde(default)]
    regio: String,
    #[serde(default)]
    formaat: String,
}

impl FigureQuery {
    fn params(&self, format: Option<Format>) -> FigureParams {
        FigureParams {
            region: self.regio.parse().ok().filter(|_| !self.regio.is_empty()),
            from: Some(self.van.clone()).filter(|v| !v.is_empty()),
            to: Some(self.tot.clone()).filter(|v| !v.is_empty()),
            format,
        }
    }
}

/// Grouped per table name and region, in the answer's order: one chart over the half-years of
/// the column totals, and per half-year the table by age band.
fn blocks(a: &FigureAnswer, figure: &str) -> Vec<Block> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for t in &a.tables {
        let k = (t.name.clone(), t.region_code.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let halves: Vec<String> = a.half_years.iter().map(|h| half_year(h)).collect();
    keys.into_iter()
        .enumerate()
        .map(|(i, (name, region))| {
            let of: Vec<&FigureTable> = a
                .tables
                .iter()
                .filter(|t| t.name == name && t.region_code == region)
                .collect();
            let columns: Vec<String> = of
                .first()
                .map(|t| t.published.columns.iter().map(|c| column(&name, c)).collect())
                .unwrap_or_default();
            let values: Vec<Vec<Shown>> = a
                .half_years
                .iter()
                .map(|h| match of.iter().find(|t| &t.half_year == h) {
                    Some(t) => t.published.column_totals.clone(),
                    // a half-year without any record: zero for every column
                    None => vec![
                        Shown {
                            value: Some(0),
                            suppressed: None
                        };
                        columns.len()
                    ],
                })
                .collect();
            let title = format!("{} — {}", table_title(&name), region);
            let desc = format!(
                "Staafdiagram per halfjaar ({}). Afgeronde aantallen; de tabel hieronder geeft dezelfde getallen.",
                halves.join(", ")
            );
            let chart = chart::grouped_bars(
                &format!("{figure}-{i}"),
                &title,
                &desc,
                &halves,
                &columns,
                &values,
            );
            let legend = columns
                .iter()
                .enumerate()
                .map(|(k, c)| (chart::colour(k), c.clone()))
                .collect();
            let tables = of
                .iter()
                .map(|t| {
                    let p = &t.published;
                    let mut rows: Vec<Row> = p
                        .rows
                        .iter()
                        .enumerate()
                        .map(|(r, band)| Row {
                            band: age_band(band),
                            cells: p.cells[r]
                                .iter()
                                .chain(std::iter::once(&p.row_totals[r]))
                                .map(cell)
                                .collect(),
                        })
                        .collect();
                    rows.push(Row {
                        band: "Totaal",
                        cells: p
                            .column_totals
                            .iter()
                            .chain(std::iter::once(&p.total))
                            .map(cell)
                            .collect(),
                    });
                    let share_of = |of: &str| column(&name, of);
                    HalfYearTable {
                        caption: format!("{}, {}", table_title(&name), half_year(&t.half_year)),
                        columns: columns.iter().cloned().chain(["Totaal".into()]).collect(),
                        rows,
                        shares: t
                            .shares
                            .iter()
                            .map(|s| {
                                // visits per 100 requests is a number of its own, not a share
                                let per_100 = s.of == "visits_per_100_requests";
                                let band = age_band(&s.age_band);
                                (
                                    if per_100 {
                                        format!("{band}: {}", share_of(&s.of))
                                    } else {
                                        format!("{band}: aandeel {}", share_of(&s.of))
                                    },
                                    s.percent
                                        .map(|p| if per_100 { p.to_string() } else { format!("{p}%") })
                                        .unwrap_or_else(|| "niet berekend (minder dan 10 of verborgen)".into()),
                                )
                            })
                            .collect(),
                    }
                })
                .collect();
            Block {
                title,
                chart,
                legend,
                tables,
            }
        })
        .collect()
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "te weinig aanvragen".into())
}

/// The half-years to choose from: ten back from the current one.
fn periods() -> Vec<(String, String)> {
    let mut h = HalfYear::of(crate::domain::calendar::dutch_date(
        crate::domain::calendar::now(),
    ));
    let mut out = Vec::new();
    for _ in 0..10 {
        out.push((h.to_string(), half_year(&h.to_string())));
        h = h.previous();
    }
    out
}

fn my_regions(caller: &Caller) -> Vec<String> {
    match caller {
        Caller::Principal(p) => p
            .staff
            .as_ref()
            .map(|s| s.region_codes.clone())
            .unwrap_or_default(),
        Caller::System(_) => Vec::new(),
    }
}

/// `GET /cijfers`: the first figure.
pub async fn index(
    state: State<AppState>,
    session: tower_sessions::Session,
    q: Query<FigureQuery>,
) -> Result<Response, WebError> {
    figure(state, session, Path("consents".to_string()), q).await
}

/// `GET /cijfers/{figure}`.
pub async fn figure(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    Path(figure): Path<String>,
    Query(q): Query<FigureQuery>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let Some((heading, about)) = title_of(&figure) else {
        return Err(WebError::NotFound);
    };
    let figure: &'static str = FIGURES
        .iter()
        .find(|(f, _, _)| *f == figure)
        .map(|(f, _, _)| *f)
        .unwrap_or("consents");
    let (answer, error, status) =
        match figures::figure(&state, &caller, &q.params(None), figure).await {
            Ok(a) => (Some(a), None, StatusCode::OK),
            Err(crate::service::ServiceError::BadRequest(_))
            | Err(crate::service::ServiceError::Validation(_)) => (
                None,
                Some(
                    "Kies een periode van hoogstens tien jaar, met het begin vóór het einde."
                        .to_string(),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(e) => return Err(e.into()),
        };
    let mine = my_regions(&caller);
    let query = serde_urlencoded::to_string([
        ("van", q.van.as_str()),
        ("tot", q.tot.as_str()),
        ("regio", q.regio.as_str()),
    ])
    .unwrap_or_default();
    let t = FigurePage {
        frame: super::staff::frame(&session, &caller, heading).await?,
        figure,
        heading,
        about,
        menu: FIGURES
            .iter()
            .map(|(f, t, _)| (*f, *t, *f == figure))
            .collect(),
        periods: periods(),
        from: answer
            .as_ref()
            .and_then(|a| a.half_years.first().cloned())
            .unwrap_or_else(|| q.van.clone()),
        to: answer
            .as_ref()
            .and_then(|a| a.half_years.last().cloned())
            .unwrap_or_else(|| q.tot.clone()),
        regions: mine.iter().map(|r| (r.clone(), *r == q.regio)).collect(),
        refreshed: answer
            .as_ref()
            .map(|a| labels::date_time(a.refreshed_at))
            .unwrap_or_default(),
        blocks: answer
            .as_ref()
            .map(|a| blocks(a, figure))
            .unwrap_or_default(),
        timings: answer
            .as_ref()
            .map(|a| {
                a.timings
                    .iter()
                    .map(|t| TimingRow {
                        half_year: format!("{} ({})", half_year(&t.half_year), t.region_code),
                        band: age_band(&t.age_band),
                        accepted: cell(&t.accepted),
                        median_hours: opt(t.median_hours_to_acceptance),
                        p90_hours: opt(t.p90_hours_to_acceptance),
                        median_days: opt(t.median_days_to_first_visit),
                        p90_days: opt(t.p90_days_to_first_visit),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        query,
        error,
    };
    Ok(html(status, &t))
}

/// `GET /cijfers/{figure}/download?formaat=csv|csv-nl`: the API's CSV file, as an attachment.
pub async fn download(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    Path(figure): Path<String>,
    Query(q): Query<FigureQuery>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    if title_of(&figure).is_none() {
        return Err(WebError::NotFound);
    }
    let dutch = match q.formaat.as_str() {
        "csv" => false,
        "csv-nl" => true,
        _ => return Err(WebError::NotFound),
    };
    let format = if dutch { Format::CsvNl } else { Format::Csv };
    let answer = figures::figure(&state, &caller, &q.params(Some(format)), &figure)
        .await
        .map_err(|e| match e {
            crate::service::ServiceError::BadRequest(_)
            | crate::service::ServiceError::Validation(_) => {
                WebError::Refused("Kies een geldige periode.".into())
            }
            e => e.into(),
        })?;
    let body = figures::to_csv(&answer, dutch);
    let name = format!(
        "attachment; filename=\"kindbrug-{figure}{}.csv\"",
        if dutch { "-nl" } else { "" }
    );
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
