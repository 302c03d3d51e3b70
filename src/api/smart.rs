//! SMART Backend Services: client registration (operators, `/api/v1/smart-clients`), the OAuth
//! token endpoint (`/oauth2/token`), the access-token keys (`/oauth2/jwks`) and the discovery
//! document (`/.well-known/smart-configuration`, also under the FHIR base), through
//! `service::smart`. The scope guard maps each JSON route onto the FHIR resource type it
//! serves, so a scope means the same on both doors.

use super::extract::{Json, Path, Query};
use crate::auth::Principal;
use crate::domain::scopes::Interaction;
use crate::error::ApiError;
use crate::service::Caller;
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use uuid::Uuid;

pub use crate::service::smart::{ClientChange, ClientParams, ClientView, NewClient};
pub use crate::service::PageOf;

/// Registers a partner system for SMART Backend Services: its organisation, its public keys
/// and the scopes it may be granted (operators only). Its `client_id` is in the answer.
#[utoipa::path(post, path = "/api/v1/smart-clients", tag = "smart", security(("bearer" = [])),
    request_body = NewClient,
    responses((status = 201, body = ClientView), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn register_client(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewClient>,
) -> Result<(StatusCode, axum::Json<ClientView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::smart::register_client(&state, &Caller::Principal(principal), body)
                .await?,
        ),
    ))
}

/// The registered clients (operators only).
#[utoipa::path(get, path = "/api/v1/smart-clients", tag = "smart", security(("bearer" = [])),
    params(ClientParams),
    responses((status = 200, body = PageOf<ClientView>), (status = 403, body = crate::error::Problem)))]
pub async fn list_clients(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ClientParams>,
) -> Result<axum::Json<PageOf<ClientView>>, ApiError> {
    Ok(axum::Json(
        crate::service::smart::list_clients(&state, &Caller::Principal(principal), q).await?,
    ))
}

