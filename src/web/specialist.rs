//! The youth-care specialist's pages: *Aangeboden aan mij* (offers with the time left to
//! answer, accept or decline), *Mijn aanvragen*, a request's page (question, concern, consent,
//! messages, visits, the child's timeline), logging and editing a coaching visit (an edit that
//! crossed someone else's shows both versions), and closing with an outcome. What a specialist
//! may see is the workflow's: the question only after acceptance, nothing once the parents'
//! consent no longer covers their organisation.

use super::forms::{Errors, Fields};
use super::mentor::{invalid, page, refused, FieldView, FormPage};
use super::{check_csrf, flash_and_go, html, labels, staff_caller, take_flash, Frame, WebError};
use crate::domain::calendar::now;
use crate::domain::consultation::{
    Competence, ConsultationStatus, Outcome, Participant, VisitKind, VisitStatus,
};
use crate::service::consultations::{self as work, ConsultationView, ListParams, PlaceView};
use crate::service::visits::{self, CloseRequest, Referral, TimelineParams, VisitInput, VisitView};
use crate::service::{registry, Caller, ServiceError};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use tower_sessions::Session;
use uuid::Uuid;

async fn frame(session: &Session, caller: &Caller, title: &str) -> Result<Frame, WebError> {
    super::staff::frame(session, caller, title).await
}

fn request_path(id: Uuid) -> String {
    format!("/aanvragen/{id}")
}

/// One request in a list.
pub(super) struct RequestLine {
    pub id: Uuid,
    pub status: &'static str,
    pub expertise: &'static str,
    pub urgency: &'static str,
    pub urgent: bool,
    pub place: String,
    pub region: String,
    /// "nog 2 dagen en 3 uur" and the moment itself.
    pub due: Option<(String, String)>,
    pub question: Option<String>,
    pub since: String,
    pub reason: Option<String>,
}

pub(super) fn line(v: &ConsultationView, places: &HashMap<Uuid, PlaceView>) -> RequestLine {
    let at = now();
    let place = places.get(&v.id);
    RequestLine {
        id: v.id,
        status: labels::consultation_status(v.status),
        expertise: labels::domain(v.expertise),
        urgency: labels::urgency(v.urgency),
        urgent: v.urgency == crate::domain::consultation::Urgency::High,
        place: place
            .map(|p| format!("{}, {}", p.location_name, p.organization_name))
            .unwrap_or_default(),
        region: place
            .map(|p| p.region_name.clone())
            .unwrap_or_else(|| v.region_code.clone()),
        due: v
            .answer_due
            .map(|d| (labels::time_left(d, at), labels::date_time(d))),
        question: v.question.clone(),
        since: labels::waited(v.updated_at, at),
        reason: v.status_reason.as_deref().map(labels::status_reason),
    }
}

#[derive(Template)]
#[template(path = "offered.html")]
struct OfferedPage {
    frame: Frame,
    flash: Option<String>,
    offers: Vec<RequestLine>,
}

async fn mine(
    state: &AppState,
    caller: &Caller,
    status: Option<ConsultationStatus>,
) -> Result<Vec<ConsultationView>, WebError> {
    let q = ListParams {
        status,
        assigned: Some("me".into()),
        region: None,
        child_id: None,
        limit: Some(200),
        cursor: None,
    };
    Ok(work::list_consultations(state, caller, q).await?.items)
}

/// `GET /aangeboden`: the requests offered to me, soonest deadline first.
pub async fn offered(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let mut views = mine(&state, &caller, Some(ConsultationStatus::Offered)).await?;
    views.sort_by_key(|v| v.answer_due);
    let places = work::places(&state, &caller, &views).await?;
    let t = OfferedPage {
        frame: frame(&session, &caller, "Aangeboden aan mij").await?,
        flash: take_flash(&session).await?,
        offers: views.iter().map(|v| line(v, &places)).collect(),
    };
    Ok(html(StatusCode::OK, &t))
}

#[derive(Template)]
#[template(path = "my_requests.html")]
struct MyRequestsPage {
    frame: Frame,
    flash: Option<String>,
    /// Requests whose consent was withdrawn: only the date of acceptance, to close them.
    ended: Vec<(Uuid, String)>,
    running: Vec<RequestLine>,
    closed: Vec<RequestLine>,
}

