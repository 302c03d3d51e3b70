//! Door 3: HL7 FHIR R4 at `/fhir/r4` for partner systems. It maps FHIR interactions onto the
//! same workflow operations as the JSON API, so consent, masking, the access log and the outbox
//! hold without a rule of its own; what it adds is the FHIR shape: resources, `Bundle`s,
//! `OperationOutcome`s, content negotiation and versions as ETags.
//!
//! It serves the CapabilityStatement; `Patient` (the child: read and search); `Organization`
//! and `Location` (read); per child `RelatedPerson` (search) and `Consent` (read, search, and
//! create through the workflow's consent rules); and the consultation request as `Task` (where
//! it stands; its status changes by `PUT` with `If-Match`) and `ServiceRequest` (what was
//! asked), read and search with `_include`. The CapabilityStatement lists exactly that. Callers are the same bearer
//! tokens as on `/api/v1`, or SMART Backend Services access tokens, whose scopes must permit
//! the interaction on the resource type (checked here for the request, and again for every
//! included resource).

pub mod input;
pub mod resources;

use crate::error::ApiError;
use crate::service::{children, consultations, Caller};
use crate::AppState;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use resources::{Bundle, BundleEntry, BundleLink, Patient};
use std::collections::HashMap;
use uuid::Uuid;

/// The FHIR version this facade speaks.
pub const FHIR_VERSION: &str = "4.0.1";
const FHIR_JSON: &str = "application/fhir+json; fhirVersion=4.0; charset=utf-8";

/// The routes under `/fhir/r4`, with their own authentication (errors as OperationOutcome) and
/// content negotiation.
pub fn routes(state: &AppState) -> Router<AppState> {
    let protected = Router::new()
        .route("/fhir/r4/Patient/{id}", get(read_patient))
        .route("/fhir/r4/Organization/{id}", get(read_organization))
        .route("/fhir/r4/Location/{id}", get(read_location))
        .route(
            "/fhir/r4/Consent",
            get(search_consents).post(create_consent),
        )
        .route("/fhir/r4/Consent/{id}", get(read_consent))
        .route("/fhir/r4/Consent/{id}/_history", get(consent_history))
        .route("/fhir/r4/Consent/{id}/_history/{vid}", get(vread_consent))
        .route("/fhir/r4/Task/{id}/_history/{vid}", get(vread_task))
        .route("/fhir/r4/RelatedPerson", get(search_related_persons))
        .route("/fhir/r4/Encounter", get(search).post(create_encounter))
        .route(
            "/fhir/r4/Encounter/_search",
            axum::routing::post(search_post),
        )
        .route("/fhir/r4/Encounter/{id}", get(read_encounter))
        .route("/fhir/r4/Observation", get(search))
        .route(
            "/fhir/r4/Observation/_search",
            axum::routing::post(search_post),
        )
        .route("/fhir/r4/Observation/{id}", get(read_observation))
        .route(
            "/fhir/r4/PractitionerRole/{id}",
            get(read_practitioner_role),
        )
        .route(
            "/fhir/r4/HealthcareService/{id}",
            get(read_healthcare_service),
        )
        .route("/fhir/r4/Group/{id}", get(read_group))
        .route("/fhir/r4/CareTeam/{id}", get(read_care_team))
        .route("/fhir/r4/CareTeam", get(search_care_teams))
        .route("/fhir/r4/AuditEvent", get(search_audit_events))
        .route(
            "/fhir/r4/Subscription",
            axum::routing::post(create_subscription),
        )
        .route(
            "/fhir/r4/Subscription/{id}",
            get(read_subscription).delete(delete_subscription),
        )
        .route("/fhir/r4/Patient", get(search))
        .route("/fhir/r4/Task/{id}", get(read_request).put(update_task))
        .route("/fhir/r4/ServiceRequest/{id}", get(read_request))
        .route("/fhir/r4/Task", get(search))
        .route("/fhir/r4/Task/_search", axum::routing::post(search_post))
        .route(
            "/fhir/r4/ServiceRequest",
            get(search).post(create_service_request),
        )
        .route(
            "/fhir/r4/ServiceRequest/_search",
            axum::routing::post(search_post),
        )
        .route("/fhir/r4/Patient/_search", axum::routing::post(search_post))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/fhir/r4/metadata", get(metadata))
        .merge(protected)
        .layer(middleware::from_fn(negotiate))
}

// ---------------------------------------------------------------- answers

/// A resource as `application/fhir+json`.
fn fhir(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
            bytes,
        )
            .into_response(),
        Err(_) => outcome(ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR)),
    }
}

/// Any refusal as an OperationOutcome, with the same explanation the JSON API gives (its
/// detail and, per field, the field's message).
pub fn outcome(e: ApiError) -> Response {
    let code = match e.status.as_u16() {
        400 => "invalid",
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        406 | 415 => "not-supported",
        409 | 412 => "conflict",
        422 => "business-rule",
        429 => "throttled",
        408 => "timeout",
        413 => "too-costly",
        _ => "exception",
    };
    let minimal = matches!(e.status.as_u16(), 401 | 403);
    let mut issue = vec![resources::Issue {
        severity: "error",
        code,
        diagnostics: Some(if minimal {
            e.title.to_string()
        } else {
            e.detail.clone()
        }),
        expression: None,
    }];
    if !minimal {
        // a rule of consent: who still must consent, and why
        if let Some(missing) = e.extensions.get("missing").and_then(|m| m.as_array()) {
            for m in missing {
                let who = match m["guardian_id"].as_str() {
                    Some(id) => format!("RelatedPerson/{id} still must consent"),
                    None => "the child still must consent".to_string(),
                };
                issue.push(resources::Issue {
                    severity: "error",
                    code: "business-rule",
                    diagnostics: Some(who),
                    expression: None,
                });
            }
        }
        if let Some(reasons) = e.extensions.get("reasons").and_then(|m| m.as_array()) {
            for r in reasons {
                if let Some(message) = r["message"].as_str() {
                    issue.push(resources::Issue {
                        severity: "error",
                        code: "business-rule",
                        diagnostics: Some(message.to_string()),
                        expression: None,
                    });
                }
            }
        }
        for f in &e.errors {
            issue.push(resources::Issue {
                severity: "error",
                code: "invalid",
                diagnostics: Some(f.message.clone()),
                expression: Some(vec![f.field.clone()]),
            });
        }
    }
    let body = resources::OperationOutcome {
        resource_type: "OperationOutcome",
        issue,
    };
    let mut res = fhir(e.status, &body);
    if e.status == StatusCode::UNAUTHORIZED {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

fn not_found(detail: &str) -> Response {
    outcome(ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        detail,
    ))
}

struct FhirError(ApiError);

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        outcome(self.0)
    }
}

impl From<crate::service::ServiceError> for FhirError {
    fn from(e: crate::service::ServiceError) -> Self {
        FhirError(e.into())
    }
}

// ---------------------------------------------------------------- negotiation and login

/// Is this media type one FHIR JSON answer satisfies (`application/fhir+json`, with or without
/// `fhirVersion=4.0`, `application/json`, or a wildcard)?
fn accepts_fhir_json(value: &str) -> bool {
    value.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        // `_format=application/fhir+json` arrives with the `+` decoded as a space
        let media = params
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .replace(' ', "+");
        let params_ok = params.all(|p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("fhirVersion") => {
                matches!(v.trim().trim_matches('"'), "4.0" | "4.0.1")
            }
            // `q=0` means "not this one"
            Some((k, v)) if k.trim().eq_ignore_ascii_case("q") => {
                v.trim().parse::<f32>().map(|q| q > 0.0).unwrap_or(false)
            }
            _ => true,
        });
        params_ok
            && matches!(
                media.as_str(),
                "application/fhir+json" | "application/json" | "application/*" | "*/*" | "json"
            )
    })
}

