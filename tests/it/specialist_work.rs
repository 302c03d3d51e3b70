//! The specialist's work: visits with sealed notes, closing, the timeline, attackers, the
//! database files, retention and re-encryption.

use crate::common::*;
use crate::consultations::{ctx, request, specialist, Ctx};
use crate::db_test;
use kindbrug::audit::verify::verify_store;
use serde_json::{json, Value};
use uuid::Uuid;

const SECRET_NOTE: &str = "Moeder vertelde over spanningen thuis; geheime-notitie-7781";

/// An accepted request of the world's child, assigned to spec-1.
pub async fn accepted(app: &TestApp) -> (Ctx, Uuid) {
    let c = ctx(app).await;
    let id = app
        .post(
            "/api/v1/consultations",
            &c.w.mentor_a1_token,
            request(&c, "language"),
        )
        .await
        .id();
    app.post(
        &format!("/api/v1/consultations/{id}/accept"),
        &c.w.specialist_token,
        json!({}),
    )
    .await
    .ok(200);
    (c, id)
}

pub fn visit(notes: &str, shared: bool) -> Value {
    json!({"date": "2026-11-20", "duration_minutes": 90, "kind": "observation", "participants": ["mentor", "practitioner"],
           "competences": ["striking_behaviour", "development_knowledge"], "notes": notes,
           "advice": "Kondig overgangen aan met een prentenkaart", "notes_shared": shared})
}

db_test!(
    async fn visits_outcome_and_read_only_after_closing(app) {
        let (c, id) = accepted(&app).await;
        let (spec, mentor) = (&c.w.specialist_token, &c.w.mentor_a1_token);
        let v = app.post(&format!("/api/v1/consultations/{id}/visits"), spec, visit(SECRET_NOTE, false)).await;
        let body = v.ok(201).clone();
        assert_eq!(v.headers["etag"], "\"1\"");
        assert_eq!(body["notes"], SECRET_NOTE);
        let visit_id = v.id();
        // the first held visit starts the work
        assert_eq!(app.get(&format!("/api/v1/consultations/{id}"), mentor).await.body["status"], "in_progress");
        // the mentor sees the advice for the group, not the private notes
        let seen = app.get(&format!("/api/v1/consultations/{id}/visits"), mentor).await;
        assert_eq!(seen.ok(200)[0]["advice"], "Kondig overgangen aan met een prentenkaart");
        assert!(seen.body[0]["notes"].is_null());
        assert!(!seen.text.contains("geheime-notitie"));
        // updates take If-Match
        let put = |etag: Option<&str>, body: Value| {
            let mut r = app.client.put(format!("{}/api/v1/visits/{visit_id}", app.base)).bearer_auth(spec).json(&body);
            if let Some(e) = etag {
                r = r.header("if-match", e);
            }
            r.send()
        };
        assert_eq!(put(None, visit("x", true)).await.unwrap().status(), 428);
        let ok = put(Some("\"1\""), visit("Gedeelde notitie", true)).await.unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["etag"], "\"2\"");
        assert_eq!(put(Some("\"1\""), visit("late", true)).await.unwrap().status(), 412);
        let shared = app.get(&format!("/api/v1/consultations/{id}/visits"), mentor).await;
        assert_eq!(shared.ok(200)[0]["notes"], "Gedeelde notitie");
        // bad visits
        let bad = app.post(&format!("/api/v1/consultations/{id}/visits"), spec, json!({"date": "2099-01-01", "duration_minutes": 0, "kind": "party", "participants": []})).await;
        bad.problem(422);
        let mut future_held = visit("x", false);
        future_held["date"] = json!("2099-01-01");
        assert_eq!(app.post(&format!("/api/v1/consultations/{id}/visits"), spec, future_held).await.error_fields(), ["date"]);
        // closing: a referral says where to
        let r = app.post(&format!("/api/v1/consultations/{id}/close"), spec, json!({"outcome": "referred_youth_care", "summary": "s", "parents_involved": true})).await;
        assert_eq!(r.error_fields(), ["referral"]);
        let closed = app
            .post(
                &format!("/api/v1/consultations/{id}/close"),
                spec,
                json!({"outcome": "referred_youth_care", "summary": "Verwezen; samenvatting-4421", "advice_for_group": "Blijf voorspelbaar",
                       "parents_involved": true, "referral": {"kind_of_care": "ambulante jeugdhulp"}}),
            )
            .await;
        let cl = closed.ok(200);
        assert_eq!(cl["status"], "completed");
        assert_eq!(cl["referral_consent_in_force"], false);
        // the slot is free again
        assert_eq!(app.count("staff WHERE open_count > 0").await, 0);
        // read-only now
        assert_eq!(app.post(&format!("/api/v1/consultations/{id}/visits"), spec, visit("late", false)).await.problem(409), "closed-or-paused");
        assert_eq!(put(Some("\"2\""), visit("late", false)).await.unwrap().status(), 409);
        app.post(&format!("/api/v1/consultations/{id}/close"), spec, json!({"outcome": "other", "summary": "again", "parents_involved": false})).await.problem(409);
        // the summary is the specialist's; the advice is for the group
        let as_mentor = app.get(&format!("/api/v1/consultations/{id}"), mentor).await;
        assert_eq!(as_mentor.ok(200)["advice_for_group"], "Blijf voorspelbaar");
        assert!(as_mentor.body["summary"].is_null());
        let as_spec = app.get(&format!("/api/v1/consultations/{id}"), spec).await;
        assert_eq!(as_spec.ok(200)["summary"], "Verwezen; samenvatting-4421");
        assert_eq!(as_spec.body["outcome"], "referred_youth_care");
    }
);

