//! The operator's pages (*Beheer*): the youth-care regions (a CBS table previewed before it is
//! applied), organisations, locations with their groups, staff, webhook endpoints with their
//! attempts, and the access log with the chain check. The registry operations of the workflow;
//! an admin never sees child data here (the access log names ids only).

use super::forms::{Errors, Fields};
use super::mentor::{invalid, page, refused, FieldView, FormPage};
use super::{
    check_csrf, flash, flash_and_go, html, labels, staff_caller, take_flash, Frame, WebError,
};
use crate::domain::types::{ConcernDomain, LocationType, OrganizationKind, StaffRole};
use crate::service::registry::{
    self, ListParams, LocationChange, NewGroup, NewLocation, NewOrganization, NewStaff,
    OrganizationChange, StaffChange, StaffListParams,
};
use crate::service::{audit, webhooks, Caller};
use crate::AppState;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

async fn frame(session: &Session, caller: &Caller, title: &str) -> Result<Frame, WebError> {
    super::staff::frame(session, caller, title).await
}

/// An operator's page: the admin role, or the page of an unknown address.
async fn admin(state: &AppState, session: &Session) -> Result<Caller, WebError> {
    let caller = staff_caller(state, session).await?;
    match &caller {
        Caller::Principal(p) if p.has(crate::domain::types::Role::Admin) => Ok(caller),
        _ => Err(WebError::NotFound),
    }
}

fn all() -> ListParams {
    ListParams {
        limit: Some(200),
        cursor: None,
    }
}

pub(super) fn organization_kind(k: OrganizationKind) -> &'static str {
    match k {
        OrganizationKind::Childcare => "kinderopvang",
        OrganizationKind::YouthCare => "jeugdhulpaanbieder",
        OrganizationKind::Municipality => "gemeente",
    }
}

const KINDS: [OrganizationKind; 3] = [
    OrganizationKind::Childcare,
    OrganizationKind::YouthCare,
    OrganizationKind::Municipality,
];
const LOCATION_TYPES: [LocationType; 4] = [
    LocationType::Kdv,
    LocationType::Bso,
    LocationType::Psz,
    LocationType::Gob,
];
const STAFF_ROLES: [StaffRole; 4] = [
    StaffRole::Mentor,
    StaffRole::Specialist,
    StaffRole::Coordinator,
    StaffRole::Policy,
];

fn opts<T: Copy>(
    all: &[T],
    code: fn(&T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (code(v).to_string(), label(*v).to_string()))
        .collect()
}

// ---------------------------------------------------------------- start page and organisations

struct OrgLine {
    id: Uuid,
    name: String,
    kind: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin_home.html")]
struct HomePage {
    frame: Frame,
    flash: Option<String>,
    organizations: Vec<OrgLine>,
}

/// `GET /beheer`.
pub async fn home(State(state): State<AppState>, session: Session) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    // every organisation, page by page (a country has a few thousand)
    let mut every = Vec::new();
    let mut cursor = None;
    loop {
        let page = registry::list_organizations(
            &state,
            &caller,
            ListParams {
                limit: Some(200),
                cursor: cursor.take(),
            },
        )
        .await?;
        every.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let organizations = every
        .into_iter()
        .map(|o| OrgLine {
            id: o.id,
            name: o.name,
            kind: organization_kind(o.kind),
            active: o.active,
        })
        .collect();
    let t = HomePage {
        frame: frame(&session, &caller, "Beheer").await?,
        flash: take_flash(&session).await?,
        organizations,
    };
    Ok(html(StatusCode::OK, &t))
}

async fn org_form(
    session: &Session,
    caller: &Caller,
    edit: Option<Uuid>,
) -> Result<FormPage, WebError> {
    let mut fields = vec![FieldView::new("name", "Naam", "text")];
    if edit.is_none() {
        fields.push(
            FieldView::new("kind", "Soort organisatie", "radio").options(opts(
                &KINDS,
                |k| k.as_str(),
                organization_kind,
            )),
        );
    }
    let (heading, action, back) = match edit {
        None => (
            "Organisatie toevoegen",
            "/beheer/organisaties/nieuw".to_string(),
            "/beheer".to_string(),
        ),
        Some(id) => (
            "Organisatie wijzigen",
            format!("/beheer/organisaties/{id}/wijzigen"),
            format!("/beheer/organisaties/{id}"),
        ),
    };
    page(session, caller, heading, action, back, "Opslaan", fields).await
}

pub async fn new_org(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    Ok(org_form(&session, &caller, None)
        .await?
        .render(StatusCode::OK))
}

pub async fn create_org(
    State(state): State<AppState>,
    session: Session,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["name"]);
    let kind = errors.parse::<OrganizationKind>(&posted, "kind", "Kies de soort organisatie.");
    let (Some(kind), true) = (kind, errors.is_empty()) else {
        return Ok(invalid(
            org_form(&session, &caller, None).await?,
            &posted,
            &errors,
        ));
    };
    let body = NewOrganization {
        name: posted.get("name").into(),
        kind,
    };
    match registry::create_organization(&state, &caller, body).await {
        Ok(created) => {
            Ok(Redirect::to(&format!("/beheer/organisaties/{}", created.id)).into_response())
        }
        Err(e) => Ok(refused(
            org_form(&session, &caller, None).await?,
            &posted,
            e,
            &[],
        )),
    }
}