/// 406 for an `Accept` or `_format` that asks for something other than FHIR JSON, 415 for a
/// body that is not JSON.
async fn negotiate(req: Request, next: Next) -> Response {
    let format = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "_format")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(f) = format {
        if !accepts_fhir_json(&f) {
            return outcome(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not-acceptable",
                "Not acceptable",
                "this server answers application/fhir+json only",
            ));
        }
    } else if let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    {
        if !accepts_fhir_json(accept) {
            return outcome(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "not-acceptable",
                "Not acceptable",
                "this server answers application/fhir+json only",
            ));
        }
    }
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0");
    if has_body {
        let ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let media = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                matches!(
                    media.as_str(),
                    "application/fhir+json"
                        | "application/json"
                        | "application/x-www-form-urlencoded"
                )
            });
        if !ok {
            return outcome(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send application/fhir+json (or a form for _search)",
            ));
        }
    }
    next.run(req).await
}

/// The bearer token as for `/api/v1`, refusals as a minimal OperationOutcome.
/// A SMART client's scope must permit the interaction on the resource type (others pass:
/// their role decides, below).
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match crate::auth::principal::principal_of_request(&state, req.headers()).await {
        Ok(p) => {
            if p.scopes.is_some() {
                let allowed = interaction(req.method(), req.uri().path())
                    .is_some_and(|(resource, i)| p.permits(resource, i));
                if !allowed {
                    return outcome(ApiError::forbidden("the token's scope does not cover this"));
                }
            }
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => outcome(e),
    }
}

/// The resource type and interaction of a FHIR request: `GET [type]` and `POST [type]/_search`
/// search, `GET [type]/[id]` (and its `_history`) reads, `POST [type]` creates, `PUT` updates,
/// `DELETE` deletes.
fn interaction(
    method: &axum::http::Method,
    path: &str,
) -> Option<(&'static str, crate::domain::scopes::Interaction)> {
    use crate::domain::scopes::{Interaction as I, RESOURCE_TYPES};
    use axum::http::Method;
    let rest = path.strip_prefix("/fhir/r4/")?;
    let mut segments = rest.split('/');
    let first = segments.next()?;
    let resource = *RESOURCE_TYPES.iter().find(|t| **t == first)?;
    let second = segments.next();
    let i = match (method, second) {
        (&Method::GET, None) => I::Search,
        (&Method::POST, Some("_search")) => I::Search,
        (&Method::GET, Some(_)) => I::Read,
        (&Method::POST, None) => I::Create,
        (&Method::PUT | &Method::PATCH, Some(_)) => I::Update,
        (&Method::DELETE, Some(_)) => I::Delete,
        _ => return None,
    };
    Some((resource, i))
}

fn caller(req_principal: crate::auth::Principal) -> Caller {
    Caller::Principal(req_principal)
}

// ---------------------------------------------------------------- metadata

/// `GET /fhir/r4/metadata`: what this server does, exactly.
async fn metadata(State(state): State<AppState>) -> Response {
    fhir(
        StatusCode::OK,
        &resources::capability_statement(&state.config.public_base()),
    )
}

// ---------------------------------------------------------------- Patient

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("W/\"{version}\""))
        .unwrap_or(HeaderValue::from_static("W/\"0\""))
}

/// `GET /fhir/r4/Patient/{id}`: the child, for those who keep its record.
async fn read_patient(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Patient with this id"));
    };
    let child = children::get_child(&state, &caller(principal), id).await?;
    let version = child.version;
    let mut res = fhir(StatusCode::OK, &Patient::from(&child));
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

/// `GET /fhir/r4/Organization/{id}`: the caller's own organisation (an admin: any).
async fn read_organization(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Organization with this id"));
    };
    let o = crate::service::registry::get_organization(&state, &caller(principal), id).await?;
    Ok(fhir(StatusCode::OK, &resources::Organization::from(&o)))
}

/// `GET /fhir/r4/Location/{id}`: a location of the caller's own organisation.
async fn read_location(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Location with this id"));
    };
    let l = crate::service::registry::get_location(&state, &caller(principal), id).await?;
    Ok(fhir(StatusCode::OK, &resources::Location::from(&l)))
}

/// The search parameters this facade supports for Patient; any other is refused (400), so a
/// search never silently ignores what the client asked.
const PATIENT_PARAMS: &[&str] = &["_id", "identifier", "_count", "_cursor", "_format"];

fn bad(detail: impl Into<String>) -> FhirError {
    FhirError(ApiError::bad_request(detail.into()))
}

/// `GET [type]`: one handler for every searchable type, the type from the matched route.
async fn search(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    path: MatchedPath,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    search_by_type(&state, principal, q, &path).await
}

/// `POST [type]/_search` (form-encoded parameters in the body, as FHIR allows).
async fn search_post(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    path: MatchedPath,
    headers: HeaderMap,
    Query(mut q): Query<Vec<(String, String)>>,
    body: axum::body::Bytes,
) -> Result<Response, FhirError> {
    with_form(&headers, &mut q, &body)?;
    search_by_type(&state, principal, q, &path).await
}

/// The search of the resource type the route names.
async fn search_by_type(
    state: &AppState,
    principal: crate::auth::Principal,
    q: Vec<(String, String)>,
    path: &MatchedPath,
) -> Result<Response, FhirError> {
    let kind = path
        .as_str()
        .strip_prefix("/fhir/r4/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    match kind {
        "Patient" => patient_search(state, principal, q).await,
        "Task" => request_search(state, principal, q, "Task").await,
        "ServiceRequest" => request_search(state, principal, q, "ServiceRequest").await,
        "Encounter" => encounter_search(state, principal, q).await,
        "Observation" => observation_search(state, principal, q).await,
        _ => Ok(not_found("no search for this resource type")),
    }
}

/// `POST [type]/_search`: the form in the body joins the query's parameters.
fn with_form(
    headers: &HeaderMap,
    q: &mut Vec<(String, String)>,
    body: &[u8],
) -> Result<(), FhirError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !body.is_empty() {
        if !form {
            return Err(bad(
                "_search takes its parameters as a form (application/x-www-form-urlencoded)",
            ));
        }
        q.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    Ok(())
}

async fn patient_search(
    state: &AppState,
    principal: crate::auth::Principal,
    q: Vec<(String, String)>,
) -> Result<Response, FhirError> {
    let params = search_params(&q, PATIENT_PARAMS, "Patient")?;
    let count = count_of(&params)?;
    let caller = caller(principal);
    let base = format!("{}/fhir/r4", state.config.public_base());
    // `_id`: a read that answers as a search (nothing found is an empty Bundle, never a 404)
    if let Some(id) = params.get("_id") {
        let found = match id.parse::<Uuid>() {
            Ok(id) => match children::get_child(state, &caller, id).await {
                Ok(c) => vec![c],
                Err(crate::service::ServiceError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e.into()),
            },
            Err(_) => Vec::new(),
        };
        return Ok(bundle(&base, "Patient", patients(&found), None, &q));
    }
    let identifier = params.get("identifier").map(|v| match v.split_once('|') {
        Some((system, value)) => (Some(system.to_string()), value.to_string()),
        None => (None, v.to_string()),
    });
    // another organisation's numbering: nothing of ours can match (and nothing is read)
    if let Some((Some(system), _)) = &identifier {
        let own = match &caller {
            Caller::Principal(p) => p.organization_id.map(resources::identifier_system),
            Caller::System(_) => None,
        };
        if own.as_deref() != Some(system.as_str()) {
            return Ok(bundle(
                &base,
                "Patient",
                Vec::<(String, Patient)>::new(),
                None,
                &q,
            ));
        }
    }
    let page = children::list_children(
        state,
        &caller,
        children::ChildListParams {
            location_id: None,
            external_ref: identifier.as_ref().map(|(_, value)| value.clone()),
            limit: Some(count),
            cursor: params.get("_cursor").map(|c| c.to_string()),
        },
    )
    .await?;
    let items: Vec<children::ChildView> = page
        .items
        .into_iter()
        .filter(|c| match &identifier {
            None => true,
            Some((system, value)) => {
                c.external_ref == *value
                    && system
                        .as_ref()
                        .is_none_or(|s| *s == resources::identifier_system(c.organization_id))
            }
        })
        .collect();
    Ok(bundle(
        &base,
        "Patient",
        patients(&items),
        page.next_cursor,
        &q,
    ))
}

