//! The mentor's forms: register a child, add a guardian, record consent given on paper or
//! orally, invite a parent to decide, record a concern, open a consultation request (offered
//! only while consent is in force), follow it and its messages, cancel it, and the Meldcode
//! report. Each form posts to one workflow operation and redirects (PRG); what the operation
//! refuses comes back beside the field, in Dutch.

use super::forms::{Errors, Fields};
use super::{check_csrf, html, labels, staff_caller, Frame, WebError};
use crate::domain::consent::{ConsentMethod, Decision, Purpose};
use crate::domain::consultation::Urgency;
use crate::domain::types::{AuthoritySource, ConcernDomain, Relationship};
use crate::service::children::{self, NewChild, NewGuardian};
use crate::service::consent::{
    self, GiverDto, NewConsent, NewInvitation, NewVeiligThuisReport, RecipientDto,
};
use crate::service::consultations::{self as work, NewConcern, NewConsultation, Submitted};
use crate::service::{registry, Caller};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;
use uuid::Uuid;

pub struct Opt {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `date`, `email`, `tel`, `textarea`, `select`, `radio` or `checkbox`.
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<Opt>,
    pub hint: Option<&'static str>,
    pub error: Option<String>,
}

impl FieldView {
    pub(super) fn new(name: &'static str, label: &'static str, kind: &'static str) -> Self {
        FieldView {
            name,
            label,
            kind,
            value: String::new(),
            options: Vec::new(),
            hint: None,
            error: None,
        }
    }
    pub(super) fn hint(mut self, h: &'static str) -> Self {
        self.hint = Some(h);
        self
    }
    pub(super) fn options(mut self, opts: impl IntoIterator<Item = (String, String)>) -> Self {
        self.options = opts
            .into_iter()
            .map(|(value, label)| Opt {
                value,
                label,
                checked: false,
            })
            .collect();
        self
    }
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub(super) frame: Frame,
    pub(super) heading: &'static str,
    pub(super) intro: Vec<String>,
    pub(super) action: String,
    pub(super) back: String,
    pub(super) submit: &'static str,
    pub(super) fields: Vec<FieldView>,
    pub(super) summary: Vec<(String, String)>,
    pub(super) general: Vec<String>,
    /// Why the form cannot be sent yet (then its button is disabled).
    pub(super) blocked: Option<Vec<String>>,
    /// Values the form carries unseen (e.g. the version an edit started from).
    pub(super) hidden: Vec<(&'static str, String)>,
    /// Someone else's version of the same thing, shown beside the form (an edit conflict).
    pub(super) other: Option<(String, Vec<(String, String)>)>,
}

impl FormPage {
    /// Puts the posted values back and the errors beside their fields.
    pub(super) fn filled(mut self, posted: &Fields, errors: &Errors) -> Self {
        for f in &mut self.fields {
            match f.kind {
                "radio" | "select" => {
                    let v = posted.get(f.name);
                    for o in &mut f.options {
                        o.checked = o.value == v;
                    }
                }
                "checkbox" => {
                    let vs = posted.all(f.name);
                    for o in &mut f.options {
                        o.checked = vs.contains(&o.value.as_str());
                    }
                }
                _ => f.value = posted.get(f.name).to_string(),
            }
            f.error = errors.get(f.name).map(str::to_string);
        }
        let known: Vec<&str> = self.fields.iter().map(|f| f.name).collect();
        self.summary = errors
            .fields
            .iter()
            .filter(|(n, _)| known.contains(&n.as_str()))
            .map(|(n, m)| (n.clone(), m.clone()))
            .collect();
        self.general = errors.general.clone();
        // an error about a field this form does not show is said in general
        for (n, m) in &errors.fields {
            if !known.contains(&n.as_str()) {
                self.general.push(m.clone());
            }
        }
        self
    }

