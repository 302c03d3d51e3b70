//! A national-size synthetic dataset for the figures benchmark (`kindbrug demo --scale N`):
//! 42 youth-care regions of 8 municipalities, a childcare organisation and a youth-care
//! provider per region, N consultation requests with their children and concerns, 3N visits and
//! 2N consent records over five years. Region and municipality codes are synthetic; no person
//! in it exists. Rows are loaded in bulk (no rules, no access log): for measuring only.

use crate::domain::calendar::{dutch_date, now};
use crate::domain::consent::Purpose;
use crate::domain::consultation::{Competence, Outcome, VisitKind};
use crate::domain::figures::{AgeBand, HalfYear};
use crate::domain::regions::RegionMembership;
use crate::domain::types::{ConcernDomain, OrganizationKind};
use crate::store::{BulkValue as V, OrganizationRow, Store};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

pub const REGIONS: usize = 42;
const MUNICIPALITIES_PER_REGION: usize = 8;
const SPECIALISTS_PER_REGION: usize = 20;
const CHUNK: usize = 20_000;

/// What was generated.
#[derive(Debug, Clone)]
pub struct Generated {
    pub childcare_orgs: Vec<Uuid>,
    pub providers: Vec<Uuid>,
    pub consultations: usize,
    pub visits: usize,
    pub consents: usize,
}

fn region_code(r: usize) -> String {
    format!("JZ{:02}", r + 1)
}

fn uid(rng: &mut StdRng, at: DateTime<Utc>) -> Uuid {
    // time-ordered like the gateway's own ids
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    );
    let mut bytes = *Uuid::new_v7(ts).as_bytes();
    rng.fill(&mut bytes[8..]);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// Generates `n` consultation requests and what goes with them.
