//! Staff pages: the login, and the mentor's start page *Mijn kinderen* with a child's page. Each
//! page calls the workflow as the logged-in staff member, so what they see (and the access-log
//! entry for it) is what the JSON API would give them.

use super::{
    begin, check_csrf, csrf_token, html, labels, staff_caller, visitor, Frame, Visitor, WebError,
    STAFF_IDLE_MINUTES,
};
use crate::domain::calendar::{dutch_date, now};
use crate::domain::consent::{ConsentStatus, Purpose};
use crate::domain::types::Role;
use crate::service::children::{self, ChildListParams};
use crate::service::consent;
use crate::service::visits::{self, TimelineParams};
use crate::service::{registry, Caller};
use crate::AppState;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use tower_sessions::Session;
use uuid::Uuid;

/// The development issuer's name: a development login acts as a token of it would.
const DEV_ISSUER: &str = "kindbrug-dev";

fn principal(caller: &Caller) -> Option<&crate::auth::Principal> {
    match caller {
        Caller::Principal(p) => Some(p),
        Caller::System(_) => None,
    }
}

/// The frame of a staff page: their name and role in the header.
pub(super) async fn frame(
    session: &Session,
    caller: &Caller,
    title: &str,
) -> Result<Frame, WebError> {
    let who = principal(caller).map(|p| {
        let role = p.roles.first().copied().map(labels::role).unwrap_or("");
        match &p.staff {
            Some(s) => format!("{}, {role}", s.staff.name),
            // an operator has no staff record: their role is who they are here
            None => role.to_string(),
        }
    });
    Ok(Frame {
        title: title.into(),
        who,
        csrf: csrf_token(session).await?,
        parent: false,
        nav: principal(caller).map(menu).unwrap_or_default(),
    })
}

/// The main menu per role (UI.md "Each role's start page").
fn menu(p: &crate::auth::Principal) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if p.has(Role::Mentor) {
        out.push(("/kinderen", "Mijn kinderen"));
    }
    if p.has(Role::Specialist) {
        out.push(("/aangeboden", "Aangeboden aan mij"));
        out.push(("/mijn-aanvragen", "Mijn aanvragen"));
    }
    if p.has(Role::Coordinator) {
        out.push(("/wachtrij", "Wacht op toewijzing"));
        out.push(("/capaciteit", "Capaciteit"));
    }
    if p.has(Role::Policy) {
        out.push(("/cijfers", "Cijfers"));
    }
    if p.has(Role::Admin) {
        out.push(("/beheer", "Beheer"));
    }
    out
}

/// `GET /`: the start page of the logged-in role, else the login.
pub async fn start(State(state): State<AppState>, session: Session) -> Result<Response, WebError> {
    let caller = match staff_caller(&state, &session).await {
        Ok(c) => c,
        Err(WebError::Login) => return Ok(Redirect::to("/inloggen").into_response()),
        Err(e) => return Err(e),
    };
    if let Some((first, _)) = principal(&caller)
        .map(menu)
        .and_then(|m| m.first().copied())
    {
        return Ok(Redirect::to(first).into_response());
    }
    let t = StartPage {
        frame: frame(&session, &caller, "Start").await?,
    };
    Ok(html(StatusCode::OK, &t))
}

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    frame: Frame,
}

struct LoginChoice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    /// Development only: the staff to pick from.
    choices: Option<Vec<(String, Vec<LoginChoice>)>>,
    /// Login at the organisation's OpenID provider is configured.
    oidc: bool,
}

/// `GET /inloggen`.
pub async fn login_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, WebError> {
    if matches!(visitor(&session).await?, Some(Visitor::Staff { .. })) {
        return Ok(Redirect::to("/").into_response());
    }
    let choices = registry::development_logins(&state).await?.map(|all| {
        let mut by_org: Vec<(String, Vec<LoginChoice>)> = Vec::new();
        for l in all {
            let choice = LoginChoice {
                value: format!(
                    "{}|{}|{}",
                    l.organization_id.map(|o| o.to_string()).unwrap_or_default(),
                    l.subject,
                    l.role.as_str()
                ),
                label: format!("{} — {}", l.name, labels::role(l.role)),
            };
            match by_org.iter_mut().find(|(o, _)| *o == l.organization_name) {
                Some((_, list)) => list.push(choice),
                None => by_org.push((l.organization_name, vec![choice])),
            }
        }
        by_org
    });
    let t = LoginPage {
        frame: Frame {
            title: "Inloggen".into(),
            who: None,
            csrf: csrf_token(&session).await?,
            parent: false,
            nav: Vec::new(),
        },
        choices,
        oidc: super::oidc::configured(&state),
    };
    Ok(html(StatusCode::OK, &t))
}

#[derive(Deserialize)]
pub struct DevLoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
}

