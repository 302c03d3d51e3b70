//! The pages of the youth-care side and the office (issue 13): the specialist's offers, request,
//! visits (with an edit that crossed another) and closing; the coordinator's queue and
//! assignment; the policy figures with hidden counts; the operator's registry, webhooks and
//! access log. Each from the attacker's side too: another provider's specialist, another
//! region's coordinator or policy officer get the page an unknown address gets.

use crate::common::TestApp;
use crate::consultations::{ctx, request, specialist};
use crate::db_test;
use crate::web::Browser;
use reqwest::StatusCode;
use serde_json::json;

const QUESTION: &str = "Hoe kan Noor meer meedoen in de groep?";

/// The refusal page of an unknown address, for comparing.
async fn unknown(b: &mut Browser, path_with_id: &str) -> String {
    let page = b.get(path_with_id).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{path_with_id}");
    page.body
}

db_test!(
    async fn a_specialist_accepts_logs_visits_meets_a_crossed_edit_and_closes(app) {
        let c = ctx(&app).await;
        let id = app
            .post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language"))
            .await
            .id();
        let mut b = Browser::new(&app);
        b.login("spec-1", "specialist", c.w.youth).await;
        assert_eq!(b.get("/").await.location(), "/aangeboden");
        let offers = b.get("/aangeboden").await;
        assert_eq!(offers.status, StatusCode::OK);
        for words in ["taal", "A1, Kinderopvang A", "Utrecht Stad", "Antwoord vóór", "U ziet de vraag van de mentor zodra"] {
            assert!(offers.body.contains(words), "{words}: {}", offers.body);
        }
        assert!(!offers.body.contains(QUESTION), "the question waits for acceptance");
        let csrf = offers.csrf();
        // without the session's token nothing happens
        let forged = b.post(&format!("/aanvragen/{id}/accepteren"), &[("csrf", "x")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let accepted = b.post(&format!("/aanvragen/{id}/accepteren"), &[("csrf", &csrf)]).await;
        assert_eq!(accepted.location(), format!("/aanvragen/{id}"));
        let page = b.get(&format!("/aanvragen/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        for words in [QUESTION, "zegt weinig, speelt alleen", "sociaal-emotioneel", "U heeft de aanvraag aangenomen", "geldt"] {
            assert!(page.body.contains(words), "{words}");
        }
        // a visit with two competences; a bad one is said beside its fields and changes nothing
        let new = format!("/aanvragen/{id}/bezoeken/nieuw");
        let bad = b.post(&new, &[("csrf", &csrf), ("date", "morgen"), ("duration_minutes", "lang")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("Vul een datum in als dag-maand-jaar.") && bad.body.contains("Kies de soort bezoek."));
        assert_eq!(app.count("visits").await, 0);
        let form = [
            ("csrf", csrf.as_str()), ("date", "2026-11-20"), ("duration_minutes", "90"), ("kind", "staff_coaching"),
            ("status", "held"), ("participants", "mentor"), ("participants", "practitioner"),
            ("competences", "striking_behaviour"), ("competences", "parents"), ("advice", "Kondig overgangen aan"),
            ("notes", "eigen notitie"),
        ];
        assert_eq!(b.post(&new, &form).await.location(), format!("/aanvragen/{id}"));
        let mut second = form;
        second[1] = ("date", "2026-11-27");
        second[3] = ("kind", "observation");
        assert_eq!(b.post(&new, &second).await.location(), format!("/aanvragen/{id}"));
        let page = b.get(&format!("/aanvragen/{id}")).await;
        assert!(page.body.contains("omgaan met ouders van kinderen met opvallend gedrag"));
        assert!(page.body.contains("coaching van pedagogisch medewerkers") && page.body.contains("observatie op de groep"));
        let visits = app.get(&format!("/api/v1/consultations/{id}/visits"), &c.w.specialist_token).await;
        let visit = visits.ok(200)[0]["id"].as_str().unwrap().to_string();
        // the edit form starts from version 1; meanwhile someone changes the visit (another session)
        let edit = b.get(&format!("/aanvragen/{id}/bezoeken/{visit}")).await;
        assert!(edit.body.contains("name=\"version\" value=\"1\""), "{}", edit.body);
        let theirs = app
            .client
            .put(format!("{}/api/v1/visits/{visit}", app.base))
            .bearer_auth(&c.w.specialist_token)
            .header("if-match", "\"1\"")
            .json(&json!({"date": "2026-11-20", "duration_minutes": 45, "kind": "team_meeting", "participants": ["team"], "competences": ["asking_help"], "notes": "hun versie"}))
            .send()
            .await
            .unwrap();
        assert_eq!(theirs.status(), 200);
        let mut mine = form.to_vec();
        mine.push(("version", "1"));
        mine[2] = ("duration_minutes", "120");
        let crossed = b.post(&format!("/aanvragen/{id}/bezoeken/{visit}"), &mine).await;
        assert_eq!(crossed.status, StatusCode::CONFLICT);
        for words in ["Iemand anders heeft dit bezoek gewijzigd", "Zo is het bezoek nu opgeslagen", "Uw versie", "45 minuten", "teamoverleg", "hun versie", "value=\"120\"", "name=\"version\" value=\"2\""] {
            assert!(crossed.body.contains(words), "{words}: {}", crossed.body);
        }
        // saving again, on purpose, keeps my version
        mine.retain(|(k, _)| *k != "version");
        mine.push(("version", "2"));
        assert_eq!(b.post(&format!("/aanvragen/{id}/bezoeken/{visit}"), &mine).await.location(), format!("/aanvragen/{id}"));
        let stored = app.get(&format!("/api/v1/consultations/{id}/visits"), &c.w.specialist_token).await;
        assert_eq!(stored.ok(200)[0]["duration_minutes"], 120);
        // closing: a referral needs where to; then the outcome in Dutch
        let close = format!("/aanvragen/{id}/afsluiten");
        assert_eq!(b.get(&close).await.status, StatusCode::OK);
        let refused = b.post(&close, &[("csrf", &csrf), ("outcome", "referred_youth_care"), ("summary", "samenvatting"), ("parents_involved", "ja")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("id=\"referral-fout\""), "{}", refused.body);
        let done = b.post(&close, &[("csrf", &csrf), ("outcome", "handled_within_childcare"), ("summary", "samenvatting"), ("parents_involved", "ja")]).await;
        assert_eq!(done.location(), "/mijn-aanvragen");
        let mine_page = b.get("/mijn-aanvragen").await;
        assert!(mine_page.body.contains("De aanvraag is afgerond.") && mine_page.body.contains("afgerond"));
        let closed = b.get(&format!("/aanvragen/{id}")).await;
        assert!(closed.body.contains("opgelost binnen de opvang"));
        assert!(!closed.body.contains("Bezoek vastleggen"), "closed requests are read-only");
    }
);

db_test!(
    async fn a_withdrawal_ends_the_specialists_view_at_once(app) {
        let c = ctx(&app).await;
        let id = app.post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language")).await.id();
        app.post(&format!("/api/v1/consultations/{id}/accept"), &c.w.specialist_token, json!({})).await.ok(200);
        let mut b = Browser::new(&app);
        b.login("spec-1", "specialist", c.w.youth).await;
        assert!(b.get(&format!("/aanvragen/{id}")).await.body.contains(QUESTION));
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &c.w.mentor_a1_token, json!({"by": {"guardian_id": c.eva}}))
            .await
            .ok(200);
        let ended = b.get(&format!("/aanvragen/{id}")).await;
        assert_eq!(ended.status, StatusCode::FORBIDDEN);
        assert!(ended.body.contains("Toegang beëindigd") && ended.body.contains("ingetrokken"), "{}", ended.body);
        for secret in [QUESTION, "zegt weinig", "Noor"] {
            assert!(!ended.body.contains(secret), "{secret}");
        }
        // "Mijn aanvragen" lists it to be closed, with nothing of the child
        let mine = b.get("/mijn-aanvragen").await;
        assert!(mine.body.contains("Toegang beëindigd") && mine.body.contains(&format!("/aanvragen/{id}/afsluiten")), "{}", mine.body);
        assert!(!mine.body.contains("A1, Kinderopvang A"));
        // it closes only as "parents withdrew"
        let form = b.get(&format!("/aanvragen/{id}/afsluiten")).await;
        assert!(form.body.contains("ouders hebben hun toestemming ingetrokken"));
        assert!(!form.body.contains("value=\"handled_within_childcare\""));
        let csrf = form.csrf();
        let done = b.post(&format!("/aanvragen/{id}/afsluiten"), &[("csrf", &csrf), ("outcome", "parents_withdrew"), ("summary", "gestopt"), ("parents_involved", "nee")]).await;
        assert_eq!(done.location(), "/mijn-aanvragen", "{}", done.body);
        assert!(!b.get("/mijn-aanvragen").await.body.contains("Toegang beëindigd"));
    }
);

db_test!(
    async fn a_decline_says_where_the_request_went_and_the_coordinator_assigns_it(app) {
        let c = ctx(&app).await;
        app.post(
            &format!("/api/v1/organizations/{}/staff", c.w.youth),
            &app.admin(),
            json!({"subject": "coord-22", "name": "Coördinator Utrecht", "role": "coordinator", "region_codes": ["JZ22"]}),
        )
        .await
        .ok(201);
        app.post(
            &format!("/api/v1/organizations/{}/staff", c.w.youth),
            &app.admin(),
            json!({"subject": "coord-14", "name": "Coördinator Amsterdam", "role": "coordinator", "region_codes": ["JZ14"]}),
        )
        .await
        .ok(201);
        let id = app.post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language")).await.id();
        let mut spec = Browser::new(&app);
        spec.login("spec-1", "specialist", c.w.youth).await;
        let form = spec.get(&format!("/aanvragen/{id}/afwijzen")).await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        let empty = spec.post(&format!("/aanvragen/{id}/afwijzen"), &[("csrf", &csrf), ("reason", "")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        let declined = spec.post(&format!("/aanvragen/{id}/afwijzen"), &[("csrf", &csrf), ("reason", "geen plaats deze maand")]).await;
        assert_eq!(declined.location(), "/aangeboden");
        let after = spec.get("/aangeboden").await;
        assert!(after.body.contains("De regiocoördinator wijst de aanvraag nu toe."), "{}", after.body);
        // the request is no longer the specialist's
        assert_eq!(spec.get(&format!("/aanvragen/{id}")).await.status, StatusCode::NOT_FOUND);

        let mut other = Browser::new(&app);
        other.login("coord-14", "coordinator", c.w.youth).await;
        let nowhere = unknown(&mut other, &format!("/aanvragen/{}", uuid::Uuid::now_v7())).await;
        let theirs = other.get(&format!("/aanvragen/{id}")).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        assert_eq!(theirs.body, nowhere, "another region's request looks like no request");
        assert!(!other.get("/wachtrij").await.body.contains(&id.to_string()));

        let mut coord = Browser::new(&app);
        coord.login("coord-22", "coordinator", c.w.youth).await;
        assert_eq!(coord.get("/").await.location(), "/wachtrij");
        let queue = coord.get("/wachtrij").await;
        assert!(queue.body.contains(&format!("/aanvragen/{id}")) && queue.body.contains("1 keer afgewezen"), "{}", queue.body);
        let page = coord.get(&format!("/aanvragen/{id}")).await;
        assert!(page.body.contains("Spec, Jeugdhulp C") && page.body.contains("0 van 3 open") && page.body.contains("wees deze aanvraag al af"), "{}", page.body);
        let csrf = page.csrf();
        let none = coord.post(&format!("/aanvragen/{id}/toewijzen"), &[("csrf", &csrf)]).await;
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(none.body.contains("Kies een specialist."));
        // the other region's coordinator cannot assign it
        let csrf_other = other.get("/wachtrij").await.csrf();
        let forged = other.post(&format!("/aanvragen/{id}/toewijzen"), &[("csrf", &csrf_other), ("specialist", &c.spec_1.to_string())]).await;
        assert_eq!(forged.status, StatusCode::NOT_FOUND);
        let assigned = coord.post(&format!("/aanvragen/{id}/toewijzen"), &[("csrf", &csrf), ("specialist", &c.spec_1.to_string())]).await;
        assert_eq!(assigned.location(), "/wachtrij");
        assert!(coord.get("/wachtrij").await.body.contains("De aanvraag is toegewezen aan Spec."));
        let view = app.get(&format!("/api/v1/consultations/{id}"), &c.w.mentor_a1_token).await;
        assert_eq!(view.ok(200)["status"], "accepted");
        let capacity = coord.get("/capaciteit").await;
        assert!(capacity.body.contains("Utrecht Stad (JZ22)") && capacity.body.contains(">taal<"), "{}", capacity.body);
        assert_eq!(other.get("/capaciteit").await.status, StatusCode::OK);
    }
);

db_test!(
    async fn another_providers_specialist_sees_nothing_of_a_request(app) {
        let c = ctx(&app).await;
        let other_org = app.post("/api/v1/organizations", &app.admin(), json!({"name": "Jeugdhulp D", "kind": "youth_care"})).await.id();
        specialist(&app, other_org, "spec-d", &["language"], &["JZ22"], 3).await;
        let id = app.post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language")).await.id();
        let mut b = Browser::new(&app);
        b.login("spec-d", "specialist", other_org).await;
        let nowhere = unknown(&mut b, &format!("/aanvragen/{}", uuid::Uuid::now_v7())).await;
        for path in [
            format!("/aanvragen/{id}"),
            format!("/aanvragen/{id}/afwijzen"),
            format!("/aanvragen/{id}/bezoeken/nieuw"),
            format!("/aanvragen/{id}/afsluiten"),
        ] {
            let page = b.get(&path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(page.body, nowhere, "{path}");
        }
        let csrf = b.get("/aangeboden").await.csrf();
        let forged = b.post(&format!("/aanvragen/{id}/accepteren"), &[("csrf", &csrf)]).await;
        assert_eq!(forged.status, StatusCode::NOT_FOUND);
        let view = app.get(&format!("/api/v1/consultations/{id}"), &c.w.mentor_a1_token).await;
        assert_eq!(view.ok(200)["status"], "offered", "nothing changed");
        // a mentor gets no specialist's pages either
        let mut m = Browser::new(&app);
        m.login("mentor-b1", "mentor", c.w.org_b).await;
        assert_eq!(m.get(&format!("/aanvragen/{id}")).await.status, StatusCode::NOT_FOUND);
    }
);

/// Logs in as the development operator (an admin has no organisation).
async fn operator(app: &TestApp) -> Browser {
    let mut b = Browser::new(app);
    let page = b.get("/inloggen").await;
    let csrf = page.csrf();
    let done = b
        .post(
            "/inloggen/ontwikkeling",
            &[("csrf", &csrf), ("login", "|beheerder|admin")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    b
}

db_test!(
    async fn policy_pages_show_gaps_with_reasons_and_the_apis_csv(app) {
        let c = ctx(&app).await;
        let town = app.post("/api/v1/organizations", &app.admin(), json!({"name": "Gemeente Utrecht", "kind": "municipality"})).await.id();
        for (sub, region) in [("pol-22", "JZ22"), ("pol-14", "JZ14")] {
            app.post(&format!("/api/v1/organizations/{town}/staff"), &app.admin(), json!({"subject": sub, "name": sub, "role": "policy", "region_codes": [region]}))
                .await
                .ok(201);
        }
        app.post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language")).await.ok(201);
        let mut b = Browser::new(&app);
        b.login("pol-22", "policy", town).await;
        assert_eq!(b.get("/").await.location(), "/cijfers");
        for figure in ["consents", "consultations", "response-times", "outcomes", "visits"] {
            let page = b.get(&format!("/cijfers/{figure}")).await;
            assert_eq!(page.status, StatusCode::OK, "{figure}");
            assert!(page.body.contains("Waarom sommige getallen ontbreken") && page.body.contains("Bijgewerkt op"), "{figure}");
            for code in ["small_count", "secondary", "social_emotional", "in_progress", "handled_within_childcare"] {
                assert!(!page.body.contains(&format!(">{code}<")), "{figure}: a code on the page");
            }
        }
        let page = b.get("/cijfers/consultations").await;
        assert!(page.body.contains("<svg class=\"kb-chart\"") && page.body.contains("<title id=\"consultations-0-titel\">"));
        assert!(page.body.contains("minder dan 10, niet getoond"), "the one request is hidden");
        assert!(page.body.contains("kb-chart__gap") && page.body.contains("kb-hidden-count"));
        // every number a cell shows is 0 or a multiple of 5 (no count of 1 to 9)
        for cell in page.body.split("utrecht-table__cell--numeric\">").skip(1) {
            let v = &cell[..cell.find('<').unwrap()];
            if let Ok(n) = v.trim().parse::<u64>() {
                assert!(n == 0 || n % 5 == 0, "a shown count {n}");
            }
        }
        // the downloads are the API's files
        let token = app.token("pol-22", &["policy"], Some(town));
        for (format, api) in [("csv", "csv"), ("csv-nl", "csv-nl")] {
            let file = b.get(&format!("/cijfers/consultations/download?formaat={format}")).await;
            assert_eq!(file.status, StatusCode::OK);
            assert!(file.headers["content-disposition"].to_str().unwrap().starts_with("attachment;"));
            let from_api = app.get(&format!("/api/v1/stats/consultations?format={api}"), &token).await;
            assert_eq!(file.body, from_api.text, "{format}");
        }
        let bad = b.get("/cijfers/consultations?van=2026-H2&tot=2020-H1").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("Kies een periode"));
        // another region's officer: the other region's address is an unknown page
        let mut other = Browser::new(&app);
        other.login("pol-14", "policy", town).await;
        let nowhere = unknown(&mut other, "/cijfers/onbekend").await;
        let theirs = other.get("/cijfers/consultations?regio=JZ22").await;
        assert_eq!((theirs.status, theirs.body), (StatusCode::NOT_FOUND, nowhere));
        assert_eq!(other.get("/cijfers/consultations/download?formaat=csv&regio=JZ22").await.status, StatusCode::NOT_FOUND);
        // the pages of other roles are not theirs
        for path in ["/beheer", "/wachtrij", "/aangeboden"] {
            let page = other.get(path).await;
            assert!(page.status == StatusCode::NOT_FOUND || !page.body.contains("kb-card"), "{path}");
        }
        assert_eq!(other.get("/beheer").await.status, StatusCode::NOT_FOUND);
    }
);

/// A multipart body with the CSV file, as a browser sends the upload form.
fn upload(csrf: &str, csv: &str, valid_from: &str) -> (String, String) {
    let boundary = "----kindbrugtest";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"regios.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"valid_from\"\r\n\r\n{valid_from}\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

db_test!(
    async fn an_operator_keeps_the_registry_and_sees_no_child(app) {
        let c = ctx(&app).await;
        let consultation = app.post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language")).await.id();
        let mut b = operator(&app).await;
        assert_eq!(b.get("/").await.location(), "/beheer");
        let home = b.get("/beheer").await;
        assert!(home.body.contains("Kinderopvang A") && home.body.contains("Jeugdhulp C"));
        // regions: preview changes nothing, applying does
        let regions = b.get("/beheer/regios").await;
        let csrf = regions.csrf();
        let csv = "GemeentecodeGM;Gemeentenaam;JeugdzorgregioCode;JeugdzorgregioNaam\nGM0344;Utrecht;JZ22;Utrecht Stad\nGM0363;Amsterdam;JZ15;Groot-Amsterdam\nGM1234;Nieuwstad;JZ22;Utrecht Stad\n";
        let (ct, body) = upload(&csrf, csv, "2027-01-01");
        let before = app.count("region_memberships").await;
        let req = b.client.post(format!("{}/beheer/regios/voorbeeld", b.base)).header("content-type", ct).body(body);
        let preview = b.send(req).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        assert!(preview.body.contains("Amsterdam (GM0363)") && preview.body.contains("gaat van regio JZ14 naar regio JZ15"), "{}", preview.body);
        assert!(preview.body.contains("Nieuwstad (GM1234)") && preview.body.contains("1 blijven zoals ze zijn"));
        assert_eq!(app.count("region_memberships").await, before, "a preview writes nothing");
        let (ct, bad) = upload(&csrf, "GemeentecodeGM;Gemeentenaam;JeugdzorgregioCode;JeugdzorgregioNaam\nGM03;Utrecht;JZ22;Utrecht Stad\n", "2027-01-01");
        let req = b.client.post(format!("{}/beheer/regios/voorbeeld", b.base)).header("content-type", ct).body(bad);
        let refused = b.send(req).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("regel 2"), "{}", refused.body);
        let key = {
            let marker = "name=\"preview\" value=\"";
            let at = preview.body.find(marker).unwrap() + marker.len();
            preview.body[at..at + preview.body[at..].find('"').unwrap()].to_string()
        };
        // only this preview's own button applies it; a bad file replaced nothing
        let stale = b.post("/beheer/regios/toepassen", &[("csrf", &csrf), ("preview", "oud")]).await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert_eq!(app.count("region_memberships").await, before);
        let applied = b.post("/beheer/regios/toepassen", &[("csrf", &csrf), ("preview", &key)]).await;
        assert_eq!(applied.location(), "/beheer/regios");
        assert_eq!(app.count("region_memberships").await, before + 3);
        assert!(b.get("/beheer/regios").await.body.contains("De regiotabel is toegepast (3 gemeenten)."));
        let again = b.post("/beheer/regios/toepassen", &[("csrf", &csrf), ("preview", &key)]).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "applied once");
        assert!(b.get("/beheer/regios/JZ22").await.body.contains("GM0344"));

        // a specialist, with what a specialist needs
        let path = format!("/beheer/organisaties/{}/medewerkers/nieuw", c.w.youth);
        assert_eq!(b.get(&path).await.status, StatusCode::OK);
        let missing = b.post(&path, &[("csrf", &csrf), ("name", "Sam"), ("subject", "spec-sam"), ("role", "specialist")]).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing.body.contains("kb-invalid"), "{}", missing.body);
        let staff_before = app.count("staff").await;
        let made = b.post(&path, &[("csrf", &csrf), ("name", "Sam"), ("subject", "spec-sam"), ("role", "specialist"), ("expertise", "behaviour"), ("region_codes", "JZ22"), ("capacity", "4")]).await;
        assert_eq!(made.location(), format!("/beheer/organisaties/{}", c.w.youth), "{}", made.body);
        assert_eq!(app.count("staff").await, staff_before + 1);
        let org = b.get(&format!("/beheer/organisaties/{}", c.w.youth)).await;
        assert!(org.body.contains("Sam") && org.body.contains("gedrag") && org.body.contains("capaciteit 4"));

        // a group renamed
        let loc = b.get(&format!("/beheer/locaties/{}", c.w.loc_a1)).await;
        assert!(loc.body.contains("Peuters") && loc.body.contains(&format!("/beheer/groepen/{}/wijzigen", c.w.group_a1)));
        let rename = format!("/beheer/groepen/{}/wijzigen", c.w.group_a1);
        assert!(b.get(&rename).await.body.contains("value=\"Peuters\""));
        assert_eq!(b.post(&rename, &[("csrf", &csrf), ("name", "")]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b.post(&rename, &[("csrf", &csrf), ("name", "Peuters groen")]).await.location(), format!("/beheer/locaties/{}", c.w.loc_a1));
        assert!(b.get(&format!("/beheer/locaties/{}", c.w.loc_a1)).await.body.contains("Peuters groen"));
        // a webhook endpoint: the key shown once
        let hook = format!("/beheer/organisaties/{}/webhooks/nieuw", c.w.org_a);
        let created = b.post(&hook, &[("csrf", &csrf), ("url", "https://partner.example/hooks"), ("events", "consultation.*"), ("signing", "ed25519")]).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert!(created.body.contains("whpk_") && created.body.contains("één keer"));
        let org_a = b.get(&format!("/beheer/organisaties/{}", c.w.org_a)).await;
        assert!(org_a.body.contains("https://partner.example/hooks") && !org_a.body.contains("whpk_"));

        // the access log: by child id, ids only; the chain check
        let log = b.get(&format!("/beheer/toegang?kind={}", c.w.child_a1)).await;
        assert_eq!(log.status, StatusCode::OK);
        assert!(log.body.contains("mentor-a1") && log.body.contains("toegestaan"), "{}", log.body);
        let bad = b.get("/beheer/toegang?kind=noor&van=gisteren").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let checked = b.post("/beheer/toegang/controle", &[("csrf", &csrf)]).await;
        assert!(checked.body.contains("Het toegangslog is heel"), "{}", checked.body);
        // never child data
        for page in [&home.body, &org.body, &log.body, &checked.body] {
            for secret in ["Noor", "A-1", QUESTION, "zegt weinig", ">Eva", " Eva"] {
                let at = page.find(secret).unwrap_or(0);
                assert!(!page.contains(secret), "{secret}: {}", &page[at.saturating_sub(200)..(at + 50).min(page.len())]);
            }
        }
        for path in [format!("/kinderen/{}", c.w.child_a1), format!("/aanvragen/{consultation}")] {
            assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        // others get no operator's page; a forged post changes nothing
        let mut m = Browser::new(&app);
        m.login("mentor-a1", "mentor", c.w.org_a).await;
        let nowhere = unknown(&mut m, &format!("/aanvragen/{}", uuid::Uuid::now_v7())).await;
        for path in ["/beheer".to_string(), "/beheer/regios".into(), format!("/beheer/organisaties/{}", c.w.youth), "/beheer/toegang".into()] {
            let page = m.get(&path).await;
            assert_eq!((page.status, &page.body), (StatusCode::NOT_FOUND, &nowhere), "{path}");
        }
        let csrf_m = m.get("/kinderen").await.csrf();
        let forged = m.post(&path, &[("csrf", &csrf_m), ("name", "X"), ("subject", "x"), ("role", "mentor")]).await;
        assert_eq!(forged.status, StatusCode::NOT_FOUND);
        assert_eq!(app.count("staff").await, staff_before + 1);
    }
);
