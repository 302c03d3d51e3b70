//! Calendar logic in Europe/Amsterdam: the law judges ages and deadlines by the Dutch calendar
//! day, not by UTC.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Amsterdam;

/// The calendar date in the Netherlands at `instant`.
pub fn dutch_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&Amsterdam).date_naive()
}

/// Completed years of age on `on` for someone born on `born`; `None` before birth.
///
/// A 29 February birthday is reached on 1 March in common years: a year is completed when
/// the (month, day) of `on` is not before that of the birth date.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < born {
        return None;
    }
    let mut years = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// The day someone born on `born` has their birthday in `year`: the same month and day, or
/// 1 March for a 29 February birth in a common year (see [`age_on`]).
pub fn birthday_in(born: NaiveDate, year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, born.month(), born.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .expect("a valid date")
}

/// Earliest and latest year a calendar date in a request may have: anything outside is a typo
/// or a probe (`0000-01-01`, `9999-12-31`), never a fact about a child. Each field narrows
/// this further (a birth date not in the future, a visit not before its request, …).
pub const FIRST_YEAR: i32 = 1900;
pub const LAST_YEAR: i32 = 2199;

/// Parses a calendar date written exactly `YYYY-MM-DD` (ISO 8601 extended, four-digit year,
/// two-digit month and day) within [`FIRST_YEAR`]..=[`LAST_YEAR`]. `2026-1-1`, `+2026-01-01`
/// and `2026-01-01T00:00` are refused.
pub fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    (FIRST_YEAR..=LAST_YEAR)
        .contains(&date.year())
        .then_some(date)
}

/// Serde helpers for calendar dates in requests: `#[serde(deserialize_with = "iso_date")]`.
pub fn iso_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    parse_iso_date(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "not a valid date: write YYYY-MM-DD between {FIRST_YEAR} and {LAST_YEAR}"
        ))
    })
}

/// [`iso_date`] for an optional field (use with `#[serde(default)]`).
pub fn iso_date_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrap(#[serde(deserialize_with = "iso_date")] NaiveDate);
    Ok(<Option<Wrap> as serde::Deserialize>::deserialize(d)?.map(|w| w.0))
}

/// Easter Sunday (Gregorian; the anonymous algorithm of Meeus/Jones/Butcher).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("a valid Easter date")
}

/// Dutch public holidays as most employers observe them: New Year's Day, Easter Monday,
/// King's Day (27 April, or the 26th when the 27th is a Sunday), Liberation Day in lustrum
/// years, Ascension Day, Whit Monday, Christmas and Boxing Day.
pub fn is_dutch_public_holiday(d: NaiveDate) -> bool {
    let y = d.year();
    let e = easter(y);
    let kings_day = {
        let k = NaiveDate::from_ymd_opt(y, 4, 27).expect("valid");
        if k.weekday() == chrono::Weekday::Sun {
            NaiveDate::from_ymd_opt(y, 4, 26).expect("valid")
        } else {
            k
        }
    };
    let fixed = [(1, 1), (12, 25), (12, 26)];
    fixed
        .iter()
        .any(|&(m, day)| d.month() == m && d.day() == day)
        || d == e + chrono::Duration::days(1)
        || d == e + chrono::Duration::days(39)
        || d == e + chrono::Duration::days(50)
        || d == kings_day
        || (y % 5 == 0 && d.month() == 5 && d.day() == 5)
}

/// A working day: Monday to Friday, not a public holiday.
pub fn is_working_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun)
        && !is_dutch_public_holiday(d)
}

/// `days` working days after `from`, at the same time of day in Amsterdam (a deadline).
pub fn add_working_days(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local = from.with_timezone(&Amsterdam);
    let mut date = local.date_naive();
    let mut left = days;
    while left > 0 {
        date = date.succ_opt().expect("date in range");
        if is_working_day(date) {
            left -= 1;
        }
    }
    let naive = date.and_time(local.time());
    // a time that does not exist (DST gap) moves on an hour; an ambiguous one takes the first
    Amsterdam
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            Amsterdam
                .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| truncate_micros(t.with_timezone(&Utc)))
        .unwrap_or(from)
}

/// The current instant truncated to microseconds, the precision both databases keep; values
/// that are hashed (the audit chain) must survive a round trip unchanged.
pub fn now() -> DateTime<Utc> {
    truncate_micros(Utc::now())
}

