//! Parental consent over HTTP: the Dutch rules, withdrawal, parent links, Meldcode, attackers.

use crate::common::*;
use crate::db_test;
use serde_json::{json, Value};
use uuid::Uuid;

/// Two parents with authority for the world's child (3 years old).
async fn parents(app: &TestApp, w: &World) -> (Uuid, Uuid) {
    let g = format!("/api/v1/children/{}/guardians", w.child_a1);
    let eva = app
        .post(&g, &w.mentor_a1_token, json!({"name": "Eva", "relationship": "parent", "has_parental_authority": true, "authority_source": "gezagsregister"}))
        .await
        .id();
    let tom = app
        .post(&g, &w.mentor_a1_token, json!({"name": "Tom", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"}))
        .await
        .id();
    (eva, tom)
}

fn consent(w: &World, givers: Value, decision: &str) -> Value {
    json!({
        "purpose": "consultation",
        "recipient": {"organization_id": w.youth},
        "decision": decision,
        "given_by": givers,
        "method": "oral",
        "information_version": "alert4you-2026.1",
        "valid_from": "2026-01-01",
    })
}

fn check_path(w: &World, child: Uuid) -> String {
    format!(
        "/api/v1/children/{child}/consent-check?purpose=consultation&organization_id={}",
        w.youth
    )
}

db_test!(
    async fn both_parents_consent_to_a_consultation(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let path = format!("/api/v1/children/{}/consents", w.child_a1);
        // one parent is not enough for help, observation or coaching
        let r = app.post(&path, t, consent(&w, json!([{"guardian_id": eva}]), "granted")).await;
        assert_eq!(r.problem(422), "consent-rule");
        assert_eq!(r.body["rules"][0]["rule"], "all-guardians-must-consent");
        assert_eq!(app.count("consents").await, 0);
        let check = app.get(&check_path(&w, w.child_a1), t).await;
        let c = check.ok(200);
        assert_eq!(c["allowed"], false);
        assert_eq!(c["missing"].as_array().unwrap().len(), 2);
        assert_eq!(c["missing"][0]["name"], "Eva");

        let created = app.post(&path, t, consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted")).await;
        assert_eq!(created.ok(201)["status"], "active");
        let id = created.id();
        let check = app.get(&check_path(&w, w.child_a1), t).await;
        let c = check.ok(200);
        assert_eq!(c["allowed"], true, "{c}");
        assert_eq!(c["consent_id"], id.to_string());
        assert_eq!(c["age"], 3);
        // toward another organisation nothing is allowed
        let other = format!("/api/v1/children/{}/consent-check?purpose=consultation&organization_id={}", w.child_a1, w.org_b);
        assert_eq!(app.get(&other, t).await.ok(200)["allowed"], false);
        // nor for another purpose
        let referral = format!("/api/v1/children/{}/consent-check?purpose=referral&organization_id={}", w.child_a1, w.youth);
        assert_eq!(app.get(&referral, t).await.ok(200)["allowed"], false);
        let list = app.get(&path, t).await;
        let items = list.ok(200).as_array().unwrap().clone();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["method"], "oral");
        assert_eq!(items[0]["noted_by_staff_id"], w.mentor_a1.to_string());
        assert_eq!(items[0]["recorded_by"]["subject"], "mentor-a1");
    }
);

db_test!(
    async fn a_child_of_13_must_consent_too(app) {
        let w = app.world().await;
        let t = &w.mentor_a2_token;
        let born = chrono::Utc::now().date_naive() - chrono::Duration::days(13 * 365 + 100);
        let child = app
            .post("/api/v1/children", t, json!({"location_id": w.loc_a2, "external_ref": "B-13", "given_name": "Finn", "date_of_birth": born}))
            .await
            .id();
        let g = format!("/api/v1/children/{child}/guardians");
        let mum = app.post(&g, t, json!({"name": "Maud", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.id();
        let path = format!("/api/v1/children/{child}/consents");
        let r = app.post(&path, t, consent(&w, json!([{"guardian_id": mum}]), "granted")).await;
        r.problem(422);
        assert_eq!(r.body["rules"][0]["rule"], "child-must-consent-too");
        assert!(r.body["detail"].as_str().unwrap().contains("13"), "{}", r.text);
        app.post(&path, t, consent(&w, json!([{"guardian_id": mum}, {"child": true}]), "granted")).await.ok(201);
        assert_eq!(app.get(&check_path(&w, child), t).await.ok(200)["allowed"], true);
    }
);

db_test!(
    async fn guardians_without_authority_and_young_children_do_not_consent(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let g = format!("/api/v1/children/{}/guardians", w.child_a1);
        let mum = app.post(&g, t, json!({"name": "Sophie", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.id();
        let grandpa = app.post(&g, t, json!({"name": "Opa", "relationship": "other", "has_parental_authority": false})).await.id();
        let path = format!("/api/v1/children/{}/consents", w.child_a1);
        let r = app.post(&path, t, consent(&w, json!([{"guardian_id": grandpa}]), "granted")).await;
        assert_eq!(r.body["rules"][0]["rule"], "guardian-without-authority");
        let r = app.post(&path, t, consent(&w, json!([{"guardian_id": mum}, {"child": true}]), "granted")).await;
        assert_eq!(r.body["rules"][0]["rule"], "child-under-12");
        let r = app.post(&path, t, consent(&w, json!([{"guardian_id": Uuid::now_v7()}]), "granted")).await;
        assert_eq!(r.body["rules"][0]["rule"], "unknown-guardian");
        assert_eq!(app.count("consents").await, 0);
        // the one parent with authority suffices; grandpa's lack of authority is no obstacle
        app.post(&path, t, consent(&w, json!([{"guardian_id": mum}]), "granted")).await.ok(201);
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], true);
    }
);

db_test!(
    async fn withdrawal_holds_on_the_next_request(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let path = format!("/api/v1/children/{}/consents", w.child_a1);
        let id = app.post(&path, t, consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted")).await.id();
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], true);
        // someone who did not give it cannot withdraw it
        let r = app.post(&format!("/api/v1/consents/{id}/withdraw"), t, json!({"by": {"child": true}})).await;
        assert_eq!(r.body["rules"][0]["rule"], "not-a-giver");
        let r = app.post(&format!("/api/v1/consents/{id}/withdraw"), t, json!({"by": {"guardian_id": tom}, "reason": "we kiezen zelf hulp"})).await;
        let body = r.ok(200);
        assert_eq!(body["status"], "withdrawn");
        assert_eq!(body["withdrawal"]["by"]["guardian_id"], tom.to_string());
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], false);
        let again = app.post(&format!("/api/v1/consents/{id}/withdraw"), t, json!({"by": {"guardian_id": tom}})).await;
        assert_eq!(again.problem(409), "not-in-force");
        // the withdrawn record stays readable
        let list = app.get(&path, t).await;
        assert_eq!(list.ok(200)[0]["status"], "withdrawn");
    }
);

db_test!(
    async fn refusals_are_records_and_the_latest_decision_stands(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let path = format!("/api/v1/children/{}/consents", w.child_a1);
        let both = app.post(&path, t, consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted")).await.id();
        // Tom changes his mind: a refusal by one parent is always recordable and stops the use
        app.post(&path, t, consent(&w, json!([{"guardian_id": tom}]), "refused")).await.ok(201);
        let c = app.get(&check_path(&w, w.child_a1), t).await;
        assert_eq!(c.ok(200)["allowed"], false);
        assert_eq!(c.body["refused_by"][0]["guardian_id"], tom.to_string());
        // a refusal cannot be "withdrawn"; a new decision replaces it
        let list = app.get(&path, t).await;
        let refusal = list.ok(200).as_array().unwrap().iter().find(|c| c["decision"] == "refused").unwrap()["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/consents/{refusal}/withdraw"), t, json!({"by": {"guardian_id": tom}})).await.problem(409);
        let again = app.post(&path, t, consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted")).await;
        let superseded: Vec<String> = again.ok(201)["superseded"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert!(superseded.contains(&both.to_string()) && superseded.contains(&refusal));
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], true);
        let statuses: Vec<String> = app.get(&path, t).await.body.as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap().to_string()).collect();
        assert_eq!(statuses, ["superseded", "superseded", "active"]);
    }
);

db_test!(
    async fn bad_consent_input_writes_nothing(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let path = format!("/api/v1/children/{}/consents", w.child_a1);
        let good = consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted");
        let before = app.count("consents").await;
        let audit_before = app.count("audit_log WHERE outcome <> 'denied'").await;
        let mut cases: Vec<(Value, &str)> = Vec::new();
        let mut with = |k: &str, v: Value, field: &'static str| {
            let mut b = good.clone();
            b[k] = v;
            cases.push((b, field));
        };
        with("purpose", json!("marketing"), "purpose");
        with("recipient", json!({}), "recipient");
        with("recipient", json!({"organization_id": w.youth, "region_code": "JZ22"}), "recipient");
        with("recipient", json!({"region_code": "JZ99"}), "recipient.region_code");
        with("recipient", json!({"organization_id": w.org_b}), "recipient.organization_id");
        with("recipient", json!({"organization_id": w.youth, "name": "x"}), "recipient.name");
        with("given_by", json!([]), "given_by");
        with("given_by", json!([{"guardian_id": eva, "child": true}]), "given_by[0]");
        with("given_by", json!([{"guardian_id": eva}, {"guardian_id": eva}]), "given_by[1]");
        with("given_by", json!([{"child": false}]), "given_by[0]");
        with("decision", json!("maybe"), "decision");
        with("method", json!("telepathy"), "method");
        with("method", json!("written"), "evidence_ref");
        with("method", json!("digital"), "method");
        with("valid_until", json!("2025-12-31"), "valid_until");
        with("valid_from", json!("2026-13-01"), "valid_from");
        with("information_version", json!(""), "information_version");
        with("bsn", json!("123456782"), "bsn");
        for (body, field) in cases {
            let r = app.post(&path, t, body.clone()).await;
            r.problem(422);
            assert!(r.error_fields().iter().any(|f| f == field), "{field} not in {:?} for {body}", r.error_fields());
        }
        app.post_raw(&path, t, "application/json", "{\"purpose\":").await.problem(400);
        app.get(&format!("/api/v1/children/{}/consent-check?purpose=consultation", w.child_a1), t).await.problem(422);
        app.get(&format!("/api/v1/children/{}/consent-check?purpose=dating&organization_id={}", w.child_a1, w.youth), t).await.problem(400);
        app.post(&format!("/api/v1/consents/{}/withdraw", Uuid::now_v7()), t, json!({"by": {"guardian_id": eva}})).await.problem(404);
        assert_eq!(app.count("consents").await, before);
        // refused attempts are logged (NEN 7513), as refused, and nothing else
        assert_eq!(app.count("audit_log WHERE outcome <> 'denied'").await, audit_before);
    }
);

db_test!(
    async fn region_consent_covers_the_specialists_of_that_region(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let mut body = consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted");
        body["recipient"] = json!({"region_code": "JZ22"});
        app.post(&format!("/api/v1/children/{}/consents", w.child_a1), t, body).await.ok(201);
        // the youth-care provider has a specialist in JZ22, where the child's KDV lies
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], true);
        let by_region = format!("/api/v1/children/{}/consent-check?purpose=consultation&region_code=JZ22", w.child_a1);
        assert_eq!(app.get(&by_region, t).await.ok(200)["allowed"], true);
        let other_region = format!("/api/v1/children/{}/consent-check?purpose=consultation&region_code=JZ14", w.child_a1);
        assert_eq!(app.get(&other_region, t).await.ok(200)["allowed"], false);
    }
);

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

