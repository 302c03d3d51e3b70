//! The fixed dimensions of policy figures: youth-care region × half-year × age band. Periods are
//! whole half-years and ages whole bands, so no two figures can be subtracted to isolate a few
//! children. Each record carries its half-year and age band from the moment it happened.

use super::calendar::{age_on, dutch_date};
use super::consent::Purpose;
use super::consultation::{Competence, ConsultationStatus, Outcome, Urgency};
use super::disclosure::{Entry, Link, MIN_DENOMINATOR};
use super::types::ConcernDomain;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A half-year: `2026-H1` (January–June) or `2026-H2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HalfYear {
    pub year: i32,
    pub half: u8,
}

impl HalfYear {
    pub fn of(d: NaiveDate) -> Self {
        Self {
            year: d.year(),
            half: if d.month() <= 6 { 1 } else { 2 },
        }
    }

    pub fn next(self) -> Self {
        if self.half == 1 {
            Self {
                year: self.year,
                half: 2,
            }
        } else {
            Self {
                year: self.year + 1,
                half: 1,
            }
        }
    }

    pub fn previous(self) -> Self {
        if self.half == 2 {
            Self {
                year: self.year,
                half: 1,
            }
        } else {
            Self {
                year: self.year - 1,
                half: 2,
            }
        }
    }

    /// The half-years from `from` to `to`, both included; at most `max` of them.
    pub fn range(from: Self, to: Self, max: usize) -> Result<Vec<Self>, String> {
        if from > to {
            return Err("from is after to".into());
        }
        let mut out = vec![from];
        while *out.last().expect("not empty") < to {
            out.push(out.last().expect("not empty").next());
            if out.len() > max {
                return Err(format!("at most {max} half-years at once"));
            }
        }
        Ok(out)
    }
}

impl fmt::Display for HalfYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-H{}", self.year, self.half)
    }
}

impl FromStr for HalfYear {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || "a half-year is written YYYY-H1 or YYYY-H2, from 2000 to 2100".to_string();
        let (y, h) = s.trim().split_once("-H").ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let half: u8 = h.parse().map_err(|_| bad())?;
        if !(2000..=2100).contains(&year) || !(1..=2).contains(&half) {
            return Err(bad());
        }
        Ok(Self { year, half })
    }
}

crate::text_enum! {
    /// Age band at the moment of the event.
    pub enum AgeBand {
        /// 0 to 3: day nursery and toddler groups (KDV, PSZ).
        Under4 => "0-4",
        /// 4 to 12: after-school care (BSO).
        From4To12 => "4-13",
        /// 13 to 17.
        From13 => "13-18",
    }
}

impl AgeBand {
    /// The band of a child born `born`, on `on`.
    pub fn of(born: NaiveDate, on: NaiveDate) -> Self {
        match age_on(born, on).unwrap_or(0) {
            0..=3 => AgeBand::Under4,
            4..=12 => AgeBand::From4To12,
            _ => AgeBand::From13,
        }
    }
}

/// What a figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CountFigure {
    // (see `CountFigure::name` for the summary's name of each)
    /// Consent records by purpose and state (granted, refused, withdrawn).
    Consents,
    /// Requests that waited for consent.
    ConsentDelay,
    Expertise,
    Urgency,
    Status,
    /// Closed requests by outcome.
    Outcomes,
    /// Requests moved on at least once (declined or deadline missed).
    Rerouted,
    /// Requests that went to the coordinator's queue.
    Unassigned,
    /// Visits by the core competence they worked on.
    Competences,
    /// Visits.
    Visits,
}

impl CountFigure {
    pub const ALL: [CountFigure; 10] = [
        CountFigure::Consents,
        CountFigure::ConsentDelay,
        CountFigure::Expertise,
        CountFigure::Urgency,
        CountFigure::Status,
        CountFigure::Outcomes,
        CountFigure::Rerouted,
        CountFigure::Unassigned,
        CountFigure::Competences,
        CountFigure::Visits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CountFigure::Consents => "consents",
            CountFigure::ConsentDelay => "consent_delay",
            CountFigure::Expertise => "expertise",
            CountFigure::Urgency => "urgency",
            CountFigure::Status => "status",
            CountFigure::Outcomes => "outcomes",
            CountFigure::Rerouted => "rerouted",
            CountFigure::Unassigned => "unassigned",
            CountFigure::Competences => "competences",
            CountFigure::Visits => "visits",
        }
    }

    /// The categories the figure counts by (its table's columns), in order; `Tally` counts
    /// under exactly these.
    pub fn categories(self) -> Vec<String> {
        fn all(items: impl IntoIterator<Item = &'static str>) -> Vec<String> {
            items.into_iter().map(String::from).collect()
        }
        match self {
            CountFigure::Consents => Purpose::ALL
                .iter()
                .flat_map(|p| {
                    ["granted", "refused", "withdrawn"].map(|d| format!("{}:{d}", p.as_str()))
                })
                .collect(),
            CountFigure::ConsentDelay => all(["delayed", "not_delayed"]),
            CountFigure::Expertise => all(ConcernDomain::ALL.iter().map(|d| d.as_str())),
            CountFigure::Urgency => all(Urgency::ALL.iter().map(|u| u.as_str())),
            CountFigure::Status => all(ConsultationStatus::ALL.iter().map(|s| s.as_str())),
            CountFigure::Outcomes => all(Outcome::ALL.iter().map(|o| o.as_str())),
            CountFigure::Rerouted => all(["rerouted", "not_rerouted"]),
            CountFigure::Unassigned => all(["went_unassigned", "never_unassigned"]),
            CountFigure::Competences => all(Competence::ALL.iter().map(|c| c.as_str())),
            CountFigure::Visits => all(["visits"]),
        }
    }
}

/// The figures about requests. They count the same requests, so they are published together
/// (`disclosure::publish_linked`, with [`request_links`]) whichever endpoint shows them.
pub const REQUEST_FIGURES: [CountFigure; 7] = [
    CountFigure::ConsentDelay,
    CountFigure::Expertise,
    CountFigure::Urgency,
    CountFigure::Status,
    CountFigure::Rerouted,
    CountFigure::Unassigned,
    CountFigure::Outcomes,
];

/// Which entries of the tables of [`REQUEST_FIGURES`] (in that order, rows the age bands) count
/// the same requests: every figure but the outcomes splits all requests of a band, so their row
/// totals and totals are one; the outcomes split the completed requests, so their row totals
/// are the status table's `completed` cells and their total its `completed` column total.
pub fn request_links() -> Vec<Link> {
    let at = |f: CountFigure| {
        REQUEST_FIGURES
            .iter()
            .position(|x| *x == f)
            .expect("a request figure")
    };
    let bands = AgeBand::ALL.len();
    let first = 0;
    let mut links: Vec<Link> = (0..REQUEST_FIGURES.len())
        .filter(|&k| k != first && REQUEST_FIGURES[k] != CountFigure::Outcomes)
        .flat_map(|k| Link::same_rows(first, k, bands))
        .collect();
    let (status, outcomes) = (at(CountFigure::Status), at(CountFigure::Outcomes));
    let completed = CountFigure::Status
        .categories()
        .iter()
        .position(|c| c == ConsultationStatus::Completed.as_str())
        .expect("completed is a status");
    for i in 0..bands {
        links.push(Link {
            a: (status, Entry::Cell(i, completed)),
            b: (outcomes, Entry::RowTotal(i)),
        });
    }
    links.push(Link {
        a: (status, Entry::ColumnTotal(completed)),
        b: (outcomes, Entry::Total),
    });
    links
}

/// Whose figures a summary row holds: everything in a region, a childcare organisation's
/// children, or a youth-care provider's work (the requests its specialists took, their visits,
/// consents toward it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeKind {
    Region,
    Organization,
    Provider,
}

impl ScopeKind {
    pub fn parse(s: &str) -> Option<Self> {
        [
            ScopeKind::Region,
            ScopeKind::Organization,
            ScopeKind::Provider,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Region => "region",
            ScopeKind::Organization => "organization",
            ScopeKind::Provider => "provider",
        }
    }
}

/// One cell of the summaries: scope × region × half-year × age band (× figure × category for
/// counts). The region scope's organisation is the nil id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub scope: ScopeKind,
    pub org: Uuid,
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
}

/// What the count figures need of a consultation request (no child, no free text). Equal
/// facts count alike, so the summaries can be built from groups of them (`Tally::requests`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestFacts {
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    /// The childcare organisation that asked.
    pub organization_id: Option<Uuid>,
    /// The youth-care provider of the specialist who took it.
    pub provider_id: Option<Uuid>,
    pub expertise: String,
    pub urgency: String,
    pub status: String,
    pub outcome: Option<String>,
    pub reroutes: i64,
    pub ever_unassigned: bool,
    pub consent_delayed: Option<bool>,
}

/// What the response times need of an accepted request: its cells and its moments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedFacts {
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    pub organization_id: Option<Uuid>,
    pub provider_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub accepted_at: DateTime<Utc>,
    pub first_visit_on: Option<NaiveDate>,
}

/// What the figures need of a consent record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsentFacts {
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    pub organization_id: Option<Uuid>,
    pub recipient_id: Option<Uuid>,
    pub purpose: String,
    pub decision: String,
    pub status: String,
}

/// What the figures need of a visit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VisitFacts {
    pub region_code: String,
    pub half_year: String,
    pub age_band: String,
    pub organization_id: Option<Uuid>,
    pub provider_id: Option<Uuid>,
    pub status: String,
    /// Comma-separated core competences the visit worked on.
    pub competences: String,
}

/// Response times of one cell: hours from request to acceptance, days from request to the first
/// visit; medians and 90th percentiles only over at least 10 requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingStats {
    pub accepted: i64,
    pub median_hours: Option<i64>,
    pub p90_hours: Option<i64>,
    pub visited: i64,
    pub median_days: Option<i64>,
    pub p90_days: Option<i64>,
}

/// How often each value occurs (hours to acceptance, days to the first visit) in one cell. The
/// summaries keep these instead of the medians alone, so a changed request is taken in by
/// adding −1 at its old value and +1 at its new one, and the percentiles stay exact. Counts may
/// be negative in a delta; a value whose count reaches zero is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram(BTreeMap<i64, i64>);

impl Histogram {
    pub fn add(&mut self, value: i64, n: i64) {
        let c = self.0.entry(value).or_default();
        *c += n;
        if *c == 0 {
            self.0.remove(&value);
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (&v, &n) in &other.0 {
            self.add(v, n);
        }
    }

    /// How many values it holds.
    pub fn len(&self) -> i64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same pick as [`super::disclosure::percentile`] over the values one by one: the value
    /// at index round((len − 1) · p) in order; none under the minimum denominator.
    pub fn percentile(&self, p: f64) -> Option<i64> {
        let len = self.len();
        if len < MIN_DENOMINATOR as i64 {
            return None;
        }
        let k = ((len as f64 - 1.0) * p).round() as i64;
        let mut seen = 0;
        for (&v, &n) in &self.0 {
            seen += n;
            if seen > k {
                return Some(v);
            }
        }
        None
    }

    /// `value:count` pairs, space-separated, in value order.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (v, n) in &self.0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("{v}:{n}"));
        }
        out
    }

    pub fn decode(s: &str) -> Result<Self, String> {
        let mut h = Histogram::default();
        for pair in s.split_whitespace() {
            let (v, n) = pair
                .split_once(':')
                .and_then(|(v, n)| Some((v.parse().ok()?, n.parse().ok()?)))
                .ok_or_else(|| format!("not a histogram entry: {pair:?}"))?;
            h.add(v, n);
        }
        Ok(h)
    }
}

/// The response-time histograms of one cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histograms {
    pub hours: Histogram,
    pub days: Histogram,
}

impl Histograms {
    pub fn merge(&mut self, other: &Histograms) {
        self.hours.merge(&other.hours);
        self.days.merge(&other.days);
    }

    pub fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.days.is_empty()
    }

    pub fn stats(&self) -> TimingStats {
        TimingStats {
            accepted: self.hours.len(),
            median_hours: self.hours.percentile(0.5),
            p90_hours: self.hours.percentile(0.9),
            visited: self.days.len(),
            median_days: self.days.percentile(0.5),
            p90_days: self.days.percentile(0.9),
        }
    }
}

/// Counts records into the summaries' cells. Every record counts only in the cells of its own
/// half-year, so the summaries of one half-year can be recomputed from that half-year's records
/// alone (what the incremental refresh relies on).
///
/// A national build counts millions of records: cells and categories are numbered when first
/// seen and looked up through a reused buffer, so counting a record allocates nothing once its
/// cells exist (the keys are turned back into [`CellKey`]s only for the result).
#[derive(Debug, Default)]
pub struct Tally {
    /// Region, half-year and age band, numbered; looked up by a length-prefixed key.
    places: HashMap<String, u32>,
    place_list: Vec<(String, String, String)>,
    /// (place, scope, organisation) → cell number.
    cells: HashMap<(u32, ScopeKind, Uuid), u32>,
    cell_list: Vec<(u32, ScopeKind, Uuid)>,
    categories: HashMap<String, u32>,
    category_list: Vec<String>,
    counts: HashMap<(u32, CountFigure, u32), i64>,
    timings: HashMap<u32, Histograms>,
    /// Reused to build lookup keys.
    scratch: String,
}

impl Tally {
    fn place(&mut self, region: &str, half: &str, band: &str) -> u32 {
        use std::fmt::Write;
        self.scratch.clear();
        let _ = write!(
            self.scratch,
            "{}:{}:{}|{region}{half}{band}",
            region.len(),
            half.len(),
            band.len()
        );
        if let Some(&n) = self.places.get(self.scratch.as_str()) {
            return n;
        }
        let n = self.place_list.len() as u32;
        self.place_list
            .push((region.to_string(), half.to_string(), band.to_string()));
        self.places.insert(self.scratch.clone(), n);
        n
    }

    fn cell(&mut self, place: u32, scope: ScopeKind, org: Uuid) -> u32 {
        let next = self.cell_list.len() as u32;
        let n = *self.cells.entry((place, scope, org)).or_insert(next);
        if n == next {
            self.cell_list.push((place, scope, org));
        }
        n
    }

    /// The cells a record counts in: its region's, and its organisation's and provider's if
    /// known (`.1` of them are used).
    fn scopes(
        &mut self,
        region: &str,
        half: &str,
        band: &str,
        org: Option<Uuid>,
        provider: Option<Uuid>,
    ) -> ([u32; 3], usize) {
        let place = self.place(region, half, band);
        let mut cells = [self.cell(place, ScopeKind::Region, Uuid::nil()), 0, 0];
        let mut n = 1;
        for (scope, id) in [
            (ScopeKind::Organization, org),
            (ScopeKind::Provider, provider),
        ] {
            if let Some(id) = id {
                cells[n] = self.cell(place, scope, id);
                n += 1;
            }
        }
        (cells, n)
    }

    fn category(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.categories.get(name) {
            return n;
        }
        let n = self.category_list.len() as u32;
        self.category_list.push(name.to_string());
        self.categories.insert(name.to_string(), n);
        n
    }

    fn add(&mut self, cells: &[u32], figure: CountFigure, category: &str, n: i64) {
        let category = self.category(category);
        for &c in cells {
            *self.counts.entry((c, figure, category)).or_default() += n;
        }
    }

    fn key(&self, cell: u32) -> CellKey {
        let (place, scope, org) = self.cell_list[cell as usize];
        let (region, half, band) = &self.place_list[place as usize];
        CellKey {
            scope,
            org,
            region_code: region.clone(),
            half_year: half.clone(),
            age_band: band.clone(),
        }
    }

    /// Counts `n` requests with these facts.
    pub fn requests(&mut self, r: &RequestFacts, n: i64) {
        let (cells, k) = self.scopes(
            &r.region_code,
            &r.half_year,
            &r.age_band,
            r.organization_id,
            r.provider_id,
        );
        let cells = &cells[..k];
        let delayed = if r.consent_delayed == Some(true) {
            "delayed"
        } else {
            "not_delayed"
        };
        self.add(cells, CountFigure::ConsentDelay, delayed, n);
        self.add(cells, CountFigure::Expertise, &r.expertise, n);
        self.add(cells, CountFigure::Urgency, &r.urgency, n);
        self.add(cells, CountFigure::Status, &r.status, n);
        if let (Some(outcome), "completed") = (&r.outcome, r.status.as_str()) {
            self.add(cells, CountFigure::Outcomes, outcome, n);
        }
        let rerouted = if r.reroutes > 0 {
            "rerouted"
        } else {
            "not_rerouted"
        };
        self.add(cells, CountFigure::Rerouted, rerouted, n);
        let unassigned = if r.ever_unassigned {
            "went_unassigned"
        } else {
            "never_unassigned"
        };
        self.add(cells, CountFigure::Unassigned, unassigned, n);
    }

    /// Takes `n` accepted requests' hours to acceptance (and days to the first visit) into the
    /// response times of their cells (`n` = −1 takes one out again).
    pub fn accepted(&mut self, a: &AcceptedFacts, n: i64) {
        let (cells, k) = self.scopes(
            &a.region_code,
            &a.half_year,
            &a.age_band,
            a.organization_id,
            a.provider_id,
        );
        let hours = (a.accepted_at - a.created_at).num_hours();
        let days = a
            .first_visit_on
            .map(|d| (d - dutch_date(a.created_at)).num_days());
        for &c in &cells[..k] {
            let t = self.timings.entry(c).or_default();
            t.hours.add(hours, n);
            if let Some(days) = days {
                t.days.add(days, n);
            }
        }
    }

    /// Counts `n` consent records with these facts.
    pub fn consents(&mut self, c: &ConsentFacts, n: i64) {
        let (cells, k) = self.scopes(
            &c.region_code,
            &c.half_year,
            &c.age_band,
            c.organization_id,
            c.recipient_id,
        );
        let state = if c.status == "withdrawn" {
            "withdrawn"
        } else {
            c.decision.as_str()
        };
        let mut category = std::mem::take(&mut self.scratch);
        category.clear();
        category.push_str(&c.purpose);
        category.push(':');
        category.push_str(state);
        self.add(&cells[..k], CountFigure::Consents, &category, n);
        self.scratch = category;
    }

    /// Counts `n` visits with these facts (only held visits count).
    pub fn visits(&mut self, v: &VisitFacts, n: i64) {
        if v.status != "held" {
            return;
        }
        let (cells, k) = self.scopes(
            &v.region_code,
            &v.half_year,
            &v.age_band,
            v.organization_id,
            v.provider_id,
        );
        let cells = &cells[..k];
        self.add(cells, CountFigure::Visits, "visits", n);
        for c in Competence::ALL {
            if v.competences.split(',').any(|x| x.trim() == c.as_str()) {
                self.add(cells, CountFigure::Competences, c.as_str(), n);
            }
        }
    }

    /// The counts, sorted (none of zero: a delta's +1 and −1 of one category cancel).
    pub fn counts(&self) -> Vec<(CellKey, CountFigure, String, i64)> {
        let mut out: Vec<_> = self
            .counts
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(&(cell, f, cat), n)| {
                (
                    self.key(cell),
                    f,
                    self.category_list[cat as usize].clone(),
                    *n,
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The response-time histograms per cell, sorted (`.stats()` gives the figures).
    pub fn timings(&self) -> Vec<(CellKey, Histograms)> {
        let mut out: Vec<_> = self
            .timings
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(cell, h)| (self.key(*cell), h.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Counts of several tallies (or a tally and the stored summaries) summed per key, sorted;
/// a count that sums to zero is dropped.
pub fn merge_counts(
    parts: impl IntoIterator<Item = Vec<(CellKey, CountFigure, String, i64)>>,
) -> Vec<(CellKey, CountFigure, String, i64)> {
    let mut sum: BTreeMap<(CellKey, CountFigure, String), i64> = BTreeMap::new();
    for part in parts {
        for (cell, f, cat, n) in part {
            *sum.entry((cell, f, cat)).or_default() += n;
        }
    }
    sum.into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((c, f, k), n)| (c, f, k, n))
        .collect()
}

/// Response-time histograms of several tallies merged per cell, sorted; empty cells dropped.
pub fn merge_timings(
    parts: impl IntoIterator<Item = Vec<(CellKey, Histograms)>>,
) -> Vec<(CellKey, Histograms)> {
    let mut sum: BTreeMap<CellKey, Histograms> = BTreeMap::new();
    for part in parts {
        for (cell, h) in part {
            sum.entry(cell).or_default().merge(&h);
        }
    }
    sum.into_iter().filter(|(_, h)| !h.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    use proptest::prelude::*;

    const HALVES: [&str; 3] = ["2025-H1", "2025-H2", "2026-H1"];

    fn org(i: u8) -> Option<Uuid> {
        (i > 0).then(|| Uuid::from_u128(i as u128))
    }

    /// A request as the tests make it: its count facts and, if accepted, its times.
    #[derive(Debug, Clone)]
    struct Req {
        facts: RequestFacts,
        accepted: Option<AcceptedFacts>,
    }

    impl Req {
        fn half_year(&self) -> &str {
            &self.facts.half_year
        }
    }

    prop_compose! {
        fn request()(h in 0..3usize, b in 0..2usize, o in 0..3u8, p in 0..3u8, status in 0..4usize,
                     reroutes in 0..2i64, unassigned: bool, delayed in proptest::option::of(any::<bool>()),
                     hours in proptest::option::of(0..200i64), days in proptest::option::of(0..40i64)) -> Req {
            let created = "2025-03-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
            let facts = RequestFacts {
                region_code: "JZ01".into(),
                half_year: HALVES[h].into(),
                age_band: ["0-4", "4-13"][b].into(),
                organization_id: org(o),
                provider_id: org(p + 10).filter(|_| p > 0),
                expertise: "language".into(),
                urgency: "normal".into(),
                status: ["completed", "offered", "in_progress", "cancelled"][status].into(),
                outcome: (status == 0).then(|| "handled_within_childcare".into()),
                reroutes,
                ever_unassigned: unassigned,
                consent_delayed: delayed,
            };
            let accepted = hours.map(|h| AcceptedFacts {
                region_code: facts.region_code.clone(),
                half_year: facts.half_year.clone(),
                age_band: facts.age_band.clone(),
                organization_id: facts.organization_id,
                provider_id: facts.provider_id,
                created_at: created,
                accepted_at: created + chrono::Duration::hours(h),
                first_visit_on: days.map(|d| dutch_date(created) + chrono::Duration::days(d)),
            });
            Req { facts, accepted }
        }
    }

    prop_compose! {
        fn visit()(h in 0..3usize, o in 0..3u8, held: bool, comps in proptest::collection::vec(0..4usize, 0..4)) -> VisitFacts {
            VisitFacts {
                region_code: "JZ02".into(),
                half_year: HALVES[h].into(),
                age_band: "4-13".into(),
                organization_id: org(o),
                provider_id: org(20),
                status: if held { "held" } else { "planned" }.into(),
                competences: comps.iter().map(|c| Competence::ALL[*c].as_str()).collect::<Vec<_>>().join(","),
            }
        }
    }

    fn tally(requests: &[Req], visits: &[VisitFacts]) -> Tally {
        let mut t = Tally::default();
        for r in requests {
            t.requests(&r.facts, 1);
            if let Some(a) = &r.accepted {
                t.accepted(a, 1);
            }
        }
        visits.iter().for_each(|v| t.visits(v, 1));
        t
    }

    proptest! {
        /// The incremental refresh recomputes only the half-years whose records changed: that is
        /// right only if a half-year's cells depend on that half-year's records alone.
        #[test]
        fn a_half_year_is_summarised_from_its_own_records(
            requests in proptest::collection::vec(request(), 0..40),
            visits in proptest::collection::vec(visit(), 0..40),
        ) {
            let whole = tally(&requests, &visits);
            let mut counts = Vec::new();
            let mut timings = Vec::new();
            for h in HALVES {
                let part = tally(
                    &requests.iter().filter(|r| r.half_year() == h).cloned().collect::<Vec<_>>(),
                    &visits.iter().filter(|v| v.half_year == h).cloned().collect::<Vec<_>>(),
                );
                prop_assert!(part.counts().iter().all(|c| c.0.half_year == h));
                counts.extend(part.counts());
                timings.extend(part.timings());
            }
            counts.sort();
            timings.sort_by(|a, b| a.0.cmp(&b.0));
            prop_assert_eq!(counts, whole.counts());
            prop_assert_eq!(timings, whole.timings());
            // every request is counted once per scope it belongs to, in each per-request figure
            let regional: i64 = whole.counts().iter()
                .filter(|c| c.0.scope == ScopeKind::Region && c.1 == CountFigure::Status)
                .map(|c| c.3).sum();
            prop_assert_eq!(regional, requests.len() as i64);
        }
    }

    proptest! {
        /// What `request_links` declares equal is equal in every tally: the linked entries of
        /// the request tables count the same requests (so linking them hides nothing in vain
        /// and misses nothing).
        #[test]
        fn the_request_tables_agree_where_they_are_linked(requests in proptest::collection::vec(request(), 0..60)) {
            let counts = tally(&requests, &[]).counts();
            for h in HALVES {
                let grids: Vec<Vec<Vec<i64>>> = REQUEST_FIGURES
                    .iter()
                    .map(|f| {
                        let cats = f.categories();
                        AgeBand::ALL
                            .iter()
                            .map(|band| {
                                cats.iter()
                                    .map(|cat| {
                                        counts
                                            .iter()
                                            .filter(|c| c.0.scope == ScopeKind::Region && c.0.half_year == h
                                                && c.0.age_band == band.as_str() && c.1 == *f && c.2 == *cat)
                                            .map(|c| c.3)
                                            .sum()
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect();
                let value = |(k, e): (usize, Entry)| -> i64 {
                    let g = &grids[k];
                    match e {
                        Entry::Cell(i, j) => g[i][j],
                        Entry::RowTotal(i) => g[i].iter().sum(),
                        Entry::ColumnTotal(j) => g.iter().map(|row| row[j]).sum(),
                        Entry::Total => g.iter().flatten().sum(),
                    }
                };
                // nothing is counted under a category the tables do not show
                let shown: i64 = grids[0].iter().flatten().sum();
                prop_assert_eq!(shown, requests.iter().filter(|r| r.half_year() == h).count() as i64);
                for l in request_links() {
                    prop_assert_eq!(value(l.a), value(l.b), "{:?}", l);
                }
            }
        }
    }

    proptest! {
        /// The refresh lets the database group equal facts and counts each group once with its
        /// size: that must count exactly what counting every record one by one counts.
        #[test]
        fn counting_groups_of_equal_facts_is_counting_each(
            requests in proptest::collection::vec(request(), 0..60),
            visits in proptest::collection::vec(visit(), 0..60),
        ) {
            let one_by_one = tally(&requests, &visits);
            let mut grouped = Tally::default();
            let mut request_groups: HashMap<RequestFacts, i64> = HashMap::new();
            for r in &requests {
                *request_groups.entry(r.facts.clone()).or_default() += 1;
                if let Some(a) = &r.accepted {
                    grouped.accepted(a, 1);
                }
            }
            let mut visit_groups: HashMap<VisitFacts, i64> = HashMap::new();
            for v in &visits {
                *visit_groups.entry(v.clone()).or_default() += 1;
            }
            request_groups.iter().for_each(|(f, n)| grouped.requests(f, *n));
            visit_groups.iter().for_each(|(f, n)| grouped.visits(f, *n));
            prop_assert_eq!(grouped.counts(), one_by_one.counts());
            prop_assert_eq!(grouped.timings(), one_by_one.timings());
        }
    }

    proptest! {
        /// A histogram's percentiles are those of its values one by one.
        #[test]
        fn histograms_give_the_percentiles_of_their_values(values in proptest::collection::vec(0..50i64, 0..40)) {
            let mut h = Histogram::default();
            values.iter().for_each(|v| h.add(*v, 1));
            prop_assert_eq!(h.len(), values.len() as i64);
            for p in [0.5, 0.9] {
                let mut one_by_one = values.clone();
                prop_assert_eq!(h.percentile(p), crate::domain::disclosure::percentile(&mut one_by_one, p));
            }
            prop_assert_eq!(Histogram::decode(&h.encode()).unwrap(), h);
        }
    }

    proptest! {
        /// The refresh takes a change in as a delta (the record's facts before with −1, after with
        /// +1) added to the stored summaries: that must give what counting all records after the
        /// change gives.
        #[test]
        fn adding_the_delta_of_a_change_gives_the_summaries_after_it(
            before in proptest::collection::vec(request(), 0..40),
            replaced in proptest::collection::vec(proptest::option::of(request()), 0..40),
            added in proptest::collection::vec(request(), 0..10),
            visits_before in proptest::collection::vec(visit(), 0..20),
            visits_replaced in proptest::collection::vec(proptest::option::of(visit()), 0..20),
        ) {
            let mut after = Vec::new();
            let mut delta = Tally::default();
            let take = |t: &mut Tally, r: &Req, n: i64| {
                t.requests(&r.facts, n);
                if let Some(a) = &r.accepted {
                    t.accepted(a, n);
                }
            };
            for (i, r) in before.iter().enumerate() {
                match replaced.get(i) {
                    Some(Some(new)) => {
                        take(&mut delta, r, -1);
                        take(&mut delta, new, 1);
                        after.push(new.clone());
                    }
                    // a request cancelled for good (retention): only the −1
                    Some(None) if i % 3 == 0 => take(&mut delta, r, -1),
                    _ => after.push(r.clone()),
                }
            }
            for r in &added {
                take(&mut delta, r, 1);
                after.push(r.clone());
            }
            let mut visits_after = Vec::new();
            for (i, v) in visits_before.iter().enumerate() {
                match visits_replaced.get(i) {
                    Some(Some(new)) => {
                        delta.visits(v, -1);
                        delta.visits(new, 1);
                        visits_after.push(new.clone());
                    }
                    _ => visits_after.push(v.clone()),
                }
            }
            let old = tally(&before, &visits_before);
            let new = tally(&after, &visits_after);
            prop_assert_eq!(merge_counts([old.counts(), delta.counts()]), new.counts());
            prop_assert_eq!(merge_timings([old.timings(), delta.timings()]), new.timings());
        }
    }

    #[test]
    fn categories_of_each_figure() {
        let created = "2026-01-05T09:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let r = RequestFacts {
            region_code: "JZ01".into(),
            half_year: "2026-H1".into(),
            age_band: "0-4".into(),
            organization_id: org(1),
            provider_id: org(2),
            expertise: "language".into(),
            urgency: "high".into(),
            status: "completed".into(),
            outcome: Some("referred_youth_care".into()),
            reroutes: 2,
            ever_unassigned: false,
            consent_delayed: None,
        };
        let mut t = Tally::default();
        t.requests(&r, 1);
        t.accepted(
            &AcceptedFacts {
                region_code: r.region_code.clone(),
                half_year: r.half_year.clone(),
                age_band: r.age_band.clone(),
                organization_id: r.organization_id,
                provider_id: r.provider_id,
                created_at: created,
                accepted_at: created + chrono::Duration::hours(30),
                first_visit_on: Some(d("2026-01-12")),
            },
            1,
        );
        t.consents(
            &ConsentFacts {
                region_code: "JZ01".into(),
                half_year: "2026-H1".into(),
                age_band: "0-4".into(),
                organization_id: org(1),
                recipient_id: None,
                purpose: "consultation".into(),
                decision: "granted".into(),
                status: "withdrawn".into(),
            },
            1,
        );
        t.visits(
            &VisitFacts {
                region_code: "JZ01".into(),
                half_year: "2026-H1".into(),
                age_band: "0-4".into(),
                organization_id: org(1),
                provider_id: org(2),
                status: "held".into(),
                competences: "parents,asking_help".into(),
            },
            1,
        );
        let region: Vec<(CountFigure, String, i64)> = t
            .counts()
            .into_iter()
            .filter(|c| c.0.scope == ScopeKind::Region)
            .map(|c| (c.1, c.2, c.3))
            .collect();
        let has = |f, c: &str| region.contains(&(f, c.to_string(), 1));
        assert!(has(CountFigure::ConsentDelay, "not_delayed"));
        assert!(has(CountFigure::Outcomes, "referred_youth_care"));
        assert!(has(CountFigure::Rerouted, "rerouted"));
        assert!(has(CountFigure::Unassigned, "never_unassigned"));
        assert!(has(CountFigure::Consents, "consultation:withdrawn"));
        assert!(has(CountFigure::Competences, "parents"));
        assert!(has(CountFigure::Competences, "asking_help"));
        assert!(!has(CountFigure::Competences, "development_knowledge"));
        assert!(has(CountFigure::Visits, "visits"));
        // the consent has no recipient: it counts for the region and the organisation only
        let scopes: Vec<ScopeKind> = t
            .counts()
            .into_iter()
            .filter(|c| c.1 == CountFigure::Consents)
            .map(|c| c.0.scope)
            .collect();
        assert_eq!(scopes, [ScopeKind::Region, ScopeKind::Organization]);
        // one accepted request: its cell has a count but no median (fewer than 10)
        let timings = t.timings();
        assert_eq!(timings.len(), 3);
        assert_eq!(timings[0].1.stats().accepted, 1);
        assert_eq!(timings[0].1.stats().median_hours, None);
    }

    #[test]
    fn half_years() {
        assert_eq!(HalfYear::of(d("2026-06-30")).to_string(), "2026-H1");
        assert_eq!(HalfYear::of(d("2026-07-01")).to_string(), "2026-H2");
        let h = HalfYear::of(d("2026-03-01"));
        assert_eq!(h.previous().to_string(), "2025-H2");
        assert_eq!(h.previous().next(), h);
        assert_eq!(h.next().previous(), h);
        let r =
            HalfYear::range("2025-H2".parse().unwrap(), "2026-H2".parse().unwrap(), 20).unwrap();
        assert_eq!(
            r.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            ["2025-H2", "2026-H1", "2026-H2"]
        );
        assert!(
            HalfYear::range("2026-H2".parse().unwrap(), "2026-H1".parse().unwrap(), 20).is_err()
        );
        assert!(
            HalfYear::range("2000-H1".parse().unwrap(), "2026-H1".parse().unwrap(), 20).is_err()
        );
        for bad in ["2026", "2026-H3", "26-H1", "2026-h1", "2026-01-01"] {
            assert!(bad.parse::<HalfYear>().is_err(), "{bad}");
        }
    }

    #[test]
    fn age_bands() {
        assert_eq!(
            AgeBand::of(d("2022-07-01"), d("2026-06-30")),
            AgeBand::Under4
        );
        assert_eq!(
            AgeBand::of(d("2022-07-01"), d("2026-07-01")),
            AgeBand::From4To12
        );
        assert_eq!(
            AgeBand::of(d("2013-07-01"), d("2026-07-01")),
            AgeBand::From13
        );
    }
}
