//! SMART Backend Services: partner systems that authenticate with a signed assertion
//! (`private_key_jwt`) and get a short access token acting as their organisation's
//! `integration` role, limited to the scopes granted.
//!
//! - An operator registers a client: its organisation, its public keys (inline JWK Set or a
//!   `jwks_uri`) and the scopes it may be granted. The client id is the record's id.
//! - [`issue_token`]: the token endpoint (RFC 6749 client credentials, RFC 7523 assertion).
//!   Refusals follow RFC 6749 §5.2: `invalid_client` (401) for anything about who is asking,
//!   `invalid_scope`, `invalid_request`, `unsupported_grant_type` (400).
//! - The access token is checked on every request like any bearer token, and besides: its
//!   client must still be registered and active (`auth::principal`).

use super::paging::{page, page_of};
use super::{Caller, Ctx, PageOf, ServiceError, ServiceResult};
use crate::auth::smart::{
    client_keys, find_key, peek_assertion, verify_assertion, AssertionError, ACCESS_TOKEN_SECONDS,
    CLIENT_ALGORITHMS, SMART_ISSUER,
};
use crate::domain::calendar::now;
use crate::domain::scopes::{grant, Scopes, RESOURCE_TYPES};
use crate::domain::types::Role;
use crate::domain::Validation;
use crate::store::{SmartClientRow, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The `client_assertion_type` of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn operator_only(caller: &Caller) -> ServiceResult<()> {
    if caller.principal()?.has(Role::Admin) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            "only an operator registers and manages SMART clients",
        ))
    }
}

/// Where the token endpoint and key set are: under the configured public address, or in
/// development under the address the request came to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoints {
    pub token_endpoint: String,
    pub jwks_uri: String,
}

pub fn endpoints(state: &Ctx, host: Option<&str>) -> Endpoints {
    let base = match (&state.config.public_base_url, host) {
        (Some(_), _) | (None, None) => state.config.public_base(),
        (None, Some(host)) => format!("http://{host}"),
    };
    Endpoints {
        token_endpoint: format!("{base}/oauth2/token"),
        jwks_uri: format!("{base}/oauth2/jwks"),
    }
}