db_test!(
    async fn parents_decide_through_invitations(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let invite = |guardian: Uuid| {
            json!({"guardian_id": guardian, "purpose": "consultation", "recipient": {"organization_id": w.youth}, "information_version": "alert4you-2026.1"})
        };
        let path = format!("/api/v1/children/{}/consent-invitations", w.child_a1);
        let link = app.post(&path, t, invite(eva)).await;
        let url = link.ok(201)["url"].as_str().unwrap().to_string();
        let token = token_of(&url);
        // the token itself is nowhere in the database
        assert_eq!(app.count(&format!("parent_links WHERE token_hash = '{token}'")).await, 0);
        let page = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{token}"), None, None).await;
        let p = page.ok(200);
        assert_eq!(p["kind"], "invitation");
        assert_eq!(p["child_given_name"], "Noor");
        assert_eq!(p["guardian_name"], "Eva");
        assert_eq!(p["asked"]["recipient_name"], "Jeugdhulp C");
        assert!(p["asked"]["explanation"].as_str().unwrap().contains("specialist"));
        let decide = |token: String, decision: &'static str| {
            let app = &app;
            async move { app.request(reqwest::Method::POST, &format!("/api/v1/parent/{token}/decision"), None, Some(json!({"decision": decision}))).await }
        };
        decide(token.clone(), "granted").await.ok(201);
        assert_eq!(decide(token.clone(), "refused").await.problem(409), "link-used");
        // Eva alone is not enough; Tom decides through his own link
        let c = app.get(&check_path(&w, w.child_a1), t).await;
        assert_eq!(c.ok(200)["allowed"], false);
        assert_eq!(c.body["missing"][0]["guardian_id"], tom.to_string());
        let tom_link = token_of(app.post(&path, t, invite(tom)).await.body["url"].as_str().unwrap());
        decide(tom_link, "granted").await.ok(201);
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], true);
        let list = app.get(&format!("/api/v1/children/{}/consents", w.child_a1), t).await;
        assert!(list.ok(200).as_array().unwrap().iter().all(|c| c["method"] == "digital" && c["via_parent_link"] == true));

        // tampered, unknown and expired links
        let mut tampered = token.clone();
        tampered.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
        assert_eq!(decide(tampered, "granted").await.problem(404), "link-unknown");
        assert_eq!(decide("short".into(), "granted").await.problem(404), "link-unknown");
        let late = token_of(app.post(&path, t, invite(eva)).await.body["url"].as_str().unwrap());
        app.exec_sql("UPDATE parent_links SET expires_at = '2020-01-01T00:00:00+00:00' WHERE used_at IS NULL").await;
        let before = app.count("consents").await;
        assert_eq!(decide(late, "refused").await.problem(410), "link-expired");
        assert_eq!(app.count("consents").await, before);
        // bad input on the parent page
        let fresh = token_of(app.post(&path, t, invite(eva)).await.body["url"].as_str().unwrap());
        let r = app.request(reqwest::Method::POST, &format!("/api/v1/parent/{fresh}/decision"), None, Some(json!({"decision": "yes please"}))).await;
        r.problem(422);
        assert_eq!(app.count("consents").await, before);
        // an invitation is not a standing link
        let r = app.request(reqwest::Method::GET, &format!("/api/v1/parent/{fresh}/consents"), None, None).await;
        assert_eq!(r.problem(403), "link-not-for-this");
    }
);

