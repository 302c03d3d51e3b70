//! The fixed dimensions of policy figures: youth-care region × half-year × age band. Periods are
//! whole half-years and ages whole bands, so no two figures can be subtracted to isolate a few
//! children. Each record carries its half-year and age band from the moment it happened.

use super::calendar::age_on;
use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

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
        let bad = || "a half-year is written YYYY-H1 or YYYY-H2".to_string();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn half_years() {
        assert_eq!(HalfYear::of(d("2026-06-30")).to_string(), "2026-H1");
        assert_eq!(HalfYear::of(d("2026-07-01")).to_string(), "2026-H2");
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