    pub(super) fn render(self, status: StatusCode) -> Response {
        html(status, &self)
    }
}

async fn frame(session: &Session, caller: &Caller, title: &str) -> Result<Frame, WebError> {
    super::staff::frame(session, caller, title).await
}

pub(super) async fn page(
    session: &Session,
    caller: &Caller,
    heading: &'static str,
    action: String,
    back: String,
    submit: &'static str,
    fields: Vec<FieldView>,
) -> Result<FormPage, WebError> {
    Ok(FormPage {
        frame: frame(session, caller, heading).await?,
        heading,
        intro: Vec::new(),
        action,
        back,
        submit,
        fields,
        summary: Vec::new(),
        general: Vec::new(),
        blocked: None,
        hidden: Vec::new(),
        other: None,
    })
}

/// A refused form: the page again with what was typed and why, or the refusal as a page.
pub(super) fn refused(
    form: FormPage,
    posted: &Fields,
    e: crate::service::ServiceError,
    rename: &[(&str, &str)],
) -> Response {
    match Errors::from_service(e, rename) {
        Ok(errors) => form
            .filled(posted, &errors)
            .render(StatusCode::UNPROCESSABLE_ENTITY),
        Err(other) => WebError::from(other).into_response(),
    }
}

pub(super) fn invalid(form: FormPage, posted: &Fields, errors: &Errors) -> Response {
    form.filled(posted, errors)
        .render(StatusCode::UNPROCESSABLE_ENTITY)
}

/// `GET` of a form about one child: only for those who keep the child's record (anyone else
/// gets the page of an unknown child), then the form empty.
macro_rules! child_form_page {
    ($handler:ident, $form:ident) => {
        pub async fn $handler(
            State(state): State<AppState>,
            session: Session,
            Path(id): Path<Uuid>,
        ) -> Result<Response, WebError> {
            let caller = staff_caller(&state, &session).await?;
            children::get_child(&state, &caller, id).await?;
            Ok($form(&state, &session, &caller, id)
                .await?
                .render(StatusCode::OK))
        }
    };
}

fn child_path(id: Uuid) -> String {
    format!("/kinderen/{id}")
}

fn purposes() -> Vec<(String, String)> {
    [
        Purpose::Consultation,
        Purpose::InformationSharing,
        Purpose::Referral,
    ]
    .into_iter()
    .map(|p| (p.as_str().to_string(), labels::purpose(p).to_string()))
    .collect()
}

pub(super) fn domains() -> Vec<(String, String)> {
    ConcernDomain::ALL
        .iter()
        .map(|d| (d.as_str().to_string(), labels::domain(*d).to_string()))
        .collect()
}

/// The child's region today, from its location, as the registry tells the mentor.
async fn region_of(state: &AppState, caller: &Caller, location: Uuid) -> Result<String, WebError> {
    let l = registry::get_location(state, caller, location).await?;
    l.region_code.ok_or(WebError::Refused(
        "Voor de plaats van deze locatie is geen jeugdregio bekend. Vraag de beheerder.".into(),
    ))
}

// ---------------------------------------------------------------- register a child

async fn child_form(
    state: &AppState,
    session: &Session,
    caller: &Caller,
) -> Result<FormPage, WebError> {
    let locations = caller_locations(caller);
    let mut location_opts = Vec::new();
    let mut group_opts = Vec::new();
    for l in locations {
        if let Ok(view) = registry::get_location(state, caller, l).await {
            if let Ok(groups) = registry::list_groups(state, caller, l).await {
                for g in groups.into_iter().filter(|g| g.active) {
                    group_opts.push((g.id.to_string(), format!("{} ({})", g.name, view.name)));
                }
            }
            location_opts.push((view.id.to_string(), view.name));
        }
    }
    page(
        session,
        caller,
        "Kind inschrijven",
        "/kinderen/nieuw".into(),
        "/kinderen".into(),
        "Kind inschrijven",
        vec![
            FieldView::new("given_name", "Voornaam", "text"),
            FieldView::new("external_ref", "Eigen nummer", "text")
                .hint("Het nummer dat uw organisatie voor het kind gebruikt. Geen BSN."),
            FieldView::new("date_of_birth", "Geboortedatum", "date"),
            FieldView::new("location_id", "Locatie", "select").options(location_opts),
            FieldView::new("group_id", "Groep", "select").options(group_opts),
        ],
    )
    .await
}

fn caller_locations(caller: &Caller) -> Vec<Uuid> {
    match caller {
        Caller::Principal(p) => p
            .staff
            .as_ref()
            .map(|s| s.location_ids.clone())
            .unwrap_or_default(),
        Caller::System(_) => Vec::new(),
    }
}

pub async fn new_child(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    Ok(child_form(&state, &session, &caller)
        .await?
        .render(StatusCode::OK))
}

pub async fn create_child(
    State(state): State<AppState>,
    session: Session,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["given_name", "external_ref"]);
    let location_id = errors.parse::<Uuid>(&posted, "location_id", "Kies een locatie.");
    let date_of_birth = errors.date(&posted, "date_of_birth", true);
    let group_id = match posted.get("group_id") {
        "" => None,
        g => match g.parse() {
            Ok(g) => Some(g),
            Err(_) => {
                errors.add("group_id", "Kies een groep van deze locatie.");
                None
            }
        },
    };
    let (Some(location_id), Some(date_of_birth), true) =
        (location_id, date_of_birth, errors.is_empty())
    else {
        return Ok(invalid(
            child_form(&state, &session, &caller).await?,
            &posted,
            &errors,
        ));
    };
    let body = NewChild {
        location_id,
        group_id,
        external_ref: posted.get("external_ref").into(),
        given_name: posted.get("given_name").into(),
        date_of_birth,
    };
    match children::register_child(&state, &caller, body).await {
        Ok(made) => Ok(Redirect::to(&child_path(made.id)).into_response()),
        Err(e) => Ok(refused(
            child_form(&state, &session, &caller).await?,
            &posted,
            e,
            &[],
        )),
    }
}

