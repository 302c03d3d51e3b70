//! Door 2: the Dutch web pages for people (parents and mentors first). Server-rendered askama
//! templates on the workflow layer: a page calls the same operations as the JSON API, so
//! consent, masking and the access log hold for it without a rule of its own. Every page works
//! without JavaScript (forms post and redirect); vendored htmx only makes some parts nicer.
//!
//! Sessions live in the database (`tower-sessions`): a staff member after login, or a parent
//! link exchanged for a short-lived cookie. Every state-changing form carries the session's
//! CSRF token. Every HTML answer has a strict Content-Security-Policy and `no-store`.

mod admin;
mod chart;
mod coordinator;
mod forms;
pub mod labels;
mod mentor;
mod oidc;
mod parent;
mod policy;
mod specialist;
mod staff;

use crate::service::{Caller, ServiceError};
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Path, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// The pages' assets, embedded in the binary: `assets/` holds our own stylesheet and, under
/// `vendor/`, the files `scripts/vendor-assets.sh` copied with their licences.
#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere. `data:`
/// images are the form controls' icons inside the component CSS.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Staff sessions end after 30 minutes without use (UI.md); a parent's after 15.
const STAFF_IDLE_MINUTES: i64 = 30;
const PARENT_IDLE_MINUTES: i64 = 15;

/// Who the session belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Visitor {
    /// A staff member who logged in; the principal is established again on every request from
    /// these, so a deactivated staff record ends the session's use at once.
    Staff {
        issuer: String,
        subject: String,
        roles: Vec<String>,
        organization: Option<String>,
        /// The provider's ID token, for RP-initiated logout.
        #[serde(default)]
        id_token: Option<String>,
    },
    /// A parent link (invitation or standing): the token is the credential, held server-side.
    Parent { token: String },
}

const VISITOR: &str = "visitor";
const CSRF: &str = "csrf";

/// The name of the page session's cookie.
pub const SESSION_COOKIE: &str = "kindbrug_sessie";

