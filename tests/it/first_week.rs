//! An organisation's first week: what changes after the first day (capacity, leavers, a
//! guardian's authority, a child moving group or leaving, parent links, webhook secrets, the
//! request's message thread), each with its bad input refused and nothing changed by it. Who may
//! do each is swept from the attacker's side in `authz.rs`.

use crate::common::*;
use crate::consultations::{ctx, request, specialist};
use crate::db_test;
use kindbrug::audit::verify::verify_store;
use reqwest::Method;
use serde_json::{json, Value};

async fn patch(
    app: &TestApp,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: Value,
) -> Resp {
    let mut req = app
        .client
        .patch(format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&body);
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    Resp::from_response(req.send().await.unwrap()).await
}

/// Row counts of what a client can write, without the access log (a refusal is logged).
async fn data(app: &TestApp) -> Vec<(String, i64)> {
    let mut tables: Vec<&str> = WRITABLE_TABLES
        .iter()
        .copied()
        .filter(|t| *t != "audit_log")
        .collect();
    tables.extend([
        "consultations",
        "consultation_messages",
        "parent_links",
        "webhook_endpoints",
        "webhook_deliveries",
        "webhook_messages",
    ]);
    app.snapshot_of(&tables).await
}

fn etag(r: &Resp) -> String {
    r.headers["etag"].to_str().unwrap().to_string()
}

db_test!(
    async fn a_child_moves_group_with_the_etag_and_bad_changes_change_nothing(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let child = format!("/api/v1/children/{}", w.child_a1);
        let current = app.get(&child, t).await;
        let tag = etag(&current);
        let second = app.post(&format!("/api/v1/locations/{}/groups", w.loc_a1), &app.admin(), json!({"name": "Dolfijnen"})).await.id();
        let other_group = app.post(&format!("/api/v1/locations/{}/groups", w.loc_a2), &app.admin(), json!({"name": "Elders"})).await.id();
        let before = data(&app).await;
        // without If-Match, stale, a group of another location, a future-born child, unknown fields
        patch(&app, &child, t, None, json!({"group_id": second})).await.problem(428);
        patch(&app, &child, t, Some("\"99\""), json!({"group_id": second})).await.problem(412);
        let r = patch(&app, &child, t, Some(&tag), json!({"group_id": other_group})).await;
        r.problem(422);
        assert_eq!(r.error_fields(), vec!["group_id"]);
        let r = patch(&app, &child, t, Some(&tag), json!({"date_of_birth": "2099-01-01"})).await;
        r.problem(422);
        patch(&app, &child, t, Some(&tag), json!({"nickname": "x"})).await.problem(422);
        // a location the mentor does not work at answers like one that does not exist
        let r = patch(&app, &child, t, Some(&tag), json!({"location_id": w.loc_b1})).await;
        assert!(r.status.is_client_error(), "{}", r.text);
        assert_eq!(data(&app).await, before, "a refused change wrote something");
        // the move
        let moved = patch(&app, &child, t, Some(&tag), json!({"group_id": second})).await;
        assert_eq!(moved.ok(200)["group_id"], second.to_string());
        assert_ne!(etag(&moved), tag);
        // a group that is no longer used takes no child
        app.post(&format!("/api/v1/groups/{}/deactivate", w.group_a1), &app.admin(), json!({})).await.ok(200);
        let r = patch(&app, &child, t, Some(&etag(&moved)), json!({"group_id": w.group_a1})).await;
        r.problem(422);
    }
);