// ---------------------------------------------------------------- a guardian

async fn guardian_form(
    _state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<FormPage, WebError> {
    let relationships = [
        Relationship::Parent,
        Relationship::FosterParent,
        Relationship::Guardian,
        Relationship::Other,
    ]
    .into_iter()
    .map(|r| (r.as_str().to_string(), labels::relationship(r).to_string()));
    page(
        session,
        caller,
        "Ouder of verzorger toevoegen",
        format!("/kinderen/{id}/ouders/nieuw"),
        child_path(id),
        "Toevoegen",
        vec![
            FieldView::new("name", "Naam", "text"),
            FieldView::new("relationship", "Wie is het voor het kind?", "radio")
                .options(relationships),
            FieldView::new("gezag", "Heeft deze persoon ouderlijk gezag?", "radio")
                .hint("Alleen wie gezag heeft, kan toestemming geven.")
                .options([
                    ("ja".to_string(), "Ja".to_string()),
                    ("nee".to_string(), "Nee".to_string()),
                ]),
            FieldView::new("authority_source", "Hoe weet u dat?", "radio").options([
                (
                    AuthoritySource::Declared.as_str().to_string(),
                    "De ouder heeft het gezegd of het staat in onze administratie".to_string(),
                ),
                (
                    AuthoritySource::Gezagsregister.as_str().to_string(),
                    "Nagekeken in het gezagsregister".to_string(),
                ),
            ]),
            FieldView::new("email", "E-mailadres (mag leeg)", "email")
                .hint("Hierheen sturen we de vraag om toestemming."),
            FieldView::new("phone", "Telefoonnummer (mag leeg)", "tel"),
        ],
    )
    .await
}

child_form_page!(new_guardian, guardian_form);

pub async fn create_guardian(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["name"]);
    let relationship =
        errors.parse::<Relationship>(&posted, "relationship", "Kies wie het is voor het kind.");
    let authority = match posted.get("gezag") {
        "ja" => Some(true),
        "nee" => Some(false),
        _ => {
            errors.add("gezag", "Kies ja of nee.");
            None
        }
    };
    let source = match posted.get("authority_source") {
        "" => None,
        s => match s.parse::<AuthoritySource>() {
            Ok(s) => Some(s),
            Err(_) => {
                errors.add("authority_source", "Kies hoe u het weet.");
                None
            }
        },
    };
    let (Some(relationship), Some(has_parental_authority), true) =
        (relationship, authority, errors.is_empty())
    else {
        return Ok(invalid(
            guardian_form(&state, &session, &caller, id).await?,
            &posted,
            &errors,
        ));
    };
    let body = NewGuardian {
        name: posted.get("name").into(),
        relationship,
        has_parental_authority,
        authority_source: source,
        email: posted.optional("email"),
        phone: posted.optional("phone"),
    };
    match children::add_guardian(&state, &caller, id, body).await {
        Ok(_) => Ok(Redirect::to(&child_path(id)).into_response()),
        Err(e) => Ok(refused(
            guardian_form(&state, &session, &caller, id).await?,
            &posted,
            e,
            &[],
        )),
    }
}

