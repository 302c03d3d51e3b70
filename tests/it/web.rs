//! The web pages as a browser without JavaScript uses them: a cookie, forms that post and
//! redirect. The headers, the parent's link, CSRF, and the attacker's side (another location's
//! mentor, a guessed or revoked link). The browser tests in `tests/browser/` walk the same
//! pages in Chromium with axe.

use crate::common::*;
use crate::consultations::ctx;
use crate::db_test;
use reqwest::{header, StatusCode};
use serde_json::json;

/// A browser: keeps the session cookie, follows no redirect by itself.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    cookie: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a csrf field");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookie: None,
        }
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header(header::COOKIE, c),
            None => req,
        };
        let res = req
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        if let Some(set) = res.headers().get(header::SET_COOKIE) {
            let set = set.to_str().unwrap().to_string();
            if set.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                assert!(
                    set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                    "{set}"
                );
                self.cookie = Some(set.split(';').next().unwrap().to_string());
            }
        }
        Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let req = self.client.get(url);
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    /// Logs in with the development login as `subject` (role, organisation).
    pub async fn login(&mut self, subject: &str, role: &str, org: uuid::Uuid) -> Page {
        let page = self.get("/inloggen").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = page.csrf();
        let login = format!("{org}|{subject}|{role}");
        let done = self
            .post(
                "/inloggen/ontwikkeling",
                &[("csrf", &csrf), ("login", &login)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        done
    }
}

/// An invitation for Eva to consent toward the youth-care provider; returns its URL.
async fn invitation(app: &TestApp, c: &crate::consultations::Ctx) -> String {
    let r = app
        .post(
            &format!("/api/v1/children/{}/consent-invitations", c.w.child_a1),
            &c.w.mentor_a1_token,
            json!({"guardian_id": c.eva, "purpose": "referral", "recipient": {"organization_id": c.w.youth}, "information_version": "2026-1"}),
        )
        .await;
    // the path of the link (the configured public address is not this test server's)
    path_of(r.ok(201)["url"].as_str().unwrap())
}

fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").unwrap().1;
    after_scheme[after_scheme.find('/').unwrap()..].to_string()
}

db_test!(
    async fn every_page_has_a_strict_policy_and_is_not_stored(app) {
        let mut b = Browser::new(&app);
        for path in ["/inloggen", "/ouder", "/kinderen/01a23283-0a6d-7774-816c-272c13e434a7"] {
            let page = b.get(path).await;
            let h = &page.headers;
            let csp = h.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
            assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}");
            assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store", "{path}");
            assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff", "{path}");
            assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer", "{path}");
        }
        // no inline script or style in a page, so the policy holds without exceptions
        let login = b.get("/inloggen").await;
        assert!(!login.body.contains("<script>") && !login.body.contains("style="), "inline code in the page");
        // the vendored assets are served from the binary
        let css = b.get("/assets/vendor/utrecht/component-library.css").await;
        assert_eq!(css.status, StatusCode::OK);
        assert!(css.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/css"));
        assert_eq!(b.get("/assets/vendor/htmx/htmx.min.js").await.status, StatusCode::OK);
        assert_eq!(b.get("/assets/../Cargo.toml").await.status, StatusCode::NOT_FOUND);
    }
);

