//! Authorisation from the attacker's side, over every operation of the published API: a caller
//! of another organisation, location, provider, region or role reads and changes nothing that
//! is not theirs, and "exists but not yours" answers exactly like "does not exist". New
//! endpoints join the sweep by themselves (it walks the OpenAPI document); one it cannot call
//! fails the test until it is described here.

use crate::common::*;
use crate::consultations::{ctx, request, specialist};
use crate::db_test;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// The victim's records, and markers that must never appear in an attacker's answer.
struct Victim {
    ids: HashMap<&'static str, String>,
    markers: Vec<String>,
}

impl Victim {
    fn id(&self, k: &str) -> &str {
        &self.ids[k]
    }
}

/// Every path parameter the API uses, by the resource the path names.
fn param_kind(path: &str, param: &str) -> &'static str {
    let first = path
        .trim_start_matches("/api/v1/")
        .split('/')
        .next()
        .unwrap_or("");
    match (first, param) {
        ("children", "id") => "child",
        ("consents", "id") => "consent",
        ("consultations", "id") => "consultation",
        ("visits", "id") => "visit",
        ("locations", "id") => "location",
        ("organizations", "org") => "organization",
        ("staff", "id") => "staff",
        ("webhook-endpoints", "id") => "endpoint",
        ("webhook-messages", "id") => "message",
        ("regions", "code") => "region",
        ("groups", "id") => "group",
        ("guardians", "guardian_id") | ("children", "guardian_id") => "guardian",
        ("parent-links", "id") => "parent_link",
        ("smart-clients", "id") => "smart_client",
        _ => panic!("the sweep does not know the parameter {{{param}}} of {path}: add it"),
    }
}

/// A request body that passes validation, so what answers is authorisation.
fn body_for(method: &str, path: &str, v: &Victim, spec_other: &str, jwk: &Value) -> Option<Value> {
    if method == "GET" || method == "DELETE" {
        return None;
    }
    let p = path.trim_start_matches("/api/v1");
    Some(match p {
        "/children" => {
            json!({"location_id": v.id("location"), "external_ref": "ATT-1", "given_name": "Attacker", "date_of_birth": "2022-02-02"})
        }
        "/children/{id}/concerns" => {
            json!({"domains": ["motor"], "observation": "aanvaller", "observed_since": "2026-01-01"})
        }
        "/children/{id}/consent-invitations" => {
            json!({"guardian_id": v.id("guardian"), "purpose": "referral", "recipient": {"organization_id": v.id("youth")}, "information_version": "v1"})
        }
        "/children/{id}/consents" => {
            json!({"purpose": "referral", "recipient": {"organization_id": v.id("youth")}, "decision": "refused", "given_by": [{"guardian_id": v.id("guardian")}], "method": "written", "evidence_ref": "att", "information_version": "v1", "valid_from": "2026-01-01"})
        }
        "/children/{id}/destruction-requests" => {
            json!({"requested_by": {"guardian_id": v.id("guardian")}})
        }
        "/children/{id}/guardians" => {
            json!({"name": "Aanvaller", "relationship": "parent", "has_parental_authority": true, "authority_source": "declared"})
        }
        "/children/{id}/mentor" => json!({"staff_id": v.id("staff")}),
        "/children/{id}/parent-links" => json!({"guardian_id": v.id("guardian")}),
        "/children/{id}/veilig-thuis-reports" => {
            json!({"legal_basis": "wmo_2015_art_5_2_6", "reason": "x", "consulted": "x", "weighing": "x"})
        }
        "/consents/{id}/withdraw" => json!({"by": {"guardian_id": v.id("guardian")}}),
        "/consultations" => {
            json!({"child_id": v.id("child"), "concern_id": v.id("concern"), "question": "aanvaller?", "expertise": "language", "urgency": "normal"})
        }
        "/consultations/{id}/accept"
        | "/consultations/{id}/resume"
        | "/webhook-messages/{id}/redeliver" => json!({}),
        "/consultations/{id}/assign" => json!({"specialist_id": spec_other}),
        "/consultations/{id}/cancel"
        | "/consultations/{id}/decline"
        | "/consultations/{id}/reject" => json!({"reason": "aanvaller"}),
        "/consultations/{id}/close" => {
            json!({"outcome": "no_concern", "summary": "aanvaller", "parents_involved": false})
        }
        "/consultations/{id}/visits" | "/visits/{id}" => {
            crate::specialist_work::visit("aanvaller", false)
        }
        "/locations/{id}/groups" => json!({"name": "Aanvallers"}),
        "/organizations" => json!({"name": "Aanvaller BV", "kind": "childcare"}),
        "/organizations/{org}/locations" => {
            json!({"name": "Hol", "type": "kdv", "municipality_code": "GM0344"})
        }
        "/organizations/{org}/staff" => {
            json!({"subject": "att", "name": "Att", "role": "mentor", "location_ids": [v.id("location")]})
        }
        "/organizations/{org}/webhook-endpoints" => {
            json!({"url": "https://evil.example/hook", "events": ["*"], "signing": "hmac"})
        }
        "/regions/import" => Value::String(REGIONS_CSV.into()),
        "/children/{id}" => json!({"given_name": "Aanvaller"}),
        "/children/{id}/guardians/{guardian_id}" => json!({"name": "Aanvaller"}),
        "/children/{id}/leave" => json!({"left_on": "2026-01-01"}),
        "/consultations/{id}/messages" => json!({"text": "aanvaller"}),
        "/groups/{id}" | "/organizations/{org}" | "/locations/{id}" => {
            json!({"name": "Aanvallers"})
        }
        "/staff/{id}" => json!({"name": "Aanvaller"}),
        "/groups/{id}/deactivate"
        | "/locations/{id}/deactivate"
        | "/organizations/{org}/deactivate"
        | "/staff/{id}/deactivate"
        | "/parent-links/{id}/revoke" => json!({}),
        "/webhook-endpoints/{id}" => json!({"status": "disabled"}),
        "/smart-clients" => {
            json!({"organization_id": v.id("organization"), "name": "Aanvaller", "jwks": {"keys": [jwk]}, "scopes": ["system/*.cruds"]})
        }
        "/smart-clients/{id}" => json!({"active": false}),
        "/webhook-endpoints/{id}/rotate-secret" => json!({"overlap_hours": 1}),
        _ => panic!("the sweep has no request body for {method} {path}: add one"),
    })
}