pub async fn edit_org(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let o = registry::get_organization(&state, &caller, id).await?;
    let filled = Fields::from_pairs(vec![("name".into(), o.name)]);
    Ok(org_form(&session, &caller, Some(id))
        .await?
        .filled(&filled, &Errors::default())
        .render(StatusCode::OK))
}

pub async fn update_org(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let body = OrganizationChange {
        name: Some(posted.get("name").into()),
    };
    match registry::update_organization(&state, &caller, id, body).await {
        Ok(_) => Ok(Redirect::to(&format!("/beheer/organisaties/{id}")).into_response()),
        Err(e) => Ok(refused(
            org_form(&session, &caller, Some(id)).await?,
            &posted,
            e,
            &[],
        )),
    }
}

pub async fn deactivate_org(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    registry::deactivate_organization(&state, &caller, id).await?;
    flash_and_go(
        &session,
        "De organisatie is gedeactiveerd.".into(),
        &format!("/beheer/organisaties/{id}"),
    )
    .await
}

struct LocationLine {
    id: Uuid,
    name: String,
    kind: &'static str,
    municipality: String,
    region: String,
    active: bool,
}

struct StaffLine {
    id: Uuid,
    name: String,
    subject: String,
    role: &'static str,
    details: String,
    active: bool,
}