db_test!(
    async fn a_parent_decides_in_the_browser_and_opening_the_link_records_nothing(app) {
        let c = ctx(&app).await;
        let url = invitation(&app, &c).await;
        let mut b = Browser::new(&app);
        // the link from the mail, opened by a browser (or a mail scanner): on to the page
        let opened = b.get(&url).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER);
        let audit_before = app.count("audit_log").await;
        let exchanged = b.get(opened.location()).await;
        assert_eq!(exchanged.status, StatusCode::SEE_OTHER);
        assert_eq!(exchanged.location(), "/ouder", "the token leaves the address bar");
        assert_eq!(app.count("audit_log").await, audit_before, "opening the link records nothing");
        // the JSON API keeps answering JSON to an API client
        let json = app.client.get(format!("{}{url}", app.base)).header(header::ACCEPT, "application/json").send().await.unwrap();
        assert_eq!(json.status(), 200);
        // the question, with two equal choices and nothing chosen
        let page = b.get("/ouder").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("vraagt uw toestemming"));
        assert!(page.body.contains("Ja, ik geef toestemming") && page.body.contains("Nee, ik geef geen toestemming"));
        assert!(!page.body.contains("checked"), "nothing pre-selected");
        // a decision without the session's CSRF token changes nothing
        let before = app.snapshot().await;
        let forged = b.post("/ouder/besluit", &[("csrf", "not-the-token"), ("decision", "granted")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let mut other = Browser::new(&app);
        let no_session = other.post("/ouder/besluit", &[("csrf", ""), ("decision", "granted")]).await;
        assert_eq!(no_session.status, StatusCode::NOT_FOUND);
        assert_eq!(app.snapshot().await, before, "refused decisions wrote nothing");
        // and a real one
        let csrf = page.csrf();
        let decided = b.post("/ouder/besluit", &[("csrf", &csrf), ("decision", "granted")]).await;
        assert_eq!(decided.status, StatusCode::SEE_OTHER);
        let done = b.get(decided.location()).await;
        assert!(done.body.contains("U heeft toestemming gegeven"), "{}", done.body);
        // the same link is now the overview: the consent, and who saw the child's data
        let overview = b.get("/ouder").await;
        assert!(overview.body.contains("toestemming gegeven"));
        assert!(overview.body.contains("Wie heeft de gegevens van"));
        assert!(overview.body.contains("Toestemming intrekken"));
        // deciding twice is refused and changes nothing
        let again = b.post("/ouder/besluit", &[("csrf", &csrf), ("decision", "refused")]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert!(again.body.contains("Uw eerdere keuze blijft staan"));
    }
);

db_test!(
    async fn a_parent_withdraws_with_one_confirmation_and_the_mentor_sees_it_at_once(app) {
        let c = ctx(&app).await;
        let url = invitation(&app, &c).await;
        let mut parent = Browser::new(&app);
        let opened = parent.get(&url).await;
        parent.get(opened.location()).await;
        let page = parent.get("/ouder").await;
        let csrf = page.csrf();
        parent.post("/ouder/besluit", &[("csrf", &csrf), ("decision", "granted")]).await;
        let overview = parent.get("/ouder").await;
        let at = overview.body.find("/ouder/intrekken/").unwrap();
        let link = overview.body[at..].split('"').next().unwrap().to_string();
        let ask = parent.get(&link).await;
        assert_eq!(ask.status, StatusCode::OK);
        assert!(ask.body.contains("Dit gaat meteen in"));
        let done = parent.post(&link, &[("csrf", &ask.csrf()), ("reason", "")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let after = parent.get("/ouder").await;
        assert!(after.body.contains("Uw toestemming is ingetrokken"));
        assert!(after.body.contains("ingetrokken"));
        // the mentor's page of the child shows it at once
        let mut mentor = Browser::new(&app);
        mentor.login("mentor-a1", "mentor", c.w.org_a).await;
        let child = mentor.get(&format!("/kinderen/{}", c.w.child_a1)).await;
        assert_eq!(child.status, StatusCode::OK);
        assert!(child.body.contains("ingetrokken"), "{}", child.body);
    }
);

db_test!(
    async fn another_locations_mentor_gets_the_same_page_as_for_a_child_that_does_not_exist(app) {
        let w = app.world().await;
        let mut own = Browser::new(&app);
        own.login("mentor-a1", "mentor", w.org_a).await;
        let list = own.get("/kinderen").await;
        assert!(list.body.contains(&format!("/kinderen/{}", w.child_a1)));
        assert_eq!(own.get(&format!("/kinderen/{}", w.child_a1)).await.status, StatusCode::OK);

        let mut other = Browser::new(&app);
        other.login("mentor-a2", "mentor", w.org_a).await;
        let theirs = other.get(&format!("/kinderen/{}", w.child_a1)).await;
        let unknown = other.get(&format!("/kinderen/{}", uuid::Uuid::now_v7())).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        assert_eq!(theirs.status, unknown.status);
        assert_eq!(theirs.body, unknown.body, "exists-but-not-yours reads as does-not-exist");
        assert!(!other.get("/kinderen").await.body.contains(&w.child_a1.to_string()));

        let mut elsewhere = Browser::new(&app);
        elsewhere.login("mentor-b1", "mentor", w.org_b).await;
        let page = elsewhere.get(&format!("/kinderen/{}", w.child_a1)).await;
        assert_eq!(page.body, unknown.body);

        // without a login: to the login page, never the child
        let mut nobody = Browser::new(&app);
        let anon = nobody.get(&format!("/kinderen/{}", w.child_a1)).await;
        assert_eq!(anon.status, StatusCode::SEE_OTHER);
        assert_eq!(anon.location(), "/inloggen");
    }
);

db_test!(
    async fn a_guessed_or_revoked_link_gets_one_friendly_page(app) {
        let c = ctx(&app).await;
        let url = invitation(&app, &c).await;
        let mut guess = Browser::new(&app);
        let fake = "A".repeat(43);
        guess.get(&format!("/ouder/link/{fake}")).await;
        let unknown = guess.get("/ouder").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(unknown.body.contains("Deze link werkt niet (meer)"));
        assert!(!unknown.body.contains("problem"), "a page, not JSON");

        let links = app
            .get(&format!("/api/v1/children/{}/parent-links", c.w.child_a1), &c.w.mentor_a1_token)
            .await;
        let id = links.ok(200)[0]["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/parent-links/{id}/revoke"), &c.w.mentor_a1_token, json!({}))
            .await
            .ok(200);
        let mut holder = Browser::new(&app);
        let opened = holder.get(&url).await;
        holder.get(opened.location()).await;
        let revoked = holder.get("/ouder").await;
        assert_eq!(revoked.status, unknown.status);
        assert_eq!(revoked.body, unknown.body, "revoked and unknown read alike");
    }
);

db_test!(
    async fn the_development_login_takes_only_active_staff_and_logout_ends_the_session(app) {
        let w = app.world().await;
        let mut b = Browser::new(&app);
        let page = b.get("/inloggen").await;
        let csrf = page.csrf();
        // a subject that is not on the list is refused, nothing logged in
        let made_up = format!("{}|nobody|mentor", w.org_a);
        let refused = b.post("/inloggen/ontwikkeling", &[("csrf", &csrf), ("login", &made_up)]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(b.get("/kinderen").await.status, StatusCode::SEE_OTHER);
        // the session id changes at login (no fixation)
        let before = b.cookie.clone();
        b.login("mentor-a1", "mentor", w.org_a).await;
        assert_ne!(b.cookie, before, "a new session id at login");
        assert_eq!(b.get("/kinderen").await.status, StatusCode::OK);
        let csrf = b.get("/kinderen").await.csrf();
        let out = b.post("/uitloggen", &[("csrf", &csrf)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(b.get("/kinderen").await.status, StatusCode::SEE_OTHER, "logged out");
    }
);

db_test!(
    async fn a_mentors_forms_refuse_bad_input_beside_the_field_and_write_nothing(app) {
        let w = app.world().await;
        let mut b = Browser::new(&app);
        b.login("mentor-a1", "mentor", w.org_a).await;
        let form = b.get("/kinderen/nieuw").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        let before = app.snapshot_of(&["children", "guardians"]).await;
        let empty = b.post("/kinderen/nieuw", &[("csrf", &csrf)]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.body.contains("Kijk het formulier na"));
        assert!(empty.body.contains("Kies een locatie.") && empty.body.contains("Vul dit in."), "{}", empty.body);
        // the operation's own rule comes back in Dutch beside its field
        let loc = w.loc_a1.to_string();
        let future = b
            .post("/kinderen/nieuw", &[("csrf", &csrf), ("given_name", "Ilse"), ("external_ref", "K-9"), ("date_of_birth", "2999-01-01"), ("location_id", &loc)])
            .await;
        assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(future.body.contains("Deze datum ligt in de toekomst."), "{}", future.body);
        assert!(future.body.contains("value=\"Ilse\""), "what was typed stays");
        // another organisation's location reads as a location where you may not register
        let theirs = b
            .post("/kinderen/nieuw", &[("csrf", &csrf), ("given_name", "Ilse"), ("external_ref", "K-9"), ("date_of_birth", "2024-01-01"), ("location_id", &w.loc_b1.to_string())])
            .await;
        assert_eq!(theirs.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(theirs.body.contains("Kies een locatie waar u werkt."));
        // without the session's token nothing happens
        let forged = b
            .post("/kinderen/nieuw", &[("csrf", "x"), ("given_name", "Ilse"), ("external_ref", "K-9"), ("date_of_birth", "2024-01-01"), ("location_id", &loc)])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(app.snapshot_of(&["children", "guardians"]).await, before, "refused forms wrote nothing");
        // and a good one
        let made = b
            .post("/kinderen/nieuw", &[("csrf", &csrf), ("given_name", "Ilse"), ("external_ref", "K-9"), ("date_of_birth", "2024-01-01"), ("location_id", &loc)])
            .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        assert!(made.location().starts_with("/kinderen/"));
    }
);

db_test!(
    async fn another_locations_mentor_cannot_use_a_childs_forms(app) {
        let c = ctx(&app).await;
        let child = c.w.child_a1;
        let mut other = Browser::new(&app);
        other.login("mentor-a2", "mentor", c.w.org_a).await;
        let csrf = other.get("/kinderen").await.csrf();
        let before = app.snapshot_of(&["concerns", "guardians", "consents", "consultations", "parent_links", "veilig_thuis_reports"]).await;
        let unknown = other.get(&format!("/kinderen/{}/zorg/nieuw", uuid::Uuid::now_v7())).await;
        for path in ["zorg/nieuw", "ouders/nieuw", "toestemming/nieuw", "uitnodigen", "aanvraag/nieuw", "meldcode/nieuw"] {
            let page = other.get(&format!("/kinderen/{child}/{path}")).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(page.body, unknown.body, "{path}");
        }
        let posts: [(&str, Vec<(&str, &str)>); 3] = [
            ("zorg/nieuw", vec![("domains", "language"), ("observation", "x"), ("observed_since", "2026-09-01")]),
            ("ouders/nieuw", vec![("name", "X"), ("relationship", "parent"), ("gezag", "ja"), ("authority_source", "declared")]),
            ("meldcode/nieuw", vec![("legal_basis", "wmo_2015_art_5_2_6"), ("reason", "x"), ("consulted", "x"), ("weighing", "x")]),
        ];
        for (path, mut fields) in posts {
            fields.push(("csrf", &csrf));
            let r = other.post(&format!("/kinderen/{child}/{path}"), &fields).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        }
        assert_eq!(app.snapshot_of(&["concerns", "guardians", "consents", "consultations", "parent_links", "veilig_thuis_reports"]).await, before);
    }
);

db_test!(
    async fn the_request_waits_for_consent_and_says_who_must_still_consent(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let g = format!("/api/v1/children/{}/guardians", w.child_a1);
        app.post(&g, t, json!({"name": "Eva", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.ok(201);
        let concern = app
            .post(&format!("/api/v1/children/{}/concerns", w.child_a1), t, json!({"domains": ["language"], "observation": "zegt weinig", "observed_since": "2026-09-01"}))
            .await
            .id();
        let mut b = Browser::new(&app);
        b.login("mentor-a1", "mentor", w.org_a).await;
        let form = b.get(&format!("/kinderen/{}/aanvraag/nieuw", w.child_a1)).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("disabled"), "the button waits");
        assert!(form.body.contains("Nog nodig: toestemming van Eva"), "{}", form.body);
        // sent anyway (no JavaScript needed to bypass a disabled button): refused, nothing made
        let csrf = form.csrf();
        let concern = concern.to_string();
        let sent = b
            .post(&format!("/kinderen/{}/aanvraag/nieuw", w.child_a1), &[("csrf", &csrf), ("concern_id", &concern), ("question", "Hoe kan zij meedoen?"), ("expertise", "language"), ("urgency", "normal")])
            .await;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", sent.body);
        assert_eq!(app.count("consultations").await, 0);
    }
);

db_test!(
    async fn expired_sessions_are_swept_by_the_retention_job(app) {
        let w = app.world().await;
        let mut stale = Browser::new(&app);
        stale.login("mentor-a1", "mentor", w.org_a).await;
        let mut fresh = Browser::new(&app);
        fresh.login("mentor-a2", "mentor", w.org_a).await;
        assert_eq!(app.count("web_sessions").await, 2);
        let past = match app.backend {
            Backend::Sqlite => "UPDATE web_sessions SET expiry_date = 1 WHERE expiry_date = (SELECT MIN(expiry_date) FROM web_sessions)",
            Backend::Postgres => "UPDATE web_sessions SET expiry_date = '2020-01-01T00:00:00Z' WHERE expiry_date = (SELECT MIN(expiry_date) FROM web_sessions)",
        };
        app.exec_sql(past).await;
        kindbrug::retention::run(&app.state.store, &app.state.config.retention, &app.state.audit_signer, &Default::default()).await.unwrap();
        assert_eq!(app.count("web_sessions").await, 1, "the expired one is gone, the live one stays");
        assert_eq!(stale.get("/kinderen").await.status, StatusCode::SEE_OTHER, "an expired session logs in nobody");
        assert_eq!(fresh.get("/kinderen").await.status, StatusCode::OK);
    }
);

db_test!(
    async fn a_child_of_twelve_gets_its_own_question_in_words_for_a_child(app) {
        let c = ctx(&app).await;
        let t = &c.w.mentor_a1_token;
        // the child turns out to be 13: corrected date of birth
        let child = app.get(&format!("/api/v1/children/{}", c.w.child_a1), t).await;
        let etag = child.headers.get("etag").unwrap().to_str().unwrap().to_string();
        let born = (chrono::Utc::now().date_naive() - chrono::Duration::days(13 * 366)).to_string();
        let r = app
            .client
            .patch(format!("{}/api/v1/children/{}", app.base, c.w.child_a1))
            .bearer_auth(t)
            .header("if-match", etag)
            .json(&json!({"date_of_birth": born}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let made = app
            .post(
                &format!("/api/v1/children/{}/consent-invitations", c.w.child_a1),
                t,
                json!({"child": true, "purpose": "referral", "recipient": {"organization_id": c.w.youth}, "information_version": "2026-1"}),
            )
            .await;
        let url = path_of(made.ok(201)["url"].as_str().unwrap());
        let mut b = Browser::new(&app);
        let opened = b.get(&url).await;
        b.get(opened.location()).await;
        let page = b.get("/ouder").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Mag een specialist meekijken?"), "{}", page.body);
        assert!(page.body.contains("Ja, dat mag") && page.body.contains("Nee, liever niet"));
        assert!(!page.body.contains("uw toestemming"), "no words for parents");
    }
);
