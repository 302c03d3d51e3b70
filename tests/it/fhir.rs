//! The FHIR R4 door (`/fhir/r4`): the CapabilityStatement, Patient read and search, content
//! negotiation, OperationOutcome on every error, and the attacker's side (another
//! organisation's client reads and finds nothing, the same as for an unknown id).

use crate::common::*;
use crate::db_test;
use serde_json::Value;

const FHIR: &str = "application/fhir+json";

async fn fhir_get(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    accept: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app
        .client
        .get(format!("{}{path}", app.base))
        .header("accept", accept);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let ct = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    assert!(
        ct.starts_with("application/fhir+json"),
        "{path}: {ct} {status} {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    (status, body, headers)
}

fn is_outcome(v: &Value) -> bool {
    v["resourceType"] == "OperationOutcome" && v["issue"].as_array().is_some_and(|i| !i.is_empty())
}

db_test!(
    async fn the_capability_statement_says_what_works(app) {
        let (status, cs, _) = fhir_get(&app, "/fhir/r4/metadata", None, FHIR).await;
        assert_eq!(status, 200);
        assert_eq!(cs["resourceType"], "CapabilityStatement");
        assert_eq!(cs["fhirVersion"], "4.0.1");
        let resources = cs["rest"][0]["resource"].as_array().unwrap();
        let types: Vec<&str> = resources.iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["Organization", "Location", "RelatedPerson", "Consent", "Task", "ServiceRequest", "Encounter", "Observation", "PractitionerRole", "HealthcareService", "Group", "CareTeam", "AuditEvent", "Subscription", "Patient"]);
        // tolerated variants of the media type, 406 otherwise
        for accept in ["application/fhir+json; fhirVersion=4.0", "application/json", "*/*"] {
            assert_eq!(fhir_get(&app, "/fhir/r4/metadata", None, accept).await.0, 200, "{accept}");
        }
        let (status, body, _) = fhir_get(&app, "/fhir/r4/metadata", None, "application/fhir+xml").await;
        assert_eq!(status, 406);
        assert!(is_outcome(&body));
        assert_eq!(fhir_get(&app, "/fhir/r4/metadata?_format=xml", None, FHIR).await.0, 406);
        assert_eq!(fhir_get(&app, "/fhir/r4/metadata?_format=json", None, "text/html").await.0, 200);
        assert_eq!(fhir_get(&app, "/fhir/r4/metadata?_format=application/fhir%2Bjson", None, "text/html").await.0, 200);
        assert_eq!(fhir_get(&app, "/fhir/r4/metadata?_format=application/fhir+json", None, "text/html").await.0, 200);
        // no whole-system search, no unknown resource: an OperationOutcome
        let (status, body, _) = fhir_get(&app, "/fhir/r4/MedicationRequest", None, FHIR).await;
        assert_eq!(status, 404);
        assert!(is_outcome(&body));
    }
);

db_test!(
    async fn a_partner_reads_and_finds_its_own_children_only(app) {
        let w = app.world().await;
        let path = format!("/fhir/r4/Patient/{}", w.child_a1);
        // no token: 401, minimal
        let (status, body, headers) = fhir_get(&app, &path, None, FHIR).await;
        assert_eq!(status, 401);
        assert!(is_outcome(&body) && headers.contains_key("www-authenticate"));
        let (status, p, headers) = fhir_get(&app, &path, Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["resourceType"], "Patient");
        assert_eq!(p["birthDate"], "2023-03-01");
        assert_eq!(p["name"][0]["given"][0], "Noor");
        assert_eq!(p["identifier"][0]["system"], format!("urn:kindbrug:organization:{}:child", w.org_a));
        assert_eq!(p["identifier"][0]["value"], "A-1");
        assert_eq!(p["managingOrganization"]["reference"], format!("Organization/{}", w.org_a));
        assert_eq!(headers["etag"], format!("W/\"{}\"", p["meta"]["versionId"].as_str().unwrap()));
        assert!(p.get("bsn").is_none());
        // another organisation: the same answer as an unknown id
        let (other, other_body, _) = fhir_get(&app, &path, Some(&w.integration_b), FHIR).await;
        let (unknown, unknown_body, _) = fhir_get(&app, &format!("/fhir/r4/Patient/{}", uuid::Uuid::now_v7()), Some(&w.integration_b), FHIR).await;
        assert_eq!((other, unknown), (404, 404));
        assert_eq!(other_body, unknown_body);
        assert_eq!(fhir_get(&app, "/fhir/r4/Patient/not-a-uuid", Some(&w.integration_b), FHIR).await.0, 404);

        // the organisation and the location it refers to; another organisation's: unknown
        let (status, org, _) = fhir_get(&app, &format!("/fhir/r4/Organization/{}", w.org_a), Some(&w.integration_a), FHIR).await;
        assert_eq!((status, org["name"].as_str()), (200, Some("Kinderopvang A")));
        assert_eq!(org["type"][0]["coding"][0]["code"], "prov");
        let (status, loc, _) = fhir_get(&app, &format!("/fhir/r4/Location/{}", w.loc_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!((status, loc["status"].as_str()), (200, Some("active")));
        assert_eq!(loc["managingOrganization"]["reference"], format!("Organization/{}", w.org_a));
        for path in [format!("/fhir/r4/Organization/{}", w.org_a), format!("/fhir/r4/Location/{}", w.loc_a1)] {
            let (status, body, _) = fhir_get(&app, &path, Some(&w.integration_b), FHIR).await;
            let (_, unknown, _) = fhir_get(&app, &path.replace(&w.org_a.to_string(), &uuid::Uuid::now_v7().to_string()).replace(&w.loc_a1.to_string(), &uuid::Uuid::now_v7().to_string()), Some(&w.integration_b), FHIR).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body["issue"][0]["code"], unknown["issue"][0]["code"]);
        }
        // search: by identifier, by _id, paging; nothing of another organisation
        let system = format!("urn:kindbrug:organization:{}:child", w.org_a);
        let by_ref = format!("/fhir/r4/Patient?identifier={}%7CA-1", urlencoding(&system));
        let (status, b, _) = fhir_get(&app, &by_ref, Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "searchset");
        assert!(b.get("total").is_none(), "no total that could count the unseen");
        assert_eq!(b["entry"].as_array().unwrap().len(), 1);
        assert_eq!(b["entry"][0]["resource"]["id"], w.child_a1.to_string());
        assert_eq!(b["entry"][0]["search"]["mode"], "match");
        // the JSON API takes the same filter
        let listed = app.get("/api/v1/children?external_ref=A-1", &w.integration_a).await;
        assert_eq!(listed.ok(200)["items"].as_array().unwrap().len(), 1);
        let listed = app.get("/api/v1/children?external_ref=A-1", &w.integration_b).await;
        assert_eq!(listed.ok(200)["items"].as_array().unwrap().len(), 0);
        let (_, theirs, _) = fhir_get(&app, &by_ref, Some(&w.integration_b), FHIR).await;
        assert!(theirs.get("entry").is_none(), "{theirs}");
        let (_, by_id, _) = fhir_get(&app, &format!("/fhir/r4/Patient?_id={}", w.child_a1), Some(&w.integration_b), FHIR).await;
        assert!(by_id.get("entry").is_none());
        // unsupported parameters and bad counts are refused, not ignored
        let (status, body, _) = fhir_get(&app, "/fhir/r4/Patient?name=Noor", Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 400);
        assert!(body["issue"][0]["diagnostics"].as_str().unwrap().contains("name"));
        assert_eq!(fhir_get(&app, "/fhir/r4/Patient?_count=0", Some(&w.integration_a), FHIR).await.0, 400);
        // paging: one per page, a next link that carries the parameters
        for n in 2..=3 {
            app.post(
                "/api/v1/children",
                &w.integration_a,
                serde_json::json!({"location_id": w.loc_a1, "external_ref": format!("A-{n}"), "given_name": format!("Kind {n}"), "date_of_birth": "2022-05-01"}),
            )
            .await
            .ok(201);
        }
        let (_, first, _) = fhir_get(&app, "/fhir/r4/Patient?_count=2", Some(&w.integration_a), FHIR).await;
        assert_eq!(first["entry"].as_array().unwrap().len(), 2);
        let next = first["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").unwrap()["url"].as_str().unwrap().to_string();
        assert!(next.contains("_count=2") && next.contains("_cursor="), "{next}");
        let next_path = &next[next.find("/fhir/r4").unwrap()..];
        let (_, second, _) = fhir_get(&app, next_path, Some(&w.integration_a), FHIR).await;
        assert_eq!(second["entry"].as_array().unwrap().len(), 1);
        // POST _search with a form
        let res = app
            .client
            .post(format!("{}/fhir/r4/Patient/_search", app.base))
            .bearer_auth(&w.integration_a)
            .header("accept", FHIR)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_id={}", w.child_a1))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let b: Value = res.json().await.unwrap();
        assert_eq!(b["entry"].as_array().unwrap().len(), 1);
        // no create yet: POST on the type is not an interaction here
        let res = app
            .client
            .post(format!("{}/fhir/r4/Patient", app.base))
            .bearer_auth(&w.integration_a)
            .header("content-type", FHIR)
            .body(r#"{"resourceType":"Patient"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with(FHIR));
        // another organisation's numbering finds nothing and reads nothing
        let before = app.count("audit_log").await;
        let other_system = format!("urn:kindbrug:organization:{}:child", w.org_b);
        let (_, none, _) = fhir_get(&app, &format!("/fhir/r4/Patient?identifier={}%7CA-1", urlencoding(&other_system)), Some(&w.integration_a), FHIR).await;
        assert!(none.get("entry").is_none());
        assert_eq!(app.count("audit_log").await, before);
        // a body that is not JSON or a form: 415
        let res = app
            .client
            .post(format!("{}/fhir/r4/Patient/_search", app.base))
            .bearer_auth(&w.integration_a)
            .header("content-type", "application/xml")
            .body("<x/>")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415);
    }
);

fn urlencoding(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

db_test!(
    async fn consent_records_as_fhir_consent_with_their_history(app) {
        let c = crate::consultations::ctx(&app).await;
        let path = format!("/fhir/r4/Consent?patient=Patient/{}", c.w.child_a1);
        let (status, b, _) = fhir_get(&app, &path, Some(&c.w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{b}");
        let entries = b["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        let consent = &entries[0]["resource"];
        assert_eq!(consent["resourceType"], "Consent");
        assert_eq!(consent["status"], "active");
        assert_eq!(consent["scope"]["coding"][0]["code"], "patient-privacy");
        assert_eq!(consent["patient"]["reference"], format!("Patient/{}", c.w.child_a1));
        assert_eq!(consent["provision"]["type"], "permit");
        assert_eq!(consent["provision"]["purpose"][0]["code"], "consultation");
        assert_eq!(consent["provision"]["actor"][0]["reference"]["reference"], format!("Organization/{}", c.w.youth));
        assert_eq!(consent["performer"].as_array().unwrap().len(), 2);
        // another organisation finds nothing; the search needs its child
        let (_, theirs, _) = fhir_get(&app, &path, Some(&c.w.integration_b), FHIR).await;
        assert!(theirs.get("entry").is_none(), "{theirs}");
        assert_eq!(fhir_get(&app, "/fhir/r4/Consent", Some(&c.w.integration_a), FHIR).await.0, 400);
        assert_eq!(fhir_get(&app, "/fhir/r4/Consent?status=active", Some(&c.w.integration_a), FHIR).await.0, 400);
        // the performers are the child's guardians, with their parental authority
        let (_, people, _) = fhir_get(&app, &format!("/fhir/r4/RelatedPerson?patient=Patient/{}", c.w.child_a1), Some(&c.w.integration_a), FHIR).await;
        let people = people["entry"].as_array().unwrap();
        assert_eq!(people.len(), 2);
        let eva = people.iter().find(|p| p["resource"]["id"] == c.eva.to_string()).unwrap();
        assert_eq!(eva["resource"]["relationship"][0]["coding"][0]["code"], "PRN");
        assert_eq!(eva["resource"]["extension"][0]["valueBoolean"], true);
        assert!(consent["performer"].as_array().unwrap().iter().any(|p| p["reference"] == format!("RelatedPerson/{}", c.eva)));
        let (_, none, _) = fhir_get(&app, &format!("/fhir/r4/RelatedPerson?patient={}", c.w.child_a1), Some(&c.w.integration_b), FHIR).await;
        assert!(none.get("entry").is_none());
        assert_eq!(fhir_get(&app, "/fhir/r4/RelatedPerson", Some(&c.w.integration_a), FHIR).await.0, 400);
        // a withdrawal: the record stays, inactive
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &c.w.mentor_a1_token, serde_json::json!({"by": {"guardian_id": c.eva}}))
            .await
            .ok(200);
        let (_, after, _) = fhir_get(&app, &format!("/fhir/r4/Consent?patient={}", c.w.child_a1), Some(&c.w.integration_a), FHIR).await;
        assert_eq!(after["entry"][0]["resource"]["status"], "inactive");
    }
);

fn entries<'a>(bundle: &'a Value, mode: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|x| x["search"]["mode"] == mode)
                .map(|x| &x["resource"])
                .collect()
        })
        .unwrap_or_default()
}

