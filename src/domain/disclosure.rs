//! Statistical disclosure control for policy figures: no child can be recognised from them.
//!
//! Rules (DOMAIN.md, "small numbers"): fixed dimensions only (region × half-year × age band, no
//! free filters that allow differencing); counts of 1 to 9 are suppressed; secondary suppression
//! so that no suppressed count can be worked out from the row and column totals; shown counts are
//! rounded to 5; a percentage only where its denominator is 10 or more. Zeros are shown as 0,
//! always (a zero names no child; suppressing it would protect nothing and hide a fact).
//!
//! A table is published with its row totals, column totals and grand total, each treated like a
//! cell. After primary and secondary suppression the table is attacked the way a reader could:
//! interval reasoning over every row and column with the rounded values; any suppressed entry
//! the attack pins down gets company until none is pinned.

use serde::Serialize;

/// Counts from 1 up to this are never shown.
pub const SMALLEST_SHOWN: u64 = 10;
/// Shown counts are rounded to a multiple of this.
pub const ROUND_TO: u64 = 5;
/// A percentage needs a denominator of at least this.
pub const MIN_DENOMINATOR: u64 = 10;

/// Why a value is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    /// A count of 1 to 9.
    SmallCount,
    /// Hidden so that a small count cannot be worked out from the totals.
    Secondary,
}

/// A published value: a rounded count, or why it is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub value: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

impl Shown {
    fn value(v: u64) -> Self {
        Self {
            value: Some(v),
            suppressed: None,
        }
    }
    fn hidden(why: Suppression) -> Self {
        Self {
            value: None,
            suppressed: Some(why),
        }
    }
}

/// Rounds a count to the nearest multiple of 5 (never below 10 for a shown non-zero count,
/// since those are at least 10 already).
pub fn round5(v: u64) -> u64 {
    (v + ROUND_TO / 2) / ROUND_TO * ROUND_TO
}

/// A table of true counts: `rows × columns`.
#[derive(Debug, Clone)]
pub struct Table {
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

/// What may be shown of a table.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    pub cells: Vec<Vec<Shown>>,
    pub row_totals: Vec<Shown>,
    pub column_totals: Vec<Shown>,
    pub total: Shown,
}

/// Where in a published table an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Cell(usize, usize),
    RowTotal(usize),
    ColumnTotal(usize),
    Total,
}

/// Two entries of tables published together that count the same records: the requests of an
/// age band appear as a row total in every table about requests, and the completed requests of
/// a band are both a cell of the status table and the row total of the outcomes table. Linked
/// entries are one unknown to the reader, so they are hidden or shown together and the attack
/// combines the tables.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub a: (usize, Entry),
    pub b: (usize, Entry),
}

impl Link {
    /// Tables `a` and `b` split the same records another way: each row total (and the grand
    /// total) of one counts what the other's does.
    pub fn same_rows(a: usize, b: usize, rows: usize) -> Vec<Link> {
        (0..rows)
            .map(|i| Link {
                a: (a, Entry::RowTotal(i)),
                b: (b, Entry::RowTotal(i)),
            })
            .chain([Link {
                a: (a, Entry::Total),
                b: (b, Entry::Total),
            }])
            .collect()
    }
}

/// The tables with their margins as one system of unknowns: each table a grid of cells with the
/// row totals as the last column, the column totals as the last row and the grand total in the
/// corner; linked entries share one unknown.
struct System {
    /// True value of each unknown.
    v: Vec<u64>,
    why: Vec<Option<Suppression>>,
    /// A total (cells are hidden for company before totals).
    margin: Vec<bool>,
    /// Every row and column of every grid; in each the last unknown is the total of the others.
    lines: Vec<Vec<usize>>,
    /// Per table, per grid position, its unknown.
    ids: Vec<Vec<Vec<usize>>>,
}