/// The web pages, with their session layer and headers. Merged into the application by the
/// router assembly, inside the common layers (request id, trace, timeout, body limit).
pub fn routes(state: &AppState) -> Router<AppState> {
    let secure = state.config.public_base().starts_with("https://");
    let sessions = SessionManagerLayer::new(crate::service::web_sessions(state))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_secure(secure)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            STAFF_IDLE_MINUTES,
        )));
    let pages = Router::new()
        .route("/", get(staff::start))
        .route("/inloggen", get(staff::login_page))
        .route("/inloggen/ontwikkeling", post(staff::dev_login))
        .route("/inloggen/oidc", get(oidc::start))
        .route("/inloggen/terug", get(oidc::back))
        .route("/uitloggen", post(staff::logout))
        .route("/kinderen", get(staff::children))
        .route("/kinderen/{id}", get(staff::child))
        .route(
            "/kinderen/nieuw",
            get(mentor::new_child).post(mentor::create_child),
        )
        .route(
            "/kinderen/{id}/ouders/nieuw",
            get(mentor::new_guardian).post(mentor::create_guardian),
        )
        .route(
            "/kinderen/{id}/toestemming/nieuw",
            get(mentor::new_consent).post(mentor::create_consent),
        )
        .route(
            "/kinderen/{id}/uitnodigen",
            get(mentor::new_invitation).post(mentor::create_invitation),
        )
        .route(
            "/kinderen/{id}/zorg/nieuw",
            get(mentor::new_concern).post(mentor::create_concern),
        )
        .route(
            "/kinderen/{id}/aanvraag/nieuw",
            get(mentor::new_request).post(mentor::create_request),
        )
        .route(
            "/kinderen/{id}/meldcode/nieuw",
            get(mentor::new_meldcode).post(mentor::create_meldcode),
        )
        .route("/aanvragen/{id}", get(mentor::request))
        .route("/aanvragen/{id}/bericht", post(mentor::post_message))
        .route("/aanvragen/{id}/annuleren", post(mentor::cancel_request))
        .route("/aangeboden", get(specialist::offered))
        .route("/mijn-aanvragen", get(specialist::my_requests))
        .route("/aanvragen/{id}/accepteren", post(specialist::accept))
        .route(
            "/aanvragen/{id}/afwijzen",
            get(specialist::decline_page).post(specialist::decline),
        )
        .route(
            "/aanvragen/{id}/bezoeken/nieuw",
            get(specialist::new_visit).post(specialist::create_visit),
        )
        .route(
            "/aanvragen/{id}/bezoeken/{visit}",
            get(specialist::edit_visit).post(specialist::update_visit),
        )
        .route(
            "/aanvragen/{id}/afsluiten",
            get(specialist::close_page).post(specialist::close),
        )
        .route("/wachtrij", get(coordinator::queue))
        .route("/capaciteit", get(coordinator::capacity))
        .route("/aanvragen/{id}/toewijzen", post(coordinator::assign))
        .route("/cijfers", get(policy::index))
        .route("/cijfers/{figure}", get(policy::figure))
        .route("/cijfers/{figure}/download", get(policy::download))
        .route("/beheer", get(admin::home))
        .route(
            "/beheer/organisaties/nieuw",
            get(admin::new_org).post(admin::create_org),
        )
        .route("/beheer/organisaties/{id}", get(admin::org))
        .route(
            "/beheer/organisaties/{id}/wijzigen",
            get(admin::edit_org).post(admin::update_org),
        )
        .route(
            "/beheer/organisaties/{id}/deactiveren",
            post(admin::deactivate_org),
        )
        .route(
            "/beheer/organisaties/{id}/locaties/nieuw",
            get(admin::new_location).post(admin::create_location),
        )
        .route(
            "/beheer/organisaties/{id}/medewerkers/nieuw",
            get(admin::new_staff).post(admin::create_staff),
        )
        .route(
            "/beheer/organisaties/{id}/webhooks/nieuw",
            get(admin::new_endpoint).post(admin::create_endpoint),
        )
        .route("/beheer/locaties/{id}", get(admin::location))
        .route(
            "/beheer/locaties/{id}/wijzigen",
            get(admin::edit_location).post(admin::update_location),
        )
        .route(
            "/beheer/locaties/{id}/deactiveren",
            post(admin::deactivate_location),
        )
        .route("/beheer/locaties/{id}/groepen", post(admin::create_group))
        .route(
            "/beheer/groepen/{id}/wijzigen",
            get(admin::edit_group).post(admin::update_group),
        )
        .route(
            "/beheer/groepen/{id}/deactiveren",
            post(admin::deactivate_group),
        )
        .route(
            "/beheer/medewerkers/{id}",
            get(admin::edit_staff).post(admin::update_staff),
        )
        .route(
            "/beheer/medewerkers/{id}/deactiveren",
            post(admin::deactivate_staff),
        )
        .route("/beheer/webhooks/{id}", get(admin::endpoint))
        .route("/beheer/berichten/{id}/opnieuw", post(admin::redeliver))
        .route("/beheer/regios", get(admin::regions))
        .route("/beheer/regios/voorbeeld", post(admin::preview_regions))
        .route("/beheer/regios/toepassen", post(admin::apply_regions))
        .route("/beheer/regios/{code}", get(admin::region))
        .route("/beheer/toegang", get(admin::access))
        .route("/beheer/toegang/controle", post(admin::verify))
        .route("/ouder", get(parent::page))
        .route("/ouder/link/{token}", get(parent::open))
        .route("/ouder/besluit", post(parent::decide))
        .route("/ouder/bevestiging", get(parent::confirmed))
        .route(
            "/ouder/intrekken/{id}",
            get(parent::withdraw_page).post(parent::withdraw),
        )
        .layer(sessions);
    Router::new()
        .merge(pages)
        .route("/assets/{*path}", get(asset))
        .layer(middleware::from_fn(page_headers))
}