db_test!(
    async fn the_standing_link_shows_consents_and_access_and_withdraws(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let consents = format!("/api/v1/children/{}/consents", w.child_a1);
        let id = app.post(&consents, t, consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted")).await.id();
        // another child, read by its mentor: must never show up in Eva's view
        let other = app
            .post("/api/v1/children", &w.mentor_a2_token, json!({"location_id": w.loc_a2, "external_ref": "B-9", "given_name": "Sem", "date_of_birth": "2018-04-04"}))
            .await
            .id();
        app.get(&format!("/api/v1/children/{other}"), &w.mentor_a2_token).await.ok(200);
        let link = app.post(&format!("/api/v1/children/{}/parent-links", w.child_a1), t, json!({"guardian_id": eva})).await;
        let token = token_of(link.ok(201)["url"].as_str().unwrap());
        let get = |p: String| {
            let app = &app;
            async move { app.request(reqwest::Method::GET, &p, None, None).await }
        };
        let list = get(format!("/api/v1/parent/{token}/consents")).await;
        assert_eq!(list.ok(200)[0]["id"], id.to_string());
        // a consent of another child is not reachable through this link
        let sem_guardian = app
            .post(&format!("/api/v1/children/{other}/guardians"), &w.mentor_a2_token, json!({"name": "Joost", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"}))
            .await
            .id();
        let mut sem_consent = consent(&w, json!([{"guardian_id": sem_guardian}]), "granted");
        sem_consent["method"] = json!("written");
        sem_consent["evidence_ref"] = json!("scan-77");
        let other_consent = app.post(&format!("/api/v1/children/{other}/consents"), &w.mentor_a2_token, sem_consent).await.id();
        let r = app.request(reqwest::Method::POST, &format!("/api/v1/parent/{token}/consents/{other_consent}/withdraw"), None, Some(json!({}))).await;
        r.problem(404);
        // Eva withdraws her consent herself: at once
        let r = app.request(reqwest::Method::POST, &format!("/api/v1/parent/{token}/consents/{id}/withdraw"), None, Some(json!({"reason": "liever niet"}))).await;
        assert_eq!(r.ok(200)["status"], "withdrawn");
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], false);
        let again = app.request(reqwest::Method::POST, &format!("/api/v1/parent/{token}/consents/{id}/withdraw"), None, Some(json!({}))).await;
        again.problem(409);
        // her view of the access log: the mentor's accesses and her own, nothing of Sem
        let log = get(format!("/api/v1/parent/{token}/access-log?limit=200")).await;
        let entries = log.ok(200)["items"].as_array().unwrap().clone();
        assert!(entries.iter().any(|e| e["who"] == "mentor-a1" && e["organization"] == "Kinderopvang A" && e["role"] == "mentor"));
        assert!(entries.iter().any(|e| e["who"] == "u zelf" && e["what"] == "consent" && e["action"] == "update"));
        assert!(!log.text.contains("mentor-a2") && !log.text.contains("Sem"));
        // a standing link decides nothing
        let r = app.request(reqwest::Method::POST, &format!("/api/v1/parent/{token}/decision"), None, Some(json!({"decision": "granted"}))).await;
        r.problem(403);
    }
);

db_test!(
    async fn meldcode_is_flagged_and_unlocks_nothing(app) {
        let w = app.world().await;
        parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let path = format!("/api/v1/children/{}/veilig-thuis-reports", w.child_a1);
        let body = json!({"legal_basis": "wmo_2015_art_5_2_6", "reason": "signalen", "consulted": "aandachtsfunctionaris", "weighing": "stap 4 en 5 van de meldcode"});
        let mut bad = body.clone();
        bad["legal_basis"] = json!("because");
        app.post(&path, t, bad).await.problem(422);
        let mut empty = body.clone();
        empty["weighing"] = json!(" ");
        app.post(&path, t, empty).await.problem(422);
        app.post(&path, t, body).await.ok(201);
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], false);
        let flagged = app.get("/api/v1/audit?flag=meldcode", &app.admin()).await;
        let items = flagged.ok(200)["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["action"], "transfer");
        assert!(!flagged.text.contains("signalen"), "no free text in the log");
        app.get(&path, &w.mentor_b1_token).await.problem(404);
        assert_eq!(app.get(&path, t).await.ok(200)[0]["consulted"], "aandachtsfunctionaris");
    }
);

db_test!(
    async fn attackers_see_and_change_no_consent(app) {
        let w = app.world().await;
        let (eva, tom) = parents(&app, &w).await;
        let t = &w.mentor_a1_token;
        let path = format!("/api/v1/children/{}/consents", w.child_a1);
        let id = app.post(&path, t, consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "granted")).await.id();
        let before = app.count("consents").await;
        let links_before = app.count("parent_links").await;
        for (who, token) in [
            ("mentor of another location", &w.mentor_a2_token),
            ("mentor of another organisation", &w.mentor_b1_token),
            ("integration of another organisation", &w.integration_b),
            ("specialist", &w.specialist_token),
            ("admin", &app.admin()),
        ] {
            for r in [
                app.get(&path, token).await,
                app.get(&check_path(&w, w.child_a1), token).await,
                app.post(&path, token, consent(&w, json!([{"guardian_id": eva}, {"guardian_id": tom}]), "refused")).await,
                app.post(&format!("/api/v1/consents/{id}/withdraw"), token, json!({"by": {"guardian_id": eva}})).await,
                app.post(&format!("/api/v1/children/{}/parent-links", w.child_a1), token, json!({"guardian_id": eva})).await,
                app.post(
                    &format!("/api/v1/children/{}/consent-invitations", w.child_a1),
                    token,
                    json!({"guardian_id": eva, "purpose": "consultation", "recipient": {"organization_id": w.youth}, "information_version": "v1"}),
                )
                .await,
            ] {
                assert!(matches!(r.status.as_u16(), 403 | 404), "{who}: {} {}", r.status, r.text);
                assert!(!r.text.contains("Eva"), "{who} learned a name");
            }
        }
        assert_eq!(app.count("consents").await, before);
        assert_eq!(app.count("parent_links").await, links_before);
        assert_eq!(app.get(&check_path(&w, w.child_a1), t).await.ok(200)["allowed"], true);
    }
);