// ---------------------------------------------------------------- registration

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The organisation the client acts for, as its `integration` role.
    pub organization_id: Uuid,
    /// Who runs it, e.g. "Vlinder kindvolgsysteem".
    pub name: String,
    /// Where its public keys are published (https in production). Give this or `jwks`.
    pub jwks_uri: Option<String>,
    /// Its public keys as a JWK Set: RSA (RS384, RS512) or EC P-384 (ES384), each with a `kid`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// The scopes it may be granted, v1 (`system/Patient.read`) or v2 (`system/Patient.rs`).
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// The OAuth `client_id`: `iss` and `sub` of its assertions.
    pub client_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub jwks_uri: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// In v2 spelling.
    pub scopes: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SmartClientRow> for ClientView {
    fn from(c: SmartClientRow) -> Self {
        Self {
            client_id: c.id,
            organization_id: c.organization_id,
            name: c.name,
            jwks_uri: c.jwks_uri,
            jwks: c.jwks.and_then(|j| serde_json::from_str(&j).ok()),
            scopes: c
                .scopes
                .split_ascii_whitespace()
                .map(String::from)
                .collect(),
            active: c.active,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn check_scopes(v: &mut Validation, scopes: &[String]) -> Option<Scopes> {
    v.check(
        !scopes.is_empty() && scopes.len() <= 40,
        "scopes",
        "name 1 to 40 scopes",
    );
    let mut ok = true;
    for (i, s) in scopes.iter().enumerate() {
        if let Err(e) = crate::domain::scopes::Scope::parse(s) {
            v.add(format!("scopes[{i}]"), e.to_string());
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Scopes::from_list(scopes.iter().map(String::as_str)).ok()
}

/// Checks the key source: exactly one of `jwks_uri` and `jwks`. Returns the stored set.
fn check_keys(
    state: &Ctx,
    v: &mut Validation,
    jwks_uri: Option<&str>,
    jwks: Option<&serde_json::Value>,
) -> (Option<String>, Option<String>) {
    match (jwks_uri, jwks) {
        (Some(uri), None) => {
            let uri = uri.trim();
            if let Err(why) = state.config.webhook_policy().check_url(uri) {
                v.add("jwks_uri", why);
            }
            v.check(uri.len() <= 2000, "jwks_uri", "at most 2000 characters");
            (Some(uri.to_string()), None)
        }
        (None, Some(set)) => {
            let text = set.to_string();
            if text.len() > 64 * 1024 {
                v.add("jwks", "at most 64 KB");
            } else if let Err(why) = client_keys(&text) {
                v.add("jwks", why);
            }
            (None, Some(text))
        }
        _ => {
            v.add("jwks", "give either jwks_uri or jwks (not both)");
            (None, None)
        }
    }
}

/// Registers a client (operators only).
#[tracing::instrument(skip_all)]
pub async fn register_client(
    state: &Ctx,
    caller: &Caller,
    body: NewClient,
) -> ServiceResult<ClientView> {
    operator_only(caller)?;
    let mut v = Validation::new();
    v.text("name", &body.name, 200);
    let scopes = check_scopes(&mut v, &body.scopes);
    let (jwks_uri, jwks) = check_keys(state, &mut v, body.jwks_uri.as_deref(), body.jwks.as_ref());
    match state.store.get_organization(body.organization_id).await? {
        Some(o) if o.active => {}
        Some(_) => v.add("organization_id", "this organisation is deactivated"),
        None => v.add("organization_id", "no such organisation"),
    }
    v.finish().map_err(ServiceError::validation)?;
    let at = now();
    let row = SmartClientRow {
        id: Uuid::now_v7(),
        organization_id: body.organization_id,
        name: body.name.trim().to_string(),
        jwks,
        jwks_uri,
        scopes: scopes.map(|s| s.canonical()).unwrap_or_default(),
        active: true,
        created_at: at,
        updated_at: at,
    };
    state.store.create_client(&row).await?;
    tracing::info!(client = %row.id, organization = %row.organization_id, "SMART client registered");
    Ok(row.into())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClientParams {
    /// Only the clients of this organisation.
    pub organization_id: Option<Uuid>,
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<uuid::Uuid>)]
    pub cursor: Option<String>,
}

/// The registered clients, by id (operators only).
pub async fn list_clients(
    state: &Ctx,
    caller: &Caller,
    q: ClientParams,
) -> ServiceResult<PageOf<ClientView>> {
    operator_only(caller)?;
    let p = page(q.limit, q.cursor.as_deref())?;
    let rows = state.store.list_clients(q.organization_id, p).await?;
    Ok(page_of(rows, p.limit, |c| c.id, ClientView::from))
}

async fn client(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<SmartClientRow> {
    operator_only(caller)?;
    state
        .store
        .get_client(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("client"))
}

pub async fn get_client(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<ClientView> {
    Ok(client(state, caller, id).await?.into())
}

/// A change to a client: what is given changes, the rest stays. Giving `jwks_uri` replaces
/// `jwks` and the other way round.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientChange {
    pub name: Option<String>,
    pub jwks_uri: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub scopes: Option<Vec<String>>,
    /// `false` ends the client's access at once: its tokens are refused on the next request.
    pub active: Option<bool>,
}

/// Changes a client (operators only).
#[tracing::instrument(skip_all)]
pub async fn update_client(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    change: ClientChange,
) -> ServiceResult<ClientView> {
    let mut row = client(state, caller, id).await?;
    let mut v = Validation::new();
    if let Some(name) = &change.name {
        v.text("name", name, 200);
    }
    let scopes = change.scopes.as_ref().map(|s| check_scopes(&mut v, s));
    let keys = (change.jwks_uri.is_some() || change.jwks.is_some()).then(|| {
        check_keys(
            state,
            &mut v,
            change.jwks_uri.as_deref(),
            change.jwks.as_ref(),
        )
    });
    v.check(
        change.name.is_some()
            || change.scopes.is_some()
            || keys.is_some()
            || change.active.is_some(),
        "body",
        "name at least one of name, jwks_uri, jwks, scopes, active",
    );
    v.finish().map_err(ServiceError::validation)?;
    if let Some(name) = change.name {
        row.name = name.trim().to_string();
    }
    if let Some(Some(scopes)) = scopes {
        row.scopes = scopes.canonical();
    }
    if let Some((uri, set)) = keys {
        row.jwks_uri = uri;
        row.jwks = set;
    }
    if let Some(active) = change.active {
        row.active = active;
    }
    row.updated_at = now();
    state.store.update_client(&row).await?;
    // fetched keys of the old registration are not used again (on this replica at once; on
    // others when their copy is next refreshed, or the URI changed)
    state.client_keys.forget(row.id);
    tracing::info!(client = %row.id, active = row.active, "SMART client changed");
    Ok(row.into())
}

// ---------------------------------------------------------------- the token endpoint

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

/// A refusal (RFC 6749 §5.2).
#[derive(Debug, Serialize)]
pub struct TokenError {
    #[serde(skip)]
    pub status: u16,
    pub error: &'static str,
    pub error_description: String,
}

impl TokenError {
    fn client(why: impl std::fmt::Display) -> Self {
        tracing::info!(reason = %why, "SMART client assertion refused");
        Self {
            status: 401,
            error: "invalid_client",
            error_description: why.to_string(),
        }
    }
    fn request(why: impl Into<String>) -> Self {
        Self {
            status: 400,
            error: "invalid_request",
            error_description: why.into(),
        }
    }
    fn scope(why: impl std::fmt::Display) -> Self {
        Self {
            status: 400,
            error: "invalid_scope",
            error_description: why.to_string(),
        }
    }
    fn unavailable() -> Self {
        Self {
            status: 503,
            error: "temporarily_unavailable",
            error_description: "the token endpoint cannot answer now; try again shortly".into(),
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "token endpoint: database");
        TokenError::unavailable()
    }
}

/// The one value of a form parameter: absent, or present once (RFC 6749 §3.2: never twice).
fn single<'a>(form: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, TokenError> {
    let mut values = form
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(TokenError::request(format!(
            "{name} is given more than once"
        )));
    }
    Ok(first)
}

/// The token endpoint: checks the assertion and grants the scopes asked for. `token_url` is
/// this endpoint's address, which the assertion's `aud` must be.
#[tracing::instrument(skip_all)]
pub async fn issue_token(
    state: &Ctx,
    form: &[(String, String)],
    token_url: &str,
) -> Result<TokenResponse, TokenError> {
    let Some(signer) = state.smart.as_ref() else {
        return Err(TokenError {
            status: 404,
            error: "invalid_request",
            error_description: "SMART Backend Services are not configured here".into(),
        });
    };
    match single(form, "grant_type")? {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(TokenError {
                status: 400,
                error: "unsupported_grant_type",
                error_description: "only client_credentials is offered".into(),
            })
        }
        None => return Err(TokenError::request("grant_type is required")),
    }
    match single(form, "client_assertion_type")? {
        Some(JWT_BEARER) => {}
        Some(_) => {
            return Err(TokenError::client(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )))
        }
        None => return Err(TokenError::request("client_assertion_type is required")),
    }
    let assertion = single(form, "client_assertion")?
        .ok_or_else(|| TokenError::request("client_assertion is required"))?;
    let requested =
        single(form, "scope")?.ok_or_else(|| TokenError::request("scope is required"))?;
    let peeked = peek_assertion(assertion).map_err(TokenError::client)?;
    if let Some(id) = single(form, "client_id")? {
        if id != peeked.client_id.to_string() {
            return Err(TokenError::client(
                "client_id differs from the assertion's iss",
            ));
        }
    }
    let client = match state.store.get_client(peeked.client_id).await? {
        Some(c) if c.active => c,
        Some(_) => return Err(TokenError::client("this client is deactivated")),
        None => return Err(TokenError::client("no client is registered with this id")),
    };
    let key = match (&client.jwks, &client.jwks_uri) {
        (Some(set), _) => client_keys(set)
            .ok()
            .and_then(|keys| find_key(&keys, &peeked.kid, peeked.alg).cloned())
            .ok_or(AssertionError::UnknownKey),
        (None, Some(uri)) => {
            state
                .client_keys
                .key(client.id, uri, &peeked.kid, peeked.alg)
                .await
        }
        (None, None) => Err(AssertionError::UnknownKey),
    }
    .map_err(TokenError::client)?;
    let at = now();
    let claims = verify_assertion(
        assertion,
        &peeked,
        &key,
        token_url,
        at.timestamp(),
        state.config.jwt_leeway_seconds,
    )
    .map_err(TokenError::client)?;
    let registered = Scopes::parse(&client.scopes).unwrap_or_default();
    let granted = grant(&registered, requested).map_err(TokenError::scope)?;
    // the jti is taken last, once everything else holds: a refused request does not use it up
    // kept until it can no longer be accepted (exp + leeway); the retention job forgets it then
    let expires = DateTime::<Utc>::from_timestamp(claims.exp, 0).unwrap_or(at)
        + chrono::Duration::seconds(state.config.jwt_leeway_seconds as i64);
    match state
        .store
        .take_assertion(
            client.id,
            claims.jti.as_deref().unwrap_or_default(),
            expires,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyExists) => {
            return Err(TokenError::client("this assertion's jti was used before"))
        }
        Err(e) => return Err(e.into()),
    }
    let scope = granted.canonical();
    let iat = at.timestamp();
    let access_token = signer.sign(&serde_json::json!({
        "iss": SMART_ISSUER,
        "sub": client.id.to_string(),
        "aud": state.config.audience,
        "iat": iat,
        "nbf": iat,
        "exp": iat + ACCESS_TOKEN_SECONDS,
        "jti": Uuid::now_v7().to_string(),
        "client_id": client.id.to_string(),
        "roles": [Role::Integration.as_str()],
        "org": client.organization_id.to_string(),
        "scope": scope,
    }));
    tracing::info!(client = %client.id, scope = %scope, "SMART access token issued");
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: ACCESS_TOKEN_SECONDS,
        scope,
    })
}

/// `/.well-known/smart-configuration` (SMART App Launch 2.x, backend services part).
pub fn smart_configuration(state: &Ctx, host: Option<&str>) -> Option<serde_json::Value> {
    state.smart.as_ref()?;
    let e = endpoints(state, host);
    let mut scopes: Vec<String> = vec!["system/*.rs".into(), "system/*.cruds".into()];
    for t in RESOURCE_TYPES {
        scopes.push(format!("system/{t}.rs"));
        scopes.push(format!("system/{t}.cruds"));
    }
    Some(serde_json::json!({
        "token_endpoint": e.token_endpoint,
        "jwks_uri": e.jwks_uri,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported":
            CLIENT_ALGORITHMS.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(),
        "scopes_supported": scopes,
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

/// The access-token keys as a JWK Set, or `None` when SMART is off.
pub fn jwks(state: &Ctx) -> Option<serde_json::Value> {
    state.smart.as_ref().map(|s| s.jwks())
}
