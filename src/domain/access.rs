//! Who may see or change what: deny by default, decided here from the caller (an [`Actor`],
//! the pure view of an authenticated principal) and the resource's scope.

use super::types::{RegionCode, Role};
use uuid::Uuid;

/// The caller as the rules see it: roles from the token, the organisation, and for staff the
/// locations (mentors) or regions (specialists, coordinators, policy) their record links them to.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub roles: Vec<Role>,
    pub organization_id: Option<Uuid>,
    pub staff_id: Option<Uuid>,
    pub location_ids: Vec<Uuid>,
    pub region_codes: Vec<RegionCode>,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Where a child's record belongs.
#[derive(Debug, Clone, Copy)]
pub struct ChildScope {
    pub organization_id: Uuid,
    pub location_id: Uuid,
}

/// Why access to a child was allowed; written to the access log as the basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildAccess {
    /// A mentor linked to the child's location (*mentor* rule, Wet IKK).
    MentorOfLocation,
    /// The child's own organisation's partner system.
    OwnIntegration,
}

/// May `actor` read and keep the record of a child in `scope` (register, read, update the
/// child, its mentor and guardians)? Admins and policy staff never see child data; youth-care
/// access comes only through a consultation with consent in force.
pub fn child_record_access(actor: &Actor, scope: ChildScope) -> Option<ChildAccess> {
    if actor.has(Role::Mentor)
        && actor.organization_id == Some(scope.organization_id)
        && actor.location_ids.contains(&scope.location_id)
    {
        return Some(ChildAccess::MentorOfLocation);
    }
    if actor.has(Role::Integration) && actor.organization_id == Some(scope.organization_id) {
        return Some(ChildAccess::OwnIntegration);
    }
    None
}

/// May `actor` list the children of a whole organisation (without naming a location)?
pub fn may_list_organization_children(actor: &Actor, organization_id: Uuid) -> bool {
    actor.has(Role::Integration) && actor.organization_id == Some(organization_id)
}

/// The locations whose children `actor` may list without naming one: a mentor's own.
pub fn own_listable_locations(actor: &Actor) -> Option<&[Uuid]> {
    (actor.has(Role::Mentor) && !actor.location_ids.is_empty())
        .then_some(actor.location_ids.as_slice())
}

/// Registry and reference data (regions, organisations, locations, staff) are the admin's.
pub fn may_manage_registry(actor: &Actor) -> bool {
    actor.has(Role::Admin)
}

/// The NEN 7513 access log is read by the gateway's operators.
pub fn may_read_audit_log(actor: &Actor) -> bool {
    actor.has(Role::Admin)
}

/// Who may read a staff member's professional role (organisation, role, expertise, regions,
/// locations; never capacity or login), and a youth-care provider's offer. A specialist's role
/// and the offer are directory information for every partner (whoever receives a Task sees who
/// owns it, and a childcare organisation sees what a region offers); anyone else's role only
/// within its own organisation.
pub fn may_read_professional_role(
    actor: &Actor,
    staff_organization: Uuid,
    staff_role: crate::domain::types::StaffRole,
) -> bool {
    if actor.has(Role::Admin) || actor.organization_id == Some(staff_organization) {
        return true;
    }
    staff_role == crate::domain::types::StaffRole::Specialist && actor.organization_id.is_some()
}

/// Where a consultation request belongs and who holds it, as the access rules see it.
#[derive(Debug, Clone, Copy)]
pub struct RequestScope<'a> {
    pub child: ChildScope,
    pub region_code: &'a str,
    pub offered_to: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    /// The organisation of the specialist it is assigned to (once accepted), when known.
    pub holder_organization: Option<Uuid>,
}

/// How a caller relates to a consultation request. On the youth-care side this is only a
/// first step: a specialist or coordinator also needs the parents' consent in force covering
/// their organisation (checked against the records, afresh on every access).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStanding {
    /// Keeps the child's record (mentor of the location, the organisation's system).
    ChildRecord(ChildAccess),
    /// The specialist it is offered to or assigned to.
    Specialist,
    /// Coordinator of the request's region.
    Coordinator,
    /// The record system (`integration` role) of the youth-care provider whose specialist
    /// took the request: it keeps the provider's file and sees what that specialist sees.
    ProviderSystem,
}

