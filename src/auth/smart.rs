//! SMART Backend Services, the cryptographic half (the workflow is `service::smart`):
//! - [`TokenSigner`]: the gateway's own Ed25519 keys that sign access tokens, published as a
//!   JWK Set; two keys configured means rotation (the first signs, both verify).
//! - Client keys: a registered client's public keys (RS384, RS512, ES384), inline or fetched
//!   from its `jwks_uri` by [`JwksCache`], which keeps them as long as `Cache-Control` allows
//!   and refetches for an unknown `kid` at a limited rate.
//! - [`peek_assertion`] and [`verify_assertion`]: the checks of a client assertion (RFC 7523,
//!   SMART Backend Services): algorithm, `kid`, `iss` = `sub`, `aud` = the token URL, `exp` at
//!   most five minutes ahead, a `jti`. Replay is refused by the caller, with the database.

use super::{AuthError, MAX_TOKEN_BYTES};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The `iss` of access tokens this gateway signs.
pub const SMART_ISSUER: &str = "kindbrug-smart";

/// How long an access token lives (SMART: at most five minutes).
pub const ACCESS_TOKEN_SECONDS: i64 = 300;

/// How far ahead a client assertion's `exp` may be (SMART: at most five minutes).
pub const MAX_ASSERTION_SECONDS: i64 = 300;

/// The algorithms a client may sign its assertion with.
pub const CLIENT_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS384, Algorithm::ES384, Algorithm::RS512];

/// The gateway's access-token signing keys.
pub struct TokenSigner {
    /// `(kid, key)`; the first signs.
    keys: Vec<(String, SigningKey)>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(k, _)| k.as_str()).collect();
        write!(f, "TokenSigner({ids:?}, [REDACTED])")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("smart_signing_keys: each key is kid:base64(32 bytes), separated by commas, ids unique")]
pub struct SignerKeyError;

impl TokenSigner {
    /// Parses `kid:base64(32-byte Ed25519 seed),kid2:…`.
    pub fn parse(spec: &SecretString) -> Result<Self, SignerKeyError> {
        let mut keys: Vec<(String, SigningKey)> = Vec::new();
        for part in spec
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (kid, seed) = part.split_once(':').ok_or(SignerKeyError)?;
            let bytes: [u8; 32] = B64
                .decode(seed)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(SignerKeyError)?;
            if kid.is_empty()
                || !kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || keys.iter().any(|(k, _)| k == kid)
            {
                return Err(SignerKeyError);
            }
            keys.push((kid.to_string(), SigningKey::from_bytes(&bytes)));
        }
        if keys.is_empty() {
            return Err(SignerKeyError);
        }
        Ok(Self { keys })
    }

    /// A new key as `kid:base64`.
    pub fn generate(kid: &str) -> String {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        format!("{kid}:{}", B64.encode(key.to_bytes()))
    }

    /// The public keys as a JWK Set: what resource servers (and this gateway's replicas)
    /// verify access tokens with.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|(kid, key)| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": B64URL.encode(key.verifying_key().to_bytes()),
                    "kid": kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Signs `claims` (a JSON object) as a JWT with the first key.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let (kid, key) = &self.keys[0];
        let header = serde_json::json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        let signature = key.sign(input.as_bytes());
        format!("{input}.{}", B64URL.encode(signature.to_bytes()))
    }

    /// The key that verifies a token signed under `kid`.
    pub fn decoding_key(&self, kid: Option<&str>) -> Result<DecodingKey, AuthError> {
        let kid = kid.ok_or(AuthError::UnknownKey)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .ok_or(AuthError::UnknownKey)?;
        Ok(DecodingKey::from_ed_components(
            &B64URL.encode(key.verifying_key().to_bytes()),
        )?)
    }
}

