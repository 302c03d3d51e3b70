//! The defects found from outside (issue 10), each as the probe found it: these fail on the
//! code before the fix.

use crate::common::*;
use crate::consultations::{ctx, request, specialist, Ctx};
use crate::db_test;
use serde_json::{json, Value};
use uuid::Uuid;

/// A second youth-care provider serving the same region, with a coordinator and a specialist.
async fn provider_b(app: &TestApp) -> (Uuid, String, String, Uuid) {
    let admin = app.admin();
    let org = app
        .post(
            "/api/v1/organizations",
            &admin,
            json!({"name": "Jeugdhulp B", "kind": "youth_care"}),
        )
        .await
        .id();
    app.post(
        &format!("/api/v1/organizations/{org}/staff"),
        &admin,
        json!({"subject": "coord-b", "name": "Coord B", "role": "coordinator", "region_codes": ["JZ22"]}),
    )
    .await
    .ok(201);
    let (spec, spec_token) =
        specialist(app, org, "spec-b", &["motor", "language"], &["JZ22"], 5).await;
    (
        org,
        app.token("coord-b", &["coordinator"], Some(org)),
        spec_token,
        spec,
    )
}

/// The coordinator of the world's provider C, serving JZ22.
async fn coordinator_c(app: &TestApp, c: &Ctx) -> String {
    app.post(
        &format!("/api/v1/organizations/{}/staff", c.w.youth),
        &app.admin(),
        json!({"subject": "coord-c", "name": "Coord C", "role": "coordinator", "region_codes": ["JZ22"]}),
    )
    .await
    .ok(201);
    app.token("coord-c", &["coordinator"], Some(c.w.youth))
}

/// An unassigned request: nobody in the region has the expertise.
async fn unassigned(app: &TestApp, c: &Ctx) -> Uuid {
    let r = app
        .post(
            "/api/v1/consultations",
            &c.w.mentor_a1_token,
            request(c, "cognitive"),
        )
        .await;
    assert_eq!(r.ok(201)["status"], "unassigned", "{}", r.text);
    r.id()
}

db_test!(
    /// Defect 1: a coordinator sees and acts on a request only while the parents' consent
    /// covers the coordinator's organisation; otherwise the same 404 as for an unknown id.
    async fn coordinators_act_only_within_the_parents_consent(app) {
        let c = ctx(&app).await;
        let (_, coord_b, _, spec_b) = provider_b(&app).await;
        let coord_c = coordinator_c(&app, &c).await;
        let queued = unassigned(&app, &c).await;
        let offered = app.post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language")).await.id();
        let missing = Uuid::now_v7();
        for path in ["/api/v1/consultations", "/api/v1/consultations?status=unassigned", "/api/v1/consultations?region=JZ22"] {
            let r = app.get(path, &coord_b).await;
            assert!(r.ok(200)["items"].as_array().unwrap().is_empty(), "{path}: {}", r.text);
            assert!(!r.text.contains("meedoen"), "the question leaked: {}", r.text);
        }
        for id in [queued, offered] {
            for sub in ["", "/routing"] {
                let mine = app.get(&format!("/api/v1/consultations/{id}{sub}"), &coord_b).await;
                let unknown = app.get(&format!("/api/v1/consultations/{missing}{sub}"), &coord_b).await;
                assert_eq!(mine.problem(404), "not-found");
                assert_eq!((mine.status, &mine.body["detail"]), (unknown.status, &unknown.body["detail"]));
            }
        }
        let r = app.post(&format!("/api/v1/consultations/{queued}/reject"), &coord_b, json!({"reason": "not ours"})).await;
        assert_eq!(r.problem(404), "not-found");
        let r = app.post(&format!("/api/v1/consultations/{queued}/assign"), &coord_b, json!({"specialist_id": spec_b})).await;
        assert_eq!(r.problem(404), "not-found");
        // the covered coordinator works the queue, but cannot hand it to an uncovered provider,
        // and is not told who would have to consent (that is the mentor's to know)
        let list = app.get("/api/v1/consultations?status=unassigned", &coord_c).await;
        assert_eq!(list.ok(200)["items"].as_array().unwrap().len(), 1);
        let r = app.post(&format!("/api/v1/consultations/{queued}/assign"), &coord_c, json!({"specialist_id": spec_b})).await;
        assert_eq!(r.problem(409), "consent-required");
        assert!(r.body.get("missing").is_none() && !r.text.contains(&c.eva.to_string()), "{}", r.text);
        // after the parents withdraw, the covered coordinator reads nothing either
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &c.w.mentor_a1_token, json!({"by": {"guardian_id": c.tom}})).await.ok(200);
        let r = app.get(&format!("/api/v1/consultations/{queued}"), &coord_c).await;
        assert_eq!(r.problem(404), "not-found");
        assert!(!r.text.contains("meedoen"));
        let list = app.get("/api/v1/consultations", &coord_c).await;
        assert!(list.ok(200)["items"].as_array().unwrap().is_empty(), "{}", list.text);
        // the refusals are in the access log
        let denied = app.count("audit_log WHERE outcome = 'denied' AND actor_subject = 'coord-b'").await;
        assert!(denied >= 6, "{denied}");
    }
);