/// One client (operators only).
#[utoipa::path(get, path = "/api/v1/smart-clients/{id}", tag = "smart", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ClientView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_client(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ClientView>, ApiError> {
    Ok(axum::Json(
        crate::service::smart::get_client(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// Changes a client's name, keys, scopes, or deactivates it (`active: false` refuses its
/// tokens from the next request on).
#[utoipa::path(patch, path = "/api/v1/smart-clients/{id}", tag = "smart", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ClientChange,
    responses((status = 200, body = ClientView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update_client(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ClientChange>,
) -> Result<axum::Json<ClientView>, ApiError> {
    Ok(axum::Json(
        crate::service::smart::update_client(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

// ---------------------------------------------------------------- OAuth endpoints

fn host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
}

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The token endpoint (RFC 6749 client credentials with an RFC 7523 assertion).
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form_sent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let answer = if !form_sent {
        Err(crate::service::smart::TokenError {
            status: 400,
            error: "invalid_request",
            error_description: "send the parameters as application/x-www-form-urlencoded".into(),
        })
    } else {
        let form: Vec<(String, String)> = form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let url = crate::service::smart::endpoints(&state, host(&headers)).token_endpoint;
        crate::service::smart::issue_token(&state, &form, &url).await
    };
    no_store(match answer {
        Ok(t) => (StatusCode::OK, axum::Json(t)).into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, axum::Json(e)).into_response()
        }
    })
}

/// The keys access tokens are signed with.
async fn jwks(State(state): State<AppState>) -> Response {
    match crate::service::smart::jwks(&state) {
        Some(set) => (
            [(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            )],
            axum::Json(set),
        )
            .into_response(),
        None => ApiError::from_status(StatusCode::NOT_FOUND).into_response(),
    }
}

/// `/.well-known/smart-configuration`.
async fn smart_configuration(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match crate::service::smart::smart_configuration(&state, host(&headers)) {
        Some(doc) => axum::Json(doc).into_response(),
        None => ApiError::from_status(StatusCode::NOT_FOUND).into_response(),
    }
}

/// The public OAuth routes (no bearer token).
pub fn oauth_routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth2/jwks", get(jwks))
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route(
            "/fhir/r4/.well-known/smart-configuration",
            get(smart_configuration),
        )
}

// ---------------------------------------------------------------- the scope guard

/// Parts of a route no scope opens.
const CLOSED: &[&str] = &["timeline", "veilig-thuis-reports", "parent-links"];

/// The FHIR resource type a JSON route serves, and the interaction its method is: what a
/// SMART client's scope must permit. `None`: a route no scope opens (figures, the registry's
/// administration, client registration).
pub fn route_scope(method: &Method, route: &str) -> Option<(&'static str, Interaction)> {
    let rest = route.strip_prefix("/api/v1/")?;
    if rest.starts_with("stats/") || rest.starts_with("smart-clients") {
        return None;
    }
    // closed to every scope: the timeline gathers a child's concerns, consents, requests and
    // visits at once (more than any one resource type); Meldcode reports to Veilig Thuis are
    // made without consent and are nobody's integration; parent links are credentials handed
    // to a guardian
    if rest.split('/').any(|s| CLOSED.contains(&s)) {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let nouns: Vec<&str> = segments
        .iter()
        .copied()
        .filter(|s| !s.starts_with('{'))
        .collect();
    let has = |n: &str| nouns.contains(&n);
    let resource = if has("guardians") {
        "RelatedPerson"
    } else if has("consents") || has("consent-check") || has("consent-invitations") {
        "Consent"
    } else if has("concerns") {
        "Observation"
    } else if has("mentor") || has("mentors") {
        "CareTeam"
    } else if has("visits") {
        "Encounter"
    } else if has("webhook-endpoints") || has("webhook-messages") {
        "Subscription"
    } else if has("consultations") {
        "Task"
    } else if has("children") {
        "Patient"
    } else if has("groups") {
        "Group"
    } else if has("locations") {
        "Location"
    } else if has("staff") {
        "PractitionerRole"
    } else if has("audit") {
        "AuditEvent"
    } else if has("organizations") || has("regions") {
        "Organization"
    } else {
        return None;
    };
    let last = segments.last().copied().unwrap_or("");
    // one thing, not a list: an item, or a singular part of one
    const SINGULAR: &[&str] = &["consent-check", "mentor", "routing"];
    let one = last.starts_with('{') || SINGULAR.contains(&last);
    let interaction = match *method {
        Method::GET | Method::HEAD if one => Interaction::Read,
        Method::GET | Method::HEAD => Interaction::Search,
        // asking for a child's record to be destroyed early
        Method::POST if last == "destruction-requests" => Interaction::Delete,
        Method::POST => {
            // a POST on a collection creates; on an action (`accept`, `withdraw`, …) it changes
            const COLLECTIONS: &[&str] = &[
                "children",
                "guardians",
                "consents",
                "concerns",
                "consultations",
                "visits",
                "messages",
                "consent-invitations",
                "locations",
                "groups",
                "staff",
                "organizations",
                "webhook-endpoints",
            ];
            if COLLECTIONS.contains(&last) {
                Interaction::Create
            } else {
                Interaction::Update
            }
        }
        Method::PUT | Method::PATCH => Interaction::Update,
        Method::DELETE => Interaction::Delete,
        _ => return None,
    };
    Some((resource, interaction))
}

/// Middleware after authentication: a caller with scopes (a SMART client) reaches a route only
/// when a scope permits it; others pass (their role decides, below).
pub async fn scope_guard(req: Request, next: Next) -> Response {
    let scoped = req
        .extensions()
        .get::<Principal>()
        .is_some_and(|p| p.scopes.is_some());
    if scoped {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let allowed = req.extensions().get::<Principal>().is_some_and(|p| {
            route_scope(req.method(), &route).is_some_and(|(r, i)| p.permits(r, i))
        });
        if !allowed {
            return ApiError::forbidden("the token's scope does not cover this").into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every protected route of the API means a resource type, except those no partner
    /// system has any business with (figures, client registration).
    #[test]
    fn every_route_is_mapped_or_deliberately_closed() {
        let doc = serde_json::to_value(crate::api::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/parent/") {
                continue;
            }
            for method in item.as_object().unwrap().keys() {
                let Ok(m) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                let closed = path.starts_with("/api/v1/stats/")
                    || path.starts_with("/api/v1/smart-clients")
                    || path.split('/').any(|s| CLOSED.contains(&s));
                assert_eq!(route_scope(&m, path).is_none(), closed, "{method} {path}");
            }
        }
    }

    #[test]
    fn each_route_means_a_resource_and_an_interaction() {
        let cases = [
            (
                "GET",
                "/api/v1/children",
                Some(("Patient", Interaction::Search)),
            ),
            (
                "GET",
                "/api/v1/children/{id}",
                Some(("Patient", Interaction::Read)),
            ),
            (
                "POST",
                "/api/v1/children",
                Some(("Patient", Interaction::Create)),
            ),
            (
                "PATCH",
                "/api/v1/children/{id}",
                Some(("Patient", Interaction::Update)),
            ),
            (
                "POST",
                "/api/v1/children/{id}/leave",
                Some(("Patient", Interaction::Update)),
            ),
            (
                "GET",
                "/api/v1/children/{id}/guardians",
                Some(("RelatedPerson", Interaction::Search)),
            ),
            (
                "POST",
                "/api/v1/children/{id}/consents",
                Some(("Consent", Interaction::Create)),
            ),
            (
                "POST",
                "/api/v1/consents/{id}/withdraw",
                Some(("Consent", Interaction::Update)),
            ),
            (
                "POST",
                "/api/v1/consultations",
                Some(("Task", Interaction::Create)),
            ),
            (
                "POST",
                "/api/v1/consultations/{id}/accept",
                Some(("Task", Interaction::Update)),
            ),
            (
                "POST",
                "/api/v1/consultations/{id}/visits",
                Some(("Encounter", Interaction::Create)),
            ),
            (
                "GET",
                "/api/v1/organizations/{org}/webhook-endpoints",
                Some(("Subscription", Interaction::Search)),
            ),
            (
                "DELETE",
                "/api/v1/webhook-endpoints/{id}",
                Some(("Subscription", Interaction::Delete)),
            ),
            ("GET", "/api/v1/stats/consents", None),
            ("GET", "/api/v1/children/{id}/timeline", None),
            ("GET", "/api/v1/children/{id}/veilig-thuis-reports", None),
            ("POST", "/api/v1/children/{id}/parent-links", None),
            ("POST", "/api/v1/parent-links/{id}/revoke", None),
            (
                "GET",
                "/api/v1/children/{id}/consent-check",
                Some(("Consent", Interaction::Read)),
            ),
            (
                "POST",
                "/api/v1/children/{id}/consent-invitations",
                Some(("Consent", Interaction::Create)),
            ),
            (
                "PUT",
                "/api/v1/children/{id}/mentor",
                Some(("CareTeam", Interaction::Update)),
            ),
            (
                "POST",
                "/api/v1/children/{id}/destruction-requests",
                Some(("Patient", Interaction::Delete)),
            ),
            (
                "PUT",
                "/api/v1/visits/{id}",
                Some(("Encounter", Interaction::Update)),
            ),
            (
                "POST",
                "/api/v1/consultations/{id}/close",
                Some(("Task", Interaction::Update)),
            ),
            ("POST", "/api/v1/smart-clients", None),
        ];
        for (method, route, expected) in cases {
            let m: Method = method.parse().unwrap();
            assert_eq!(route_scope(&m, route), expected, "{method} {route}");
        }
    }
}
