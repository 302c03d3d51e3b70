//! Routing a consultation request to a specialist: a pure choice over a snapshot, with the
//! reason for every candidate, so a coordinator can see why a request went where it went.
//!
//! A candidate is an active specialist who serves the child's region (by the municipality of
//! the child's location, on the day), has the wanted expertise, is under capacity, belongs to a
//! recipient the parents' consent covers, and has not declined (or let lapse) this request
//! before. Among them: the least loaded first (open requests over capacity), then the one
//! longest without a new request (a fair spread), then by id (a stable order).

use super::calendar::add_working_days;
use super::consultation::Urgency;
use super::types::{ConcernDomain, RegionCode};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::cmp::Ordering;
use uuid::Uuid;

/// A specialist as routing sees them at the moment of routing.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub staff_id: Uuid,
    pub organization_id: Uuid,
    pub active: bool,
    pub regions: Vec<RegionCode>,
    pub expertise: Vec<ConcernDomain>,
    pub capacity: i64,
    /// Open requests the specialist holds (offers included).
    pub open: i64,
    /// When they were last offered a new request.
    pub last_offered_at: Option<DateTime<Utc>>,
}

/// Why a candidate was or was not chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Eligible,
    Inactive,
    OtherRegion,
    OtherExpertise,
    Full,
    NotCoveredByConsent,
    DeclinedBefore,
}

#[derive(Debug, Clone, Serialize)]
pub struct Considered {
    pub staff_id: Uuid,
    pub verdict: Verdict,
    pub open: i64,
    pub capacity: i64,
}

/// The eligible candidates in the order to offer, and the verdict on every candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub ranked: Vec<Uuid>,
    pub considered: Vec<Considered>,
}

/// What the request needs.
pub struct Need<'a> {
    pub region: &'a RegionCode,
    pub expertise: ConcernDomain,
    /// Specialists who declined or let this request lapse before.
    pub declined: &'a [Uuid],
}

/// Ranks `candidates` for `need`; `covered` says whether the consent covers a specialist's
/// organisation (in this region).
pub fn rank(
    need: &Need<'_>,
    candidates: &[Candidate],
    covered: impl Fn(&Candidate) -> bool,
) -> Ranking {
    let mut considered = Vec::with_capacity(candidates.len());
    let mut eligible: Vec<&Candidate> = Vec::new();
    for c in candidates {
        let verdict = if !c.active {
            Verdict::Inactive
        } else if !c.regions.contains(need.region) {
            Verdict::OtherRegion
        } else if !c.expertise.contains(&need.expertise) {
            Verdict::OtherExpertise
        } else if need.declined.contains(&c.staff_id) {
            Verdict::DeclinedBefore
        } else if c.open >= c.capacity {
            Verdict::Full
        } else if !covered(c) {
            Verdict::NotCoveredByConsent
        } else {
            Verdict::Eligible
        };
        if verdict == Verdict::Eligible {
            eligible.push(c);
        }
        considered.push(Considered {
            staff_id: c.staff_id,
            verdict,
            open: c.open,
            capacity: c.capacity,
        });
    }
    eligible.sort_by(|a, b| {
        by_load(a, b)
            .then(by_wait(a, b))
            .then(a.staff_id.cmp(&b.staff_id))
    });
    Ranking {
        ranked: eligible.iter().map(|c| c.staff_id).collect(),
        considered,
    }
}

/// Lower share of capacity in use first (compared exactly: a.open/a.cap vs b.open/b.cap).
fn by_load(a: &Candidate, b: &Candidate) -> Ordering {
    (a.open * b.capacity).cmp(&(b.open * a.capacity))
}