/// The page size a search asks for (`_count`, 1–200, default 50).
fn count_of(params: &HashMap<&str, &str>) -> Result<u32, FhirError> {
    match params.get("_count") {
        None => Ok(50),
        Some(c) => match c.parse::<u32>() {
            Ok(n @ 1..=200) => Ok(n),
            _ => Err(bad("_count must be 1 to 200")),
        },
    }
}

/// A searchset Bundle with a `self` link and, when there is more, a `next` link that carries
/// the same parameters and the cursor. No `total`: it could count what the caller may not see.
fn bundle<R: serde::Serialize>(
    base: &str,
    resource_type: &str,
    found: Vec<(String, R)>,
    next_cursor: Option<String>,
    q: &[(String, String)],
) -> Response {
    bundle_with(base, resource_type, found, Vec::new(), next_cursor, q)
}

/// [`bundle`] with included resources (`_include`), each as `("Type/id", resource)`.
fn bundle_with<R: serde::Serialize>(
    base: &str,
    resource_type: &str,
    found: Vec<(String, R)>,
    included: Vec<(String, serde_json::Value)>,
    next_cursor: Option<String>,
    q: &[(String, String)],
) -> Response {
    let query = |cursor: Option<&str>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in q.iter().filter(|(k, _)| k != "_cursor") {
            s.append_pair(k, v);
        }
        if let Some(c) = cursor {
            s.append_pair("_cursor", c);
        }
        let s = s.finish();
        if s.is_empty() {
            format!("{base}/{resource_type}")
        } else {
            format!("{base}/{resource_type}?{s}")
        }
    };
    let own_cursor = q
        .iter()
        .find(|(k, _)| k == "_cursor")
        .map(|(_, v)| v.as_str());
    let mut link = vec![BundleLink {
        relation: "self",
        url: query(own_cursor),
    }];
    if let Some(c) = next_cursor {
        link.push(BundleLink {
            relation: "next",
            url: query(Some(&c)),
        });
    }
    let mut entry: Vec<BundleEntry<serde_json::Value>> = found
        .into_iter()
        .map(|(id, resource)| BundleEntry {
            full_url: format!("{base}/{resource_type}/{id}"),
            resource: serde_json::to_value(resource).unwrap_or_default(),
            search: resources::Search { mode: "match" },
        })
        .collect();
    entry.extend(
        included
            .into_iter()
            .map(|(reference, resource)| BundleEntry {
                full_url: format!("{base}/{reference}"),
                resource,
                search: resources::Search { mode: "include" },
            }),
    );
    fhir(
        StatusCode::OK,
        &Bundle {
            resource_type: "Bundle",
            kind: "searchset",
            link,
            entry,
        },
    )
}

fn patients(children: &[children::ChildView]) -> Vec<(String, Patient)> {
    children
        .iter()
        .map(|c| (c.id.to_string(), Patient::from(c)))
        .collect()
}

/// Refuses parameters a search does not support (so it never silently ignores one), and a
/// parameter given twice.
fn search_params<'a>(
    q: &'a [(String, String)],
    supported: &[&str],
    resource: &str,
) -> Result<HashMap<&'a str, &'a str>, FhirError> {
    let mut params = HashMap::new();
    for (k, v) in q {
        if !supported.contains(&k.as_str()) {
            return Err(bad(format!(
                "the search parameter {k} is not supported for {resource}"
            )));
        }
        if params.insert(k.as_str(), v.as_str()).is_some() {
            return Err(bad(format!("the search parameter {k} is given twice")));
        }
    }
    Ok(params)
}

// ---------------------------------------------------------------- Consent

/// The child a per-child search names (`patient=Patient/{id}` or `patient={id}`).
fn patient_of(params: &HashMap<&str, &str>, resource: &str) -> Result<Option<Uuid>, FhirError> {
    let Some(patient) = params.get("patient") else {
        return Err(bad(format!(
            "{resource} is searched per child: give patient=Patient/{{id}}"
        )));
    };
    Ok(patient
        .strip_prefix("Patient/")
        .unwrap_or(patient)
        .parse::<Uuid>()
        .ok())
}

