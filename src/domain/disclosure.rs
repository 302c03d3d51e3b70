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

/// The table with its margins as one grid: cells, then the row totals as the last column, the
/// column totals as the last row, the grand total in the corner.
struct Grid {
    r: usize,
    c: usize,
    v: Vec<Vec<u64>>,
    why: Vec<Vec<Option<Suppression>>>,
}

impl Grid {
    fn new(t: &Table) -> Self {
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
        let why = v
            .iter()
            .map(|row| {
                row.iter()
                    .map(|x| {
                        (1..SMALLEST_SHOWN)
                            .contains(x)
                            .then_some(Suppression::SmallCount)
                    })
                    .collect()
            })
            .collect();
        Self { r, c, v, why }
    }

    /// Every row and column of the grid (margins included) as lists of positions; in each the
    /// last position is the total of the others.
    fn lines(&self) -> Vec<Vec<(usize, usize)>> {
        let mut lines = Vec::new();
        for i in 0..=self.r {
            lines.push((0..=self.c).map(|j| (i, j)).collect());
        }
        for j in 0..=self.c {
            lines.push((0..=self.r).map(|i| (i, j)).collect());
        }
        lines
    }

    fn is_margin(&self, (i, j): (usize, usize)) -> bool {
        i == self.r || j == self.c
    }

    /// Hides the smallest shown non-zero entry of `line` (cells before totals); false if none.
    fn hide_company(&mut self, line: &[(usize, usize)]) -> bool {
        let pick = line
            .iter()
            .copied()
            .filter(|&(i, j)| self.why[i][j].is_none() && self.v[i][j] > 0)
            .min_by_key(|&(i, j)| (self.is_margin((i, j)), self.v[i][j]));
        match pick {
            Some((i, j)) => {
                self.why[i][j] = Some(Suppression::Secondary);
                true
            }
            None => false,
        }
    }

    /// What a reader can know of each entry: an interval of possible true values.
    fn attack(&self) -> Vec<Vec<(u64, u64)>> {
        let big = self.v[self.r][self.c].saturating_mul(2) + 100;
        let mut iv: Vec<Vec<(u64, u64)>> = (0..=self.r)
            .map(|i| {
                (0..=self.c)
                    .map(|j| match self.why[i][j] {
                        Some(_) => (1, big),
                        None => known_interval(round5(self.v[i][j]), self.v[i][j] == 0),
                    })
                    .collect()
            })
            .collect();
        let lines = self.lines();
        for _ in 0..100 {
            let mut changed = false;
            for line in &lines {
                let (cells, total) = line.split_at(line.len() - 1);
                let t = total[0];
                let sum_lo: u64 = cells.iter().map(|&(i, j)| iv[i][j].0).sum();
                let sum_hi: u64 = cells
                    .iter()
                    .map(|&(i, j)| iv[i][j].1)
                    .fold(0u64, |a, b| a.saturating_add(b));
                // the total lies within the sum of its parts
                let (lo, hi) = (iv[t.0][t.1].0.max(sum_lo), iv[t.0][t.1].1.min(sum_hi));
                if (lo, hi) != iv[t.0][t.1] {
                    iv[t.0][t.1] = (lo, hi);
                    changed = true;
                }
                // each part lies within the total less the others
                for &(i, j) in cells {
                    let others_lo = sum_lo - iv[i][j].0;
                    let others_hi = sum_hi.saturating_sub(iv[i][j].1);
                    let lo = iv[i][j].0.max(iv[t.0][t.1].0.saturating_sub(others_hi));
                    let hi = iv[i][j].1.min(iv[t.0][t.1].1.saturating_sub(others_lo));
                    if (lo, hi) != iv[i][j] && lo <= hi {
                        iv[i][j] = (lo, hi);
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
    let mut g = Grid::new(t);
    let lines = g.lines();
    for _ in 0..1000 {
        let mut changed = false;
        // secondary suppression: no row or column with exactly one hidden entry
        for line in &lines {
            let hidden = line.iter().filter(|&&(i, j)| g.why[i][j].is_some()).count();
            if hidden == 1 && g.hide_company(line) {
                changed = true;
            }
        }
        if changed {
            continue;
        }
        // the reader's attack: anything pinned down gets company in one of its lines
        let iv = g.attack();
        let pinned: Vec<(usize, usize)> = iv
            .iter()
            .enumerate()
            .flat_map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, (lo, hi))| lo == hi)
                    .map(move |(j, _)| (i, j))
            })
            .filter(|&(i, j)| g.why[i][j].is_some())
            .collect();
        for pos in pinned {
            for line in lines.iter().filter(|l| l.contains(&pos)) {
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
    let shown = |i: usize, j: usize| match g.why[i][j] {
        Some(why) => Shown::hidden(why),
        None => Shown::value(round5(g.v[i][j])),
    };
    Published {
        rows: t.rows.clone(),
        columns: t.columns.clone(),
        cells: (0..g.r)
            .map(|i| (0..g.c).map(|j| shown(i, j)).collect())
            .collect(),
        row_totals: (0..g.r).map(|i| shown(i, g.c)).collect(),
        column_totals: (0..g.c).map(|j| shown(g.r, j)).collect(),
        total: shown(g.r, g.c),
    }
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
/// value could show through).
pub fn percentile(values: &mut [i64], p: f64) -> Option<i64> {
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

    /// Every true table consistent with what is published (given the rules a reader knows):
    /// for each cell, the set of values it can take. Exhaustive, for small tables.
    fn feasible(p: &Published, cap: u64) -> Vec<Vec<std::collections::BTreeSet<u64>>> {
        let (r, c) = (p.rows.len(), p.columns.len());
        let domain = |s: &Shown| -> Vec<u64> {
            match s.value {
                Some(0) => vec![0],
                Some(v) => {
                    let (lo, hi) = known_interval(v, false);
                    (lo..=hi).collect()
                }
                None => (1..=cap).collect(),
            }
        };
        let fits = |s: &Shown, total: u64| match s.value {
            Some(0) => total == 0,
            Some(v) => total >= SMALLEST_SHOWN && round5(total) == v,
            None => total >= 1,
        };
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
