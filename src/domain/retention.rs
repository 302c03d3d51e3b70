//! How long each kind of record is kept. Configurable per record type; the law sets floors:
//! a youth-care file (the specialist's visits and outcome) at least 20 years after care ends
//! (Jeugdwet art. 7.3.10), the access log at least 5 years (NEN 7513). Childcare signals are
//! kept much shorter. The access log outlives what it describes: it holds ids, not child data.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// The floor for a youth-care file: 20 years (Jeugdwet art. 7.3.10).
pub const YOUTH_CARE_FILE_MIN_DAYS: i64 = 20 * 365 + 5;
/// The floor for the access log: 5 years (NEN 7513).
pub const AUDIT_MIN_DAYS: i64 = 5 * 365 + 2;

/// Days each kind of record is kept after the moment that starts its period.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// A concern without a consultation, after it was recorded.
    pub concern_days: i64,
    /// A consent record that is no longer active (superseded, withdrawn), after it was recorded.
    pub ended_consent_days: i64,
    /// A closed consultation with its visits and routing (the youth-care file), after closing.
    pub youth_care_file_days: i64,
    /// A Meldcode report, after it was recorded.
    pub meldcode_days: i64,
    /// A parent link, after it expired.
    pub parent_link_days: i64,
    /// The record of a child who left (with its guardians, consents, concerns), after the
    /// leaving date, once no youth-care file rests on it.
    pub left_child_days: i64,
    /// Webhook messages, deliveries and attempts; idempotency keys.
    pub operational_days: i64,
    /// Access-log entries (purged from the start; the chain keeps an anchor).
    pub audit_days: i64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            concern_days: 2 * 365,
            ended_consent_days: 5 * 365,
            youth_care_file_days: YOUTH_CARE_FILE_MIN_DAYS,
            meldcode_days: 5 * 365,
            parent_link_days: 30,
            left_child_days: 2 * 365,
            operational_days: 30,
            audit_days: 10 * 365,
        }
    }
}

/// The instants before which each kind of record goes.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    pub concern: DateTime<Utc>,
    pub ended_consent: DateTime<Utc>,
    pub youth_care_file: DateTime<Utc>,
    pub meldcode: DateTime<Utc>,
    pub parent_link: DateTime<Utc>,
    /// A child who left before this day goes (the day, in the Netherlands).
    pub left_child: chrono::NaiveDate,
    pub operational: DateTime<Utc>,
    pub audit: DateTime<Utc>,
}

impl RetentionPolicy {
    /// Problems with the policy (periods below the legal floors, or not positive).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let all = [
            self.concern_days,
            self.ended_consent_days,
            self.youth_care_file_days,
            self.meldcode_days,
            self.parent_link_days,
            self.operational_days,
            self.left_child_days,
            self.audit_days,
        ];
        if all.iter().any(|d| *d < 1) {
            p.push("retention: every period is at least 1 day".to_string());
        }
        if self.youth_care_file_days < YOUTH_CARE_FILE_MIN_DAYS {
            p.push(format!("retention.youth_care_file_days: at least {YOUTH_CARE_FILE_MIN_DAYS} (20 years, Jeugdwet art. 7.3.10)"));
        }
        if self.audit_days < AUDIT_MIN_DAYS {
            p.push(format!(
                "retention.audit_days: at least {AUDIT_MIN_DAYS} (5 years, NEN 7513)"
            ));
        }
        p
    }

    pub fn cutoffs(&self, now: DateTime<Utc>) -> Cutoffs {
        let before = |days: i64| now - Duration::days(days);
        Cutoffs {
            concern: before(self.concern_days),
            ended_consent: before(self.ended_consent_days),
            youth_care_file: before(self.youth_care_file_days),
            meldcode: before(self.meldcode_days),
            parent_link: before(self.parent_link_days),
            left_child: crate::domain::calendar::dutch_date(before(self.left_child_days)),
            operational: before(self.operational_days),
            audit: before(self.audit_days),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn floors_hold() {
        assert!(RetentionPolicy::default().problems().is_empty());
        let short = RetentionPolicy {
            youth_care_file_days: 365,
            audit_days: 30,
            ..Default::default()
        };
        assert_eq!(short.problems().len(), 2);
        let zero = RetentionPolicy {
            parent_link_days: 0,
            ..Default::default()
        };
        assert_eq!(zero.problems().len(), 1);
    }

    #[test]
    fn cutoffs_count_back_from_now() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let c = RetentionPolicy::default().cutoffs(now);
        assert_eq!(
            c.parent_link,
            Utc.with_ymd_and_hms(2026, 10, 25, 12, 0, 0).unwrap()
        );
        assert!(c.youth_care_file < Utc.with_ymd_and_hms(2006, 11, 25, 0, 0, 0).unwrap());
    }
}