db_test!(
    /// Defect 2: the child's question stays hidden from an offered specialist on every path.
    async fn an_offered_specialist_sees_no_question_in_the_list(app) {
        let c = ctx(&app).await;
        let id = app.post("/api/v1/consultations", &c.w.mentor_a1_token, request(&c, "language")).await.id();
        let list = app.get("/api/v1/consultations?assigned=me", &c.w.specialist_token).await;
        let item = list.ok(200)["items"].as_array().unwrap().iter().find(|i| i["id"] == id.to_string()).cloned().unwrap();
        assert_eq!(item["status"], "offered");
        assert!(item["question"].is_null(), "{item}");
        assert!(!list.text.contains("meedoen"));
        let one = app.get(&format!("/api/v1/consultations/{id}"), &c.w.specialist_token).await;
        assert!(one.ok(200)["question"].is_null());
        app.post(&format!("/api/v1/consultations/{id}/accept"), &c.w.specialist_token, json!({})).await.ok(200);
        let list = app.get("/api/v1/consultations?assigned=me", &c.w.specialist_token).await;
        assert!(list.text.contains("meedoen"), "after acceptance the question is theirs: {}", list.text);
    }
);

async fn child_aged(
    app: &TestApp,
    w: &World,
    external_ref: &str,
    years: i32,
    extra_days: i64,
) -> Uuid {
    use chrono::Datelike;
    let today = kindbrug::domain::calendar::dutch_date(kindbrug::domain::calendar::now());
    let born =
        chrono::NaiveDate::from_ymd_opt(today.year() - years, today.month(), today.day().min(28))
            .unwrap()
            - chrono::Duration::days(extra_days);
    app.post(
        "/api/v1/children",
        &w.integration_a,
        json!({"location_id": w.loc_a1, "external_ref": external_ref, "given_name": "Sam", "date_of_birth": born.to_string()}),
    )
    .await
    .id()
}

