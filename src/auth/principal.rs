//! The authenticated caller. A middleware on the bearer-protected routes verifies the token,
//! links it to its staff record and stores the [`Principal`] in the request; handlers take
//! it as an extractor.

use super::AuthError;
use crate::audit::AuditActor;
use crate::domain::access::Actor;
use crate::domain::types::{RegionCode, Role};
use crate::error::{current_request_id, ApiError};
use crate::store::StaffRecord;
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

/// Who is calling, as established from the token and the staff registry.
#[derive(Debug, Clone)]
pub struct Principal {
    pub issuer: String,
    pub subject: String,
    /// Roles from the token, those requiring a staff record kept only when the record has that role.
    pub roles: Vec<Role>,
    pub organization_id: Option<Uuid>,
    pub staff: Option<StaffRecord>,
    /// A SMART client's granted scopes: what it may do, per FHIR resource type, on every door.
    /// `None` for people and for partner tokens of a trusted identity provider (their role
    /// alone decides).
    pub scopes: Option<crate::domain::scopes::Scopes>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Does the caller's scope allow `interaction` on `resource` (a FHIR resource type)? Always
    /// for callers without scopes; the role and the rules still decide what they may touch.
    pub fn permits(&self, resource: &str, interaction: crate::domain::scopes::Interaction) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.permits(resource, interaction))
    }

    /// The pure view the access rules decide on.
    pub fn actor(&self) -> Actor {
        Actor {
            roles: self.roles.clone(),
            organization_id: self.organization_id,
            staff_id: self.staff.as_ref().map(|s| s.staff.id),
            location_ids: self
                .staff
                .as_ref()
                .map(|s| s.location_ids.clone())
                .unwrap_or_default(),
            region_codes: self
                .staff
                .as_ref()
                .map(|s| {
                    s.region_codes
                        .iter()
                        .filter_map(|c| c.parse::<RegionCode>().ok())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Who to name in the access log, acting in `role`.
    pub fn audit_actor(&self, role: Role) -> AuditActor {
        AuditActor {
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            role: role.as_str().to_string(),
            organization_id: self.organization_id,
            staff_id: self.staff.as_ref().map(|s| s.staff.id),
            request_id: current_request_id(),
        }
    }
}

fn unauthorized(reason: &AuthError) -> ApiError {
    tracing::info!(reason = %reason, "token refused");
    ApiError::unauthorized("a valid bearer token is required")
}

/// The principal of a web session's login (claims checked at login), or `None` when they no
/// longer match an active staff record. The reason goes to the log.
pub async fn principal_of(state: &AppState, claims: super::Claims) -> Option<Principal> {
    match principal_from(state, claims).await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::info!(status = %e.status, "a session's login no longer holds");
            None
        }
    }
}

/// Establishes the principal from `claims`.
async fn principal_from(state: &AppState, claims: super::Claims) -> Result<Principal, ApiError> {
    let mut roles: Vec<Role> = claims.roles.iter().filter_map(|r| r.parse().ok()).collect();
    roles.sort();
    roles.dedup();
    let organization_id = match claims.org.as_deref() {
        Some(org) => Some(
            org.parse::<Uuid>()
                .map_err(|_| unauthorized(&AuthError::Malformed))?,
        ),
        None => None,
    };
    if roles.is_empty() {
        return Err(ApiError::forbidden(
            "the token carries no role of this gateway",
        ));
    }
    let needs_org = roles.iter().any(|r| *r != Role::Admin);
    if needs_org && organization_id.is_none() {
        return Err(ApiError::forbidden(
            "the token names no organisation (org claim)",
        ));
    }
    let mut scopes = None;
    if claims.iss == super::smart::SMART_ISSUER {
        scopes = Some(smart_client_scopes(state, &claims, &roles, organization_id).await?);
    }
    let mut staff = None;
    if roles
        .iter()
        .any(|r| r.requires_staff_record() || *r == Role::Policy)
    {
        if let Some(org) = organization_id {
            staff = state.store.staff_by_subject(org, &claims.sub).await?;
        }
        let staff_role = staff.as_ref().map(|s| Role::from(s.staff.role));
        roles.retain(|r| !r.requires_staff_record() || Some(*r) == staff_role);
        if roles.is_empty() {
            return Err(ApiError::forbidden(
                "no active staff record of this organisation matches the token's subject and role",
            ));
        }
    }
    Ok(Principal {
        issuer: claims.iss,
        subject: claims.sub,
        roles,
        organization_id,
        staff,
        scopes,
    })
}

/// A SMART access token holds while its client is registered, active and of the organisation
/// it names: deactivating a client ends its tokens at once, on every replica.
async fn smart_client_scopes(
    state: &AppState,
    claims: &super::Claims,
    roles: &[Role],
    organization_id: Option<Uuid>,
) -> Result<crate::domain::scopes::Scopes, ApiError> {
    let refused = |why: &str| {
        tracing::info!(reason = why, "SMART access token refused");
        ApiError::unauthorized("a valid bearer token is required")
    };
    if roles != [Role::Integration] {
        return Err(refused("an access token acts as an integration only"));
    }
    let id: Uuid = claims
        .sub
        .parse()
        .map_err(|_| refused("subject is not a client id"))?;
    let registered = match state.store.get_client(id).await? {
        Some(c) if c.active && Some(c.organization_id) == organization_id => c.scopes,
        Some(_) => return Err(refused("client deactivated or moved")),
        None => return Err(refused("client unknown")),
    };
    let granted = crate::domain::scopes::Scopes::parse(claims.scope.as_deref().unwrap_or(""))
        .map_err(|_| refused("scope claim unreadable"))?;
    // narrowing a registration narrows the tokens already out
    let registered = crate::domain::scopes::Scopes::parse(&registered).unwrap_or_default();
    Ok(granted.intersection(&registered))
}

/// Middleware: a request without a valid token gets a 401 here and reaches no handler.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return unauthorized(&AuthError::Missing).into_response();
    };
    let claims = match state.auth.verify(token).await {
        Ok(c) => c,
        Err(e) => return unauthorized(&e).into_response(),
    };
    match principal_from(&state, claims).await {
        Ok(p) => {
            tracing::Span::current().record("subject", p.subject.as_str());
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The principal of a request's bearer token, for doors with their own error shape (FHIR).
pub async fn principal_of_request(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Principal, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| unauthorized(&AuthError::Missing))?;
    let claims = state
        .auth
        .verify(token)
        .await
        .map_err(|e| unauthorized(&e))?;
    principal_from(state, claims).await
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("a valid bearer token is required"))
    }
}