/// Longest without a new request first; never offered counts as longest.
fn by_wait(a: &Candidate, b: &Candidate) -> Ordering {
    match (a.last_offered_at, b.last_offered_at) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

/// Working days a specialist has to answer an offer.
#[derive(Debug, Clone, Copy)]
pub struct AnswerDays {
    pub normal: u32,
    pub high: u32,
}

/// The answer deadline of an offer made at `at`.
pub fn answer_due(at: DateTime<Utc>, urgency: Urgency, days: AnswerDays) -> DateTime<Utc> {
    add_working_days(
        at,
        match urgency {
            Urgency::Normal => days.normal,
            Urgency::High => days.high,
        },
    )
}

/// The recorded reason for an offer to `chosen` (or for nobody). `full_at_claim`: ranked
/// specialists found full when their slot was claimed; `passed_over`: ranked higher than the
/// chosen one but, at that same moment, taking another request in a transaction not yet
/// committed (PostgreSQL): waiting for it would make concurrent submissions queue behind one
/// specialist, and the other request will leave them more loaded anyway.
pub fn reason(
    ranking: &Ranking,
    chosen: Option<Uuid>,
    full_at_claim: &[Uuid],
    passed_over: &[Uuid],
) -> String {
    let mut text = match chosen.and_then(|id| ranking.considered.iter().find(|c| c.staff_id == id)) {
        Some(c) => format!(
            "offered to {}: serves the region with the expertise, consent covers their organisation, \
             least loaded ({} of {} open) and longest without a new request among {} eligible",
            c.staff_id,
            c.open,
            c.capacity,
            ranking.ranked.len()
        ),
        None => {
            let count = |v: Verdict| ranking.considered.iter().filter(|c| c.verdict == v).count();
            format!(
                "no specialist could take it: {} eligible, {} full, {} declined before, {} not covered by consent, \
                 {} without the expertise, {} in other regions",
                ranking.ranked.len() - full_at_claim.len(),
                count(Verdict::Full) + full_at_claim.len(),
                count(Verdict::DeclinedBefore),
                count(Verdict::NotCoveredByConsent),
                count(Verdict::OtherExpertise),
                count(Verdict::OtherRegion)
            )
        }
    };
    if !full_at_claim.is_empty() {
        text.push_str(&format!(
            "; {} became full while routing",
            full_at_claim.len()
        ));
    }
    if !passed_over.is_empty() && chosen.is_some() {
        text.push_str(&format!(
            "; {} ranked higher passed over: taking another request at that same moment, or full by then",
            passed_over.len()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn region() -> RegionCode {
        "JZ22".parse().unwrap()
    }

    fn cand(n: u128, open: i64, capacity: i64) -> Candidate {
        Candidate {
            staff_id: Uuid::from_u128(n),
            organization_id: Uuid::from_u128(1000),
            active: true,
            regions: vec![region()],
            expertise: vec![ConcernDomain::Language],
            capacity,
            open,
            last_offered_at: None,
        }
    }

    fn need<'a>(r: &'a RegionCode, declined: &'a [Uuid]) -> Need<'a> {
        Need {
            region: r,
            expertise: ConcernDomain::Language,
            declined,
        }
    }

    #[test]
    fn least_loaded_then_longest_waiting() {
        let r = region();
        let mut a = cand(1, 2, 4);
        let b = cand(2, 1, 4);
        let mut c = cand(3, 1, 4);
        a.last_offered_at = None;
        c.last_offered_at = Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let mut b2 = b.clone();
        b2.last_offered_at = Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap());
        let ranking = rank(&need(&r, &[]), &[a, b2, c], |_| true);
        assert_eq!(
            ranking.ranked,
            [Uuid::from_u128(3), Uuid::from_u128(2), Uuid::from_u128(1)]
        );
    }

    #[test]
    fn load_is_a_share_of_capacity() {
        let r = region();
        // 2 of 10 is lighter than 1 of 2
        let ranking = rank(&need(&r, &[]), &[cand(1, 1, 2), cand(2, 2, 10)], |_| true);
        assert_eq!(ranking.ranked[0], Uuid::from_u128(2));
    }

    #[test]
    fn each_exclusion_has_its_verdict() {
        let r = region();
        let mut inactive = cand(1, 0, 3);
        inactive.active = false;
        let mut other_region = cand(2, 0, 3);
        other_region.regions = vec!["JZ14".parse().unwrap()];
        let mut other_expertise = cand(3, 0, 3);
        other_expertise.expertise = vec![ConcernDomain::Motor];
        let full = cand(4, 3, 3);
        let mut uncovered = cand(5, 0, 3);
        uncovered.organization_id = Uuid::from_u128(2000);
        let declined = cand(6, 0, 3);
        let ok = cand(7, 0, 3);
        let ranking = rank(
            &need(&r, &[Uuid::from_u128(6)]),
            &[
                inactive,
                other_region,
                other_expertise,
                full,
                uncovered,
                declined,
                ok,
            ],
            |c| c.organization_id == Uuid::from_u128(1000),
        );
        let verdicts: Vec<Verdict> = ranking.considered.iter().map(|c| c.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Inactive,
                Verdict::OtherRegion,
                Verdict::OtherExpertise,
                Verdict::Full,
                Verdict::NotCoveredByConsent,
                Verdict::DeclinedBefore,
                Verdict::Eligible
            ]
        );
        assert_eq!(ranking.ranked, [Uuid::from_u128(7)]);
        assert!(reason(&ranking, Some(Uuid::from_u128(7)), &[], &[]).contains("least loaded"));
        assert!(
            reason(&ranking, Some(Uuid::from_u128(7)), &[], &[Uuid::from_u128(8)])
                .ends_with("1 ranked higher passed over: taking another request at that same moment, or full by then")
        );
        let none = rank(
            &need(&r, &[Uuid::from_u128(7), Uuid::from_u128(6)]),
            &[cand(7, 0, 3)],
            |_| true,
        );
        assert!(reason(&none, None, &[], &[]).starts_with("no specialist"));
    }

    #[test]
    fn high_urgency_is_answered_sooner() {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap(); // a Tuesday
        let days = AnswerDays { normal: 3, high: 1 };
        assert_eq!(
            answer_due(at, Urgency::High, days),
            Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
        );
        assert_eq!(
            answer_due(at, Urgency::Normal, days),
            Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
        );
    }

    proptest! {
        /// The first choice is never over capacity, never declined before, and no eligible
        /// candidate is less loaded.
        #[test]
        fn the_choice_is_eligible_and_least_loaded(loads in proptest::collection::vec((0i64..6, 1i64..6, any::<bool>()), 1..12), declined_mask in any::<u16>()) {
            let r = region();
            let candidates: Vec<Candidate> = loads.iter().enumerate().map(|(i, (open, cap, active))| {
                let mut c = cand(i as u128 + 1, *open, *cap);
                c.active = *active;
                c
            }).collect();
            let declined: Vec<Uuid> = candidates.iter().enumerate().filter(|(i, _)| declined_mask & (1 << i) != 0).map(|(_, c)| c.staff_id).collect();
            let ranking = rank(&need(&r, &declined), &candidates, |_| true);
            for id in &ranking.ranked {
                let c = candidates.iter().find(|c| c.staff_id == *id).unwrap();
                prop_assert!(c.active && c.open < c.capacity && !declined.contains(id));
            }
            if let Some(first) = ranking.ranked.first() {
                let f = candidates.iter().find(|c| c.staff_id == *first).unwrap();
                for id in &ranking.ranked {
                    let c = candidates.iter().find(|c| c.staff_id == *id).unwrap();
                    prop_assert!(f.open * c.capacity <= c.open * f.capacity);
                }
            }
            let eligible = candidates.iter().filter(|c| c.active && c.open < c.capacity && !declined.contains(&c.staff_id)).count();
            prop_assert_eq!(ranking.ranked.len(), eligible);
        }
    }
}