db_test!(
    async fn consultation_requests_are_tasks_and_service_requests(app) {
        let c = crate::consultations::ctx(&app).await;
        let w = &c.w;
        let first = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        app.post(&format!("/api/v1/consultations/{first}/accept"), &w.specialist_token, serde_json::json!({})).await.ok(200);
        let second = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();

        // read: where the request stands, and the request itself
        let (status, task, headers) = fhir_get(&app, &format!("/fhir/r4/Task/{first}"), Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{task}");
        assert_eq!(task["resourceType"], "Task");
        assert_eq!(task["status"], "accepted");
        assert_eq!(task["businessStatus"]["coding"][0]["code"], "accepted");
        assert_eq!(task["intent"], "order");
        assert_eq!(task["focus"]["reference"], format!("ServiceRequest/{first}"));
        assert_eq!(task["for"]["reference"], format!("Patient/{}", w.child_a1));
        assert_eq!(task["owner"]["reference"], format!("PractitionerRole/{}", c.spec_1));
        assert_eq!(headers["etag"], format!("W/\"{}\"", task["meta"]["versionId"].as_str().unwrap()));
        let (status, sr, _) = fhir_get(&app, &format!("/fhir/r4/ServiceRequest/{first}"), Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{sr}");
        assert_eq!((sr["status"].as_str(), sr["intent"].as_str()), (Some("active"), Some("order")));
        assert_eq!(sr["subject"]["reference"], format!("Patient/{}", w.child_a1));
        assert_eq!(sr["performerType"]["coding"][0]["code"], "language");
        assert_eq!(sr["note"][0]["text"], "Hoe kan Noor meer meedoen in de groep?");
        // the second request: offered to a specialist (Task status requested, business status offered)
        let (_, offered, _) = fhir_get(&app, &format!("/fhir/r4/Task/{second}"), Some(&w.integration_a), FHIR).await;
        assert_eq!(offered["businessStatus"]["coding"][0]["code"], "offered", "{offered}");
        assert_eq!(offered["status"], "received", "a named specialist weighs it");
        assert_eq!(offered["extension"][0]["url"], "https://kindbrug.nl/fhir/StructureDefinition/answer-due");
        assert!(offered["extension"][0]["valueDateTime"].is_string(), "the answer deadline");
        // the specialist it is offered to does not see the question before accepting: not on
        // read, not through an include
        let (status, sr, _) = fhir_get(&app, &format!("/fhir/r4/ServiceRequest/{second}"), Some(&w.specialist_token), FHIR).await;
        assert_eq!(status, 200, "{sr}");
        assert!(sr.get("note").is_none(), "{sr}");
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Task?_id={second}&_include=Task:focus"), Some(&w.specialist_token), FHIR).await;
        let focus = entries(&b, "include");
        assert_eq!(focus.len(), 1, "{b}");
        assert!(focus[0].get("note").is_none(), "{b}");
        assert!(!b.to_string().contains("meedoen"), "{b}");

        // search per child with the includes: each match once, each included resource once
        let path = format!("/fhir/r4/Task?patient=Patient/{}&_include=Task:focus&_include=Task:patient", w.child_a1);
        let (status, b, _) = fhir_get(&app, &path, Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(entries(&b, "match").len(), 2);
        let included = entries(&b, "include");
        assert_eq!(included.iter().filter(|r| r["resourceType"] == "ServiceRequest").count(), 2);
        assert_eq!(included.iter().filter(|r| r["resourceType"] == "Patient").count(), 1);
        assert!(b.get("total").is_none());
        // paging carries the includes; the pages together hold each request once
        let (_, page1, _) = fhir_get(&app, &format!("/fhir/r4/Task?patient={}&_count=1&_include=Task:patient", w.child_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!(entries(&page1, "match").len(), 1);
        let next = page1["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").unwrap()["url"].as_str().unwrap().to_string();
        assert!(next.contains("_include=Task%3Apatient"), "{next}");
        let (_, page2, _) = fhir_get(&app, &next[next.find("/fhir/r4").unwrap()..], Some(&w.integration_a), FHIR).await;
        assert_eq!(entries(&page2, "match").len(), 1);
        assert_ne!(entries(&page1, "match")[0]["id"], entries(&page2, "match")[0]["id"]);
        assert_eq!(entries(&page2, "include").len(), 1);
        let (_, srs, _) = fhir_get(&app, &format!("/fhir/r4/ServiceRequest?subject={}&_include=ServiceRequest:subject", w.child_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!(entries(&srs, "match").len(), 2);
        assert_eq!(entries(&srs, "include").len(), 1);
        // POST _search
        let res = app.client.post(format!("{}/fhir/r4/Task/_search", app.base)).bearer_auth(&w.integration_a)
            .header("accept", FHIR).header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_id={first}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let b: Value = res.json().await.unwrap();
        assert_eq!(entries(&b, "match").len(), 1);

        // the specialist sees the Task it owns, but the child's record is not theirs: no Patient
        let (status, _, _) = fhir_get(&app, &format!("/fhir/r4/Task/{first}"), Some(&w.specialist_token), FHIR).await;
        assert_eq!(status, 200);
        let (_, own, _) = fhir_get(&app, &format!("/fhir/r4/Task?_id={first}&_include=Task:patient"), Some(&w.specialist_token), FHIR).await;
        assert_eq!(entries(&own, "match").len(), 1, "{own}");
        assert!(entries(&own, "include").is_empty(), "{own}");

        // another organisation: reads and searches find what they find for an unknown id
        for path in [format!("/fhir/r4/Task/{first}"), format!("/fhir/r4/ServiceRequest/{first}")] {
            let (status, body, _) = fhir_get(&app, &path, Some(&w.integration_b), FHIR).await;
            let (unknown, unknown_body, _) = fhir_get(&app, &path.replace(&first.to_string(), &uuid::Uuid::now_v7().to_string()), Some(&w.integration_b), FHIR).await;
            assert_eq!((status, unknown), (404, 404), "{path}");
            assert_eq!(body, unknown_body);
        }
        for path in [
            format!("/fhir/r4/Task?patient={}&_include=Task:patient&_include=Task:focus", w.child_a1),
            format!("/fhir/r4/Task?_id={first}&_include=Task:patient"),
            format!("/fhir/r4/ServiceRequest?patient={}&_include=ServiceRequest:patient", w.child_a1),
            "/fhir/r4/Task".to_string(),
        ] {
            let (status, body, _) = fhir_get(&app, &path, Some(&w.integration_b), FHIR).await;
            assert_eq!(status, 200, "{path}");
            assert!(body.get("entry").is_none(), "{path}: {body}");
        }
        // what is not offered is refused, not ignored
        // narrowed by status, owner and _lastUpdated
        let count = |b: &Value| entries(b, "match").len();
        let q = |params: &str| format!("/fhir/r4/Task?patient={}&{params}", w.child_a1);
        for (params, expected) in [
            ("status=accepted", 1),
            ("status=received", 1),
            ("status=accepted,received", 2),
            ("status=completed", 0),
            (&*format!("owner={}", uuid::Uuid::now_v7()), 0),
            ("_lastUpdated=ge2020-01-01", 2),
            ("_lastUpdated=lt2020-01-01", 0),
            ("_lastUpdated=ge2020-01-01&_lastUpdated=lt2999-01-01&status=accepted", 1),
        ] {
            let (status, b, _) = fhir_get(&app, &q(params), Some(&w.integration_a), FHIR).await;
            assert_eq!((status, count(&b)), (200, expected), "{params}: {b}");
        }
        let owner = format!("PractitionerRole/{}", c.spec_1);
        let (_, all, _) = fhir_get(&app, &q("_count=50"), Some(&w.integration_a), FHIR).await;
        let held = entries(&all, "match").iter().filter(|t| t["owner"]["reference"] == owner.as_str()).count();
        let (_, b, _) = fhir_get(&app, &q(&format!("owner={owner}")), Some(&w.integration_a), FHIR).await;
        assert!(held >= 1 && count(&b) == held, "{b}");
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/ServiceRequest?patient={}&status=active", w.child_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!(count(&b), 2);
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Task?owner=PractitionerRole/{}", c.spec_1), Some(&w.integration_b), FHIR).await;
        assert_eq!(count(&b), 0, "another organisation finds nothing by owner: {b}");
        for bad in ["/fhir/r4/Task?_include=Task:owner", "/fhir/r4/Task?status=bogus", "/fhir/r4/Task?code=x", "/fhir/r4/ServiceRequest?owner=x", "/fhir/r4/ServiceRequest?status=accepted", "/fhir/r4/Task?_lastUpdated=2026-01-01", "/fhir/r4/Task?patient=a&subject=b", "/fhir/r4/ServiceRequest?_include=Task:focus"] {
            let (status, body, _) = fhir_get(&app, bad, Some(&w.integration_a), FHIR).await;
            assert_eq!(status, 400, "{bad}");
            assert!(is_outcome(&body));
        }
    }
);

/// PUTs a Task with `If-Match`; the status and the body.
async fn put_task(
    app: &TestApp,
    token: &str,
    task: &Value,
    if_match: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app
        .client
        .put(format!(
            "{}/fhir/r4/Task/{}",
            app.base,
            task["id"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .header("accept", FHIR)
        .header("content-type", FHIR)
        .body(task.to_string());
    if let Some(v) = if_match {
        req = req.header("if-match", v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap(), headers)
}

db_test!(
    async fn a_task_changes_status_through_the_workflow_with_if_match(app) {
        let c = crate::consultations::ctx(&app).await;
        let w = &c.w;
        let id = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        let path = format!("/fhir/r4/Task/{id}");
        let (_, task, headers) = fhir_get(&app, &path, Some(&w.specialist_token), FHIR).await;
        let etag = headers["etag"].to_str().unwrap().to_string();
        let mut accept = task.clone();
        accept["status"] = "accepted".into();

        // without If-Match: 428; with an old version: 412; nothing changes
        let stored = || async {
            let r = app.get(&format!("/api/v1/consultations/{id}"), &w.integration_a).await;
            let b = r.ok(200);
            (b["status"].clone(), b["version"].clone(), app.count("consultation_declines").await)
        };
        let before = stored().await;
        assert_eq!(put_task(&app, &w.specialist_token, &accept, None).await.0, 428);
        assert_eq!(put_task(&app, &w.specialist_token, &accept, Some("W/\"999\"")).await.0, 412);
        assert_eq!(put_task(&app, &w.specialist_token, &accept, Some("soon")).await.0, 400);
        // the same status again is no change; a new reason alone is refused
        let (status, same, _) = put_task(&app, &w.specialist_token, &task, Some(&etag)).await;
        assert_eq!((status, &same["meta"]["versionId"]), (200, &task["meta"]["versionId"]));
        let mut reason_only = task.clone();
        reason_only["statusReason"] = serde_json::json!({"text": "nieuwe reden"});
        assert_eq!(put_task(&app, &w.specialist_token, &reason_only, Some(&etag)).await.0, 422);
        // another organisation: as for an unknown Task
        let mut unknown = accept.clone();
        unknown["id"] = uuid::Uuid::now_v7().to_string().into();
        for version in [etag.as_str(), "W/\"999\""] {
            // the current ETag and a stale one answer alike: no version of another's Task leaks
            let (status, body, _) = put_task(&app, &w.integration_b, &accept, Some(version)).await;
            let (unknown_status, unknown_body, _) = put_task(&app, &w.integration_b, &unknown, Some(version)).await;
            assert_eq!((status, unknown_status), (404, 404), "{version}");
            assert_eq!(body, unknown_body);
        }
        // bad input: not a Task, another id, another element changed, a status the workflow reaches itself
        let mut other_child = accept.clone();
        other_child["for"]["reference"] = format!("Patient/{}", uuid::Uuid::now_v7()).into();
        let (status, body, _) = put_task(&app, &w.specialist_token, &other_child, Some(&etag)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["issue"][1]["expression"][0], "Task.for");
        let mut completed = task.clone();
        completed["status"] = "completed".into();
        let (status, body, _) = put_task(&app, &w.specialist_token, &completed, Some(&etag)).await;
        assert_eq!(status, 422);
        assert!(body.to_string().contains("reached through the workflow"), "{body}");
        let mut renamed = accept.clone();
        renamed["id"] = uuid::Uuid::now_v7().to_string().into();
        let res = app.client.put(format!("{}{path}", app.base)).bearer_auth(&w.specialist_token)
            .header("content-type", FHIR).header("if-match", &etag).body(renamed.to_string()).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let res = app.client.put(format!("{}{path}", app.base)).bearer_auth(&w.specialist_token)
            .header("content-type", FHIR).header("if-match", &etag).body("{not json").send().await.unwrap();
        assert_eq!(res.status(), 400);
        // the requester cannot accept for the specialist
        let (status, _, _) = put_task(&app, &w.integration_a, &accept, Some(&etag)).await;
        assert_eq!(status, 403);
        assert_eq!(stored().await, before, "a refused PUT changed something");

        // the owner accepts
        let (status, accepted, headers) = put_task(&app, &w.specialist_token, &accept, Some(&etag)).await;
        assert_eq!(status, 200, "{accepted}");
        assert_eq!(accepted["status"], "accepted");
        assert_ne!(headers["etag"].to_str().unwrap(), etag);
        let (_, json, _) = fhir_get(&app, &path, Some(&w.integration_a), FHIR).await;
        assert_eq!(json["status"], "accepted");
        // the same ETag again is stale now
        assert_eq!(put_task(&app, &w.specialist_token, &accept, Some(&etag)).await.0, 412);

        // a second request: the requester cancels it, with a reason
        let second = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        let (_, task, headers) = fhir_get(&app, &format!("/fhir/r4/Task/{second}"), Some(&w.integration_a), FHIR).await;
        let mut cancel = task.clone();
        cancel["status"] = "cancelled".into();
        let (status, body, _) = put_task(&app, &w.integration_a, &cancel, Some(headers["etag"].to_str().unwrap())).await;
        assert_eq!(status, 422, "a cancellation needs its reason: {body}");
        cancel["statusReason"] = serde_json::json!({"text": "ouders willen eerst zelf praten"});
        let (status, cancelled, _) = put_task(&app, &w.integration_a, &cancel, Some(headers["etag"].to_str().unwrap())).await;
        assert_eq!(status, 200, "{cancelled}");
        assert_eq!(cancelled["status"], "cancelled");
        let listed = app.get(&format!("/api/v1/consultations/{second}"), &w.integration_a).await;
        assert_eq!(listed.ok(200)["status"], "cancelled");

        // a third: the owner rejects the offer with a reason; it moves on (here: to the region's
        // queue) and is no longer the specialist's to read
        let third = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        let (_, task, headers) = fhir_get(&app, &format!("/fhir/r4/Task/{third}"), Some(&w.specialist_token), FHIR).await;
        let mut reject = task.clone();
        reject["status"] = "rejected".into();
        reject["statusReason"] = serde_json::json!({"text": "geen tijd deze maand"});
        let (status, moved, _) = put_task(&app, &w.specialist_token, &reject, Some(headers["etag"].to_str().unwrap())).await;
        assert_eq!(status, 200, "{moved}");
        assert_eq!(moved["businessStatus"]["coding"][0]["code"], "unassigned", "{moved}");
        assert!(moved.get("owner").is_none(), "{moved}");
        assert_eq!(app.count("consultation_declines").await, 1);
        let (status, _, _) = fhir_get(&app, &format!("/fhir/r4/Task/{third}"), Some(&w.specialist_token), FHIR).await;
        assert_eq!(status, 404, "no longer the specialist's to read");
        // the region's coordinator turns the unassigned request down
        app.post(&format!("/api/v1/organizations/{}/staff", w.youth), &app.admin(),
            serde_json::json!({"subject": "coord", "name": "Coord", "role": "coordinator", "region_codes": ["JZ22"]})).await.ok(201);
        let coord = app.token("coord", &["coordinator"], Some(w.youth));
        let (_, queued, headers) = fhir_get(&app, &format!("/fhir/r4/Task/{third}"), Some(&coord), FHIR).await;
        assert_eq!(queued["status"], "requested", "{queued}");
        let mut turn_down = queued.clone();
        turn_down["status"] = "rejected".into();
        turn_down["statusReason"] = serde_json::json!({"text": "past niet in het aanbod van de regio"});
        let (status, rejected, _) = put_task(&app, &coord, &turn_down, Some(headers["etag"].to_str().unwrap())).await;
        assert_eq!((status, rejected["status"].as_str()), (200, Some("rejected")), "{rejected}");
        // a cancelled Task does not come back through PUT: the rule, as a 422
        let (_, cancelled_now, headers) = fhir_get(&app, &format!("/fhir/r4/Task/{second}"), Some(&w.integration_a), FHIR).await;
        let mut again = cancelled_now.clone();
        again["status"] = "accepted".into();
        let (status, body, _) = put_task(&app, &w.specialist_token, &again, Some(headers["etag"].to_str().unwrap())).await;
        assert!(status == 422 || status == 404, "{status} {body}");
    }
);

/// A Consent as a childcare system would post it.
fn consent_in(
    child: uuid::Uuid,
    performers: &[String],
    recipient: uuid::Uuid,
    status: &str,
    kind: &str,
) -> Value {
    serde_json::json!({
        "resourceType": "Consent",
        "extension": [
            {"url": "https://kindbrug.nl/fhir/StructureDefinition/consent-method", "valueCode": "written"},
            {"url": "https://kindbrug.nl/fhir/StructureDefinition/information-version", "valueString": "2026-1"}
        ],
        "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{child}")},
        "performer": performers.iter().map(|p| serde_json::json!({"reference": p})).collect::<Vec<_>>(),
        "sourceAttachment": {"title": "formulier-2026-11"},
        "provision": {
            "type": kind,
            "period": {"start": "2026-11-01"},
            "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                       "reference": {"reference": format!("Organization/{recipient}")}}],
            "purpose": [{"system": "urn:kindbrug:consent-purpose", "code": "referral"}]
        }
    })
}

async fn post_fhir(
    app: &TestApp,
    path: &str,
    token: &str,
    body: &Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("accept", FHIR)
        .header("content-type", FHIR)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap(), headers)
}

db_test!(
    async fn a_childcare_system_records_consent_through_fhir(app) {
        let c = crate::consultations::ctx(&app).await;
        let w = &c.w;
        let both = [format!("RelatedPerson/{}", c.eva), format!("RelatedPerson/{}", c.tom)];
        let count = || app.count("consents");
        let before = count().await;

        // refused whole, nothing written: unknown elements, what cannot be read, and the rules
        let mut unknown = consent_in(w.child_a1, &both, w.youth, "active", "permit");
        unknown["foo"] = "bar".into();
        assert_eq!(post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &unknown).await.0, 400);
        let mut wrong_type = consent_in(w.child_a1, &both, w.youth, "active", "permit");
        wrong_type["performer"] = "RelatedPerson".into();
        assert_eq!(post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &wrong_type).await.0, 400);
        for (what, body, element) in [
            ("a draft", consent_in(w.child_a1, &both, w.youth, "draft", "permit"), "Consent.status"),
            ("permit with rejected", consent_in(w.child_a1, &both, w.youth, "rejected", "permit"), "Consent.provision.type"),
            ("a practitioner as performer", consent_in(w.child_a1, &["Practitioner/1".to_string()], w.youth, "active", "permit"), "Consent.performer[0]"),
            ("no method", {
                let mut b = consent_in(w.child_a1, &both, w.youth, "active", "permit");
                b["extension"].as_array_mut().unwrap().remove(0);
                b
            }, "Consent.extension('https://kindbrug.nl/fhir/StructureDefinition/consent-method')"),
        ] {
            let (status, body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &body).await;
            assert_eq!(status, 422, "{what}: {body}");
            assert_eq!(body["issue"][1]["expression"][0], element, "{what}: {body}");
        }
        // a referral needs both parents with gezag: the rule says who is missing
        let (status, body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a,
            &consent_in(w.child_a1, &both[..1], w.youth, "active", "permit")).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["issue"][1]["expression"][0], "Consent.performer", "{body}");
        // the same explanation the JSON API gives for the same decision
        let json = app.post(&format!("/api/v1/children/{}/consents", w.child_a1), &w.integration_a, serde_json::json!({
            "purpose": "referral", "recipient": {"organization_id": w.youth}, "decision": "granted",
            "given_by": [{"guardian_id": c.eva}], "method": "written", "evidence_ref": "formulier-2026-11",
            "information_version": "2026-1", "valid_from": "2026-11-01"})).await;
        json.problem(422);
        assert_eq!(body["issue"][0]["diagnostics"], json.body["detail"], "{body} / {}", json.text);
        // another organisation: as for a child that does not exist
        let (theirs, theirs_body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_b,
            &consent_in(w.child_a1, &both, w.youth, "active", "permit")).await;
        let (nobody, nobody_body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_b,
            &consent_in(uuid::Uuid::now_v7(), &both, w.youth, "active", "permit")).await;
        assert_eq!((theirs, nobody), (404, 404));
        assert_eq!(theirs_body["issue"], nobody_body["issue"]);
        assert_eq!(count().await, before, "a refused Consent was written");

        // recorded: 201, the stored record, and where it can be read
        let (status, created, headers) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a,
            &consent_in(w.child_a1, &both, w.youth, "active", "permit")).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["status"], "active");
        assert_eq!(created["sourceAttachment"]["title"], "formulier-2026-11");
        assert_eq!(created["extension"][0]["valueCode"], "written");
        assert_eq!(count().await, before + 1);
        let location = headers["location"].to_str().unwrap();
        let path = &location[location.find("/fhir/r4").unwrap()..];
        let (status, read, _) = fhir_get(&app, path, Some(&w.integration_a), FHIR).await;
        assert_eq!((status, &read["id"]), (200, &created["id"]));
        // the same through the JSON API
        let listed = app.get(&format!("/api/v1/children/{}/consents", w.child_a1), &w.integration_a).await;
        assert!(listed.text.contains(created["id"].as_str().unwrap()));
        // another organisation reads it as an unknown id
        let (status, body, _) = fhir_get(&app, path, Some(&w.integration_b), FHIR).await;
        let (_, unknown_body, _) = fhir_get(&app, &format!("/fhir/r4/Consent/{}", uuid::Uuid::now_v7()), Some(&w.integration_b), FHIR).await;
        assert_eq!(status, 404);
        assert_eq!(body, unknown_body);
        // a refusal is recorded as rejected
        let (status, refused, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a,
            &consent_in(w.child_a1, &both, w.youth, "rejected", "deny")).await;
        assert_eq!((status, refused["status"].as_str()), (201, Some("rejected")), "{refused}");
        // an extension the server does not know is refused, not dropped; a judgement that the
        // child is not competent needs who, when and why
        let mut unknown_ext = consent_in(w.child_a1, &both, w.youth, "active", "permit");
        unknown_ext["extension"].as_array_mut().unwrap().push(serde_json::json!({"url": "https://example.org/x", "valueString": "y"}));
        let (status, body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &unknown_ext).await;
        assert_eq!((status, body["issue"][1]["expression"][0].as_str()), (422, Some("Consent.extension[2]")), "{body}");
        let judgement = |parts: Value| {
            let mut b = consent_in(w.child_a1, &both, w.youth, "active", "permit");
            b["extension"].as_array_mut().unwrap().push(serde_json::json!({"url": "https://kindbrug.nl/fhir/StructureDefinition/child-not-competent", "extension": parts}));
            b
        };
        let (status, body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &judgement(serde_json::json!([{"url": "judgedBy", "valueString": "J. de Vries, orthopedagoog"}]))).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["issue"][1]["expression"][0], "Consent.extension('https://kindbrug.nl/fhir/StructureDefinition/child-not-competent')");
        let parts = serde_json::json!([
            {"url": "judgedBy", "valueString": "J. de Vries, orthopedagoog"},
            {"url": "judgedOn", "valueDate": "2026-10-01"},
            {"url": "reason", "valueString": "GEHEIME-REDEN"}
        ]);
        // under 12 the Dutch rules refuse it (the parents decide anyway), with the JSON API's words
        let (status, body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &judgement(parts.clone())).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["issue"][0]["diagnostics"].as_str().unwrap().contains("WGBO"), "{body}");
        // a child of 13 judged not competent: the parents consent, the judgement is kept
        let teen = app.post("/api/v1/children", &w.mentor_a1_token, serde_json::json!({"location_id": w.loc_a1, "external_ref": "A-13", "given_name": "Sem", "date_of_birth": "2013-05-01"})).await.id();
        let g = format!("/api/v1/children/{teen}/guardians");
        let mut parents = Vec::new();
        for name in ["Ria", "Bas"] {
            let id = app.post(&g, &w.mentor_a1_token, serde_json::json!({"name": name, "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})).await.id();
            parents.push(format!("RelatedPerson/{id}"));
        }
        let mut for_teen = consent_in(teen, &parents, w.youth, "active", "permit");
        for_teen["extension"].as_array_mut().unwrap().push(serde_json::json!({"url": "https://kindbrug.nl/fhir/StructureDefinition/child-not-competent", "extension": parts}));
        let before_judged = count().await;
        let (status, judged, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &for_teen).await;
        assert_eq!(status, 201, "{judged}");
        assert_eq!(count().await, before_judged + 1);
        let ext = judged["extension"].as_array().unwrap().iter().find(|e| e["url"] == "https://kindbrug.nl/fhir/StructureDefinition/child-not-competent").expect("the judgement").clone();
        assert_eq!(ext["extension"][0]["valueString"], "J. de Vries, orthopedagoog");
        assert_eq!(ext["extension"][1]["valueDate"], "2026-10-01");
        assert!(!judged.to_string().contains("GEHEIME-REDEN"), "the reason is about the child: {judged}");
        // a region as recipient: the specialists of the jeugdregio, by its code
        let mut to_region = consent_in(w.child_a1, &both, w.youth, "active", "permit");
        to_region["provision"]["purpose"][0]["code"] = "consultation".into();
        to_region["provision"]["actor"][0]["reference"] = serde_json::json!({"identifier": {"system": "https://kindbrug.nl/fhir/NamingSystem/jeugdregio", "value": "JZ22"}});
        let (status, regional, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &to_region).await;
        assert_eq!(status, 201, "{regional}");
        assert_eq!(regional["provision"]["actor"][0]["reference"]["identifier"]["value"], "JZ22");
        to_region["provision"]["actor"][0]["reference"]["identifier"]["value"] = "XX99".into();
        let (status, body, _) = post_fhir(&app, "/fhir/r4/Consent", &w.integration_a, &to_region).await;
        assert_eq!(status, 422, "{body}");
    }
);

/// An Encounter as a specialist's system would post it.
fn encounter_in(request: uuid::Uuid, child: uuid::Uuid) -> Value {
    serde_json::json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "FLD"},
        "type": [{"coding": [{"system": "https://kindbrug.nl/fhir/CodeSystem/visit-kind", "code": "staff_coaching"}]}],
        "subject": {"reference": format!("Patient/{child}")},
        "basedOn": [{"reference": format!("ServiceRequest/{request}")}],
        "participant": [
            {"type": [{"coding": [{"system": "https://kindbrug.nl/fhir/CodeSystem/visit-participant", "code": "mentor"}]}]},
            {"type": [{"coding": [{"system": "https://kindbrug.nl/fhir/CodeSystem/visit-participant", "code": "practitioner"}]}]}
        ],
        "period": {"start": "2026-11-20"},
        "length": {"value": 60, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"},
        "extension": [{"url": "https://kindbrug.nl/fhir/StructureDefinition/core-competence",
                       "valueCoding": {"system": "https://kindbrug.nl/fhir/CodeSystem/core-competence", "code": "striking_behaviour"}}]
    })
}

db_test!(
    async fn a_specialist_system_logs_visits_as_encounters(app) {
        let (c, id) = crate::specialist_work::accepted(&app).await;
        let w = &c.w;
        let spec = &w.specialist_token;
        let visits = || app.count("visits");
        let before = visits().await;

        // refused whole, nothing written: unknown element, wrong type, and each rule named
        let mut unknown = encounter_in(id, w.child_a1);
        unknown["note"] = serde_json::json!([{"text": "x"}]);
        assert_eq!(post_fhir(&app, "/fhir/r4/Encounter", spec, &unknown).await.0, 400);
        let mut wrong_type = encounter_in(id, w.child_a1);
        wrong_type["length"]["value"] = "sixty".into();
        assert_eq!(post_fhir(&app, "/fhir/r4/Encounter", spec, &wrong_type).await.0, 400);
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut b = encounter_in(id, w.child_a1);
            f(&mut b);
            b
        };
        for (what, body, element) in [
            ("no status", edit(&|b| { b.as_object_mut().unwrap().remove("status"); }), "Encounter.status"),
            ("in progress", edit(&|b| b["status"] = "in-progress".into()), "Encounter.status"),
            ("an unknown kind", edit(&|b| b["type"][0]["coding"][0]["code"] = "party".into()), "Encounter.type"),
            ("class of another system", edit(&|b| b["class"]["system"] = "http://example.org".into()), "Encounter.class"),
            ("on location but remote", edit(&|b| b["type"][0]["coding"][0]["code"] = "remote".into()), "Encounter.class"),
            ("a broken reference", edit(&|b| b["basedOn"][0]["reference"] = "ServiceRequest/nope".into()), "Encounter.basedOn"),
            ("a Task as basis", edit(&|b| b["basedOn"][0]["reference"] = format!("Task/{id}").into()), "Encounter.basedOn"),
            ("a named participant", edit(&|b| b["participant"][0]["individual"] = serde_json::json!({"reference": "RelatedPerson/1"})), "Encounter.participant[0]"),
            ("hours", edit(&|b| b["length"]["code"] = "h".into()), "Encounter.length"),
            ("no length", edit(&|b| { b.as_object_mut().unwrap().remove("length"); }), "Encounter.length"),
            ("too long", edit(&|b| b["length"]["value"] = 6000.into()), "Encounter.length"),
            ("held in the future", edit(&|b| b["period"]["start"] = "2099-01-01".into()), "Encounter.period.start"),
            ("no participants", edit(&|b| b["participant"] = serde_json::json!([])), "Encounter.participant"),
            ("another child", edit(&|b| b["subject"]["reference"] = format!("Patient/{}", uuid::Uuid::now_v7()).into()), "Encounter.subject"),
            ("an unknown extension", edit(&|b| b["extension"][0]["url"] = "https://example.org/x".into()), "Encounter.extension[0]"),
        ] {
            let (status, body, _) = post_fhir(&app, "/fhir/r4/Encounter", spec, &body).await;
            assert_eq!(status, 422, "{what}: {body}");
            assert!(is_outcome(&body));
            let named: Vec<&str> = body["issue"].as_array().unwrap().iter().filter_map(|i| i["expression"][0].as_str()).collect();
            assert!(named.contains(&element), "{what}: {body}");
        }
        // not the assigned specialist: the mentor, another organisation, a request nobody has
        let (status, _, _) = post_fhir(&app, "/fhir/r4/Encounter", &w.mentor_a1_token, &encounter_in(id, w.child_a1)).await;
        assert_eq!(status, 403);
        let (theirs, theirs_body, _) = post_fhir(&app, "/fhir/r4/Encounter", &w.integration_b, &encounter_in(id, w.child_a1)).await;
        let (nobody, nobody_body, _) = post_fhir(&app, "/fhir/r4/Encounter", &w.integration_b, &encounter_in(uuid::Uuid::now_v7(), w.child_a1)).await;
        assert_eq!((theirs, nobody), (404, 404));
        assert_eq!(theirs_body, nobody_body);
        assert_eq!(visits().await, before, "a refused Encounter was written");

        // logged: 201, what was stored, and the first held visit starts the work
        let (status, created, headers) = post_fhir(&app, "/fhir/r4/Encounter", spec, &encounter_in(id, w.child_a1)).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(visits().await, before + 1);
        assert_eq!(created["status"], "finished");
        assert_eq!(created["length"]["value"], 60);
        assert_eq!(created["basedOn"][0]["reference"], format!("ServiceRequest/{id}"));
        assert_eq!(created["participant"][0]["individual"]["reference"], format!("PractitionerRole/{}", c.spec_1));
        assert_eq!(created["participant"].as_array().unwrap().len(), 3);
        assert_eq!(created["extension"][0]["valueCoding"]["code"], "striking_behaviour");
        assert_eq!(headers["etag"], "W/\"1\"");
        let vid = created["id"].as_str().unwrap().to_string();
        let (_, task, _) = fhir_get(&app, &format!("/fhir/r4/Task/{id}"), Some(spec), FHIR).await;
        assert_eq!(task["status"], "in-progress");
        // the same visit through the JSON API, and its sealed notes nowhere in FHIR
        let json = app.get(&format!("/api/v1/consultations/{id}/visits"), spec).await;
        assert_eq!(json.ok(200)[0]["id"], vid.as_str());
        app.post(&format!("/api/v1/consultations/{id}/visits"), spec, crate::specialist_work::visit("GEHEIM-NOTITIE", false)).await.ok(201);

        // read and search: the specialist and the childcare side; another organisation finds nothing
        let location = headers["location"].to_str().unwrap();
        let path = &location[location.find("/fhir/r4").unwrap()..];
        for token in [spec, &w.integration_a] {
            let (status, read, _) = fhir_get(&app, path, Some(token), FHIR).await;
            assert_eq!((status, &read["id"]), (200, &created["id"]), "{read}");
            for q in [format!("based-on=ServiceRequest/{id}"), format!("patient=Patient/{}", w.child_a1), format!("subject={}", w.child_a1)] {
                let (status, b, _) = fhir_get(&app, &format!("/fhir/r4/Encounter?{q}"), Some(token), FHIR).await;
                assert_eq!(status, 200, "{q}: {b}");
                assert_eq!(entries(&b, "match").len(), 2, "{q}: {b}");
                assert!(!b.to_string().contains("GEHEIM"), "sealed notes in a Bundle: {b}");
            }
            let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Encounter?_id={vid}&based-on={id}"), Some(token), FHIR).await;
            assert_eq!(entries(&b, "match").len(), 1, "{b}");
        }
        let (status, body, _) = fhir_get(&app, path, Some(&w.integration_b), FHIR).await;
        let (_, unknown_body, _) = fhir_get(&app, &format!("/fhir/r4/Encounter/{}", uuid::Uuid::now_v7()), Some(&w.integration_b), FHIR).await;
        assert_eq!(status, 404);
        assert_eq!(body, unknown_body);
        for q in [format!("based-on=ServiceRequest/{id}"), format!("patient={}", w.child_a1), format!("_id={vid}")] {
            let (status, b, _) = fhir_get(&app, &format!("/fhir/r4/Encounter?{q}"), Some(&w.integration_b), FHIR).await;
            assert_eq!(status, 200);
            assert!(b.get("entry").is_none(), "{q}: {b}");
        }
        // those who see the request but not its visits, or not this child: nothing found
        app.post(&format!("/api/v1/organizations/{}/staff", w.youth), &app.admin(), serde_json::json!({"subject": "coord-enc", "name": "C", "role": "coordinator", "region_codes": ["JZ22"]})).await.ok(201);
        let coordinator = app.token("coord-enc", &["coordinator"], Some(w.youth));
        let (_, other_specialist) = crate::consultations::specialist(&app, w.youth, "spec-enc", &["language"], &["JZ22"], 3).await;
        for token in [&coordinator, &other_specialist, &w.mentor_a2_token, &w.mentor_b1_token] {
            let (status, _, _) = fhir_get(&app, path, Some(token), FHIR).await;
            assert_eq!(status, 404, "{token}");
            for q in [format!("based-on=ServiceRequest/{id}"), format!("patient={}", w.child_a1)] {
                let (status, b, _) = fhir_get(&app, &format!("/fhir/r4/Encounter?{q}"), Some(token), FHIR).await;
                assert_eq!(status, 200, "{q}");
                assert!(b.get("entry").is_none(), "{q}: {b}");
            }
        }
        // notes shared with the mentors stay out of FHIR too
        app.post(&format!("/api/v1/consultations/{id}/visits"), spec, crate::specialist_work::visit("GEDEELDE-NOTITIE", true)).await.ok(201);
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Encounter?based-on=ServiceRequest/{id}"), Some(&w.integration_a), FHIR).await;
        assert_eq!(entries(&b, "match").len(), 3);
        assert!(!b.to_string().contains("GEDEELDE") && !b.to_string().contains("prentenkaart"), "{b}");
        // after a withdrawal the specialist's access ends: the read says so, searches find nothing
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &w.mentor_a1_token, serde_json::json!({"by": {"guardian_id": c.eva}})).await.ok(200);
        assert_eq!(fhir_get(&app, path, Some(spec), FHIR).await.0, 403);
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Encounter?based-on=ServiceRequest/{id}"), Some(spec), FHIR).await;
        assert!(b.get("entry").is_none(), "{b}");
        // and so do its reads of the request itself, at once: Task, ServiceRequest, searches
        for read in [format!("/fhir/r4/Task/{id}"), format!("/fhir/r4/ServiceRequest/{id}")] {
            let (status, body, _) = fhir_get(&app, &read, Some(spec), FHIR).await;
            assert_eq!(status, 403, "{read}: {body}");
            assert!(!body.to_string().contains("meedoen"), "{body}");
        }
        for search in [format!("/fhir/r4/Task?_id={id}"), "/fhir/r4/Task".to_string(), format!("/fhir/r4/Observation?patient={}", w.child_a1)] {
            let (status, b, _) = fhir_get(&app, &search, Some(spec), FHIR).await;
            assert_eq!(status, 200, "{search}");
            assert!(b.get("entry").is_none(), "{search}: {b}");
        }
        for bad in ["/fhir/r4/Encounter", "/fhir/r4/Encounter?status=finished", "/fhir/r4/Encounter?patient=a&subject=b"] {
            assert_eq!(fhir_get(&app, bad, Some(spec), FHIR).await.0, 400, "{bad}");
        }
    }
);