db_test!(
    async fn a_child_who_leaves_ends_open_requests_and_takes_nothing_new(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let open = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        let leave = format!("/api/v1/children/{}/leave", w.child_a1);
        let before = data(&app).await;
        let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(2)).to_string();
        let r = app.post(&leave, t, json!({"left_on": tomorrow})).await;
        r.problem(422);
        assert_eq!(r.error_fields(), vec!["left_on"]);
        app.post(&leave, t, json!({"left_on": "1999-01-01"})).await.problem(422);
        app.post(&leave, t, json!({"left_on": "gisteren"})).await.problem(422);
        app.post(&leave, &w.mentor_b1_token, json!({"left_on": "2026-11-30"})).await.problem(404);
        assert_eq!(data(&app).await, before, "a refused leave wrote something");

        let left = app.post(&leave, t, json!({"left_on": "2026-11-30"})).await;
        let left = left.ok(200);
        assert_eq!(left["child"]["left_on"], "2026-11-30");
        assert_eq!(left["cancelled_consultations"], json!([open.to_string()]));
        let r = app.get(&format!("/api/v1/consultations/{open}"), t).await;
        assert_eq!(r.ok(200)["status"], "cancelled");
        // the record is read, not changed
        app.get(&format!("/api/v1/children/{}", w.child_a1), t).await.ok(200);
        assert_eq!(app.post(&leave, t, json!({"left_on": "2026-11-30"})).await.problem(409), "child-left");
        let concern = app.post(&format!("/api/v1/children/{}/concerns", w.child_a1), t,
            json!({"domains": ["motor"], "observation": "x", "observed_since": "2026-01-01"})).await;
        assert_eq!(concern.problem(409), "child-left");
        assert_eq!(app.post("/api/v1/consultations", t, request(&c, "language")).await.problem(409), "child-left");
    }
);

db_test!(
    async fn a_guardians_authority_is_corrected_and_the_consent_rules_follow(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let tom = format!("/api/v1/children/{}/guardians/{}", w.child_a1, c.tom);
        app.get(&tom, t).await.ok(200);
        let before = data(&app).await;
        let r = patch(&app, &tom, t, None, json!({"has_parental_authority": true, "authority_source": "guessed"})).await;
        r.problem(422);
        let r = patch(&app, &tom, t, None, json!({"email": "geen-adres"})).await;
        assert_eq!(r.error_fields(), vec!["email"]);
        patch(&app, &tom, &w.mentor_b1_token, None, json!({"name": "x"})).await.problem(404);
        assert_eq!(data(&app).await, before, "a refused correction wrote something");

        let r = patch(&app, &tom, t, None, json!({"has_parental_authority": false})).await;
        let g = r.ok(200);
        assert_eq!(g["has_parental_authority"], false);
        assert!(g["authority_source"].is_null(), "{g}");
        // a new consent needs only the parent who holds authority now
        let check = app.get(&format!("/api/v1/children/{}/guardians", w.child_a1), t).await;
        let holders: Vec<_> = check.ok(200).as_array().unwrap().iter().filter(|g| g["has_parental_authority"] == true).map(|g| g["id"].clone()).collect();
        assert_eq!(holders, vec![json!(c.eva.to_string())]);
    }
);

db_test!(
    async fn staff_see_and_revoke_the_links_they_sent(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let created = app.post(&format!("/api/v1/children/{}/parent-links", w.child_a1), t, json!({"guardian_id": c.eva})).await;
        let link_id = created.id();
        let url = created.body["url"].as_str().unwrap().to_string();
        let path = url[url.find("/api/v1/parent/").unwrap()..].to_string();
        let list = app.get(&format!("/api/v1/children/{}/parent-links", w.child_a1), t).await;
        let items = list.ok(200).as_array().unwrap().clone();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], link_id.to_string());
        assert!(!list.text.contains(&url), "a list shows no link secret");
        app.request(Method::GET, &path, None, None).await.ok(200);

        let revoke = format!("/api/v1/parent-links/{link_id}/revoke");
        app.post(&revoke, &w.mentor_b1_token, json!({})).await.problem(404);
        app.post(&revoke, t, json!({})).await.ok(200);
        let opened = app.request(Method::GET, &path, None, None).await;
        assert!(opened.status.is_client_error(), "a revoked link opens nothing: {}", opened.status);
        assert!(!opened.text.contains("Noor"));
        let again = app.post(&revoke, t, json!({})).await;
        assert!(again.status.is_client_error());
    }
);

