//! The rules' enums as database values: each is stored as its wire spelling in a TEXT column
//! and read back typed, so a row holds `ConsultationStatus`, not a string to parse. A value
//! the enum does not know is a decode error (a broken database), never a silent default.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};
use std::str::FromStr;

/// An enum stored as text: the `text_enum!` types of `domain`.
pub trait Text: Copy + FromStr + 'static {
    fn text(self) -> &'static str;
}

macro_rules! stored_as_text {
    ($($t:ty),+ $(,)?) => {$(
        impl Text for $t {
            fn text(self) -> &'static str {
                self.as_str()
            }
        }
        impl<DB: Database> Type<DB> for $t
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }
        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            &'q str: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <&'q str as Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }
        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let s = <&'r str as Decode<'r, DB>>::decode(value)?;
                s.parse::<$t>()
                    .map_err(|_| format!("{s:?} is not a {}", stringify!($t)).into())
            }
        }
    )+};
}

use crate::domain::consent::{
    ConsentMethod, ConsentStatus, Decision, LinkHolder, LinkKind, Purpose,
};
use crate::domain::consultation::{
    Competence, ConsultationStatus, Outcome, Participant, Urgency, VisitKind, VisitStatus,
};
use crate::domain::types::{
    AuthoritySource, ConcernDomain, LocationType, OrganizationKind, Relationship, StaffRole,
};

stored_as_text!(
    Purpose,
    Decision,
    ConsentMethod,
    ConsentStatus,
    ConsultationStatus,
    Urgency,
    VisitKind,
    VisitStatus,
    Participant,
    Competence,
    Outcome,
    ConcernDomain,
    OrganizationKind,
    LocationType,
    StaffRole,
    Relationship,
    AuthoritySource,
    LinkKind,
    LinkHolder,
);

/// A set of enum values in one TEXT column, comma-separated (the form the figures read).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextSet<T>(pub Vec<T>);

impl<T: Text> TextSet<T> {
    pub fn joined(&self) -> String {
        self.0
            .iter()
            .map(|v| v.text())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl<T> std::ops::Deref for TextSet<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Text, DB: Database> Type<DB> for TextSet<T>
where
    str: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <str as Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <str as Type<DB>>::compatible(ty)
    }
}

impl<'q, T: Text, DB: Database> Encode<'q, DB> for TextSet<T>
where
    String: Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, DB>>::encode(self.joined(), buf)
    }
}

impl<'r, T: Text, DB: Database> Decode<'r, DB> for TextSet<T>
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = <&'r str as Decode<'r, DB>>::decode(value)?;
        s.split(',')
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| BoxDynError::from(format!("{v:?} is not a known value")))
            })
            .collect::<Result<Vec<T>, _>>()
            .map(TextSet)
    }
}