/// A per-child list as search results: another organisation's child, or none, finds nothing.
fn found_or_empty<T>(r: Result<Vec<T>, crate::service::ServiceError>) -> Result<Vec<T>, FhirError> {
    match r {
        Ok(list) => Ok(list),
        Err(crate::service::ServiceError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /fhir/r4/Consent?patient=…`: a child's consent records, for those who keep its record.
async fn search_consents(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let params = search_params(&q, &["patient", "_format"], "Consent")?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let found = match patient_of(&params, "Consent")? {
        Some(id) => found_or_empty(
            crate::service::consent::list_consents(&state, &caller(principal), id).await,
        )?,
        None => Vec::new(),
    };
    let found = found
        .iter()
        .map(|c| (c.id.to_string(), resources::Consent::from(c)))
        .collect();
    Ok(bundle(&base, "Consent", found, None, &q))
}

/// `GET /fhir/r4/Consent/{id}`: one consent record, for those who keep the child's record.
async fn read_consent(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Consent with this id"));
    };
    let c = crate::service::consent::get_consent(&state, &caller(principal), id).await?;
    let mut res = fhir(StatusCode::OK, &resources::Consent::from(&c));
    res.headers_mut()
        .insert(header::ETAG, etag(resources::consent_version(&c)));
    Ok(res)
}

/// `GET /fhir/r4/Consent/{id}/_history/{vid}`: the record as recorded (1) or as it ended (2).
async fn vread_consent(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path((id, vid)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Consent with this id"));
    };
    let c = crate::service::consent::get_consent(&state, &caller(principal), id).await?;
    match vid
        .parse::<i64>()
        .ok()
        .and_then(|v| resources::Consent::at_version(&c, v))
    {
        Some(version) => {
            let mut res = fhir(StatusCode::OK, &version);
            if let Ok(v) = version.meta.version_id.parse::<i64>() {
                res.headers_mut().insert(header::ETAG, etag(v));
            }
            Ok(res)
        }
        None => Ok(not_found("this Consent has no such version")),
    }
}

/// `GET /fhir/r4/Consent/{id}/_history`: its versions, newest first, as a history Bundle.
async fn consent_history(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    search_params(&q, &["_format"], "Consent history")?;
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Consent with this id"));
    };
    let c = crate::service::consent::get_consent(&state, &caller(principal), id).await?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let entry: Vec<serde_json::Value> = (1..=resources::consent_version(&c))
        .rev()
        .filter_map(|v| resources::Consent::at_version(&c, v))
        .map(|version| {
            let first = version.meta.version_id == "1";
            serde_json::json!({
                "fullUrl": format!("{base}/Consent/{id}"),
                "resource": version,
                "request": if first {
                    serde_json::json!({"method": "POST", "url": "Consent"})
                } else {
                    serde_json::json!({"method": "PUT", "url": format!("Consent/{id}")})
                },
                "response": {"status": if first { "201 Created" } else { "200 OK" }}
            })
        })
        .collect();
    Ok(fhir(
        StatusCode::OK,
        &serde_json::json!({
            "resourceType": "Bundle",
            "type": "history",
            "link": [{"relation": "self", "url": format!("{base}/Consent/{id}/_history")}],
            "entry": entry
        }),
    ))
}

/// `GET /fhir/r4/Task/{id}/_history/{vid}`: the current version only. Kindbrug keeps no
/// earlier states of a request (its course is in the request's timeline), so an older version
/// is not found.
async fn vread_task(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path((id, vid)): Path<(String, String)>,
) -> Result<Response, FhirError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Task with this id"));
    };
    let c = consultations::get_consultation(&state, &caller(principal), id).await?;
    if vid.parse::<i64>().ok() != Some(c.version) {
        return Ok(not_found(
            "only the current version of a Task is kept; its course is in the request's timeline",
        ));
    }
    let mut res = fhir(StatusCode::OK, &resources::Task::from(&c));
    res.headers_mut().insert(header::ETAG, etag(c.version));
    Ok(res)
}

/// `POST /fhir/r4/Consent`: records a decision of the parents (or the child), through the same
/// operation as the JSON API: the Dutch rules decide who must consent, and a refusal says which
/// rule is not met. 201 with the stored record and its `Location`.
async fn create_consent(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, FhirError> {
    let input: input::ConsentIn = parse_resource(&body, "Consent")?;
    let (child, decision) = input
        .to_decision()
        .map_err(|(element, message)| rule(&element, &message))?;
    let caller = caller(principal);
    let created = crate::service::consent::create_consent(&state, &caller, child, decision)
        .await
        .map_err(|e| {
            // the workflow's explanation, with its fields named as the Consent's elements
            let mut e = ApiError::from(e);
            for f in &mut e.errors {
                f.field = input::consent_element(&f.field);
            }
            FhirError(e)
        })?;
    let stored = crate::service::consent::get_consent(&state, &caller, created.id).await?;
    let warnings = created
        .warnings
        .into_iter()
        .map(|w| {
            // a BSN-like text sits in the evidence; the other warnings are about the period
            let field = if w.rule == "possible-bsn" {
                "evidence_ref"
            } else {
                "valid_from"
            };
            (Some(input::consent_element(field)), w.message)
        })
        .collect();
    created_with_warnings(
        &state,
        "Consent",
        &stored.id,
        resources::consent_version(&stored),
        &resources::Consent::from(&stored),
        &headers,
        warnings,
    )
}

/// `GET /fhir/r4/RelatedPerson?patient=…`: a child's parents and guardians.
async fn search_related_persons(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let params = search_params(&q, &["patient", "_format"], "RelatedPerson")?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let found = match patient_of(&params, "RelatedPerson")? {
        Some(id) => found_or_empty(children::list_guardians(&state, &caller(principal), id).await)?,
        None => Vec::new(),
    };
    let found = found
        .iter()
        .map(|g| (g.id.to_string(), resources::RelatedPerson::from(g)))
        .collect();
    Ok(bundle(&base, "RelatedPerson", found, None, &q))
}

// ---------------------------------------------------------------- Task and ServiceRequest

/// `GET /fhir/r4/Task/{id}` (where a consultation request stands) and
/// `GET /fhir/r4/ServiceRequest/{id}` (the request itself, the question only for those the
/// workflow shows it to): one request, for those who may see it.
async fn read_request(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    path: MatchedPath,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let kind = requested_type(&path);
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found(&format!("no {kind} with this id")));
    };
    let c = consultations::get_consultation(&state, &caller(principal), id).await?;
    let mut res = if kind == "Task" {
        fhir(StatusCode::OK, &resources::Task::from(&c))
    } else {
        fhir(StatusCode::OK, &resources::ServiceRequest::from(&c))
    };
    res.headers_mut().insert(header::ETAG, etag(c.version));
    Ok(res)
}

/// The version an `If-Match` names (`W/"3"` or `"3"`): required for a change.
fn if_match_version(headers: &HeaderMap) -> Result<i64, FhirError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let value = values.next().ok_or_else(|| {
        FhirError(
            crate::service::ServiceError::PreconditionRequired(
                "send If-Match with the Task's ETag (W/\"<versionId>\")".into(),
            )
            .into(),
        )
    })?;
    if values.next().is_some() {
        return Err(bad("send one If-Match header"));
    }
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/"))
        .and_then(|v| v.strip_prefix('"')?.strip_suffix('"')?.parse::<i64>().ok())
        .ok_or_else(|| bad("If-Match takes the Task's ETag, W/\"<versionId>\""))
}

/// Elements of a Task that a `PUT` may carry with another value than the server's: the status
/// change itself, and what follows from it.
const TASK_PUT_FREE: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "text",
    "status",
    "statusReason",
    "businessStatus",
    "lastModified",
    "owner",
    "extension",
];

/// `PUT /fhir/r4/Task/{id}` with `If-Match`: a status change through the workflow. The owner
/// (the specialist it is offered to) accepts or rejects (then the request moves on to the next
/// specialist, or to the region's queue); a coordinator rejects an unassigned request; the
/// requester cancels. Every other change is refused with the rule (422), and nothing else of
/// the Task changes through here.
async fn update_task(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, FhirError> {
    use crate::service::consultations::ReasonBody;
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Task with this id"));
    };
    let input: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| bad("the body is not a JSON resource"))?;
    let Some(fields) = input.as_object() else {
        return Err(bad("the body is not a JSON resource"));
    };
    if input["resourceType"] != "Task" {
        return Err(bad("the body must be a Task"));
    }
    if input["id"].as_str() != Some(id.to_string().as_str()) {
        return Err(bad("the Task's id must be the id in the URL"));
    }
    let expected = if_match_version(&headers)?;
    let Some(status) = input["status"].as_str() else {
        return Err(rule("Task.status", "a Task has a status"));
    };
    let caller = caller(principal);
    // the Task as this caller may see it; a specialist whose consent lapsed no longer sees the
    // request, but may still turn down the offer it holds (as on the JSON API)
    let current = match consultations::get_consultation(&state, &caller, id).await {
        Ok(c) => Some(c),
        Err(crate::service::ServiceError::Forbidden { .. }) if status == "rejected" => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(current) = &current {
        if current.version != expected {
            return Err(FhirError(ApiError::stale()));
        }
        let now_task = serde_json::to_value(resources::Task::from(current)).unwrap_or_default();
        for (key, value) in fields {
            if TASK_PUT_FREE.contains(&key.as_str()) {
                continue;
            }
            if now_task.get(key) != Some(value) {
                return Err(rule(
                    &format!("Task.{key}"),
                    &format!(
                        "only status and statusReason change through PUT; {key} is not as stored"
                    ),
                ));
            }
        }
    }
    let reason = input["statusReason"]["text"].as_str().map(str::to_string);
    let reason_body = || -> Result<ReasonBody, FhirError> {
        match &reason {
            Some(r) if !r.trim().is_empty() => Ok(ReasonBody { reason: r.clone() }),
            _ => Err(rule(
                "Task.statusReason",
                "give the reason as statusReason.text",
            )),
        }
    };
    use crate::domain::consultation::ConsultationStatus as S;
    let unchanged = current
        .as_ref()
        .is_some_and(|c| status == resources::task_status(c.status));
    let after = if let (true, Some(c)) = (unchanged, current.as_ref()) {
        // nothing to do; a new reason alone is not a change the workflow knows
        if reason.is_some() && reason.as_deref() != c.status_reason.as_deref() {
            return Err(rule(
                "Task.statusReason",
                "a reason is given with a change of status",
            ));
        }
        let mut res = fhir(StatusCode::OK, &resources::Task::from(c));
        res.headers_mut().insert(header::ETAG, etag(c.version));
        return Ok(res);
    } else {
        let based = Some(expected);
        let changed = match (status, current.as_ref().map(|c| c.status)) {
            ("accepted", _) => consultations::accept_based(&state, &caller, id, based).await,
            // the owner turns its offer down; a coordinator turns an unassigned request down
            ("rejected", Some(S::Unassigned)) => {
                consultations::reject_based(&state, &caller, id, reason_body()?, based).await
            }
            ("rejected", _) => {
                consultations::decline_based(&state, &caller, id, reason_body()?, based).await
            }
            ("cancelled", _) => {
                consultations::cancel_based(&state, &caller, id, reason_body()?, based).await
            }
            (other, _) => {
                return Err(rule(
                    "Task.status",
                    &format!(
                        "a Task moves to accepted or rejected (by its owner), rejected (by the region's coordinator) or cancelled (by its requester) here; {other} is reached through the workflow"
                    ),
                ))
            }
        };
        match changed {
            Ok(v) => v,
            // another change won: the version this one was based on is gone
            Err(crate::service::ServiceError::Conflict {
                code: "changed-meanwhile",
                ..
            }) => return Err(FhirError(ApiError::stale())),
            // a transition the workflow does not allow from here: the rule, as a 422
            Err(crate::service::ServiceError::Conflict { code, detail, .. })
                if code != "specialist-full" =>
            {
                return Err(rule("Task.status", &detail))
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut res = fhir(StatusCode::OK, &resources::Task::from(&after));
    res.headers_mut().insert(header::ETAG, etag(after.version));
    Ok(res)
}

/// A posted resource, read into its input type. A refusal names the unknown element or where
/// the wrong type is, never a value (a value may be child data).
fn parse_resource<T: serde::de::DeserializeOwned>(body: &[u8], kind: &str) -> Result<T, FhirError> {
    match serde_json::from_slice(body) {
        Ok(r) => Ok(r),
        Err(e) if e.is_data() => {
            let message = e.to_string();
            let what = match message.find("unknown field `") {
                Some(at) => message[at..]
                    .split_once(", expected")
                    .map(|(field, _)| field.to_string())
                    .unwrap_or_else(|| "an element this server does not know".into()),
                None => "an element of the wrong type or with a value not allowed".into(),
            };
            Err(bad(format!(
                "not a {kind} this server takes: {what} (line {}, column {})",
                e.line(),
                e.column()
            )))
        }
        Err(_) => Err(bad("the body is not a JSON resource")),
    }
}