db_test!(
    async fn capacity_changes_and_a_leaver_hands_back_what_they_held(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let admin = app.admin();
        let t = &w.mentor_a1_token;
        // spec-1 is offered the request; a second specialist can take it over
        let (spec_2, _) = specialist(&app, w.youth, "spec-2", &["language"], &["JZ22"], 3).await;
        let id = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        let offered_to = app.get(&format!("/api/v1/consultations/{id}"), t).await.ok(200)["offered_to"].clone();
        let holder = offered_to.as_str().unwrap().to_string();
        let staff = format!("/api/v1/staff/{holder}");
        let before = data(&app).await;
        let r = patch(&app, &staff, &admin, None, json!({"capacity": 0})).await;
        assert_eq!(r.error_fields(), vec!["capacity"], "{}", r.text);
        patch(&app, &staff, &admin, None, json!({"capacity": -1})).await.problem(422);
        patch(&app, &staff, &admin, None, json!({"region_codes": ["JZ00"]})).await.problem(422);
        patch(&app, &staff, t, None, json!({"capacity": 9})).await.problem(403);
        assert_eq!(data(&app).await, before, "a refused change wrote something");
        let changed = patch(&app, &staff, &admin, None, json!({"capacity": 7})).await;
        assert_eq!(changed.ok(200)["capacity"], 7);

        let gone = app.post(&format!("{staff}/deactivate"), &admin, json!({})).await;
        let gone = gone.ok(200);
        assert_eq!(gone["rerouted"], json!([id.to_string()]));
        let now = app.get(&format!("/api/v1/consultations/{id}"), t).await;
        let now = now.ok(200);
        assert_ne!(now["offered_to"].as_str(), Some(holder.as_str()), "{now}");
        assert_eq!(now["offered_to"], spec_2.to_string());
        assert_eq!(app.post(&format!("{staff}/deactivate"), &admin, json!({})).await.problem(409), "inactive");
        // the leaver's token opens nothing any more
        let token = app.token(if holder == c.spec_1.to_string() { "spec-1" } else { "spec-2" }, &["specialist"], Some(w.youth));
        assert!(app.get(&format!("/api/v1/consultations/{id}"), &token).await.status.is_client_error());
    }
);

db_test!(
    async fn mentor_and_specialist_write_in_the_thread_and_no_one_else_reads_it(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        for org in [w.org_a, w.youth] {
            app.post(&format!("/api/v1/organizations/{org}/webhook-endpoints"), &app.admin(),
                json!({"url": "https://partner.example/hook", "events": ["consultation.message"], "signing": "hmac"})).await.ok(201);
        }
        let id = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        let thread = format!("/api/v1/consultations/{id}/messages");
        // offered, not yet taken: the specialist is no party
        app.post(&thread, &w.specialist_token, json!({"text": "vooraf"})).await.problem(404);
        app.post(&format!("/api/v1/consultations/{id}/accept"), &w.specialist_token, json!({})).await.ok(200);
        let before = data(&app).await;
        app.post(&thread, t, json!({"text": "  "})).await.problem(422);
        app.post(&thread, t, json!({"text": "x".repeat(10_001)})).await.problem(422);
        app.post(&thread, t, json!({"body": "verkeerd veld"})).await.problem(422);
        app.post(&thread, &w.mentor_a2_token, json!({"text": "andere locatie"})).await.problem(404);
        assert_eq!(data(&app).await, before, "a refused message wrote something");

        app.post(&thread, t, json!({"text": "Noor speelt nu vaker mee in de bouwhoek."})).await.ok(201);
        app.post(&thread, &w.specialist_token, json!({"text": "Mooi, ik kom donderdag kijken."})).await.ok(201);
        let read = app.get(&thread, &w.specialist_token).await;
        let items = read.ok(200).as_array().unwrap().clone();
        let texts: Vec<_> = items.iter().map(|m| m["text"].as_str().unwrap()).collect();
        assert_eq!(texts, vec!["Noor speelt nu vaker mee in de bouwhoek.", "Mooi, ik kom donderdag kijken."]);
        assert_eq!(items[0]["author_role"], "mentor");
        assert_eq!(items[1]["author_role"], "specialist");
        app.get(&thread, &w.mentor_b1_token).await.problem(404);
        // sealed at rest, and the webhook says only that there is a message
        let pool = app.raw_pool().await;
        let stored: Vec<String> = sqlx::query_scalar("SELECT body_sealed FROM consultation_messages").fetch_all(&pool).await.unwrap();
        let events: Vec<String> = sqlx::query_scalar("SELECT data FROM webhook_messages WHERE event_type = 'consultation.message'").fetch_all(&pool).await.unwrap();
        pool.close().await;
        assert!(stored.iter().all(|s| !s.contains("bouwhoek")));
        assert_eq!(events.len(), 4, "both sides hear of both messages");
        assert!(events.iter().all(|e| !e.contains("bouwhoek") && !e.contains("donderdag")), "{events:?}");
        // closed: the thread is read, not written
        app.post(&format!("/api/v1/consultations/{id}/close"), &w.specialist_token,
            json!({"outcome": "no_concern", "summary": "klaar", "parents_involved": true})).await.ok(200);
        assert_eq!(app.post(&thread, t, json!({"text": "nog iets"})).await.problem(409), "closed-or-paused");
    }
);

