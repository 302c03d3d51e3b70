//! Policy figures: scope, disclosure control on what is published, bad input, and that policy
//! staff reach no child.

use crate::common::*;
use crate::db_test;
use serde_json::{json, Value};
use uuid::Uuid;

/// A synthetic national dataset (small) and policy tokens: one for region JZ01, one for the
/// childcare organisation of region 2.
async fn national(app: &TestApp) -> (kindbrug::scale::Generated, String, String) {
    national_of(app, 3000).await
}

async fn national_of(app: &TestApp, n: usize) -> (kindbrug::scale::Generated, String, String) {
    let g = kindbrug::scale::generate(app.state.store.as_ref(), &app.state.keys, n, 7)
        .await
        .unwrap();
    let admin = app.admin();
    let muni = app
        .post(
            "/api/v1/organizations",
            &admin,
            json!({"name": "Gemeente X", "kind": "municipality"}),
        )
        .await
        .id();
    app.post(
        &format!("/api/v1/organizations/{muni}/staff"),
        &admin,
        json!({"subject": "beleid-regio", "name": "B", "role": "policy", "region_codes": ["JZ01"]}),
    )
    .await
    .ok(201);
    let region_policy = app.token("beleid-regio", &["policy"], Some(muni));
    let org_policy = app.token("beleid-org", &["policy"], Some(g.childcare_orgs[1]));
    (g, region_policy, org_policy)
}

fn all_shown(answer: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for t in answer["tables"].as_array().unwrap() {
        let p = &t["published"];
        for row in p["cells"].as_array().unwrap() {
            out.extend(row.as_array().unwrap().iter().cloned());
        }
        out.extend(p["row_totals"].as_array().unwrap().iter().cloned());
        out.extend(p["column_totals"].as_array().unwrap().iter().cloned());
        out.push(p["total"].clone());
    }
    out
}

db_test!(
    async fn figures_are_scoped_and_disclosure_controlled(app) {
        let (_, region_policy, org_policy) = national(&app).await;
        for figure in ["consents", "consultations", "response-times", "outcomes", "visits"] {
            let r = app.get(&format!("/api/v1/stats/{figure}?from=2021-H1&to=2026-H2"), &region_policy).await;
            let body = r.ok(200).clone();
            let tables = body["tables"].as_array().unwrap();
            assert!(!tables.is_empty(), "{figure} has tables");
            assert!(tables.iter().all(|t| t["region_code"] == "JZ01"), "{figure}: only the caller's region");
            // every shown count is 0 or a multiple of 5 of at least 10
            let mut hidden = 0;
            for s in all_shown(&body) {
                match s["value"].as_u64() {
                    Some(v) => assert!(v == 0 || (v >= 10 && v % 5 == 0), "{figure}: {v} shown"),
                    None => {
                        hidden += 1;
                        assert!(s["suppressed"] == "small_count" || s["suppressed"] == "secondary");
                    }
                }
            }
            assert_eq!(body["suppressed"].as_array().unwrap().len(), hidden, "{figure}: each hidden entry is listed with its reason");
            // no row or column of a table has exactly one hidden entry
            for t in tables {
                let p = &t["published"];
                let rows = p["cells"].as_array().unwrap();
                for (i, row) in rows.iter().enumerate() {
                    let n = row.as_array().unwrap().iter().chain([&p["row_totals"][i]]).filter(|s| s["value"].is_null()).count();
                    assert_ne!(n, 1, "{figure}: a row with one hidden entry");
                }
                for j in 0..p["columns"].as_array().unwrap().len() {
                    let n = rows.iter().map(|r| &r[j]).chain([&p["column_totals"][j]]).filter(|s| s["value"].is_null()).count();
                    assert_ne!(n, 1, "{figure}: a column with one hidden entry");
                }
            }
            // the organisation's policy staff see their own organisation (in region 2) only
            let org = app.get(&format!("/api/v1/stats/{figure}?from=2021-H1&to=2026-H2"), &org_policy).await;
            let ot = org.ok(200)["tables"].as_array().unwrap().clone();
            assert!(!ot.is_empty() && ot.iter().all(|t| t["region_code"] == "JZ02"), "{figure}: org scope");
        }
        // percentages only from shown counts with a denominator of 10 or more
        let outcomes = app.get("/api/v1/stats/outcomes?from=2021-H1&to=2026-H2", &region_policy).await;
        for t in outcomes.body["tables"].as_array().unwrap() {
            for s in t["shares"].as_array().unwrap() {
                if let Some(p) = s["percent"].as_u64() {
                    assert!(p <= 100);
                }
            }
        }
        let times = app.get("/api/v1/stats/response-times?from=2021-H1&to=2026-H2", &region_policy).await;
        for t in times.body["timings"].as_array().unwrap() {
            if t["accepted"]["value"].is_null() {
                assert!(t["median_hours_to_acceptance"].is_null(), "no median over fewer than 10");
            }
        }
        // CSV, also for Dutch spreadsheets
        let csv = app.client.get(format!("{}/api/v1/stats/consultations?format=csv&from=2025-H1&to=2025-H2", app.base)).bearer_auth(&region_policy).send().await.unwrap();
        assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let text = csv.text().await.unwrap();
        assert!(text.starts_with("figure,table,region,half_year,age_band,column,value,suppressed\r\n"));
        let nl = app.client.get(format!("{}/api/v1/stats/consultations?format=csv-nl&from=2025-H1&to=2025-H2", app.base)).bearer_auth(&region_policy).send().await.unwrap();
        assert!(nl.text().await.unwrap().starts_with("figure;table;region;half_year;age_band;column;value;suppressed"));
    }
);