/// Query parameters that make a list point at the victim.
fn query_for(path: &str, v: &Victim) -> String {
    match path.trim_start_matches("/api/v1") {
        "/children" => format!("?location_id={}", v.id("location")),
        "/children/{id}/consent-check" => {
            format!("?purpose=consultation&organization_id={}", v.id("youth"))
        }
        "/consultations" => "?region=JZ22".into(),
        "/audit" => format!("?child_id={}", v.id("child")),
        p if p.starts_with("/stats/") => "?region=JZ22".into(),
        _ => String::new(),
    }
}

/// Operations whose 2xx answer an attacker may get because it shows only their own records or
/// reference data (checked: no victim marker in it). A caller of the victim's own organisation
/// (another location) reads that organisation's registry: its own.
fn own_data(method: &str, path: &str, same_organization: bool) -> bool {
    let p = path.trim_start_matches("/api/v1");
    let registry_of_own = same_organization
        && (p.starts_with("/organizations/{org}") && !p.ends_with("/webhook-endpoints")
            || p.starts_with("/locations/{id}"));
    method == "GET"
        && (p == "/consultations"
            || p == "/regions"
            || p == "/regions/{code}"
            || p.starts_with("/stats/")
            || registry_of_own)
}

/// Registry and operations work: the admin's own (not an attack when the admin does it).
fn admins_own(path: &str) -> bool {
    let p = path.trim_start_matches("/api/v1");
    [
        "/organizations",
        "/locations",
        "/staff",
        "/regions",
        "/webhook-",
        "/audit",
        "/groups",
        "/smart-clients",
    ]
    .iter()
    .any(|prefix| p.starts_with(prefix))
}

async fn call(app: &TestApp, method: &str, url: &str, token: &str, body: &Option<Value>) -> Resp {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    match body {
        Some(Value::String(csv)) => {
            let req = app
                .client
                .request(m, format!("{}{url}", app.base))
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body(csv.clone());
            Resp::from_response(req.send().await.unwrap()).await
        }
        Some(b) if method == "PUT" || method == "PATCH" => {
            let req = app
                .client
                .request(m, format!("{}{url}", app.base))
                .bearer_auth(token)
                .header("if-match", "\"1\"")
                .json(b);
            Resp::from_response(req.send().await.unwrap()).await
        }
        _ => app.request(m, url, Some(token), body.clone()).await,
    }
}

fn fill(path: &str, v: &Victim, random: bool) -> String {
    let mut out = path.to_string();
    while let Some(start) = out.find('{') {
        let end = out[start..].find('}').unwrap() + start;
        let param = out[start + 1..end].to_string();
        let kind = param_kind(path, &param);
        let value = if kind == "region" {
            v.id("region").to_string()
        } else if random {
            Uuid::now_v7().to_string()
        } else {
            v.id(kind).to_string()
        };
        out.replace_range(start..=end, &value);
    }
    out
}