db_test!(
    async fn endpoints_change_stop_and_go_and_their_secret_rotates(app) {
        let w = app.world().await;
        let admin = app.admin();
        let created = app.post(&format!("/api/v1/organizations/{}/webhook-endpoints", w.org_a), &w.integration_a,
            json!({"url": "https://partner-a.example/hook", "events": ["consultation.*"], "signing": "hmac"})).await;
        let id = created.id();
        let first_secret = created.body["secret"].as_str().unwrap().to_string();
        let path = format!("/api/v1/webhook-endpoints/{id}");
        let before = data(&app).await;
        patch(&app, &path, &w.integration_a, None, json!({"url": "ftp://partner-a.example/hook"})).await.problem(422);
        patch(&app, &path, &w.integration_a, None, json!({"events": ["child.sold"]})).await.problem(422);
        patch(&app, &path, &w.integration_a, None, json!({})).await.problem(422);
        patch(&app, &path, &w.integration_a, None, json!({"status": "paused"})).await.problem(422);
        patch(&app, &path, &w.integration_b, None, json!({"status": "disabled"})).await.problem(404);
        app.post(&format!("{path}/rotate-secret"), &w.integration_a, json!({"overlap_hours": 169})).await.problem(422);
        assert_eq!(data(&app).await, before, "a refused change wrote something");

        let off = patch(&app, &path, &w.integration_a, None, json!({"status": "disabled"})).await;
        assert_eq!(off.ok(200)["status"], "disabled");
        let on = patch(&app, &path, &w.integration_a, None, json!({"status": "active", "events": ["*"]})).await;
        let on = on.ok(200);
        assert_eq!((on["status"].as_str(), on["events"].clone()), (Some("active"), json!(["*"])));
        assert!(on["disabled_reason"].is_null());

        let rotated = app.post(&format!("{path}/rotate-secret"), &w.integration_a, json!({"overlap_hours": 2})).await;
        let rotated = rotated.ok(200);
        let new_secret = rotated["secret"].as_str().unwrap();
        assert_ne!(new_secret, first_secret);
        assert!(rotated["previous_secret_valid_until"].is_string());
        let listed = app.get(&format!("/api/v1/organizations/{}/webhook-endpoints", w.org_a), &w.integration_a).await;
        assert!(!listed.text.contains(new_secret) && !listed.text.contains(&first_secret), "no secret in a list");
        assert!(listed.body[0]["previous_secret_valid_until"].is_string());
        // a leaked secret: rotate with no overlap, the old one stops at once
        let now = app.post(&format!("{path}/rotate-secret"), &admin, json!({"overlap_hours": 0})).await;
        assert!(now.ok(200)["previous_secret_valid_until"].is_null());

        app.request(Method::DELETE, &path, Some(&w.integration_b), None).await.problem(404);
        let gone = app.request(Method::DELETE, &path, Some(&w.integration_a), None).await;
        assert_eq!(gone.status, 204);
        app.get(&format!("{path}/attempts"), &w.integration_a).await.problem(404);
        assert_eq!(app.count("webhook_endpoints").await, 0);
    }
);

