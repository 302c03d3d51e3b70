//! Rules for a child's record: what a valid child and guardian look like. The gateway stores no
//! BSN (citizen service number): it has no legal ground to. A child is known by the gateway's id
//! and the childcare organisation's own reference.

use super::calendar::age_on;
use super::Validation;
use chrono::NaiveDate;

/// Youth care (Jeugdwet) runs to 18; a child of 18 or older is not a child of this gateway.
pub const MAX_AGE: u32 = 17;

/// Does `text` hold what can only be a BSN (*burgerservicenummer*): nine digits, also written
/// with dots, spaces or dashes between them (`1234.56.782`, `BSN 123456782`), that pass the
/// eleven-test? The gateway has no legal ground to store one (UAVG art. 46).
pub fn contains_bsn(text: &str) -> bool {
    let mut digits: Vec<u32> = Vec::new();
    let mut pending_separator = false;
    let check = |d: &[u32]| d.len() == 9 && eleven_test(d);
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            digits.push(d);
            pending_separator = false;
        } else if matches!(c, '.' | ' ' | '-') && !digits.is_empty() && !pending_separator {
            pending_separator = true;
        } else {
            if check(&digits) {
                return true;
            }
            digits.clear();
            pending_separator = false;
        }
    }
    check(&digits)
}

/// The BSN eleven-test: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a multiple of 11 (and not all zero).
fn eleven_test(d: &[u32]) -> bool {
    let sum: i64 = d[..8]
        .iter()
        .enumerate()
        .map(|(i, &x)| i64::from(x) * (9 - i as i64))
        .sum::<i64>()
        - i64::from(d[8]);
    sum % 11 == 0 && d.iter().any(|&x| x != 0)
}

/// Refuses a BSN in a field that can only be one there (a reference, a name).
pub fn refuse_bsn(v: &mut Validation, field: &str, value: &str) {
    if contains_bsn(value) {
        v.add(
            field,
            "this looks like a BSN (citizen service number); the gateway may not store one (UAVG art. 46). Use the organisation's own reference",
        );
    }
}

/// A warning for free text that seems to hold a BSN: it is stored (free text may hold numbers
/// that only look like one), and the caller is asked to remove it.
pub fn bsn_warning(field: &str, value: Option<&str>) -> Option<super::FieldError> {
    value.filter(|v| contains_bsn(v)).map(|_| {
        super::FieldError::new(
            field,
            "this text seems to hold a BSN (citizen service number); the gateway may not store one (UAVG art. 46): please remove it",
        )
    })
}

/// Checks the fields of a child being registered, judged on `today` (Dutch calendar date).
pub fn validate_child(
    v: &mut Validation,
    external_ref: &str,
    given_name: &str,
    date_of_birth: NaiveDate,
    today: NaiveDate,
) {
    v.text("external_ref", external_ref, 64);
    v.text("given_name", given_name, 100);
    refuse_bsn(v, "external_ref", external_ref);
    refuse_bsn(v, "given_name", given_name);
    match age_on(date_of_birth, today) {
        None => v.add("date_of_birth", "must not be in the future"),
        Some(age) if age > MAX_AGE => v.add("date_of_birth", "the child must be under 18"),
        Some(_) => {}
    }
}

/// Checks a guardian's contact fields. Whether a guardian holds parental authority (*gezag*) is
/// recorded with its source; only then can they consent (checked by the consent rules).
pub fn validate_guardian(v: &mut Validation, name: &str, email: Option<&str>, phone: Option<&str>) {
    v.text("name", name, 200);
    refuse_bsn(v, "name", name);
    if let Some(email) = email {
        let ok = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        v.check(ok, "email", "must be an e-mail address");
    }
    if let Some(phone) = phone {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let ok = (6..=15).contains(&digits)
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
        v.check(ok, "phone", "must be a phone number");
    }
}

/// Parental authority and where it is known from go together: a guardian who holds it has a
/// source (declared, or the *gezagsregister*); one who does not, has none.
pub fn validate_authority(v: &mut Validation, has_authority: bool, has_source: bool) {
    if has_authority && !has_source {
        v.add(
            "authority_source",
            "say where the parental authority is known from (declared or gezagsregister)",
        );
    }
    if !has_authority && has_source {
        v.add(
            "authority_source",
            "only for a guardian with parental authority",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsn_is_recognised_however_it_is_written() {
        // 111222333 passes the eleven-test (the example number of the Dutch government)
        for text in [
            "111222333",
            "1112.22.333",
            "BSN 111222333",
            "bsn: 111 222 333",
            "nr 111-222-333.",
        ] {
            assert!(contains_bsn(text), "{text}");
        }
        for text in [
            "111222334",
            "K-0042",
            "06 1234 5678",
            "2026-01-01",
            "000000000",
            "1112223330",
            "11122233",
        ] {
            assert!(!contains_bsn(text), "{text}");
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn child_age_limits() {
        let today = d("2026-11-24");
        let fields = |dob: &str| {
            let mut v = Validation::new();
            validate_child(&mut v, "K-1", "Sam", d(dob), today);
            v.finish().err().unwrap_or_default()
        };
        assert!(fields("2026-11-24").is_empty());
        assert_eq!(fields("2026-11-25")[0].field, "date_of_birth");
        assert!(fields("2008-11-25").is_empty());
        assert_eq!(fields("2008-11-24")[0].field, "date_of_birth");
    }

    #[test]
    fn guardian_contact() {
        let mut v = Validation::new();
        validate_guardian(
            &mut v,
            "Ayla",
            Some("ayla@example.nl"),
            Some("+31 6 1234 5678"),
        );
        assert!(v.is_empty());
        let mut v = Validation::new();
        validate_guardian(&mut v, "", Some("nope"), Some("call me"));
        assert_eq!(v.finish().unwrap_err().len(), 3);
    }
}
