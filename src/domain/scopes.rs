//! SMART scopes of partner systems (SMART App Launch 2.x, "system" context only): what a
//! backend client may do, per FHIR resource type. Both syntaxes are understood:
//! - v1: `system/Patient.read`, `system/Patient.write`, `system/*.*`;
//! - v2: `system/Patient.rs`, `system/Task.cruds` — letters in the order c, r, u, d, s.
//!
//! v1 `read` means v2 `rs`, v1 `write` means `cud`. Scopes with search restrictions
//! (`system/Observation.rs?category=…`) and user or patient context are not offered: a
//! partner system acts for its organisation, not for a person.

use std::collections::BTreeMap;
use std::fmt;

/// One kind of access a scope can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Interaction {
    const ALL: [Interaction; 5] = [
        Interaction::Create,
        Interaction::Read,
        Interaction::Update,
        Interaction::Delete,
        Interaction::Search,
    ];

    fn bit(self) -> u8 {
        match self {
            Interaction::Create => 1,
            Interaction::Read => 2,
            Interaction::Update => 4,
            Interaction::Delete => 8,
            Interaction::Search => 16,
        }
    }

    fn letter(self) -> char {
        match self {
            Interaction::Create => 'c',
            Interaction::Read => 'r',
            Interaction::Update => 'u',
            Interaction::Delete => 'd',
            Interaction::Search => 's',
        }
    }
}

/// A set of interactions (bits of [`Interaction::bit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Rights(u8);

impl Rights {
    fn has(self, i: Interaction) -> bool {
        self.0 & i.bit() != 0
    }
    fn covers(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The resource types a scope may name: what the gateway serves (FHIR) and maps its JSON API
/// onto. `*` names them all.
pub const RESOURCE_TYPES: &[&str] = &[
    "AuditEvent",
    "CareTeam",
    "Consent",
    "Encounter",
    "Group",
    "HealthcareService",
    "Location",
    "Observation",
    "Organization",
    "Patient",
    "PractitionerRole",
    "RelatedPerson",
    "ServiceRequest",
    "Subscription",
    "Task",
];

/// One parsed scope: a resource type (or `*`) and the interactions it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// A name of [`RESOURCE_TYPES`] or `*`.
    pub resource: String,
    rights: Rights,
}

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// Not `system/<Type>.<permissions>`.
    Syntax(String),
    /// A resource type this gateway does not serve.
    UnknownResource(String),
    /// User or patient context, or search restrictions: not offered.
    NotOffered(String),
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeError::Syntax(s) => write!(f, "{s:?} is not a scope (system/<Type>.<cruds>)"),
            ScopeError::UnknownResource(s) => write!(f, "{s:?} names no resource type served here"),
            ScopeError::NotOffered(s) => write!(
                f,
                "{s:?} is not offered: only system scopes without search restrictions"
            ),
        }
    }
}

impl Scope {
    /// Parses one scope of either syntax.
    pub fn parse(raw: &str) -> Result<Scope, ScopeError> {
        let syntax = || ScopeError::Syntax(raw.chars().take(80).collect());
        if raw.contains('?') {
            return Err(ScopeError::NotOffered(raw.chars().take(80).collect()));
        }
        let (context, rest) = raw.split_once('/').ok_or_else(syntax)?;
        match context {
            "system" => {}
            "user" | "patient" => return Err(ScopeError::NotOffered(raw.into())),
            _ => return Err(syntax()),
        }
        let (resource, permissions) = rest.split_once('.').ok_or_else(syntax)?;
        if resource != "*" && !RESOURCE_TYPES.contains(&resource) {
            return Err(
                if resource.chars().all(|c| c.is_ascii_alphabetic()) && !resource.is_empty() {
                    ScopeError::UnknownResource(resource.into())
                } else {
                    syntax()
                },
            );
        }
        let rights = match permissions {
            "read" => Rights(Interaction::Read.bit() | Interaction::Search.bit()),
            "write" => Rights(
                Interaction::Create.bit() | Interaction::Update.bit() | Interaction::Delete.bit(),
            ),
            "*" => Rights(31),
            letters => {
                // v2: a non-empty subsequence of "cruds", in that order
                let mut rights = 0u8;
                let mut order = Interaction::ALL.iter();
                for ch in letters.chars() {
                    let found = order
                        .by_ref()
                        .find(|i| i.letter() == ch)
                        .ok_or_else(syntax)?;
                    rights |= found.bit();
                }
                if rights == 0 {
                    return Err(syntax());
                }
                Rights(rights)
            }
        };
        Ok(Scope {
            resource: resource.into(),
            rights,
        })
    }

    /// The v2 spelling (`system/Patient.rs`).
    pub fn canonical(&self) -> String {
        let letters: String = Interaction::ALL
            .iter()
            .filter(|i| self.rights.has(**i))
            .map(|i| i.letter())
            .collect();
        format!("system/{}.{letters}", self.resource)
    }
}