/// Headers on every page: the strict CSP, no framing, no sniffing, no referrer (a parent link
/// must never travel in a Referer), and `no-store` on pages (they may show child data).
async fn page_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn asset(Path(path): Path<String>) -> Response {
    let Some(file) = Assets::get(&path) else {
        return (StatusCode::NOT_FOUND, "").into_response();
    };
    let mime = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        file.data,
    )
        .into_response()
}

// ---------------------------------------------------------------- rendering

/// What every page's frame needs: the title, who is logged in, the CSRF token for forms.
pub struct Frame {
    pub title: String,
    /// The staff member's name and role, when one is logged in.
    pub who: Option<String>,
    pub csrf: String,
    /// Parent pages use the phone-first layout and no staff navigation.
    pub parent: bool,
    /// The main menu of the logged-in role: (address, label).
    pub nav: Vec<(&'static str, &'static str)>,
}

/// Renders a template as an HTML answer.
fn html(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                "<!doctype html><html lang=\"nl\"><title>Fout</title><p>Er ging iets mis.</p></html>",
            )
                .into_response()
        }
    }
}

/// Why a page is not shown, as a person reads it. The same page for "does not exist" and "not
/// yours"; the same for an unknown and an expired parent link.
#[derive(Debug)]
pub enum WebError {
    NotFound,
    /// A parent link that is unknown, expired, revoked or used up for this page.
    Link,
    /// Not logged in (or the login no longer matches an active staff record).
    Login,
    /// Too many attempts; try again later.
    Slow,
    /// The gateway is too busy for this request just now.
    Busy,
    /// The form was sent without this session's token (or the session ended).
    Csrf,
    /// The thing cannot be done now, in words for the reader.
    Refused(String),
    Internal,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    frame: Frame,
    heading: &'static str,
    message: String,
    parent: bool,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, heading, message, parent) = match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Niet gevonden",
                "Deze pagina bestaat niet of u mag hem niet zien.".to_string(),
                false,
            ),
            WebError::Link => (
                StatusCode::NOT_FOUND,
                "Deze link werkt niet (meer)",
                "De link is verlopen, ingetrokken of niet compleet. Vraag de kinderopvang of de mentor van uw kind om een nieuwe link.".to_string(),
                true,
            ),
            WebError::Login => return Redirect::to("/inloggen").into_response(),
            WebError::Slow => (
                StatusCode::TOO_MANY_REQUESTS,
                "Even wachten",
                "Er zijn te veel pogingen gedaan. Probeer het over een paar minuten opnieuw.".to_string(),
                true,
            ),
            WebError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Het is nu erg druk",
                "Het systeem is op dit moment erg druk. Probeer het over een minuut opnieuw.".to_string(),
                false,
            ),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "Formulier verlopen",
                "Het formulier is verlopen. Ga terug, laad de pagina opnieuw en probeer het nog eens.".to_string(),
                false,
            ),
            WebError::Refused(m) => (StatusCode::CONFLICT, "Dat kan nu niet", m, false),
            WebError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Er ging iets mis",
                "Er ging bij ons iets mis. Probeer het later opnieuw.".to_string(),
                false,
            ),
        };
        let page = ErrorPage {
            frame: Frame {
                title: heading.to_string(),
                who: None,
                csrf: String::new(),
                parent,
                nav: Vec::new(),
            },
            heading,
            message,
            parent,
        };
        html(status, &page)
    }
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound { .. } => WebError::NotFound,
            ServiceError::Gone { .. } => WebError::Link,
            ServiceError::TooManyRequests { .. } => WebError::Slow,
            ServiceError::Forbidden { .. } => WebError::NotFound,
            ServiceError::Internal(cause) => {
                tracing::error!(cause = %cause, "a page's operation failed");
                WebError::Internal
            }
            ServiceError::Unavailable { .. } => WebError::Internal,
            other => WebError::Refused(explain(&other)),
        }
    }
}