db_test!(
    async fn a_child_who_left_long_ago_is_purged_and_a_recent_leaver_stays(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let other = app.post("/api/v1/children", &w.integration_a,
            json!({"location_id": w.loc_a1, "external_ref": "K-2", "given_name": "Sem", "date_of_birth": "2023-03-03"})).await.id();
        app.post(&format!("/api/v1/children/{}/guardians", w.child_a1), t,
            json!({"name": "Eva", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.ok(201);
        app.post(&format!("/api/v1/children/{}/leave", w.child_a1), t, json!({"left_on": "2026-11-02"})).await.ok(200);
        // the first left long ago: past the two years childcare keeps a leaver's records
        app.exec_sql(&format!("UPDATE children SET left_on = '2024-10-31' WHERE id = {}", uuid_literal(&app, w.child_a1))).await;
        app.post(&format!("/api/v1/children/{other}/leave"), &w.integration_a, json!({"left_on": "2026-11-30"})).await.ok(200);
        let report = kindbrug::retention::run(&app.state.store, &app.state.config.retention, &app.state.audit_signer, &Default::default()).await.unwrap();
        assert_eq!(report.children_left, 1, "{report:?}");
        app.get(&format!("/api/v1/children/{}", w.child_a1), t).await.problem(404);
        assert_eq!(app.count("guardians").await, 0, "the guardians go with the child");
        app.get(&format!("/api/v1/children/{other}"), &w.integration_a).await.ok(200);
        assert!(verify_store(app.state.store.as_ref()).await.unwrap().is_ok(), "the access log still verifies");
    }
);

db_test!(
    async fn the_invitation_stays_the_parents_page_after_deciding_and_a_new_one_replaces_it(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let path = format!("/api/v1/children/{}/consent-invitations", w.child_a1);
        let invite = json!({"guardian_id": c.eva, "purpose": "referral", "recipient": {"organization_id": w.youth}, "information_version": "v1"});
        let first = app.post(&path, t, invite.clone()).await;
        let first = first.ok(201)["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        // a second invitation for the same guardian and purpose replaces the open one
        let second = app.post(&path, t, invite).await;
        let second = second.ok(201)["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
        let parent = |p: String| {
            let app = &app;
            async move { app.request(Method::GET, &p, None, None).await }
        };
        assert_eq!(parent(format!("/api/v1/parent/{first}")).await.problem(404), "link-unknown");
        let links = app.get(&format!("/api/v1/children/{}/parent-links", w.child_a1), t).await;
        let revoked = links.ok(200).as_array().unwrap().iter().filter(|l| !l["revoked_at"].is_null()).count();
        assert_eq!(revoked, 1, "the replaced link shows as revoked: {}", links.text);
        app.request(Method::POST, &format!("/api/v1/parent/{second}/decision"), None, Some(json!({"decision": "refused"}))).await.ok(201);
        // after deciding: the child's consents, the access log, and withdrawing, through the same link
        let consents = parent(format!("/api/v1/parent/{second}/consents")).await;
        let consents = consents.ok(200).as_array().unwrap().clone();
        assert!(consents.iter().any(|k| k["decision"] == "refused"), "{consents:?}");
        parent(format!("/api/v1/parent/{second}/access-log")).await.ok(200);
        let granted = consents.iter().find(|k| k["decision"] == "granted" && k["status"] == "active").expect("the consent both parents gave");
        let withdraw = format!("/api/v1/parent/{second}/consents/{}/withdraw", granted["id"].as_str().unwrap());
        app.request(Method::POST, &withdraw, None, Some(json!({}))).await.ok(200);
        let check = app.get(&format!("/api/v1/children/{}/consent-check?purpose=consultation&organization_id={}", w.child_a1, w.youth), t).await;
        assert_eq!(check.ok(200)["allowed"], false);
    }
);

db_test!(
    async fn staff_lists_filter_by_role_region_and_whether_still_active(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let admin = app.admin();
        let (leaver, _) = specialist(&app, w.youth, "spec-leaver", &["motor"], &["JZ14"], 2).await;
        app.post(&format!("/api/v1/staff/{leaver}/deactivate"), &admin, json!({})).await.ok(200);
        let list = |q: &str| {
            let app = &app;
            let url = format!("/api/v1/organizations/{}/staff{q}", w.youth);
            let admin = admin.clone();
            async move {
                let r = app.get(&url, &admin).await;
                r.ok(200)["items"].as_array().unwrap().iter().map(|s| s["subject"].as_str().unwrap().to_string()).collect::<Vec<_>>()
            }
        };
        assert!(list("?active=false").await == vec!["spec-leaver".to_string()]);
        assert!(!list("?active=true").await.contains(&"spec-leaver".to_string()));
        assert!(list("?region=JZ14").await.contains(&"spec-leaver".to_string()));
        assert!(!list("?region=JZ22").await.contains(&"spec-leaver".to_string()));
        assert!(list("?role=coordinator").await.is_empty());
        app.get(&format!("/api/v1/organizations/{}/staff?role=boss", w.youth), &admin).await.problem(400);
    }
);