db_test!(
    async fn a_youth_care_providers_system_reads_what_its_specialists_took(app) {
        // before a specialist of the provider takes the request, its system sees nothing of it
        let c = crate::consultations::ctx(&app).await;
        let w = &c.w;
        let provider = app.token("system-youth", &["integration"], Some(w.youth));
        let id = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        let reads = [format!("/fhir/r4/Task/{id}"), format!("/fhir/r4/ServiceRequest/{id}")];
        let (_, unknown, _) = fhir_get(&app, &format!("/fhir/r4/Task/{}", uuid::Uuid::now_v7()), Some(&provider), FHIR).await;
        for read in &reads {
            let (status, body, _) = fhir_get(&app, read, Some(&provider), FHIR).await;
            assert_eq!(status, 404, "{read}: {body}");
            assert!(!body.to_string().contains("meedoen"), "{body}");
        }
        let (_, b, _) = fhir_get(&app, "/fhir/r4/Task", Some(&provider), FHIR).await;
        assert!(b.get("entry").is_none(), "an offered request in the provider's search: {b}");

        // once its specialist accepted: Task and ServiceRequest with the question, found by search
        app.post(&format!("/api/v1/consultations/{id}/accept"), &w.specialist_token, serde_json::json!({})).await.ok(200);
        for read in &reads {
            let (status, body, _) = fhir_get(&app, read, Some(&provider), FHIR).await;
            assert_eq!(status, 200, "{read}: {body}");
            assert_eq!(body["id"], id.to_string());
        }
        let (_, sr, _) = fhir_get(&app, &reads[1], Some(&provider), FHIR).await;
        assert!(sr.to_string().contains("meedoen"), "the question is the specialist's work: {sr}");
        for search in ["/fhir/r4/Task".to_string(), format!("/fhir/r4/Task?_id={id}"), format!("/fhir/r4/ServiceRequest?_id={id}"), format!("/fhir/r4/Task?_id={id}&_include=Task:focus")] {
            let (status, b, _) = fhir_get(&app, &search, Some(&provider), FHIR).await;
            assert_eq!(status, 200, "{search}");
            assert_eq!(entries(&b, "match").len(), 1, "{search}: {b}");
            assert_eq!(entries(&b, "match")[0]["id"], id.to_string());
        }
        // the same through the JSON API, and its view is the accepted specialist's
        let json = app.get(&format!("/api/v1/consultations/{id}"), &provider).await;
        assert_eq!(json.ok(200)["question"], "Hoe kan Noor meer meedoen in de groep?");
        let listed = app.get("/api/v1/consultations", &provider).await;
        assert!(listed.ok(200).to_string().contains(&id.to_string()));
        // it reads; it does not act for its specialist
        let (status, _, _) = post_fhir(&app, "/fhir/r4/Encounter", &provider, &encounter_in(id, w.child_a1)).await;
        assert_eq!(status, 403);
        // routing belongs to the coordinators, not to the provider's system
        app.get(&format!("/api/v1/consultations/{id}/routing"), &provider).await.problem(404);

        // another youth-care provider's system: the same answer as for a request that does not exist
        let other = app.post("/api/v1/organizations", &app.admin(), serde_json::json!({"name": "Jeugdhulp D", "kind": "youth_care"})).await.id();
        let stranger = app.token("system-other", &["integration"], Some(other));
        for read in &reads {
            let (status, body, _) = fhir_get(&app, read, Some(&stranger), FHIR).await;
            assert_eq!((status, &body), (404, &unknown), "{read}");
        }
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Task?_id={id}"), Some(&stranger), FHIR).await;
        assert!(b.get("entry").is_none(), "{b}");
        app.get(&format!("/api/v1/consultations/{id}"), &stranger).await.problem(404);

        // withdrawn consent ends the provider system's reads at once, without the question
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &w.mentor_a1_token, serde_json::json!({"by": {"guardian_id": c.eva}})).await.ok(200);
        for read in &reads {
            let (status, body, _) = fhir_get(&app, read, Some(&provider), FHIR).await;
            assert_eq!(status, 403, "{read}: {body}");
            assert!(!body.to_string().contains("meedoen"), "{body}");
        }
        for search in ["/fhir/r4/Task".to_string(), format!("/fhir/r4/Task?_id={id}"), format!("/fhir/r4/ServiceRequest?_id={id}")] {
            let (status, b, _) = fhir_get(&app, &search, Some(&provider), FHIR).await;
            assert_eq!(status, 200, "{search}");
            assert!(b.get("entry").is_none(), "{search}: {b}");
        }
        let listed = app.get("/api/v1/consultations", &provider).await;
        assert!(!listed.ok(200).to_string().contains("meedoen"));
    }
);

