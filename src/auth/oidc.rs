//! An OpenID Connect issuer's signing keys: discovery (`/.well-known/openid-configuration`)
//! names the JWKS, whose keys are cached. An unknown `kid` triggers a refetch at most once a
//! minute (configurable); when the identity provider is down, cached keys keep working.

use super::AuthError;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

/// Keys older than this are refreshed in the background on use.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);

#[derive(Clone)]
struct CachedKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Default)]
struct Cache {
    keys: Vec<CachedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// One trusted issuer.
pub struct OidcIssuer {
    issuer: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    refresh: Mutex<()>,
    /// How often an unknown `kid` may cause a refetch.
    refetch_interval: Duration,
}

impl OidcIssuer {
    pub fn new(issuer: &str, http: reqwest::Client, refetch_interval: Duration) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            http,
            cache: RwLock::new(Cache::default()),
            refresh: Mutex::new(()),
            refetch_interval,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub async fn warm_up(&self) {
        if let Err(e) = self.refresh_keys().await {
            tracing::warn!(issuer = %self.issuer, error = %e, "could not fetch token signing keys; will retry on use");
        }
    }

    /// The key for a token's `kid` and `alg`.
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        let (found, stale, may_refetch) = {
            let cache = self.cache.read().await;
            let found = find(&cache.keys, kid, alg);
            let stale = cache.fetched_at.is_none_or(|t| t.elapsed() > MAX_KEY_AGE);
            let may_refetch = cache
                .last_attempt
                .is_none_or(|t| t.elapsed() >= self.refetch_interval);
            (found, stale, may_refetch)
        };
        if let Some(key) = found {
            if stale && may_refetch {
                // refresh in the background; this request uses the cached key
                if let Ok(_guard) = self.refresh.try_lock() {
                    let _ = self.refresh_keys_locked().await;
                }
            }
            return Ok(key);
        }
        if !may_refetch {
            return Err(AuthError::UnknownKey);
        }
        let _guard = self.refresh.lock().await;
        // another request may have refreshed while this one waited
        {
            let cache = self.cache.read().await;
            if let Some(key) = find(&cache.keys, kid, alg) {
                return Ok(key);
            }
            if cache
                .last_attempt
                .is_some_and(|t| t.elapsed() < self.refetch_interval)
            {
                return Err(AuthError::UnknownKey);
            }
        }
        if let Err(e) = self.refresh_keys_locked().await {
            tracing::warn!(issuer = %self.issuer, error = %e, "token signing keys could not be fetched");
        }
        let cache = self.cache.read().await;
        find(&cache.keys, kid, alg).ok_or(AuthError::UnknownKey)
    }

    async fn refresh_keys(&self) -> anyhow::Result<()> {
        let _guard = self.refresh.lock().await;
        self.refresh_keys_locked().await
    }

    /// Fetches discovery and the JWKS; on failure the cached keys stay.
    async fn refresh_keys_locked(&self) -> anyhow::Result<()> {
        self.cache.write().await.last_attempt = Some(Instant::now());
        let discovery: serde_json::Value = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if discovery
            .get("issuer")
            .and_then(|v| v.as_str())
            .map(|s| s.trim_end_matches('/'))
            != Some(&self.issuer)
        {
            anyhow::bail!("discovery document names another issuer");
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow::anyhow!("discovery document has no jwks_uri"))?;
        let set: JwkSet = self
            .http
            .get(jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
                continue;
            }
            let alg = match (&jwk.algorithm, &jwk.common.key_algorithm) {
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                    if ec.curve == EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                (AlgorithmParameters::OctetKeyPair(okp), None | Some(KeyAlgorithm::EdDSA))
                    if okp.curve == EllipticCurve::Ed25519 =>
                {
                    Algorithm::EdDSA
                }
                _ => continue, // symmetric keys and other algorithms are never accepted
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.push(CachedKey {
                    kid: jwk.common.key_id.clone(),
                    alg,
                    key,
                });
            }
        }
        let mut cache = self.cache.write().await;
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        Ok(())
    }
}

fn find(keys: &[CachedKey], kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let mut matching = keys.iter().filter(|k| k.alg == alg);
    match kid {
        Some(kid) => matching
            .find(|k| k.kid.as_deref() == Some(kid))
            .map(|k| k.key.clone()),
        // without a kid, only an unambiguous key will do
        None => {
            let first = matching.next()?;
            matching.next().is_none().then(|| first.key.clone())
        }
    }
}
