//! Pure rules of the gateway: no I/O, no database, no HTTP. Handlers call these to decide;
//! the store only persists what was decided. Everything here is unit- and property-tested.

pub mod access;
pub mod calendar;
pub mod children;
pub mod consent;
pub mod consultation;
pub mod disclosure;
pub mod figures;
pub mod group_consultation;
pub mod regions;
pub mod registry;
pub mod retention;
pub mod routing;
pub mod scopes;
pub mod types;
pub mod validate;

pub use validate::{FieldError, Validation};
