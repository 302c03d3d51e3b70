//! Children, guardians, mentors: the happy path, bad input, and attackers.

use crate::common::TEST_BODY_LIMIT;
use crate::db_test;
use serde_json::json;

db_test!(
    async fn register_read_and_list(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let child = app.get(&format!("/api/v1/children/{}", w.child_a1), t).await;
        let body = child.ok(200);
        assert_eq!(body["given_name"], "Noor");
        assert_eq!(body["external_ref"], "A-1");
        assert_eq!(body["date_of_birth"], "2023-03-01");
        assert_eq!(body["location_id"], w.loc_a1.to_string());
        assert!(body.get("bsn").is_none());
        assert_eq!(child.headers["etag"], "\"1\"");

        // the organisation's own system sees it too, in the organisation-wide list
        let list = app.get("/api/v1/children", &w.integration_a).await;
        assert_eq!(list.ok(200)["items"].as_array().unwrap().len(), 1);
        let list = app.get(&format!("/api/v1/children?location_id={}", w.loc_a1), t).await;
        assert_eq!(list.ok(200)["items"][0]["id"], w.child_a1.to_string());
        // without a location a mentor sees the children of their own locations, no others
        app.post("/api/v1/children", &w.integration_a,
            serde_json::json!({"location_id": w.loc_a2, "external_ref": "A-2", "given_name": "Elders", "date_of_birth": "2023-03-01"})).await.ok(201);
        let own = app.get("/api/v1/children", t).await;
        let ids: Vec<_> = own.ok(200)["items"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
        assert_eq!(ids, vec![serde_json::json!(w.child_a1.to_string())]);
        // roles without children of their own get no list
        app.get("/api/v1/children", &w.specialist_token).await.problem(403);
    }
);

db_test!(
    async fn pages_through_children(app) {
        let w = app.world().await;
        for i in 0..6 {
            app.post(
                "/api/v1/children",
                &w.integration_a,
                json!({"location_id": w.loc_a2, "external_ref": format!("B-{i}"), "given_name": "Kind", "date_of_birth": "2017-06-01"}),
            )
            .await
            .ok(201);
        }
        let mut seen = Vec::new();
        let mut path = format!("/api/v1/children?location_id={}&limit=4", w.loc_a2);
        loop {
            let page = app.get(&path, &w.mentor_a2_token).await;
            let body = page.ok(200).clone();
            for c in body["items"].as_array().unwrap() {
                seen.push(c["id"].as_str().unwrap().to_string());
            }
            match body["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/children?location_id={}&limit=4&cursor={c}", w.loc_a2),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (6, 6));
        app.get(&format!("/api/v1/children?location_id={}&cursor=garbage", w.loc_a2), &w.mentor_a2_token).await.problem(400);
        app.get(&format!("/api/v1/children?location_id={}&limit=0", w.loc_a2), &w.mentor_a2_token).await.problem(400);
        app.get(&format!("/api/v1/children?location_id={}&limit=201", w.loc_a2), &w.mentor_a2_token).await.problem(400);
    }
);

db_test!(
    async fn bad_input_changes_nothing(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let before = app.snapshot().await;
        let base = json!({"location_id": w.loc_a1, "external_ref": "A-2", "given_name": "Sem", "date_of_birth": "2022-01-01"});
        let with = |k: &str, v: serde_json::Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        let without = |k: &str| {
            let mut b = base.clone();
            b.as_object_mut().unwrap().remove(k);
            b
        };
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (with("bsn", json!("123456782")), "bsn"),
            (without("given_name"), "body"),
            (with("date_of_birth", json!("2022-02-30")), "date_of_birth"),
            (with("date_of_birth", json!("01-01-2022")), "date_of_birth"),
            (with("date_of_birth", json!("2099-01-01")), "date_of_birth"),
            (with("date_of_birth", json!("1990-01-01")), "date_of_birth"),
            (with("given_name", json!("   ")), "given_name"),
            (with("given_name", json!(12)), "given_name"),
            (with("external_ref", json!("x".repeat(65))), "external_ref"),
            (with("location_id", json!("not-a-uuid")), "location_id"),
            (with("location_id", json!(uuid::Uuid::now_v7())), "location_id"),
            (with("group_id", json!(uuid::Uuid::now_v7())), "group_id"),
        ];
        for (body, field) in cases {
            let r = app.post("/api/v1/children", t, body.clone()).await;
            r.problem(422);
            let fields = r.error_fields();
            assert!(fields.iter().any(|f| f == field), "{field} not in {fields:?} for {body}");
            assert!(!r.text.contains("123456782") && !r.text.contains("2022-02-30"), "echoes input: {}", r.text);
        }
        // malformed JSON, wrong content type, oversized body
        let r = app.post_raw("/api/v1/children", t, "application/json", "{\"location_id\": ").await;
        assert_eq!(r.problem(400), "malformed-json");
        app.post_raw("/api/v1/children", t, "text/plain", base.to_string()).await.problem(415);
        let huge = json!({"location_id": w.loc_a1, "external_ref": "A-3", "given_name": "x".repeat(TEST_BODY_LIMIT + 1), "date_of_birth": "2022-01-01"});
        app.post("/api/v1/children", t, huge).await.problem(413);
        // guardians: wrong enum, missing authority source, bad contact details
        let g = format!("/api/v1/children/{}/guardians", w.child_a1);
        let r = app.post(&g, t, json!({"name": "Eva", "relationship": "aunt", "has_parental_authority": false})).await;
        r.problem(422);
        assert_eq!(r.error_fields(), ["relationship"]);
        let r = app.post(&g, t, json!({"name": "Eva", "relationship": "parent", "has_parental_authority": true})).await;
        assert_eq!(r.error_fields(), ["authority_source"]);
        let r = app
            .post(&g, t, json!({"name": "Eva", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared", "email": "eva", "phone": "bel maar"}))
            .await;
        assert_eq!(r.error_fields(), ["email", "phone"]);
        // mentor change: unknown staff, date in the future, malformed If-Match
        let m = format!("/api/v1/children/{}/mentor", w.child_a1);
        app.put(&m, t, json!({"staff_id": uuid::Uuid::now_v7()})).await.problem(422);
        app.put(&m, t, json!({"staff_id": w.mentor_a1, "parents_informed_at": "2999-01-01T00:00:00Z"})).await.problem(422);
        app.put(&m, t, json!({"staff_id": w.mentor_a1, "parents_informed_at": "yesterday"})).await.problem(422);
        // unknown and malformed ids
        app.get(&format!("/api/v1/children/{}", uuid::Uuid::now_v7()), t).await.problem(404);
        app.get("/api/v1/children/123", t).await.problem(400);
        app.get(&format!("/api/v1/children?location_id={}&colour=red", w.loc_a1), t).await.problem(400);
        assert_eq!(app.snapshot().await, before);
    }
);

db_test!(
    async fn duplicate_reference_is_a_conflict(app) {
        let w = app.world().await;
        let body = json!({"location_id": w.loc_a2, "external_ref": "A-1", "given_name": "Twee", "date_of_birth": "2016-01-01"});
        let r = app.post("/api/v1/children", &w.integration_a, body.clone()).await;
        assert_eq!(r.problem(409), "duplicate");
        // the same reference in another organisation is another child
        let mut b = body;
        b["location_id"] = json!(w.loc_b1);
        app.post("/api/v1/children", &w.integration_b, b).await.ok(201);
    }
);

db_test!(
    async fn mentor_history_and_if_match(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let admin = app.admin();
        let second = app
            .post(&format!("/api/v1/organizations/{}/staff", w.org_a), &admin, json!({"subject": "mentor-a1-2", "name": "Twee", "role": "mentor", "location_ids": [w.loc_a1]}))
            .await
            .id();
        let m = format!("/api/v1/children/{}/mentor", w.child_a1);
        let first = app.put(&m, t, json!({"staff_id": w.mentor_a1, "parents_informed_at": "2026-01-05T09:00:00+01:00"})).await;
        first.ok(200);
        assert_eq!(first.headers["etag"], "\"2\"");
        // stale ETag
        let stale = app
            .client
            .put(format!("{}{m}", app.base))
            .bearer_auth(t)
            .header("if-match", "\"1\"")
            .json(&json!({"staff_id": second}))
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 412);
        let fresh = app
            .client
            .put(format!("{}{m}", app.base))
            .bearer_auth(t)
            .header("if-match", "\"2\"")
            .json(&json!({"staff_id": second}))
            .send()
            .await
            .unwrap();
        assert_eq!(fresh.status(), 200);
        let history = app.get(&m, t).await;
        let h = history.ok(200).as_array().unwrap().clone();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0]["staff_id"], second.to_string());
        assert!(h[0]["ended_at"].is_null());
        assert_eq!(h[1]["staff_id"], w.mentor_a1.to_string());
        assert!(!h[1]["ended_at"].is_null());
        assert_eq!(h[1]["parents_informed_at"], "2026-01-05T08:00:00Z");
        let child = app.get(&format!("/api/v1/children/{}", w.child_a1), t).await;
        assert_eq!(child.ok(200)["mentor_staff_id"], second.to_string());
        // a mentor of another location cannot become this child's mentor
        let other = app.get(&format!("/api/v1/organizations/{}/staff", w.org_a), &admin).await;
        let a2 = other.ok(200)["items"].as_array().unwrap().iter().find(|s| s["subject"] == "mentor-a2").unwrap()["id"].as_str().unwrap().to_string();
        let r = app.put(&m, t, json!({"staff_id": a2})).await;
        assert_eq!(r.error_fields(), ["staff_id"]);
    }
);