db_test!(
    async fn a_region_sees_nothing_of_another_and_free_filters_are_refused(app) {
        let (_, region_policy, org_policy) = national(&app).await;
        let t = &region_policy;
        app.get("/api/v1/stats/consents?region=JZ02", t).await.problem(403);
        app.get("/api/v1/stats/consents?region=JZ01", t).await.ok(200);
        for bad in [
            "/api/v1/stats/consents?child_id=x",
            "/api/v1/stats/consents?from=2026-01-01",
            "/api/v1/stats/consents?to=2026-H3",
            "/api/v1/stats/consents?format=xml",
            "/api/v1/stats/consents?municipality=GM5001",
            "/api/v1/stats/consents?age=3",
        ] {
            app.get(bad, t).await.problem(400);
        }
        app.get("/api/v1/stats/consents?from=2026-H2&to=2026-H1", t).await.problem(422);
        app.get("/api/v1/stats/consents?from=2000-H1&to=2026-H1", t).await.problem(422);
        app.get("/api/v1/stats/nonsense", t).await.problem(404);
        // only policy staff
        let w = app.world().await;
        for token in [&w.mentor_a1_token, &w.integration_a, &w.specialist_token, &app.admin()] {
            app.get("/api/v1/stats/consents", token).await.problem(403);
        }
        // a policy token without a scope gets nothing
        let muni = app.post("/api/v1/organizations", &app.admin(), json!({"name": "Gemeente Y", "kind": "municipality"})).await.id();
        app.get("/api/v1/stats/consents", &app.token("loose", &["policy"], Some(muni))).await.problem(403);
        let _ = org_policy;
    }
);

db_test!(
    async fn policy_staff_reach_no_child_name_or_free_text(app) {
        let w = app.world().await;
        let policy = app.token("beleid-a", &["policy"], Some(w.org_a));
        let child = w.child_a1;
        let paths = [
            format!("/api/v1/children?location_id={}", w.loc_a1),
            "/api/v1/children".to_string(),
            format!("/api/v1/children/{child}"),
            format!("/api/v1/children/{child}/guardians"),
            format!("/api/v1/children/{child}/mentor"),
            format!("/api/v1/children/{child}/consents"),
            format!("/api/v1/children/{child}/concerns"),
            format!("/api/v1/children/{child}/timeline"),
            format!("/api/v1/children/{child}/veilig-thuis-reports"),
            format!("/api/v1/children/{child}/consent-check?purpose=consultation&organization_id={}", w.youth),
            "/api/v1/consultations".to_string(),
            format!("/api/v1/organizations/{}/staff", w.org_a),
            "/api/v1/audit".to_string(),
        ];
        for p in &paths {
            let r = app.get(p, &policy).await;
            assert!(matches!(r.status.as_u16(), 403 | 404 | 422), "{p}: {} {}", r.status, r.text);
            assert!(!r.text.contains("Noor"), "{p} showed a name");
        }
        let id = Uuid::now_v7();
        app.post(&format!("/api/v1/children/{child}/concerns"), &policy, json!({"domains": ["motor"], "observation": "x", "observed_since": "2026-01-01"})).await.problem(404);
        let _ = id;
        // the figures of their organisation hold no free text either
        let figures = app.get("/api/v1/stats/consultations?from=2025-H1&to=2026-H2", &policy).await;
        assert!(!figures.text.contains("Noor"));
    }
);