db_test!(
    async fn no_caller_reads_or_changes_what_is_not_theirs(app) {
        let admin = app.admin();
        let c = ctx(&app).await;
        let w = &c.w;
        let t = &w.mentor_a1_token;
        // the victim: a child of location A1 with consent toward provider C, an accepted request
        // with a visit, a Meldcode report, a parent link, a webhook endpoint of organisation A
        let consultation = app.post("/api/v1/consultations", t, request(&c, "language")).await.id();
        app.post(&format!("/api/v1/consultations/{consultation}/accept"), &w.specialist_token, json!({})).await.ok(200);
        let visit = app.post(&format!("/api/v1/consultations/{consultation}/visits"), &w.specialist_token, crate::specialist_work::visit("geheim-bezoek", false)).await.id();
        app.post(&format!("/api/v1/children/{}/veilig-thuis-reports", w.child_a1), t,
            json!({"legal_basis": "wmo_2015_art_5_2_6", "reason": "meldcode-reden", "consulted": "x", "weighing": "x"})).await.ok(201);
        let parent_link = app.post(&format!("/api/v1/children/{}/parent-links", w.child_a1), t, json!({"guardian_id": c.eva})).await.id();
        let endpoint = app.post(&format!("/api/v1/organizations/{}/webhook-endpoints", w.org_a), &admin,
            json!({"url": "https://partner-a.example/hook", "events": ["*"], "signing": "hmac"})).await.id();
        app.post("/api/v1/consultations", t, request(&c, "language")).await.ok(201);
        let message: Uuid = {
            let pool = app.raw_pool().await;
            let id: String = sqlx::query_scalar("SELECT CAST(id AS TEXT) FROM webhook_messages LIMIT 1").fetch_one(&pool).await.unwrap_or_default();
            pool.close().await;
            id.parse().unwrap_or_else(|_| Uuid::now_v7())
        };
        // attackers: another location, organisation, system, provider, region, role
        let provider_d = app.post("/api/v1/organizations", &admin, json!({"name": "Jeugdhulp D", "kind": "youth_care"})).await.id();
        let (spec_d, spec_d_token) = specialist(&app, provider_d, "spec-d", &["language"], &["JZ22"], 5).await;
        let (_, spec_c2_token) = specialist(&app, w.youth, "spec-c2", &["language"], &["JZ22"], 5).await;
        let staff = |org: Uuid, body: Value| {
            let app = &app;
            let admin = admin.clone();
            async move { app.post(&format!("/api/v1/organizations/{org}/staff"), &admin, body).await.ok(201).clone() }
        };
        staff(provider_d, json!({"subject": "coord-d", "name": "Coord D", "role": "coordinator", "region_codes": ["JZ22"]})).await;
        staff(w.youth, json!({"subject": "coord-c14", "name": "Coord C14", "role": "coordinator", "region_codes": ["JZ14"]})).await;
        staff(w.org_b, json!({"subject": "policy-b", "name": "Policy B", "role": "policy"})).await;
        let gemeente = app.post("/api/v1/organizations", &admin, json!({"name": "Gemeente Amsterdam", "kind": "municipality"})).await.id();
        staff(gemeente, json!({"subject": "policy-14", "name": "Policy 14", "role": "policy", "region_codes": ["JZ14"]})).await;
        // a SMART client of another organisation, with every scope there is
        let keys = crate::smart::client_keys("att-rsa", "att-ec");
        let smart_b = crate::smart::register(&app, w.org_b, json!({"keys": [keys.rsa_jwk.clone()]}), &["system/*.cruds"]).await;
        let (status, granted) = crate::smart::get_token(&app,
            &crate::smart::assertion(jsonwebtoken::Algorithm::RS384, "att-rsa", &keys.rsa, &crate::smart::claims(&smart_b)),
            "system/*.cruds").await;
        assert_eq!(status, 200, "{granted}");
        // and the victim's own client
        let smart_a = crate::smart::register(&app, w.org_a, json!({"keys": [keys.rsa_jwk.clone()]}), &["system/Patient.rs"]).await;
        let attackers: Vec<(&str, String)> = vec![
            ("SMART client of another organisation", granted["access_token"].as_str().unwrap().to_string()),
            ("mentor of another location", w.mentor_a2_token.clone()),
            ("mentor of another organisation", w.mentor_b1_token.clone()),
            ("system of another organisation", w.integration_b.clone()),
            ("specialist of another provider", spec_d_token),
            ("specialist of the same provider, not on the request", spec_c2_token),
            ("coordinator of another provider (no consent)", app.token("coord-d", &["coordinator"], Some(provider_d))),
            ("coordinator of another region", app.token("coord-c14", &["coordinator"], Some(w.youth))),
            ("policy of another organisation", app.token("policy-b", &["policy"], Some(w.org_b))),
            ("policy of another region", app.token("policy-14", &["policy"], Some(gemeente))),
            ("admin", admin.clone()),
        ];
        let ids: HashMap<&'static str, String> = [
            ("child", w.child_a1.to_string()),
            ("consent", c.consent.to_string()),
            ("consultation", consultation.to_string()),
            ("visit", visit.to_string()),
            ("location", w.loc_a1.to_string()),
            ("organization", w.org_a.to_string()),
            ("staff", w.mentor_a1.to_string()),
            ("endpoint", endpoint.to_string()),
            ("message", message.to_string()),
            ("region", "JZ22".to_string()),
            ("group", w.group_a1.to_string()),
            ("guardian", c.eva.to_string()),
            ("concern", c.concern.to_string()),
            ("youth", w.youth.to_string()),
            ("parent_link", parent_link.to_string()),
            ("smart_client", smart_a.clone()),
        ]
        .into_iter()
        .collect();
        let victim = Victim {
            markers: vec![
                w.child_a1.to_string(),
                consultation.to_string(),
                c.consent.to_string(),
                visit.to_string(),
                c.eva.to_string(),
                "Noor".into(),
                "meedoen".into(),
                "geheim-bezoek".into(),
                "meldcode-reden".into(),
                "partner-a.example".into(),
                smart_a.clone(),
            ],
            ids,
        };
        let doc = app.request(Method::GET, "/openapi.json", None, None).await.body;
        let before: Vec<_> = app.snapshot_of(SWEPT_TABLES).await;
        let mut calls = 0;
        let mut failures = Vec::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/api/v1/") || path.starts_with("/api/v1/parent/") {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                if ops.get(method).is_none() {
                    continue;
                }
                let m = method.to_uppercase();
                let body = body_for(&m, path, &victim, &spec_d.to_string(), &keys.rsa_jwk);
                let query = query_for(path, &victim);
                for (who, token) in &attackers {
                    if *who == "admin" && admins_own(path) {
                        continue;
                    }
                    calls += 1;
                    let url = format!("{}{query}", fill(path, &victim, false));
                    let r = call(&app, &m, &url, token, &body).await;
                    if r.status.is_success() {
                        let leaked = victim.markers.iter().find(|mk| r.text.contains(mk.as_str()));
                        let same_org = *who == "mentor of another location";
                        if !own_data(&m, path, same_org) || leaked.is_some() {
                            failures.push(format!("{who}: {m} {url} → {} {}", r.status, &r.text[..r.text.len().min(300)]));
                        }
                        continue;
                    }
                    if r.status.is_server_error() {
                        failures.push(format!("{who}: {m} {url} → {}", r.status));
                    }
                    if path.contains('{') && !path.ends_with("{code}") {
                        let other = format!("{}{query}", fill(path, &victim, true));
                        let unknown = call(&app, &m, &other, token, &body).await;
                        let same = (r.status, &r.body["type"], &r.body["detail"]) == (unknown.status, &unknown.body["type"], &unknown.body["detail"]);
                        if !same {
                            failures.push(format!("{who}: {m} {path}: exists {} {} / unknown {} {}", r.status, r.body["detail"], unknown.status, unknown.body["detail"]));
                        }
                    }
                }
            }
        }
        assert!(calls > 400, "the sweep made {calls} calls");
        assert!(failures.is_empty(), "{} findings:\n{}", failures.len(), failures.join("\n"));
        assert_eq!(app.snapshot_of(SWEPT_TABLES).await, before, "an attacker changed something");
    }
);

/// Tables an attacker could write to through the API (the access log grows: refusals are logged).
const SWEPT_TABLES: &[&str] = &[
    "organizations",
    "locations",
    "groups",
    "staff",
    "staff_locations",
    "staff_regions",
    "children",
    "child_mentors",
    "guardians",
    "consents",
    "consent_givers",
    "parent_links",
    "veilig_thuis_reports",
    "concerns",
    "consultations",
    "consultation_declines",
    "visits",
    "destruction_requests",
    "webhook_endpoints",
    "webhook_deliveries",
    "region_memberships",
    "consultation_messages",
    "smart_clients",
];
