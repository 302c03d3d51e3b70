//! The gateway's vocabulary: closed value sets as enums (stored and sent as snake_case text)
//! and parsed newtypes for codes, so a handler never passes a raw string to the store.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A text value that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value for {kind}")]
pub struct UnknownValue {
    pub kind: &'static str,
}

/// Declares a closed set of values with its wire/storage spelling, `ALL`, `as_str`, `FromStr`
/// and `Display`, serde and an OpenAPI schema.
#[macro_export]
macro_rules! text_enum {
    ($(#[doc = $doc:literal])* pub enum $name:ident { $($(#[doc = $vdoc:literal])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[doc = $vdoc])* #[serde(rename = $s)] $variant),+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire and storage spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }
        // written out rather than derived: the schema's values are the wire spellings, each
        // explained by its doc comment
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let description = concat!(
                    $($doc, "\n",)* "\n",
                    $("- `", $s, "`:", $($vdoc,)* "\n",)+
                );
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($s),+]))
                    .description(Some(description.trim()))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
        impl std::str::FromStr for $name {
            type Err = $crate::domain::types::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err($crate::domain::types::UnknownValue { kind: stringify!($name) }),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// What kind of organisation takes part.
    pub enum OrganizationKind {
        /// *kinderopvang*: a childcare organisation.
        Childcare => "childcare",
        /// *jeugdhulpaanbieder*: a youth-care provider.
        YouthCare => "youth_care",
        /// *gemeente*: a municipality (policy staff only).
        Municipality => "municipality",
    }
}

text_enum! {
    /// Kind of childcare location.
    pub enum LocationType {
        /// *kinderdagverblijf*: day nursery, 0–4 years.
        Kdv => "kdv",
        /// *buitenschoolse opvang*: after-school care, 4–13 years.
        Bso => "bso",
        /// *peuterspeelzaal / peuteropvang*: 2–4 years.
        Psz => "psz",
        /// *gastouderopvang*: childminder.
        Gob => "gob",
    }
}

text_enum! {
    /// A role a token can carry.
    pub enum Role {
        /// *pedagogisch medewerker* acting as mentor of children at their locations.
        Mentor => "mentor",
        /// Youth-care specialist (orthopedagoog, speech therapist, …).
        Specialist => "specialist",
        /// Youth-care regional coordinator.
        Coordinator => "coordinator",
        /// *beleidsmedewerker*: figures only.
        Policy => "policy",
        /// A partner system acting for its organisation.
        Integration => "integration",
        /// Operates the gateway: registry and reference data, no child data.
        Admin => "admin",
    }
}

impl Role {
    /// Roles whose token must match a staff record (`org` + `sub`).
    pub fn requires_staff_record(self) -> bool {
        matches!(self, Role::Mentor | Role::Specialist | Role::Coordinator)
    }
}

text_enum! {
    /// The role a staff record is for (tokens of these roles must match a record).
    pub enum StaffRole {
        Mentor => "mentor",
        Specialist => "specialist",
        Coordinator => "coordinator",
        Policy => "policy",
    }
}

impl From<StaffRole> for Role {
    fn from(r: StaffRole) -> Role {
        match r {
            StaffRole::Mentor => Role::Mentor,
            StaffRole::Specialist => Role::Specialist,
            StaffRole::Coordinator => Role::Coordinator,
            StaffRole::Policy => Role::Policy,
        }
    }
}

text_enum! {
    /// Developmental domain of a concern; also a specialist's expertise.
    pub enum ConcernDomain {
        Language => "language",
        Motor => "motor",
        SocialEmotional => "social_emotional",
        Cognitive => "cognitive",
        Behaviour => "behaviour",
        /// Care and upbringing (*opvoeding en verzorging*).
        Care => "care",
    }
}

text_enum! {
    /// Where the record of parental authority (*gezag*) came from.
    pub enum AuthoritySource {
        /// Declared by the parent or noted by staff.
        Declared => "declared",
        /// Checked in the *gezagsregister* (court register of parental authority).
        Gezagsregister => "gezagsregister",
    }
}

text_enum! {
    /// A guardian's relation to the child.
    pub enum Relationship {
        Parent => "parent",
        FosterParent => "foster_parent",
        /// A court-appointed guardian (*voogd*).
        Guardian => "guardian",
        Other => "other",
    }
}

/// Declares a code newtype that is validated on parse: a fixed prefix followed by `digits` digits.
macro_rules! code_type {
    ($(#[$m:meta])* $name:ident, $prefix:literal, $digits:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let s = s.trim();
                let upper = s.to_ascii_uppercase();
                match upper.strip_prefix($prefix) {
                    Some(rest) if rest.len() == $digits && rest.bytes().all(|b| b.is_ascii_digit()) => {
                        Ok(Self(upper))
                    }
                    _ => Err(format!(
                        "must be {} followed by {} digits",
                        $prefix, $digits
                    )),
                }
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }
        impl From<$name> for String {
            fn from(c: $name) -> String {
                c.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "[0-9]{", $digits, "}$")))
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

code_type!(
    /// CBS municipality code (*gemeentecode*), `GM` and four digits.
    MunicipalityCode,
    "GM",
    4
);
code_type!(
    /// CBS youth-care region code (*jeugdregio*), `JZ` and two digits.
    RegionCode,
    "JZ",
    2
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn enums_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
            assert_eq!(
                serde_json::to_string(r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert!("Mentor".parse::<Role>().is_err());
    }

    #[test]
    fn codes() {
        assert_eq!(
            "gm0344".parse::<MunicipalityCode>().unwrap().as_str(),
            "GM0344"
        );
        assert!("GM344".parse::<MunicipalityCode>().is_err());
        assert!("GM03445".parse::<MunicipalityCode>().is_err());
        assert!("JZ1".parse::<RegionCode>().is_err());
        assert!("JZ1a".parse::<RegionCode>().is_err());
        assert_eq!("JZ07".parse::<RegionCode>().unwrap().to_string(), "JZ07");
    }

    proptest! {
        #[test]
        fn municipality_code_accepts_exactly_gm_and_four_digits(s in "\\PC{0,8}") {
            let t = s.trim();
            let ok = t.len() == 6
                && t.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("GM"))
                && t.get(2..).is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(s.parse::<MunicipalityCode>().is_ok(), ok);
        }
    }
}
