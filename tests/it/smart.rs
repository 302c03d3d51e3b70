//! SMART Backend Services: a partner system registered by an operator gets an access token with
//! a signed assertion (RS384 and ES384 keys, inline or at a `jwks_uri`) and reads within its
//! scopes, on `/fhir/r4` and `/api/v1` alike; every assertion that must fail does (replay, wrong
//! audience, expired, too long-lived, `alg: none`, HS256 with the public key, an unknown `kid`,
//! a deactivated client, a scope beyond the registration), and a deactivated client's token
//! ends at once.

use crate::common::*;
use crate::db_test;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

const TOKEN_URL: &str = "http://127.0.0.1:8080/oauth2/token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) struct ClientKeys {
    pub rsa: EncodingKey,
    pub rsa_jwk: Value,
    rsa_public_pem: String,
    ec: EncodingKey,
    ec_jwk: Value,
}

pub(crate) fn client_keys(rsa_kid: &str, ec_kid: &str) -> ClientKeys {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::traits::PublicKeyParts;
    let mut rng = rand::rngs::OsRng;
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let rsa_pem = rsa_key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let public = rsa_key.to_public_key();
    let rsa_public_pem = public
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let rsa_jwk = json!({"kty": "RSA", "kid": rsa_kid, "use": "sig", "alg": "RS384",
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())});
    use p384::pkcs8::EncodePrivateKey;
    let ec_key = p384::SecretKey::random(&mut rng);
    let ec_pem = ec_key.to_pkcs8_pem(p384::pkcs8::LineEnding::LF).unwrap();
    let point =
        p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&ec_key.public_key(), false);
    let ec_jwk = json!({"kty": "EC", "kid": ec_kid, "crv": "P-384", "alg": "ES384",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())});
    ClientKeys {
        rsa: EncodingKey::from_rsa_pem(rsa_pem.as_bytes()).unwrap(),
        rsa_jwk,
        rsa_public_pem,
        ec: EncodingKey::from_ec_pem(ec_pem.as_bytes()).unwrap(),
        ec_jwk,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn claims(client: &str) -> Value {
    json!({"iss": client, "sub": client, "aud": TOKEN_URL, "exp": now() + 240,
           "jti": Uuid::new_v4().to_string(), "iat": now()})
}

pub(crate) fn assertion(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    encode(&header, claims, key).unwrap()
}

/// Posts a token request; the answer's status and JSON body.
async fn token_request(
    app: &TestApp,
    pairs: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .form(pairs)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body: Value = res.json().await.unwrap();
    (status, body, headers)
}

pub(crate) async fn get_token(app: &TestApp, assertion: &str, scope: &str) -> (u16, Value) {
    let (status, body, _) = token_request(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
            ("scope", scope),
        ],
    )
    .await;
    (status, body)
}

pub(crate) async fn register(app: &TestApp, org: Uuid, keys: Value, scopes: &[&str]) -> String {
    let mut body =
        json!({"organization_id": org, "name": "Vlinder kindvolgsysteem", "scopes": scopes});
    match keys {
        Value::String(uri) => body["jwks_uri"] = json!(uri),
        set => body["jwks"] = set,
    }
    let r = app.post("/api/v1/smart-clients", &app.admin(), body).await;
    r.ok(201)["client_id"].as_str().unwrap().to_string()
}