/// One of a client's public keys.
#[derive(Clone)]
pub struct ClientKey {
    pub kid: String,
    /// The algorithms it may verify.
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// Reads a client's JWK Set: RSA keys (RS384, RS512) and EC P-384 keys (ES384), each with a
/// `kid`. Keys of other kinds are passed over; a private key, a key without `kid` or a set with
/// no usable key is an error (said to the admin at registration).
pub fn client_keys(jwks: &str) -> Result<Vec<ClientKey>, String> {
    let raw: serde_json::Value =
        serde_json::from_str(jwks).map_err(|_| "not a JSON Web Key Set".to_string())?;
    let items = raw
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("a JWK Set has a \"keys\" array")?;
    if items.len() > 20 {
        return Err("at most 20 keys".into());
    }
    for item in items {
        if ["d", "p", "q", "k"].iter().any(|f| item.get(f).is_some()) {
            return Err(
                "the set holds a private or symmetric key: publish only public keys".into(),
            );
        }
    }
    let set: JwkSet = serde_json::from_value(raw.clone())
        .map_err(|_| "a key in the set cannot be read".to_string())?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let algorithms = match (&jwk.algorithm, &jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None) => vec![Algorithm::RS384, Algorithm::RS512],
            (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS384)) => vec![Algorithm::RS384],
            (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS512)) => vec![Algorithm::RS512],
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES384))
                if ec.curve == EllipticCurve::P384 =>
            {
                vec![Algorithm::ES384]
            }
            _ => continue,
        };
        let kid = jwk
            .common
            .key_id
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or("every key needs a \"kid\"")?;
        if let AlgorithmParameters::RSA(rsa) = &jwk.algorithm {
            // 2048 bits at least
            let bits = B64URL.decode(&rsa.n).map(|n| n.len() * 8).unwrap_or(0);
            if bits < 2048 {
                return Err(format!("key {kid}: RSA keys need 2048 bits or more"));
            }
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| format!("key {kid} cannot be read"))?;
        keys.push(ClientKey {
            kid,
            algorithms,
            key,
        });
    }
    if keys.is_empty() {
        return Err("no usable key: RSA (RS384, RS512) or EC P-384 (ES384) signing keys".into());
    }
    Ok(keys)
}

/// The key of `keys` for `kid` and `alg`.
pub fn find_key<'k>(keys: &'k [ClientKey], kid: &str, alg: Algorithm) -> Option<&'k ClientKey> {
    keys.iter()
        .find(|k| k.kid == kid && k.algorithms.contains(&alg))
}

/// Why a client assertion was refused (the client hears `invalid_client` with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("client_assertion is not a signed JWT")]
    Malformed,
    #[error("client_assertion must be signed with RS384, ES384 or RS512")]
    Algorithm,
    #[error("client_assertion needs a kid in its header")]
    NoKid,
    #[error("iss and sub must both be the client_id")]
    Subject,
    #[error("no key of this client has that kid and algorithm")]
    UnknownKey,
    #[error("client_assertion's signature does not verify")]
    Signature,
    #[error("client_assertion's aud must be the token endpoint's URL")]
    Audience,
    #[error("client_assertion has expired")]
    Expired,
    #[error("client_assertion's exp is more than five minutes ahead")]
    TooLongLived,
    #[error("client_assertion is not valid yet")]
    NotYetValid,
    #[error("client_assertion needs a jti of at most 255 characters")]
    NoJti,
}

/// What is read from an assertion before its signature is checked: only to choose the client
/// and its key.
#[derive(Debug, Clone)]
pub struct PeekedAssertion {
    pub client_id: Uuid,
    pub kid: String,
    pub alg: Algorithm,
}

/// Reads header, `iss` and `sub` of an assertion without trusting them.
pub fn peek_assertion(token: &str) -> Result<PeekedAssertion, AssertionError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AssertionError::Malformed);
    }
    let header = decode_header(token).map_err(|_| AssertionError::Malformed)?;
    if !CLIENT_ALGORITHMS.contains(&header.alg) {
        return Err(AssertionError::Algorithm);
    }
    let kid = header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(AssertionError::NoKid)?;
    #[derive(Deserialize)]
    struct Names {
        iss: Option<String>,
        sub: Option<String>,
    }
    let payload = token.split('.').nth(1).ok_or(AssertionError::Malformed)?;
    let names: Names = B64URL
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(AssertionError::Malformed)?;
    match (names.iss, names.sub) {
        (Some(iss), Some(sub)) if iss == sub => Ok(PeekedAssertion {
            client_id: iss.parse().map_err(|_| AssertionError::Subject)?,
            kid,
            alg: header.alg,
        }),
        _ => Err(AssertionError::Subject),
    }
}

/// The checked claims of an assertion.
#[derive(Debug, Clone, Deserialize)]
pub struct AssertionClaims {
    pub jti: Option<String>,
    pub exp: i64,
}

/// Verifies an assertion against the client's key: signature, `aud` = `token_url`,
/// `iss` = `sub` = the client, `exp` in the future and at most five minutes ahead, `nbf`, `jti`.
pub fn verify_assertion(
    token: &str,
    peeked: &PeekedAssertion,
    key: &ClientKey,
    token_url: &str,
    now: i64,
    leeway: u64,
) -> Result<AssertionClaims, AssertionError> {
    let client = peeked.client_id.to_string();
    let mut v = Validation::new(peeked.alg);
    v.set_issuer(&[&client]);
    v.sub = Some(client.clone());
    v.set_audience(&[token_url]);
    v.leeway = leeway;
    v.validate_nbf = true;
    v.required_spec_claims = HashSet::from(["exp", "iss", "aud", "sub"].map(String::from));
    let claims = decode::<AssertionClaims>(token, &key.key, &v)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => AssertionError::Signature,
                K::InvalidAudience => AssertionError::Audience,
                K::ExpiredSignature => AssertionError::Expired,
                K::ImmatureSignature => AssertionError::NotYetValid,
                K::InvalidIssuer | K::InvalidSubject => AssertionError::Subject,
                _ => AssertionError::Malformed,
            }
        })?
        .claims;
    if claims.exp.saturating_sub(now) > MAX_ASSERTION_SECONDS.saturating_add(leeway as i64) {
        return Err(AssertionError::TooLongLived);
    }
    match &claims.jti {
        Some(j) if !j.is_empty() && j.len() <= 255 => Ok(claims),
        _ => Err(AssertionError::NoJti),
    }
}

