//! Bearer tokens. Two kinds of issuer: the development issuer `kindbrug-dev` (HS256 with a
//! shared secret; refused in production) and real OpenID Connect issuers, whose keys come from
//! discovery + JWKS (RS256, ES256, EdDSA). The issuer named in the token decides which keys and
//! algorithms are acceptable, so an HS256 token can never be checked against a public key
//! (algorithm confusion) and `alg: none` never parses.

pub mod oidc;
pub mod principal;
pub mod smart;

use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Duration;

pub use principal::Principal;

/// The development issuer's name (`iss`).
pub const DEV_ISSUER: &str = "kindbrug-dev";

/// The claims the gateway reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub aud: serde_json::Value,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// SMART access tokens: the scopes granted, space-separated (`system/Patient.rs …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Why a token was refused. The message goes to the log, the client sees a generic 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("token is malformed or uses an unsupported algorithm")]
    Malformed,
    #[error("token issuer is not trusted")]
    UnknownIssuer,
    #[error("algorithm not allowed for this issuer")]
    AlgorithmNotAllowed,
    #[error("no key for this token (kid unknown)")]
    UnknownKey,
    #[error("token issued in the future (iat beyond the leeway)")]
    IssuedInFuture,
    #[error("token lives longer than the configured maximum")]
    TooLongLived,
    #[error("bearer token too large")]
    TooLarge,
    #[error("token rejected: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// The development HS256 issuer.
pub struct DevIssuer {
    secret: SecretString,
}

impl DevIssuer {
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    /// Mints a development token for `sub` with `roles`, valid `ttl`.
    pub fn mint(
        &self,
        audience: &str,
        sub: &str,
        roles: &[String],
        org: Option<&str>,
        ttl: Duration,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: DEV_ISSUER.into(),
            sub: sub.into(),
            exp: now + ttl.as_secs() as i64,
            nbf: Some(now),
            iat: Some(now),
            aud: serde_json::Value::String(audience.into()),
            roles: roles.to_vec(),
            org: org.map(String::from),
            scope: None,
        };
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.secret.expose_secret().as_bytes()),
        )
        .expect("HS256 signing cannot fail")
    }
}

/// Checks bearer tokens against the configured issuers.
pub struct Authenticator {
    dev: Option<DevIssuer>,
    /// This gateway's own SMART access tokens.
    smart: Option<std::sync::Arc<smart::TokenSigner>>,
    oidc: Vec<oidc::OidcIssuer>,
    audience: String,
    leeway: u64,
    max_lifetime: u64,
}

/// Longest bearer token looked at; a longer one is refused before any parsing (real tokens
/// are 1–2 KB; a 500 KB header must not cost a signature check).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

impl Authenticator {
    /// `max_lifetime`: the most seconds a token may still be valid for (`exp` − now), so a
    /// leaked token with `exp` in the year 2⁶² is not good forever.
    pub fn new(
        dev: Option<DevIssuer>,
        oidc: Vec<oidc::OidcIssuer>,
        audience: String,
        leeway: u64,
        max_lifetime: u64,
    ) -> Self {
        Self {
            dev,
            smart: None,
            oidc,
            audience,
            leeway,
            max_lifetime,
        }
    }

    /// Accepts the access tokens `signer` issues (SMART Backend Services).
    pub fn with_smart(mut self, signer: std::sync::Arc<smart::TokenSigner>) -> Self {
        self.smart = Some(signer);
        self
    }

    pub fn dev_issuer(&self) -> Option<&DevIssuer> {
        self.dev.as_ref()
    }

    /// Fetches every OIDC issuer's keys once (failures are logged; keys are fetched again on use).
    pub async fn warm_up(&self) {
        for issuer in &self.oidc {
            issuer.warm_up().await;
        }
    }

    fn validation(&self, alg: Algorithm, issuer: &str) -> Validation {
        let mut v = Validation::new(alg);
        v.set_issuer(&[issuer]);
        v.set_audience(&[&self.audience]);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        v.required_spec_claims = HashSet::from(["exp", "iss", "aud", "sub"].map(String::from));
        v
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.verify_signature(token).await?;
        self.check_times(&claims, chrono::Utc::now().timestamp())?;
        Ok(claims)
    }

    /// Beyond `exp`/`nbf` (checked with the signature): not issued in the future, and not
    /// valid for longer than the maximum lifetime from now.
    fn check_times(&self, claims: &Claims, now: i64) -> Result<(), AuthError> {
        let leeway = self.leeway as i64;
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(AuthError::IssuedInFuture);
        }
        if claims.exp.saturating_sub(now) > (self.max_lifetime as i64).saturating_add(leeway) {
            return Err(AuthError::TooLongLived);
        }
        Ok(())
    }

    async fn verify_signature(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        let header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        let issuer = unverified_issuer(token).ok_or(AuthError::Malformed)?;
        if issuer == DEV_ISSUER {
            let dev = self.dev.as_ref().ok_or(AuthError::UnknownIssuer)?;
            if header.alg != Algorithm::HS256 {
                return Err(AuthError::AlgorithmNotAllowed);
            }
            let key = DecodingKey::from_secret(dev.secret.expose_secret().as_bytes());
            return Ok(decode::<Claims>(
                token,
                &key,
                &self.validation(Algorithm::HS256, DEV_ISSUER),
            )?
            .claims);
        }
        if issuer == smart::SMART_ISSUER {
            let signer = self.smart.as_ref().ok_or(AuthError::UnknownIssuer)?;
            if header.alg != Algorithm::EdDSA {
                return Err(AuthError::AlgorithmNotAllowed);
            }
            let key = signer.decoding_key(header.kid.as_deref())?;
            return Ok(decode::<Claims>(
                token,
                &key,
                &self.validation(Algorithm::EdDSA, smart::SMART_ISSUER),
            )?
            .claims);
        }
        let oidc = self
            .oidc
            .iter()
            .find(|i| i.issuer() == issuer)
            .ok_or(AuthError::UnknownIssuer)?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
        ) {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        let key = oidc.key_for(header.kid.as_deref(), header.alg).await?;
        Ok(decode::<Claims>(token, &key, &self.validation(header.alg, oidc.issuer()))?.claims)
    }
}

/// The `iss` of a token before its signature is checked: only used to choose the keys.
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    serde_json::from_slice::<Iss>(&bytes).ok().map(|i| i.iss)
}