/// `POST /inloggen/ontwikkeling`: development only; acts as the development issuer's token for
/// the chosen staff member would, and is checked against their staff record the same way.
pub async fn dev_login(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<DevLoginForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf).await?;
    let Some(choices) = registry::development_logins(&state).await? else {
        return Err(WebError::NotFound);
    };
    let mut parts = form.login.splitn(3, '|');
    let (Some(org), Some(subject), Some(role)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(WebError::Refused("Kies een medewerker.".into()));
    };
    let Some(chosen) = choices.into_iter().find(|c| {
        c.organization_id.map(|o| o.to_string()).unwrap_or_default() == org
            && c.subject == subject
            && c.role.as_str() == role
    }) else {
        return Err(WebError::Refused("Kies een medewerker.".into()));
    };
    let visitor = Visitor::Staff {
        issuer: DEV_ISSUER.into(),
        subject: chosen.subject,
        roles: vec![chosen.role.as_str().into()],
        organization: chosen.organization_id.map(|o| o.to_string()),
        id_token: None,
    };
    begin(&session, visitor, STAFF_IDLE_MINUTES).await?;
    // the login must hold as a token would: an active staff record with that role
    staff_caller(&state, &session).await?;
    tracing::info!("a development login");
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /uitloggen`: ends the session here, and at the provider where it offers that.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<LogoutForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf).await?;
    let id_token = match visitor(&session).await? {
        Some(Visitor::Staff { id_token, .. }) => id_token,
        _ => None,
    };
    session.flush().await?;
    if let Some(token) = id_token {
        if let Some(url) = super::oidc::end_session_url(&state, &token).await {
            // a form may not redirect to another site under the page's form-action policy: a
            // page here sends the browser on to the provider (and says so, without script)
            let t = LoggedOutPage {
                frame: Frame {
                    title: "Uitgelogd".into(),
                    who: None,
                    csrf: String::new(),
                    parent: false,
                    nav: Vec::new(),
                },
                provider: url,
            };
            return Ok(html(StatusCode::OK, &t));
        }
    }
    Ok(Redirect::to("/inloggen").into_response())
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage {
    frame: Frame,
    /// The provider's end-session address.
    provider: String,
}

// ---------------------------------------------------------------- mentor

struct ChildLine {
    id: Uuid,
    name: String,
    reference: String,
    age: String,
}

struct GroupBlock {
    name: String,
    children: Vec<ChildLine>,
}

#[derive(Template)]
#[template(path = "children.html")]
struct ChildrenPage {
    frame: Frame,
    q: String,
    groups: Vec<GroupBlock>,
    total: usize,
}

#[derive(Deserialize)]
pub struct ChildrenQuery {
    #[serde(default)]
    q: String,
}

/// Names of the groups of the caller's locations, as far as the registry lets them read them.
async fn group_names(state: &AppState, caller: &Caller) -> HashMap<Uuid, String> {
    let mut names = HashMap::new();
    let locations = principal(caller)
        .and_then(|p| p.staff.as_ref())
        .map(|s| s.location_ids.clone())
        .unwrap_or_default();
    for l in locations {
        if let Ok(groups) = registry::list_groups(state, caller, l).await {
            names.extend(groups.into_iter().map(|g| (g.id, g.name)));
        }
    }
    names
}

/// `GET /kinderen`: the children of my locations, by group; search by name or own reference.
pub async fn children(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ChildrenQuery>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let params = ChildListParams {
        location_id: None,
        external_ref: None,
        limit: Some(200),
        cursor: None,
    };
    let list = children::list_children(&state, &caller, params).await?;
    let names = group_names(&state, &caller).await;
    let today = dutch_date(now());
    let needle = q.q.trim().to_lowercase();
    let mut groups: Vec<GroupBlock> = Vec::new();
    let mut total = 0;
    for c in list.items {
        if !needle.is_empty()
            && !c.given_name.to_lowercase().contains(&needle)
            && !c.external_ref.to_lowercase().contains(&needle)
        {
            continue;
        }
        total += 1;
        let group = c
            .group_id
            .and_then(|g| names.get(&g).cloned())
            .unwrap_or_else(|| "Zonder groep".into());
        let line = ChildLine {
            id: c.id,
            name: c.given_name,
            reference: c.external_ref,
            age: labels::age(c.date_of_birth, today),
        };
        match groups.iter_mut().find(|g| g.name == group) {
            Some(g) => g.children.push(line),
            None => groups.push(GroupBlock {
                name: group,
                children: vec![line],
            }),
        }
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let t = ChildrenPage {
        frame: frame(&session, &caller, "Mijn kinderen").await?,
        q: q.q,
        groups,
        total,
    };
    Ok(html(StatusCode::OK, &t))
}

struct GuardianLine {
    name: String,
    relationship: &'static str,
    authority: bool,
}

/// Whether consent is in force for one purpose toward the region's specialists, and if not why.
struct PurposeBadge {
    purpose: &'static str,
    state: &'static str,
    tone: &'static str,
    why: Vec<String>,
}

struct ConsentBadge {
    purpose: &'static str,
    state: &'static str,
    tone: &'static str,
    detail: String,
}

struct TimelineLine {
    when: String,
    what: String,
    /// The request the entry belongs to, for its page.
    request: Option<Uuid>,
}

#[derive(Template)]
#[template(path = "child.html")]
struct ChildPage {
    frame: Frame,
    id: Uuid,
    name: String,
    reference: String,
    age: String,
    group: String,
    mentor: Option<String>,
    guardians: Vec<GuardianLine>,
    purposes: Vec<PurposeBadge>,
    consents: Vec<ConsentBadge>,
    timeline: Vec<TimelineLine>,
}

/// A timeline entry in words: its kind, and the codes of its detail as labels.
pub(super) fn timeline_words(kind: &str, detail: &str) -> String {
    let kind_word = match kind {
        "concern" => "Zorg vastgelegd",
        "consent" => "Toestemming",
        "consent_withdrawn" => "Toestemming ingetrokken",
        "consultation" => "Aanvraag voor een specialist",
        "routing" => "Aanvraag doorgestuurd",
        "accepted" => "Aanvraag geaccepteerd",
        "visit" => "Bezoek van de specialist",
        "outcome" => "Afgerond",
        _ => "Gebeurtenis",
    };
    let words: Vec<&str> = detail
        .split([':', ','])
        .filter_map(|code| {
            code.parse()
                .ok()
                .map(labels::purpose)
                .or_else(|| code.parse().ok().map(labels::decision))
                .or_else(|| code.parse().ok().map(labels::domain))
                .or_else(|| code.parse().ok().map(labels::urgency))
                .or_else(|| code.parse().ok().map(labels::consultation_status))
        })
        .collect();
    if words.is_empty() {
        kind_word.to_string()
    } else {
        format!("{kind_word}: {}", words.join(", "))
    }
}

/// `GET /kinderen/{id}`: the child's page.
pub async fn child(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
) -> Result<Response, WebError> {
    let caller = staff_caller(&state, &session).await?;
    let child = children::get_child(&state, &caller, id).await?;
    let guardians = children::list_guardians(&state, &caller, id)
        .await?
        .into_iter()
        .map(|g| GuardianLine {
            name: g.name,
            relationship: labels::relationship(g.relationship),
            authority: g.has_parental_authority,
        })
        .collect();
    let today = dutch_date(now());
    let consents = consent::list_consents(&state, &caller, id)
        .await?
        .into_iter()
        // a withdrawal shows at once; what a newer decision replaced does not
        .filter(|c| c.status != ConsentStatus::Superseded)
        .map(|c| {
            let in_force = c.valid_until.is_none_or(|u| u >= today);
            ConsentBadge {
                purpose: labels::purpose(c.purpose),
                state: labels::consent_state(c.decision, c.status, c.valid_until, today),
                tone: labels::consent_tone(in_force, c.decision),
                detail: format!(
                    "{} op {}",
                    labels::method(c.method),
                    labels::date(c.valid_from)
                ),
            }
        })
        .collect();
    let params = TimelineParams {
        limit: Some(50),
        cursor: None,
    };
    let timeline = visits::timeline(&state, &caller, id, params)
        .await?
        .items
        .into_iter()
        .map(|e| TimelineLine {
            when: labels::date_time(e.at),
            what: timeline_words(&e.kind, &e.detail),
            request: e.consultation_id,
        })
        .collect();
    // per purpose: the consent check toward the specialists of the child's region, as the
    // workflow decides it (who still must consent, which rule is not met)
    let mut purposes = Vec::new();
    let region: Option<crate::domain::types::RegionCode> =
        registry::get_location(&state, &caller, child.location_id)
            .await
            .ok()
            .and_then(|l| l.region_code)
            .and_then(|r| r.parse().ok());
    if let Some(region) = region {
        for purpose in [
            Purpose::Consultation,
            Purpose::InformationSharing,
            Purpose::Referral,
        ] {
            let q = consent::CheckParams {
                purpose,
                organization_id: None,
                region_code: Some(region.clone()),
            };
            let check = consent::consent_check(&state, &caller, id, q).await?;
            let why =
                labels::consent_missing(&check.reasons, &check.missing, check.any_one_guardian);
            let (state_word, tone) = if check.allowed {
                ("toestemming in orde", "ok")
            } else if !check.refused_by.is_empty() {
                ("geen toestemming", "warning")
            } else {
                ("nog geen toestemming", "neutral")
            };
            purposes.push(PurposeBadge {
                purpose: labels::purpose(purpose),
                state: state_word,
                tone,
                why: if check.allowed { Vec::new() } else { why },
            });
        }
    }
    let mentor = children::mentor_name(&state, &caller, id).await?;
    let group = match child.group_id {
        Some(g) => group_names(&state, &caller)
            .await
            .remove(&g)
            .unwrap_or_default(),
        None => String::new(),
    };
    let t = ChildPage {
        frame: frame(&session, &caller, "Kind").await?,
        id,
        name: child.given_name,
        reference: child.external_ref,
        age: labels::age(child.date_of_birth, today),
        group,
        mentor,
        guardians,
        purposes,
        consents,
        timeline,
    };
    Ok(html(StatusCode::OK, &t))
}
