//! Tokens: the development issuer, a real OIDC issuer (discovery + JWKS served by a local test
//! server with keys generated here), and every way a token can be wrong.

use crate::common::*;
use crate::db_test;
use axum::routing::get;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(iss: &str, sub: &str, roles: &[&str], aud: &str, exp: i64) -> Value {
    json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp, "iat": now(), "nbf": now() - 5, "roles": roles})
}

fn hs256(secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

db_test!(
    async fn bad_tokens_get_401(app) {
        let path = "/api/v1/regions";
        let good = hs256(DEV_SECRET, &claims("kindbrug-dev", "admin", &["admin"], "kindbrug", now() + 300));
        app.get(path, &good).await.ok(200);

        let expired = hs256(DEV_SECRET, &claims("kindbrug-dev", "admin", &["admin"], "kindbrug", now() - 120));
        let wrong_aud = hs256(DEV_SECRET, &claims("kindbrug-dev", "admin", &["admin"], "someone-else", now() + 300));
        let forged = hs256("another-secret-another-secret-another-secret", &claims("kindbrug-dev", "admin", &["admin"], "kindbrug", now() + 300));
        let mut not_yet = claims("kindbrug-dev", "admin", &["admin"], "kindbrug", now() + 600);
        not_yet["nbf"] = json!(now() + 300);
        let not_yet = hs256(DEV_SECRET, &not_yet);
        let unknown_issuer = hs256(DEV_SECRET, &claims("https://evil.example", "admin", &["admin"], "kindbrug", now() + 300));
        let payload = URL_SAFE_NO_PAD.encode(claims("kindbrug-dev", "admin", &["admin"], "kindbrug", now() + 300).to_string());
        let alg_none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#));
        let no_exp = {
            let mut c = claims("kindbrug-dev", "admin", &["admin"], "kindbrug", 0);
            c.as_object_mut().unwrap().remove("exp");
            hs256(DEV_SECRET, &c)
        };
        let tampered = {
            let mut parts: Vec<String> = good.split('.').map(String::from).collect();
            parts[1] = URL_SAFE_NO_PAD.encode(claims("kindbrug-dev", "root", &["admin"], "kindbrug", now() + 300).to_string());
            parts.join(".")
        };
        for (what, token) in [
            ("expired", expired),
            ("wrong audience", wrong_aud),
            ("forged signature", forged),
            ("not yet valid", not_yet),
            ("unknown issuer", unknown_issuer),
            ("alg none", alg_none),
            ("no exp", no_exp),
            ("tampered payload", tampered),
            ("garbage", "not.a.token".to_string()),
        ] {
            let r = app.get(path, &token).await;
            assert_eq!(r.problem(401), "unauthorized", "{what}");
            assert!(r.headers.get("www-authenticate").is_some(), "{what}");
        }
        let r = app.request(reqwest::Method::GET, path, None, None).await;
        r.problem(401);
    }
);

db_test!(
    async fn staff_roles_need_a_matching_staff_record(app) {
        let w = app.world().await;
        let path = format!("/api/v1/children/{}", w.child_a1);
        app.get(&path, &w.mentor_a1_token).await.ok(200);
        // no staff record for this subject
        app.get(&path, &app.token("nobody", &["mentor"], Some(w.org_a))).await.problem(403);
        // the record is a specialist's, the token claims mentor
        app.get(&path, &app.token("spec-1", &["mentor"], Some(w.youth))).await.problem(403);
        // a real mentor's subject under another organisation id
        app.get(&path, &app.token("mentor-a1", &["mentor"], Some(w.org_b))).await.problem(403);
        // no org claim, or one that is not an id
        app.get(&path, &app.token("mentor-a1", &["mentor"], None)).await.problem(403);
        let bad_org = hs256(DEV_SECRET, &{
            let mut c = claims("kindbrug-dev", "mentor-a1", &["mentor"], "kindbrug", now() + 300);
            c["org"] = json!("org-a");
            c
        });
        app.get(&path, &bad_org).await.problem(401);
        // roles the gateway does not know give nothing
        app.get(&path, &app.token("mentor-a1", &["superuser"], Some(w.org_a))).await.problem(403);
    }
);

/// Keys of every supported kind, and their public JWKs.
struct TestKeys {
    rsa: (EncodingKey, Value),
    ec: (EncodingKey, Value),
    ed: (EncodingKey, Value),
    rsa_public_pem: String,
}

fn generate_keys() -> TestKeys {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::traits::PublicKeyParts;
    let mut rng = rand::rngs::OsRng;
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let rsa_pem = rsa_key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let rsa_pub = rsa_key.to_public_key();
    let rsa_public_pem = rsa_pub
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let rsa_jwk = json!({"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(rsa_pub.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(rsa_pub.e().to_bytes_be())});

    use p256::pkcs8::EncodePrivateKey;
    let ec_key = p256::SecretKey::random(&mut rng);
    let ec_pem = ec_key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let point =
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&ec_key.public_key(), false);
    let ec_jwk = json!({"kty": "EC", "kid": "ec-1", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())});

    let ed_key = ed25519_dalek::SigningKey::generate(&mut rng);
    let ed_pem = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(
        &ed_key,
        ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF,
    )
    .unwrap();
    let ed_jwk = json!({"kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(ed_key.verifying_key().as_bytes())});

    TestKeys {
        rsa: (
            EncodingKey::from_rsa_pem(rsa_pem.as_bytes()).unwrap(),
            rsa_jwk,
        ),
        ec: (EncodingKey::from_ec_pem(ec_pem.as_bytes()).unwrap(), ec_jwk),
        ed: (EncodingKey::from_ed_pem(ed_pem.as_bytes()).unwrap(), ed_jwk),
        rsa_public_pem,
    }
}

/// A tiny identity provider: discovery and a JWKS whose keys the test can change, that can
/// be taken down, and that counts JWKS fetches.
#[derive(Clone)]
struct Idp {
    issuer: String,
    keys: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
    jwks_fetches: Arc<AtomicUsize>,
}

async fn start_idp(keys: Vec<Value>) -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let idp = Idp {
        issuer: issuer.clone(),
        keys: Arc::new(Mutex::new(keys)),
        down: Arc::default(),
        jwks_fetches: Arc::default(),
    };
    let (a, b) = (idp.clone(), idp.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let idp = a.clone();
                async move {
                    if idp.down.load(Ordering::SeqCst) {
                        return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                    }
                    Ok(axum::Json(
                        json!({"issuer": idp.issuer, "jwks_uri": format!("{}/jwks", idp.issuer)}),
                    ))
                }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let idp = b.clone();
                async move {
                    if idp.down.load(Ordering::SeqCst) {
                        return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                    }
                    idp.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    Ok(axum::Json(json!({"keys": *idp.keys.lock().unwrap()})))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}

fn signed(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid.to_string());
    encode(&h, claims, key).unwrap()
}

const REFETCH_SECONDS: u64 = 2;

async fn oidc_app(backend: Backend, issuer: &str) -> Option<TestApp> {
    let issuer = issuer.to_string();
    let adjust = |c: &mut kindbrug::Config| {
        c.oidc_issuers = vec![issuer];
        c.jwks_min_refetch_seconds = REFETCH_SECONDS;
    };
    match backend {
        Backend::Sqlite => Some(TestApp::sqlite_with(adjust).await),
        Backend::Postgres => TestApp::postgres_with(adjust).await,
    }
}

async fn oidc_issuer_keys_and_rotation(backend: Backend) {
    let keys = generate_keys();
    let idp = start_idp(vec![keys.rsa.1.clone(), keys.ec.1.clone()]).await;
    let Some(app) = oidc_app(backend, &idp.issuer).await else {
        return;
    };
    let path = "/api/v1/regions";
    let c = claims(&idp.issuer, "ops", &["admin"], "kindbrug", now() + 300);

    // RS256 and ES256 from the JWKS fetched at start
    app.get(path, &signed(Algorithm::RS256, "rsa-1", &keys.rsa.0, &c))
        .await
        .ok(200);
    app.get(path, &signed(Algorithm::ES256, "ec-1", &keys.ec.0, &c))
        .await
        .ok(200);
    let fetches = idp.jwks_fetches.load(Ordering::SeqCst);

    // a key signed with the right key but a wrong kid, or with the key of another kid's algorithm
    app.get(path, &signed(Algorithm::RS256, "ec-1", &keys.rsa.0, &c))
        .await
        .problem(401);
    // algorithm confusion: HS256 with the RSA public key as the shared secret
    let confused = encode(
        &Header {
            kid: Some("rsa-1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &c,
        &EncodingKey::from_secret(keys.rsa_public_pem.as_bytes()),
    )
    .unwrap();
    app.get(path, &confused).await.problem(401);
    // a development-issuer token is not accepted as the OIDC issuer's, nor the reverse
    app.get(path, &hs256(DEV_SECRET, &c)).await.problem(401);
    let dev_claims = claims("kindbrug-dev", "ops", &["admin"], "kindbrug", now() + 300);
    app.get(
        path,
        &signed(Algorithm::RS256, "rsa-1", &keys.rsa.0, &dev_claims),
    )
    .await
    .problem(401);
    // wrong audience and expiry hold for OIDC issuers too
    app.get(
        path,
        &signed(
            Algorithm::RS256,
            "rsa-1",
            &keys.rsa.0,
            &claims(&idp.issuer, "ops", &["admin"], "other", now() + 300),
        ),
    )
    .await
    .problem(401);
    app.get(
        path,
        &signed(
            Algorithm::RS256,
            "rsa-1",
            &keys.rsa.0,
            &claims(&idp.issuer, "ops", &["admin"], "kindbrug", now() - 300),
        ),
    )
    .await
    .problem(401);

    // none of the refusals above refetched: the keys were fetched less than the interval ago
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), fetches);

    // key rotation: the IdP publishes an EdDSA key; the unknown kid triggers one refetch
    tokio::time::sleep(std::time::Duration::from_secs(REFETCH_SECONDS)).await;
    idp.keys.lock().unwrap().push(keys.ed.1.clone());
    let ed_token = signed(Algorithm::EdDSA, "ed-1", &keys.ed.0, &c);
    app.get(path, &ed_token).await.ok(200);
    let after_rotation = idp.jwks_fetches.load(Ordering::SeqCst);
    assert_eq!(after_rotation, fetches + 1, "one refetch for the new kid");

    // unknown kids do not hammer the IdP: at most one refetch per interval
    for i in 0..5 {
        app.get(
            path,
            &signed(Algorithm::RS256, &format!("unknown-{i}"), &keys.rsa.0, &c),
        )
        .await
        .problem(401);
    }
    assert_eq!(
        idp.jwks_fetches.load(Ordering::SeqCst),
        after_rotation,
        "no refetch within the minute"
    );

    // the IdP goes down: cached keys keep working
    idp.down.store(true, Ordering::SeqCst);
    app.get(path, &signed(Algorithm::RS256, "rsa-1", &keys.rsa.0, &c))
        .await
        .ok(200);
    app.get(path, &ed_token).await.ok(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_oidc_issuer_keys_and_rotation() {
    oidc_issuer_keys_and_rotation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_oidc_issuer_keys_and_rotation() {
    oidc_issuer_keys_and_rotation(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_down_at_start_is_fetched_once_it_is_back() {
    let keys = generate_keys();
    let idp = start_idp(vec![keys.ec.1.clone()]).await;
    idp.down.store(true, Ordering::SeqCst);
    let Some(app) = oidc_app(Backend::Sqlite, &idp.issuer).await else {
        return;
    };
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    r.ok(200);
    let c = claims(&idp.issuer, "ops", &["admin"], "kindbrug", now() + 300);
    let token = signed(Algorithm::ES256, "ec-1", &keys.ec.0, &c);
    app.get("/api/v1/regions", &token).await.problem(401);
    idp.down.store(false, Ordering::SeqCst);
    // within the interval nothing is refetched; after it, the key is found
    app.get("/api/v1/regions", &token).await.problem(401);
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 0);
    tokio::time::sleep(std::time::Duration::from_secs(REFETCH_SECONDS)).await;
    app.get("/api/v1/regions", &token).await.ok(200);
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
}

db_test!(
    /// Defect 10: a token issued in the future or living longer than the maximum is refused, and
    /// a huge Authorization header is refused without verifying it.
    async fn token_times_and_sizes_are_bounded(app) {
        let now = chrono::Utc::now().timestamp();
        let mint = |iat: i64, exp: i64| {
            encode(
                &Header::new(Algorithm::HS256),
                &json!({"iss": "kindbrug-dev", "sub": "admin", "aud": "kindbrug", "roles": ["admin"], "iat": iat, "exp": exp}),
                &EncodingKey::from_secret(DEV_SECRET.as_bytes()),
            )
            .unwrap()
        };
        app.get("/api/v1/regions", &mint(now, now + 600)).await.ok(200);
        app.get("/api/v1/regions", &mint(now + 3600, now + 7200)).await.problem(401);
        app.get("/api/v1/regions", &mint(now, 1i64 << 62)).await.problem(401);
        app.get("/api/v1/regions", &mint(now, now + 3 * 24 * 3600)).await.problem(401);
        let big = "a".repeat(20 * 1024);
        let started = std::time::Instant::now();
        app.get("/api/v1/regions", &big).await.problem(401);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
);