/// A refusal in words for a person (never the code).
fn explain(e: &ServiceError) -> String {
    match e.code() {
        "link-used" => "U heeft al gekozen. Uw eerdere keuze blijft staan.".into(),
        "illegal-transition" => "Dat kan niet meer in deze stap.".into(),
        _ => "Dit kan nu niet. Neem contact op met de kinderopvang als u vragen heeft.".into(),
    }
}

impl From<tower_sessions::session::Error> for WebError {
    fn from(e: tower_sessions::session::Error) -> Self {
        tracing::error!(error = %e, "session store");
        WebError::Internal
    }
}

// ---------------------------------------------------------------- sessions and CSRF

/// This session's CSRF token, made on first use.
async fn csrf_token(session: &Session) -> Result<String, WebError> {
    if let Some(t) = session.get::<String>(CSRF).await? {
        return Ok(t);
    }
    let t = crate::crypto::random_token();
    session.insert(CSRF, &t).await?;
    Ok(t)
}

/// Refuses a form that does not carry this session's token.
async fn check_csrf(session: &Session, sent: &str) -> Result<(), WebError> {
    use subtle::ConstantTimeEq;
    match session.get::<String>(CSRF).await? {
        Some(t) if !sent.is_empty() && bool::from(t.as_bytes().ct_eq(sent.as_bytes())) => Ok(()),
        _ => Err(WebError::Csrf),
    }
}

/// Starts a fresh session for `visitor`: the id is cycled (no fixation), a new CSRF token made.
async fn begin(session: &Session, visitor: Visitor, idle_minutes: i64) -> Result<(), WebError> {
    session.cycle_id().await?;
    session.clear().await;
    session.set_expiry(Some(Expiry::OnInactivity(time::Duration::minutes(
        idle_minutes,
    ))));
    session.insert(VISITOR, visitor).await?;
    session.insert(CSRF, crate::crypto::random_token()).await?;
    Ok(())
}

const FLASH: &str = "flash";

/// A message for the next page this session shows (after a post-redirect-get).
async fn flash(session: &Session, message: String) -> Result<(), WebError> {
    session.insert(FLASH, message).await?;
    Ok(())
}

/// After a form: a message for the next page, and the way there (post-redirect-get).
async fn flash_and_go(session: &Session, message: String, to: &str) -> Result<Response, WebError> {
    flash(session, message).await?;
    Ok(Redirect::to(to).into_response())
}

/// The message a previous form left, once.
async fn take_flash(session: &Session) -> Result<Option<String>, WebError> {
    Ok(session.remove::<String>(FLASH).await?)
}

async fn visitor(session: &Session) -> Result<Option<Visitor>, WebError> {
    Ok(session.get::<Visitor>(VISITOR).await?)
}

/// The client's address as the listener saw it (for the limit on guessed parent links).
pub struct Client(pub crate::service::parent::ClientAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client(crate::gate::client_addr(&parts.extensions)))
    }
}

/// The staff member of this session as a caller of the workflow, or a redirect to the login.
async fn staff_caller(state: &AppState, session: &Session) -> Result<Caller, WebError> {
    let Some(Visitor::Staff {
        issuer,
        subject,
        roles,
        organization,
        ..
    }) = visitor(session).await?
    else {
        return Err(WebError::Login);
    };
    let claims = crate::auth::Claims {
        iss: issuer,
        sub: subject,
        exp: 0,
        nbf: None,
        iat: None,
        aud: serde_json::Value::Null,
        roles,
        org: organization,
        scope: None,
    };
    match crate::auth::principal::principal_of(state, claims).await {
        Some(p) => Ok(Caller::Principal(p)),
        None => {
            session.flush().await?;
            Err(WebError::Login)
        }
    }
}
