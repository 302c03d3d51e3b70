//! The regional coordinator's pages: the region's queue of requests nobody could take (why, and
//! how long they waited), assigning one to a specialist with each candidate's expertise,
//! regions and open load beside their capacity, and the region's capacity per expertise.

use super::forms::Fields;
use super::specialist::{line, RequestLine};
use super::{check_csrf, flash_and_go, html, labels, staff_caller, take_flash, Frame, WebError};
use crate::domain::consultation::ConsultationStatus;
use crate::service::consultations::{self as work, CandidateView, ListParams};
use crate::service::{registry, Caller, ServiceError};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;
use uuid::Uuid;

async fn frame(session: &Session, caller: &Caller, title: &str) -> Result<Frame, WebError> {
    super::staff::frame(session, caller, title).await
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    frame: Frame,
    flash: Option<String>,
    waiting: Vec<RequestLine>,
}

/// `GET /wachtrij`: the unassigned requests of my regions, longest waiting first.
pub async fn queue(State(state): State<AppState>, session: Session) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let q = ListParams {
        status: Some(ConsultationStatus::Unassigned),
        assigned: None,
        region: None,
        child_id: None,
        limit: Some(200),
        cursor: None,
    };
    let mut views = work::list_consultations(&state, &caller, q).await?.items;
    views.sort_by_key(|v| v.updated_at);
    let places = work::places(&state, &caller, &views).await?;
    let mut waiting = Vec::with_capacity(views.len());
    for v in &views {
        let mut l = line(v, &places);
        l.reason = Some(why_unassigned(&state, &caller, v.id).await?);
        waiting.push(l);
    }
    let t = QueuePage {
        frame: frame(&session, &caller, "Wacht op toewijzing").await?,
        flash: take_flash(&session).await?,
        waiting,
    };
    Ok(html(StatusCode::OK, &t))
}

/// Why a request went to the queue: the last routing decision, and who declined or let the
/// deadline pass before.
async fn why_unassigned(state: &AppState, caller: &Caller, id: Uuid) -> Result<String, WebError> {
    let routing = work::routing(state, caller, id).await?;
    let mut why = routing
        .decisions
        .last()
        .map(|d| labels::status_reason(&d.reason))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "geen specialist kon de aanvraag nemen".into());
    let declined = routing
        .declines
        .iter()
        .filter(|d| d.kind == "declined")
        .count();
    let expired = routing.declines.len() - declined;
    if declined > 0 {
        why.push_str(&format!("; {declined} keer afgewezen"));
    }
    if expired > 0 {
        why.push_str(&format!("; {expired} keer niet op tijd beantwoord"));
    }
    Ok(why)
}

struct CandidateLine {
    id: Uuid,
    name: String,
    organization: String,
    expertise: String,
    regions: String,
    open: i64,
    capacity: i64,
    /// Why assigning would be refused or unwise, in words.
    notes: Vec<&'static str>,
    /// Assigning is refused by the workflow (consent does not cover them).
    blocked: bool,
}

fn candidate_line(c: &CandidateView) -> CandidateLine {
    let mut notes = Vec::new();
    if !c.has_expertise {
        notes.push("heeft deze deskundigheid niet");
    }
    if c.open >= c.capacity {
        notes.push("zit vol");
    }
    if c.declined_before {
        notes.push("wees deze aanvraag al af");
    }
    if !c.covered_by_consent {
        notes.push("valt niet onder de toestemming van de ouders");
    }
    CandidateLine {
        id: c.staff_id,
        name: c.name.clone(),
        organization: c.organization_name.clone(),
        expertise: c
            .expertise
            .iter()
            .map(|e| labels::domain(*e))
            .collect::<Vec<_>>()
            .join(", "),
        regions: c.region_codes.join(", "),
        open: c.open,
        capacity: c.capacity,
        notes,
        blocked: !c.covered_by_consent,
    }
}

#[derive(Template)]
#[template(path = "assign.html")]
struct AssignPage {
    frame: Frame,
    r: RequestLine,
    candidates: Vec<CandidateLine>,
    error: Option<String>,
}