db_test!(
    async fn an_offer_shows_no_child_data_and_others_see_nothing(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let id = app.post("/api/v1/consultations", &w.mentor_a1_token, request(&c, "language")).await.id();
        let offer = app.get(&format!("/api/v1/consultations/{id}"), &w.specialist_token).await;
        assert!(offer.ok(200)["question"].is_null(), "the question waits for acceptance");
        app.post(&format!("/api/v1/consultations/{id}/accept"), &w.specialist_token, json!({})).await.ok(200);
        app.post(&format!("/api/v1/consultations/{id}/visits"), &w.specialist_token, visit(SECRET_NOTE, true)).await.ok(201);
        let other_youth = app.post("/api/v1/organizations", &app.admin(), json!({"name": "Jeugdhulp F", "kind": "youth_care"})).await.id();
        let (_, stranger) = specialist(&app, other_youth, "stranger", &["language"], &["JZ22"], 3).await;
        let (_, colleague) = specialist(&app, w.youth, "colleague", &["language"], &["JZ22"], 3).await;
        for (who, token) in [
            ("colleague of the specialist", colleague),
            ("specialist of another provider", stranger),
            ("mentor of another location", w.mentor_a2_token.clone()),
            ("mentor of another organisation", w.mentor_b1_token.clone()),
            ("integration of another organisation", w.integration_b.clone()),
            ("admin", app.admin()),
        ] {
            for r in [
                app.get(&format!("/api/v1/consultations/{id}/visits"), &token).await,
                app.get(&format!("/api/v1/children/{}/timeline", w.child_a1), &token).await,
                app.post(&format!("/api/v1/consultations/{id}/visits"), &token, visit("x", false)).await,
                app.post(&format!("/api/v1/consultations/{id}/close"), &token, json!({"outcome": "other", "summary": "x", "parents_involved": false})).await,
            ] {
                assert!(matches!(r.status.as_u16(), 403 | 404), "{who}: {} {}", r.status, r.text);
                assert!(!r.text.contains("geheime-notitie") && !r.text.contains("prentenkaart"), "{who} read visit data");
            }
        }
        // after a withdrawal the specialist reads nothing, and is told why; the refusal is logged
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &w.mentor_a1_token, json!({"by": {"guardian_id": c.eva}})).await.ok(200);
        for path in [format!("/api/v1/consultations/{id}/visits"), format!("/api/v1/children/{}/timeline", w.child_a1), format!("/api/v1/consultations/{id}")] {
            let r = app.get(&path, &w.specialist_token).await;
            assert_eq!(r.problem(403), "consent-withdrawn", "{path}");
            assert!(!r.text.contains("geheime-notitie"));
        }
        let denied = app.get(&format!("/api/v1/audit?child_id={}&limit=200", w.child_a1), &app.admin()).await;
        let refused = denied.ok(200)["items"].as_array().unwrap().iter().filter(|e| e["outcome"] == "denied" && e["actor"]["role"] == "specialist").count();
        assert!(refused >= 3, "refused reads are logged ({refused})");
        // the mentor still sees the visits
        app.get(&format!("/api/v1/consultations/{id}/visits"), &w.mentor_a1_token).await.ok(200);
    }
);