async fn fhir_status(app: &TestApp, path: &str, token: &str) -> u16 {
    app.client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("accept", "application/fhir+json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

db_test!(
    async fn a_registered_client_gets_a_token_and_reads_within_its_scopes(app) {
        let w = app.world().await;
        let keys = client_keys("rsa-1", "ec-1");
        let jwks = json!({"keys": [keys.rsa_jwk, keys.ec_jwk]});

        // only an operator registers; bad registrations are refused whole
        let attempt = json!({"organization_id": w.org_a, "name": "x", "scopes": ["system/Patient.rs"], "jwks": jwks});
        app.post("/api/v1/smart-clients", &w.integration_a, attempt.clone()).await.problem(403);
        let before = app.count("smart_clients").await;
        for (bad, field) in [
            (json!({"organization_id": w.org_a, "name": "x", "scopes": ["system/Patient.rs"], "jwks": jwks, "jwks_uri": "https://x.example/jwks"}), "jwks"),
            (json!({"organization_id": w.org_a, "name": "x", "scopes": ["system/Patient.rs"]}), "jwks"),
            (json!({"organization_id": w.org_a, "name": "x", "scopes": ["user/Patient.rs"], "jwks": jwks}), "scopes[0]"),
            (json!({"organization_id": w.org_a, "name": "x", "scopes": [], "jwks": jwks}), "scopes"),
            (json!({"organization_id": Uuid::now_v7(), "name": "x", "scopes": ["system/Patient.rs"], "jwks": jwks}), "organization_id"),
            (json!({"organization_id": w.org_a, "name": "x", "scopes": ["system/Patient.rs"],
                    "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "a"}]}}), "jwks"),
            (json!({"organization_id": w.org_a, "name": "x", "scopes": ["system/Patient.rs"], "jwks_uri": "ftp://x.example/jwks"}), "jwks_uri"),
            (json!({"organization_id": w.org_a, "name": " ", "scopes": ["system/Patient.rs"], "jwks": jwks}), "name"),
        ] {
            let r = app.post("/api/v1/smart-clients", &app.admin(), bad.clone()).await;
            r.problem(422);
            assert!(r.error_fields().contains(&field.to_string()), "{bad}: {:?}", r.error_fields());
        }
        assert_eq!(app.count("smart_clients").await, before);

        let client = register(&app, w.org_a, jwks, &["system/Patient.read", "system/Consent.rs"]).await;
        let view = app.get(&format!("/api/v1/smart-clients/{client}"), &app.admin()).await;
        assert_eq!(view.ok(200)["scopes"], json!(["system/Consent.rs", "system/Patient.rs"]));
        // another role learns nothing of it
        app.get(&format!("/api/v1/smart-clients/{client}"), &w.integration_a).await.problem(403);
        app.get("/api/v1/smart-clients", &w.integration_b).await.problem(403);

        // discovery
        let conf: Value = app.client.get(format!("{}/.well-known/smart-configuration", app.base))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(conf["token_endpoint"], TOKEN_URL);
        assert_eq!(conf["token_endpoint_auth_signing_alg_values_supported"], json!(["RS384", "ES384", "RS512"]));
        let fhir_conf = app.client.get(format!("{}/fhir/r4/.well-known/smart-configuration", app.base))
            .send().await.unwrap();
        assert_eq!(fhir_conf.status(), 200);

        // RS384: a token for Patient only
        let (status, body, headers) = token_request(&app, &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion(Algorithm::RS384, "rsa-1", &keys.rsa, &claims(&client))),
            ("scope", "system/Patient.rs"),
        ]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 300);
        assert_eq!(body["scope"], "system/Patient.rs");
        let patient_only = body["access_token"].as_str().unwrap().to_string();

        // the access token verifies with the published keys
        let published: jsonwebtoken::jwk::JwkSet = app.client.get(format!("{}/oauth2/jwks", app.base))
            .send().await.unwrap().json().await.unwrap();
        let kid = jsonwebtoken::decode_header(&patient_only).unwrap().kid.unwrap();
        let jwk = published.find(&kid).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        v.set_audience(&["kindbrug"]);
        let decoded = jsonwebtoken::decode::<Value>(&patient_only, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap();
        assert_eq!(decoded.claims["sub"], client.as_str());
        assert!(decoded.claims["exp"].as_i64().unwrap() - now() <= 300);

        // it reads its own organisation's child on both doors; nothing else
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Patient/{}", w.child_a1), &patient_only).await, 200);
        app.get(&format!("/api/v1/children/{}", w.child_a1), &patient_only).await.ok(200);
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Patient/{}", Uuid::now_v7()), &patient_only).await, 404);
        // beyond its scope: refused on both doors, and nothing is written
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Consent?patient={}", w.child_a1), &patient_only).await, 403);
        app.get(&format!("/api/v1/children/{}/consents", w.child_a1), &patient_only).await.problem(403);
        let children = app.count("children").await;
        app.post("/api/v1/children", &patient_only, json!({"location_id": Uuid::now_v7(), "given_name": "X", "date_of_birth": "2022-01-01"})).await.problem(403);
        assert_eq!(app.count("children").await, children);
        app.get("/api/v1/stats/consents", &patient_only).await.problem(403);

        // ES384: Patient and Consent
        let (status, body) = get_token(&app,
            &assertion(Algorithm::ES384, "ec-1", &keys.ec, &claims(&client)),
            "system/Patient.rs system/Consent.read").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "system/Consent.rs system/Patient.rs");
        let both = body["access_token"].as_str().unwrap().to_string();
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Consent?patient={}", w.child_a1), &both).await, 200);

        // another organisation's client finds nothing of organisation A
        let other_keys = client_keys("rsa-b", "ec-b");
        let other = register(&app, w.org_b, json!({"keys": [other_keys.rsa_jwk]}), &["system/*.rs"]).await;
        let (status, body) = get_token(&app,
            &assertion(Algorithm::RS384, "rsa-b", &other_keys.rsa, &claims(&other)), "system/*.rs").await;
        assert_eq!(status, 200, "{body}");
        let b = body["access_token"].as_str().unwrap().to_string();
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Patient/{}", w.child_a1), &b).await, 404);
        // a search about a child not its own finds what it finds for a child that does not exist
        let search = |id: Uuid| {
            let (app, b) = (&app, &b);
            async move {
                let res = app.client.get(format!("{}/fhir/r4/Consent?patient={id}", app.base))
                    .bearer_auth(b).header("accept", "application/fhir+json").send().await.unwrap();
                let status = res.status().as_u16();
                let mut body: Value = res.json().await.unwrap();
                body.as_object_mut().unwrap().remove("id");
                body.as_object_mut().unwrap().remove("link");
                body.as_object_mut().unwrap().remove("meta");
                (status, body)
            }
        };
        let (theirs, nobody) = (search(w.child_a1).await, search(Uuid::now_v7()).await);
        assert_eq!(theirs, nobody);
        assert!(theirs.1.get("entry").is_none(), "{}", theirs.1);
        app.get(&format!("/api/v1/children/{}", w.child_a1), &b).await.problem(404);
        // a client's own key cannot speak for another client
        let (status, body) = get_token(&app,
            &assertion(Algorithm::RS384, "rsa-b", &other_keys.rsa, &claims(&client)), "system/Patient.rs").await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));

        // deactivated: no new token, and the token it holds is refused at once
        app.request(reqwest::Method::PATCH, &format!("/api/v1/smart-clients/{client}"), Some(&app.admin()),
            Some(json!({"active": false}))).await.ok(200);
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Patient/{}", w.child_a1), &both).await, 401);
        app.get(&format!("/api/v1/children/{}", w.child_a1), &both).await.problem(401);
        let (status, body) = get_token(&app,
            &assertion(Algorithm::RS384, "rsa-1", &keys.rsa, &claims(&client)), "system/Patient.rs").await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    }
);

db_test!(
    async fn every_assertion_that_must_fail_does(app) {
        let w = app.world().await;
        let keys = client_keys("rsa-1", "ec-1");
        let client = register(&app, w.org_a, json!({"keys": [keys.rsa_jwk, keys.ec_jwk]}), &["system/Patient.rs"]).await;
        let good = |c: &Value| assertion(Algorithm::RS384, "rsa-1", &keys.rsa, c);

        // a replayed jti
        let once = good(&claims(&client));
        assert_eq!(get_token(&app, &once, "system/Patient.rs").await.0, 200);
        let (status, body) = get_token(&app, &once, "system/Patient.rs").await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("jti"));

        let with = |change: Value| {
            let mut c = claims(&client);
            for (k, v) in change.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            c
        };
        let mut cases: Vec<(&str, String)> = vec![
            ("wrong aud", good(&with(json!({"aud": "http://127.0.0.1:8080/fhir/r4"})))),
            ("expired", good(&with(json!({"exp": now() - 120})))),
            ("exp too far ahead", good(&with(json!({"exp": now() + 900})))),
            ("no exp", good(&with(json!({"exp": null})))),
            ("no jti", good(&with(json!({"jti": null})))),
            ("iss is not sub", good(&with(json!({"sub": Uuid::now_v7().to_string()})))),
            ("unknown client", {
                let stranger = Uuid::now_v7().to_string();
                good(&with(json!({"iss": stranger, "sub": stranger})))
            }),
            ("unknown kid", assertion(Algorithm::RS384, "rsa-2", &keys.rsa, &claims(&client))),
            ("RS256 is not offered", assertion(Algorithm::RS256, "rsa-1", &keys.rsa, &claims(&client))),
            ("ES384 under the RSA kid", assertion(Algorithm::ES384, "rsa-1", &keys.ec, &claims(&client))),
            ("HS256 signed with the public key", assertion(
                Algorithm::HS256, "rsa-1", &EncodingKey::from_secret(keys.rsa_public_pem.as_bytes()), &claims(&client))),
        ];
        // alg: none, by hand (no library signs it)
        let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": "rsa-1"}).to_string());
        let none_body = URL_SAFE_NO_PAD.encode(claims(&client).to_string());
        cases.push(("alg none", format!("{none_header}.{none_body}.")));
        // a valid signature over other claims
        let real = good(&claims(&client));
        let parts: Vec<&str> = real.split('.').collect();
        let forged_body = URL_SAFE_NO_PAD.encode(with(json!({"exp": now() + 200})).to_string());
        cases.push(("altered claims", format!("{}.{forged_body}.{}", parts[0], parts[2])));
        for (what, a) in &cases {
            let (status, body) = get_token(&app, a, "system/Patient.rs").await;
            assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{what}: {body}");
        }

        // a scope beyond the registration, or none a backend may have
        for scope in ["system/Consent.rs", "system/Patient.cruds", "user/Patient.rs", "openid", ""] {
            let (status, body) = get_token(&app, &good(&claims(&client)), scope).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{scope:?}: {body}");
        }
        // the request itself
        let a = good(&claims(&client));
        let (status, body, _) = token_request(&app, &[("grant_type", "password"), ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a), ("scope", "system/Patient.rs")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
        let (status, body, _) = token_request(&app, &[("grant_type", "client_credentials"), ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER), ("client_assertion", &a), ("scope", "system/Patient.rs")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
        let (status, body, _) = token_request(&app, &[("grant_type", "client_credentials"), ("client_assertion", &a),
            ("scope", "system/Patient.rs")]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
        // a GET, or a body beyond the limit: an OAuth error too
        let res = app.client.get(format!("{}/oauth2/token", app.base)).send().await.unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");
        let res = app.client.post(format!("{}/oauth2/token", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("scope={}", "x".repeat(TEST_BODY_LIMIT + 10))).send().await.unwrap();
        assert_eq!(res.status(), 413);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");
        let res = app.client.post(format!("{}/oauth2/token", app.base))
            .json(&json!({"grant_type": "client_credentials"})).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");
        // none of the refused requests used up their jti: the assertion refused for its scope works
        let kept = good(&claims(&client));
        assert_eq!(get_token(&app, &kept, "system/Consent.rs").await.0, 400);
        assert_eq!(get_token(&app, &kept, "system/Patient.rs").await.0, 200);

        // the retention job forgets assertions that can no longer be accepted, and only those:
        // the replay above is still refused after it ran
        app.state.store.take_assertion(Uuid::now_v7(), "old", chrono::Utc::now() - chrono::Duration::hours(1)).await.unwrap();
        let kept = app.count("smart_assertions").await;
        kindbrug::service::retention::run(&app.state.store, &app.state.config.retention, &app.state.audit_signer,
            &kindbrug::checkpoint_export(&app.state.config)).await.unwrap();
        assert_eq!(app.count("smart_assertions").await, kept - 1);
        let (status, body) = get_token(&app, &once, "system/Patient.rs").await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");

        // a forged access token (signed by someone else) is refused on both doors
        let forged = assertion(Algorithm::HS256, "dev", &EncodingKey::from_secret(b"guess"),
            &json!({"iss": "kindbrug-smart", "sub": client, "aud": "kindbrug", "exp": now() + 200,
                    "roles": ["integration"], "org": w.org_a.to_string(), "scope": "system/*.cruds"}));
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Patient/{}", w.child_a1), &forged).await, 401);
        app.get(&format!("/api/v1/children/{}", w.child_a1), &forged).await.problem(401);
    }
);

/// A key set the test can change, counting fetches.
#[derive(Clone, Default)]
struct KeyServer {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

async fn start_key_server(keys: Vec<Value>) -> (String, KeyServer) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let server = KeyServer {
        keys: Arc::new(Mutex::new(keys)),
        fetches: Arc::default(),
    };
    let s = server.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let s = s.clone();
            async move {
                s.fetches.fetch_add(1, Ordering::SeqCst);
                (
                    [("cache-control", "public, max-age=3600")],
                    axum::Json(json!({"keys": *s.keys.lock().unwrap()})),
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, server)
}

async fn jwks_uri_case(backend: Backend) {
    let adjust = |c: &mut kindbrug::Config| c.jwks_min_refetch_seconds = 2;
    let app = match backend {
        Backend::Sqlite => TestApp::sqlite_with(adjust).await,
        Backend::Postgres => match TestApp::postgres_with(adjust).await {
            Some(app) => app,
            None => return,
        },
    };
    let w = app.world().await;
    let first = client_keys("k1", "e1");
    let (url, server) = start_key_server(vec![first.ec_jwk.clone()]).await;
    let client = register(&app, w.org_a, json!(url), &["system/Patient.rs"]).await;
    let token =
        |k: &ClientKeys, kid: &str| assertion(Algorithm::ES384, kid, &k.ec, &claims(&client));

    assert_eq!(
        get_token(&app, &token(&first, "e1"), "system/Patient.rs")
            .await
            .0,
        200
    );
    assert_eq!(
        get_token(&app, &token(&first, "e1"), "system/Patient.rs")
            .await
            .0,
        200
    );
    assert_eq!(
        server.fetches.load(Ordering::SeqCst),
        1,
        "max-age=3600 keeps the set"
    );

    // the client rotates: a new kid is fetched again, within the refetch limit
    let second = client_keys("k2", "e2");
    *server.keys.lock().unwrap() = vec![second.ec_jwk.clone()];
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        get_token(&app, &token(&second, "e2"), "system/Patient.rs")
            .await
            .0,
        200
    );
    assert_eq!(server.fetches.load(Ordering::SeqCst), 2);
    // an unknown kid right after does not make it fetch again
    let (status, _) = get_token(&app, &token(&second, "e3"), "system/Patient.rs").await;
    assert_eq!(status, 401);
    assert_eq!(
        server.fetches.load(Ordering::SeqCst),
        2,
        "unknown kids are refetched at a limited rate"
    );
    // the removed key no longer works once the set was fetched again
    assert_eq!(
        get_token(&app, &token(&first, "e1"), "system/Patient.rs")
            .await
            .0,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_uri_is_cached_and_refetched_for_a_new_kid_sqlite() {
    jwks_uri_case(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_uri_is_cached_and_refetched_for_a_new_kid_postgres() {
    jwks_uri_case(Backend::Postgres).await;
}

db_test!(
    async fn a_narrow_scope_opens_its_routes_and_no_other(app) {
        let w = app.world().await;
        let keys = client_keys("rsa-1", "ec-1");
        // a key without `alg`: RS384 and RS512 both verify with it, RS256 never
        let mut open_rsa = keys.rsa_jwk.clone();
        open_rsa.as_object_mut().unwrap().remove("alg");
        open_rsa["kid"] = json!("rsa-open");
        let client = register(&app, w.org_a, json!({"keys": [open_rsa]}), &["system/Patient.rs", "system/Consent.rs"]).await;
        let (status, body) = get_token(&app, &assertion(Algorithm::RS512, "rsa-open", &keys.rsa, &claims(&client)), "system/Patient.rs").await;
        assert_eq!(status, 200, "RS512: {body}");
        let token = body["access_token"].as_str().unwrap().to_string();
        let (status, _) = get_token(&app, &assertion(Algorithm::RS256, "rsa-open", &keys.rsa, &claims(&client)), "system/Patient.rs").await;
        assert_eq!(status, 401, "RS256 is refused before any key is looked at");

        // with system/Patient.rs, exactly the child reads answer; every other route is 403,
        // whatever its path holds (the guard stands before the handler)
        let doc = app.request(reqwest::Method::GET, "/openapi.json", None, None).await.body;
        let allowed = [("GET", "/api/v1/children"), ("GET", "/api/v1/children/{id}")];
        let mut wrong = Vec::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/parent/") {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                if ops.get(method).is_none() {
                    continue;
                }
                let url = path
                    .replace("{id}", &w.child_a1.to_string())
                    .replace("{org}", &w.org_a.to_string())
                    .replace("{guardian_id}", &Uuid::now_v7().to_string())
                    .replace("{code}", "JZ22");
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let body = (method != "get" && method != "delete").then(|| json!({}));
                let r = app.request(m, &url, Some(&token), body).await;
                let expected_open = allowed.contains(&(method.to_uppercase().as_str(), path.as_str()));
                let ok = if expected_open { r.status.is_success() } else { r.status == 403 };
                if !ok {
                    wrong.push(format!("{method} {path} → {}", r.status));
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");

        // narrowing the registration narrows the token already out
        app.request(reqwest::Method::PATCH, &format!("/api/v1/smart-clients/{client}"), Some(&app.admin()),
            Some(json!({"scopes": ["system/Consent.rs"]}))).await.ok(200);
        app.get(&format!("/api/v1/children/{}", w.child_a1), &token).await.problem(403);
        assert_eq!(fhir_status(&app, &format!("/fhir/r4/Patient/{}", w.child_a1), &token).await, 403);
    }
);

db_test!(
    async fn the_rest_of_the_token_request_is_checked_too(app) {
        let w = app.world().await;
        let keys = client_keys("rsa-1", "ec-1");
        let client = register(&app, w.org_a, json!({"keys": [keys.rsa_jwk.clone()]}), &["system/Patient.rs"]).await;
        let a = || assertion(Algorithm::RS384, "rsa-1", &keys.rsa, &claims(&client));
        let base = |assertion: &str| vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_assertion_type".into(), JWT_BEARER.into()),
            ("client_assertion".into(), assertion.to_string()),
            ("scope".into(), "system/Patient.rs".into()),
        ];
        let send = |pairs: Vec<(String, String)>| {
            let app = &app;
            async move {
                let res = app.client.post(format!("{}/oauth2/token", app.base)).form(&pairs).send().await.unwrap();
                let status = res.status().as_u16();
                let pragma = res.headers().get("pragma").map(|v| v.to_str().unwrap().to_string());
                (status, res.json::<Value>().await.unwrap(), pragma)
            }
        };
        let (status, body, pragma) = send(base(&a())).await;
        assert_eq!((status, pragma.as_deref()), (200, Some("no-cache")), "{body}");
        let mut other_id = base(&a());
        other_id.push(("client_id".into(), Uuid::now_v7().to_string()));
        assert_eq!(send(other_id).await.1["error"], "invalid_client");
        let mut same_id = base(&a());
        same_id.push(("client_id".into(), client.clone()));
        assert_eq!(send(same_id).await.0, 200);
        let mut wrong_type = base(&a());
        wrong_type[1].1 = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".into();
        assert_eq!(send(wrong_type).await.1["error"], "invalid_client");
        let mut twice = base(&a());
        twice.push(("scope".into(), "system/Patient.rs".into()));
        assert_eq!(send(twice).await.1["error"], "invalid_request");
        for (what, change) in [
            ("nbf ahead", json!({"nbf": now() + 600})),
            ("empty jti", json!({"jti": ""})),
            ("long jti", json!({"jti": "x".repeat(300)})),
        ] {
            let mut c = claims(&client);
            for (k, v) in change.as_object().unwrap() {
                c[k] = v.clone();
            }
            let (status, body, _) = send(base(&assertion(Algorithm::RS384, "rsa-1", &keys.rsa, &c))).await;
            assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{what}: {body}");
        }
        // an access token signed by a stranger under the gateway's own kid
        let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(&stranger, ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap();
        let published: Value = app.client.get(format!("{}/oauth2/jwks", app.base)).send().await.unwrap().json().await.unwrap();
        let kid = published["keys"][0]["kid"].as_str().unwrap();
        let forged = assertion(Algorithm::EdDSA, kid, &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
            &json!({"iss": "kindbrug-smart", "sub": client, "aud": "kindbrug", "exp": now() + 200,
                    "roles": ["integration"], "org": w.org_a.to_string(), "scope": "system/Patient.rs"}));
        app.get(&format!("/api/v1/children/{}", w.child_a1), &forged).await.problem(401);
        // a short RSA key is refused at registration
        let short = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap().to_public_key();
        use rsa::traits::PublicKeyParts;
        let jwk = json!({"kty": "RSA", "kid": "short", "n": URL_SAFE_NO_PAD.encode(short.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(short.e().to_bytes_be())});
        let r = app.post("/api/v1/smart-clients", &app.admin(),
            json!({"organization_id": w.org_a, "name": "x", "scopes": ["system/Patient.rs"], "jwks": {"keys": [jwk]}})).await;
        r.problem(422);
        assert!(r.text.contains("2048"), "{}", r.text);
    }
);