struct EndpointLine {
    id: Uuid,
    url: String,
    events: String,
    signing: &'static str,
    active: bool,
    disabled_reason: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_org.html")]
struct OrgPage {
    frame: Frame,
    flash: Option<String>,
    id: Uuid,
    name: String,
    kind: &'static str,
    active: bool,
    locations: Vec<LocationLine>,
    staff: Vec<StaffLine>,
    endpoints: Vec<EndpointLine>,
}

fn staff_details(s: &registry::StaffView) -> String {
    let mut parts = Vec::new();
    if !s.expertise.is_empty() {
        parts.push(
            s.expertise
                .iter()
                .map(|e| labels::domain(*e))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if !s.region_codes.is_empty() {
        parts.push(format!("regio's {}", s.region_codes.join(", ")));
    }
    if let Some(c) = s.capacity {
        parts.push(format!("capaciteit {c}"));
    }
    if !s.location_ids.is_empty() {
        parts.push(format!("{} locatie(s)", s.location_ids.len()));
    }
    parts.join(" · ")
}

/// `GET /beheer/organisaties/{id}`.
pub async fn org(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let o = registry::get_organization(&state, &caller, id).await?;
    let locations = registry::list_locations(&state, &caller, id, all())
        .await?
        .items
        .into_iter()
        .map(|l| LocationLine {
            id: l.id,
            name: l.name,
            kind: labels::location_type(l.location_type),
            municipality: l.municipality_code,
            region: l.region_code.unwrap_or_else(|| "onbekend".into()),
            active: l.active,
        })
        .collect();
    let q = StaffListParams {
        limit: Some(200),
        cursor: None,
        role: None,
        region: None,
        active: None,
    };
    let staff = registry::list_staff(&state, &caller, id, q)
        .await?
        .items
        .iter()
        .map(|s| StaffLine {
            id: s.id,
            name: s.name.clone(),
            subject: s.subject.clone(),
            role: labels::role(s.role.into()),
            details: staff_details(s),
            active: s.active,
        })
        .collect();
    let endpoints = webhooks::list_endpoints(&state, &caller, id)
        .await?
        .into_iter()
        .map(|e| EndpointLine {
            id: e.id,
            url: e.url,
            events: e.events.join(", "),
            signing: if e.signing == "ed25519" {
                "Ed25519 (publieke sleutel)"
            } else {
                "HMAC (gedeeld geheim)"
            },
            active: e.status == "active",
            disabled_reason: e.disabled_reason.map(|r| disabled_reason(&r)),
        })
        .collect();
    let t = OrgPage {
        frame: frame(&session, &caller, "Organisatie").await?,
        flash: take_flash(&session).await?,
        id,
        name: o.name,
        kind: organization_kind(o.kind),
        active: o.active,
        locations,
        staff,
        endpoints,
    };
    Ok(html(StatusCode::OK, &t))
}

/// Why an endpoint was switched off, in words (the gateway's reasons, see `service::webhooks`).
fn disabled_reason(reason: &str) -> String {
    match reason {
        "the receiver answered 410 Gone" => {
            "de ontvanger antwoordde dat dit adres niet meer bestaat (410 Gone)".into()
        }
        "disabled by the organisation" => "uitgezet door de organisatie of een beheerder".into(),
        _ => "uitgezet".into(),
    }
}

// ---------------------------------------------------------------- locations and groups

async fn location_form(
    session: &Session,
    caller: &Caller,
    org: Option<Uuid>,
    edit: Option<Uuid>,
) -> Result<FormPage, WebError> {
    let mut fields = vec![FieldView::new("name", "Naam", "text")];
    if edit.is_none() {
        fields.push(
            FieldView::new("type", "Soort opvang", "radio").options(opts(
                &LOCATION_TYPES,
                |t| t.as_str(),
                labels::location_type,
            )),
        );
    }
    fields.push(
        FieldView::new("municipality_code", "Gemeentecode", "text")
            .hint("De CBS-code van de gemeente, bijvoorbeeld GM0344. De jeugdregio volgt daaruit."),
    );
    fields.push(
        FieldView::new("lrk_number", "LRK-nummer", "text")
            .hint("Negen cijfers uit het Landelijk Register Kinderopvang. Mag leeg blijven."),
    );
    let (heading, action, back) = match (org, edit) {
        (_, Some(l)) => (
            "Locatie wijzigen",
            format!("/beheer/locaties/{l}/wijzigen"),
            format!("/beheer/locaties/{l}"),
        ),
        (Some(o), None) => (
            "Locatie toevoegen",
            format!("/beheer/organisaties/{o}/locaties/nieuw"),
            format!("/beheer/organisaties/{o}"),
        ),
        (None, None) => return Err(WebError::NotFound),
    };
    page(session, caller, heading, action, back, "Opslaan", fields).await
}

const LOCATION_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("type", "type"),
    ("municipality_code", "municipality_code"),
    ("lrk_number", "lrk_number"),
];

pub async fn new_location(
    State(state): State<AppState>,
    session: Session,
    Path(org): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    registry::get_organization(&state, &caller, org).await?;
    Ok(location_form(&session, &caller, Some(org), None)
        .await?
        .render(StatusCode::OK))
}

pub async fn create_location(
    State(state): State<AppState>,
    session: Session,
    Path(org): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let form = || location_form(&session, &caller, Some(org), None);
    let mut errors = Errors::default();
    errors.required(&posted, &["name", "municipality_code"]);
    let kind = errors.parse::<LocationType>(&posted, "type", "Kies de soort opvang.");
    let municipality = match posted.get("municipality_code").to_ascii_uppercase().parse() {
        Ok(m) => Some(m),
        Err(_) => {
            if errors.get("municipality_code").is_none() {
                errors.add(
                    "municipality_code",
                    "Vul een gemeentecode in als GM en vier cijfers.",
                );
            }
            None
        }
    };
    let (Some(location_type), Some(municipality_code), true) =
        (kind, municipality, errors.is_empty())
    else {
        return Ok(invalid(form().await?, &posted, &errors));
    };
    let body = NewLocation {
        name: posted.get("name").into(),
        location_type,
        municipality_code,
        lrk_number: posted.optional("lrk_number"),
    };
    match registry::create_location(&state, &caller, org, body).await {
        Ok(created) => {
            Ok(Redirect::to(&format!("/beheer/locaties/{}", created.id)).into_response())
        }
        Err(e) => Ok(refused(form().await?, &posted, e, LOCATION_FIELDS)),
    }
}

#[derive(Template)]
#[template(path = "admin_location.html")]
struct LocationPage {
    frame: Frame,
    flash: Option<String>,
    organization: Uuid,
    id: Uuid,
    facts: Vec<(&'static str, String)>,
    active: bool,
    groups: Vec<(Uuid, String, bool)>,
}

/// `GET /beheer/locaties/{id}`: the location and its groups.
pub async fn location(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let l = registry::get_location(&state, &caller, id).await?;
    let groups = registry::list_groups(&state, &caller, id)
        .await?
        .into_iter()
        .map(|g| (g.id, g.name, g.active))
        .collect();
    let t = LocationPage {
        frame: frame(&session, &caller, "Locatie").await?,
        flash: take_flash(&session).await?,
        organization: l.organization_id,
        id,
        facts: vec![
            ("Naam", l.name.clone()),
            ("Soort", labels::location_type(l.location_type).into()),
            ("Gemeente", l.municipality_code.clone()),
            (
                "Jeugdregio",
                l.region_code
                    .clone()
                    .unwrap_or_else(|| "onbekend (de gemeente staat niet in de regiotabel)".into()),
            ),
            (
                "LRK-nummer",
                l.lrk_number.clone().unwrap_or_else(|| "—".into()),
            ),
        ],
        active: l.active,
        groups,
    };
    Ok(html(StatusCode::OK, &t))
}

/// `GET /beheer/locaties/{id}/wijzigen`.
pub async fn edit_location(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let l = registry::get_location(&state, &caller, id).await?;
    let filled = Fields::from_pairs(vec![
        ("name".into(), l.name),
        ("municipality_code".into(), l.municipality_code),
        ("lrk_number".into(), l.lrk_number.unwrap_or_default()),
    ]);
    Ok(location_form(&session, &caller, None, Some(id))
        .await?
        .filled(&filled, &Errors::default())
        .render(StatusCode::OK))
}

pub async fn update_location(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["name", "municipality_code"]);
    let municipality = posted
        .get("municipality_code")
        .to_ascii_uppercase()
        .parse()
        .ok();
    if municipality.is_none() && errors.get("municipality_code").is_none() {
        errors.add(
            "municipality_code",
            "Vul een gemeentecode in als GM en vier cijfers.",
        );
    }
    let form = || location_form(&session, &caller, None, Some(id));
    if !errors.is_empty() {
        return Ok(invalid(form().await?, &posted, &errors));
    }
    let body = LocationChange {
        name: Some(posted.get("name").into()),
        lrk_number: posted.optional("lrk_number"),
        municipality_code: municipality,
    };
    match registry::update_location(&state, &caller, id, body).await {
        Ok(_) => {
            flash_and_go(
                &session,
                "De locatie is opgeslagen.".into(),
                &format!("/beheer/locaties/{id}"),
            )
            .await
        }
        Err(e) => Ok(refused(form().await?, &posted, e, LOCATION_FIELDS)),
    }
}

pub async fn deactivate_location(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    registry::deactivate_location(&state, &caller, id).await?;
    flash_and_go(
        &session,
        "De locatie is gedeactiveerd.".into(),
        &format!("/beheer/locaties/{id}"),
    )
    .await
}

pub async fn create_group(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let body = NewGroup {
        name: posted.get("group_name").into(),
    };
    match registry::create_group(&state, &caller, id, body).await {
        Ok(_) => flash(&session, "De groep is toegevoegd.".into()).await?,
        Err(crate::service::ServiceError::Validation(_)) => {
            flash(
                &session,
                "Vul een naam in voor de groep (hoogstens 200 tekens).".into(),
            )
            .await?
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/beheer/locaties/{id}")).into_response())
}

async fn group_form(
    session: &Session,
    caller: &Caller,
    id: Uuid,
    location: Uuid,
) -> Result<FormPage, WebError> {
    page(
        session,
        caller,
        "Groep wijzigen",
        format!("/beheer/groepen/{id}/wijzigen"),
        format!("/beheer/locaties/{location}"),
        "Opslaan",
        vec![FieldView::new("name", "Naam van de groep", "text")],
    )
    .await
}

/// `GET /beheer/groepen/{id}/wijzigen`.
pub async fn edit_group(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let g = registry::get_group(&state, &caller, id).await?;
    let filled = Fields::from_pairs(vec![("name".into(), g.name)]);
    Ok(group_form(&session, &caller, id, g.location_id)
        .await?
        .filled(&filled, &Errors::default())
        .render(StatusCode::OK))
}

pub async fn update_group(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let g = registry::get_group(&state, &caller, id).await?;
    let body = registry::GroupChange {
        name: Some(posted.get("name").into()),
    };
    match registry::update_group(&state, &caller, id, body).await {
        Ok(_) => {
            flash_and_go(
                &session,
                "De groep is opgeslagen.".into(),
                &format!("/beheer/locaties/{}", g.location_id),
            )
            .await
        }
        Err(e) => Ok(refused(
            group_form(&session, &caller, id, g.location_id).await?,
            &posted,
            e,
            &[("name", "name")],
        )),
    }
}

pub async fn deactivate_group(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let g = registry::deactivate_group(&state, &caller, id).await?;
    flash_and_go(
        &session,
        "De groep is gedeactiveerd.".into(),
        &format!("/beheer/locaties/{}", g.location_id),
    )
    .await
}

// ---------------------------------------------------------------- staff

async fn staff_form(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    org: Uuid,
    edit: Option<Uuid>,
) -> Result<FormPage, WebError> {
    let locations: Vec<(String, String)> = registry::list_locations(state, caller, org, all())
        .await?
        .items
        .into_iter()
        .filter(|l| l.active)
        .map(|l| (l.id.to_string(), l.name))
        .collect();
    let regions: Vec<(String, String)> = registry::list_regions(state, caller)
        .await?
        .into_iter()
        .map(|r| (r.code.clone(), format!("{} ({})", r.name, r.code)))
        .collect();
    let mut fields = vec![FieldView::new("name", "Naam", "text")];
    if edit.is_none() {
        fields.push(
            FieldView::new("subject", "Inlognaam (subject)", "text")
                .hint("De 'sub' die de inlog van de organisatie voor deze medewerker meegeeft."),
        );
        fields.push(FieldView::new("role", "Rol", "radio").options(opts(
            &STAFF_ROLES,
            |r| r.as_str(),
            |r| labels::role(r.into()),
        )));
    }
    fields.push(
        FieldView::new("location_ids", "Locaties (voor mentoren)", "checkbox").options(locations),
    );
    fields.push(
        FieldView::new("expertise", "Deskundigheid (voor specialisten)", "checkbox")
            .options(super::mentor::domains()),
    );
    fields.push(
        FieldView::new(
            "region_codes",
            "Jeugdregio's (specialisten, coördinatoren, beleid)",
            "checkbox",
        )
        .options(regions),
    );
    fields.push(
        FieldView::new("capacity", "Capaciteit (voor specialisten)", "text")
            .hint("Hoeveel open aanvragen tegelijk, aanbiedingen meegeteld."),
    );
    let (heading, action, back) = match edit {
        None => (
            "Medewerker toevoegen",
            format!("/beheer/organisaties/{org}/medewerkers/nieuw"),
            format!("/beheer/organisaties/{org}"),
        ),
        Some(s) => (
            "Medewerker wijzigen",
            format!("/beheer/medewerkers/{s}"),
            format!("/beheer/organisaties/{org}"),
        ),
    };
    page(session, caller, heading, action, back, "Opslaan", fields).await
}

const STAFF_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("subject", "subject"),
    ("role", "role"),
    ("location_ids", "location_ids"),
    ("expertise", "expertise"),
    ("region_codes", "region_codes"),
    ("capacity", "capacity"),
];

/// The lists and capacity of the staff form; errors beside the fields.
#[allow(clippy::type_complexity)]
fn staff_lists(
    posted: &Fields,
    errors: &mut Errors,
) -> (
    Vec<Uuid>,
    Vec<ConcernDomain>,
    Vec<crate::domain::types::RegionCode>,
    Option<i64>,
) {
    let mut locations = Vec::new();
    for l in posted.all("location_ids") {
        match l.parse() {
            Ok(l) => locations.push(l),
            Err(_) => errors.add("location_ids", "Kies locaties uit de lijst."),
        }
    }
    let mut expertise = Vec::new();
    for e in posted.all("expertise") {
        match e.parse() {
            Ok(e) => expertise.push(e),
            Err(_) => errors.add("expertise", "Kies deskundigheid uit de lijst."),
        }
    }
    let mut regions = Vec::new();
    for r in posted.all("region_codes") {
        match r.parse() {
            Ok(r) => regions.push(r),
            Err(_) => errors.add("region_codes", "Kies regio's uit de lijst."),
        }
    }
    let capacity = match posted.get("capacity") {
        "" => None,
        c => match c.parse() {
            Ok(c) => Some(c),
            Err(_) => {
                errors.add("capacity", "Vul een heel getal in, bijvoorbeeld 5.");
                None
            }
        },
    };
    (locations, expertise, regions, capacity)
}

pub async fn new_staff(
    State(state): State<AppState>,
    session: Session,
    Path(org): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    registry::get_organization(&state, &caller, org).await?;
    Ok(staff_form(&state, &session, &caller, org, None)
        .await?
        .render(StatusCode::OK))
}

pub async fn create_staff(
    State(state): State<AppState>,
    session: Session,
    Path(org): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    registry::get_organization(&state, &caller, org).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["name", "subject"]);
    let role = errors.parse::<StaffRole>(&posted, "role", "Kies een rol.");
    let (location_ids, expertise, region_codes, capacity) = staff_lists(&posted, &mut errors);
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Ok(invalid(
            staff_form(&state, &session, &caller, org, None).await?,
            &posted,
            &errors,
        ));
    };
    let body = NewStaff {
        subject: posted.get("subject").into(),
        name: posted.get("name").into(),
        role,
        location_ids,
        expertise,
        region_codes,
        capacity,
    };
    match registry::create_staff(&state, &caller, org, body).await {
        Ok(_) => {
            flash_and_go(
                &session,
                "De medewerker is toegevoegd.".into(),
                &format!("/beheer/organisaties/{org}"),
            )
            .await
        }
        Err(e) => Ok(refused(
            staff_form(&state, &session, &caller, org, None).await?,
            &posted,
            e,
            STAFF_FIELDS,
        )),
    }
}

pub async fn edit_staff(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let s = registry::get_staff(&state, &caller, id).await?;
    let mut pairs = vec![("name".to_string(), s.name.clone())];
    if let Some(c) = s.capacity {
        pairs.push(("capacity".into(), c.to_string()));
    }
    pairs.extend(
        s.location_ids
            .iter()
            .map(|l| ("location_ids".to_string(), l.to_string())),
    );
    pairs.extend(
        s.expertise
            .iter()
            .map(|e| ("expertise".to_string(), e.as_str().to_string())),
    );
    pairs.extend(
        s.region_codes
            .iter()
            .map(|r| ("region_codes".to_string(), r.clone())),
    );
    let mut form = staff_form(&state, &session, &caller, s.organization_id, Some(id)).await?;
    form.intro = vec![format!(
        "{} ({}), inlognaam {}.{}",
        s.name,
        labels::role(s.role.into()),
        s.subject,
        if s.active { "" } else { " Gedeactiveerd." }
    )];
    Ok(form
        .filled(&Fields::from_pairs(pairs), &Errors::default())
        .render(StatusCode::OK))
}

pub async fn update_staff(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let s = registry::get_staff(&state, &caller, id).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["name"]);
    let (location_ids, expertise, region_codes, capacity) = staff_lists(&posted, &mut errors);
    let form = || staff_form(&state, &session, &caller, s.organization_id, Some(id));
    if !errors.is_empty() {
        return Ok(invalid(form().await?, &posted, &errors));
    }
    let role = s.role;
    let body = StaffChange {
        name: Some(posted.get("name").into()),
        capacity: (role == StaffRole::Specialist)
            .then_some(capacity)
            .flatten(),
        expertise: (role == StaffRole::Specialist).then_some(expertise),
        region_codes: (role != StaffRole::Mentor).then_some(region_codes),
        location_ids: (role == StaffRole::Mentor).then_some(location_ids),
    };
    match registry::update_staff(&state, &caller, id, body).await {
        Ok(_) => {
            flash_and_go(
                &session,
                "De medewerker is opgeslagen.".into(),
                &format!("/beheer/organisaties/{}", s.organization_id),
            )
            .await
        }
        Err(e) => Ok(refused(form().await?, &posted, e, STAFF_FIELDS)),
    }
}