db_test!(
    async fn concerns_and_outcomes_are_observations(app) {
        let (c, id) = crate::specialist_work::accepted(&app).await;
        let w = &c.w;
        // the mentor's concern: one Observation per developmental domain, for the childcare side
        let (status, b, _) = fhir_get(&app, &format!("/fhir/r4/Observation?patient=Patient/{}", w.child_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{b}");
        let found = entries(&b, "match");
        let codes: Vec<&str> = found.iter().map(|o| o["code"]["coding"][0]["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["language", "social_emotional"], "{b}");
        assert_eq!(found[0]["valueString"], "zegt weinig, speelt alleen");
        assert_eq!(found[0]["effectivePeriod"]["start"], "2026-09-01");
        let concern_obs = found[1]["id"].as_str().unwrap().to_string();
        assert_eq!(concern_obs, format!("{}-social-emotional", c.concern));
        let (status, read, _) = fhir_get(&app, &format!("/fhir/r4/Observation/{concern_obs}"), Some(&w.integration_a), FHIR).await;
        assert_eq!((status, read["id"].as_str()), (200, Some(concern_obs.as_str())));
        // the specialist does not keep the child's record: no concerns found, none read
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Observation?patient={}", w.child_a1), Some(&w.specialist_token), FHIR).await;
        assert!(b.get("entry").is_none(), "{b}");
        assert_eq!(fhir_get(&app, &format!("/fhir/r4/Observation/{concern_obs}"), Some(&w.specialist_token), FHIR).await.0, 404);

        // closed: the outcome, referenced from the Task, read by both sides
        app.post(&format!("/api/v1/consultations/{id}/close"), &w.specialist_token,
            serde_json::json!({"outcome": "handled_within_childcare", "summary": "begeleid op de groep", "parents_involved": true})).await.ok(200);
        let (_, task, _) = fhir_get(&app, &format!("/fhir/r4/Task/{id}"), Some(&w.integration_a), FHIR).await;
        assert_eq!(task["status"], "completed");
        let outcome_ref = task["output"].as_array().unwrap().iter().find_map(|o| o["valueReference"]["reference"].as_str()).unwrap().to_string();
        assert_eq!(outcome_ref, format!("Observation/{id}-outcome"));
        for token in [&w.integration_a, &w.specialist_token] {
            let (status, o, _) = fhir_get(&app, &format!("/fhir/r4/{outcome_ref}"), Some(token), FHIR).await;
            assert_eq!(status, 200, "{o}");
            assert_eq!(o["valueCodeableConcept"]["coding"][0]["code"], "handled_within_childcare");
            assert_eq!(o["basedOn"][0]["reference"], format!("ServiceRequest/{id}"));
        }
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Observation?subject={}&category=consultation-outcome", w.child_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!(entries(&b, "match").len(), 1, "{b}");
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Observation?patient={}&based-on=ServiceRequest/{id}", w.child_a1), Some(&w.specialist_token), FHIR).await;
        assert_eq!(entries(&b, "match").len(), 1, "{b}");
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Observation?patient={}&category=concern", w.child_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!(entries(&b, "match").len(), 2, "{b}");
        // an open request has no outcome
        let open = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        assert_eq!(fhir_get(&app, &format!("/fhir/r4/Observation/{open}-outcome"), Some(&w.integration_a), FHIR).await.0, 404);

        // another organisation: as for ids that do not exist, and searches find nothing
        for path in [format!("/fhir/r4/Observation/{concern_obs}"), format!("/fhir/r4/{outcome_ref}")] {
            let (status, body, _) = fhir_get(&app, &path, Some(&w.integration_b), FHIR).await;
            let (_, unknown, _) = fhir_get(&app, &format!("/fhir/r4/Observation/{}-outcome", uuid::Uuid::now_v7()), Some(&w.integration_b), FHIR).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body, unknown);
        }
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Observation?patient={}", w.child_a1), Some(&w.integration_b), FHIR).await;
        assert!(b.get("entry").is_none(), "{b}");
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/Observation?_id={concern_obs}"), Some(&w.integration_b), FHIR).await;
        assert!(b.get("entry").is_none(), "{b}");
        for bad in ["/fhir/r4/Observation", "/fhir/r4/Observation?patient=x&category=vital-signs", "/fhir/r4/Observation?code=x&patient=y"] {
            assert_eq!(fhir_get(&app, bad, Some(&w.integration_a), FHIR).await.0, 400, "{bad}");
        }
        assert_eq!(fhir_get(&app, "/fhir/r4/Observation/not-an-id", Some(&w.integration_a), FHIR).await.0, 404);
    }
);

/// A ServiceRequest as a childcare system would post it.
fn service_request_in(child: uuid::Uuid, concern: uuid::Uuid) -> Value {
    serde_json::json!({
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "subject": {"reference": format!("Patient/{child}")},
        "reasonReference": [{"reference": format!("Observation/{concern}-language")}],
        "performerType": {"coding": [{"system": "https://kindbrug.nl/fhir/CodeSystem/expertise", "code": "language"}]},
        "note": [{"text": "Hoe kan Noor meer meedoen in de kring?"}]
    })
}

async fn post_with(
    app: &TestApp,
    path: &str,
    token: &str,
    body: &Value,
    header: (&str, &str),
) -> (u16, Value) {
    let res = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("accept", FHIR)
        .header("content-type", FHIR)
        .header(header.0, header.1)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

db_test!(
    async fn a_childcare_system_opens_a_request_through_fhir(app) {
        let c = crate::consultations::ctx(&app).await;
        let w = &c.w;
        let requests = || app.count("consultations");
        let good = || service_request_in(w.child_a1, c.concern);

        // refused whole, nothing written
        let mut unknown = good();
        unknown["orderDetail"] = serde_json::json!([{"text": "x"}]);
        assert_eq!(post_fhir(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &unknown).await.0, 400);
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut b = good();
            f(&mut b);
            b
        };
        for (what, body, element) in [
            ("a draft", edit(&|b| b["status"] = "draft".into()), "ServiceRequest.status"),
            ("no status", edit(&|b| { b.as_object_mut().unwrap().remove("status"); }), "ServiceRequest.status"),
            ("a plan", edit(&|b| b["intent"] = "plan".into()), "ServiceRequest.intent"),
            ("stat", edit(&|b| b["priority"] = "stat".into()), "ServiceRequest.priority"),
            ("no concern", edit(&|b| b["reasonReference"] = serde_json::json!([])), "ServiceRequest.reasonReference"),
            ("an outcome as reason", edit(&|b| b["reasonReference"][0]["reference"] = format!("Observation/{}-outcome", c.concern).into()), "ServiceRequest.reasonReference"),
            ("an unknown expertise", edit(&|b| b["performerType"]["coding"][0]["code"] = "astrology".into()), "ServiceRequest.performerType"),
            ("no question", edit(&|b| b["note"][0]["text"] = " ".into()), "ServiceRequest.note[0].text"),
            ("a concern that does not exist", edit(&|b| b["reasonReference"][0]["reference"] = format!("Observation/{}-language", uuid::Uuid::now_v7()).into()), "ServiceRequest.reasonReference"),
            ("a Group as subject", edit(&|b| b["subject"]["reference"] = format!("Group/{}", w.group_a1).into()), "ServiceRequest.subject"),
        ] {
            let (status, body, _) = post_fhir(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &body).await;
            assert_eq!(status, 422, "{what}: {body}");
            let named: Vec<&str> = body["issue"].as_array().unwrap().iter().filter_map(|i| i["expression"][0].as_str()).collect();
            assert!(named.contains(&element), "{what}: {body}");
        }
        // another organisation: as for a child that does not exist
        let (theirs, theirs_body, _) = post_fhir(&app, "/fhir/r4/ServiceRequest", &w.integration_b, &good()).await;
        let (nobody, nobody_body, _) = post_fhir(&app, "/fhir/r4/ServiceRequest", &w.integration_b, &service_request_in(uuid::Uuid::now_v7(), c.concern)).await;
        assert_eq!((theirs, nobody), (404, 404));
        assert_eq!(theirs_body, nobody_body);
        let before = requests().await;
        assert_eq!(before, 0);

        // opened: 201, routed at once, the Task where it stands under the same id
        let identifier = ("if-none-exist", "identifier=urn:vlinder:aanvraag|A-77");
        let (status, sr) = post_with(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &good(), identifier).await;
        assert_eq!(status, 201, "{sr}");
        assert_eq!(sr["note"][0]["text"], "Hoe kan Noor meer meedoen in de kring?");
        let id = sr["id"].as_str().unwrap().to_string();
        let (_, task, _) = fhir_get(&app, &format!("/fhir/r4/Task/{id}"), Some(&w.integration_a), FHIR).await;
        assert_eq!(task["businessStatus"]["coding"][0]["code"], "offered", "{task}");
        assert_eq!(task["owner"]["reference"], format!("PractitionerRole/{}", c.spec_1));
        assert_eq!(app.get(&format!("/api/v1/consultations/{id}"), &w.mentor_a1_token).await.ok(200)["status"], "offered");
        // the same identifier again: the request the first one made, nothing new
        let (status, again) = post_with(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &good(), identifier).await;
        assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())), "{again}");
        // the same identifier with another request: refused
        let mut other = good();
        other["note"][0]["text"] = "Een andere vraag".into();
        let (status, body) = post_with(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &other, identifier).await;
        assert_eq!(status, 412, "{body}");
        for bad in ["name=x", "identifier=nosystem", "identifier=a|b&identifier=c|d"] {
            let (status, body) = post_with(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &good(), ("if-none-exist", bad)).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
        assert_eq!(requests().await, before + 1);
        // a question that seems to hold a BSN: made, and the answer says so (an
        // OperationOutcome with the warning), unless the client asks for the resource
        let mut bsn = good();
        bsn["note"][0]["text"] = "Noor (bsn 111222333) praat weinig".into();
        let (status, body, headers) = post_fhir(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &bsn).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
        assert_eq!(body["issue"][0]["severity"], "warning");
        assert_eq!(body["issue"][0]["expression"][0], "ServiceRequest.note[0].text");
        assert!(!body.to_string().contains("111222333"), "{body}");
        assert!(headers["location"].to_str().unwrap().contains("/fhir/r4/ServiceRequest/"));
        let (status, body) = post_with(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &bsn, ("prefer", "return=representation")).await;
        assert_eq!((status, body["resourceType"].as_str()), (201, Some("ServiceRequest")), "{body}");
        assert_eq!(requests().await, before + 3);
        // a value of the wrong type is refused without repeating it
        let mut wrong = good();
        wrong["note"][0]["text"] = serde_json::json!({"Noor": "geheim"});
        wrong["priority"] = serde_json::json!(["Noor slaat"]);
        let (status, body, _) = post_fhir(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &wrong).await;
        assert_eq!(status, 400);
        assert!(!body.to_string().contains("Noor"), "{body}");

        // consent withdrawn: a rule (422) that says who still must consent, nothing written
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &w.mentor_a1_token, serde_json::json!({"by": {"guardian_id": c.eva}})).await.ok(200);
        let (status, body, _) = post_fhir(&app, "/fhir/r4/ServiceRequest", &w.integration_a, &good()).await;
        assert_eq!(status, 422, "{body}");
        let said = body.to_string();
        assert!(said.contains(&format!("RelatedPerson/{} still must consent", c.eva)), "{body}");
        assert_eq!(requests().await, before + 3);
    }
);

