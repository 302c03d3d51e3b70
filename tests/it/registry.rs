//! The registry: regions, organisations, locations, groups, staff.

use crate::common::*;
use crate::db_test;
use serde_json::json;

db_test!(
    async fn regions_import_and_merger(app) {
        let admin = app.admin();
        let r = app.post_raw("/api/v1/regions/import", &admin, "text/csv", REGIONS_CSV).await;
        assert_eq!(r.ok(200)["imported"], 3);
        let list = app.get("/api/v1/regions", &admin).await;
        let codes: Vec<_> = list.ok(200).as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect();
        assert_eq!(codes, ["JZ14", "JZ22"]);
        let region = app.get("/api/v1/regions/JZ14?on=2026-06-01", &admin).await;
        assert_eq!(region.ok(200)["municipalities"].as_array().unwrap().len(), 2);

        // a merger is an import: from 2027 Amstelveen belongs to a new region
        let merger = "municipality_code,municipality_name,region_code,region_name,valid_from\n\
                      GM0362,Amstelveen,JZ41,Amstelland-Meerlanden,2027-01-01\n";
        app.post_raw("/api/v1/regions/import", &admin, "text/csv", merger).await.ok(200);
        let before = app.get("/api/v1/regions/JZ14?on=2026-12-31", &admin).await;
        assert_eq!(before.ok(200)["municipalities"].as_array().unwrap().len(), 2);
        let after = app.get("/api/v1/regions/JZ14?on=2027-01-01", &admin).await;
        assert_eq!(after.ok(200)["municipalities"].as_array().unwrap().len(), 1);
        let new = app.get("/api/v1/regions/jz41?on=2027-01-01", &admin).await;
        assert_eq!(new.ok(200)["municipalities"][0]["code"], "GM0362");

        // CBS labels and a validity date given as a parameter
        let cbs = "GemeentecodeGM;Gemeentenaam;JeugdzorgregioCode;JeugdzorgregioNaam\nGM0344;Utrecht;JZ22;Utrecht Stad\n";
        app.post_raw("/api/v1/regions/import?valid_from=2026-01-01", &admin, "text/csv", cbs).await.ok(200);
        app.get("/api/v1/regions/JZ99", &admin).await.problem(404);
    }
);

db_test!(
    async fn a_bad_region_file_imports_nothing(app) {
        let admin = app.admin();
        let before = app.snapshot().await;
        let bad = "municipality_code,municipality_name,region_code,region_name,valid_from\n\
                   GM0344,Utrecht,JZ22,Utrecht Stad,2025-01-01\n\
                   GM03,Amsterdam,JZ14,Amsterdam-Amstelland,2025-01-01\n";
        let r = app.post_raw("/api/v1/regions/import", &admin, "text/csv", bad).await;
        r.problem(422);
        assert_eq!(r.error_fields(), ["line 3: municipality_code"]);
        app.post_raw("/api/v1/regions/import", &admin, "text/csv", "a,b\n1,2\n").await.problem(422);
        app.post_raw("/api/v1/regions/import", &admin, "text/csv", "").await.problem(422);
        app.post_raw("/api/v1/regions/import", &admin, "application/json", REGIONS_CSV).await.problem(415);
        app.post_raw("/api/v1/regions/import?valid_from=tomorrow", &admin, "text/csv", REGIONS_CSV).await.problem(400);
        app.post_raw("/api/v1/regions/import", &admin, "text/csv", vec![b'x'; TEST_BODY_LIMIT + 1]).await.problem(413);
        let mentor = app.token("m", &["integration"], Some(uuid::Uuid::now_v7()));
        app.post_raw("/api/v1/regions/import", &mentor, "text/csv", REGIONS_CSV).await.problem(403);
        assert_eq!(app.snapshot().await, before);
    }
);

