//! The HTTP API under `/api/v1`: one module per resource, each with its handlers,
//! request/response types and `#[utoipa::path]` annotations. This module assembles the router,
//! the middleware stack and the OpenAPI document.

pub mod audit;
pub mod children;
pub mod consents;
pub mod consultations;
mod contract;
mod docs;
pub mod extract;
pub mod figures;
pub mod health;
pub mod parent;
pub mod regions;
pub mod registry;
pub mod smart;
pub mod visits;
pub mod webhooks;

use crate::error::{ApiError, PROBLEM_JSON, REQUEST_ID};
use crate::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kindbrug",
        description = "Interoperability gateway between childcare (kinderopvang) and youth-care specialists (jeugdhulp), following the Alert4you model. Errors are RFC 9457 problem details.",
        license(name = "EUPL-1.2")
    ),
    modifiers(&BearerAuth),
    components(schemas(
        crate::error::Problem,
        crate::domain::FieldError,
        crate::domain::consultation::ConsultationStatus,
        crate::service::figures::Format
    )),
    tags(
        (name = "operations", description = "Health and the API description"),
        (name = "registry", description = "Regions, organisations, locations, groups and staff (admin)"),
        (name = "children", description = "Children, guardians and mentors"),
        (name = "consent", description = "Parental consent, the consent check, invitations and parent links, Meldcode reports"),
        (name = "parent", description = "Pages a guardian opens with a parent link (no bearer token)"),
        (name = "consultations", description = "Concerns and consultation requests, routed to regional specialists"),
        (name = "specialist work", description = "Coaching visits, outcomes and the child's timeline"),
        (name = "figures", description = "Disclosure-controlled figures for policy staff"),
        (name = "webhooks", description = "Signed webhooks to partner systems (Standard Webhooks)"),
        (name = "audit", description = "The NEN 7513 access log"),
        (name = "smart", description = "SMART Backend Services clients (operators): partner systems that get access tokens with a signed assertion at /oauth2/token"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The routes that need a bearer token, with their OpenAPI description.
fn protected_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(regions::import_regions))
        .routes(routes!(regions::list_regions))
        .routes(routes!(regions::get_region))
        .routes(routes!(
            registry::create_organization,
            registry::list_organizations
        ))
        .routes(routes!(
            registry::get_organization,
            registry::update_organization
        ))
        .routes(routes!(registry::deactivate_organization))
        .routes(routes!(registry::create_location, registry::list_locations))
        .routes(routes!(registry::get_location, registry::update_location))
        .routes(routes!(registry::deactivate_location))
        .routes(routes!(registry::update_group))
        .routes(routes!(registry::deactivate_group))
        .routes(routes!(registry::create_group, registry::list_groups))
        .routes(routes!(registry::create_staff, registry::list_staff))
        .routes(routes!(registry::get_staff, registry::update_staff))
        .routes(routes!(registry::deactivate_staff))
        .routes(routes!(children::create_child, children::list_children))
        .routes(routes!(children::get_child, children::update_child))
        .routes(routes!(children::leave))
        .routes(routes!(children::assign_mentor, children::mentor_history))
        .routes(routes!(children::add_guardian, children::list_guardians))
        .routes(routes!(children::get_guardian, children::update_guardian))
        .routes(routes!(consents::create_consent, consents::list_consents))
        .routes(routes!(consents::withdraw_consent))
        .routes(routes!(consents::consent_check))
        .routes(routes!(consents::create_invitation))
        .routes(routes!(
            consents::create_parent_link,
            consents::list_parent_links
        ))
        .routes(routes!(consents::revoke_parent_link))
        .routes(routes!(
            consents::create_veilig_thuis_report,
            consents::list_veilig_thuis_reports
        ))
        .routes(routes!(
            consultations::create_concern,
            consultations::list_concerns
        ))
        .routes(routes!(
            consultations::submit,
            consultations::list_consultations
        ))
        .routes(routes!(consultations::get_consultation))
        .routes(routes!(consultations::routing))
        .routes(routes!(consultations::accept))
        .routes(routes!(consultations::decline))
        .routes(routes!(consultations::assign))
        .routes(routes!(consultations::cancel))
        .routes(routes!(consultations::reject))
        .routes(routes!(consultations::resume))
        .routes(routes!(
            consultations::post_message,
            consultations::list_messages
        ))
        .routes(routes!(visits::create_visit, visits::list_visits))
        .routes(routes!(visits::update_visit))
        .routes(routes!(visits::close))
        .routes(routes!(visits::timeline))
        .routes(routes!(visits::request_destruction))
        .routes(routes!(figures::consents))
        .routes(routes!(figures::consultations))
        .routes(routes!(figures::response_times))
        .routes(routes!(figures::outcomes))
        .routes(routes!(figures::visits))
        .routes(routes!(webhooks::create_endpoint, webhooks::list_endpoints))
        .routes(routes!(
            webhooks::update_endpoint,
            webhooks::delete_endpoint
        ))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::list_attempts))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(audit::list_audit))
        .routes(routes!(smart::register_client, smart::list_clients))
        .routes(routes!(smart::get_client, smart::update_client))
}

/// Parent-link routes: the token in the path is the credential.
fn parent_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(parent::parent_page))
        .routes(routes!(parent::parent_decision))
        .routes(routes!(parent::parent_consents))
        .routes(routes!(parent::parent_withdraw))
        .routes(routes!(parent::parent_access_log))
}