db_test!(
    async fn the_timeline_pages_through_hundreds_of_events(app) {
        let (c, id) = accepted(&app).await;
        for i in 0..120 {
            let mut v = visit("n", false);
            v["duration_minutes"] = json!(30 + i);
            app.post(&format!("/api/v1/consultations/{id}/visits"), &c.w.specialist_token, v).await.ok(201);
        }
        let mut seen = Vec::new();
        let mut kinds = std::collections::BTreeSet::new();
        let mut path = format!("/api/v1/children/{}/timeline?limit=50", c.w.child_a1);
        let mut last_at = String::from("9999");
        loop {
            let page = app.get(&path, &c.w.mentor_a1_token).await;
            let body = page.ok(200).clone();
            for e in body["items"].as_array().unwrap() {
                let at = e["at"].as_str().unwrap().to_string();
                assert!(at <= last_at, "newest first");
                last_at = at;
                seen.push(format!("{}:{}", e["kind"].as_str().unwrap(), e["id"].as_str().unwrap()));
                kinds.insert(e["kind"].as_str().unwrap().to_string());
            }
            match body["next_cursor"].as_str() {
                Some(cur) => path = format!("/api/v1/children/{}/timeline?limit=50&cursor={cur}", c.w.child_a1),
                None => break,
            }
        }
        let unique: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no event twice");
        assert!(seen.len() >= 125, "{}", seen.len());
        for k in ["concern", "consent", "consultation", "routing", "accepted", "visit"] {
            assert!(kinds.contains(k), "{k} in {kinds:?}");
        }
        // the specialist sees the events of their request only, within consent
        let spec = app.get(&format!("/api/v1/children/{}/timeline?limit=200", c.w.child_a1), &c.w.specialist_token).await;
        let items = spec.ok(200)["items"].as_array().unwrap().clone();
        assert!(items.iter().all(|e| e["consultation_id"] == id.to_string()));
        app.get(&format!("/api/v1/children/{}/timeline?cursor=nope", c.w.child_a1), &c.w.mentor_a1_token).await.problem(400);
    }
);

/// Every file of the database that could hold the notes, as bytes.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => {
            app.exec_sql("PRAGMA wal_checkpoint(TRUNCATE)").await;
            let path = app.db_url.trim_start_matches("sqlite://").to_string();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        }
        Backend::Postgres => {
            let pool = app.raw_pool().await;
            sqlx::query("CHECKPOINT").execute(&pool).await.unwrap();
            let dir: String =
                sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let mut bytes = Vec::new();
            for table in ["visits", "consultations", "concerns", "children"] {
                let files: Vec<String> = sqlx::query_scalar(&format!(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = '{table}'::regclass \
                     OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = '{table}'::regclass)"
                ))
                .fetch_all(&pool)
                .await
                .unwrap();
                for f in files {
                    bytes.extend(
                        std::fs::read(format!("{dir}/{f}"))
                            .expect("read PostgreSQL's table file (tests run as a user that can)"),
                    );
                }
            }
            pool.close().await;
            bytes
        }
    }
}