/// The caller's standing toward a request, if any.
pub fn request_standing(actor: &Actor, scope: RequestScope<'_>) -> Option<RequestStanding> {
    if let Some(a) = child_record_access(actor, scope.child) {
        return Some(RequestStanding::ChildRecord(a));
    }
    let me = actor.staff_id;
    if actor.has(Role::Specialist)
        && me.is_some()
        && (scope.offered_to == me || scope.assigned_to == me)
    {
        return Some(RequestStanding::Specialist);
    }
    // a system, not a person: only the integration role and no staff record (a person's
    // token that also carries `integration` does not read a colleague's requests)
    if actor.roles == [Role::Integration]
        && actor.staff_id.is_none()
        && actor.organization_id.is_some()
        && scope.assigned_to.is_some()
        && scope.holder_organization == actor.organization_id
    {
        return Some(RequestStanding::ProviderSystem);
    }
    if actor.has(Role::Coordinator)
        && actor
            .region_codes
            .iter()
            .any(|r| r.as_str() == scope.region_code)
    {
        return Some(RequestStanding::Coordinator);
    }
    None
}

/// What of a request a caller with `standing` sees. The child's question (*hulpvraag*) reaches
/// a specialist only once they accepted (an offer names expertise and urgency, not the child's
/// situation); the closing summary is the youth-care file of the specialist who worked on it;
/// the advice for the group is for the childcare side and that specialist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestVisibility {
    pub question: bool,
    pub summary: bool,
    pub advice: bool,
}