async fn parent_of(app: &TestApp, w: &World, child: Uuid, name: &str) -> Uuid {
    app.post(
        &format!("/api/v1/children/{child}/guardians"),
        &w.integration_a,
        json!({"name": name, "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"}),
    )
    .await
    .id()
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

db_test!(
    /// Defect 3: from 16 what the young person shares is theirs; a child of 12 or older has a
    /// link of its own.
    async fn a_young_persons_privacy_and_the_childs_own_link(app) {
        let w = app.world().await;
        let t = &w.integration_a;
        let sixteen = child_aged(&app, &w, "Y-16", 16, 10).await;
        let mum = parent_of(&app, &w, sixteen, "Mam").await;
        // the young person's own consent, given through the integration
        app.post(&format!("/api/v1/children/{sixteen}/consents"), t,
            json!({"purpose": "consultation", "recipient": {"organization_id": w.youth}, "decision": "granted", "given_by": [{"child": true}],
                   "method": "written", "evidence_ref": "form-y16", "information_version": "v1", "valid_from": "2026-01-01"})).await.ok(201);
        let r = app.post(&format!("/api/v1/children/{sixteen}/parent-links"), t, json!({"guardian_id": mum})).await;
        assert_eq!(r.problem(422), "consent-rule");
        assert_eq!(r.body["rules"][0]["rule"], "young-person-decides");
        let r = app.post(&format!("/api/v1/children/{sixteen}/consent-invitations"), t,
            json!({"guardian_id": mum, "purpose": "consultation", "recipient": {"organization_id": w.youth}, "information_version": "v1"})).await;
        assert_eq!(r.body["rules"][0]["rule"], "young-person-decides", "{}", r.text);
        // the young person's own link shows their consents and who saw their data
        let own = app.post(&format!("/api/v1/children/{sixteen}/parent-links"), t, json!({"child": true})).await;
        let own = token_of(own.ok(201)["url"].as_str().unwrap());
        let page = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{own}"), None, None).await;
        assert_eq!(page.ok(200)["holder"], "child");
        let consents = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{own}/consents"), None, None).await;
        assert_eq!(consents.ok(200).as_array().unwrap().len(), 1);
        app.request(reqwest::Method::GET, &format!("/api/v1/parent/{own}/access-log"), None, None).await.ok(200);

        // a parent's link made at 15 shows only the parent's own decisions once the child is 16
        let fifteen = child_aged(&app, &w, "Y-15", 15, 10).await;
        let dad = parent_of(&app, &w, fifteen, "Pap").await;
        let link = app.post(&format!("/api/v1/children/{fifteen}/parent-links"), t, json!({"guardian_id": dad})).await;
        let link = token_of(link.ok(201)["url"].as_str().unwrap());
        app.post(&format!("/api/v1/children/{fifteen}/consents"), t,
            json!({"purpose": "information_sharing", "recipient": {"organization_id": w.youth}, "decision": "granted", "given_by": [{"child": true}, {"guardian_id": dad}],
                   "method": "written", "evidence_ref": "form-y15", "information_version": "v1", "valid_from": "2026-01-01"})).await.ok(201);
        app.post(&format!("/api/v1/children/{fifteen}/consents"), t,
            json!({"purpose": "consultation", "recipient": {"organization_id": w.youth}, "decision": "refused", "given_by": [{"child": true}],
                   "method": "written", "evidence_ref": "form-y15b", "information_version": "v1", "valid_from": "2026-01-01"})).await.ok(201);
        let before = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{link}/consents"), None, None).await;
        assert_eq!(before.ok(200).as_array().unwrap().len(), 2, "under 16 the parent sees the child's consents");
        use chrono::Datelike;
        let today = kindbrug::domain::calendar::dutch_date(kindbrug::domain::calendar::now());
        let now_sixteen = chrono::NaiveDate::from_ymd_opt(today.year() - 16, today.month(), today.day().min(28)).unwrap() - chrono::Duration::days(3);
        app.exec_sql(&format!("UPDATE children SET date_of_birth = '{now_sixteen}' WHERE external_ref = 'Y-15'")).await;
        let after = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{link}/consents"), None, None).await;
        let items = after.ok(200).as_array().unwrap().clone();
        assert_eq!(items.len(), 1, "only the decision the parent took part in: {}", after.text);
        assert_eq!(items[0]["purpose"], "information_sharing");
        let log = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{link}/access-log"), None, None).await;
        assert_eq!(log.problem(403), "young-person-decides");

        // a child under 12 has no link of its own; from 12 it can be invited and decide itself
        let r = app.post(&format!("/api/v1/children/{}/parent-links", w.child_a1), &w.mentor_a1_token, json!({"child": true})).await;
        assert_eq!(r.body["rules"][0]["rule"], "child-under-12", "{}", r.text);
        let twelve = child_aged(&app, &w, "Y-12", 12, 10).await;
        let inv = app.post(&format!("/api/v1/children/{twelve}/consent-invitations"), t,
            json!({"child": true, "purpose": "consultation", "recipient": {"organization_id": w.youth}, "information_version": "v1"})).await;
        let inv = token_of(inv.ok(201)["url"].as_str().unwrap());
        let decided = app.request(reqwest::Method::POST, &format!("/api/v1/parent/{inv}/decision"), None, Some(json!({"decision": "granted"}))).await;
        decided.ok(201);
        let all = app.get(&format!("/api/v1/children/{twelve}/consents"), t).await;
        assert_eq!(all.ok(200)[0]["given_by"], json!([{"child": true}]));
    }
);

db_test!(
    /// Defect 6: a trajectory on hold after withdrawal can be ended, without reading anything.
    async fn a_withdrawn_trajectory_can_end(app) {
        let c = ctx(&app).await;
        let t = &c.w.mentor_a1_token;
        let spec = &c.w.specialist_token;
        let id = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        app.post(&format!("/api/v1/consultations/{id}/accept"), spec, json!({})).await.ok(200);
        let second = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        app.post(&format!("/api/v1/consultations/{second}/accept"), spec, json!({})).await.ok(200);
        assert_eq!(app.count("staff WHERE subject = 'spec-1' AND open_count = 2").await, 1);
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), t, json!({"by": {"guardian_id": c.eva}})).await.ok(200);
        // the specialist closes one only as "parents withdrew"
        let r = app.post(&format!("/api/v1/consultations/{id}/close"), spec, json!({"outcome": "handled_within_childcare", "summary": "x", "parents_involved": true})).await;
        assert_eq!(r.problem(409), "closed-or-paused");
        let r = app.post(&format!("/api/v1/consultations/{id}/close"), spec, json!({"outcome": "parents_withdrew", "summary": "ouders trokken in", "parents_involved": true})).await;
        assert_eq!(r.ok(200)["status"], "completed", "{}", r.text);
        assert!(!r.text.contains("meedoen"));
        // the mentor cancels the other
        let r = app.post(&format!("/api/v1/consultations/{second}/cancel"), t, json!({"reason": "ouders willen niet meer"})).await;
        assert_eq!(r.ok(200)["status"], "cancelled", "{}", r.text);
        assert_eq!(r.body["status_note"], "ouders willen niet meer");
        // both slots came free
        assert_eq!(app.count("staff WHERE subject = 'spec-1' AND open_count = 0").await, 1);
        assert_eq!(app.count("consultations WHERE outcome = 'parents_withdrew'").await, 1);
    }
);