pub async fn deactivate_staff(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let s = registry::get_staff(&state, &caller, id).await?;
    registry::deactivate_staff(&state, &caller, id).await?;
    flash_and_go(
        &session,
        format!("{} is gedeactiveerd en kan niet meer inloggen.", s.name),
        &format!("/beheer/organisaties/{}", s.organization_id),
    )
    .await
}

// ---------------------------------------------------------------- webhooks

async fn endpoint_form(
    session: &Session,
    caller: &Caller,
    org: Uuid,
) -> Result<FormPage, WebError> {
    let events = std::iter::once(("*".to_string(), "alle gebeurtenissen".to_string()))
        .chain(
            crate::webhooks::EVENT_TYPES
                .iter()
                .map(|e| (e.to_string(), e.to_string())),
        )
        .collect::<Vec<_>>();
    let mut f = page(
        session,
        caller,
        "Webhook toevoegen",
        format!("/beheer/organisaties/{org}/webhooks/nieuw"),
        format!("/beheer/organisaties/{org}"),
        "Webhook toevoegen",
        vec![
            FieldView::new("url", "Adres (https)", "text")
                .hint("Het adres waar het systeem van de organisatie de berichten ontvangt."),
            FieldView::new("events", "Welke gebeurtenissen?", "checkbox").options(events),
            FieldView::new("signing", "Ondertekening", "radio").options([
                (
                    "ed25519".to_string(),
                    "Ed25519: de ontvanger krijgt alleen een publieke sleutel".to_string(),
                ),
                (
                    "hmac".to_string(),
                    "HMAC: de ontvanger krijgt een gedeeld geheim".to_string(),
                ),
            ]),
        ],
    )
    .await?;
    f.intro = vec!["Berichten bevatten nooit gegevens van een kind: alleen wat er gebeurde en een link om het met de eigen koppeling op te halen.".into()];
    Ok(f)
}

