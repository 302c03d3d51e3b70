//! The pages of the youth-care side and the office (issue 13): the specialist's offers, request,
//! visits (with an edit that crossed another) and closing; the coordinator's queue and
//! assignment; the policy figures with hidden counts; the operator's registry, webhooks and
//! access log. Each from the attacker's side too: another provider's specialist, another
//! region's coordinator or policy officer get the page an unknown address gets.

use crate::common::*;
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
        for words in ["Iemand anders heeft dit bezoek gewijzigd", "Zo is het bezoek nu opgeslagen", "45 minuten", "teamoverleg", "hun versie", "value=\"120\"", "name=\"version\" value=\"2\""] {
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
        // it closes only as "parents withdrew"
        let form = b.get(&format!("/aanvragen/{id}/afsluiten")).await;
        assert!(form.body.contains("ouders hebben hun toestemming ingetrokken"));
        assert!(!form.body.contains("value=\"handled_within_childcare\""));
        let csrf = form.csrf();
        let done = b.post(&format!("/aanvragen/{id}/afsluiten"), &[("csrf", &csrf), ("outcome", "parents_withdrew"), ("summary", "gestopt"), ("parents_involved", "nee")]).await;
        assert_eq!(done.location(), "/mijn-aanvragen", "{}", done.body);
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