db_test!(
    async fn notes_are_not_in_the_database_in_plain_text(app) {
        let (c, id) = accepted(&app).await;
        app.post(&format!("/api/v1/consultations/{id}/visits"), &c.w.specialist_token, visit(SECRET_NOTE, false)).await.ok(201);
        app.post(&format!("/api/v1/consultations/{id}/close"), &c.w.specialist_token, json!({"outcome": "handled_within_childcare", "summary": "samenvatting-4421", "parents_involved": true})).await.ok(200);
        let bytes = database_bytes(&app).await;
        let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        // the child's name is in the file (not sealed), proving the search looks at the right data
        assert!(contains("Noor"), "the search reads the table data");
        assert!(!contains("meedoen in de groep"), "the child's question is sealed");
        assert!(!contains("speelt alleen"), "the mentor's observation is sealed");
        assert!(!contains("geheime-notitie-7781"), "visit notes are sealed");
        assert!(!contains("prentenkaart"), "advice is sealed");
        assert!(!contains("samenvatting-4421"), "the summary is sealed");
    }
);

db_test!(
    async fn retention_purges_exactly_what_is_past_its_period(app) {
        let (c, id) = accepted(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        app.post(&format!("/api/v1/consultations/{id}/visits"), &w.specialist_token, visit("n", false)).await.ok(201);
        app.post(&format!("/api/v1/consultations/{id}/close"), &w.specialist_token, json!({"outcome": "handled_within_childcare", "summary": "s", "parents_involved": true})).await.ok(200);
        // a second, recent request stays; a lone concern long ago goes, a recent one stays
        let recent = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        let old_concern = app.post(&format!("/api/v1/children/{}/concerns", w.child_a1), t, json!({"domains": ["motor"], "observation": "oud", "observed_since": "2024-01-01"})).await.id();
        let new_concern = app.post(&format!("/api/v1/children/{}/concerns", w.child_a1), t, json!({"domains": ["motor"], "observation": "nieuw", "observed_since": "2026-01-01"})).await.id();
        let old_link = app.post(&format!("/api/v1/children/{}/parent-links", w.child_a1), t, json!({"guardian_id": c.eva})).await.id();
        // age the records
        app.exec_sql(&format!("UPDATE consultations SET closed_at = '2000-01-01T00:00:00+00:00' WHERE id = {}", uuid_literal(&app, id))).await;
        app.exec_sql(&format!("UPDATE concerns SET created_at = '2020-01-01T00:00:00+00:00' WHERE id = {}", uuid_literal(&app, old_concern))).await;
        app.exec_sql(&format!("UPDATE parent_links SET expires_at = '2020-01-01T00:00:00+00:00' WHERE id = {}", uuid_literal(&app, old_link))).await;
        let entries_before = app.count("audit_log").await;
        let report = kindbrug::retention::run(&app.state.store, &app.state.config.retention, &app.state.audit_signer, &Default::default()).await.unwrap();
        assert_eq!((report.consultations, report.visits, report.concerns, report.parent_links), (1, 1, 1, 1), "{report:?}");
        assert!(app.get(&format!("/api/v1/consultations/{id}"), t).await.status == 404);
        app.get(&format!("/api/v1/consultations/{recent}"), t).await.ok(200);
        let concerns = app.get(&format!("/api/v1/children/{}/concerns", w.child_a1), t).await;
        let ids: Vec<String> = concerns.ok(200).as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
        assert!(ids.contains(&new_concern.to_string()) && !ids.contains(&old_concern.to_string()));
        assert!(ids.contains(&c.concern.to_string()), "the concern of a kept request stays");
        // the access log keeps its entries and still verifies
        assert!(app.count("audit_log").await >= entries_before);
        assert!(verify_store(app.state.store.as_ref()).await.unwrap().is_ok());
        // running again removes nothing more
        let again = kindbrug::retention::run(&app.state.store, &app.state.config.retention, &app.state.audit_signer, &Default::default()).await.unwrap();
        assert_eq!((again.consultations, again.visits, again.concerns), (0, 0, 0));
    }
);

db_test!(
    async fn early_destruction_and_an_old_access_log_keep_the_chain_verifying(app) {
        let (c, id) = accepted(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        app.post(&format!("/api/v1/consultations/{id}/visits"), &w.specialist_token, visit("n", false)).await.ok(201);
        // bad requests first: a guardian without authority, a young child asking itself
        let path = format!("/api/v1/children/{}/destruction-requests", w.child_a1);
        app.post(&path, t, json!({"requested_by": {"guardian_id": Uuid::now_v7()}})).await.problem(422);
        app.post(&path, t, json!({"requested_by": {"child": true}})).await.problem(422);
        app.post(&path, &w.mentor_b1_token, json!({"requested_by": {"guardian_id": c.eva}})).await.problem(404);
        app.post(&path, t, json!({"requested_by": {"guardian_id": c.eva}, "reason": "we verhuizen"})).await.ok(202);
        // old access-log entries go from the start, the rest still verifies from the anchor
        app.exec_sql("UPDATE audit_log SET occurred_at = '2001-01-01T00:00:00+00:00' WHERE seq <= 3").await;
        // (the dates are part of the hashes: re-chain the aged entries as if they were written then)
        rechain(&app).await;
        let report = kindbrug::retention::run(&app.state.store, &app.state.config.retention, &app.state.audit_signer, &Default::default()).await.unwrap();
        assert_eq!(report.children_destroyed, 1);
        assert_eq!(report.audit_entries, 3);
        // the world has this one child: everything about it is gone
        for table in ["children", "guardians", "consents", "consent_givers", "concerns", "consultations", "visits", "child_mentors"] {
            assert_eq!(app.count(table).await, 0, "{table}");
        }
        app.get(&format!("/api/v1/children/{}", w.child_a1), t).await.problem(404);
        assert_eq!(app.count("staff WHERE open_count > 0").await, 0, "the specialist's slot is free");
        let verified = verify_store(app.state.store.as_ref()).await.unwrap();
        assert!(verified.is_ok(), "{verified:?}");
        // tampering after the anchor is still found
        app.exec_sql("UPDATE audit_log SET purpose = 'x' WHERE seq = 5").await;
        assert!(verify_store(app.state.store.as_ref()).await.unwrap().is_err());
    }
);

/// Recomputes the chain after a test aged entries (what the entries would have been).
async fn rechain(app: &TestApp) {
    let store = app.state.store.as_ref();
    let entries = store.audit_chain(0, 100_000).await.unwrap();
    let records: Vec<_> = entries.iter().map(|e| e.record.clone()).collect();
    let (chained, head) =
        kindbrug::audit::chain(&kindbrug::audit::ChainCursor::default(), &records);
    for e in chained {
        app.exec_sql(&format!(
            "UPDATE audit_log SET prev_hash = '{}', hash = '{}' WHERE seq = {}",
            e.prev_hash, e.hash, e.seq
        ))
        .await;
    }
    app.exec_sql(&format!(
        "UPDATE audit_head SET last_seq = {}, last_hash = '{}' WHERE id = 1",
        head.seq, head.hash
    ))
    .await;
}

db_test!(
    async fn keys_rotate_and_old_values_are_resealed(app) {
        let (c, id) = accepted(&app).await;
        app.post(&format!("/api/v1/consultations/{id}/visits"), &c.w.specialist_token, visit(SECRET_NOTE, false)).await.ok(201);
        let old_key: String = {
            let pool = app.raw_pool().await;
            let v: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = 'dev_encryption_key'").fetch_one(&pool).await.unwrap();
            pool.close().await;
            v
        };
        let new_key = kindbrug::crypto::Keyring::generate("k2");
        let both = kindbrug::crypto::Keyring::parse(&secrecy::SecretString::from(format!("{new_key},{old_key}")), Some("k2")).unwrap();
        let (resealed, total) = kindbrug::retention::reencrypt(&app.state.store, &both).await.unwrap();
        assert_eq!((resealed, total), (4, 4), "notes, advice, the child's question and the observation");
        let values = app.state.store.sealed_values().await.unwrap();
        assert!(values.iter().all(|v| v.value.starts_with("k2:")));
        let notes = values.iter().find(|v| v.column == "notes_sealed").unwrap();
        assert_eq!(both.open(notes.id, &notes.value).unwrap(), SECRET_NOTE);
        // the new key alone opens them
        let only_new = kindbrug::crypto::Keyring::parse(&secrecy::SecretString::from(new_key), None).unwrap();
        assert_eq!(only_new.open(notes.id, &notes.value).unwrap(), SECRET_NOTE);
        assert_eq!(kindbrug::retention::reencrypt(&app.state.store, &both).await.unwrap().0, 0, "nothing left to do");
    }
);