/// A refusal by a rule of the workflow (422), naming the element.
fn rule(element: &str, message: &str) -> FhirError {
    FhirError(ApiError::from(crate::service::ServiceError::field(
        element, message,
    )))
}

const TASK_PARAMS: &[&str] = &[
    "_id", "patient", "subject", "status", "owner", "_count", "_cursor", "_format",
];
const TASK_STATUSES: &[&str] = &[
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
];
const REQUEST_STATUSES: &[&str] = &[
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
];

/// `_lastUpdated=ge…` and `_lastUpdated=lt…` (each at most once) taken out of the parameters.
type UpdatedWithin = (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

fn last_updated(
    q: &[(String, String)],
) -> Result<(UpdatedWithin, Vec<(String, String)>), FhirError> {
    let (mut from, mut to) = (None, None);
    let mut rest = Vec::new();
    for (k, v) in q {
        if k != "_lastUpdated" {
            rest.push((k.clone(), v.clone()));
            continue;
        }
        match date_bound(v)? {
            ("ge", at) if from.is_none() => from = Some(at),
            ("lt", at) if to.is_none() => to = Some(at),
            _ => {
                return Err(bad(
                    "give _lastUpdated=ge… and _lastUpdated=lt… at most once each",
                ))
            }
        }
    }
    Ok(((from, to), rest))
}

/// The codes of a token search (`a,b` is either), each from `allowed`.
fn codes<'a>(value: &'a str, allowed: &[&str], name: &str) -> Result<Vec<&'a str>, FhirError> {
    value
        .split(',')
        .map(|c| {
            let c = c.rsplit('|').next().unwrap_or(c);
            if allowed.contains(&c) {
                Ok(c)
            } else {
                Err(bad(format!(
                    "{name}: {c} is not one of {}",
                    allowed.join(", ")
                )))
            }
        })
        .collect()
}
const TASK_INCLUDES: &[&str] = &["Task:focus", "Task:patient"];
const SERVICE_REQUEST_INCLUDES: &[&str] = &["ServiceRequest:subject", "ServiceRequest:patient"];

/// Takes the `_include`s out of the parameters (they may repeat), refusing any not offered.
fn includes(q: &[(String, String)], offered: &[&str]) -> Result<Vec<String>, FhirError> {
    let mut out = Vec::new();
    for (_, v) in q.iter().filter(|(k, _)| k == "_include") {
        if !offered.contains(&v.as_str()) {
            return Err(bad(format!(
                "_include={v} is not offered; offered: {}",
                offered.join(", ")
            )));
        }
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(out)
}

/// The resource type a request's route names (`/fhir/r4/Task`, `/fhir/r4/Task/_search`).
fn requested_type(path: &MatchedPath) -> &'static str {
    if path.as_str().starts_with("/fhir/r4/ServiceRequest") {
        "ServiceRequest"
    } else {
        "Task"
    }
}

