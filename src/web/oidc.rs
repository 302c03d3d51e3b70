//! Staff login with OpenID Connect: the authorization code flow with PKCE (S256), state and
//! nonce, at the first configured issuer (the one bearer tokens come from), as a confidential
//! client. The ID token's `sub`, `org` and `roles` must match an active staff record exactly as
//! a bearer token's would (`auth::principal`). Logout ends the session here and, where the
//! provider offers it, there too (RP-initiated logout).

use super::{begin, staff_caller, Visitor, WebError, STAFF_IDLE_MINUTES};
use crate::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const PENDING: &str = "oidc_pending";

/// What the login keeps between the redirect to the provider and its answer.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
}

/// The configured login, if any: issuer, client id, secret.
fn settings(state: &AppState) -> Option<(&str, &str, &str)> {
    let c = &state.config;
    match (
        c.oidc_issuers.first(),
        &c.oidc_client_id,
        &c.oidc_client_secret,
    ) {
        (Some(i), Some(id), Some(secret)) => {
            Some((i.as_str(), id.as_str(), secret.expose_secret()))
        }
        _ => None,
    }
}

pub fn configured(state: &AppState) -> bool {
    settings(state).is_some()
}

fn http() -> Result<reqwest::Client, WebError> {
    reqwest::Client::builder()
        // the token endpoint must not redirect us elsewhere (SSRF)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|_| WebError::Internal)
}

fn callback(state: &AppState) -> String {
    format!("{}/inloggen/terug", state.config.public_base())
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> WebError {
    tracing::warn!(error = %e, "login at the provider: {what}");
    WebError::Refused("Inloggen lukt nu niet. Probeer het over een paar minuten opnieuw.".into())
}

async fn client(
    state: &AppState,
    http: &reqwest::Client,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    WebError,
> {
    let (issuer, id, secret) = settings(state).ok_or(WebError::NotFound)?;
    let issuer = IssuerUrl::new(issuer.to_string()).map_err(|e| unavailable("issuer", e))?;
    let meta = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| unavailable("discovery", e))?;
    let redirect = RedirectUrl::new(callback(state)).map_err(|e| unavailable("redirect", e))?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(id.to_string()),
        Some(ClientSecret::new(secret.to_string())),
    )
    .set_redirect_uri(redirect))
}

/// `GET /inloggen/oidc`: to the provider, with PKCE, state and nonce kept in the session.
pub async fn start(State(state): State<AppState>, session: Session) -> Result<Response, WebError> {
    let http = http()?;
    let client = client(&state, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in &state.config.oidc_scopes {
        request = request.add_scope(Scope::new(s.clone()));
    }
    let (url, csrf, nonce) = request.url();
    session
        .insert(
            PENDING,
            Pending {
                state: csrf.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
            },
        )
        .await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
pub struct Answer {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The ID token's claims that make the principal (verified by the library before we read them).
#[derive(Deserialize)]
struct StaffClaims {
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// `GET /inloggen/terug`: the provider's answer. The state must be ours, the code is exchanged
/// with the PKCE verifier, the ID token verified (signature, issuer, audience, expiry, nonce).
pub async fn back(
    State(state): State<AppState>,
    session: Session,
    Query(answer): Query<Answer>,
) -> Result<Response, WebError> {
    let Some(pending) = session.remove::<Pending>(PENDING).await? else {
        return Err(WebError::Csrf);
    };
    if let Some(e) = answer.error {
        tracing::info!(error = %e, "the provider refused the login");
        return Err(WebError::Refused(
            "Inloggen is niet gelukt. Probeer het opnieuw.".into(),
        ));
    }
    let (Some(code), Some(returned)) = (answer.code, answer.state) else {
        return Err(WebError::Csrf);
    };
    {
        use subtle::ConstantTimeEq;
        if !bool::from(returned.as_bytes().ct_eq(pending.state.as_bytes())) {
            return Err(WebError::Csrf);
        }
    }
    let http = http()?;
    let client = client(&state, &http).await?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| unavailable("token endpoint", e))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
        .request_async(&http)
        .await
        .map_err(|e| unavailable("code exchange", e))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| unavailable("answer", "no ID token"))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
        .map_err(|e| unavailable("ID token", e))?;
    let subject = claims.subject().as_str().to_string();
    let issuer = claims.issuer().as_str().to_string();
    // the signature is verified: read the gateway's own claims from the same payload
    let raw = id_token.to_string();
    let staff: StaffClaims = raw
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| unavailable("ID token", "claims"))?;
    let visitor = Visitor::Staff {
        issuer,
        subject,
        roles: staff.roles,
        organization: staff.org,
        id_token: Some(raw),
    };
    begin(&session, visitor, STAFF_IDLE_MINUTES).await?;
    if let Err(e) = staff_caller(&state, &session).await {
        tracing::info!("a login at the provider matched no active staff record");
        session.flush().await?;
        return match e {
            WebError::Login => Err(WebError::Refused(
                "U bent ingelogd bij uw organisatie, maar Kindbrug kent u (nog) niet in deze rol. Vraag de beheerder.".into(),
            )),
            other => Err(other),
        };
    }
    Ok(Redirect::to("/").into_response())
}

/// Where the provider ends its own session, if it says so in its discovery document.
pub async fn end_session_url(state: &AppState, id_token: &str) -> Option<String> {
    let (issuer, _, _) = settings(state)?;
    let doc: serde_json::Value = http()
        .ok()?
        .get(format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let end = doc.get("end_session_endpoint")?.as_str()?;
    let mut url = url::Url::parse(end).ok()?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/inloggen", state.config.public_base()),
        );
    Some(url.to_string())
}