db_test!(
    async fn from_16_the_young_person_decides_and_one_parent_may_share_information(app) {
        let w = app.world().await;
        let t = &w.integration_a;
        let born = chrono::Utc::now().date_naive() - chrono::Duration::days(16 * 365 + 60);
        let child = app
            .post("/api/v1/children", t, json!({"location_id": w.loc_a2, "external_ref": "Y-16", "given_name": "Lisa", "date_of_birth": born}))
            .await
            .id();
        let g = format!("/api/v1/children/{child}/guardians");
        let mum = app.post(&g, t, json!({"name": "Mam", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.id();
        let dad = app.post(&g, t, json!({"name": "Pap", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.id();
        let path = format!("/api/v1/children/{child}/consents");
        let mut parents_only = consent(&w, json!([{"guardian_id": mum}, {"guardian_id": dad}]), "granted");
        parents_only["method"] = json!("written");
        parents_only["evidence_ref"] = json!("form-16");
        let r = app.post(&path, t, parents_only.clone()).await;
        assert_eq!(r.body["rules"][0]["rule"], "young-person-consents", "{}", r.text);
        // judged not competent: the parents decide
        let mut not_competent = parents_only.clone();
        not_competent["child_not_competent"] = json!(true);
        let r = app.post(&path, t, not_competent.clone()).await;
        assert_eq!(r.error_fields(), ["child_not_competent"], "who judged it, when and why");
        not_competent["child_not_competent"] = json!({"judged_by": "J. de Vries, orthopedagoog", "judged_on": "2026-01-05", "reason": "kan de gevolgen niet overzien"});
        app.post(&path, t, not_competent).await.ok(201);
        assert_eq!(app.get(&check_path(&w, child), t).await.ok(200)["allowed"], true);
        // the young person alone, for another recipient region
        let mut alone = parents_only.clone();
        alone["given_by"] = json!([{"child": true}]);
        alone["recipient"] = json!({"region_code": "JZ14"});
        app.post(&path, t, alone).await.ok(201);

        // information sharing: one parent suffices only without signs of disagreement
        let mut info = parents_only.clone();
        info["purpose"] = json!("information_sharing");
        info["given_by"] = json!([{"child": true}, {"guardian_id": mum}]);
        info["child_not_competent"] = json!({"judged_by": "J. de Vries, orthopedagoog", "judged_on": "2026-01-05", "reason": "kan de gevolgen niet overzien"});
        let r = app.post(&path, t, info.clone()).await;
        assert_eq!(r.body["rules"][0]["rule"], "all-guardians-must-consent", "{}", r.text);
        info["no_signs_of_disagreement"] = json!(true);
        app.post(&path, t, info).await.ok(201);
        let check = format!("/api/v1/children/{child}/consent-check?purpose=information_sharing&organization_id={}", w.youth);
        assert_eq!(app.get(&check, t).await.ok(200)["allowed"], true);
    }
);