/// How long a fetched JWK Set may be used, from the answer's `Cache-Control`: `max-age`
/// (at most a day), nothing for `no-store`/`no-cache`, five minutes when it says nothing.
pub fn cache_lifetime(cache_control: Option<&str>) -> Duration {
    let Some(cc) = cache_control else {
        return Duration::from_secs(300);
    };
    let mut max_age = None;
    for directive in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return Duration::ZERO;
        }
        if let Some(n) = directive.strip_prefix("max-age=") {
            max_age = n.trim_matches('"').parse::<u64>().ok();
        }
    }
    Duration::from_secs(max_age.unwrap_or(300).min(86_400))
}

/// How long past its freshness a fetched set keeps working while its URI cannot be reached.
const MAX_STALE: Duration = Duration::from_secs(86_400);

struct CachedSet {
    uri: String,
    keys: Vec<ClientKey>,
    fresh_until: Instant,
    last_attempt: Instant,
}

/// The key sets of clients registered with a `jwks_uri`, per replica.
pub struct JwksCache {
    http: reqwest::Client,
    min_refetch: Duration,
    sets: std::sync::Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<Option<CachedSet>>>>>,
}

impl JwksCache {
    /// `http` should refuse private addresses (the webhook policy); `min_refetch` limits how
    /// often an unknown `kid` makes the set be fetched again.
    pub fn new(http: reqwest::Client, min_refetch: Duration) -> Self {
        Self {
            http,
            min_refetch,
            sets: Default::default(),
        }
    }

