//! Concerns and consultation requests: consent, routing, decline and deadline, the
//! coordinator's queue, capacity under concurrency, withdrawal, idempotency, attackers.

use crate::common::*;
use crate::db_test;
use serde_json::{json, Value};
use uuid::Uuid;

pub struct Ctx {
    pub w: World,
    pub eva: Uuid,
    pub tom: Uuid,
    pub concern: Uuid,
    pub consent: Uuid,
    pub spec_1: Uuid,
}

/// The world's child with both parents' consent toward the youth-care provider and a concern.
pub async fn ctx(app: &TestApp) -> Ctx {
    let w = app.world().await;
    let t = &w.mentor_a1_token;
    let g = format!("/api/v1/children/{}/guardians", w.child_a1);
    let eva = app.post(&g, t, json!({"name": "Eva", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.id();
    let tom = app.post(&g, t, json!({"name": "Tom", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.id();
    let concern = app
        .post(
            &format!("/api/v1/children/{}/concerns", w.child_a1),
            t,
            json!({"domains": ["language", "social_emotional"], "observation": "zegt weinig, speelt alleen", "observed_since": "2026-09-01"}),
        )
        .await
        .id();
    let consent = grant(app, &w, w.child_a1, &[eva, tom]).await;
    let staff = app
        .get(
            &format!("/api/v1/organizations/{}/staff", w.youth),
            &app.admin(),
        )
        .await;
    let spec_1 = staff.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subject"] == "spec-1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    Ctx {
        w,
        eva,
        tom,
        concern,
        consent,
        spec_1,
    }
}

pub async fn grant(app: &TestApp, w: &World, child: Uuid, guardians: &[Uuid]) -> Uuid {
    let given: Vec<Value> = guardians
        .iter()
        .map(|g| json!({"guardian_id": g}))
        .collect();
    let token = if child == w.child_a1 {
        &w.mentor_a1_token
    } else {
        &w.integration_a
    };
    app.post(
        &format!("/api/v1/children/{child}/consents"),
        token,
        json!({"purpose": "consultation", "recipient": {"organization_id": w.youth}, "decision": "granted", "given_by": given,
               "method": "oral", "noted_by_staff_id": w.mentor_a1, "information_version": "v1", "valid_from": "2026-01-01"}),
    )
    .await
    .id()
}

pub fn request(c: &Ctx, expertise: &str) -> Value {
    json!({"child_id": c.w.child_a1, "concern_id": c.concern, "question": "Hoe kan Noor meer meedoen in de groep?", "expertise": expertise, "urgency": "normal"})
}

/// Adds a specialist to an organisation; returns (staff id, token).
pub async fn specialist(
    app: &TestApp,
    org: Uuid,
    sub: &str,
    expertise: &[&str],
    regions: &[&str],
    capacity: i64,
) -> (Uuid, String) {
    let id = app
        .post(
            &format!("/api/v1/organizations/{org}/staff"),
            &app.admin(),
            json!({"subject": sub, "name": sub, "role": "specialist", "expertise": expertise, "region_codes": regions, "capacity": capacity}),
        )
        .await
        .id();
    (id, app.token(sub, &["specialist"], Some(org)))
}

db_test!(
    async fn without_consent_nothing_is_requested(app) {
        let w = app.world().await;
        let t = &w.mentor_a1_token;
        let concern = app
            .post(&format!("/api/v1/children/{}/concerns", w.child_a1), t, json!({"domains": ["motor"], "observation": "valt vaak", "observed_since": "2026-10-01"}))
            .await
            .id();
        let before = app.snapshot().await;
        let audit = app.count("audit_log").await;
        let r = app
            .post("/api/v1/consultations", t, json!({"child_id": w.child_a1, "concern_id": concern, "question": "Wat helpt?", "expertise": "language", "urgency": "high"}))
            .await;
        assert_eq!(r.problem(409), "consent-required");
        assert!(r.body["missing"].is_array());
        assert_eq!(app.count("consultations").await, 0);
        let without_log = |s: Vec<(String, i64)>| s.into_iter().filter(|(t, _)| t != "audit_log").collect::<Vec<_>>();
        assert_eq!(without_log(app.snapshot().await), without_log(before));
        // the refused attempt is in the access log, as refused
        assert_eq!(app.count("audit_log").await, audit + 1);
        assert_eq!(app.count("audit_log WHERE outcome = 'denied' AND resource_type = 'consultation'").await, 1);
    }
);

db_test!(
    async fn routing_picks_the_least_loaded_covered_specialist_of_the_region(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let other_provider = app.post("/api/v1/organizations", &app.admin(), json!({"name": "Jeugdhulp D", "kind": "youth_care"})).await.id();
        // not covered by consent (other provider), other expertise, other region, and a colleague
        specialist(&app, other_provider, "spec-d", &["language"], &["JZ22"], 5).await;
        specialist(&app, w.youth, "spec-motor", &["motor"], &["JZ22"], 5).await;
        specialist(&app, w.youth, "spec-amsterdam", &["language"], &["JZ14"], 5).await;
        let (spec_2, _) = specialist(&app, w.youth, "spec-2", &["language"], &["JZ22"], 3).await;
        let t = &w.mentor_a1_token;
        let first = app.post("/api/v1/consultations", t, request(&c, "language")).await;
        let body = first.ok(201).clone();
        assert_eq!(body["status"], "offered");
        let chosen_first: Uuid = body["offered_to"].as_str().unwrap().parse().unwrap();
        assert!([c.spec_1, spec_2].contains(&chosen_first));
        assert!(body["answer_due"].is_string());
        // the next request goes to the colleague, who is now the less loaded
        let second = app.post("/api/v1/consultations", t, request(&c, "language")).await;
        let chosen_second: Uuid = second.ok(201)["offered_to"].as_str().unwrap().parse().unwrap();
        assert_ne!(chosen_first, chosen_second);
        assert!([c.spec_1, spec_2].contains(&chosen_second));
        // the routing is recorded with its reasons
        let routing = app.get(&format!("/api/v1/consultations/{}/routing", body["id"].as_str().unwrap()), t).await;
        let decision = &routing.ok(200)["decisions"][0];
        assert_eq!(decision["trigger"], "submitted");
        assert!(decision["reason"].as_str().unwrap().contains("least loaded"));
        let verdicts: Vec<String> = decision["considered"].as_array().unwrap().iter().map(|v| v["verdict"].as_str().unwrap().to_string()).collect();
        assert!(verdicts.contains(&"not_covered_by_consent".to_string()));
        assert!(verdicts.contains(&"other_expertise".to_string()));
        // high urgency: a shorter deadline
        let mut urgent = request(&c, "language");
        urgent["urgency"] = json!("high");
        let third = app.post("/api/v1/consultations", t, urgent).await;
        let due_high: chrono::DateTime<chrono::Utc> = third.ok(201)["answer_due"].as_str().unwrap().parse().unwrap();
        let due_normal: chrono::DateTime<chrono::Utc> = body["answer_due"].as_str().unwrap().parse().unwrap();
        assert!(due_high < due_normal);
    }
);

db_test!(
    async fn declines_and_deadlines_move_on_until_the_coordinators_queue(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let (spec_2, spec_2_token) = specialist(&app, w.youth, "spec-2", &["language"], &["JZ22"], 3).await;
        let coordinator = app
            .post(&format!("/api/v1/organizations/{}/staff", w.youth), &app.admin(), json!({"subject": "coord", "name": "Coord", "role": "coordinator", "region_codes": ["JZ22"]}))
            .await
            .id();
        let _ = coordinator;
        let coord = app.token("coord", &["coordinator"], Some(w.youth));
        let t = &w.mentor_a1_token;
        let r = app.post("/api/v1/consultations", t, request(&c, "language")).await;
        let id = r.id();
        let first: Uuid = r.body["offered_to"].as_str().unwrap().parse().unwrap();
        let (first_token, second) = if first == c.spec_1 { (w.specialist_token.clone(), spec_2) } else { (spec_2_token.clone(), c.spec_1) };
        // a decline needs a reason, then moves on to the other specialist
        app.post(&format!("/api/v1/consultations/{id}/decline"), &first_token, json!({"reason": " "})).await.problem(422);
        let d = app.post(&format!("/api/v1/consultations/{id}/decline"), &first_token, json!({"reason": "geen ruimte deze maand"})).await;
        assert_eq!(d.ok(200)["offered_to"], second.to_string());
        assert_eq!(d.body["status"], "offered");
        // the one who declined cannot act on it any more
        app.post(&format!("/api/v1/consultations/{id}/accept"), &first_token, json!({})).await.problem(404);
        // the second lets the deadline pass: the job moves it on; nobody is left → the queue
        app.exec_sql("UPDATE consultations SET answer_due = '2020-01-01T00:00:00+00:00' WHERE status = 'offered'").await;
        let moved = kindbrug::api::consultations::expire_overdue_offers(&app.state).await.unwrap();
        assert_eq!(moved, 1);
        let now = app.get(&format!("/api/v1/consultations/{id}"), t).await;
        assert_eq!(now.ok(200)["status"], "unassigned");
        let routing = app.get(&format!("/api/v1/consultations/{id}/routing"), t).await;
        let kinds: Vec<&str> = routing.ok(200)["declines"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["declined", "expired"]);
        assert_eq!(routing.body["decisions"].as_array().unwrap().len(), 3);
        assert!(routing.body["decisions"][2]["chosen_staff_id"].is_null());
        // the slots are free again
        assert_eq!(app.count("staff WHERE open_count > 0").await, 0);
        // the coordinator sees it in the queue and assigns by hand
        let queue = app.get("/api/v1/consultations?status=unassigned", &coord).await;
        assert_eq!(queue.ok(200)["items"][0]["id"], id.to_string());
        let assigned = app.post(&format!("/api/v1/consultations/{id}/assign"), &coord, json!({"specialist_id": c.spec_1})).await;
        assert_eq!(assigned.ok(200)["status"], "accepted");
        assert_eq!(assigned.body["assigned_to"], c.spec_1.to_string());
        // assigning again is an illegal transition that names the status
        let again = app.post(&format!("/api/v1/consultations/{id}/assign"), &coord, json!({"specialist_id": spec_2})).await;
        assert_eq!(again.problem(409), "illegal-transition");
        assert_eq!(again.body["current_status"], "accepted");
        // and a mentor cannot cancel it after acceptance
        let cancel = app.post(&format!("/api/v1/consultations/{id}/cancel"), t, json!({"reason": "toch niet"})).await;
        assert_eq!(cancel.problem(409), "illegal-transition");
        let _ = spec_2_token;
    }
);

db_test!(
    async fn a_full_specialist_is_never_assigned(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        app.post(&format!("/api/v1/organizations/{}/staff", w.youth), &app.admin(), json!({"subject": "coord", "name": "C", "role": "coordinator", "region_codes": ["JZ22"]})).await.ok(201);
        let coord = app.token("coord", &["coordinator"], Some(w.youth));
        let (tiny, _) = specialist(&app, w.youth, "tiny", &["motor"], &["JZ22"], 1).await;
        let t = &w.mentor_a1_token;
        // motor: only "tiny"; the first takes its one slot, the second is queued
        let a = app.post("/api/v1/consultations", t, request(&c, "motor")).await;
        assert_eq!(a.ok(201)["offered_to"], tiny.to_string());
        let b = app.post("/api/v1/consultations", t, request(&c, "motor")).await;
        assert_eq!(b.ok(201)["status"], "unassigned");
        let r = app.post(&format!("/api/v1/consultations/{}/assign", b.id()), &coord, json!({"specialist_id": tiny})).await;
        assert_eq!(r.problem(409), "specialist-full");
        // the mentor cancels the first: the slot frees, the coordinator can assign
        app.post(&format!("/api/v1/consultations/{}/cancel", a.id()), t, json!({"reason": "ouders kiezen andere hulp"})).await.ok(200);
        app.post(&format!("/api/v1/consultations/{}/assign", b.id()), &coord, json!({"specialist_id": tiny})).await.ok(200);
    }
);

/// Parallel submissions on two gateway instances ("replicas") sharing one database never put
/// a specialist over capacity.
async fn capacity_holds_under_concurrency(backend: Backend) {
    let Some(app) = TestApp::on(backend).await else {
        return;
    };
    let c = ctx(&app).await;
    let w = &c.w;
    let (tiny, _) = specialist(&app, w.youth, "tiny", &["motor"], &["JZ22"], 2).await;
    // a second replica on the same database
    let replica = {
        let config = test_config(&app.db_url);
        let state = kindbrug::build_state(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(kindbrug::serve(state, listener, std::future::pending()));
        base
    };
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            replica.clone()
        };
        let client = client.clone();
        let token = w.mentor_a1_token.clone();
        let body = request(&c, "motor");
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/consultations"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()
        }));
    }
    let mut offered = 0;
    for t in tasks {
        let body = t.await.unwrap();
        if body["offered_to"] == tiny.to_string() {
            offered += 1;
        } else {
            assert_eq!(body["status"], "unassigned");
        }
    }
    assert_eq!(offered, 2, "exactly the capacity");
    assert_eq!(
        app.count("staff WHERE open_count = 2 AND capacity = 2")
            .await,
        1
    );
    assert_eq!(app.count("consultations").await, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_capacity_holds_under_concurrency() {
    capacity_holds_under_concurrency(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_capacity_holds_under_concurrency() {
    capacity_holds_under_concurrency(Backend::Postgres).await;
}

/// PostgreSQL: a submission does not queue behind a specialist whose row another transaction
/// holds (another request being offered to them at that moment): it takes the next ranked,
/// and the routing decision says why the first was passed over. With nothing held, the first
/// ranked is taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_routing_passes_over_a_specialist_taking_another_request() {
    use sqlx::{Connection, Executor};
    let Some(app) = TestApp::on(Backend::Postgres).await else {
        return;
    };
    let c = ctx(&app).await;
    let w = &c.w;
    let t = &w.mentor_a1_token;
    let (a, _) = specialist(&app, w.youth, "motor-a", &["motor"], &["JZ22"], 5).await;
    let (b, _) = specialist(&app, w.youth, "motor-b", &["motor"], &["JZ22"], 5).await;
    let first = app
        .post("/api/v1/consultations", t, request(&c, "motor"))
        .await;
    let first_to: Uuid = first.ok(201)["offered_to"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first_to == a || first_to == b);
    // the other is now the less loaded, ranked first; another transaction holds their row
    let ahead = if first_to == a { b } else { a };
    let mut holder = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    holder
        .execute(format!("SELECT id FROM staff WHERE id = '{ahead}' FOR UPDATE").as_str())
        .await
        .unwrap();
    let second = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app.post("/api/v1/consultations", t, request(&c, "motor")),
    )
    .await
    .expect("the submission did not wait for the held row");
    let second_id = second.id();
    assert_eq!(second.ok(201)["offered_to"], first_to.to_string());
    holder.execute("ROLLBACK").await.unwrap();
    let routing = app
        .get(&format!("/api/v1/consultations/{second_id}/routing"), t)
        .await;
    let reason = routing.ok(200)["decisions"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.ends_with("1 ranked higher passed over: taking another request at that same moment, or full by then"),
        "{reason}"
    );
    // nothing held: the least loaded is taken, as ranked
    let third = app
        .post("/api/v1/consultations", t, request(&c, "motor"))
        .await;
    assert_eq!(third.ok(201)["offered_to"], ahead.to_string());
    assert_eq!(
        app.count(&format!("staff WHERE id = '{first_to}' AND open_count = 2"))
            .await,
        1
    );
}

db_test!(
    async fn withdrawal_puts_open_requests_on_hold_and_consent_resumes_them(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let id = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        app.post(&format!("/api/v1/consultations/{id}/accept"), &w.specialist_token, json!({})).await.ok(200);
        app.get(&format!("/api/v1/consultations/{id}"), &w.specialist_token).await.ok(200);
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), t, json!({"by": {"guardian_id": c.tom}})).await.ok(200);
        let held = app.get(&format!("/api/v1/consultations/{id}"), t).await;
        assert_eq!(held.ok(200)["status"], "on_hold");
        assert_eq!(held.body["held_from"], "accepted");
        // the specialist's next request is refused, saying why
        let r = app.get(&format!("/api/v1/consultations/{id}"), &w.specialist_token).await;
        assert_eq!(r.problem(403), "consent-withdrawn");
        let list = app.get("/api/v1/consultations?assigned=me", &w.specialist_token).await;
        assert!(list.ok(200)["items"].as_array().unwrap().is_empty());
        // resuming needs consent in force again
        assert_eq!(app.post(&format!("/api/v1/consultations/{id}/resume"), t, json!({})).await.problem(409), "consent-required");
        let renewed = grant(&app, w, w.child_a1, &[c.eva, c.tom]).await;
        let back = app.post(&format!("/api/v1/consultations/{id}/resume"), t, json!({})).await;
        assert_eq!(back.ok(200)["status"], "accepted");
        app.get(&format!("/api/v1/consultations/{id}"), &w.specialist_token).await.ok(200);
        // and it now rests on the renewed consent: withdrawing that one holds it again
        app.post(&format!("/api/v1/consents/{renewed}/withdraw"), t, json!({"by": {"guardian_id": c.eva}})).await.ok(200);
        assert_eq!(app.get(&format!("/api/v1/consultations/{id}"), t).await.body["status"], "on_hold");
    }
);

db_test!(
    async fn idempotency_keys_return_the_stored_response(app) {
        let c = ctx(&app).await;
        let t = c.w.mentor_a1_token.clone();
        let send = |key: &'static str, body: Value| {
            let (client, base, t) = (app.client.clone(), app.base.clone(), t.clone());
            async move {
                let r = client.post(format!("{base}/api/v1/consultations")).bearer_auth(t).header("idempotency-key", key).json(&body).send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            }
        };
        let (s1, b1) = send("k-1", request(&c, "language")).await;
        let (s2, b2) = send("k-1", request(&c, "language")).await;
        assert_eq!((s1, s2), (201, 201));
        assert_eq!(b1, b2);
        let mut other = request(&c, "language");
        other["question"] = json!("Een andere vraag");
        let (s3, b3) = send("k-1", other).await;
        assert_eq!(s3, 422);
        assert_eq!(b3["type"], "urn:kindbrug:problem:idempotency-key-reused");
        assert_eq!(app.count("consultations").await, 1);
        // concurrent repeats create one request
        let mut tasks = Vec::new();
        for _ in 0..8 {
            tasks.push(tokio::spawn(send("k-2", request(&c, "language"))));
        }
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert!(status == 201 || (status == 409 && body["type"] == "urn:kindbrug:problem:idempotency-in-progress"), "{status} {body}");
            if status == 201 {
                ids.insert(body["id"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(ids.len(), 1);
        assert_eq!(app.count("consultations").await, 2);
        // a key of another caller is another request
        let (s4, b4) = {
            let r = app.client.post(format!("{}/api/v1/consultations", app.base)).bearer_auth(&c.w.integration_a).header("idempotency-key", "k-1").json(&request(&c, "language")).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        };
        assert_eq!(s4, 201);
        assert_ne!(b4["id"], b1["id"]);
    }
);

db_test!(
    async fn bad_requests_write_nothing(app) {
        let c = ctx(&app).await;
        let t = &c.w.mentor_a1_token;
        let before = app.snapshot().await;
        let consultations = app.count("consultations").await;
        let concerns = app.count("concerns").await;
        for (body, field) in [
            ({ let mut b = request(&c, "language"); b["expertise"] = json!("astrology"); b }, "expertise"),
            ({ let mut b = request(&c, "language"); b["urgency"] = json!("yesterday"); b }, "urgency"),
            ({ let mut b = request(&c, "language"); b["question"] = json!(""); b }, "question"),
            ({ let mut b = request(&c, "language"); b["concern_id"] = json!(Uuid::now_v7()); b }, "concern_id"),
            ({ let mut b = request(&c, "language"); b.as_object_mut().unwrap().remove("question"); b }, "body"),
            ({ let mut b = request(&c, "language"); b["priority"] = json!(1); b }, "priority"),
        ] {
            let r = app.post("/api/v1/consultations", t, body).await;
            r.problem(422);
            assert!(r.error_fields().contains(&field.to_string()), "{field}: {}", r.text);
        }
        app.post_raw("/api/v1/consultations", t, "application/json", "{").await.problem(400);
        app.post_raw("/api/v1/consultations", t, "text/plain", "{}").await.problem(415);
        let mut unknown_child = request(&c, "language");
        unknown_child["child_id"] = json!(Uuid::now_v7());
        app.post("/api/v1/consultations", t, unknown_child).await.problem(404);
        let r = app.client.post(format!("{}/api/v1/consultations", app.base)).bearer_auth(t).header("idempotency-key", "x".repeat(300)).json(&request(&c, "language")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let concern_path = format!("/api/v1/children/{}/concerns", c.w.child_a1);
        app.post(&concern_path, t, json!({"domains": [], "observation": "x", "observed_since": "2026-01-01"})).await.problem(422);
        app.post(&concern_path, t, json!({"domains": ["motor"], "observation": "x", "observed_since": "2099-01-01"})).await.problem(422);
        app.post(&concern_path, t, json!({"domains": ["singing"], "observation": "x", "observed_since": "2026-01-01"})).await.problem(422);
        let id = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        for path in ["accept", "decline", "assign", "cancel", "reject", "resume"] {
            let r = app.post_raw(&format!("/api/v1/consultations/{id}/{path}"), t, "application/json", "{\"reason\":").await;
            assert!(r.status.is_client_error(), "{path}: {}", r.text);
            r.problem(r.status.as_u16());
        }
        assert_eq!(app.get(&format!("/api/v1/consultations/{id}"), t).await.body["version"], 1, "no transition happened");
        app.get("/api/v1/consultations?assigned=you", t).await.problem(400);
        app.get("/api/v1/consultations?status=pending", t).await.problem(400);
        assert_eq!(app.count("consultations").await, consultations + 1);
        assert_eq!(app.count("concerns").await, concerns);
        let _ = before;
    }
);

db_test!(
    async fn attackers_reach_no_request(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        let id = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        let other_youth = app.post("/api/v1/organizations", &app.admin(), json!({"name": "Jeugdhulp E", "kind": "youth_care"})).await.id();
        let (_, stranger) = specialist(&app, other_youth, "stranger", &["language"], &["JZ22"], 3).await;
        let (_, colleague) = specialist(&app, w.youth, "colleague", &["language"], &["JZ22"], 3).await;
        app.post(&format!("/api/v1/organizations/{other_youth}/staff"), &app.admin(), json!({"subject": "coord-ams", "name": "C", "role": "coordinator", "region_codes": ["JZ14"]})).await.ok(201);
        let other_coord = app.token("coord-ams", &["coordinator"], Some(other_youth));
        let attackers = [
            ("mentor of another location", w.mentor_a2_token.clone()),
            ("mentor of another organisation", w.mentor_b1_token.clone()),
            ("integration of another organisation", w.integration_b.clone()),
            ("specialist of another provider", stranger),
            ("colleague it was not offered to", colleague),
            ("coordinator of another region", other_coord),
            ("admin", app.admin()),
        ];
        let before = app.count("consultations").await;
        for (who, token) in &attackers {
            for r in [
                app.get(&format!("/api/v1/consultations/{id}"), token).await,
                app.get(&format!("/api/v1/consultations/{id}/routing"), token).await,
                app.post(&format!("/api/v1/consultations/{id}/accept"), token, json!({})).await,
                app.post(&format!("/api/v1/consultations/{id}/decline"), token, json!({"reason": "x"})).await,
                app.post(&format!("/api/v1/consultations/{id}/cancel"), token, json!({"reason": "x"})).await,
                app.post(&format!("/api/v1/consultations/{id}/assign"), token, json!({"specialist_id": c.spec_1})).await,
                app.post("/api/v1/consultations", token, request(&c, "language")).await,
                app.get(&format!("/api/v1/children/{}/concerns", w.child_a1), token).await,
            ] {
                assert!(matches!(r.status.as_u16(), 403 | 404), "{who}: {} {}", r.status, r.text);
                assert!(!r.text.contains("Noor") && !r.text.contains("meedoen"), "{who} read child data");
            }
            let list = app.get("/api/v1/consultations", token).await;
            if list.status == 200 {
                assert!(list.body["items"].as_array().unwrap().is_empty(), "{who} listed: {}", list.text);
            }
        }
        assert_eq!(app.count("consultations").await, before);
        let status = app.get(&format!("/api/v1/consultations/{id}"), t).await;
        assert_eq!(status.ok(200)["status"], "offered");
        assert_eq!(status.body["version"], 1);
    }
);