pub async fn new_endpoint(
    State(state): State<AppState>,
    session: Session,
    Path(org): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    registry::get_organization(&state, &caller, org).await?;
    Ok(endpoint_form(&session, &caller, org)
        .await?
        .render(StatusCode::OK))
}

#[derive(Template)]
#[template(path = "admin_secret.html")]
struct SecretPage {
    frame: Frame,
    organization: Uuid,
    label: &'static str,
    value: String,
}

pub async fn create_endpoint(
    State(state): State<AppState>,
    session: Session,
    Path(org): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["url"]);
    let signing = errors.parse::<crate::webhooks::Signing>(
        &posted,
        "signing",
        "Kies hoe de berichten worden ondertekend.",
    );
    let events: Vec<String> = posted.all("events").into_iter().map(String::from).collect();
    if events.is_empty() {
        errors.add("events", "Kies minstens één gebeurtenis.");
    }
    let (Some(signing), true) = (signing, errors.is_empty()) else {
        return Ok(invalid(
            endpoint_form(&session, &caller, org).await?,
            &posted,
            &errors,
        ));
    };
    let body = webhooks::NewEndpoint {
        url: posted.get("url").into(),
        events,
        signing,
    };
    match webhooks::create_endpoint(&state, &caller, org, body).await {
        Ok(created) => {
            let (label, value) = match (created.secret, created.public_key) {
                (Some(s), _) => ("Het gedeelde geheim", s),
                (None, Some(k)) => ("De publieke sleutel", k),
                (None, None) => ("Sleutel", String::new()),
            };
            let t = SecretPage {
                frame: frame(&session, &caller, "Webhook toegevoegd").await?,
                organization: org,
                label,
                value,
            };
            Ok(html(StatusCode::CREATED, &t))
        }
        Err(e) => Ok(refused(
            endpoint_form(&session, &caller, org).await?,
            &posted,
            e,
            &[("url", "url"), ("events", "events"), ("signing", "signing")],
        )),
    }
}

