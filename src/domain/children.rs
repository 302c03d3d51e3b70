//! Rules for a child's record: what a valid child and guardian look like. The gateway stores no
//! BSN (citizen service number): it has no legal ground to. A child is known by the gateway's id
//! and the childcare organisation's own reference.

use super::calendar::age_on;
use super::Validation;
use chrono::NaiveDate;

/// Youth care (Jeugdwet) runs to 18; a child of 18 or older is not a child of this gateway.
pub const MAX_AGE: u32 = 17;

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

#[cfg(test)]
mod tests {
    use super::*;

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