db_test!(
    async fn the_directory_the_group_and_the_mentors(app) {
        let c = crate::consultations::ctx(&app).await;
        let w = &c.w;
        let id = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        let (_, task, _) = fhir_get(&app, &format!("/fhir/r4/Task/{id}"), Some(&w.integration_a), FHIR).await;
        let owner = task["owner"]["reference"].as_str().unwrap().to_string();
        // whoever receives a Task may see who owns it, and what the provider offers: directory
        // information, for the childcare side and any other partner alike
        for token in [&w.integration_a, &w.integration_b] {
            let (status, role, _) = fhir_get(&app, &format!("/fhir/r4/{owner}"), Some(token), FHIR).await;
            assert_eq!(status, 200, "{role}");
            assert_eq!(role["organization"]["reference"], format!("Organization/{}", w.youth));
            assert_eq!(role["code"][0]["coding"][0]["code"], "specialist");
            assert!(role["specialty"].as_array().unwrap().iter().any(|s| s["coding"][0]["code"] == "language"), "{role}");
            assert!(role.get("capacity").is_none() && !role.to_string().contains("subject"), "{role}");
            let service = role["healthcareService"][0]["reference"].as_str().unwrap().to_string();
            let (status, offer, _) = fhir_get(&app, &format!("/fhir/r4/{service}"), Some(token), FHIR).await;
            assert_eq!(status, 200, "{offer}");
            assert_eq!(offer["providedBy"]["reference"], format!("Organization/{}", w.youth));
            assert!(offer["specialty"].as_array().unwrap().iter().any(|s| s["coding"][0]["code"] == "language"), "{offer}");
            assert!(!offer["coverageArea"].as_array().unwrap().is_empty(), "{offer}");
        }
        // a childcare organisation offers no youth-care service
        assert_eq!(fhir_get(&app, &format!("/fhir/r4/HealthcareService/{}", w.org_a), Some(&w.integration_a), FHIR).await.0, 404);

        // the child's mentors: a CareTeam for those who keep the record
        app.put(&format!("/api/v1/children/{}/mentor", w.child_a1), &w.mentor_a1_token, serde_json::json!({"staff_id": w.mentor_a1})).await.ok(200);
        let (status, team, _) = fhir_get(&app, &format!("/fhir/r4/CareTeam/{}", w.child_a1), Some(&w.integration_a), FHIR).await;
        assert_eq!(status, 200, "{team}");
        assert_eq!(team["subject"]["reference"], format!("Patient/{}", w.child_a1));
        let mentor = team["participant"][0]["member"]["reference"].as_str().unwrap().to_string();
        assert_eq!(mentor, format!("PractitionerRole/{}", w.mentor_a1));
        assert!(team["participant"][0]["period"]["start"].is_string());
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/CareTeam?patient=Patient/{}", w.child_a1), Some(&w.mentor_a1_token), FHIR).await;
        assert_eq!(entries(&b, "match").len(), 1, "{b}");
        // a mentor's role stays within the organisation
        assert_eq!(fhir_get(&app, &format!("/fhir/r4/{mentor}"), Some(&w.integration_a), FHIR).await.0, 200);

        // the group, for those who work at its location
        let (status, group, _) = fhir_get(&app, &format!("/fhir/r4/Group/{}", w.group_a1), Some(&w.mentor_a1_token), FHIR).await;
        assert_eq!(status, 200, "{group}");
        assert_eq!(group["extension"][0]["valueReference"]["reference"], format!("Location/{}", w.loc_a1));
        assert!(group.get("member").is_none(), "no children listed");
        assert_eq!(fhir_get(&app, &format!("/fhir/r4/Group/{}", w.group_a1), Some(&w.integration_a), FHIR).await.0, 200);

        // everyone else: what is not theirs answers as what does not exist
        let unknown = uuid::Uuid::now_v7();
        for (path, token) in [
            (format!("/fhir/r4/{mentor}"), &w.integration_b),
            (format!("/fhir/r4/CareTeam/{}", w.child_a1), &w.integration_b),
            (format!("/fhir/r4/CareTeam/{}", w.child_a1), &w.specialist_token),
            (format!("/fhir/r4/CareTeam/{}", w.child_a1), &w.mentor_b1_token),
            (format!("/fhir/r4/Group/{}", w.group_a1), &w.integration_b),
            (format!("/fhir/r4/Group/{}", w.group_a1), &w.mentor_b1_token),
            (format!("/fhir/r4/Group/{}", w.group_a1), &w.mentor_a2_token),
        ] {
            let kind = path.split('/').nth(3).unwrap();
            let (status, body, _) = fhir_get(&app, &path, Some(token), FHIR).await;
            let (_, unknown_body, _) = fhir_get(&app, &format!("/fhir/r4/{kind}/{unknown}"), Some(token), FHIR).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body, unknown_body, "{path}");
        }
        let (_, b, _) = fhir_get(&app, &format!("/fhir/r4/CareTeam?patient={}", w.child_a1), Some(&w.integration_b), FHIR).await;
        assert!(b.get("entry").is_none(), "{b}");
        assert_eq!(fhir_get(&app, "/fhir/r4/CareTeam", Some(&w.integration_a), FHIR).await.0, 400);
    }
);

