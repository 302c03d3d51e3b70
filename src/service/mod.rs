//! The workflow: one set of operations every door calls (the JSON API, the web pages, the FHIR
//! facade, the background jobs, the command line). An operation takes the [`Caller`] and typed
//! input; it authorises, checks consent, lets `domain` decide, stores, and writes the access-log
//! entry and the outbox rows with the change; it returns typed data or a [`ServiceError`]. It
//! knows nothing of HTTP: no status codes, headers or routes. What a caller may see of a
//! resource (the child's question before acceptance, visit notes, who consented) is decided
//! here or in `domain` and returned as data, so a door that renders it cannot leak more.
//!
//! One module per aggregate. Imports run one way: `domain` ← `store` ← `service` ← doors.

pub mod audit;
pub mod children;
pub mod consent;
pub mod consultations;
pub mod figures;
pub mod mail;
pub mod paging;
pub mod parent;
pub mod registry;
pub mod retention;
pub mod smart;
pub mod visits;
pub mod webhooks;

use crate::audit::AuditActor;
use crate::auth::Principal;
use crate::domain::consent::{Giver, RuleFailure};
use crate::domain::types::Role;
use crate::domain::FieldError;
use crate::store::StoreError;

/// What every operation works with: the store, the keys, the settings.
pub type Ctx = crate::AppState;

/// Who calls an operation. Built once per request and passed by reference, so the size of the
/// principal variant costs nothing worth a box.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Caller {
    /// A person or partner system with a verified bearer token or session.
    Principal(Principal),
    /// A background job of the gateway itself.
    System(&'static str),
}

impl Caller {
    /// The access-log actor for acting in `role`.
    pub fn audit_actor(&self, role: Role) -> AuditActor {
        match self {
            Caller::Principal(p) => p.audit_actor(role),
            Caller::System(job) => system_actor(job),
        }
    }
}

/// The access-log actor of a background job.
pub fn system_actor(job: &str) -> AuditActor {
    AuditActor {
        issuer: "kindbrug".into(),
        subject: job.into(),
        role: "system".into(),
        organization_id: None,
        staff_id: None,
        request_id: crate::error::current_request_id(),
    }
}

