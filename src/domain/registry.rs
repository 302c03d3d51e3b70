//! Rules of the registry: which organisation kind may hold which staff and locations, and
//! which fields each staff role needs.

use super::types::{ConcernDomain, LocationType, OrganizationKind, StaffRole};
use super::Validation;

/// Largest capacity (open consultations) a specialist can be given.
pub const MAX_CAPACITY: i64 = 500;

/// Childcare locations belong to childcare organisations.
pub fn validate_location(
    v: &mut Validation,
    org_kind: OrganizationKind,
    name: &str,
    lrk_number: Option<&str>,
    _t: LocationType,
) {
    v.text("name", name, 200);
    if org_kind != OrganizationKind::Childcare {
        v.add(
            "organization",
            "only a childcare organisation has childcare locations",
        );
    }
    // The Landelijk Register Kinderopvang numbers registrations with nine digits.
    if let Some(lrk) = lrk_number {
        v.check(
            lrk.len() == 9 && lrk.bytes().all(|b| b.is_ascii_digit()),
            "lrk_number",
            "must be the nine digits of the LRK registration",
        );
    }
}

/// The shape of a staff record: what a role needs and may not have.
pub struct StaffShape<'a> {
    pub role: StaffRole,
    pub org_kind: OrganizationKind,
    pub subject: &'a str,
    pub name: &'a str,
    pub location_count: usize,
    pub expertise: &'a [ConcernDomain],
    pub region_count: usize,
    pub capacity: Option<i64>,
}

pub fn validate_staff(v: &mut Validation, s: &StaffShape<'_>) {
    v.text("subject", s.subject, 255);
    v.text("name", s.name, 200);
    let youth_care = s.org_kind == OrganizationKind::YouthCare;
    match s.role {
        StaffRole::Mentor => {
            v.check(
                s.org_kind == OrganizationKind::Childcare,
                "role",
                "mentors belong to a childcare organisation",
            );
            v.check(
                s.location_count > 0,
                "location_ids",
                "a mentor is linked to at least one location",
            );
            v.check(
                s.expertise.is_empty(),
                "expertise",
                "only specialists have expertise",
            );
            v.check(
                s.region_count == 0,
                "region_codes",
                "mentors are linked to locations, not regions",
            );
            v.check(
                s.capacity.is_none(),
                "capacity",
                "only specialists have a capacity",
            );
        }
        StaffRole::Specialist => {
            v.check(
                youth_care,
                "role",
                "specialists belong to a youth-care organisation",
            );
            v.check(
                !s.expertise.is_empty(),
                "expertise",
                "a specialist has at least one expertise",
            );
            v.check(
                s.region_count > 0,
                "region_codes",
                "a specialist serves at least one region",
            );
            v.check(
                s.location_count == 0,
                "location_ids",
                "specialists are not linked to locations",
            );
            match s.capacity {
                None => v.add(
                    "capacity",
                    "a specialist needs a capacity (open consultations at most)",
                ),
                Some(c) if !(1..=MAX_CAPACITY).contains(&c) => {
                    v.add("capacity", format!("must be 1 to {MAX_CAPACITY}"))
                }
                Some(_) => {}
            }
        }
        StaffRole::Coordinator => {
            v.check(
                youth_care,
                "role",
                "coordinators belong to a youth-care organisation",
            );
            v.check(
                s.region_count > 0,
                "region_codes",
                "a coordinator coordinates at least one region",
            );
            v.check(
                s.location_count == 0,
                "location_ids",
                "coordinators are not linked to locations",
            );
            v.check(
                s.expertise.is_empty(),
                "expertise",
                "only specialists have expertise",
            );
            v.check(
                s.capacity.is_none(),
                "capacity",
                "only specialists have a capacity",
            );
        }
        StaffRole::Policy => {
            v.check(
                s.location_count == 0,
                "location_ids",
                "policy staff are not linked to locations",
            );
            v.check(
                s.expertise.is_empty(),
                "expertise",
                "only specialists have expertise",
            );
            v.check(
                s.capacity.is_none(),
                "capacity",
                "only specialists have a capacity",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(role: StaffRole, org_kind: OrganizationKind) -> StaffShape<'static> {
        StaffShape {
            role,
            org_kind,
            subject: "s",
            name: "n",
            location_count: 0,
            expertise: &[],
            region_count: 0,
            capacity: None,
        }
    }

    fn fields(s: &StaffShape<'_>) -> Vec<String> {
        let mut v = Validation::new();
        validate_staff(&mut v, s);
        v.finish()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn each_role_needs_its_links() {
        assert_eq!(
            fields(&shape(StaffRole::Mentor, OrganizationKind::Childcare)),
            ["location_ids"]
        );
        let mentor = StaffShape {
            location_count: 1,
            ..shape(StaffRole::Mentor, OrganizationKind::Childcare)
        };
        assert!(fields(&mentor).is_empty());
        assert_eq!(
            fields(&shape(StaffRole::Specialist, OrganizationKind::YouthCare)),
            ["expertise", "region_codes", "capacity"]
        );
        let specialist = StaffShape {
            expertise: &[ConcernDomain::Language],
            region_count: 1,
            capacity: Some(5),
            ..shape(StaffRole::Specialist, OrganizationKind::YouthCare)
        };
        assert!(fields(&specialist).is_empty());
        assert_eq!(
            fields(&StaffShape {
                capacity: Some(0),
                ..specialist
            }),
            ["capacity"]
        );
        assert_eq!(
            fields(&shape(StaffRole::Policy, OrganizationKind::Municipality)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn roles_belong_to_the_right_kind_of_organisation() {
        let mentor = StaffShape {
            location_count: 1,
            ..shape(StaffRole::Mentor, OrganizationKind::YouthCare)
        };
        assert_eq!(fields(&mentor), ["role"]);
        let coord = StaffShape {
            region_count: 1,
            ..shape(StaffRole::Coordinator, OrganizationKind::Childcare)
        };
        assert_eq!(fields(&coord), ["role"]);
    }

    #[test]
    fn lrk_numbers_have_nine_digits() {
        let mut v = Validation::new();
        validate_location(
            &mut v,
            OrganizationKind::Childcare,
            "De Boomhut",
            Some("12345678"),
            LocationType::Kdv,
        );
        assert_eq!(v.finish().unwrap_err()[0].field, "lrk_number");
        let mut v = Validation::new();
        validate_location(
            &mut v,
            OrganizationKind::YouthCare,
            "X",
            Some("123456789"),
            LocationType::Bso,
        );
        assert_eq!(v.finish().unwrap_err()[0].field, "organization");
    }
}