/// Every figure the summaries hold, for every region and for each of the given organisations.
async fn summaries(app: &TestApp, orgs: &[Uuid]) -> Vec<String> {
    use kindbrug::store::{CountFigure, FigureScope};
    let half_years = kindbrug::domain::figures::HalfYear::range(
        "2020-H1".parse().unwrap(),
        "2027-H2".parse().unwrap(),
        20,
    )
    .unwrap()
    .iter()
    .map(|h| h.to_string())
    .collect::<Vec<_>>();
    let mut scopes = vec![FigureScope {
        half_years: half_years.clone(),
        ..Default::default()
    }];
    for o in orgs {
        scopes.push(FigureScope {
            organization_id: Some(*o),
            half_years: half_years.clone(),
            ..Default::default()
        });
        scopes.push(FigureScope {
            provider_id: Some(*o),
            half_years: half_years.clone(),
            ..Default::default()
        });
    }
    let mut out = Vec::new();
    for s in &scopes {
        for r in app
            .state
            .store
            .figure_counts(&CountFigure::ALL, s)
            .await
            .unwrap()
        {
            out.push(format!(
                "{:?} {:?} {} {} {} {} {}",
                s.organization_id.or(s.provider_id),
                r.figure,
                r.region_code,
                r.half_year,
                r.age_band,
                r.category,
                r.n
            ));
        }
        for t in app.state.store.figure_timings(s).await.unwrap() {
            out.push(format!(
                "{:?} timing {} {} {} {} {:?} {:?} {} {:?} {:?}",
                s.organization_id.or(s.provider_id),
                t.region_code,
                t.half_year,
                t.age_band,
                t.stats.accepted,
                t.stats.median_hours,
                t.stats.p90_hours,
                t.stats.visited,
                t.stats.median_days,
                t.stats.p90_days
            ));
        }
    }
    out.sort();
    out
}

fn this_half_year() -> String {
    use kindbrug::domain::calendar::{dutch_date, now};
    kindbrug::domain::figures::HalfYear::of(dutch_date(now())).to_string()
}