/// Why an operation did not happen. Each door renders it in its own form (problem+json, an
/// OperationOutcome, a Dutch message beside the field). `code`s are stable.
#[derive(Debug)]
pub enum ServiceError {
    /// Unknown, or not the caller's: the two are answered alike.
    NotFound { code: &'static str, detail: String },
    /// Known to the caller, and not allowed (or no longer: `rules` say why).
    Forbidden {
        code: &'static str,
        detail: String,
        rules: Vec<&'static str>,
    },
    /// Fields that break a rule, each named.
    Validation(Vec<FieldError>),
    /// A request that cannot mean anything (a cursor not handed out, a missing parameter).
    BadRequest(String),
    /// A consent rule the decision does not meet, each failure named.
    Rule {
        failures: Vec<RuleFailure>,
        field: String,
    },
    /// The state of things does not allow it (an illegal transition, consent not in force, a
    /// record used already). `missing` names who still must consent, for those who may know.
    Conflict {
        code: &'static str,
        detail: String,
        current_status: Option<String>,
        missing: Option<Vec<Giver>>,
        reasons: Vec<RuleFailure>,
    },
    /// The version the change was based on is not the current one.
    Stale,
    /// A change that must name the version it was based on did not.
    PreconditionRequired(String),
    /// Was there, is no longer usable (an expired link).
    Gone { code: &'static str, detail: String },
    /// Too many attempts from this client.
    TooManyRequests {
        detail: String,
        retry_after_seconds: u64,
    },
    /// An idempotency key used with another request.
    IdempotencyKeyReused,
    /// Not now: try again after a while.
    Unavailable {
        detail: String,
        retry_after_seconds: u64,
    },
    /// Something the caller cannot fix; the cause is logged, never shown.
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound { detail, .. }
            | Self::Forbidden { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::Gone { detail, .. }
            | Self::TooManyRequests { detail, .. }
            | Self::Unavailable { detail, .. }
            | Self::PreconditionRequired(detail)
            | Self::BadRequest(detail) => write!(f, "{}: {detail}", self.code()),
            Self::Internal(cause) => write!(f, "internal: {cause}"),
            other => f.write_str(other.code()),
        }
    }
}

impl std::error::Error for ServiceError {}

impl ServiceError {
    pub fn not_found(what: &str) -> Self {
        Self::NotFound {
            code: "not-found",
            detail: format!("{what} not found"),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden {
            code: "forbidden",
            detail: detail.into(),
            rules: Vec::new(),
        }
    }

    pub fn field(field: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::Validation(errors)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    pub fn rule(failures: Vec<RuleFailure>, field: &str) -> Self {
        Self::Rule {
            failures,
            field: field.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
            current_status: None,
            missing: None,
            reasons: Vec::new(),
        }
    }

    /// A conflict that names the status the resource is in.
    pub fn in_status(mut self, status: &str) -> Self {
        if let Self::Conflict { current_status, .. } = &mut self {
            *current_status = Some(status.to_string());
        }
        self
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let cause = cause.to_string();
        tracing::error!(request_id = %crate::error::current_request_id(), error = %cause, "internal error");
        Self::Internal(cause)
    }

    /// The stable code of the refusal (for jobs that skip what another replica did first).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Gone { code, .. } => code,
            Self::Validation(_) => "validation",
            Self::BadRequest(_) => "bad-request",
            Self::Rule { .. } => "consent-rule",
            Self::Stale => "stale",
            Self::PreconditionRequired(_) => "if-match-required",
            Self::TooManyRequests { .. } => "rate-limited",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// A refusal the caller could have avoided (as opposed to the gateway failing).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Internal(_) | Self::Unavailable { .. })
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::not_found("resource"),
            StoreError::AlreadyExists => {
                ServiceError::conflict("duplicate", "a record with this key exists already")
            }
            StoreError::ConsentChanged => ServiceError::conflict(
                "consent-required",
                "the consent changed meanwhile; check consent and try again",
            ),
            StoreError::NoCapacity => {
                ServiceError::conflict("specialist-full", "the specialist has no free capacity")
            }
            e @ (StoreError::MissingReference
            | StoreError::CheckViolation
            | StoreError::NotApplicable) => ServiceError::conflict("conflict", e.to_string()),
            StoreError::Stale => ServiceError::Stale,
            // the database is away (restarting, unreachable, the pool exhausted): not the
            // caller's fault, and worth a retry shortly
            e @ (StoreError::Unavailable(_)
            | StoreError::Database(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            )) => {
                tracing::warn!(error = %e, "the database is not answering");
                ServiceError::Unavailable {
                    detail: "the database is not answering; try again shortly".into(),
                    retry_after_seconds: 5,
                }
            }
            StoreError::Database(sqlx::Error::Database(d))
                if d.code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                tracing::warn!(code = ?d.code(), "the database is shutting down or restarting");
                ServiceError::Unavailable {
                    detail: "the database is not answering; try again shortly".into(),
                    retry_after_seconds: 5,
                }
            }
            other => ServiceError::internal(other),
        }
    }
}

impl From<crate::crypto::CryptoError> for ServiceError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        ServiceError::internal(e)
    }
}

/// A page of a list; pass `next_cursor` as `cursor` for the next page (absent on the last).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Ready to serve: the database answers and every migration is applied.
pub async fn ready(state: &Ctx) -> bool {
    state.store.ready().await
}

/// What an operator watches (pools, outbox, checkpoint), for `/metrics`: no child in it.
pub async fn ops_stats(state: &Ctx) -> ServiceResult<crate::store::OpsStats> {
    Ok(state.store.ops_stats().await?)
}

/// Where the web pages keep their sessions: the store's own database, for both backends.
pub fn web_sessions(state: &Ctx) -> crate::store::sessions::WebSessions {
    state.store.web_sessions()
}
