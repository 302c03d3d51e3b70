//! The parent's pages (UI.md "The parent's page"): the invitation link is the credential. Opening
//! it records nothing (mail scanners pre-fetch links): the token moves into a short-lived session
//! and the browser goes on to a clean address. What the page shows and allows is decided by
//! `service::parent`, as for the JSON API.

use super::{
    begin, check_csrf, csrf_token, html, labels, visitor, Client, Frame, Visitor, WebError,
    PARENT_IDLE_MINUTES,
};
use crate::domain::calendar::{dutch_date, now};
use crate::domain::consent::{ConsentStatus, Decision, LinkHolder, LinkKind};
use crate::service::parent::{self, AccessLogParams, ParentDecision, ParentWithdrawal};
use crate::service::ServiceError;
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use uuid::Uuid;

const DECIDED: &str = "parent_decided";
const NOTICE: &str = "parent_notice";

/// `GET /ouder/link/{token}`: keeps the token in a new session and sends the browser on.
pub async fn open(session: Session, Path(token): Path<String>) -> Result<Response, WebError> {
    // a token we hand out is 43 characters; anything far longer is not worth a session row
    if token.len() > 64 {
        return Err(WebError::Link);
    }
    begin(&session, Visitor::Parent { token }, PARENT_IDLE_MINUTES).await?;
    Ok(Redirect::to("/ouder").into_response())
}

async fn token(session: &Session) -> Result<String, WebError> {
    match visitor(session).await? {
        Some(Visitor::Parent { token }) => Ok(token),
        _ => Err(WebError::Link),
    }
}

/// Unknown, expired, revoked, or not a link for this page: one answer.
fn link_error(e: ServiceError) -> WebError {
    match e {
        ServiceError::NotFound { .. } | ServiceError::Gone { .. } => WebError::Link,
        ServiceError::Forbidden {
            code: "link-not-for-this",
            ..
        } => WebError::Link,
        other => other.into(),
    }
}

fn frame(title: &str, csrf: String) -> Frame {
    Frame {
        title: title.into(),
        who: None,
        csrf,
        parent: true,
        nav: Vec::new(),
    }
}

#[derive(Template)]
#[template(path = "parent_decide.html")]
struct DecidePage {
    frame: Frame,
    organization: String,
    child: String,
    guardian: String,
    child_link: bool,
    mentor: Option<String>,
    others_must_decide: bool,
    explanation: String,
    recipient: String,
    covered: Vec<String>,
    period: String,
    information_version: Option<String>,
    rights: String,
    expires: String,
}

struct ConsentLine {
    id: Uuid,
    purpose: &'static str,
    state: &'static str,
    /// `ok`, `neutral` or `warning`, for the badge's colour.
    tone: &'static str,
    recorded: String,
    method: &'static str,
    until: Option<String>,
    /// Who decided: the link's holder ("u") or someone else.
    by: &'static str,
    withdrawable: bool,
}

struct AccessLine {
    when: String,
    who: String,
    organization: Option<String>,
    role: &'static str,
    action: &'static str,
    what: &'static str,
    denied: bool,
    meldcode: bool,
}

#[derive(Template)]
#[template(path = "parent_overview.html")]
struct OverviewPage {
    frame: Frame,
    child: String,
    organization: String,
    only_own: bool,
    /// The question of this link still waits for another parent (or the child).
    waiting_for_others: bool,
    notice: Option<String>,
    consents: Vec<ConsentLine>,
    /// `None` when the young person (16+) decides who may see this.
    access: Option<Vec<AccessLine>>,
    expires: String,
}