db_test!(
    /// Defect 7: not competent from 12, with who judged it, when and why.
    async fn not_competent_from_twelve_with_the_judgement_on_record(app) {
        let w = app.world().await;
        let t = &w.integration_a;
        let thirteen = child_aged(&app, &w, "Y-13", 13, 30).await;
        let mum = parent_of(&app, &w, thirteen, "Mam").await;
        let body = |nc: Value| json!({"purpose": "consultation", "recipient": {"organization_id": w.youth}, "decision": "granted",
            "given_by": [{"guardian_id": mum}], "method": "written", "evidence_ref": "f-13", "information_version": "v1",
            "valid_from": "2026-01-01", "child_not_competent": nc});
        let path = format!("/api/v1/children/{thirteen}/consents");
        assert_eq!(app.post(&path, t, body(json!(false))).await.body["rules"][0]["rule"], "child-must-consent-too");
        assert_eq!(app.post(&path, t, body(json!(true))).await.error_fields(), ["child_not_competent"]);
        let judgement = json!({"judged_by": "dr. A. Bakker, kinderpsychiater", "judged_on": "2026-02-01", "reason": "overziet de gevolgen niet"});
        app.post(&path, t, body(judgement)).await.ok(201);
        let check = app.get(&format!("/api/v1/children/{thirteen}/consent-check?purpose=consultation&organization_id={}", w.youth), t).await;
        assert_eq!(check.ok(200)["allowed"], true);
        let list = app.get(&path, t).await;
        let j = &list.ok(200)[0]["not_competent_judgement"];
        assert_eq!(j["judged_by"], "dr. A. Bakker, kinderpsychiater");
        assert_eq!(j["reason"], "overziet de gevolgen niet");
        // the reason is sealed at rest
        assert_eq!(app.count("consents WHERE not_competent_reason_sealed LIKE '%overziet%'").await, 0);
        // under 12 a judgement is not recorded
        let ten = child_aged(&app, &w, "Y-10", 10, 30).await;
        let dad = parent_of(&app, &w, ten, "Pap").await;
        let mut young = body(json!({"judged_by": "x", "judged_on": "2026-02-01", "reason": "y"}));
        young["given_by"] = json!([{"guardian_id": dad}]);
        let r = app.post(&format!("/api/v1/children/{ten}/consents"), t, young).await;
        assert_eq!(r.body["rules"][0]["rule"], "not-competent-only-from-12", "{}", r.text);
    }
);