/// Free text is sealed with `keys`, as the gateway seals it.
pub async fn generate(
    store: &dyn Store,
    keys: &crate::crypto::Keyring,
    n: usize,
    seed: u64,
) -> anyhow::Result<Generated> {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = now() - Duration::days(5 * 365);
    let span_secs = (now() - start).num_seconds();
    // reference data: regions and municipalities valid since 2020
    let mut memberships = Vec::new();
    for r in 0..REGIONS {
        for m in 0..MUNICIPALITIES_PER_REGION {
            memberships.push(RegionMembership {
                municipality_code: format!("GM{:04}", 5000 + r * MUNICIPALITIES_PER_REGION + m)
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!(e))?,
                municipality_name: format!("Gemeente {}-{}", r + 1, m + 1),
                region_code: region_code(r)
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!(e))?,
                region_name: format!("Jeugdregio {}", r + 1),
                valid_from: "2020-01-01".parse()?,
            });
        }
    }
    store.import_regions(&memberships).await?;
    let mut childcare = Vec::new();
    let mut providers = Vec::new();
    for r in 0..REGIONS {
        for (kind, list) in [
            (OrganizationKind::Childcare, &mut childcare),
            (OrganizationKind::YouthCare, &mut providers),
        ] {
            let row = OrganizationRow {
                id: Uuid::now_v7(),
                name: format!("{kind} {}", r + 1),
                kind,
                created_at: start,
                active: true,
            };
            store.create_organization(&row).await?;
            list.push(row.id);
        }
    }
    // a location per municipality, specialists per region
    let mut locations: Vec<Vec<Uuid>> = vec![Vec::new(); REGIONS];
    let mut rows = Vec::new();
    for (k, m) in memberships.iter().enumerate() {
        let r = k / MUNICIPALITIES_PER_REGION;
        let id = Uuid::now_v7();
        locations[r].push(id);
        rows.push(vec![
            V::Uuid(Some(id)),
            V::Uuid(Some(childcare[r])),
            V::Text(Some(format!("Locatie {}", k + 1))),
            V::Text(Some(if k % 2 == 0 { "kdv" } else { "bso" }.into())),
            V::Text(Some(m.municipality_code.to_string())),
            V::Time(Some(start)),
        ]);
    }
    store
        .bulk_insert(
            "locations",
            &[
                "id",
                "organization_id",
                "name",
                "type",
                "municipality_code",
                "created_at",
            ],
            &rows,
        )
        .await?;
    let mut specialists: Vec<Vec<Uuid>> = vec![Vec::new(); REGIONS];
    let (mut staff, mut staff_regions, mut staff_expertise) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..REGIONS {
        for s in 0..SPECIALISTS_PER_REGION {
            let id = Uuid::now_v7();
            specialists[r].push(id);
            staff.push(vec![
                V::Uuid(Some(id)),
                V::Uuid(Some(providers[r])),
                V::Text(Some(format!("scale-specialist-{r}-{s}"))),
                V::Text(Some(format!("Specialist {r}-{s}"))),
                V::Text(Some("specialist".into())),
                V::Int(Some(500)),
                V::Bool(Some(true)),
                V::Time(Some(start)),
            ]);
            staff_regions.push(vec![V::Uuid(Some(id)), V::Text(Some(region_code(r)))]);
            staff_expertise.push(vec![
                V::Uuid(Some(id)),
                V::Text(Some(
                    ConcernDomain::ALL[s % ConcernDomain::ALL.len()]
                        .as_str()
                        .into(),
                )),
            ]);
        }
    }
    store
        .bulk_insert(
            "staff",
            &[
                "id",
                "organization_id",
                "subject",
                "name",
                "role",
                "capacity",
                "active",
                "created_at",
            ],
            &staff,
        )
        .await?;
    store
        .bulk_insert(
            "staff_regions",
            &["staff_id", "region_code"],
            &staff_regions,
        )
        .await?;
    store
        .bulk_insert(
            "staff_expertise",
            &["staff_id", "expertise"],
            &staff_expertise,
        )
        .await?;

    let statuses = [
        ("completed", 70),
        ("in_progress", 8),
        ("accepted", 5),
        ("offered", 4),
        ("unassigned", 3),
        ("cancelled", 6),
        ("on_hold", 2),
        ("rejected", 2),
    ];
    let pick_status = |rng: &mut StdRng| {
        let mut x = rng.gen_range(0..100);
        for (s, w) in statuses {
            if x < w {
                return s;
            }
            x -= w;
        }
        "completed"
    };
    let (mut visits_total, mut consents_total) = (0usize, 0usize);
    let mut done = 0;
    while done < n {
        let batch = CHUNK.min(n - done);
        let (mut children, mut concerns, mut requests, mut visits, mut consents) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for j in 0..batch {
            let r = rng.gen_range(0..REGIONS);
            // requests arrive spread evenly over the five years, in time order (as they do in
            // production), so their time-ordered ids are appended to the indexes
            let slot = (done + j) as f64 + rng.gen::<f64>();
            let at = start + Duration::seconds((slot / n as f64 * span_secs as f64) as i64);
            let day = dutch_date(at);
            let age_days = rng.gen_range(30..(13 * 365));
            let born = day - Duration::days(age_days);
            let band = AgeBand::of(born, day).as_str().to_string();
            let half = HalfYear::of(day).to_string();
            let location = locations[r][rng.gen_range(0..locations[r].len())];
            let child = uid(&mut rng, at - Duration::days(30));
            children.push(vec![
                V::Uuid(Some(child)),
                V::Uuid(Some(childcare[r])),
                V::Uuid(Some(location)),
                V::Text(Some(format!("S-{child}"))),
                V::Text(Some("Kind".into())),
                V::Date(Some(born)),
                V::Int(Some(1)),
                V::Time(Some(at - Duration::days(30))),
                V::Time(Some(at - Duration::days(30))),
            ]);
            let concern = uid(&mut rng, at - Duration::days(7));
            concerns.push(vec![
                V::Uuid(Some(concern)),
                V::Uuid(Some(child)),
                V::Text(Some("language".into())),
                V::Text(Some(keys.seal(concern, "synthetic"))),
                V::Date(Some(day - Duration::days(30))),
                V::Text(Some("generator".into())),
                V::Time(Some(at - Duration::days(7))),
            ]);
            // two consent records per request: mostly granted, some refused or withdrawn
            for k in 0..2 {
                let c_at = at - Duration::days(rng.gen_range(0..10));
                let c_day = dutch_date(c_at);
                let x = rng.gen_range(0..100);
                let (decision, status) = if x < 83 {
                    ("granted", "active")
                } else if x < 93 {
                    ("refused", "active")
                } else {
                    ("granted", "withdrawn")
                };
                let purpose = if k == 0 {
                    Purpose::Consultation
                } else {
                    Purpose::ALL[rng.gen_range(0..3)]
                };
                consents.push(vec![
                    V::Uuid(Some(uid(&mut rng, c_at))),
                    V::Uuid(Some(child)),
                    V::Text(Some(purpose.as_str().into())),
                    V::Uuid(Some(providers[r])),
                    V::Text(Some(decision.into())),
                    V::Text(Some("written".into())),
                    V::Text(Some("form".into())),
                    V::Text(Some("v1".into())),
                    V::Date(Some(c_day)),
                    V::Bool(Some(false)),
                    V::Bool(Some(false)),
                    V::Text(Some(status.into())),
                    V::Time(if status == "withdrawn" {
                        Some(c_at + Duration::days(20))
                    } else {
                        None
                    }),
                    V::Text(Some("generator".into())),
                    V::Text(Some("integration".into())),
                    V::Time(Some(c_at)),
                    V::Text(Some(region_code(r))),
                    V::Uuid(Some(childcare[r])),
                    V::Text(Some(HalfYear::of(c_day).to_string())),
                    V::Text(Some(AgeBand::of(born, c_day).as_str().into())),
                ]);
                consents_total += 1;
            }
            let status = pick_status(&mut rng);
            let specialist = specialists[r][rng.gen_range(0..SPECIALISTS_PER_REGION)];
            let accepted = matches!(status, "completed" | "in_progress" | "accepted" | "on_hold");
            let accepted_at = accepted.then(|| at + Duration::hours(rng.gen_range(1..120)));
            let id = uid(&mut rng, at);
            let expertise = ConcernDomain::ALL[rng.gen_range(0..ConcernDomain::ALL.len())].as_str();
            let outcome = (status == "completed").then(|| {
                let x = rng.gen_range(0..100);
                let o = if x < 58 {
                    Outcome::HandledWithinChildcare
                } else if x < 72 {
                    Outcome::ReferredYouthCare
                } else if x < 82 {
                    Outcome::ReferredYouthHealthCare
                } else {
                    Outcome::ALL[rng.gen_range(0..Outcome::ALL.len())]
                };
                o.as_str().to_string()
            });
            let first_visit =
                accepted_at.map(|a| dutch_date(a) + Duration::days(rng.gen_range(1..30)));
            requests.push(vec![
                V::Uuid(Some(id)),
                V::Uuid(Some(child)),
                V::Uuid(Some(childcare[r])),
                V::Uuid(Some(location)),
                V::Uuid(Some(concern)),
                V::Text(Some(keys.seal(id, "synthetic"))),
                V::Text(Some(expertise.into())),
                V::Text(Some(
                    if rng.gen_range(0..10) == 0 {
                        "high"
                    } else {
                        "normal"
                    }
                    .into(),
                )),
                V::Text(Some(region_code(r))),
                V::Text(Some(status.into())),
                V::Uuid(if status == "offered" || accepted {
                    Some(specialist)
                } else {
                    None
                }),
                V::Uuid(if accepted { Some(specialist) } else { None }),
                V::Time(accepted_at),
                V::Text(Some("generator".into())),
                V::Int(Some(1)),
                V::Time(Some(at)),
                V::Time(Some(at)),
                V::Text(outcome.clone()),
                V::Time(outcome.as_ref().map(|_| at + Duration::days(90))),
                V::Text(Some(half.clone())),
                V::Text(Some(band.clone())),
                V::Bool(Some(rng.gen_range(0..4) == 0)),
                V::Date(first_visit),
                V::Int(Some(if rng.gen_range(0..8) == 0 { 1 } else { 0 })),
                V::Bool(Some(status == "unassigned" || rng.gen_range(0..30) == 0)),
            ]);
            // three visits per request
            for k in 0..3 {
                let v_day = first_visit.unwrap_or(day) + Duration::days(k * 14);
                let mut competences: Vec<&str> = Competence::ALL
                    .iter()
                    .filter(|_| rng.gen_range(0..3) == 0)
                    .map(|c| c.as_str())
                    .collect();
                if competences.is_empty() {
                    competences.push(Competence::StrikingBehaviour.as_str());
                }
                visits.push(vec![
                    V::Uuid(Some(uid(&mut rng, at + Duration::days(k * 14)))),
                    V::Uuid(Some(id)),
                    V::Uuid(Some(child)),
                    V::Uuid(Some(specialist)),
                    V::Date(Some(v_day)),
                    V::Int(Some(60)),
                    V::Text(Some(
                        VisitKind::ALL[rng.gen_range(0..VisitKind::ALL.len())]
                            .as_str()
                            .into(),
                    )),
                    V::Text(Some("mentor".into())),
                    V::Text(Some(competences.join(","))),
                    V::Text(Some("held".into())),
                    V::Bool(Some(false)),
                    V::Int(Some(1)),
                    V::Time(Some(at)),
                    V::Time(Some(at)),
                    V::Text(Some(region_code(r))),
                    V::Uuid(Some(childcare[r])),
                    V::Text(Some(HalfYear::of(v_day).to_string())),
                    V::Text(Some(band.clone())),
                ]);
                visits_total += 1;
            }
        }
        store
            .bulk_insert(
                "children",
                &[
                    "id",
                    "organization_id",
                    "location_id",
                    "external_ref",
                    "given_name",
                    "date_of_birth",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                &children,
            )
            .await?;
        store
            .bulk_insert(
                "concerns",
                &[
                    "id",
                    "child_id",
                    "domains",
                    "observation",
                    "observed_since",
                    "recorded_by_subject",
                    "created_at",
                ],
                &concerns,
            )
            .await?;
        store
            .bulk_insert(
                "consents",
                &[
                    "id",
                    "child_id",
                    "purpose",
                    "recipient_organization_id",
                    "decision",
                    "method",
                    "evidence_ref",
                    "information_version",
                    "valid_from",
                    "no_signs_of_disagreement",
                    "child_not_competent",
                    "status",
                    "withdrawn_at",
                    "recorded_by_subject",
                    "recorded_by_role",
                    "recorded_at",
                    "region_code",
                    "organization_id",
                    "half_year",
                    "age_band",
                ],
                &consents,
            )
            .await?;
        store
            .bulk_insert(
                "consultations",
                &[
                    "id",
                    "child_id",
                    "organization_id",
                    "location_id",
                    "concern_id",
                    "question",
                    "expertise",
                    "urgency",
                    "region_code",
                    "status",
                    "offered_to",
                    "assigned_to",
                    "accepted_at",
                    "requested_by_subject",
                    "version",
                    "created_at",
                    "updated_at",
                    "outcome",
                    "closed_at",
                    "half_year",
                    "age_band",
                    "consent_delayed",
                    "first_visit_on",
                    "reroutes",
                    "ever_unassigned",
                ],
                &requests,
            )
            .await?;
        store
            .bulk_insert(
                "visits",
                &[
                    "id",
                    "consultation_id",
                    "child_id",
                    "specialist_id",
                    "date",
                    "duration_minutes",
                    "kind",
                    "participants",
                    "competences",
                    "status",
                    "notes_shared",
                    "version",
                    "created_at",
                    "updated_at",
                    "region_code",
                    "organization_id",
                    "half_year",
                    "age_band",
                ],
                &visits,
            )
            .await?;
        done += batch;
    }
    Ok(Generated {
        childcare_orgs: childcare,
        providers,
        consultations: n,
        visits: visits_total,
        consents: consents_total,
    })
}