async fn assign_page(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let r = work::get_consultation(state, caller, id).await?;
    let places = work::places(state, caller, std::slice::from_ref(&r)).await?;
    let mut request = line(&r, &places);
    if r.status == ConsultationStatus::Unassigned {
        request.reason = Some(why_unassigned(state, caller, id).await?);
    }
    let candidates = if r.status == ConsultationStatus::Unassigned {
        work::candidates(state, caller, id)
            .await?
            .iter()
            .map(candidate_line)
            .collect()
    } else {
        Vec::new()
    };
    let t = AssignPage {
        frame: frame(session, caller, "Aanvraag toewijzen").await?,
        r: request,
        candidates,
        error,
    };
    Ok(html(status, &t))
}

/// `GET /aanvragen/{id}` for the coordinator of the request's region.
pub async fn request(
    state: &AppState,
    session: &Session,
    caller: &Caller,
    id: Uuid,
) -> Result<Response, WebError> {
    assign_page(state, session, caller, id, None, StatusCode::OK).await
}

/// `POST /aanvragen/{id}/toewijzen`.
pub async fn assign(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    posted: Fields,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    check_csrf(&session, posted.get("csrf")).await?;
    let Ok(specialist_id) = posted.get("specialist").parse::<Uuid>() else {
        return assign_page(
            &state,
            &session,
            &caller,
            id,
            Some("Kies een specialist.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match work::assign(&state, &caller, id, work::AssignBody { specialist_id }).await {
        Ok(_) => {
            let names = registry::staff_names(&state, &caller, &[specialist_id]).await?;
            let who = names
                .get(&specialist_id)
                .cloned()
                .unwrap_or_else(|| "de specialist".into());
            flash_and_go(
                &session,
                format!("De aanvraag is toegewezen aan {who}."),
                "/wachtrij",
            )
            .await
        }
        Err(e @ (ServiceError::Validation(_) | ServiceError::Conflict { .. })) => {
            let message = match &e {
                ServiceError::Conflict { code, .. } if *code == "specialist-full" => {
                    "Deze specialist heeft geen plaats meer. Kies een ander.".to_string()
                }
                ServiceError::Conflict { code, .. } if *code == "consent-required" => {
                    "De toestemming van de ouders geldt niet voor de organisatie van deze specialist. Kies een ander.".to_string()
                }
                ServiceError::Conflict { code, .. } if *code == "illegal-transition" => {
                    "De aanvraag wacht niet meer op toewijzing.".to_string()
                }
                _ => "Kies een actieve specialist van deze regio.".to_string(),
            };
            assign_page(
                &state,
                &session,
                &caller,
                id,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

struct CapacityBlock {
    region: String,
    lines: Vec<(&'static str, usize, i64, i64)>,
}

#[derive(Template)]
#[template(path = "capacity.html")]
struct CapacityPage {
    frame: Frame,
    regions: Vec<CapacityBlock>,
}

/// `GET /capaciteit`: per region I coordinate, open requests against capacity per expertise.
pub async fn capacity(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let Caller::Principal(p) = &caller else {
        return Err(WebError::NotFound);
    };
    let mine = p.actor().region_codes;
    if mine.is_empty() {
        return Err(WebError::NotFound);
    }
    let names = registry::list_regions(&state, &caller).await?;
    let mut regions = Vec::new();
    for code in mine {
        let lines = work::region_capacity(&state, &caller, code.as_str())
            .await?
            .into_iter()
            .map(|l| {
                (
                    labels::domain(l.expertise),
                    l.specialists,
                    l.open,
                    l.capacity,
                )
            })
            .collect();
        let name = names
            .iter()
            .find(|r| r.code == code.as_str())
            .map(|r| r.name.clone())
            .unwrap_or_default();
        regions.push(CapacityBlock {
            region: format!("{name} ({code})"),
            lines,
        });
    }
    let t = CapacityPage {
        frame: frame(&session, &caller, "Capaciteit").await?,
        regions,
    };
    Ok(html(StatusCode::OK, &t))
}