/// Drops sub-microsecond precision.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_two_two_digit_dates_in_range() {
        assert_eq!(
            parse_iso_date("2026-02-28"),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
        for bad in [
            "2026-1-1",
            "2026-01-1",
            "+2026-01-01",
            "2026-01-01T00:00",
            " 2026-01-01",
            "0000-01-01",
            "9999-12-31",
            "2026-02-30",
            "2026/01/01",
            "",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn birthdays() {
        assert_eq!(age_on(d(2014, 5, 10), d(2026, 5, 9)), Some(11));
        assert_eq!(age_on(d(2014, 5, 10), d(2026, 5, 10)), Some(12));
        assert_eq!(age_on(d(2014, 5, 10), d(2014, 5, 9)), None);
        assert_eq!(age_on(d(2014, 5, 10), d(2014, 5, 10)), Some(0));
    }

    #[test]
    fn leap_day_birthday_counts_from_first_of_march() {
        let born = d(2012, 2, 29);
        assert_eq!(age_on(born, d(2023, 2, 28)), Some(10));
        assert_eq!(age_on(born, d(2023, 3, 1)), Some(11));
        assert_eq!(age_on(born, d(2024, 2, 28)), Some(11));
        assert_eq!(age_on(born, d(2024, 2, 29)), Some(12));
    }

    #[test]
    fn easter_and_holidays() {
        assert_eq!(easter(2026), d(2026, 4, 5));
        assert_eq!(easter(2027), d(2027, 3, 28));
        assert_eq!(easter(2024), d(2024, 3, 31));
        assert!(is_dutch_public_holiday(d(2026, 4, 6))); // Easter Monday
        assert!(is_dutch_public_holiday(d(2026, 5, 14))); // Ascension
        assert!(is_dutch_public_holiday(d(2026, 5, 25))); // Whit Monday
        assert!(is_dutch_public_holiday(d(2026, 4, 27))); // King's Day (Monday)
        assert!(is_dutch_public_holiday(d(2025, 4, 26))); // King's Day on Saturday the 26th (27th a Sunday)
        assert!(is_dutch_public_holiday(d(2025, 5, 5))); // Liberation Day, lustrum
        assert!(!is_dutch_public_holiday(d(2026, 5, 5)));
        assert!(
            is_dutch_public_holiday(d(2026, 12, 25)) && is_dutch_public_holiday(d(2026, 12, 26))
        );
    }

    #[test]
    fn working_day_deadlines() {
        // Friday 27 November 2026, 15:00 in Amsterdam → 1 working day later is Monday 15:00
        let fri = Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap();
        assert_eq!(
            add_working_days(fri, 1),
            Utc.with_ymd_and_hms(2026, 11, 30, 14, 0, 0).unwrap()
        );
        // Thursday 24 December → 3 working days: skips Christmas, Boxing Day, the weekend
        let thu = Utc.with_ymd_and_hms(2026, 12, 24, 9, 0, 0).unwrap();
        assert_eq!(
            add_working_days(thu, 3),
            Utc.with_ymd_and_hms(2026, 12, 30, 9, 0, 0).unwrap()
        );
        // across the switch to summer time the local hour stays: Fri 27 March 10:00 CET → Mon 30 March 10:00 CEST
        let before = Utc.with_ymd_and_hms(2026, 3, 27, 9, 0, 0).unwrap();
        assert_eq!(
            add_working_days(before, 1),
            Utc.with_ymd_and_hms(2026, 3, 30, 8, 0, 0).unwrap()
        );
    }

    #[test]
    fn dutch_date_is_not_utc_date() {
        // 23:30 UTC on 31 March 2026 is already 1 April in Amsterdam (CEST, UTC+2).
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 23, 30, 0).unwrap();
        assert_eq!(dutch_date(t), d(2026, 4, 1));
        // 23:30 UTC on 15 January is 00:30 on the 16th (CET, UTC+1).
        let t = Utc.with_ymd_and_hms(2026, 1, 15, 23, 30, 0).unwrap();
        assert_eq!(dutch_date(t), d(2026, 1, 16));
        let t = Utc.with_ymd_and_hms(2026, 1, 15, 22, 59, 59).unwrap();
        assert_eq!(dutch_date(t), d(2026, 1, 15));
    }

    proptest! {
        #[test]
        fn age_grows_by_one_exactly_on_birthdays(days_from_epoch in 0i64..20_000, offset in 0i64..7_000) {
            let born = d(1990, 1, 1) + Duration::days(days_from_epoch);
            let on = born + Duration::days(offset);
            let a = age_on(born, on).unwrap();
            let b = age_on(born, on + Duration::days(1)).unwrap();
            prop_assert!(b == a || b == a + 1);
            // the day after a change is a birthday (or 1 March for a leap-day birth)
            if b == a + 1 {
                let next = on + Duration::days(1);
                let is_birthday = (next.month(), next.day()) == (born.month(), born.day())
                    || (born.month() == 2 && born.day() == 29 && next.month() == 3 && next.day() == 1);
                prop_assert!(is_birthday);
            }
        }

        #[test]
        fn deadlines_land_on_working_days_after_the_start(days_from_epoch in 0i64..4000, n in 1u32..6, hour in 0u32..24) {
            let start = (d(2025, 1, 1) + Duration::days(days_from_epoch)).and_hms_opt(hour, 17, 0).unwrap().and_utc();
            let due = add_working_days(start, n);
            prop_assert!(due > start);
            prop_assert!(is_working_day(dutch_date(due)));
            let mut count = 0;
            let mut day = dutch_date(start);
            while day < dutch_date(due) {
                day = day.succ_opt().unwrap();
                if is_working_day(day) { count += 1; }
            }
            prop_assert_eq!(count, n);
        }

        #[test]
        fn truncation_is_idempotent(us in 0i64..4_000_000_000_000_000) {
            let t = DateTime::from_timestamp_micros(us).unwrap();
            prop_assert_eq!(truncate_micros(t), t);
        }
    }
}