impl System {
    fn new(tables: &[Table], links: &[Link]) -> Self {
        let mut values: Vec<u64> = Vec::new();
        let mut margin = Vec::new();
        let mut ids = Vec::new();
        let mut grids = Vec::new();
        for t in tables {
            let (r, c) = (t.rows.len(), t.columns.len());
            let mut v = vec![vec![0u64; c + 1]; r + 1];
            for i in 0..r {
                for j in 0..c {
                    let x = t
                        .counts
                        .get(i)
                        .and_then(|row| row.get(j))
                        .copied()
                        .unwrap_or(0);
                    v[i][j] = x;
                    v[i][c] += x;
                    v[r][j] += x;
                    v[r][c] += x;
                }
            }
            let mut grid_ids = vec![vec![0usize; c + 1]; r + 1];
            for i in 0..=r {
                for j in 0..=c {
                    grid_ids[i][j] = values.len();
                    values.push(v[i][j]);
                    margin.push(i == r || j == c);
                }
            }
            ids.push(grid_ids);
            grids.push((r, c));
        }
        // linked entries become one unknown (only where they agree: they count the same records)
        let mut parent: Vec<usize> = (0..values.len()).collect();
        fn root(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let pos = |k: usize, e: Entry| -> Option<usize> {
            let (r, c) = *grids.get(k)?;
            let (i, j) = match e {
                Entry::Cell(i, j) if i < r && j < c => (i, j),
                Entry::RowTotal(i) if i < r => (i, c),
                Entry::ColumnTotal(j) if j < c => (r, j),
                Entry::Total => (r, c),
                _ => return None,
            };
            Some(ids[k][i][j])
        };
        for l in links {
            if let (Some(x), Some(y)) = (pos(l.a.0, l.a.1), pos(l.b.0, l.b.1)) {
                if values[x] == values[y] {
                    let (rx, ry) = (root(&mut parent, x), root(&mut parent, y));
                    if rx != ry {
                        parent[ry] = rx;
                        margin[rx] = margin[rx] || margin[ry];
                    }
                }
            }
        }
        for grid in ids.iter_mut() {
            for row in grid.iter_mut() {
                for id in row.iter_mut() {
                    *id = root(&mut parent, *id);
                }
            }
        }
        let mut lines = Vec::new();
        for (grid, &(r, c)) in ids.iter().zip(&grids) {
            lines.extend(grid.iter().cloned());
            lines.extend((0..=c).map(|j| (0..=r).map(|i| grid[i][j]).collect()));
        }
        let why = values
            .iter()
            .map(|x| {
                (1..SMALLEST_SHOWN)
                    .contains(x)
                    .then_some(Suppression::SmallCount)
            })
            .collect();
        Self {
            v: values,
            why,
            margin,
            lines,
            ids,
        }
    }

    /// Hides the smallest shown non-zero unknown of `line` (cells before totals); false if none.
    fn hide_company(&mut self, line: &[usize]) -> bool {
        let pick = line
            .iter()
            .copied()
            .filter(|&x| self.why[x].is_none() && self.v[x] > 0)
            .min_by_key(|&x| (self.margin[x], self.v[x]));
        match pick {
            Some(x) => {
                self.why[x] = Some(Suppression::Secondary);
                true
            }
            None => false,
        }
    }

    /// What a reader can know of each unknown: an interval of possible true values.
    fn attack(&self) -> Vec<(u64, u64)> {
        let big = self.v.iter().copied().max().unwrap_or(0).saturating_mul(2) + 100;
        let mut iv: Vec<(u64, u64)> = (0..self.v.len())
            .map(|x| match self.why[x] {
                Some(_) => (1, big),
                None => known_interval(round5(self.v[x]), self.v[x] == 0),
            })
            .collect();
        for _ in 0..100 {
            let mut changed = false;
            for line in &self.lines {
                let (cells, total) = line.split_at(line.len() - 1);
                let t = total[0];
                let sum_lo: u64 = cells.iter().map(|&x| iv[x].0).sum();
                let sum_hi: u64 = cells
                    .iter()
                    .map(|&x| iv[x].1)
                    .fold(0u64, |a, b| a.saturating_add(b));
                // the total lies within the sum of its parts
                let (lo, hi) = (iv[t].0.max(sum_lo), iv[t].1.min(sum_hi));
                if (lo, hi) != iv[t] && lo <= hi {
                    iv[t] = (lo, hi);
                    changed = true;
                }
                // each part lies within the total less the others
                for &x in cells {
                    let others_lo = sum_lo - iv[x].0;
                    let others_hi = sum_hi.saturating_sub(iv[x].1);
                    let lo = iv[x].0.max(iv[t].0.saturating_sub(others_hi));
                    let hi = iv[x].1.min(iv[t].1.saturating_sub(others_lo));
                    if (lo, hi) != iv[x] && lo <= hi {
                        iv[x] = (lo, hi);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        iv
    }
}

/// The true values a shown value stands for: 0 is exact; a shown count is at least 10 and
/// rounds to what is shown.
pub fn known_interval(shown: u64, is_zero: bool) -> (u64, u64) {
    if is_zero {
        (0, 0)
    } else {
        (
            shown.saturating_sub(ROUND_TO / 2).max(SMALLEST_SHOWN),
            shown + ROUND_TO / 2,
        )
    }
}

/// Publishes a table under the rules above.
pub fn publish(t: &Table) -> Published {
    publish_linked(std::slice::from_ref(t), &[])
        .pop()
        .expect("one table in, one out")
}

/// Publishes tables that share records together: suppression and the reader's attack run over
/// all of them at once, with linked entries as one unknown.
pub fn publish_linked(tables: &[Table], links: &[Link]) -> Vec<Published> {
    let mut g = System::new(tables, links);
    let lines = g.lines.clone();
    for _ in 0..1000 {
        let mut changed = false;
        // secondary suppression: no row or column with exactly one hidden entry
        for line in &lines {
            let hidden = line.iter().filter(|&&x| g.why[x].is_some()).count();
            if hidden == 1 && g.hide_company(line) {
                changed = true;
            }
        }
        if changed {
            continue;
        }
        // the reader's attack: anything pinned down gets company in one of its lines
        let iv = g.attack();
        let pinned: Vec<usize> = (0..iv.len())
            .filter(|&x| iv[x].0 == iv[x].1 && g.why[x].is_some())
            .collect();
        for x in pinned {
            for line in lines.iter().filter(|l| l.contains(&x)) {
                if g.hide_company(line) {
                    changed = true;
                    break;
                }
            }
        }
        if !changed {
            break;
        }
    }
    tables
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let (r, c) = (t.rows.len(), t.columns.len());
            let shown = |i: usize, j: usize| {
                let x = g.ids[k][i][j];
                match g.why[x] {
                    Some(why) => Shown::hidden(why),
                    None => Shown::value(round5(g.v[x])),
                }
            };
            Published {
                rows: t.rows.clone(),
                columns: t.columns.clone(),
                cells: (0..r)
                    .map(|i| (0..c).map(|j| shown(i, j)).collect())
                    .collect(),
                row_totals: (0..r).map(|i| shown(i, c)).collect(),
                column_totals: (0..c).map(|j| shown(r, j)).collect(),
                total: shown(r, c),
            }
        })
        .collect()
}

/// A percentage of two shown counts, to whole percents; only with a denominator of 10 or more.
pub fn percentage(numerator: &Shown, denominator: &Shown) -> Option<u64> {
    match (numerator.value, denominator.value) {
        (Some(n), Some(d)) if d >= MIN_DENOMINATOR => {
            Some(((n as f64 / d as f64) * 100.0).round() as u64)
        }
        _ => None,
    }
}

/// A median or percentile is shown only over at least 10 values (otherwise a single child's
/// value could show through). The figures keep histograms and read their percentiles with
/// `figures::Histogram::percentile`; this one-by-one definition is the reference its tests
/// compare against.
#[cfg(test)]
pub(crate) fn percentile(values: &mut [i64], p: f64) -> Option<i64> {
    if (values.len() as u64) < MIN_DENOMINATOR {
        return None;
    }
    values.sort_unstable();
    let k = ((values.len() as f64 - 1.0) * p).round() as usize;
    values.get(k).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(counts: Vec<Vec<u64>>) -> Table {
        Table {
            rows: (0..counts.len()).map(|i| format!("r{i}")).collect(),
            columns: (0..counts.first().map_or(0, Vec::len))
                .map(|j| format!("c{j}"))
                .collect(),
            counts,
        }
    }

    #[test]
    fn small_counts_are_hidden_and_the_rest_rounded() {
        let p = publish(&table(vec![vec![23, 0, 41], vec![12, 18, 30]]));
        assert_eq!(p.cells[0][0].value, Some(25));
        assert_eq!(p.cells[0][1].value, Some(0));
        assert_eq!(p.cells[1][0].value, Some(10));
        assert_eq!(p.total.value, Some(125));
        let p = publish(&table(vec![vec![3, 20, 40], vec![15, 25, 30]]));
        assert_eq!(p.cells[0][0].suppressed, Some(Suppression::SmallCount));
        // its row and column each hide a second entry
        let row_hidden = p.cells[0]
            .iter()
            .chain([&p.row_totals[0]])
            .filter(|s| s.value.is_none())
            .count();
        let col_hidden = p
            .cells
            .iter()
            .map(|r| &r[0])
            .chain([&p.column_totals[0]])
            .filter(|s| s.value.is_none())
            .count();
        assert!(row_hidden >= 2 && col_hidden >= 2);
    }

    #[test]
    fn percentages_and_percentiles_need_ten() {
        let s = |v| Shown::value(v);
        assert_eq!(percentage(&s(5), &s(20)), Some(25));
        assert_eq!(percentage(&s(5), &s(5)), None);
        assert_eq!(
            percentage(&Shown::hidden(Suppression::SmallCount), &s(20)),
            None
        );
        assert_eq!(percentile(&mut [1, 2, 3], 0.5), None);
        let mut ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&mut ten, 0.5), Some(6));
        assert_eq!(percentile(&mut ten, 0.9), Some(9));
    }

    /// The true values a published entry can stand for, to a reader who knows the rules.
    fn possible(s: &Shown, cap: u64) -> Vec<u64> {
        match s.value {
            Some(0) => vec![0],
            Some(v) => {
                let (lo, hi) = known_interval(v, false);
                (lo..=hi).collect()
            }
            None => (1..=cap).collect(),
        }
    }

    /// Whether a published entry could stand for the true value `total`.
    fn fits(s: &Shown, total: u64) -> bool {
        match s.value {
            Some(0) => total == 0,
            Some(v) => total >= SMALLEST_SHOWN && round5(total) == v,
            None => total >= 1,
        }
    }

    /// Every true table consistent with what is published (given the rules a reader knows):
    /// for each cell, the set of values it can take. Exhaustive, for small tables.
    fn feasible(p: &Published, cap: u64) -> Vec<Vec<std::collections::BTreeSet<u64>>> {
        let (r, c) = (p.rows.len(), p.columns.len());
        let domain = |s: &Shown| possible(s, cap);
        let domains: Vec<Vec<u64>> = (0..r * c).map(|k| domain(&p.cells[k / c][k % c])).collect();
        let mut out = vec![vec![std::collections::BTreeSet::new(); c]; r];
        let mut assign = vec![0u64; r * c];
        #[allow(clippy::too_many_arguments)]
        fn go(
            k: usize,
            assign: &mut Vec<u64>,
            domains: &[Vec<u64>],
            r: usize,
            c: usize,
            p: &Published,
            fits: &dyn Fn(&Shown, u64) -> bool,
            out: &mut Vec<Vec<std::collections::BTreeSet<u64>>>,
        ) {
            if k == r * c {
                for j in 0..c {
                    if !fits(&p.column_totals[j], (0..r).map(|i| assign[i * c + j]).sum()) {
                        return;
                    }
                }
                if !fits(&p.total, assign.iter().sum()) {
                    return;
                }
                for i in 0..r {
                    for j in 0..c {
                        out[i][j].insert(assign[i * c + j]);
                    }
                }
                return;
            }
            for &x in &domains[k] {
                assign[k] = x;
                // a finished row must fit its total
                if (k + 1) % c == 0 {
                    let i = k / c;
                    if !fits(&p.row_totals[i], (0..c).map(|j| assign[i * c + j]).sum()) {
                        continue;
                    }
                }
                go(k + 1, assign, domains, r, c, p, fits, out);
            }
        }
        go(0, &mut assign, &domains, r, c, p, &fits, &mut out);
        out
    }

    /// Every 2 × 2 table of cells (each at most `cap`) consistent with what is published.
    fn consistent(p: &Published, cap: u64) -> Vec<[u64; 4]> {
        let mut out = Vec::new();
        let range = |s: &Shown| possible(s, cap);
        for a in range(&p.cells[0][0]) {
            for b in range(&p.cells[0][1]) {
                if !fits(&p.row_totals[0], a + b) {
                    continue;
                }
                for c in range(&p.cells[1][0]) {
                    if !fits(&p.column_totals[0], a + c) {
                        continue;
                    }
                    for d in range(&p.cells[1][1]) {
                        if fits(&p.row_totals[1], c + d)
                            && fits(&p.column_totals[1], b + d)
                            && fits(&p.total, a + b + c + d)
                        {
                            out.push([a, b, c, d]);
                        }
                    }
                }
            }
        }
        out
    }

    /// The requests of each age band are the row totals of two tables (say, by urgency and by
    /// status): both tables are published together.
    fn two_tables_of_one_population(x: [u64; 4], y: [u64; 2]) -> (Vec<Table>, Vec<Link>) {
        let rows = [x[0] + x[1], x[2] + x[3]];
        // the second table splits the same row totals another way
        let split = |total: u64, k: u64| (total.min(k), total - total.min(k));
        let (b00, b01) = split(rows[0], y[0] % (rows[0] + 1));
        let (b10, b11) = split(rows[1], y[1] % (rows[1] + 1));
        let tables = vec![
            table(vec![vec![x[0], x[1]], vec![x[2], x[3]]]),
            table(vec![vec![b00, b01], vec![b10, b11]]),
        ];
        let links = Link::same_rows(0, 1, 2);
        (tables, links)
    }

    #[test]
    fn linked_entries_are_shown_or_hidden_together() {
        // the same requests per age band (12 + 16) split two ways: on its own the first table
        // hides its row totals (company for the 4), the second shows them, and whoever reads
        // both has the totals the first one hid
        let t = vec![
            table(vec![vec![0, 12], vec![12, 4]]),
            table(vec![vec![12, 0], vec![16, 0]]),
        ];
        let links = Link::same_rows(0, 1, 2);
        let apart: Vec<Published> = t.iter().map(publish).collect();
        assert_ne!(
            apart[0].row_totals, apart[1].row_totals,
            "the inconsistency this guards against"
        );
        let together = publish_linked(&t, &links);
        assert_eq!(together[0].row_totals, together[1].row_totals);
        assert_eq!(together[0].total, together[1].total);
        // still every rule of a single table
        for p in &together {
            for line in p.cells.iter().zip(&p.row_totals) {
                let hidden = line
                    .0
                    .iter()
                    .chain([line.1])
                    .filter(|s| s.value.is_none())
                    .count();
                assert_ne!(hidden, 1);
            }
        }
        // entries that do not count the same records are not linked
        let unequal = vec![table(vec![vec![20, 20]]), table(vec![vec![3, 30]])];
        let l = [Link {
            a: (0, Entry::Cell(0, 0)),
            b: (1, Entry::Cell(0, 0)),
        }];
        let p = publish_linked(&unequal, &l);
        assert_eq!(p[0].cells[0][0].value, Some(20));
    }

    fn small_counts() -> impl Strategy<Value = u64> {
        prop_oneof![3 => 0u64..10, 2 => 10u64..30, 1 => Just(0u64)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// A reader who knows the rules and tries every table consistent with what is
        /// published never recovers a hidden count.
        #[test]
        fn no_hidden_count_can_be_recovered(shape in proptest::sample::select(vec![(1usize, 1usize), (1, 2), (1, 3), (2, 1), (2, 2), (3, 1)]), seed in proptest::collection::vec(small_counts(), 6)) {
            let (r, c) = shape;
            let counts: Vec<Vec<u64>> = (0..r).map(|i| (0..c).map(|j| seed[i * c + j]).collect()).collect();
            let t = table(counts.clone());
            let p = publish(&t);
            let cap = 2 * counts.iter().flatten().sum::<u64>() + 12;
            let f = feasible(&p, cap.min(30));
            for i in 0..r {
                for j in 0..c {
                    // the truth is always among the possibilities
                    prop_assert!(f[i][j].contains(&counts[i][j]), "truth lost at {i},{j}: {:?}", p);
                    if p.cells[i][j].value.is_none() {
                        prop_assert!(f[i][j].len() >= 2, "hidden cell {i},{j} = {} recovered from {:?}", counts[i][j], p);
                    }
                }
            }
            // shown values: zeros exact, others multiples of 5 and at least 10
            for s in p.cells.iter().flatten().chain(&p.row_totals).chain(&p.column_totals).chain([&p.total]) {
                if let Some(v) = s.value {
                    prop_assert!(v == 0 || (v >= SMALLEST_SHOWN && v % ROUND_TO == 0));
                }
            }
        }

        /// Two tables that split the same records two ways, published together: a reader who
        /// tries every pair of tables consistent with both publications (and with equal row
        /// totals) never recovers a hidden count of either.
        #[test]
        fn linked_tables_give_no_hidden_count_away(x in proptest::array::uniform4(prop_oneof![3 => 0u64..10, 2 => 10u64..20, 1 => Just(0u64)]), y in proptest::array::uniform2(0u64..40)) {
            let (tables, links) = two_tables_of_one_population(x, y);
            let published = publish_linked(&tables, &links);
            let a = consistent(&published[0], 45);
            let b = consistent(&published[1], 45);
            let rows = |t: &[u64; 4]| (t[0] + t[1], t[2] + t[3]);
            let b_rows: std::collections::BTreeSet<(u64, u64)> = b.iter().map(rows).collect();
            let a_rows: std::collections::BTreeSet<(u64, u64)> = a.iter().map(rows).collect();
            for (k, (p, options, other)) in [(&published[0], &a, &b_rows), (&published[1], &b, &a_rows)].into_iter().enumerate() {
                let truth = tables[k].counts.concat();
                let joint: Vec<&[u64; 4]> = options.iter().filter(|t| other.contains(&rows(t))).collect();
                prop_assert!(joint.iter().any(|t| t[..] == truth[..]), "truth lost in table {k}");
                for cell in 0..4 {
                    if p.cells[cell / 2][cell % 2].value.is_none() {
                        let values: std::collections::BTreeSet<u64> = joint.iter().map(|t| t[cell]).collect();
                        prop_assert!(values.len() >= 2, "table {k} cell {cell} = {} recovered: {:?}", truth[cell], published);
                    }
                }
            }
        }

        /// No count of 1 to 9 is ever shown, whatever the table.
        #[test]
        fn small_counts_never_show(counts in proptest::collection::vec(proptest::collection::vec(0u64..40, 4), 1..5)) {
            let p = publish(&table(counts.clone()));
            for (i, row) in counts.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    if (1..SMALLEST_SHOWN).contains(v) {
                        prop_assert!(p.cells[i][j].value.is_none());
                    }
                }
            }
            let lines_with_one_hidden = p.cells.iter().zip(&p.row_totals)
                .filter(|(row, t)| row.iter().chain([*t]).filter(|s| s.value.is_none()).count() == 1)
                .count();
            prop_assert_eq!(lines_with_one_hidden, 0);
        }
    }
}