db_test!(
    /// Defect 9: one JSON value per body; anything after it is a 400 and writes nothing.
    async fn trailing_json_is_refused(app) {
        let w = app.world().await;
        let before = app.count("children").await;
        let good = json!({"location_id": w.loc_a1, "external_ref": "T-1", "given_name": "Tim", "date_of_birth": "2022-01-01"}).to_string();
        for body in [format!("{good}xx"), format!("{good}{good}"), format!("{good} ,")] {
            let r = app.post_raw("/api/v1/children", &w.mentor_a1_token, "application/json", body.clone()).await;
            assert_eq!(r.problem(400), "malformed-json", "{body}");
        }
        assert_eq!(app.count("children").await, before);
        app.post_raw("/api/v1/children", &w.mentor_a1_token, "application/json", format!("{good}\n  ")).await.ok(201);
    }
);

db_test!(
    /// Defect 10: the smaller ones.
    async fn the_smaller_defects(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        // the same answer for another organisation's location and an unknown one
        let child = |loc: Uuid, r: &str| json!({"location_id": loc, "external_ref": r, "given_name": "X", "date_of_birth": "2022-01-01"});
        let theirs = app.post("/api/v1/children", t, child(w.loc_b1, "L-1")).await;
        let unknown = app.post("/api/v1/children", t, child(Uuid::now_v7(), "L-2")).await;
        assert_eq!((theirs.status, &theirs.body["errors"]), (unknown.status, &unknown.body["errors"]));
        // dates: exactly YYYY-MM-DD, plausible per field
        for dob in ["2022-1-1", "0000-01-01", "9999-12-31", "+2022-01-01"] {
            let r = app.post("/api/v1/children", t, json!({"location_id": w.loc_a1, "external_ref": "D-1", "given_name": "D", "date_of_birth": dob})).await;
            assert_eq!(r.error_fields(), ["date_of_birth"], "{dob}: {}", r.text);
        }
        let id = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        app.post(&format!("/api/v1/consultations/{id}/accept"), &w.specialist_token, json!({})).await.ok(200);
        for date in ["0000-01-01", "9999-12-31", "2026-1-1", "1950-01-01"] {
            let mut v = crate::specialist_work::visit("n", false);
            v["date"] = json!(date);
            let r = app.post(&format!("/api/v1/consultations/{id}/visits"), &w.specialist_token, v).await;
            assert_eq!(r.error_fields(), ["date"], "{date}: {}", r.text);
        }
        // a BSN is refused where it can only be one, and warned about in free text
        for r in ["123456782", "1234.56.782", "BSN 123456782"] {
            let resp = app.post("/api/v1/children", t, json!({"location_id": w.loc_a1, "external_ref": r, "given_name": "B", "date_of_birth": "2022-01-01"})).await;
            assert_eq!(resp.error_fields(), ["external_ref"], "{r}");
        }
        let r = app.post(&format!("/api/v1/children/{}/guardians", w.child_a1), t, json!({"name": "BSN 123456782", "relationship": "parent", "has_parental_authority": false})).await;
        assert_eq!(r.error_fields(), ["name"]);
        let r = app.post(&format!("/api/v1/children/{}/concerns", w.child_a1), t, json!({"domains": ["motor"], "observation": "bsn 123456782 genoteerd", "observed_since": "2026-10-01"})).await;
        assert_eq!(r.ok(201)["warnings"][0]["field"], "observation");
        // two Idempotency-Key headers: refused
        let r = app.client.post(format!("{}/api/v1/consultations", app.base)).bearer_auth(t)
            .header("idempotency-key", "a").header("idempotency-key", "b").json(&request(&c, "language")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        // If-Match takes the strong comparison: a weak tag never matches
        let visit = app.post(&format!("/api/v1/consultations/{id}/visits"), &w.specialist_token, crate::specialist_work::visit("n", false)).await;
        let vid = visit.id();
        let r = app.client.put(format!("{}/api/v1/visits/{vid}", app.base)).bearer_auth(&w.specialist_token)
            .header("if-match", "W/\"1\"").json(&crate::specialist_work::visit("m", false)).send().await.unwrap();
        assert_eq!(r.status(), 412);
        // a consent whose period ended is named as such, not as a missing parent
        let mut ended = json!({"purpose": "referral", "recipient": {"organization_id": w.youth}, "decision": "granted",
            "given_by": [{"guardian_id": c.eva}, {"guardian_id": c.tom}], "method": "oral", "noted_by_staff_id": w.mentor_a1,
            "information_version": "v1", "valid_from": "2025-01-01", "valid_until": "2025-12-31"});
        let r = app.post(&format!("/api/v1/children/{}/consents", w.child_a1), t, ended.clone()).await;
        assert_eq!(r.body["rules"][0]["rule"], "period-ended", "{}", r.text);
        // a consent starting later: nobody is missing, it is simply not yet in force
        ended["valid_from"] = json!((kindbrug::domain::calendar::dutch_date(kindbrug::domain::calendar::now()) + chrono::Duration::days(30)).to_string());
        ended["valid_until"] = Value::Null;
        app.post(&format!("/api/v1/children/{}/consents", w.child_a1), t, ended).await.ok(201);
        let check = app.get(&format!("/api/v1/children/{}/consent-check?purpose=referral&organization_id={}", w.child_a1, w.youth), t).await;
        assert_eq!(check.ok(200)["allowed"], false);
        assert!(check.body["missing"].as_array().unwrap().is_empty(), "{}", check.text);
        assert!(check.text.contains("starts-later"));
    }
);

db_test!(
    /// Defect 10: at the 12th birthday both sides are told the rule that applies, and a
    /// parents-only consent spanning that birthday is warned about when recorded.
    async fn the_twelfth_birthday_is_explained(app) {
        let w = app.world().await;
        let t = &w.integration_a;
        let almost = child_aged(&app, &w, "Y-11", 12, -20).await;
        let mum = parent_of(&app, &w, almost, "Mam").await;
        let r = app.post(&format!("/api/v1/children/{almost}/consents"), t,
            json!({"purpose": "consultation", "recipient": {"organization_id": w.youth}, "decision": "granted", "given_by": [{"guardian_id": mum}],
                   "method": "written", "evidence_ref": "f-11", "information_version": "v1", "valid_from": "2026-01-01"})).await;
        assert_eq!(r.ok(201)["warnings"][0]["rule"], "turns-12-during-period", "{}", r.text);
        let concern = app.post(&format!("/api/v1/children/{almost}/concerns"), t, json!({"domains": ["language"], "observation": "praat weinig", "observed_since": "2026-09-01"})).await.id();
        let id = app.post("/api/v1/consultations", t, json!({"child_id": almost, "concern_id": concern, "question": "Wat helpt Sam?", "expertise": "language", "urgency": "normal"})).await.id();
        app.post(&format!("/api/v1/consultations/{id}/accept"), &w.specialist_token, json!({})).await.ok(200);
        // the child turns 12
        use chrono::Datelike;
        let today = kindbrug::domain::calendar::dutch_date(kindbrug::domain::calendar::now());
        let twelve = chrono::NaiveDate::from_ymd_opt(today.year() - 12, today.month(), today.day().min(28)).unwrap() - chrono::Duration::days(1);
        app.exec_sql(&format!("UPDATE children SET date_of_birth = '{twelve}' WHERE external_ref = 'Y-11'")).await;
        let r = app.get(&format!("/api/v1/consultations/{id}"), &w.specialist_token).await;
        assert_eq!(r.problem(403), "consent-not-in-force");
        assert!(r.body["detail"].as_str().unwrap().contains("must consent too"), "{}", r.text);
        let mentor = app.get(&format!("/api/v1/consultations/{id}"), t).await;
        assert_eq!(mentor.ok(200)["consent"]["in_force"], false);
        assert_eq!(mentor.body["consent"]["reasons"][0]["rule"], "child-must-consent-too", "{}", mentor.text);
    }
);

db_test!(
    /// Defect 10: a region-wide consent covers the providers serving the region when it was
    /// given, not one that joined later.
    async fn a_region_consent_covers_its_days_providers(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let region = json!({"purpose": "information_sharing", "recipient": {"region_code": "JZ22"}, "decision": "granted",
            "given_by": [{"guardian_id": c.eva}, {"guardian_id": c.tom}], "method": "oral", "noted_by_staff_id": w.mentor_a1,
            "information_version": "v1", "valid_from": "2026-01-01"});
        app.post(&format!("/api/v1/children/{}/consents", w.child_a1), t, region).await.ok(201);
        let (newcomer, ..) = provider_b(&app).await;
        let check = |org: Uuid| format!("/api/v1/children/{}/consent-check?purpose=information_sharing&organization_id={org}", w.child_a1);
        assert_eq!(app.get(&check(w.youth), t).await.ok(200)["allowed"], true);
        assert_eq!(app.get(&check(newcomer), t).await.ok(200)["allowed"], false);
        let list = app.get(&format!("/api/v1/children/{}/consents", w.child_a1), t).await;
        let rec = list.ok(200).as_array().unwrap().iter().find(|r| r["purpose"] == "information_sharing").cloned().unwrap();
        assert_eq!(rec["recipient"]["covered_organization_ids"], json!([w.youth]));
    }
);

db_test!(
    /// Defect 5: refused attempts and reads of the access log itself are logged.
    async fn refused_attempts_and_reads_of_the_log_are_logged(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let admin = app.admin();
        // a consent recording refused by a rule
        let r = app.post(&format!("/api/v1/children/{}/consents", w.child_a1), &w.mentor_a1_token,
            json!({"purpose": "referral", "recipient": {"organization_id": w.youth}, "decision": "granted", "given_by": [{"guardian_id": c.eva}],
                   "method": "oral", "information_version": "v1", "valid_from": "2026-01-01"})).await;
        assert_eq!(r.problem(422), "consent-rule");
        let denied = |resource: &'static str| {
            let app = &app;
            async move { app.count(&format!("audit_log WHERE outcome = 'denied' AND resource_type = '{resource}'")).await }
        };
        assert_eq!(denied("consent").await, 1);
        // an assignment refused with 409
        let coord = coordinator_c(&app, &c).await;
        let queued = unassigned(&app, &c).await;
        let (_, _, _, spec_b) = provider_b(&app).await;
        app.post(&format!("/api/v1/consultations/{queued}/assign"), &coord, json!({"specialist_id": spec_b})).await.problem(409);
        assert_eq!(denied("consultation").await, 1);
        // a read of the log is itself in the log
        let before = app.count("audit_log WHERE resource_type = 'access_log'").await;
        app.get(&format!("/api/v1/audit?child_id={}", w.child_a1), &admin).await.ok(200);
        assert_eq!(app.count("audit_log WHERE resource_type = 'access_log'").await, before + 1);
    }
);