db_test!(
    async fn the_access_log_as_audit_events_for_an_admin(app) {
        let w = app.world().await;
        let path = format!("/fhir/r4/Patient/{}", w.child_a1);
        assert_eq!(fhir_get(&app, &path, Some(&w.integration_a), FHIR).await.0, 200);
        assert_eq!(fhir_get(&app, &path, Some(&w.integration_b), FHIR).await.0, 404);
        let admin = app.admin();
        let (status, b, _) = fhir_get(&app, &format!("/fhir/r4/AuditEvent?patient=Patient/{}&date=ge2020-01-01", w.child_a1), Some(&admin), FHIR).await;
        assert_eq!(status, 200, "{b}");
        let events = entries(&b, "match");
        let patient = format!("Patient/{}", w.child_a1);
        assert!(events.iter().all(|e| e["entity"].as_array().unwrap().iter().any(|x| x["what"]["reference"] == patient.as_str())), "{b}");
        // the read, and the other organisation's refused attempt, each with who and why
        let read = events.iter().find(|e| e["subtype"][0]["code"] == "read" && e["outcome"] == "0").expect("the read");
        assert_eq!(read["action"], "R");
        assert!(read["agent"][0]["who"]["identifier"]["value"].is_string());
        let refused = events.iter().find(|e| e["outcome"] == "4").expect("the refused read");
        assert_eq!(refused["outcomeDesc"], "denied");
        assert!(!b.to_string().contains("Noor"), "child data in the access log: {b}");
        // paging, and a period that holds nothing
        let (_, page, _) = fhir_get(&app, &format!("/fhir/r4/AuditEvent?patient={}&_count=1", w.child_a1), Some(&admin), FHIR).await;
        assert_eq!(entries(&page, "match").len(), 1);
        assert!(page["link"].as_array().unwrap().iter().any(|l| l["relation"] == "next"), "{page}");
        let (_, none, _) = fhir_get(&app, &format!("/fhir/r4/AuditEvent?patient={}&date=lt2020-01-01", w.child_a1), Some(&admin), FHIR).await;
        assert!(none.get("entry").is_none(), "{none}");
        // only an admin
        for token in [&w.integration_a, &w.mentor_a1_token, &w.specialist_token] {
            let (status, body, _) = fhir_get(&app, "/fhir/r4/AuditEvent", Some(token), FHIR).await;
            assert_eq!(status, 403, "{body}");
            assert!(!body.to_string().contains("entry"));
        }
        for bad in ["/fhir/r4/AuditEvent?date=2026-01-01", "/fhir/r4/AuditEvent?date=gt2026-01-01", "/fhir/r4/AuditEvent?date=ge2026-01-01&date=ge2026-02-01", "/fhir/r4/AuditEvent?patient=x", "/fhir/r4/AuditEvent?action=R", "/fhir/r4/AuditEvent?date=ge2026-13-01"] {
            assert_eq!(fhir_get(&app, bad, Some(&admin), FHIR).await.0, 400, "{bad}");
        }
    }
);