db_test!(
    async fn the_summaries_follow_each_change_in_its_own_half_year(app) {
        use kindbrug::domain::calendar::now;
        let store = app.state.store.clone();
        let g = kindbrug::scale::generate(store.as_ref(), &app.state.keys, 1500, 11).await.unwrap();
        // a bulk load notes its half-years, not every record's facts (4,500 visits, 3,000
        // consents and 1,500 requests here)
        let noted = app.count("figure_changes").await;
        assert!(noted > 0 && noted < 100, "{noted} changes noted by the bulk load");
        let first = store.refresh_figures(now(), false).await.unwrap();
        assert!(first.full, "the first refresh summarises everything");
        assert!(first.rows > 0);
        let calm = store.refresh_figures(now(), false).await.unwrap();
        assert!(!calm.full && calm.half_years.is_empty(), "nothing changed, nothing recomputed: {calm:?}");
        // real work through the API: a request accepted, a visit, closed with an outcome
        let (c, id) = crate::specialist_work::accepted(&app).await;
        let spec = &c.w.specialist_token;
        let mut v = crate::specialist_work::visit("n", false);
        v["date"] = json!(kindbrug::domain::calendar::dutch_date(now()).to_string());
        app.post(&format!("/api/v1/consultations/{id}/visits"), spec, v).await.ok(201);
        app.post(&format!("/api/v1/consultations/{id}/close"), spec, json!({"outcome": "handled_within_childcare", "summary": "s", "parents_involved": true})).await.ok(200);
        let orgs = [c.w.org_a, c.w.youth];
        let before = summaries(&app, &orgs).await;
        // the generated childcare organisation of the same region (JZ22)
        let neighbour = |app: &TestApp| {
            let scope = kindbrug::store::FigureScope { organization_id: Some(g.childcare_orgs[21]), half_years: vec![this_half_year()], ..Default::default() };
            let store = app.state.store.clone();
            async move { store.figure_counts(&kindbrug::store::CountFigure::ALL, &scope).await.unwrap().into_iter().map(|r| format!("{r:?}")).collect::<Vec<_>>() }
        };
        let neighbour_before = neighbour(&app).await;
        let r = store.refresh_figures(now(), false).await.unwrap();
        assert_eq!(r.half_years, [this_half_year()]);
        assert!(r.recomputed.is_empty() && r.changes > 0, "{r:?}");
        let after = summaries(&app, &orgs).await;
        assert_ne!(before, after, "the new request, visit and consents are counted");
        // counted for its own organisation, and not for the other one in the same region
        let own = kindbrug::store::FigureScope { organization_id: Some(c.w.org_a), half_years: vec![this_half_year()], ..Default::default() };
        let status = store.figure_counts(&[kindbrug::store::CountFigure::Status], &own).await.unwrap();
        assert_eq!(status.len(), 1, "{status:?}");
        assert_eq!((status[0].region_code.as_str(), status[0].category.as_str(), status[0].n), ("JZ22", "completed", 1));
        assert_eq!(neighbour(&app).await, neighbour_before);
        // an old record changes (as a late correction or retention would): only its half-year
        app.exec_sql("UPDATE consultations SET status = 'cancelled', outcome = NULL WHERE id = \
                      (SELECT id FROM consultations WHERE half_year = '2023-H1' AND status = 'completed' ORDER BY id LIMIT 1)").await;
        app.exec_sql("DELETE FROM visits WHERE id = (SELECT id FROM visits WHERE half_year = '2024-H2' ORDER BY id LIMIT 1)").await;
        let r = store.refresh_figures(now(), false).await.unwrap();
        assert_eq!(r.half_years, ["2023-H1", "2024-H2"]);
        // taken in as deltas (the request before and after, the visit gone), not recomputed
        assert!(r.recomputed.is_empty() && r.changes == 3, "{r:?}");
        let incremental = summaries(&app, &orgs).await;
        assert!(store.refresh_figures(now(), true).await.unwrap().full);
        assert_eq!(incremental, summaries(&app, &orgs).await, "the deltas give what a full recomputation gives");
        // one statement deleting thousands (retention) notes its half-years on PostgreSQL: they
        // are recomputed (SQLite's triggers are per row: deltas)
        app.exec_sql("DELETE FROM visits WHERE half_year < '2024-H1'").await;
        let r = store.refresh_figures(now(), false).await.unwrap();
        assert!(!r.half_years.is_empty() && r.half_years.iter().all(|h| h.as_str() < "2024-H1"), "{r:?}");
        if app.backend == Backend::Postgres {
            assert_eq!(r.recomputed, r.half_years, "{r:?}");
        }
        let incremental = summaries(&app, &orgs).await;
        assert!(store.refresh_figures(now(), true).await.unwrap().full);
        assert_eq!(incremental, summaries(&app, &orgs).await, "recomputed half-years equal a full recomputation");
        // refreshes racing each other and the writers still end where a full recomputation does
        let mut racing = Vec::new();
        for k in 0..3 {
            let store = store.clone();
            racing.push(tokio::spawn(async move { store.refresh_figures(now(), k == 0).await }));
        }
        for year in ["2022-H1", "2025-H2"] {
            app.exec_sql(&format!("UPDATE consents SET status = 'withdrawn' WHERE id = \
                          (SELECT id FROM consents WHERE half_year = '{year}' AND status = 'active' ORDER BY id LIMIT 1)")).await;
        }
        for r in racing {
            r.await.unwrap().unwrap();
        }
        // full rebuilds racing each other (the `figures refresh` command beside a replica's
        // job) all answer; none fails on a summary row the other inserted
        for _ in 0..3 {
            let racing: Vec<_> = (0..4)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move { store.refresh_figures(now(), true).await })
                })
                .collect();
            for r in racing {
                let r = r.await.unwrap().expect("a racing full refresh failed");
                // (on SQLite an older snapshot's rebuild yields to a newer one's: skipped)
                assert!(r.full && (!r.skipped || app.backend == Backend::Sqlite), "a full rebuild was skipped");
            }
        }
        store.refresh_figures(now(), false).await.unwrap();
        let incremental = summaries(&app, &orgs).await;
        let full = store.refresh_figures(now(), true).await.unwrap();
        assert!(full.full);
        assert_eq!(incremental, summaries(&app, &orgs).await, "incremental summaries equal a full recomputation");
        assert_eq!(app.count("figure_changes").await, 0, "every change was taken in");
    }
);