// ---------------------------------------------------------------- consent on paper or orally

async fn guardian_options(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<Vec<(String, String)>, WebError> {
    Ok(children::list_guardians(state, caller, id)
        .await?
        .into_iter()
        .filter(|g| g.has_parental_authority)
        .map(|g| (g.id.to_string(), g.name))
        .collect())
}

async fn consent_form(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<FormPage, WebError> {
    let mut givers = guardian_options(state, caller, id).await?;
    givers.push(("child".into(), "Het kind zelf (vanaf 12 jaar)".into()));
    let mut form = page(
        session,
        caller,
        "Toestemming vastleggen",
        format!("/kinderen/{id}/toestemming/nieuw"),
        child_path(id),
        "Vastleggen",
        vec![
            FieldView::new("purpose", "Waarvoor?", "radio").options(purposes()),
            FieldView::new("decision", "Wat is het besluit?", "radio").options([
                ("granted".to_string(), "Toestemming gegeven".to_string()),
                ("refused".to_string(), "Geen toestemming".to_string()),
            ]),
            FieldView::new("given_by", "Wie besliste?", "checkbox")
                .hint("Bij meekijken en advies moeten alle ouders met gezag toestemming geven.")
                .options(givers),
            FieldView::new("method", "Hoe?", "radio").options([
                (
                    ConsentMethod::Written.as_str().to_string(),
                    labels::method(ConsentMethod::Written).to_string(),
                ),
                (
                    ConsentMethod::Oral.as_str().to_string(),
                    "mondeling, genoteerd door mij".to_string(),
                ),
            ]),
            FieldView::new(
                "evidence_ref",
                "Kenmerk van het getekende formulier",
                "text",
            )
            .hint("Alleen bij toestemming op papier."),
            FieldView::new(
                "information_version",
                "Versie van de informatiebrief",
                "text",
            ),
            FieldView::new("valid_until", "Geldig tot (mag leeg)", "date"),
        ],
    )
    .await?;
    form.intro.push(
        "De toestemming geldt voor de jeugdhulpspecialisten van de regio van de locatie van het kind."
            .into(),
    );
    Ok(form)
}

child_form_page!(new_consent, consent_form);

pub async fn create_consent(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let child = children::get_child(&state, &caller, id).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["information_version"]);
    let purpose = errors.parse::<Purpose>(&posted, "purpose", "Kies waarvoor.");
    let decision = errors.parse::<Decision>(&posted, "decision", "Kies het besluit.");
    let method = errors.parse::<ConsentMethod>(&posted, "method", "Kies hoe.");
    let valid_until = errors.date(&posted, "valid_until", false);
    let mut given_by = Vec::new();
    for g in posted.all("given_by") {
        if g == "child" {
            given_by.push(GiverDto {
                guardian_id: None,
                child: Some(true),
            });
        } else if let Ok(gid) = g.parse() {
            given_by.push(GiverDto {
                guardian_id: Some(gid),
                child: None,
            });
        }
    }
    if given_by.is_empty() {
        errors.add("given_by", "Kies wie besliste.");
    }
    let (Some(purpose), Some(decision), Some(method), true) =
        (purpose, decision, method, errors.is_empty())
    else {
        return Ok(invalid(
            consent_form(&state, &session, &caller, id).await?,
            &posted,
            &errors,
        ));
    };
    let region = region_of(&state, &caller, child.location_id).await?;
    let body = NewConsent {
        purpose,
        recipient: RecipientDto {
            organization_id: None,
            region_code: region.parse().ok(),
        },
        decision,
        given_by,
        method,
        evidence_ref: posted.optional("evidence_ref"),
        noted_by_staff_id: None,
        information_version: posted.get("information_version").into(),
        valid_from: crate::domain::calendar::dutch_date(crate::domain::calendar::now()),
        valid_until,
        no_signs_of_disagreement: false,
        child_not_competent: None,
    };
    match consent::create_consent(&state, &caller, id, body).await {
        Ok(_) => Ok(Redirect::to(&child_path(id)).into_response()),
        Err(e) => Ok(refused(
            consent_form(&state, &session, &caller, id).await?,
            &posted,
            e,
            &[("given_by", "given_by")],
        )),
    }
}

// ---------------------------------------------------------------- invite a parent

async fn invitation_form(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<FormPage, WebError> {
    let mut holders = guardian_options(state, caller, id).await?;
    holders.push(("child".into(), "Het kind zelf (vanaf 12 jaar)".into()));
    let mut form = page(
        session,
        caller,
        "Ouder vragen om toestemming",
        format!("/kinderen/{id}/uitnodigen"),
        child_path(id),
        "Vraag versturen",
        vec![
            FieldView::new("holder", "Aan wie?", "radio").options(holders),
            FieldView::new("purpose", "Waarvoor?", "radio").options(purposes()),
            FieldView::new(
                "information_version",
                "Versie van de informatiebrief",
                "text",
            ),
        ],
    )
    .await?;
    form.intro.push("De ouder krijgt een persoonlijke link. Daarmee kiest de ouder zelf ja of nee, en ziet later wie de gegevens van het kind bekeek.".into());
    Ok(form)
}

#[derive(Template)]
#[template(path = "invited.html")]
struct InvitedPage {
    frame: Frame,
    child: Uuid,
    url: String,
    mailed: bool,
}

child_form_page!(new_invitation, invitation_form);

pub async fn create_invitation(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let child = children::get_child(&state, &caller, id).await?;
    let mut errors = Errors::default();
    let purpose = errors.parse::<Purpose>(&posted, "purpose", "Kies waarvoor.");
    let (guardian_id, is_child) = match posted.get("holder") {
        "child" => (None, Some(true)),
        g => match g.parse() {
            Ok(g) => (Some(g), None),
            Err(_) => {
                errors.add("holder", "Kies aan wie.");
                (None, None)
            }
        },
    };
    let (Some(purpose), true) = (purpose, errors.is_empty()) else {
        return Ok(invalid(
            invitation_form(&state, &session, &caller, id).await?,
            &posted,
            &errors,
        ));
    };
    let region = region_of(&state, &caller, child.location_id).await?;
    let body = NewInvitation {
        guardian_id,
        child: is_child,
        purpose,
        recipient: RecipientDto {
            organization_id: None,
            region_code: region.parse().ok(),
        },
        information_version: posted.get("information_version").into(),
        valid_until: None,
    };
    match consent::create_invitation(&state, &caller, id, body).await {
        Ok(made) => {
            let t = InvitedPage {
                frame: frame(&session, &caller, "Vraag verstuurd").await?,
                child: id,
                url: made.url,
                mailed: made.mailed,
            };
            Ok(html(StatusCode::OK, &t))
        }
        Err(e) => Ok(refused(
            invitation_form(&state, &session, &caller, id).await?,
            &posted,
            e,
            &[("guardian_id", "holder"), ("child", "holder")],
        )),
    }
}

// ---------------------------------------------------------------- a concern

async fn concern_form(
    _state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<FormPage, WebError> {
    page(
        session,
        caller,
        "Zorg vastleggen",
        format!("/kinderen/{id}/zorg/nieuw"),
        child_path(id),
        "Vastleggen",
        vec![
            FieldView::new("domains", "Waar gaat het over?", "checkbox").options(domains()),
            FieldView::new("observation", "Wat ziet u?", "textarea")
                .hint("Beschrijf wat u ziet, in uw eigen woorden. Geen diagnose, geen BSN."),
            FieldView::new("observed_since", "Sinds wanneer?", "date"),
        ],
    )
    .await
}

child_form_page!(new_concern, concern_form);

pub async fn create_concern(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    let domains: Vec<ConcernDomain> = posted
        .all("domains")
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    if domains.is_empty() {
        errors.add("domains", "Kies er minstens één.");
    }
    errors.required(&posted, &["observation"]);
    let since = errors.date(&posted, "observed_since", true);
    let (Some(observed_since), true) = (since, errors.is_empty()) else {
        return Ok(invalid(
            concern_form(&state, &session, &caller, id).await?,
            &posted,
            &errors,
        ));
    };
    let body = NewConcern {
        domains,
        observation: posted.get("observation").into(),
        observed_since,
    };
    match work::create_concern(&state, &caller, id, body).await {
        Ok(_) => Ok(Redirect::to(&child_path(id)).into_response()),
        Err(e) => Ok(refused(
            concern_form(&state, &session, &caller, id).await?,
            &posted,
            e,
            &[],
        )),
    }
}

// ---------------------------------------------------------------- a consultation request

async fn request_form(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<FormPage, WebError> {
    let concerns = work::list_concerns(state, caller, id)
        .await?
        .into_iter()
        .map(|c| {
            let words: Vec<&str> = c
                .domains
                .iter()
                .filter_map(|d| d.parse().ok())
                .map(labels::domain)
                .collect();
            (
                c.id.to_string(),
                format!(
                    "{} (sinds {})",
                    words.join(", "),
                    labels::date(c.observed_since)
                ),
            )
        })
        .collect::<Vec<_>>();
    let mut form = page(
        session,
        caller,
        "Specialist vragen",
        format!("/kinderen/{id}/aanvraag/nieuw"),
        child_path(id),
        "Aanvraag versturen",
        vec![
            FieldView::new("concern_id", "Over welke zorg?", "select").options(concerns),
            FieldView::new("question", "Wat is de vraag van het kind?", "textarea")
                .hint("Bijvoorbeeld: hoe kan zij meer meedoen in de groep? Niet: wat is er mis."),
            FieldView::new("expertise", "Welke deskundigheid is nodig?", "radio")
                .options(domains()),
            FieldView::new("urgency", "Hoe snel?", "radio").options(
                [Urgency::Normal, Urgency::High]
                    .into_iter()
                    .map(|u| (u.as_str().to_string(), labels::urgency(u).to_string())),
            ),
        ],
    )
    .await?;
    let readiness = work::submission_readiness(state, caller, id).await?;
    if !readiness.ready {
        let mut why = labels::consent_missing(&readiness.reasons, &readiness.missing, false);
        if why.is_empty() {
            why.push("Er is nog geen toestemming van de ouders voor meekijken en advies.".into());
        }
        form.blocked = Some(why);
    }
    Ok(form)
}

child_form_page!(new_request, request_form);

pub async fn create_request(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["question"]);
    let concern_id = errors.parse::<Uuid>(&posted, "concern_id", "Kies een zorg.");
    let expertise = errors.parse::<ConcernDomain>(&posted, "expertise", "Kies de deskundigheid.");
    let urgency = errors.parse::<Urgency>(&posted, "urgency", "Kies hoe snel.");
    let (Some(concern_id), Some(expertise), Some(urgency), true) =
        (concern_id, expertise, urgency, errors.is_empty())
    else {
        return Ok(invalid(
            request_form(&state, &session, &caller, id).await?,
            &posted,
            &errors,
        ));
    };
    let body = NewConsultation {
        child_id: id,
        concern_id,
        question: posted.get("question").into(),
        expertise,
        urgency,
    };
    match work::submit(&state, &caller, body, None).await {
        Ok(Submitted::Created(made)) | Ok(Submitted::Replayed(made)) => {
            Ok(Redirect::to(&format!("/aanvragen/{}", made.id)).into_response())
        }
        Err(e) => Ok(refused(
            request_form(&state, &session, &caller, id).await?,
            &posted,
            e,
            &[],
        )),
    }
}

// ---------------------------------------------------------------- the Meldcode report

async fn meldcode_form(
    _state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<FormPage, WebError> {
    let mut form = page(
        session,
        caller,
        "Melding bij Veilig Thuis vastleggen",
        format!("/kinderen/{id}/meldcode/nieuw"),
        child_path(id),
        "Melding vastleggen",
        vec![
            FieldView::new("legal_basis", "Wettelijke grond", "radio").options([(
                "wmo_2015_art_5_2_6".to_string(),
                "Meldrecht zonder toestemming (artikel 5.2.6 Wmo 2015)".to_string(),
            )]),
            FieldView::new("reason", "Waarom is Veilig Thuis ingelicht?", "textarea"),
            FieldView::new("consulted", "Wie heeft u geraadpleegd?", "textarea").hint(
                "Bijvoorbeeld de aandachtsfunctionaris of de adviestelefoon van Veilig Thuis.",
            ),
            FieldView::new(
                "weighing",
                "Uw afweging volgens de stappen van de Meldcode",
                "textarea",
            ),
            FieldView::new("reported_on", "Datum van de melding", "date"),
        ],
    )
    .await?;
    form.intro = vec![
        "Dit is geen aanvraag voor een specialist. Hier legt u vast dat u Veilig Thuis heeft ingelicht volgens de Meldcode huiselijk geweld en kindermishandeling.".into(),
        "Dit mag zonder toestemming van de ouders. De ouders zien in hun overzicht dat er een melding is gedaan.".into(),
    ];
    Ok(form)
}

child_form_page!(new_meldcode, meldcode_form);

pub async fn create_meldcode(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["reason", "consulted", "weighing"]);
    let legal_basis = errors.parse(&posted, "legal_basis", "Kies de wettelijke grond.");
    let reported_on = errors.date(&posted, "reported_on", false);
    let (Some(legal_basis), true) = (legal_basis, errors.is_empty()) else {
        return Ok(invalid(
            meldcode_form(&state, &session, &caller, id).await?,
            &posted,
            &errors,
        ));
    };
    let body = NewVeiligThuisReport {
        legal_basis,
        reason: posted.get("reason").into(),
        consulted: posted.get("consulted").into(),
        weighing: posted.get("weighing").into(),
        reported_on,
    };
    match consent::create_veilig_thuis_report(&state, &caller, id, body).await {
        Ok(_) => Ok(Redirect::to(&child_path(id)).into_response()),
        Err(e) => Ok(refused(
            meldcode_form(&state, &session, &caller, id).await?,
            &posted,
            e,
            &[],
        )),
    }
}

// ---------------------------------------------------------------- following a request

/// A request's messages as the thread on its page shows them (the author by role).
pub(super) fn message_lines(list: Vec<work::MessageView>) -> Vec<MessageLine> {
    list.into_iter()
        .map(|m| MessageLine {
            when: labels::date_time(m.created_at),
            who: m
                .author_role
                .parse()
                .map(labels::role)
                .unwrap_or("iemand")
                .to_string(),
            text: m.text,
        })
        .collect()
}

pub(super) struct MessageLine {
    pub when: String,
    pub who: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    frame: Frame,
    id: Uuid,
    child: Uuid,
    status: &'static str,
    expertise: &'static str,
    urgency: &'static str,
    routing: Vec<String>,
    messages: Vec<MessageLine>,
    cancellable: bool,
}

pub async fn request(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    // one address per request: the page of the reader's role (a mentor keeps the child's record)
    if let Caller::Principal(p) = &caller {
        use crate::domain::types::Role;
        if !p.has(Role::Mentor) && !p.has(Role::Integration) {
            if p.has(Role::Specialist) {
                return super::specialist::request(&state, &session, &caller, id).await;
            }
            if p.has(Role::Coordinator) {
                return super::coordinator::request(&state, &session, &caller, id).await;
            }
        }
    }
    let r = work::get_consultation(&state, &caller, id).await?;
    let routing = match work::routing(&state, &caller, id).await {
        Ok(view) => view
            .decisions
            .into_iter()
            .map(|d| {
                let what = match d.chosen_staff_id {
                    Some(_) => "aangeboden aan een specialist die in de regio werkt, de deskundigheid heeft, nog plaats heeft en onder de toestemming van de ouders valt",
                    None => "geen specialist kon de aanvraag nemen; de regiocoördinator wijst hem toe",
                };
                format!("{}: {what}.", labels::date_time(d.decided_at))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let messages = match work::list_messages(&state, &caller, id).await {
        Ok(list) => message_lines(list),
        Err(_) => Vec::new(),
    };
    let t = RequestPage {
        frame: frame(&session, &caller, "Aanvraag").await?,
        id,
        child: r.child_id,
        status: labels::consultation_status(r.status),
        expertise: labels::domain(r.expertise),
        urgency: labels::urgency(r.urgency),
        routing,
        messages,
        cancellable: r.status.is_open(),
    };
    Ok(html(StatusCode::OK, &t))
}

pub async fn post_message(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let body = work::NewMessage {
        text: posted.get("text").into(),
    };
    match work::post_message(&state, &caller, id, body).await {
        Ok(_) => Ok(Redirect::to(&format!("/aanvragen/{id}")).into_response()),
        Err(crate::service::ServiceError::Validation(_)) => Err(WebError::Refused(
            "Schrijf een bericht (hoogstens 4000 tekens) en probeer het opnieuw.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn cancel_request(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let reason = work::ReasonBody {
        reason: posted
            .optional("reason")
            .unwrap_or_else(|| "geannuleerd door de mentor".into()),
    };
    work::cancel(&state, &caller, id, reason).await?;
    Ok(Redirect::to(&format!("/aanvragen/{id}")).into_response())
}