db_test!(
    async fn consent_versions_and_task_vread(app) {
        let c = crate::consultations::ctx(&app).await;
        let w = &c.w;
        let read = format!("/fhir/r4/Consent/{}", c.consent);
        let (status, now, headers) = fhir_get(&app, &read, Some(&w.integration_a), FHIR).await;
        assert_eq!((status, now["meta"]["versionId"].as_str()), (200, Some("1")), "{now}");
        assert_eq!(headers["etag"], "W/\"1\"");
        assert_eq!(fhir_get(&app, &format!("{read}/_history/1"), Some(&w.integration_a), FHIR).await.1["status"], "active");
        assert_eq!(fhir_get(&app, &format!("{read}/_history/2"), Some(&w.integration_a), FHIR).await.0, 404);
        let (_, history, _) = fhir_get(&app, &format!("{read}/_history"), Some(&w.integration_a), FHIR).await;
        assert_eq!((history["type"].as_str(), history["entry"].as_array().unwrap().len()), (Some("history"), 1));

        // withdrawn: a second version, inactive; the first is still there as it was
        app.post(&format!("/api/v1/consents/{}/withdraw", c.consent), &w.mentor_a1_token, serde_json::json!({"by": {"guardian_id": c.tom}})).await.ok(200);
        let (_, now, headers) = fhir_get(&app, &read, Some(&w.integration_a), FHIR).await;
        assert_eq!((now["status"].as_str(), now["meta"]["versionId"].as_str()), (Some("inactive"), Some("2")), "{now}");
        assert_eq!(headers["etag"], "W/\"2\"");
        let (_, v1, _) = fhir_get(&app, &format!("{read}/_history/1"), Some(&w.integration_a), FHIR).await;
        assert_eq!((v1["status"].as_str(), v1["meta"]["versionId"].as_str()), (Some("active"), Some("1")), "{v1}");
        assert!(v1["meta"]["lastUpdated"].as_str() < now["meta"]["lastUpdated"].as_str());
        let (_, v2, _) = fhir_get(&app, &format!("{read}/_history/2"), Some(&w.integration_a), FHIR).await;
        assert_eq!(v2, now);
        let (_, history, _) = fhir_get(&app, &format!("{read}/_history"), Some(&w.integration_a), FHIR).await;
        let versions: Vec<&str> = history["entry"].as_array().unwrap().iter().map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap()).collect();
        assert_eq!(versions, ["2", "1"], "{history}");
        for bad in ["3", "0", "x"] {
            assert_eq!(fhir_get(&app, &format!("{read}/_history/{bad}"), Some(&w.integration_a), FHIR).await.0, 404, "{bad}");
        }

        // a Task: its current version; no older ones are kept
        let id = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await;
        assert_eq!(id.status, 409, "consent was withdrawn: {}", id.text);
        let other = crate::consultations::grant(&app, w, w.child_a1, &[c.eva, c.tom]).await;
        assert_ne!(other, c.consent);
        let id = app.post("/api/v1/consultations", &w.mentor_a1_token, crate::consultations::request(&c, "language")).await.id();
        let (_, task, _) = fhir_get(&app, &format!("/fhir/r4/Task/{id}"), Some(&w.integration_a), FHIR).await;
        let v = task["meta"]["versionId"].as_str().unwrap().to_string();
        let (status, same, _) = fhir_get(&app, &format!("/fhir/r4/Task/{id}/_history/{v}"), Some(&w.integration_a), FHIR).await;
        assert_eq!((status, &same), (200, &task));
        let older = v.parse::<i64>().unwrap() - 1;
        assert_eq!(fhir_get(&app, &format!("/fhir/r4/Task/{id}/_history/{older}"), Some(&w.integration_a), FHIR).await.0, 404);

        // another organisation: every version of every record answers as an unknown id
        let unknown = uuid::Uuid::now_v7();
        for (path, unknown_path) in [
            (format!("{read}/_history/1"), format!("/fhir/r4/Consent/{unknown}/_history/1")),
            (format!("{read}/_history"), format!("/fhir/r4/Consent/{unknown}/_history")),
            (format!("/fhir/r4/Task/{id}/_history/{v}"), format!("/fhir/r4/Task/{unknown}/_history/{v}")),
        ] {
            let (status, body, _) = fhir_get(&app, &path, Some(&w.integration_b), FHIR).await;
            let (_, unknown_body, _) = fhir_get(&app, &unknown_path, Some(&w.integration_b), FHIR).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body, unknown_body, "{path}");
        }
    }
);