db_test!(
    async fn guardians_are_recorded_with_their_authority(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let g = format!("/api/v1/children/{}/guardians", w.child_a1);
        app.post(&g, t, json!({"name": "Eva Visser", "relationship": "parent", "has_parental_authority": true, "authority_source": "gezagsregister", "email": "eva@example.nl", "phone": "+31 6 12345678"}))
            .await
            .ok(201);
        app.post(&g, t, json!({"name": "Opa Visser", "relationship": "other", "has_parental_authority": false})).await.ok(201);
        let list = app.get(&g, t).await;
        let items = list.ok(200).as_array().unwrap().clone();
        assert_eq!(items.len(), 2);
        let eva = items.iter().find(|g| g["name"] == "Eva Visser").unwrap();
        assert_eq!(eva["has_parental_authority"], true);
        assert_eq!(eva["authority_source"], "gezagsregister");
    }
);

db_test!(
    async fn attackers_read_and_change_nothing(app) {
        let w = app.world().await;
        let child = w.child_a1;
        let policy = app.token("policy-a", &["policy"], Some(w.org_a));
        let admin = app.admin();
        let attackers = [
            ("mentor of another location", w.mentor_a2_token.clone()),
            ("mentor of another organisation", w.mentor_b1_token.clone()),
            ("integration of another organisation", w.integration_b.clone()),
            ("specialist", w.specialist_token.clone()),
            ("policy", policy),
            ("admin", admin),
            ("mentor token claiming org A without a staff record", app.token("intruder", &["mentor"], Some(w.org_a))),
            ("mentor B1 claiming org A", app.token("mentor-b1", &["mentor"], Some(w.org_a))),
        ];
        let before: Vec<_> = app.snapshot().await.into_iter().filter(|(t, _)| t != "audit_log").collect();
        for (who, token) in &attackers {
            let reads = [
                format!("/api/v1/children/{child}"),
                format!("/api/v1/children/{child}/guardians"),
                format!("/api/v1/children/{child}/mentor"),
            ];
            for path in &reads {
                let r = app.get(path, token).await;
                assert!(matches!(r.status.as_u16(), 403 | 404), "{who} GET {path}: {}", r.text);
                assert!(!r.text.contains("Noor"), "{who} saw the child: {}", r.text);
            }
            let r = app.get(&format!("/api/v1/children?location_id={}", w.loc_a1), token).await;
            assert!(matches!(r.status.as_u16(), 403 | 404), "{who} listed A1: {}", r.text);
            assert!(!r.text.contains("Noor"));
            let r = app.put(&format!("/api/v1/children/{child}/mentor"), token, json!({"staff_id": w.mentor_a1})).await;
            assert!(matches!(r.status.as_u16(), 403 | 404), "{who} changed the mentor: {}", r.text);
            let r = app
                .post(&format!("/api/v1/children/{child}/guardians"), token, json!({"name": "X", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"}))
                .await;
            assert!(matches!(r.status.as_u16(), 403 | 404), "{who} added a guardian: {}", r.text);
            let r = app
                .post("/api/v1/children", token, json!({"location_id": w.loc_a1, "external_ref": format!("X-{who}"), "given_name": "X", "date_of_birth": "2022-01-01"}))
                .await;
            assert!(matches!(r.status.as_u16(), 403 | 404 | 422), "{who} registered a child at A1: {}", r.text);
        }
        let after: Vec<_> = app.snapshot().await.into_iter().filter(|(t, _)| t != "audit_log").collect();
        assert_eq!(before, after);
        // an attempt on an existing child is answered exactly like a child that does not exist
        let missing = app.get(&format!("/api/v1/children/{}", uuid::Uuid::now_v7()), &w.mentor_b1_token).await;
        let refused = app.get(&format!("/api/v1/children/{child}"), &w.mentor_b1_token).await;
        assert_eq!((missing.status, &missing.body["detail"]), (refused.status, &refused.body["detail"]));
        // and it is in the access log as refused
        let log = app.get(&format!("/api/v1/audit?child_id={child}&limit=200"), &app.admin()).await;
        let denied = log.ok(200)["items"].as_array().unwrap().iter().filter(|e| e["outcome"] == "denied").count();
        assert!(denied >= 6, "refused attempts are logged ({denied})");
    }
);