/// The OpenAPI document of the whole API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, protected) = protected_routes().split_for_parts();
    let (_, parent) = parent_routes().split_for_parts();
    let (_, public) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .split_for_parts();
    let mut doc = public;
    doc.merge(protected);
    doc.merge(parent);
    contract::complete(&mut doc);
    doc
}

/// The complete application: routes and middleware.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let (protected, _) = protected_routes().split_for_parts();
    let protected = protected
        .layer(middleware::from_fn(smart::scope_guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::principal::authenticate,
        ));
    let (parent, _) = parent_routes().split_for_parts();
    // serialised once: handlers share the bytes (a document held by value would be copied with
    // every clone of the route)
    let document = openapi();
    let doc = bytes::Bytes::from(serde_json::to_vec(&document).expect("the document serialises"));
    let reference = bytes::Bytes::from(docs::render(
        &serde_json::to_value(&document).expect("the document serialises"),
    ));
    let strict = |media: &'static str| {
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ]
    };
    let public = Router::new()
        .route(
            "/docs",
            axum::routing::get(move || {
                let page = reference.clone();
                async move { (strict("text/html; charset=utf-8"), page) }
            }),
        )
        .route(
            "/docs/style.css",
            axum::routing::get(
                move || async move { (strict("text/css; charset=utf-8"), docs::STYLE) },
            ),
        )
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/readyz", axum::routing::get(health::readyz))
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        doc,
                    )
                }
            }),
        );

    // /metrics on the main listener unless it has its own (see `metrics_listen`)
    let public = if state.config.metrics_listen.is_none() {
        public.route("/metrics", axum::routing::get(metrics))
    } else {
        public
    };
    let timeout = Duration::from_secs(state.config.request_timeout_seconds);
    let limit = state.config.body_limit_bytes;
    Router::new()
        .merge(public)
        .merge(smart::oauth_routes())
        .merge(pages)
        .merge(parent)
        .merge(protected)
        .fallback(|| async { ApiError::from_status(StatusCode::NOT_FOUND) })
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(middleware::from_fn_with_state(state.clone(), crate::gate::gate))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let matched = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_default();
                    let id = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), route = %matched, request_id = %id, subject = tracing::field::Empty)
                })
                .on_request(())
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Prometheus text (version 0.0.4) of this replica.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        crate::telemetry::render(&state).await,
    )
        .into_response()
}

/// The separate metrics listener's routes (`metrics_listen`): `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(state)
}

/// Takes the caller's `X-Request-Id` when it is a sane token, else makes one; echoes it in the
/// answer and makes it available to error bodies and the access log.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(String::from)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).expect("checked above");
    req.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    let mut res = REQUEST_ID.scope(id, next.run(req)).await;
    res.headers_mut().insert(REQUEST_ID_HEADER, value);
    res
}

/// Errors made outside handlers (no route, wrong method, body too large, timeout, panic) get
/// a problem body like every other error.
async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // OAuth answers its errors in its own shape (RFC 6749 §5.2); an error made outside the
    // handler there (wrong method, body too large) gets that shape too
    if path.starts_with("/oauth2/") {
        let res = next.run(req).await;
        let status = res.status();
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if status.is_client_error() && !is_json {
            let allow = res.headers().get(header::ALLOW).cloned();
            let mut out = (
                status,
                [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
                axum::Json(serde_json::json!({
                    "error": "invalid_request",
                    "error_description": status.canonical_reason().unwrap_or("refused"),
                })),
            )
                .into_response();
            if let Some(allow) = allow {
                out.headers_mut().insert(header::ALLOW, allow);
            }
            return out;
        }
        return res;
    }
    let fhir = path.starts_with("/fhir/") && !path.starts_with("/fhir/r4/.well-known/");
    let res = next.run(req).await;
    let status = res.status();
    // the FHIR door answers its errors as OperationOutcome; any other error there (no route,
    // a body too large, a timeout) becomes one
    let is_outcome = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/fhir+json"));
    if fhir {
        if is_outcome || !(status.is_client_error() || status.is_server_error()) {
            return res;
        }
        let allow = res.headers().get(header::ALLOW).cloned();
        let mut out = crate::fhir::outcome(ApiError::from_status(status));
        if let Some(allow) = allow {
            out.headers_mut().insert(header::ALLOW, allow);
        }
        return out;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // the web pages answer their own errors as pages
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_problem && !is_page {
        let allow = res.headers().get(header::ALLOW).cloned();
        let mut out = ApiError::from_status(status).into_response();
        if let Some(allow) = allow {
            out.headers_mut().insert(header::ALLOW, allow);
        }
        return out;
    }
    res
}

// ---------------------------------------------------------------- paging

pub use crate::service::paging::{
    id_cursor, next_cursor, page, page_of, seq_cursor, seq_page, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use crate::service::PageOf;

/// Reads the `If-Match` header as a version number (`"7"`); `*` or absent → none. If-Match
/// uses the strong comparison (RFC 9110 §13.1.1): our ETags are strong, so a weak tag such as
/// `W/"7"` never matches and is answered 412, like any other tag that is not current. Several
/// tags (`"6", "7"`) are not taken: an update names the one version it was based on.
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<i64>, ApiError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request("send one If-Match header"));
    }
    let v = v
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match is not readable"))?
        .trim();
    if v == "*" {
        return Ok(None);
    }
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(ApiError::stale)
}

/// The ETag of a version.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits")
}
