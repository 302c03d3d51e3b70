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
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What this replica remembers of whom callers are: staff records by token `org` + `sub`, and
/// SMART clients by id, each tagged with the store's [scope version] read *before* it was
/// loaded. An entry is served only while the version still reads the same (a change to staff,
/// their links, locations, organisations or clients moves it, by trigger, in the change's
/// transaction), so a deactivated staff member or client is refused on the very next request
/// on every replica; one read of the counter replaces the four lookups of a staff record.
/// Entries also expire after [`SCOPE_CACHE_TTL`] as a second line, and the cache is emptied
/// when it reaches [`SCOPE_CACHE_MAX`] entries (only callers with a valid token get this far).
///
/// [scope version]: crate::store::RegistryStore::scope_version
#[derive(Default)]
pub struct ScopeCache {
    staff: Memo<(Uuid, String), Option<StaffRecord>>,
    clients: Memo<Uuid, Option<crate::store::SmartClientRow>>,
}

/// Values by key, each with the scope version it was loaded under.
type Memo<K, T> = Mutex<HashMap<K, Cached<T>>>;

struct Cached<T> {
    version: i64,
    loaded: Instant,
    value: T,
}

/// How long a cached principal is trusted even when nothing moved the version.
pub const SCOPE_CACHE_TTL: Duration = Duration::from_secs(30);
/// Entries per kind before the cache starts over.
pub const SCOPE_CACHE_MAX: usize = 50_000;

impl ScopeCache {
    fn get<K: std::hash::Hash + Eq, T: Clone>(
        map: &Memo<K, T>,
        key: &K,
        version: i64,
    ) -> Option<T> {
        let map = map.lock().unwrap_or_else(|p| p.into_inner());
        let hit = map.get(key)?;
        (hit.version == version && hit.loaded.elapsed() < SCOPE_CACHE_TTL)
            .then(|| hit.value.clone())
    }

    fn put<K: std::hash::Hash + Eq, T>(map: &Memo<K, T>, key: K, version: i64, value: T) {
        let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SCOPE_CACHE_MAX {
            map.clear();
        }
        map.insert(
            key,
            Cached {
                version,
                loaded: Instant::now(),
                value,
            },
        );
    }

    /// The active staff record of `org` + `subject`, from the cache while `version` holds.
    async fn staff(
        &self,
        state: &AppState,
        version: i64,
        org: Uuid,
        subject: &str,
    ) -> crate::store::StoreResult<Option<StaffRecord>> {
        let key = (org, subject.to_string());
        if let Some(hit) = Self::get(&self.staff, &key, version) {
            metrics::counter!("kindbrug_principal_cache_total", "result" => "hit").increment(1);
            return Ok(hit);
        }
        metrics::counter!("kindbrug_principal_cache_total", "result" => "miss").increment(1);
        let loaded = state.store.staff_by_subject(org, subject).await?;
        Self::put(&self.staff, key, version, loaded.clone());
        Ok(loaded)
    }

    /// The registered SMART client `id`, from the cache while `version` holds.
    async fn client(
        &self,
        state: &AppState,
        version: i64,
        id: Uuid,
    ) -> crate::store::StoreResult<Option<crate::store::SmartClientRow>> {
        if let Some(hit) = Self::get(&self.clients, &id, version) {
            return Ok(hit);
        }
        let loaded = state.store.get_client(id).await?;
        Self::put(&self.clients, id, version, loaded.clone());
        Ok(loaded)
    }
}

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
    let is_client = claims.iss == super::smart::SMART_ISSUER;
    let needs_staff = roles
        .iter()
        .any(|r| r.requires_staff_record() || *r == Role::Policy);
    // read before anything is looked up: a change committed after this read moves the
    // version past the tag of what is loaded now, so the next request loads again
    let version = if is_client || needs_staff {
        state.store.scope_version().await?
    } else {
        0
    };
    let mut scopes = None;
    if is_client {
        scopes = Some(smart_client_scopes(state, version, &claims, &roles, organization_id).await?);
    }
    let mut staff = None;
    if needs_staff {
        if let Some(org) = organization_id {
            staff = state
                .scope_cache
                .staff(state, version, org, &claims.sub)
                .await?;
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
    version: i64,
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
    let registered = match state.scope_cache.client(state, version, id).await? {
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
