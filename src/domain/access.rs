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

/// Registry and reference data (regions, organisations, locations, staff) are the admin's.
pub fn may_manage_registry(actor: &Actor) -> bool {
    actor.has(Role::Admin)
}

/// The NEN 7513 access log is read by the gateway's operators.
pub fn may_read_audit_log(actor: &Actor) -> bool {
    actor.has(Role::Admin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope() -> ChildScope {
        ChildScope {
            organization_id: Uuid::from_u128(1),
            location_id: Uuid::from_u128(10),
        }
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