db_test!(
    async fn registry_validates_and_only_admins_write(app) {
        let w = app.world().await;
        let admin = app.admin();
        let before = app.snapshot().await;
        // organisations
        app.post("/api/v1/organizations", &admin, json!({"name": "X", "kind": "school"})).await.problem(422);
        app.post("/api/v1/organizations", &admin, json!({"name": "", "kind": "childcare"})).await.problem(422);
        app.post("/api/v1/organizations", &admin, json!({"kind": "childcare"})).await.problem(422);
        app.post("/api/v1/organizations", &w.integration_a, json!({"name": "X", "kind": "childcare"})).await.problem(403);
        // locations
        let loc_path = format!("/api/v1/organizations/{}/locations", w.org_a);
        let loc = |body| app.post(&loc_path, &admin, body);
        assert_eq!(loc(json!({"name": "L", "type": "kdv", "municipality_code": "GM9999"})).await.error_fields(), ["municipality_code"]);
        assert_eq!(loc(json!({"name": "L", "type": "kdv", "municipality_code": "0344"})).await.error_fields(), ["municipality_code"]);
        assert_eq!(loc(json!({"name": "L", "type": "creche", "municipality_code": "GM0344"})).await.error_fields(), ["type"]);
        assert_eq!(loc(json!({"name": "L", "type": "kdv", "municipality_code": "GM0344", "lrk_number": "12"})).await.error_fields(), ["lrk_number"]);
        let youth_loc = app.post(&format!("/api/v1/organizations/{}/locations", w.youth), &admin, json!({"name": "L", "type": "kdv", "municipality_code": "GM0344"})).await;
        assert_eq!(youth_loc.error_fields(), ["organization"]);
        app.post(&format!("/api/v1/organizations/{}/locations", uuid::Uuid::now_v7()), &admin, json!({"name": "L", "type": "kdv", "municipality_code": "GM0344"})).await.problem(404);
        app.post(&format!("/api/v1/organizations/{}/locations", w.org_a), &w.integration_a, json!({"name": "L", "type": "kdv", "municipality_code": "GM0344"})).await.problem(403);
        // groups
        app.post(&format!("/api/v1/locations/{}/groups", w.loc_a1), &admin, json!({"name": "Peuters"})).await.problem(409);
        app.post(&format!("/api/v1/locations/{}/groups", uuid::Uuid::now_v7()), &admin, json!({"name": "G"})).await.problem(404);
        // staff
        let (staff_a, staff_y) = (format!("/api/v1/organizations/{}/staff", w.org_a), format!("/api/v1/organizations/{}/staff", w.youth));
        let staff = |org: uuid::Uuid, body| app.post(if org == w.org_a { &staff_a } else { &staff_y }, &admin, body);
        assert_eq!(staff(w.org_a, json!({"subject": "m", "name": "M", "role": "mentor"})).await.error_fields(), ["location_ids"]);
        assert_eq!(staff(w.org_a, json!({"subject": "m", "name": "M", "role": "mentor", "location_ids": [w.loc_b1]})).await.error_fields(), ["location_ids[0]"]);
        assert_eq!(staff(w.org_a, json!({"subject": "m", "name": "M", "role": "admin", "location_ids": [w.loc_a1]})).await.error_fields(), ["role"]);
        assert_eq!(
            staff(w.youth, json!({"subject": "s", "name": "S", "role": "specialist", "expertise": ["language"], "region_codes": ["JZ22"]})).await.error_fields(),
            ["capacity"]
        );
        assert_eq!(
            staff(w.youth, json!({"subject": "s", "name": "S", "role": "specialist", "expertise": ["astrology"], "region_codes": ["JZ22"], "capacity": 2})).await.error_fields(),
            ["expertise[0]"]
        );
        assert_eq!(
            staff(w.youth, json!({"subject": "s", "name": "S", "role": "specialist", "expertise": ["language"], "region_codes": ["JZ77"], "capacity": 2})).await.error_fields(),
            ["region_codes[0]"]
        );
        staff(w.org_a, json!({"subject": "mentor-a1", "name": "Again", "role": "mentor", "location_ids": [w.loc_a1]})).await.problem(409);
        assert_eq!(app.snapshot().await, before);
    }
);

db_test!(
    async fn organisations_see_only_their_own_registry(app) {
        let w = app.world().await;
        let admin = app.admin();
        let loc = app.get(&format!("/api/v1/locations/{}", w.loc_a1), &w.integration_a).await;
        assert_eq!(loc.ok(200)["region_code"], "JZ22");
        app.get(&format!("/api/v1/locations/{}", w.loc_a1), &w.integration_b).await.problem(404);
        app.get(&format!("/api/v1/organizations/{}", w.org_a), &w.integration_b).await.problem(404);
        app.get(&format!("/api/v1/organizations/{}/locations", w.org_a), &w.integration_b).await.problem(404);
        app.get(&format!("/api/v1/organizations/{}/staff", w.org_a), &w.integration_b).await.problem(404);
        app.get(&format!("/api/v1/organizations/{}/staff", w.org_a), &w.mentor_a1_token).await.problem(404);
        app.get(&format!("/api/v1/staff/{}", w.mentor_a1), &w.integration_b).await.problem(404);
        app.get(&format!("/api/v1/staff/{}", w.mentor_a1), &w.mentor_a1_token).await.ok(200);
        app.get("/api/v1/organizations", &w.integration_a).await.problem(403);
        let all = app.get("/api/v1/organizations?limit=2", &admin).await;
        let body = all.ok(200);
        assert_eq!(body["items"].as_array().unwrap().len(), 2);
        let next = body["next_cursor"].as_str().unwrap();
        let rest = app.get(&format!("/api/v1/organizations?limit=2&cursor={next}"), &admin).await;
        assert_eq!(rest.ok(200)["items"].as_array().unwrap().len(), 1);
        let groups = app.get(&format!("/api/v1/locations/{}/groups", w.loc_a1), &w.integration_a).await;
        assert_eq!(groups.ok(200)[0]["name"], "Peuters");
    }
);

db_test!(
    async fn a_change_to_a_staff_record_holds_from_the_very_next_request(app) {
        // the gateway remembers whom a token stands for; a change moves it at once
        let w = app.world().await;
        let admin = app.admin();
        let child = format!("/api/v1/children/{}", w.child_a1);
        for _ in 0..2 {
            app.get(&child, &w.mentor_a1_token).await.ok(200);
        }
        // moved to location A2: the child at A1 is no longer hers, on the next request
        let moved = app
            .client
            .patch(format!("{}/api/v1/staff/{}", app.base, w.mentor_a1))
            .bearer_auth(&admin)
            .json(&json!({"location_ids": [w.loc_a2]}))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), 200, "{}", moved.text().await.unwrap());
        app.get(&child, &w.mentor_a1_token).await.problem(404);
        // and back
        let back = app
            .client
            .patch(format!("{}/api/v1/staff/{}", app.base, w.mentor_a1))
            .bearer_auth(&admin)
            .json(&json!({"location_ids": [w.loc_a1]}))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 200);
        app.get(&child, &w.mentor_a1_token).await.ok(200);
        // deactivated: refused on the next request, though just served
        app.post(&format!("/api/v1/staff/{}/deactivate", w.mentor_a1), &admin, json!({}))
            .await
            .ok(200);
        assert!(app.get(&child, &w.mentor_a1_token).await.status.is_client_error());
    }
);