/// Searches consultation requests as Tasks or ServiceRequests: through the same list the JSON
/// API answers (the caller's own, consent applied, every page logged). Included resources are
/// read through the workflow again, each checked for this caller and its scope; what it may
/// not read is left out.
async fn request_search(
    state: &AppState,
    principal: crate::auth::Principal,
    q: Vec<(String, String)>,
    resource_type: &str,
) -> Result<Response, FhirError> {
    use crate::domain::scopes::Interaction;
    let task = resource_type == "Task";
    let include = includes(
        &q,
        if task {
            TASK_INCLUDES
        } else {
            SERVICE_REQUEST_INCLUDES
        },
    )?;
    let rest: Vec<(String, String)> = q.iter().filter(|(k, _)| k != "_include").cloned().collect();
    let ((updated_from, updated_to), rest) = last_updated(&rest)?;
    let params = search_params(&rest, TASK_PARAMS, resource_type)?;
    if params.contains_key("patient") && params.contains_key("subject") {
        return Err(bad("give patient or subject, not both"));
    }
    let statuses = match params.get("status") {
        None => None,
        Some(v) if task => Some(codes(v, TASK_STATUSES, "status")?),
        Some(v) => Some(codes(v, REQUEST_STATUSES, "status")?),
    };
    let owner = match params.get("owner") {
        None => None,
        Some(_) if !task => return Err(bad("owner is a search parameter of Task")),
        Some(v) => Some(reference_id(v, "PractitionerRole")),
    };
    let count = count_of(&params)?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let include_patient = include
        .iter()
        .any(|i| i.ends_with(":patient") || i.ends_with(":subject"))
        && principal.permits("Patient", Interaction::Read);
    let include_focus = task
        && include.iter().any(|i| i == "Task:focus")
        && principal.permits("ServiceRequest", Interaction::Read);
    let caller = caller(principal);
    let (views, next) = if let Some(id) = params.get("_id") {
        let found = match id.parse::<Uuid>() {
            Ok(id) => match consultations::get_consultation(state, &caller, id).await {
                Ok(c) => vec![c],
                // not the caller's (or no longer: consent lapsed): nothing is found
                Err(e) if e.is_refusal() => Vec::new(),
                Err(e) => return Err(e.into()),
            },
            Err(_) => Vec::new(),
        };
        (found, None)
    } else {
        let child = match params.get("patient").or(params.get("subject")) {
            None => None,
            Some(p) => match p.strip_prefix("Patient/").unwrap_or(p).parse::<Uuid>() {
                Ok(id) => Some(id),
                // no child has this id: nothing is found
                Err(_) => {
                    return Ok(bundle(
                        &base,
                        resource_type,
                        Vec::<(String, serde_json::Value)>::new(),
                        None,
                        &q,
                    ))
                }
            },
        };
        let page = consultations::list_consultations(
            state,
            &caller,
            consultations::ListParams {
                status: None,
                assigned: None,
                region: None,
                child_id: child,
                limit: Some(count),
                cursor: params.get("_cursor").map(|c| c.to_string()),
            },
        )
        .await?;
        (page.items, page.next_cursor)
    };
    // the narrowing parameters: a page may then hold fewer than _count; the next link goes on
    let views: Vec<consultations::ConsultationView> = views
        .into_iter()
        .filter(|c| {
            let status = if task {
                resources::task_status(c.status)
            } else {
                resources::request_status(c.status)
            };
            statuses.as_ref().is_none_or(|s| s.contains(&status))
                && owner.as_ref().is_none_or(|o| {
                    let held = resources::Task::from(c).owner.map(|r| r.reference);
                    o.is_some() && held == o.map(|id| format!("PractitionerRole/{id}"))
                })
                && updated_from.is_none_or(|f| c.updated_at >= f)
                && updated_to.is_none_or(|t| c.updated_at < t)
        })
        .collect();
    let mut included: Vec<(String, serde_json::Value)> = Vec::new();
    if include_focus {
        for c in &views {
            included.push((
                format!("ServiceRequest/{}", c.id),
                serde_json::to_value(resources::ServiceRequest::from(c)).unwrap_or_default(),
            ));
        }
    }
    if include_patient {
        let mut seen = std::collections::HashSet::new();
        for c in &views {
            if !seen.insert(c.child_id) {
                continue;
            }
            // checked again: a request may be visible to someone who does not keep the child's
            // record (a specialist), and then the Patient is not theirs to read
            match children::get_child(state, &caller, c.child_id).await {
                Ok(child) => included.push((
                    format!("Patient/{}", child.id),
                    serde_json::to_value(Patient::from(&child)).unwrap_or_default(),
                )),
                Err(e) if e.is_refusal() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let found: Vec<(String, serde_json::Value)> = views
        .iter()
        .map(|c| {
            let resource = if task {
                serde_json::to_value(resources::Task::from(c))
            } else {
                serde_json::to_value(resources::ServiceRequest::from(c))
            };
            (c.id.to_string(), resource.unwrap_or_default())
        })
        .collect();
    Ok(bundle_with(&base, resource_type, found, included, next, &q))
}

// ---------------------------------------------------------------- Encounter

/// `GET /fhir/r4/Encounter/{id}`: a coaching visit, for the specialist who logged it and the
/// child's mentors (never the sealed notes).
async fn read_encounter(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(not_found("no Encounter with this id"));
    };
    let v = crate::service::visits::get_visit(&state, &caller(principal), id).await?;
    let mut res = fhir(StatusCode::OK, &resources::Encounter::from(&v));
    res.headers_mut().insert(header::ETAG, etag(v.version));
    Ok(res)
}

const ENCOUNTER_PARAMS: &[&str] = &["_id", "based-on", "patient", "subject", "_format"];

/// Every request about a child the caller may see (all pages); a caller who may see none
/// (a role that lists no requests) finds nothing.
async fn requests_of_child(
    state: &AppState,
    caller: &Caller,
    child: Uuid,
) -> Result<Vec<consultations::ConsultationView>, FhirError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = match consultations::list_consultations(
            state,
            caller,
            consultations::ListParams {
                status: None,
                assigned: None,
                region: None,
                child_id: Some(child),
                limit: Some(200),
                cursor: cursor.take(),
            },
        )
        .await
        {
            Ok(page) => page,
            Err(e) if e.is_refusal() => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// An id a reference parameter names (`Type/{id}` or `{id}`); `None` if it names nothing that
/// could exist.
fn reference_id(value: &str, kind: &str) -> Option<Uuid> {
    value
        .strip_prefix(kind)
        .and_then(|v| v.strip_prefix('/'))
        .unwrap_or(value)
        .parse()
        .ok()
}

/// Visits by request (`based-on`), by child (`patient`/`subject`: the visits of the child's
/// requests the caller may see) or by `_id`. What the caller may not see is not found.
async fn encounter_search(
    state: &AppState,
    principal: crate::auth::Principal,
    q: Vec<(String, String)>,
) -> Result<Response, FhirError> {
    use crate::service::visits;
    let params = search_params(&q, ENCOUNTER_PARAMS, "Encounter")?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let caller = caller(principal);
    let patient = match (params.get("patient"), params.get("subject")) {
        (Some(_), Some(_)) => return Err(bad("give patient or subject, not both")),
        (p, s) => p.or(s),
    };
    let mut found = Vec::new();
    if let Some(id) = params.get("_id") {
        if let Some(id) = reference_id(id, "Encounter") {
            match visits::get_visit(state, &caller, id).await {
                Ok(v) => found.push(v),
                Err(e) if e.is_refusal() => {}
                Err(e) => return Err(e.into()),
            }
        }
    } else if let Some(request) = params.get("based-on") {
        if let Some(id) = reference_id(request, "ServiceRequest") {
            match visits::list_visits(state, &caller, id).await {
                Ok(list) => found = list,
                Err(e) if e.is_refusal() => {}
                Err(e) => return Err(e.into()),
            }
        }
    } else if let Some(child) = patient {
        if let Some(child) = reference_id(child, "Patient") {
            for r in requests_of_child(state, &caller, child).await? {
                match visits::list_visits(state, &caller, r.id).await {
                    Ok(list) => found.extend(list),
                    // a request the caller sees but whose visits are not theirs (a coordinator)
                    Err(e) if e.is_refusal() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    } else {
        return Err(bad(
            "Encounter is searched by based-on=ServiceRequest/{id}, patient=Patient/{id} or _id",
        ));
    }
    // the other parameters narrow what was found
    if let Some(request) = params.get("based-on") {
        let id = reference_id(request, "ServiceRequest");
        found.retain(|v| Some(v.consultation_id) == id);
    }
    if let Some(child) = patient {
        let id = reference_id(child, "Patient");
        found.retain(|v| Some(v.child_id) == id);
    }
    let found = found
        .iter()
        .map(|v| (v.id.to_string(), resources::Encounter::from(v)))
        .collect();
    Ok(bundle(&base, "Encounter", found, None, &q))
}

/// `POST /fhir/r4/Encounter`: the assigned specialist's system logs a coaching visit, through
/// the same workflow as the JSON API (the first held visit starts the work).
async fn create_encounter(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    body: axum::body::Bytes,
) -> Result<Response, FhirError> {
    let input: input::EncounterIn = parse_resource(&body, "Encounter")?;
    let asked = input
        .to_visit()
        .map_err(|(element, message)| rule(&element, &message))?;
    let created = crate::service::visits::create_visit_about(
        &state,
        &caller(principal),
        asked.consultation,
        asked.subject,
        asked.visit,
    )
    .await
    .map_err(|e| {
        let mut e = ApiError::from(e);
        for f in &mut e.errors {
            f.field = input::encounter_element(&f.field);
        }
        FhirError(e)
    })?;
    created_response(
        &state,
        "Encounter",
        &created.id,
        created.version,
        &resources::Encounter::from(&created),
    )
}

// ---------------------------------------------------------------- Observation

/// An Observation as the caller may see it: a concern's domain (those who keep the child's
/// record) or a closed request's outcome (those who may see the request).
async fn observation(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Option<resources::Observation>, crate::service::ServiceError> {
    use resources::ObservationId;
    Ok(match resources::parse_observation_id(id) {
        None => None,
        Some(ObservationId::Concern(concern, domain)) => {
            let c = consultations::get_concern(state, caller, concern).await?;
            resources::Observation::of_concern(&c)
                .into_iter()
                .find(|o| o.id == resources::concern_observation_id(concern, &domain))
        }
        Some(ObservationId::Outcome(request)) => {
            let c = consultations::get_consultation(state, caller, request).await?;
            resources::Observation::of_outcome(&c)
        }
    })
}

/// `GET /fhir/r4/Observation/{id}`.
async fn read_observation(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    match observation(&state, &caller(principal), &id).await {
        Ok(Some(o)) => Ok(fhir(StatusCode::OK, &o)),
        Ok(None) => Ok(not_found("no Observation with this id")),
        Err(crate::service::ServiceError::NotFound { .. }) => {
            Ok(not_found("no Observation with this id"))
        }
        Err(e) => Err(e.into()),
    }
}

const OBSERVATION_PARAMS: &[&str] = &[
    "_id", "patient", "subject", "category", "based-on", "_format",
];

/// A child's concerns (one Observation per domain, for those who keep the record) and the
/// outcomes of its closed requests (for those who may see them); or one by `_id`; narrowed by
/// `category` (`concern`, `consultation-outcome`) and `based-on`.
async fn observation_search(
    state: &AppState,
    principal: crate::auth::Principal,
    q: Vec<(String, String)>,
) -> Result<Response, FhirError> {
    let params = search_params(&q, OBSERVATION_PARAMS, "Observation")?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let caller = caller(principal);
    let category = match params
        .get("category")
        .map(|c| c.rsplit('|').next().unwrap_or(c))
    {
        None => None,
        Some(c @ ("concern" | "consultation-outcome")) => Some(c),
        Some(_) => return Err(bad("category is concern or consultation-outcome")),
    };
    let patient = match (params.get("patient"), params.get("subject")) {
        (Some(_), Some(_)) => return Err(bad("give patient or subject, not both")),
        (p, s) => p.or(s),
    };
    let mut found: Vec<resources::Observation> = Vec::new();
    if let Some(id) = params.get("_id") {
        match observation(state, &caller, id).await {
            Ok(Some(o)) => found.push(o),
            Ok(None) => {}
            Err(e) if e.is_refusal() => {}
            Err(e) => return Err(e.into()),
        }
    } else if let Some(child) = patient {
        if let Some(child) = reference_id(child, "Patient") {
            if category != Some("consultation-outcome") {
                for c in found_or_empty(consultations::list_concerns(state, &caller, child).await)?
                {
                    found.extend(resources::Observation::of_concern(&c));
                }
            }
            if category != Some("concern") {
                let requests = requests_of_child(state, &caller, child).await?;
                found.extend(
                    requests
                        .iter()
                        .filter_map(resources::Observation::of_outcome),
                );
            }
        }
    } else {
        return Err(bad(
            "Observation is searched per child (patient=Patient/{id}) or by _id",
        ));
    }
    if let Some(c) = category {
        found.retain(|o| {
            o.category
                .iter()
                .any(|k| k.coding.iter().any(|x| x.code == c))
        });
    }
    if let Some(child) = patient {
        let child = reference_id(child, "Patient").map(|c| format!("Patient/{c}"));
        found.retain(|o| Some(&o.subject.reference) == child.as_ref());
    }
    if let Some(request) = params.get("based-on") {
        let request =
            reference_id(request, "ServiceRequest").map(|r| format!("ServiceRequest/{r}"));
        found.retain(|o| {
            o.based_on
                .iter()
                .any(|b| Some(&b.reference) == request.as_ref())
        });
    }
    let found = found.into_iter().map(|o| (o.id.clone(), o)).collect();
    Ok(bundle(&base, "Observation", found, None, &q))
}

// ---------------------------------------------------------------- the directory, groups, mentors

/// The id in a read's path, or the 404 of a resource that cannot exist.
fn path_id(id: &str, resource_type: &str) -> Result<Uuid, FhirError> {
    id.parse::<Uuid>().map_err(|_| {
        FhirError(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {resource_type} with this id"),
        ))
    })
}

/// `GET /fhir/r4/PractitionerRole/{id}`: a specialist's role for every partner (the owner of
/// a Task), anyone else's within the organisation.
async fn read_practitioner_role(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = path_id(&id, "PractitionerRole")?;
    let r = crate::service::registry::professional_role(&state, &caller(principal), id).await?;
    Ok(fhir(StatusCode::OK, &resources::PractitionerRole::from(&r)))
}

/// `GET /fhir/r4/HealthcareService/{id}`: what a youth-care provider offers (its id is the
/// organisation's).
async fn read_healthcare_service(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = path_id(&id, "HealthcareService")?;
    let o = crate::service::registry::provider_offer(&state, &caller(principal), id).await?;
    Ok(fhir(
        StatusCode::OK,
        &resources::HealthcareService::from(&o),
    ))
}

/// `GET /fhir/r4/Group/{id}`: a group of a location, for those who work there.
async fn read_group(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = path_id(&id, "Group")?;
    let (g, org) =
        crate::service::registry::group_of_location(&state, &caller(principal), id).await?;
    Ok(fhir(StatusCode::OK, &resources::Group::of(&g, org)))
}

/// The child's mentors as a CareTeam (its id is the child's), for those who keep its record.
async fn care_team(
    state: &AppState,
    caller: &Caller,
    child: Uuid,
) -> Result<resources::CareTeam, crate::service::ServiceError> {
    let c = children::get_child(state, caller, child).await?;
    let mentors = children::mentor_history(state, caller, child).await?;
    Ok(resources::CareTeam::of(&c, &mentors))
}

/// `GET /fhir/r4/CareTeam/{id}`.
async fn read_care_team(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = path_id(&id, "CareTeam")?;
    match care_team(&state, &caller(principal), id).await {
        Ok(t) => Ok(fhir(StatusCode::OK, &t)),
        Err(crate::service::ServiceError::NotFound { .. }) => {
            Ok(not_found("no CareTeam with this id"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /fhir/r4/CareTeam?patient=…`: the child's mentors.
async fn search_care_teams(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let params = search_params(&q, &["patient", "subject", "_format"], "CareTeam")?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let patient = match (params.get("patient"), params.get("subject")) {
        (Some(_), Some(_)) => return Err(bad("give patient or subject, not both")),
        (None, None) => {
            return Err(bad(
                "CareTeam is searched per child: give patient=Patient/{id}",
            ))
        }
        (p, s) => p.or(s).and_then(|v| reference_id(v, "Patient")),
    };
    let mut found = Vec::new();
    if let Some(child) = patient {
        match care_team(&state, &caller(principal), child).await {
            Ok(t) => found.push((t.id.clone(), t)),
            Err(crate::service::ServiceError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(bundle(&base, "CareTeam", found, None, &q))
}

// ---------------------------------------------------------------- AuditEvent

/// A `date` search value as an instant: `ge2026-11-01`, `lt2026-12-01T00:00:00Z` (a day is its
/// start in the Netherlands).
fn date_bound(value: &str) -> Result<(&str, chrono::DateTime<chrono::Utc>), FhirError> {
    let (prefix, rest) = value.split_at(value.find(|c: char| c.is_ascii_digit()).unwrap_or(0));
    let at = if rest.len() == 10 {
        use chrono::TimeZone;
        chrono::NaiveDate::parse_from_str(rest, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| {
                chrono_tz::Europe::Amsterdam
                    .from_local_datetime(&t)
                    .earliest()
            })
            .map(|t| t.with_timezone(&chrono::Utc))
    } else {
        chrono::DateTime::parse_from_rfc3339(rest)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    match (prefix, at) {
        ("ge" | "lt", Some(at)) => Ok((prefix, at)),
        _ => Err(bad(
            "date takes ge{date} and lt{date} (a date or an instant)",
        )),
    }
}

/// `GET /fhir/r4/AuditEvent`: the access log for an admin, oldest first, by `patient` and
/// `date` (`ge`/`lt`); the read is logged itself.
async fn search_audit_events(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let mut from = None;
    let mut to = None;
    let mut rest = Vec::new();
    for (k, v) in &q {
        if k == "date" {
            match date_bound(v)? {
                ("ge", at) if from.is_none() => from = Some(at),
                ("lt", at) if to.is_none() => to = Some(at),
                _ => return Err(bad("give date=ge… and date=lt… at most once each")),
            }
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    return Err(bad("date=ge… is after date=lt…"));
                }
            }
        } else {
            rest.push((k.clone(), v.clone()));
        }
    }
    let params = search_params(
        &rest,
        &["patient", "_count", "_cursor", "_format"],
        "AuditEvent",
    )?;
    let count = count_of(&params)?;
    let child_id = match params.get("patient") {
        None => None,
        Some(p) => Some(reference_id(p, "Patient").ok_or_else(|| bad("patient is Patient/{id}"))?),
    };
    let page = crate::service::audit::list_audit(
        &state,
        &caller(principal),
        crate::service::audit::AuditParams {
            child_id,
            from,
            to,
            flag: None,
            limit: Some(count),
            cursor: params.get("_cursor").map(|c| c.to_string()),
        },
    )
    .await?;
    let base = format!("{}/fhir/r4", state.config.public_base());
    let found = page
        .items
        .iter()
        .map(|e| (e.id.to_string(), resources::AuditEvent::from(e)))
        .collect();
    Ok(bundle(&base, "AuditEvent", found, page.next_cursor, &q))
}

// ---------------------------------------------------------------- Subscription

/// `POST /fhir/r4/Subscription`: a rest-hook with an empty payload for the caller's
/// organisation, delivered through the outbox (signed, retried); the answer carries the public
/// key that verifies the signatures.
async fn create_subscription(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    body: axum::body::Bytes,
) -> Result<Response, FhirError> {
    let input: input::SubscriptionIn = parse_resource(&body, "Subscription")?;
    let (url, subscription) = input
        .to_subscription()
        .map_err(|(element, message)| rule(&element, &message))?;
    let (created, view) = crate::service::webhooks::create_subscription(
        &state,
        &caller(principal),
        url,
        subscription,
    )
    .await
    .map_err(|e| {
        let mut e = ApiError::from(e);
        for f in &mut e.errors {
            f.field = input::subscription_element(&f.field);
        }
        FhirError(e)
    })?;
    let mut resource = resources::Subscription::from(&view);
    if let Some(key) = created.public_key {
        resource.extension.push(resources::StringExtension {
            url: resources::SIGNING_KEY_EXTENSION,
            value_string: key,
        });
    }
    let mut res = fhir(StatusCode::CREATED, &resource);
    let location = format!(
        "{}/fhir/r4/Subscription/{}",
        state.config.public_base(),
        view.id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// `GET /fhir/r4/Subscription/{id}`: one of the caller's organisation.
async fn read_subscription(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = path_id(&id, "Subscription")?;
    let view = crate::service::webhooks::get_subscription(&state, &caller(principal), id).await?;
    Ok(fhir(StatusCode::OK, &resources::Subscription::from(&view)))
}

/// `DELETE /fhir/r4/Subscription/{id}`: no more notifications.
async fn delete_subscription(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id = path_id(&id, "Subscription")?;
    crate::service::webhooks::delete_subscription(&state, &caller(principal), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- creating a request

/// The key a conditional create (`If-None-Exist: identifier=system|value`) is kept under: the
/// same as an `Idempotency-Key` of the caller's, so a repeat answers the request the first
/// one made.
fn conditional_key(headers: &HeaderMap) -> Result<Option<String>, FhirError> {
    let mut values = headers.get_all("if-none-exist").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad("send one If-None-Exist header"));
    }
    let value = value
        .to_str()
        .map_err(|_| bad("If-None-Exist is not text"))?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(value.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match pairs.as_slice() {
        [(k, v)]
            if k == "identifier" && v.contains('|') && !v.starts_with('|') && !v.ends_with('|') =>
        {
            if v.len() > 200 {
                return Err(bad(
                    "the identifier of If-None-Exist is at most 200 characters",
                ));
            }
            Ok(Some(format!("fhir-identifier:{v}")))
        }
        _ => Err(bad(
            "If-None-Exist takes one search parameter: identifier=system|value",
        )),
    }
}

/// `POST /fhir/r4/ServiceRequest`: a childcare system opens a consultation request (the Task
/// that follows where it stands has the same id). The workflow decides as on the JSON API:
/// consent in force (else 422 naming who still must consent), routed at once. With
/// `If-None-Exist: identifier=system|value` a repeat answers 200 with the request the first
/// one made; the same identifier with another request is refused (412).
async fn create_service_request(
    State(state): State<AppState>,
    principal: crate::auth::Principal,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, FhirError> {
    let key = conditional_key(&headers)?;
    let input: input::ServiceRequestIn = parse_resource(&body, "ServiceRequest")?;
    let asked = input
        .to_request()
        .map_err(|(element, message)| rule(&element, &message))?;
    let caller = caller(principal);
    let submitted = consultations::submit(&state, &caller, asked, key)
        .await
        .map_err(|e| {
            use crate::service::ServiceError as E;
            let e = match e {
                E::IdempotencyKeyReused => {
                    return FhirError(ApiError::new(
                        StatusCode::PRECONDITION_FAILED,
                        "if-none-exist",
                        "Precondition failed",
                        "If-None-Exist: this identifier names another request of yours",
                    ))
                }
                // the consent the request needs is a rule of the workflow: 422, with who
                // still must consent
                E::Conflict {
                    code: "consent-required",
                    missing: Some(_),
                    ..
                } => {
                    let mut e = ApiError::from(e);
                    e.status = StatusCode::UNPROCESSABLE_ENTITY;
                    e
                }
                e => ApiError::from(e),
            };
            let mut e = e;
            for f in &mut e.errors {
                f.field = input::service_request_element(&f.field);
            }
            FhirError(e)
        })?;
    let (status, s) = match submitted {
        consultations::Submitted::Created(s) => (StatusCode::CREATED, s),
        consultations::Submitted::Replayed(s) => (StatusCode::OK, s),
    };
    let view = consultations::get_consultation(&state, &caller, s.id).await?;
    let warnings = s
        .warnings
        .into_iter()
        .map(|w| (Some(input::service_request_element(&w.field)), w.message))
        .collect();
    let mut res = created_with_warnings(
        &state,
        "ServiceRequest",
        &view.id,
        view.version,
        &resources::ServiceRequest::from(&view),
        &headers,
        warnings,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// 201 with the resource, its `Location` and ETag.
fn created_response(
    state: &AppState,
    resource_type: &str,
    id: &Uuid,
    version: i64,
    body: &impl serde::Serialize,
) -> Result<Response, FhirError> {
    created_with_warnings(
        state,
        resource_type,
        id,
        version,
        body,
        &HeaderMap::new(),
        Vec::new(),
    )
}

/// [`created_response`]; when the workflow warns (free text that seems to hold a BSN, a
/// birthday that changes who must consent), the answer is an OperationOutcome with those
/// warnings (FHIR's `Prefer: return=OperationOutcome`), unless the client asked for
/// `Prefer: return=representation`: the record is made either way, its `Location` says where.
fn created_with_warnings(
    state: &AppState,
    resource_type: &str,
    id: &Uuid,
    version: i64,
    body: &impl serde::Serialize,
    headers: &HeaderMap,
    warnings: Vec<(Option<String>, String)>,
) -> Result<Response, FhirError> {
    let prefer = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("return="))
        .map(str::to_string);
    let outcome_wanted = match prefer.as_deref() {
        Some("OperationOutcome") => true,
        Some("representation") => false,
        _ => !warnings.is_empty(),
    };
    let mut res = if outcome_wanted {
        let mut issue: Vec<resources::Issue> = warnings
            .into_iter()
            .map(|(element, message)| resources::Issue {
                severity: "warning",
                code: "business-rule",
                diagnostics: Some(message),
                expression: element.map(|e| vec![e]),
            })
            .collect();
        issue.push(resources::Issue {
            severity: "information",
            code: "informational",
            diagnostics: Some(format!("created {resource_type}/{id}")),
            expression: None,
        });
        fhir(
            StatusCode::CREATED,
            &resources::OperationOutcome {
                resource_type: "OperationOutcome",
                issue,
            },
        )
    } else {
        fhir(StatusCode::CREATED, body)
    };
    let location = format!(
        "{}/fhir/r4/{resource_type}/{id}",
        state.config.public_base()
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::ETAG, etag(version));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_json_is_what_we_answer() {
        for ok in [
            "application/fhir+json",
            "application/fhir+json; fhirVersion=4.0",
            "application/json",
            "*/*",
            "text/html, application/fhir+json;q=0.9",
            "json",
            "application/fhir json",
        ] {
            assert!(accepts_fhir_json(ok), "{ok}");
        }
        for no in [
            "application/fhir+xml",
            "text/html",
            "application/fhir+json; fhirVersion=3.0",
            "xml",
            "application/fhir+json;q=0",
        ] {
            assert!(!accepts_fhir_json(no), "{no}");
        }
    }
}