/// `GET /mijn-aanvragen`: my accepted and running requests, and the ones I closed.
pub async fn my_requests(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    // per status, so that a long history of closed requests never pushes a running one out
    let mut running_views = Vec::new();
    for status in [ConsultationStatus::Accepted, ConsultationStatus::InProgress] {
        running_views.extend(mine(&state, &caller, Some(status)).await?);
    }
    let closed_views = mine(&state, &caller, Some(ConsultationStatus::Completed)).await?;
    let all: Vec<ConsultationView> = running_views.into_iter().chain(closed_views).collect();
    let places = work::places(&state, &caller, &all).await?;
    let (running, closed): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|v| v.status != ConsultationStatus::Completed);
    let ended = work::ended_for_me(&state, &caller)
        .await?
        .into_iter()
        .map(|e| {
            (
                e.id,
                e.accepted_at.map(labels::date_time).unwrap_or_default(),
            )
        })
        .collect();
    let t = MyRequestsPage {
        frame: frame(&session, &caller, "Mijn aanvragen").await?,
        flash: take_flash(&session).await?,
        ended,
        running: running.into_iter().map(|v| line(v, &places)).collect(),
        closed: closed.into_iter().map(|v| line(v, &places)).collect(),
    };
    Ok(html(StatusCode::OK, &t))
}

struct VisitLine {
    id: Uuid,
    date: String,
    minutes: i64,
    kind: &'static str,
    status: &'static str,
    participants: String,
    competences: Vec<&'static str>,
    notes: Option<String>,
    advice: Option<String>,
}

fn visit_line(v: &VisitView) -> VisitLine {
    VisitLine {
        id: v.id,
        date: labels::date(v.date),
        minutes: v.duration_minutes,
        kind: labels::visit_kind(v.kind),
        status: labels::visit_status(v.status),
        participants: v
            .participants
            .iter()
            .map(|p| labels::participant(*p))
            .collect::<Vec<_>>()
            .join(", "),
        competences: v
            .competences
            .iter()
            .map(|c| labels::competence(*c))
            .collect(),
        notes: v.notes.clone(),
        advice: v.advice.clone(),
    }
}

#[derive(Template)]
#[template(path = "specialist_request.html")]
struct RequestPage {
    frame: Frame,
    flash: Option<String>,
    r: RequestLine,
    offered: bool,
    open: bool,
    accepted_at: Option<String>,
    concern: Option<(String, String, String)>,
    visits: Vec<VisitLine>,
    messages: Vec<super::mentor::MessageLine>,
    timeline: Vec<(String, String)>,
    outcome: Option<String>,
    summary: Option<String>,
}

#[derive(Template)]
#[template(path = "access_ended.html")]
struct AccessEndedPage {
    frame: Frame,
    id: Uuid,
    reasons: Vec<String>,
    /// The request is still open (on hold): it can be closed as "parents withdrew".
    closable: bool,
}