/// `GET /ouder`: the question while it is open, else the overview.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Client(client): Client,
) -> Result<Response, WebError> {
    let token = token(&session).await?;
    let page = parent::parent_page(&state, &client, token.clone())
        .await
        .map_err(link_error)?;
    let csrf = csrf_token(&session).await?;
    let expires = labels::date_time(page.expires_at);
    if let (LinkKind::Invitation, false, Some(asked)) = (page.kind, page.decided, &page.asked) {
        let period = match asked.consent_valid_until {
            Some(u) => format!(
                "Vanaf vandaag tot en met {}, tenzij u het eerder intrekt.",
                labels::date(u)
            ),
            None => "Vanaf vandaag tot de hulp klaar is, tenzij u het eerder intrekt.".into(),
        };
        let t = DecidePage {
            frame: frame("Uw toestemming", csrf),
            organization: page.organization_name.clone(),
            child: page.child_given_name.clone(),
            guardian: page.guardian_name.clone(),
            child_link: page.holder == LinkHolder::Child,
            mentor: page.mentor_name.clone(),
            others_must_decide: asked.others_must_decide,
            explanation: asked.explanation.clone(),
            recipient: asked.recipient_name.clone(),
            covered: asked.covered_organizations.clone(),
            period,
            information_version: asked.information_version.clone(),
            rights: page.rights.clone(),
            expires,
        };
        return Ok(html(StatusCode::OK, &t));
    }
    let today = dutch_date(now());
    let consents = parent::parent_consents(&state, &client, token.clone())
        .await
        .map_err(link_error)?
        .into_iter()
        .map(|c| {
            let state_label = labels::consent_state(c.decision, c.status, c.valid_until, today);
            let in_force =
                c.status == ConsentStatus::Active && c.valid_until.is_none_or(|u| u >= today);
            let mine = c.given_by.iter().any(|g| match page.holder {
                LinkHolder::Guardian => {
                    g.guardian_id.is_some() && g.guardian_id == page.holder_guardian_id
                }
                LinkHolder::Child => g.child == Some(true),
            });
            ConsentLine {
                id: c.id,
                purpose: labels::purpose(c.purpose),
                state: state_label,
                tone: labels::consent_tone(in_force, c.decision),
                recorded: labels::date_time(c.recorded_at),
                method: labels::method(c.method),
                until: c.valid_until.map(labels::date),
                by: if mine {
                    "u"
                } else {
                    "een andere ouder of verzorger"
                },
                withdrawable: mine && in_force && c.decision == Decision::Granted,
            }
        })
        .collect();
    let params = AccessLogParams {
        limit: Some(50),
        cursor: None,
    };
    let access = match parent::parent_access_log(&state, &client, token, params).await {
        Ok(p) => Some(
            p.items
                .into_iter()
                .map(|a| AccessLine {
                    when: labels::date_time(a.occurred_at),
                    who: a.who,
                    organization: a.organization,
                    role: a
                        .role
                        .parse()
                        .map(labels::role)
                        .unwrap_or("ouder of verzorger"),
                    action: labels::access_action(&a.action),
                    what: labels::resource(&a.what),
                    denied: a.outcome == "denied",
                    meldcode: a.flag.as_deref() == Some("meldcode"),
                })
                .collect(),
        ),
        Err(ServiceError::Forbidden {
            code: "young-person-decides",
            ..
        }) => None,
        Err(e) => return Err(link_error(e)),
    };
    let notice = session.remove::<String>(NOTICE).await?;
    let t = OverviewPage {
        frame: frame("Toestemming", csrf),
        child: page.child_given_name,
        organization: page.organization_name,
        only_own: page.only_own_decisions,
        waiting_for_others: page.asked.as_ref().is_some_and(|a| a.others_must_decide),
        notice,
        consents,
        access,
        expires,
    };
    Ok(html(StatusCode::OK, &t))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

/// `POST /ouder/besluit`: Ja or Nee, then the confirmation (post, redirect, get).
pub async fn decide(
    State(state): State<AppState>,
    session: Session,
    Client(client): Client,
    Form(form): Form<DecisionForm>,
) -> Result<Response, WebError> {
    let token = token(&session).await?;
    check_csrf(&session, &form.csrf).await?;
    let Ok(decision) = form.decision.parse::<Decision>() else {
        return Err(WebError::Refused(
            "Kies ja of nee en probeer het opnieuw.".into(),
        ));
    };
    parent::parent_decision(&state, &client, token, ParentDecision { decision })
        .await
        .map_err(link_error)?;
    session.insert(DECIDED, decision.as_str()).await?;
    Ok(Redirect::to("/ouder/bevestiging").into_response())
}

#[derive(Template)]
#[template(path = "parent_done.html")]
struct DonePage {
    frame: Frame,
    recorded: String,
    child: String,
}

/// `GET /ouder/bevestiging`: what was recorded.
pub async fn confirmed(
    State(state): State<AppState>,
    session: Session,
    Client(client): Client,
) -> Result<Response, WebError> {
    let token = token(&session).await?;
    let Some(decided) = session.get::<String>(DECIDED).await? else {
        return Ok(Redirect::to("/ouder").into_response());
    };
    let page = parent::parent_page(&state, &client, token)
        .await
        .map_err(link_error)?;
    let recorded = match decided.parse::<Decision>() {
        Ok(Decision::Granted) => "U heeft toestemming gegeven.",
        _ => "U heeft geen toestemming gegeven. Er verandert niets aan de opvang.",
    };
    let t = DonePage {
        frame: frame("Vastgelegd", csrf_token(&session).await?),
        recorded: recorded.into(),
        child: page.child_given_name,
    };
    Ok(html(StatusCode::OK, &t))
}

#[derive(Template)]
#[template(path = "parent_withdraw.html")]
struct WithdrawPage {
    frame: Frame,
    id: Uuid,
    purpose: &'static str,
    child: String,
}

/// `GET /ouder/intrekken/{id}`: asks once more.
pub async fn withdraw_page(
    State(state): State<AppState>,
    session: Session,
    Client(client): Client,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let token = token(&session).await?;
    let page = parent::parent_page(&state, &client, token.clone())
        .await
        .map_err(link_error)?;
    let consent = parent::parent_consents(&state, &client, token)
        .await
        .map_err(link_error)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(WebError::NotFound)?;
    let t = WithdrawPage {
        frame: frame("Toestemming intrekken", csrf_token(&session).await?),
        id,
        purpose: labels::purpose(consent.purpose),
        child: page.child_given_name,
    };
    Ok(html(StatusCode::OK, &t))
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /ouder/intrekken/{id}`: effective at once.
pub async fn withdraw(
    State(state): State<AppState>,
    session: Session,
    Client(client): Client,
    Path(id): Path<Uuid>,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, WebError> {
    let token = token(&session).await?;
    check_csrf(&session, &form.csrf).await?;
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    parent::parent_withdraw(&state, &client, (token, id), ParentWithdrawal { reason })
        .await
        .map_err(link_error)?;
    session
        .insert(NOTICE, "Uw toestemming is ingetrokken. Dit gaat meteen in.")
        .await?;
    Ok(Redirect::to("/ouder").into_response())
}