pub fn request_visibility(standing: RequestStanding, accepted: bool) -> RequestVisibility {
    match standing {
        RequestStanding::ChildRecord(_) => RequestVisibility {
            question: true,
            summary: false,
            advice: true,
        },
        RequestStanding::Specialist | RequestStanding::ProviderSystem => RequestVisibility {
            question: accepted,
            summary: accepted,
            advice: accepted,
        },
        RequestStanding::Coordinator => RequestVisibility {
            question: true,
            summary: false,
            advice: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_specialists_role_is_directory_information_anyone_elses_stays_in_house() {
        use crate::domain::types::StaffRole;
        let (own, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let actor = |roles: Vec<Role>, org: Option<Uuid>| Actor {
            roles,
            organization_id: org,
            staff_id: None,
            location_ids: Vec::new(),
            region_codes: Vec::new(),
        };
        let partner = actor(vec![Role::Integration], Some(other));
        let colleague = actor(vec![Role::Mentor], Some(own));
        let admin = actor(vec![Role::Admin], None);
        let nobody = actor(vec![Role::Integration], None);
        for role in [
            StaffRole::Mentor,
            StaffRole::Coordinator,
            StaffRole::Policy,
            StaffRole::Specialist,
        ] {
            assert!(may_read_professional_role(&colleague, own, role));
            assert!(may_read_professional_role(&admin, own, role));
            assert!(!may_read_professional_role(&nobody, own, role));
            assert_eq!(
                may_read_professional_role(&partner, own, role),
                role == StaffRole::Specialist
            );
        }
    }

    fn scope() -> ChildScope {
        ChildScope {
            organization_id: Uuid::from_u128(1),
            location_id: Uuid::from_u128(10),
        }
    }

    #[test]
    fn only_a_mentor_lists_their_own_locations_without_naming_one() {
        let mentor = Actor {
            roles: vec![Role::Mentor],
            organization_id: Some(Uuid::from_u128(1)),
            location_ids: vec![Uuid::from_u128(10), Uuid::from_u128(11)],
            ..Default::default()
        };
        assert_eq!(
            own_listable_locations(&mentor),
            Some(&[Uuid::from_u128(10), Uuid::from_u128(11)][..])
        );
        let nowhere = Actor {
            location_ids: Vec::new(),
            ..mentor.clone()
        };
        assert_eq!(own_listable_locations(&nowhere), None);
        let specialist = Actor {
            roles: vec![Role::Specialist],
            ..mentor.clone()
        };
        assert_eq!(own_listable_locations(&specialist), None);
    }

    #[test]
    fn mentor_of_the_location_and_own_integration_only() {
        let mentor = Actor {
            roles: vec![Role::Mentor],
            organization_id: Some(Uuid::from_u128(1)),
            location_ids: vec![Uuid::from_u128(10)],
            ..Default::default()
        };
        assert_eq!(
            child_record_access(&mentor, scope()),
            Some(ChildAccess::MentorOfLocation)
        );
        let other_location = Actor {
            location_ids: vec![Uuid::from_u128(11)],
            ..mentor.clone()
        };
        assert_eq!(child_record_access(&other_location, scope()), None);
        let other_org = Actor {
            organization_id: Some(Uuid::from_u128(2)),
            ..mentor.clone()
        };
        assert_eq!(child_record_access(&other_org, scope()), None);
        let integration = Actor {
            roles: vec![Role::Integration],
            organization_id: Some(Uuid::from_u128(1)),
            ..Default::default()
        };
        assert_eq!(
            child_record_access(&integration, scope()),
            Some(ChildAccess::OwnIntegration)
        );
    }

    #[test]
    fn an_offer_shows_no_question_until_accepted() {
        let offered = request_visibility(RequestStanding::Specialist, false);
        assert!(!offered.question && !offered.summary && !offered.advice);
        assert!(request_visibility(RequestStanding::Specialist, true).question);
        let mentor = request_visibility(
            RequestStanding::ChildRecord(ChildAccess::MentorOfLocation),
            true,
        );
        assert!(mentor.question && !mentor.summary);
    }

    #[test]
    fn standing_needs_the_location_the_offer_or_the_region() {
        let child = scope();
        let spec = Uuid::from_u128(77);
        let req = RequestScope {
            child,
            region_code: "JZ22",
            offered_to: Some(spec),
            assigned_to: None,
            holder_organization: None,
        };
        let specialist = Actor {
            roles: vec![Role::Specialist],
            organization_id: Some(Uuid::from_u128(5)),
            staff_id: Some(spec),
            ..Default::default()
        };
        assert_eq!(
            request_standing(&specialist, req),
            Some(RequestStanding::Specialist)
        );
        let other = Actor {
            staff_id: Some(Uuid::from_u128(78)),
            ..specialist.clone()
        };
        assert_eq!(request_standing(&other, req), None);
        let coordinator = Actor {
            roles: vec![Role::Coordinator],
            region_codes: vec!["JZ22".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(
            request_standing(&coordinator, req),
            Some(RequestStanding::Coordinator)
        );
        let elsewhere = Actor {
            region_codes: vec!["JZ14".parse().unwrap()],
            ..coordinator
        };
        assert_eq!(request_standing(&elsewhere, req), None);
    }

    #[test]
    fn a_providers_system_stands_toward_what_its_specialist_took_and_nothing_else() {
        let (provider, other) = (Uuid::from_u128(5), Uuid::from_u128(6));
        let taken = RequestScope {
            child: scope(),
            region_code: "JZ22",
            offered_to: None,
            assigned_to: Some(Uuid::from_u128(77)),
            holder_organization: Some(provider),
        };
        let system = |org| Actor {
            roles: vec![Role::Integration],
            organization_id: Some(org),
            ..Default::default()
        };
        assert_eq!(
            request_standing(&system(provider), taken),
            Some(RequestStanding::ProviderSystem)
        );
        assert_eq!(request_standing(&system(other), taken), None);
        // an offer not yet accepted is the specialist's alone
        let offered = RequestScope {
            offered_to: Some(Uuid::from_u128(77)),
            assigned_to: None,
            ..taken
        };
        assert_eq!(request_standing(&system(provider), offered), None);
        // the provider's staff in another role are not its system
        let mentor = Actor {
            roles: vec![Role::Mentor],
            ..system(provider)
        };
        assert_eq!(request_standing(&mentor, taken), None);
        // nor is a person whose token carries `integration` beside a staff role, or a staff
        // record: a specialist does not read a colleague's requests that way
        let colleague = Actor {
            roles: vec![Role::Specialist, Role::Integration],
            staff_id: Some(Uuid::from_u128(78)),
            ..system(provider)
        };
        assert_eq!(request_standing(&colleague, taken), None);
        let with_staff = Actor {
            staff_id: Some(Uuid::from_u128(78)),
            ..system(provider)
        };
        assert_eq!(request_standing(&with_staff, taken), None);
        let sees = request_visibility(RequestStanding::ProviderSystem, true);
        assert!(sees.question && sees.summary);
    }

    proptest! {
        #[test]
        fn no_role_but_mentor_or_integration_sees_a_child(
            role in proptest::sample::select(Role::ALL.to_vec()),
            same_org in any::<bool>(),
            linked in any::<bool>(),
        ) {
            let actor = Actor {
                roles: vec![role],
                organization_id: Some(Uuid::from_u128(if same_org { 1 } else { 2 })),
                location_ids: if linked { vec![Uuid::from_u128(10)] } else { vec![] },
                ..Default::default()
            };
            let allowed = child_record_access(&actor, scope()).is_some();
            let expected = same_org && (role == Role::Integration || (role == Role::Mentor && linked));
            prop_assert_eq!(allowed, expected);
        }
    }
}