/// `GET /aanvragen/{id}` for the specialist it is offered or assigned to.
pub async fn request(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<Response, WebError> {
    let r = match work::get_consultation(state, caller, id).await {
        Ok(r) => r,
        Err(ServiceError::Forbidden { code, rules, .. })
            if code == "consent-withdrawn" || code == "consent-not-in-force" =>
        {
            let mut reasons: Vec<String> = rules.iter().map(|r| labels::rule(r, "")).collect();
            if reasons.is_empty() {
                reasons.push("De toestemming van de ouders geldt niet voor uw organisatie.".into());
            }
            let t = AccessEndedPage {
                frame: frame(session, caller, "Toegang beëindigd").await?,
                id,
                reasons,
                closable: code == "consent-withdrawn",
            };
            return Ok(html(StatusCode::FORBIDDEN, &t));
        }
        Err(e) => return Err(e.into()),
    };
    let places = work::places(state, caller, std::slice::from_ref(&r)).await?;
    let offered = r.status == ConsultationStatus::Offered;
    let (concern, visits, messages, timeline) = if offered {
        (None, Vec::new(), Vec::new(), Vec::new())
    } else {
        let concern = work::concern_of_request(state, caller, id)
            .await
            .ok()
            .map(|c| {
                let domains = c
                    .domains
                    .iter()
                    .filter_map(|d| d.parse().ok())
                    .map(labels::domain)
                    .collect::<Vec<_>>()
                    .join(", ");
                (domains, c.observation, labels::date(c.observed_since))
            });
        let visits = visits::list_visits(state, caller, id)
            .await?
            .iter()
            .map(visit_line)
            .collect();
        let messages = super::mentor::message_lines(work::list_messages(state, caller, id).await?);
        let q = TimelineParams {
            limit: Some(50),
            cursor: None,
        };
        let timeline = match visits::timeline(state, caller, r.child_id, q).await {
            Ok(page) => page
                .items
                .into_iter()
                .map(|e| {
                    (
                        labels::date_time(e.at),
                        super::staff::timeline_words(&e.kind, &e.detail),
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        (concern, visits, messages, timeline)
    };
    let t = RequestPage {
        frame: frame(session, caller, "Aanvraag").await?,
        flash: take_flash(session).await?,
        r: line(&r, &places),
        offered,
        open: matches!(
            r.status,
            ConsultationStatus::Accepted | ConsultationStatus::InProgress
        ),
        accepted_at: r.accepted_at.map(labels::date_time),
        concern,
        visits,
        messages,
        timeline,
        outcome: r.outcome.map(|o| labels::outcome(o).to_string()),
        summary: r.summary.clone(),
    };
    Ok(html(StatusCode::OK, &t))
}

/// `POST /aanvragen/{id}/accepteren`.
pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    work::accept(&state, &caller, id).await?;
    flash_and_go(
        &session,
        "U heeft de aanvraag aangenomen. U ziet nu de vraag van de mentor.".into(),
        &request_path(id),
    )
    .await
}

async fn decline_form(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<FormPage, WebError> {
    let _ = state;
    let mut f = page(
        session,
        caller,
        "Aanvraag afwijzen",
        format!("/aanvragen/{id}/afwijzen"),
        "/aangeboden".into(),
        "Afwijzen",
        vec![FieldView::new("reason", "Waarom wijst u de aanvraag af?", "textarea")
            .hint("Bijvoorbeeld: geen plaats, of de vraag past beter bij een andere deskundigheid. Schrijf geen namen.")],
    )
    .await?;
    f.intro = vec!["De aanvraag gaat meteen naar de volgende specialist van de regio. Is er niemand, dan wijst de regiocoördinator hem toe.".into()];
    Ok(f)
}

/// `GET /aanvragen/{id}/afwijzen`: only for the specialist it is offered to.
pub async fn decline_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let r = work::get_consultation(&state, &caller, id).await?;
    if r.status != ConsultationStatus::Offered || !is_me(&caller, r.offered_to) {
        return Err(WebError::NotFound);
    }
    Ok(decline_form(&state, &session, &caller, id)
        .await?
        .render(StatusCode::OK))
}

fn is_me(caller: &Caller, staff: Option<Uuid>) -> bool {
    match caller {
        Caller::Principal(p) => p.staff.as_ref().map(|s| s.staff.id) == staff && staff.is_some(),
        Caller::System(_) => false,
    }
}

/// `POST /aanvragen/{id}/afwijzen`: declines, and says where the request went.
pub async fn decline(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    errors.required(&posted, &["reason"]);
    if !errors.is_empty() {
        return Ok(invalid(
            decline_form(&state, &session, &caller, id).await?,
            &posted,
            &errors,
        ));
    }
    let body = work::ReasonBody {
        reason: posted.get("reason").into(),
    };
    let after = match work::decline(&state, &caller, id, body).await {
        Ok(v) => v,
        Err(e) => {
            return Ok(refused(
                decline_form(&state, &session, &caller, id).await?,
                &posted,
                e,
                &[],
            ))
        }
    };
    let went = match (after.status, after.offered_to) {
        (ConsultationStatus::Offered, Some(next)) => {
            let names = registry::staff_names(&state, &caller, &[next]).await?;
            match names.get(&next) {
                Some(n) => format!("De aanvraag is nu aangeboden aan {n}."),
                None => "De aanvraag is nu aangeboden aan een andere specialist.".into(),
            }
        }
        (ConsultationStatus::Unassigned, _) => {
            "Er was geen andere specialist met plaats. De regiocoördinator wijst de aanvraag nu toe.".into()
        }
        _ => "De aanvraag is doorgegeven.".into(),
    };
    flash_and_go(
        &session,
        format!("U heeft de aanvraag afgewezen. {went}"),
        "/aangeboden",
    )
    .await
}

// ---------------------------------------------------------------- visits

fn choices<T: Copy>(
    all: &[T],
    code: fn(&T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (code(v).to_string(), label(*v).to_string()))
        .collect()
}

const KINDS: [VisitKind; 5] = [
    VisitKind::Observation,
    VisitKind::StaffCoaching,
    VisitKind::ParentMeeting,
    VisitKind::TeamMeeting,
    VisitKind::Remote,
];
const PARTICIPANTS: [Participant; 7] = [
    Participant::Mentor,
    Participant::Practitioner,
    Participant::Parent,
    Participant::Child,
    Participant::Team,
    Participant::LocationManager,
    Participant::OtherProfessional,
];
const COMPETENCES: [Competence; 4] = [
    Competence::DevelopmentKnowledge,
    Competence::StrikingBehaviour,
    Competence::AskingHelp,
    Competence::Parents,
];
const VISIT_STATUSES: [VisitStatus; 3] = [
    VisitStatus::Held,
    VisitStatus::Planned,
    VisitStatus::Cancelled,
];

async fn visit_form(
    session: &Session,
    caller: &Caller,
    id: Uuid,
    visit: Option<Uuid>,
) -> Result<FormPage, WebError> {
    let (heading, action, submit) = match visit {
        None => (
            "Bezoek vastleggen",
            format!("/aanvragen/{id}/bezoeken/nieuw"),
            "Bezoek opslaan",
        ),
        Some(v) => (
            "Bezoek wijzigen",
            format!("/aanvragen/{id}/bezoeken/{v}"),
            "Wijziging opslaan",
        ),
    };
    page(
        session,
        caller,
        heading,
        action,
        request_path(id),
        submit,
        vec![
            FieldView::new("date", "Datum", "date"),
            FieldView::new("duration_minutes", "Hoe lang (minuten)", "text")
                .hint("Bijvoorbeeld 90."),
            FieldView::new("kind", "Soort bezoek", "radio")
                .options(choices(&KINDS, |k| k.as_str(), labels::visit_kind)),
            FieldView::new("status", "Is het bezoek geweest?", "radio")
                .options(choices(&VISIT_STATUSES, |k| k.as_str(), labels::visit_status)),
            FieldView::new("participants", "Wie deden mee?", "checkbox")
                .options(choices(&PARTICIPANTS, |k| k.as_str(), labels::participant)),
            FieldView::new("competences", "Aan welke kerncompetenties is gewerkt?", "checkbox")
                .hint("De vier kerncompetenties van de pedagogisch medewerkers.")
                .options(choices(&COMPETENCES, |k| k.as_str(), labels::competence)),
            FieldView::new("advice", "Advies voor de groep", "textarea")
                .hint("De mentor ziet dit advies."),
            FieldView::new("notes", "Eigen aantekeningen", "textarea")
                .hint("Alleen voor u, tenzij u ze hieronder deelt. Schrijf geen namen van andere kinderen."),
            FieldView::new("notes_shared", "Aantekeningen delen", "checkbox")
                .options([("ja".to_string(), "Deel mijn aantekeningen met de mentor".to_string())]),
        ],
    )
    .await
}

/// Reads the visit form; `None` with the errors beside the fields.
fn visit_input(posted: &Fields, errors: &mut Errors) -> Option<VisitInput> {
    let date = errors.date(posted, "date", true);
    let duration = match posted.get("duration_minutes").parse::<i64>() {
        Ok(m) => Some(m),
        Err(_) => {
            errors.add(
                "duration_minutes",
                "Vul het aantal minuten in, bijvoorbeeld 90.",
            );
            None
        }
    };
    let kind = errors.parse::<VisitKind>(posted, "kind", "Kies de soort bezoek.");
    let status = errors.parse::<VisitStatus>(posted, "status", "Kies of het bezoek geweest is.");
    let mut participants = Vec::new();
    for p in posted.all("participants") {
        match p.parse::<Participant>() {
            Ok(p) => participants.push(p),
            Err(_) => errors.add("participants", "Kies wie er meededen."),
        }
    }
    let mut competences = Vec::new();
    for c in posted.all("competences") {
        match c.parse::<Competence>() {
            Ok(c) => competences.push(c),
            Err(_) => errors.add("competences", "Kies een van de kerncompetenties."),
        }
    }
    let (Some(date), Some(duration_minutes), Some(kind), Some(status)) =
        (date, duration, kind, status)
    else {
        return None;
    };
    if !errors.is_empty() {
        return None;
    }
    Some(VisitInput {
        date,
        duration_minutes,
        kind,
        participants,
        competences,
        notes: posted.optional("notes"),
        advice: posted.optional("advice"),
        status: Some(status),
        notes_shared: posted.get("notes_shared") == "ja",
    })
}

/// The visit as the form's fields, to fill it with what is stored.
fn visit_fields(v: &VisitView) -> Fields {
    let mut pairs = vec![
        ("date".to_string(), v.date.to_string()),
        (
            "duration_minutes".to_string(),
            v.duration_minutes.to_string(),
        ),
        ("kind".to_string(), v.kind.as_str().to_string()),
        ("status".to_string(), v.status.as_str().to_string()),
        ("advice".to_string(), v.advice.clone().unwrap_or_default()),
        ("notes".to_string(), v.notes.clone().unwrap_or_default()),
    ];
    pairs.extend(
        v.participants
            .iter()
            .map(|p| ("participants".to_string(), p.as_str().to_string())),
    );
    pairs.extend(
        v.competences
            .iter()
            .map(|c| ("competences".to_string(), c.as_str().to_string())),
    );
    if v.notes_shared {
        pairs.push(("notes_shared".into(), "ja".into()));
    }
    Fields::from_pairs(pairs)
}

/// A stored visit as facts, for the conflict page.
fn visit_facts(v: &VisitView) -> Vec<(String, String)> {
    let l = visit_line(v);
    let mut out = vec![
        ("Datum".to_string(), l.date),
        ("Hoe lang".to_string(), format!("{} minuten", l.minutes)),
        ("Soort bezoek".to_string(), l.kind.to_string()),
        ("Geweest?".to_string(), l.status.to_string()),
        ("Wie deden mee".to_string(), l.participants),
        ("Kerncompetenties".to_string(), l.competences.join("; ")),
    ];
    if let Some(a) = l.advice {
        out.push(("Advies voor de groep".into(), a));
    }
    if let Some(n) = l.notes {
        out.push(("Eigen aantekeningen".into(), n));
    }
    out
}

const VISIT_FIELDS: &[(&str, &str)] = &[
    ("date", "date"),
    ("duration_minutes", "duration_minutes"),
    ("kind", "kind"),
    ("participants", "participants"),
    ("competences", "competences"),
    ("notes", "notes"),
    ("advice", "advice"),
    ("status", "status"),
];

/// `GET /aanvragen/{id}/bezoeken/nieuw`.
pub async fn new_visit(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    // only the assigned specialist of an open request (anyone else: the unknown page)
    visits::list_visits(&state, &caller, id).await?;
    let form = visit_form(&session, &caller, id, None).await?;
    let today = Fields::from_pairs(vec![
        (
            "date".into(),
            crate::domain::calendar::dutch_date(now()).to_string(),
        ),
        ("status".into(), "held".into()),
    ]);
    Ok(form
        .filled(&today, &Errors::default())
        .render(StatusCode::OK))
}

/// `POST /aanvragen/{id}/bezoeken/nieuw`.
pub async fn create_visit(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let mut errors = Errors::default();
    let Some(body) = visit_input(&posted, &mut errors) else {
        return Ok(invalid(
            visit_form(&session, &caller, id, None).await?,
            &posted,
            &errors,
        ));
    };
    match visits::create_visit(&state, &caller, id, body).await {
        Ok(_) => {
            flash_and_go(
                &session,
                "Het bezoek is opgeslagen.".into(),
                &request_path(id),
            )
            .await
        }
        Err(e) => Ok(refused(
            visit_form(&session, &caller, id, None).await?,
            &posted,
            e,
            VISIT_FIELDS,
        )),
    }
}

async fn stored_visit(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    visit: Uuid,
) -> Result<VisitView, WebError> {
    visits::list_visits(state, caller, id)
        .await?
        .into_iter()
        .find(|v| v.id == visit)
        .ok_or(WebError::NotFound)
}

/// `GET /aanvragen/{id}/bezoeken/{visit}`: the edit form, filled, with the version it starts from.
pub async fn edit_visit(
    State(state): State<AppState>,
    session: Session,
    Path((id, visit)): Path<(Uuid, Uuid)>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let v = stored_visit(&state, &caller, id, visit).await?;
    let mut form = visit_form(&session, &caller, id, Some(visit)).await?;
    form.hidden.push(("version", v.version.to_string()));
    Ok(form
        .filled(&visit_fields(&v), &Errors::default())
        .render(StatusCode::OK))
}

/// `POST /aanvragen/{id}/bezoeken/{visit}`: saves when nobody changed the visit meanwhile;
/// otherwise shows the stored version beside what was typed, to save again on purpose.
pub async fn update_visit(
    State(state): State<AppState>,
    session: Session,
    Path((id, visit)): Path<(Uuid, Uuid)>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let version: Option<i64> = posted.get("version").parse().ok();
    let mut errors = Errors::default();
    let form_again = |version: String| async {
        let mut form = visit_form(&session, &caller, id, Some(visit)).await?;
        form.hidden.push(("version", version));
        Ok::<_, WebError>(form)
    };
    let Some(body) = visit_input(&posted, &mut errors) else {
        return Ok(invalid(
            form_again(posted.get("version").to_string()).await?,
            &posted,
            &errors,
        ));
    };
    // the visit must be this specialist's before anything is said about its versions
    stored_visit(&state, &caller, id, visit).await?;
    match visits::update_visit(&state, &caller, visit, version, body).await {
        Ok(_) => {
            flash_and_go(
                &session,
                "De wijziging is opgeslagen.".into(),
                &request_path(id),
            )
            .await
        }
        Err(ServiceError::Stale) | Err(ServiceError::PreconditionRequired(_)) => {
            let now_stored = stored_visit(&state, &caller, id, visit).await?;
            let mut form = form_again(now_stored.version.to_string()).await?;
            form.intro = vec![
                "Iemand anders heeft dit bezoek gewijzigd terwijl u het aanpaste. Uw wijziging is nog niet opgeslagen.".into(),
                "Hieronder staat eerst het bezoek zoals het nu is opgeslagen, daarna het formulier met uw versie. Kijk ze na en sla op om uw versie te bewaren.".into(),
            ];
            form.other = Some((
                "Zo is het bezoek nu opgeslagen".into(),
                visit_facts(&now_stored),
            ));
            Ok(form
                .filled(&posted, &Errors::default())
                .render(StatusCode::CONFLICT))
        }
        Err(e) => Ok(refused(
            form_again(posted.get("version").to_string()).await?,
            &posted,
            e,
            VISIT_FIELDS,
        )),
    }
}

// ---------------------------------------------------------------- closing

const OUTCOMES: [Outcome; 7] = [
    Outcome::HandledWithinChildcare,
    Outcome::ReferredYouthCare,
    Outcome::ReferredYouthHealthCare,
    Outcome::VeiligThuis,
    Outcome::ParentsWithdrew,
    Outcome::NoConcern,
    Outcome::Other,
];

async fn close_form(
    session: &Session,
    caller: &Caller,
    id: Uuid,
    withdrawn: bool,
) -> Result<FormPage, WebError> {
    let outcomes: Vec<Outcome> = if withdrawn {
        vec![Outcome::ParentsWithdrew]
    } else {
        OUTCOMES.to_vec()
    };
    let mut fields = vec![FieldView::new("outcome", "Hoe is het afgelopen?", "radio")
        .options(choices(&outcomes, |o| o.as_str(), labels::outcome))];
    fields.push(
        FieldView::new("summary", "Samenvatting", "textarea")
            .hint("Voor uw eigen dossier. De mentor ziet dit niet."),
    );
    if !withdrawn {
        fields.push(
            FieldView::new("advice_for_group", "Advies voor de groep", "textarea")
                .hint("De mentor ziet dit advies."),
        );
        fields.push(
            FieldView::new("referral", "Doorverwezen naar welke zorg?", "text")
                .hint("Alleen bij een doorverwijzing, bijvoorbeeld: ambulante jeugdhulp."),
        );
    }
    fields.push(
        FieldView::new("parents_involved", "Waren de ouders betrokken?", "radio")
            .options([("ja".into(), "Ja".into()), ("nee".into(), "Nee".into())]),
    );
    let mut f = page(
        session,
        caller,
        "Aanvraag afronden",
        format!("/aanvragen/{id}/afsluiten"),
        request_path(id),
        "Afronden",
        fields,
    )
    .await?;
    if withdrawn {
        f.intro = vec![
            "De ouders hebben hun toestemming ingetrokken. U kunt de aanvraag alleen zo afronden."
                .into(),
        ];
    } else {
        f.intro = vec!["Na het afronden kunt u de aanvraag niet meer wijzigen.".into()];
    }
    Ok(f)
}

/// Is this request on hold because consent was withdrawn (then it closes only one way)?
async fn withdrawn(state: &AppState, caller: &Caller, id: Uuid) -> Result<bool, WebError> {
    match work::get_consultation(state, caller, id).await {
        Ok(r)
            if matches!(
                r.status,
                ConsultationStatus::Accepted | ConsultationStatus::InProgress
            ) =>
        {
            Ok(false)
        }
        Ok(_) => Err(WebError::Refused(
            "Deze aanvraag kan niet meer worden afgerond.".into(),
        )),
        Err(ServiceError::Forbidden {
            code: "consent-withdrawn",
            ..
        }) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// `GET /aanvragen/{id}/afsluiten`.
pub async fn close_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let w = withdrawn(&state, &caller, id).await?;
    Ok(close_form(&session, &caller, id, w)
        .await?
        .render(StatusCode::OK))
}

/// `POST /aanvragen/{id}/afsluiten`.
pub async fn close(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let w = withdrawn(&state, &caller, id).await?;
    let mut errors = Errors::default();
    let outcome = errors.parse::<Outcome>(&posted, "outcome", "Kies hoe het is afgelopen.");
    errors.required(&posted, &["summary"]);
    let parents = match posted.get("parents_involved") {
        "ja" => Some(true),
        "nee" => Some(false),
        _ => {
            errors.add("parents_involved", "Kies ja of nee.");
            None
        }
    };
    let (Some(outcome), Some(parents_involved), true) = (outcome, parents, errors.is_empty())
    else {
        return Ok(invalid(
            close_form(&session, &caller, id, w).await?,
            &posted,
            &errors,
        ));
    };
    let body = CloseRequest {
        outcome,
        summary: posted.get("summary").into(),
        advice_for_group: posted.optional("advice_for_group"),
        parents_involved,
        referral: posted
            .optional("referral")
            .map(|kind_of_care| Referral { kind_of_care }),
    };
    match visits::close(&state, &caller, id, body).await {
        Ok(_) => {
            flash_and_go(
                &session,
                "De aanvraag is afgerond.".into(),
                "/mijn-aanvragen",
            )
            .await
        }
        Err(e) => Ok(refused(
            close_form(&session, &caller, id, w).await?,
            &posted,
            e,
            &[
                ("outcome", "outcome"),
                ("summary", "summary"),
                ("advice_for_group", "advice_for_group"),
                ("referral", "referral"),
                ("parents_involved", "parents_involved"),
            ],
        )),
    }
}