/// What a client holds: the union of its scopes, per resource type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes {
    by_resource: BTreeMap<String, Rights>,
}

impl Scopes {
    /// Parses a space-separated scope string (as in a token request or a token's `scope` claim).
    /// Scopes that are not SMART system scopes (`openid`, `offline_access`, …) are refused too:
    /// a backend client has no use for them.
    pub fn parse(raw: &str) -> Result<Scopes, ScopeError> {
        Self::from_list(raw.split_ascii_whitespace())
    }

    pub fn from_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Scopes, ScopeError> {
        let mut s = Scopes::default();
        for item in items {
            let scope = Scope::parse(item)?;
            let entry = s.by_resource.entry(scope.resource).or_default();
            entry.0 |= scope.rights.0;
        }
        Ok(s)
    }

    pub fn is_empty(&self) -> bool {
        self.by_resource.values().all(|r| r.0 == 0)
    }

    /// May the holder do `interaction` on `resource`?
    pub fn permits(&self, resource: &str, interaction: Interaction) -> bool {
        [resource, "*"].iter().any(|r| {
            self.by_resource
                .get(*r)
                .is_some_and(|rights| rights.has(interaction))
        })
    }

    /// Is everything `other` grants also granted here?
    pub fn covers(&self, other: &Scopes) -> bool {
        other.by_resource.iter().all(|(resource, wanted)| {
            let mut held = self.by_resource.get(resource).copied().unwrap_or_default();
            if let Some(all) = self.by_resource.get("*") {
                held.0 |= all.0;
            }
            held.covers(*wanted)
        })
    }