    /// The client's key for `kid` and `alg`, fetching the set when it is not cached, no longer
    /// fresh, or lacks the `kid` (at most once per `min_refetch`). When a fetch fails, keys
    /// fetched before keep working.
    pub async fn key(
        &self,
        client: Uuid,
        uri: &str,
        kid: &str,
        alg: Algorithm,
    ) -> Result<ClientKey, AssertionError> {
        let slot = self
            .sets
            .lock()
            .expect("the cache lock is never poisoned")
            .entry(client)
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| c.uri != uri) {
            *cached = None; // the registration's URI changed
        }
        let (found, fresh, may_fetch) = match cached.as_ref() {
            Some(c) => (
                find_key(&c.keys, kid, alg).cloned(),
                Instant::now() < c.fresh_until,
                c.last_attempt.elapsed() >= self.min_refetch,
            ),
            None => (None, false, true),
        };
        if let Some(key) = &found {
            if fresh || !may_fetch {
                return Ok(key.clone());
            }
        } else if !may_fetch {
            return Err(AssertionError::UnknownKey);
        }
        match self.fetch(uri).await {
            Ok((keys, lifetime)) => {
                let now = Instant::now();
                let key = find_key(&keys, kid, alg).cloned();
                *cached = Some(CachedSet {
                    uri: uri.to_string(),
                    keys,
                    fresh_until: now + lifetime,
                    last_attempt: now,
                });
                key.ok_or(AssertionError::UnknownKey)
            }
            Err(e) => {
                tracing::warn!(client = %client, error = %e, "a client's key set could not be fetched");
                if let Some(c) = cached.as_mut() {
                    c.last_attempt = Instant::now();
                    // keys that could not be confirmed for a day are no longer trusted
                    if c.fresh_until + MAX_STALE < Instant::now() {
                        c.keys.clear();
                        return Err(AssertionError::UnknownKey);
                    }
                } else {
                    // remember the failure, so a client with a broken URI cannot make every
                    // request fetch again
                    *cached = Some(CachedSet {
                        uri: uri.to_string(),
                        keys: Vec::new(),
                        fresh_until: Instant::now(),
                        last_attempt: Instant::now(),
                    });
                }
                found.ok_or(AssertionError::UnknownKey)
            }
        }
    }

    /// Forgets a client's cached keys (its registration changed).
    pub fn forget(&self, client: Uuid) {
        self.sets
            .lock()
            .expect("the cache lock is never poisoned")
            .remove(&client);
    }

    async fn fetch(&self, uri: &str) -> anyhow::Result<(Vec<ClientKey>, Duration)> {
        let res = self.http.get(uri).send().await?.error_for_status()?;
        let lifetime = cache_lifetime(
            res.headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        const LIMIT: usize = 64 * 1024;
        anyhow::ensure!(
            res.content_length().is_none_or(|n| n <= LIMIT as u64),
            "key set larger than 64 KB"
        );
        // read at most the limit, whatever the server says or keeps sending
        let mut res = res;
        let mut bytes = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            bytes.extend_from_slice(&chunk);
            anyhow::ensure!(bytes.len() <= LIMIT, "key set larger than 64 KB");
        }
        let keys = client_keys(std::str::from_utf8(&bytes)?).map_err(|e| anyhow::anyhow!(e))?;
        Ok((keys, lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_decides_how_long_a_set_is_kept() {
        assert_eq!(cache_lifetime(None), Duration::from_secs(300));
        assert_eq!(
            cache_lifetime(Some("public, max-age=60")),
            Duration::from_secs(60)
        );
        assert_eq!(
            cache_lifetime(Some("max-age=999999999")),
            Duration::from_secs(86_400)
        );
        assert_eq!(cache_lifetime(Some("no-store")), Duration::ZERO);
        assert_eq!(cache_lifetime(Some("max-age=60, no-cache")), Duration::ZERO);
        assert_eq!(cache_lifetime(Some("private")), Duration::from_secs(300));
    }

    #[test]
    fn signer_keys_parse_and_their_tokens_verify() {
        let spec = format!(
            "{},{}",
            TokenSigner::generate("k2"),
            TokenSigner::generate("k1")
        );
        let signer = TokenSigner::parse(&SecretString::from(spec)).unwrap();
        let token = signer.sign(&serde_json::json!({"iss": SMART_ISSUER, "sub": "x", "aud": "kindbrug", "exp": 4_000_000_000i64}));
        let header = decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some("k2"));
        let key = signer.decoding_key(Some("k2")).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["kindbrug"]);
        assert!(decode::<serde_json::Value>(&token, &key, &v).is_ok());
        // the other key does not verify it
        let other = signer.decoding_key(Some("k1")).unwrap();
        assert!(decode::<serde_json::Value>(&token, &other, &v).is_err());
        assert!(signer.decoding_key(Some("k3")).is_err());
        assert_eq!(signer.jwks()["keys"].as_array().unwrap().len(), 2);
        for bad in [
            "",
            "k1",
            "k1:short",
            "k 1:AAAA",
            &format!("{0},{0}", TokenSigner::generate("a")),
        ] {
            assert!(
                TokenSigner::parse(&SecretString::from(bad.to_string())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_key_set_with_private_or_unusable_keys_is_refused() {
        assert!(client_keys("not json").is_err());
        assert!(client_keys(r#"{"keys": []}"#).is_err());
        assert!(client_keys(r#"{"keys": [{"kty":"oct","k":"c2VjcmV0","kid":"a"}]}"#).is_err());
        // P-256 is not one of the algorithms offered
        let p256 = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
        assert!(client_keys(p256).is_err());
    }

    #[test]
    fn an_assertion_names_its_algorithm_kid_and_client() {
        let enc = |v: serde_json::Value| B64URL.encode(v.to_string());
        let client = Uuid::now_v7();
        let token = |header: serde_json::Value, body: serde_json::Value| {
            format!("{}.{}.c2ln", enc(header), enc(body))
        };
        let body = serde_json::json!({"iss": client.to_string(), "sub": client.to_string()});
        assert!(peek_assertion(&token(
            serde_json::json!({"alg":"RS384","kid":"a"}),
            body.clone()
        ))
        .is_ok());
        assert_eq!(
            peek_assertion(&token(
                serde_json::json!({"alg":"none","kid":"a"}),
                body.clone()
            ))
            .unwrap_err(),
            AssertionError::Malformed
        );
        assert_eq!(
            peek_assertion(&token(
                serde_json::json!({"alg":"HS256","kid":"a"}),
                body.clone()
            ))
            .unwrap_err(),
            AssertionError::Algorithm
        );
        assert_eq!(
            peek_assertion(&token(
                serde_json::json!({"alg":"RS256","kid":"a"}),
                body.clone()
            ))
            .unwrap_err(),
            AssertionError::Algorithm
        );
        assert_eq!(
            peek_assertion(&token(serde_json::json!({"alg":"ES384"}), body.clone())).unwrap_err(),
            AssertionError::NoKid
        );
        assert_eq!(
            peek_assertion(&token(
                serde_json::json!({"alg":"ES384","kid":"a"}),
                serde_json::json!({"iss": client.to_string(), "sub": "someone-else"})
            ))
            .unwrap_err(),
            AssertionError::Subject
        );
    }
}