db_test!(
    async fn the_background_jobs_move_overdue_offers_and_refresh_the_figures(app) {
        use kindbrug::domain::calendar::now;
        let store = app.state.store.clone();
        store.refresh_figures(now(), true).await.unwrap();
        let c = crate::consultations::ctx(&app).await;
        let id = app.post("/api/v1/consultations", &c.w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        app.exec_sql("UPDATE consultations SET answer_due = '2020-01-01T00:00:00+00:00' WHERE status = 'offered'").await;
        let schedule = kindbrug::jobs::Schedule {
            relay: false,
            deadlines: std::time::Duration::from_millis(100),
            retention: std::time::Duration::from_secs(3600),
            figures: std::time::Duration::from_millis(100),
            checkpoints: std::time::Duration::from_millis(100),
            mail: std::time::Duration::from_millis(100),
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let jobs = kindbrug::jobs::spawn(&app.state, &schedule, stopped).unwrap();
        let mut moved = false;
        for _ in 0..100 {
            let status = app.get(&format!("/api/v1/consultations/{id}"), &c.w.mentor_a1_token).await.body["status"].clone();
            if status != "offered" && app.count("figure_changes").await == 0 {
                moved = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(moved, "the deadline job moved the offer on and the figures job took the changes in");
        let status_counts = store
            .figure_counts(&[kindbrug::store::CountFigure::Status], &kindbrug::store::FigureScope { half_years: vec![this_half_year()], ..Default::default() })
            .await
            .unwrap();
        assert!(status_counts.iter().all(|r| r.category != "offered"), "{status_counts:?}");
        stop.send(true).unwrap();
        for j in jobs {
            tokio::time::timeout(std::time::Duration::from_secs(10), j).await.expect("a job stops on shutdown").unwrap();
        }
    }
);

db_test!(
    async fn tables_about_the_same_requests_agree_across_endpoints(app) {
        // big enough that some totals are hidden for company, not only for being small (with
        // each table published on its own, this dataset shows a total in one table that
        // another hides)
        let (_, region_policy, _) = national_of(&app, 8000).await;
        let mut by_name: std::collections::BTreeMap<(String, String, String), Value> = Default::default();
        for figure in ["consents", "consultations", "response-times", "outcomes"] {
            let body = app.get(&format!("/api/v1/stats/{figure}?from=2021-H1&to=2026-H2"), &region_policy).await.ok(200).clone();
            for t in body["tables"].as_array().unwrap() {
                let key = (t["name"].as_str().unwrap().to_string(), t["region_code"].as_str().unwrap().to_string(), t["half_year"].as_str().unwrap().to_string());
                by_name.insert(key, t["published"].clone());
            }
        }
        let mut compared = 0;
        for ((name, region, half), p) in &by_name {
            if name == "consents" || name == "outcomes" || name == "consent_delay" {
                continue;
            }
            // every table about requests shows the requests per age band as consent_delay does
            let base = &by_name[&("consent_delay".to_string(), region.clone(), half.clone())];
            assert_eq!(p["row_totals"], base["row_totals"], "{name} {region} {half}");
            assert_eq!(p["total"], base["total"], "{name} {region} {half}");
            compared += 1;
            // and the outcomes of the completed requests as the status table counts them
            if name == "status" {
                let completed = p["columns"].as_array().unwrap().iter().position(|c| c == "completed").unwrap();
                if let Some(o) = by_name.get(&("outcomes".to_string(), region.clone(), half.clone())) {
                    for (i, row) in p["cells"].as_array().unwrap().iter().enumerate() {
                        assert_eq!(row[completed], o["row_totals"][i], "outcomes of {region} {half}");
                    }
                    assert_eq!(p["column_totals"][completed], o["total"]);
                }
            }
        }
        assert!(compared > 20, "{compared} tables compared");
    }
);

db_test!(
    async fn a_slow_first_build_answers_503_and_goes_on(app) {
        use axum::response::IntoResponse;
        kindbrug::scale::generate(app.state.store.as_ref(), &app.state.keys, 500, 3).await.unwrap();
        // a request that may not wait: 503 with Retry-After, the build is not tied to it
        let e = kindbrug::service::figures::refreshed_at(&app.state, std::time::Duration::ZERO).await.unwrap_err();
        let e = kindbrug::error::ApiError::from(e);
        assert_eq!(e.status, 503);
        let res = e.into_response();
        assert_eq!(res.headers()["retry-after"], "60");
        let mut built = None;
        for _ in 0..100 {
            built = app.state.store.figures_refreshed_at().await.unwrap();
            if built.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(built.is_some(), "the first build went on after the request gave up");
        // from then on the figures answer at once
        let answered = kindbrug::api::figures::refreshed_at(&app.state, std::time::Duration::ZERO).await.unwrap();
        assert_eq!(Some(answered), built);
    }
);