    /// What both grant.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        let mut out = Scopes::default();
        let resources = self.by_resource.keys().chain(other.by_resource.keys());
        for r in resources.filter(|r| *r != "*") {
            let rights = Interaction::ALL
                .iter()
                .filter(|i| self.permits(r, **i) && other.permits(r, **i))
                .fold(0u8, |acc, i| acc | i.bit());
            if rights != 0 {
                out.by_resource.insert(r.clone(), Rights(rights));
            }
        }
        let both_all = Interaction::ALL
            .iter()
            .filter(|i| {
                self.by_resource.get("*").is_some_and(|x| x.has(**i))
                    && other.by_resource.get("*").is_some_and(|x| x.has(**i))
            })
            .fold(0u8, |acc, i| acc | i.bit());
        if both_all != 0 {
            out.by_resource.insert("*".into(), Rights(both_all));
        }
        out
    }

    /// The v2 spelling, one scope per resource type, sorted: what a token says it grants.
    pub fn canonical(&self) -> String {
        self.by_resource
            .iter()
            .filter(|(_, r)| r.0 != 0)
            .map(|(resource, rights)| {
                Scope {
                    resource: resource.clone(),
                    rights: *rights,
                }
                .canonical()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a token request may be granted: the requested scopes, when the client's registration
/// covers every one of them. A request for more is refused as a whole (`invalid_scope`) rather
/// than quietly narrowed, so a misconfigured client learns of it at once.
pub fn grant(registered: &Scopes, requested: &str) -> Result<Scopes, GrantError> {
    let wanted = Scopes::parse(requested).map_err(GrantError::Invalid)?;
    if wanted.is_empty() {
        return Err(GrantError::Empty);
    }
    if !registered.covers(&wanted) {
        return Err(GrantError::NotRegistered);
    }
    Ok(wanted)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    Invalid(ScopeError),
    Empty,
    NotRegistered,
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantError::Invalid(e) => e.fmt(f),
            GrantError::Empty => f.write_str("name at least one scope"),
            GrantError::NotRegistered => {
                f.write_str("a requested scope is beyond what this client is registered for")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_syntaxes_mean_the_same() {
        assert_eq!(
            Scopes::parse("system/Patient.read").unwrap(),
            Scopes::parse("system/Patient.rs").unwrap()
        );
        assert_eq!(
            Scopes::parse("system/Task.write").unwrap(),
            Scopes::parse("system/Task.cud").unwrap()
        );
        assert_eq!(
            Scopes::parse("system/Task.*").unwrap(),
            Scopes::parse("system/Task.cruds").unwrap()
        );
        let s = Scopes::parse("system/Patient.rs system/Task.u").unwrap();
        assert!(s.permits("Patient", Interaction::Read));
        assert!(s.permits("Patient", Interaction::Search));
        assert!(!s.permits("Patient", Interaction::Create));
        assert!(s.permits("Task", Interaction::Update));
        assert!(!s.permits("Task", Interaction::Read));
        assert!(!s.permits("Consent", Interaction::Read));
        let all = Scopes::parse("system/*.read").unwrap();
        assert!(all.permits("Consent", Interaction::Search));
        assert!(!all.permits("Consent", Interaction::Create));
        assert_eq!(s.canonical(), "system/Patient.rs system/Task.u");
    }

    #[test]
    fn what_is_not_a_system_scope_is_refused() {
        for bad in [
            "",
            "openid",
            "system/Patient",
            "system/Patient.",
            "system/Patient.sr",
            "system/Patient.rr",
            "system/Patient.x",
            "system/Patient.readwrite",
            "patient/Patient.read",
            "user/Patient.rs",
            "system/Observation.rs?category=laboratory",
            "system/Medication.rs",
            "system/../Patient.rs",
            "launch/patient",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            Scope::parse("user/Patient.rs"),
            Err(ScopeError::NotOffered(_))
        ));
        assert!(matches!(
            Scope::parse("system/Medication.rs"),
            Err(ScopeError::UnknownResource(_))
        ));
    }

    #[test]
    fn a_grant_is_what_was_asked_and_registered_or_nothing() {
        let registered = Scopes::parse("system/Patient.rs system/Task.cruds").unwrap();
        assert_eq!(
            grant(&registered, "system/Patient.read")
                .unwrap()
                .canonical(),
            "system/Patient.rs"
        );
        assert_eq!(
            grant(&registered, "system/Patient.rs system/Consent.rs"),
            Err(GrantError::NotRegistered)
        );
        assert_eq!(
            grant(&registered, "system/Patient.c"),
            Err(GrantError::NotRegistered)
        );
        assert_eq!(grant(&registered, "  "), Err(GrantError::Empty));
        assert!(matches!(
            grant(&registered, "openid"),
            Err(GrantError::Invalid(_))
        ));
        let wildcard = Scopes::parse("system/*.rs").unwrap();
        assert!(grant(&wildcard, "system/Consent.r system/Patient.s").is_ok());
        assert_eq!(
            grant(&wildcard, "system/*.c"),
            Err(GrantError::NotRegistered)
        );
    }

    fn scope_string() -> impl Strategy<Value = String> {
        let resource = prop::sample::select(
            RESOURCE_TYPES
                .iter()
                .copied()
                .chain(["*"])
                .collect::<Vec<_>>(),
        );
        let perms = prop::sample::subsequence(vec!['c', 'r', 'u', 'd', 's'], 1..=5)
            .prop_map(|v| v.into_iter().collect::<String>());
        let perms = prop_oneof![
            perms,
            Just("read".to_string()),
            Just("write".to_string()),
            Just("*".to_string())
        ];
        (resource, perms).prop_map(|(r, p)| format!("system/{r}.{p}"))
    }

    proptest! {
        /// The canonical spelling parses back to the same grant.
        #[test]
        fn canonical_round_trips(list in prop::collection::vec(scope_string(), 1..6)) {
            let s = Scopes::parse(&list.join(" ")).unwrap();
            prop_assert_eq!(Scopes::parse(&s.canonical()).unwrap(), s);
        }

        /// A grant never permits anything the registration does not.
        #[test]
        fn a_grant_stays_within_the_registration(
            registered in prop::collection::vec(scope_string(), 1..6),
            requested in prop::collection::vec(scope_string(), 1..6),
        ) {
            let reg = Scopes::parse(&registered.join(" ")).unwrap();
            if let Ok(granted) = grant(&reg, &requested.join(" ")) {
                for r in RESOURCE_TYPES {
                    for i in Interaction::ALL {
                        prop_assert!(!granted.permits(r, i) || reg.permits(r, i), "{} {:?}", r, i);
                    }
                }
            }
        }

        /// Every registration covers itself: a client may always ask for all it has.
        #[test]
        fn a_registration_grants_itself(list in prop::collection::vec(scope_string(), 1..6)) {
            let reg = Scopes::parse(&list.join(" ")).unwrap();
            prop_assert!(grant(&reg, &list.join(" ")).is_ok());
        }

        /// The intersection permits exactly what both permit.
        #[test]
        fn intersection_is_what_both_permit(
            a in prop::collection::vec(scope_string(), 1..6),
            b in prop::collection::vec(scope_string(), 1..6),
        ) {
            let (a, b) = (Scopes::parse(&a.join(" ")).unwrap(), Scopes::parse(&b.join(" ")).unwrap());
            let both = a.intersection(&b);
            for r in RESOURCE_TYPES {
                for i in Interaction::ALL {
                    prop_assert_eq!(both.permits(r, i), a.permits(r, i) && b.permits(r, i), "{} {:?}", r, i);
                }
            }
        }

        /// Arbitrary strings never panic.
        #[test]
        fn parsing_never_panics(raw in ".{0,60}") {
            let _ = Scopes::parse(&raw);
        }
    }
}