struct AttemptLine {
    message: Uuid,
    at: String,
    result: String,
    ok: bool,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
struct EndpointPage {
    frame: Frame,
    id: Uuid,
    flash: Option<String>,
    url: String,
    organization: Uuid,
    attempts: Vec<AttemptLine>,
}

/// `GET /beheer/webhooks/{id}`: the endpoint's recent attempts, each message redeliverable.
pub async fn endpoint(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let endpoint = webhooks::get_endpoint(&state, &caller, id).await?;
    // the attempts come oldest first: keep the newest 200
    let mut attempts = std::collections::VecDeque::new();
    let mut cursor = None;
    loop {
        let page = webhooks::list_attempts(
            &state,
            &caller,
            id,
            webhooks::AttemptParams {
                limit: Some(200),
                cursor: cursor.take(),
            },
        )
        .await?;
        for a in page.items {
            if attempts.len() == 200 {
                attempts.pop_front();
            }
            attempts.push_back(a);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let (url, organization) = (endpoint.url, endpoint.organization_id);
    let t = EndpointPage {
        frame: frame(&session, &caller, "Webhook").await?,
        id,
        flash: take_flash(&session).await?,
        url,
        organization,
        attempts: attempts
            .into_iter()
            .rev()
            .map(|a| {
                let ok = a.status_code.is_some_and(|c| (200..300).contains(&c));
                AttemptLine {
                    message: a.message_id,
                    at: labels::date_time(a.attempted_at),
                    result: match (a.status_code, &a.error) {
                        (Some(c), _) => format!("antwoord {c} na {} ms", a.duration_ms),
                        (None, Some(_)) => "niet bereikt (geen verbinding of te traag)".into(),
                        (None, None) => "onbekend".into(),
                    },
                    ok,
                    next: a.next_attempt_at.map(labels::date_time),
                }
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, &t))
}

pub async fn redeliver(
    State(state): State<AppState>,
    session: Session,
    Path(message): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let r = webhooks::redeliver(&state, &caller, message).await?;
    flash(
        &session,
        format!("Het bericht wordt opnieuw verstuurd ({}×).", r.queued),
    )
    .await?;
    let back = match posted.get("back").parse::<Uuid>() {
        Ok(endpoint) => format!("/beheer/webhooks/{endpoint}"),
        Err(_) => "/beheer".into(),
    };
    Ok(Redirect::to(&back).into_response())
}

// ---------------------------------------------------------------- regions

#[derive(Template)]
#[template(path = "admin_regions.html")]
struct RegionsPage {
    frame: Frame,
    flash: Option<String>,
    regions: Vec<(String, String)>,
    error: Vec<String>,
}

async fn regions_page(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    error: Vec<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let regions = registry::list_regions(state, caller)
        .await?
        .into_iter()
        .map(|r| (r.code, r.name))
        .collect();
    let t = RegionsPage {
        frame: frame(session, caller, "Jeugdregio's").await?,
        flash: take_flash(session).await?,
        regions,
        error,
    };
    Ok(html(status, &t))
}

pub async fn regions(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    regions_page(&state, &session, &caller, Vec::new(), StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "admin_region_preview.html")]
struct PreviewPage {
    frame: Frame,
    key: String,
    rows: usize,
    unchanged: usize,
    changes: Vec<(String, String, String)>,
    valid_from: String,
}

const IMPORT: &str = "region_import";

/// `POST /beheer/regios/voorbeeld` (multipart: the file and the start date): what would change.
pub async fn preview_regions(
    State(state): State<AppState>,
    session: Session,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let (mut csrf, mut file, mut valid_from) = (String::new(), Vec::new(), String::new());
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.unwrap_or_default(),
            "valid_from" => valid_from = field.text().await.unwrap_or_default(),
            "file" => file = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            _ => {}
        }
    }
    check_csrf(&session, &csrf).await?;
    let date = match valid_from.trim() {
        "" => None,
        d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                return regions_page(
                    &state,
                    &session,
                    &caller,
                    vec!["Vul de datum in als dag-maand-jaar.".into()],
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        },
    };
    if file.is_empty() {
        return regions_page(
            &state,
            &session,
            &caller,
            vec!["Kies het bestand met de regiotabel (CSV).".into()],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match registry::preview_regions(&state, &caller, &file, date).await {
        Ok(p) => {
            // the preview is applied only by its own page: another upload (another tab) makes
            // a new one, and the older page's button then applies nothing
            let key = crate::crypto::random_token();
            session
                .insert(
                    IMPORT,
                    (
                        key.clone(),
                        String::from_utf8_lossy(&file).to_string(),
                        date,
                    ),
                )
                .await?;
            let t = PreviewPage {
                frame: frame(&session, &caller, "Regiotabel nakijken").await?,
                key,
                rows: p.rows,
                unchanged: p.unchanged,
                changes: p
                    .changes
                    .into_iter()
                    .map(|c| {
                        let what = match c.kind.as_str() {
                            "added" => format!("nieuw, in regio {}", c.to),
                            "moved" => format!(
                                "gaat van regio {} naar regio {}",
                                c.from.unwrap_or_default(),
                                c.to
                            ),
                            "region_renamed" => format!(
                                "de jeugdregio heet voortaan {} (was {}); dit geldt meteen",
                                c.to,
                                c.from.unwrap_or_default()
                            ),
                            _ => format!(
                                "nieuwe naam: {} (was {})",
                                c.to,
                                c.from.unwrap_or_default()
                            ),
                        };
                        (c.kind, c.municipality, what)
                    })
                    .collect(),
                valid_from: date
                    .map(labels::date)
                    .unwrap_or_else(|| "de datum in het bestand".into()),
            };
            Ok(html(StatusCode::OK, &t))
        }
        Err(crate::service::ServiceError::Validation(list)) => {
            let lines: Vec<String> = list
                .iter()
                .take(20)
                .map(|f| {
                    format!(
                        "{}: {}",
                        f.field.replace("line ", "regel "),
                        labels::field_message(&f.message)
                    )
                })
                .collect();
            regions_page(
                &state,
                &session,
                &caller,
                lines,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /beheer/regios/toepassen`: applies the table that was just previewed.
pub async fn apply_regions(
    State(state): State<AppState>,
    session: Session,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let stored = session
        .get::<(String, String, Option<chrono::NaiveDate>)>(IMPORT)
        .await?;
    let Some((_, csv, date)) = stored.filter(|(key, _, _)| {
        use subtle::ConstantTimeEq;
        !key.is_empty() && bool::from(key.as_bytes().ct_eq(posted.get("preview").as_bytes()))
    }) else {
        return Err(WebError::Refused(
            "Deze voorvertoning geldt niet meer (u koos daarna een ander bestand, of hij is al toegepast). Kies het bestand opnieuw.".into(),
        ));
    };
    session
        .remove::<(String, String, Option<chrono::NaiveDate>)>(IMPORT)
        .await?;
    let r = registry::import_regions(&state, &caller, csv.as_bytes(), date).await?;
    flash_and_go(
        &session,
        format!("De regiotabel is toegepast ({} gemeenten).", r.imported),
        "/beheer/regios",
    )
    .await
}

#[derive(Template)]
#[template(path = "admin_region.html")]
struct RegionPage {
    frame: Frame,
    code: String,
    name: String,
    on: String,
    municipalities: Vec<(String, String, String)>,
}

pub async fn region(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    let r = registry::get_region(&state, &caller, &code, None).await?;
    let t = RegionPage {
        frame: frame(&session, &caller, "Jeugdregio").await?,
        code: r.code,
        name: r.name,
        on: labels::date(r.on),
        municipalities: r
            .municipalities
            .into_iter()
            .map(|m| (m.code, m.name, labels::date(m.valid_from)))
            .collect(),
    };
    Ok(html(StatusCode::OK, &t))
}

// ---------------------------------------------------------------- the access log

#[derive(Debug, Deserialize, Default)]
pub struct AccessQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    van: String,
    #[serde(default)]
    tot: String,
    #[serde(default)]
    meldcode: String,
}

struct AccessLine {
    seq: i64,
    when: String,
    who: String,
    action: &'static str,
    resource: &'static str,
    outcome: &'static str,
    meldcode: bool,
}

#[derive(Template)]
#[template(path = "admin_access.html")]
struct AccessPage {
    frame: Frame,
    q: AccessQuery,
    searched: bool,
    lines: Vec<AccessLine>,
    more: bool,
    errors: Vec<(&'static str, &'static str)>,
    report: Option<(bool, Vec<String>)>,
}

fn day_start(d: chrono::NaiveDate) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    chrono_tz::Europe::Amsterdam
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `GET /beheer/toegang`: the access log by child id and period; Meldcode entries marked.
pub async fn access(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<AccessQuery>,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    access_page(&state, &session, &caller, q, None).await
}

async fn access_page(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    q: AccessQuery,
    report: Option<(bool, Vec<String>)>,
) -> Result<Response, WebError> {
    let mut errors = Vec::new();
    let child = match q.kind.trim() {
        "" => None,
        c => match c.parse::<Uuid>() {
            Ok(c) => Some(c),
            Err(_) => {
                errors.push((
                    "kind",
                    "Vul het id van een kind in (zoals het in de koppeling staat).",
                ));
                None
            }
        },
    };
    let date =
        |s: &str, field: &'static str, errors: &mut Vec<(&'static str, &'static str)>| match s
            .trim()
        {
            "" => None,
            d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push((field, "Vul een datum in als dag-maand-jaar."));
                    None
                }
            },
        };
    let from = date(&q.van, "van", &mut errors).and_then(day_start);
    let to = date(&q.tot, "tot", &mut errors)
        .and_then(|d| d.succ_opt())
        .and_then(day_start);
    let searched =
        !(q.kind.is_empty() && q.van.is_empty() && q.tot.is_empty() && q.meldcode.is_empty());
    let (mut lines, mut more) = (Vec::new(), false);
    if searched && errors.is_empty() {
        let params = audit::AuditParams {
            child_id: child,
            from,
            to,
            flag: (q.meldcode == "ja").then(|| "meldcode".to_string()),
            limit: Some(200),
            cursor: None,
        };
        match audit::list_audit(state, caller, params).await {
            Ok(page) => {
                more = page.next_cursor.is_some();
                lines = page
                    .items
                    .into_iter()
                    .map(|e| AccessLine {
                        seq: e.seq,
                        when: labels::date_time(e.occurred_at),
                        who: format!(
                            "{} ({})",
                            e.actor.subject,
                            e.actor.role.parse().map(labels::role).unwrap_or("systeem")
                        ),
                        action: labels::access_action(&e.action),
                        resource: labels::resource(&e.resource_type),
                        outcome: labels::access_outcome(&e.outcome),
                        meldcode: e.flag.as_deref() == Some("meldcode"),
                    })
                    .collect();
            }
            Err(crate::service::ServiceError::Validation(_)) => {
                errors.push(("van", "De begindatum ligt na de einddatum."));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let t = AccessPage {
        frame: frame(session, caller, "Toegangslog").await?,
        q,
        searched,
        lines,
        more,
        errors,
        report,
    };
    Ok(html(status, &t))
}

/// `POST /beheer/toegang/controle`: checks the whole chain as `kindbrug audit verify` does.
pub async fn verify(
    State(state): State<AppState>,
    session: Session,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = admin(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let r = audit::verify_chain(&state, &caller).await?;
    let report = if r.intact {
        let mut lines = vec![format!(
            "Het toegangslog is heel: {} regels gecontroleerd.",
            r.entries
        )];
        lines.push(match r.newest_checkpoint {
            Some(seq) => format!(
                "{} ondertekende controlepunten kloppen; het nieuwste bewijst de regels tot en met {seq} van {}.",
                r.checkpoints,
                r.head.unwrap_or(seq)
            ),
            None => "Er zijn nog geen ondertekende controlepunten: weggehaalde regels aan het begin of eind zijn dan niet te zien.".into(),
        });
        (true, lines)
    } else {
        (
            false,
            vec![
                "Het toegangslog is NIET heel. Meld dit meteen bij de privacy-functionaris.".into(),
                format!("Wat er mis is: {}", r.broken.unwrap_or_default()),
            ],
        )
    };
    access_page(
        &state,
        &session,
        &caller,
        AccessQuery::default(),
        Some(report),
    )
    .await
}