db_test!(
    /// Defect 10: guessing parent links is braked per client address with 429 + Retry-After;
    /// a real link keeps working for others.
    async fn parent_link_guessing_is_rate_limited(app) {
        let w = app.world().await;
        let mum = parent_of(&app, &w, w.child_a1, "Mam").await;
        let link = app.post(&format!("/api/v1/children/{}/parent-links", w.child_a1), &w.mentor_a1_token, json!({"guardian_id": mum})).await;
        let link = token_of(link.ok(201)["url"].as_str().unwrap());
        let mut limited = None;
        for i in 0..30 {
            let guess = format!("{:0>43}", i);
            let r = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{guess}"), None, None).await;
            if r.status == 429 {
                limited = Some((i, r));
                break;
            }
            assert_eq!(r.problem(404), "link-unknown");
        }
        let (after, r) = limited.expect("guessing is limited");
        assert_eq!(after, 10, "the configured ten failures a minute");
        assert_eq!(r.problem(429), "rate-limited");
        assert!(r.headers.get("retry-after").is_some());
        // the limit is on this client address: even a real link waits (the same address guessed)
        let real = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{link}"), None, None).await;
        assert_eq!(real.status, 429);
    }
);

db_test!(
    /// Defect 10: free text that seems to hold a BSN is stored with a warning on every write
    /// that takes free text: the question, a visit's notes, a Meldcode report, a phone number.
    async fn free_text_with_a_bsn_is_warned_about(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let mut req = request(&c, "language");
        req["question"] = json!("Hoe helpen we kind 111222333?");
        let r = app.post("/api/v1/consultations", t, req).await;
        assert_eq!(r.ok(201)["warnings"][0]["field"], "question", "{}", r.text);
        let id = r.id();
        app.post(&format!("/api/v1/consultations/{id}/accept"), &w.specialist_token, json!({})).await.ok(200);
        let visit = app.post(&format!("/api/v1/consultations/{id}/visits"), &w.specialist_token, crate::specialist_work::visit("bsn 111.222.333", false)).await;
        assert_eq!(visit.ok(201)["warnings"][0]["field"], "notes", "{}", visit.text);
        let vt = app.post(&format!("/api/v1/children/{}/veilig-thuis-reports", w.child_a1), t,
            json!({"legal_basis": "wmo_2015_art_5_2_6", "reason": "BSN 111222333", "consulted": "x", "weighing": "x"})).await;
        assert_eq!(vt.ok(201)["warnings"][0]["field"], "reason");
        let g = app.post(&format!("/api/v1/children/{}/guardians", w.child_a1), t,
            json!({"name": "Oma", "relationship": "other", "has_parental_authority": false, "phone": "111222333"})).await;
        assert_eq!(g.ok(201)["warnings"][0]["field"], "phone");
        // and nothing is warned about where there is nothing
        let plain = app.post(&format!("/api/v1/children/{}/concerns", w.child_a1), t, json!({"domains": ["motor"], "observation": "valt vaak", "observed_since": "2026-10-01"})).await;
        assert!(plain.ok(201).get("warnings").is_none());
    }
);
