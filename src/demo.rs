//! `kindbrug demo`: a small, realistic dataset so a newcomer can try the API in a minute:
//! regions with real municipality codes, a childcare organisation with a KDV and a BSO, mentors,
//! a youth-care provider with specialists of different expertise, children aged 0 to 13 with
//! one or two parents. Loading twice adds nothing the second time; tokens are printed each time.
//! The region codes in `data/demo-regions.csv` are illustrative: production imports the CBS table.

use crate::audit::{AuditAction, AuditActor, AuditRecord};
use crate::auth::DevIssuer;
use crate::domain::calendar::{dutch_date, now};
use crate::domain::regions::parse_region_csv;
use crate::store::*;
use chrono::{Duration, NaiveDate};
use std::time::Duration as StdDuration;
use uuid::Uuid;

const DEMO_SETTING: &str = "demo_ids";
pub const DEMO_REGIONS_CSV: &str = include_str!("../data/demo-regions.csv");

/// Ids of the demo records the printed tokens and the README tour refer to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoIds {
    pub childcare_org: Uuid,
    pub youth_care_org: Uuid,
    pub kdv: Uuid,
    pub bso: Uuid,
    pub children: Vec<Uuid>,
    /// (subject, role, org) per printed token.
    pub logins: Vec<(String, String, Option<Uuid>)>,
}

fn actor() -> AuditActor {
    AuditActor {
        issuer: "kindbrug-demo".into(),
        subject: "demo-loader".into(),
        role: "integration".into(),
        organization_id: None,
        staff_id: None,
        request_id: "demo".into(),
    }
}

struct Builder<'a> {
    store: &'a dyn Store,
}

impl Builder<'_> {
    async fn org(&self, name: &str, kind: &str) -> StoreResult<Uuid> {
        let row = OrganizationRow {
            id: Uuid::now_v7(),
            name: name.into(),
            kind: kind.into(),
            created_at: now(),
            active: true,
        };
        self.store.create_organization(&row).await?;
        Ok(row.id)
    }

    async fn location(
        &self,
        org: Uuid,
        name: &str,
        kind: &str,
        municipality: &str,
        lrk: &str,
    ) -> StoreResult<Uuid> {
        let row = LocationRow {
            id: Uuid::now_v7(),
            organization_id: org,
            name: name.into(),
            location_type: kind.into(),
            municipality_code: municipality.into(),
            lrk_number: Some(lrk.into()),
            created_at: now(),
            active: true,
        };
        self.store.create_location(&row).await?;
        Ok(row.id)
    }

    async fn group(&self, location: Uuid, name: &str) -> StoreResult<Uuid> {
        let row = GroupRow {
            id: Uuid::now_v7(),
            location_id: location,
            name: name.into(),
            created_at: now(),
            active: true,
        };
        self.store.create_group(&row).await?;
        Ok(row.id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn staff(
        &self,
        org: Uuid,
        subject: &str,
        name: &str,
        role: &str,
        locations: &[Uuid],
        regions: &[&str],
        expertise: &[&str],
        capacity: Option<i64>,
    ) -> StoreResult<Uuid> {
        let record = StaffRecord {
            staff: StaffRow {
                id: Uuid::now_v7(),
                organization_id: org,
                subject: subject.into(),
                name: name.into(),
                role: role.into(),
                capacity,
                active: true,
                created_at: now(),
            },
            location_ids: locations.to_vec(),
            region_codes: regions.iter().map(|s| s.to_string()).collect(),
            expertise: expertise.iter().map(|s| s.to_string()).collect(),
        };
        self.store.create_staff(&record).await?;
        Ok(record.staff.id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn child(
        &self,
        org: Uuid,
        location: Uuid,
        group: Uuid,
        reference: &str,
        name: &str,
        born: NaiveDate,
        mentor: Uuid,
        parents: &[(&str, &str)],
    ) -> StoreResult<Uuid> {
        let at = now();
        let row = ChildRow {
            id: Uuid::now_v7(),
            organization_id: org,
            location_id: location,
            group_id: Some(group),
            external_ref: reference.into(),
            given_name: name.into(),
            date_of_birth: born,
            version: 1,
            created_at: at,
            updated_at: at,
            mentor_staff_id: None,
            left_on: None,
        };
        let a = actor();
        self.store
            .create_child(
                &row,
                &AuditRecord::new(
                    &a,
                    AuditAction::Create,
                    "child",
                    Some(row.id),
                    Some(row.id),
                    "child_record",
                ),
            )
            .await?;
        let m = MentorAssignmentRow {
            id: Uuid::now_v7(),
            child_id: row.id,
            staff_id: mentor,
            assigned_at: now(),
            ended_at: None,
            parents_informed_at: Some(now()),
        };
        self.store
            .assign_mentor(
                &m,
                None,
                &AuditRecord::new(
                    &a,
                    AuditAction::Update,
                    "mentor",
                    Some(m.id),
                    Some(row.id),
                    "child_record",
                ),
            )
            .await?;
        for (name, relationship) in parents {
            let g = GuardianRow {
                id: Uuid::now_v7(),
                child_id: row.id,
                name: name.to_string(),
                relationship: relationship.to_string(),
                has_parental_authority: true,
                authority_source: Some("declared".into()),
                email: Some(format!(
                    "{}@example.nl",
                    name.split_whitespace()
                        .next()
                        .unwrap_or("ouder")
                        .to_lowercase()
                )),
                phone: None,
                created_at: now(),
            };
            self.store
                .add_guardian(
                    &g,
                    &AuditRecord::new(
                        &a,
                        AuditAction::Create,
                        "guardian",
                        Some(g.id),
                        Some(row.id),
                        "child_record",
                    ),
                )
                .await?;
        }
        Ok(row.id)
    }
}

/// Loads the demo data unless it is there already; returns the ids.
pub async fn load(store: &dyn Store) -> anyhow::Result<DemoIds> {
    if let Some(existing) = store.setting(DEMO_SETTING).await? {
        return Ok(serde_json::from_str(&existing)?);
    }
    let regions = parse_region_csv(DEMO_REGIONS_CSV.as_bytes(), None)
        .map_err(|e| anyhow::anyhow!("demo region table: {e:?}"))?;
    store.import_regions(&regions).await?;

    let b = Builder { store };
    let today = dutch_date(now());
    let years_ago = |y: i64, days: i64| today - Duration::days(y * 365 + y / 4 + days);

    let childcare = b.org("Kinderopvang De Vlinder", "childcare").await?;
    let kdv = b
        .location(childcare, "KDV De Rups", "kdv", "GM0344", "123456789")
        .await?;
    let bso = b
        .location(childcare, "BSO De Vlinder", "bso", "GM0363", "987654321")
        .await?;
    let dreumes = b.group(kdv, "Dreumesgroep").await?;
    let peuter = b.group(kdv, "Peutergroep").await?;
    let bso_group = b.group(bso, "Middenbouw").await?;
    let m_sanne = b
        .staff(
            childcare,
            "sanne",
            "Sanne de Vries",
            "mentor",
            &[kdv],
            &[],
            &[],
            None,
        )
        .await?;
    let m_youssef = b
        .staff(
            childcare,
            "youssef",
            "Youssef El Amrani",
            "mentor",
            &[bso],
            &[],
            &[],
            None,
        )
        .await?;
    b.staff(
        childcare,
        "beleid-vlinder",
        "Fleur Jansen",
        "policy",
        &[],
        &[],
        &[],
        None,
    )
    .await?;

    let youth = b.org("Jeugdhulp Midden", "youth_care").await?;
    b.staff(
        youth,
        "anouk",
        "Anouk Bakker (orthopedagoog)",
        "specialist",
        &[],
        &["JZ22", "JZ21"],
        &["behaviour", "social_emotional"],
        Some(5),
    )
    .await?;
    b.staff(
        youth,
        "pieter",
        "Pieter Smit (logopedist)",
        "specialist",
        &[],
        &["JZ22", "JZ14"],
        &["language"],
        Some(4),
    )
    .await?;
    b.staff(
        youth,
        "lotte",
        "Lotte Visser (kinderfysiotherapeut)",
        "specialist",
        &[],
        &["JZ14"],
        &["motor"],
        Some(3),
    )
    .await?;
    b.staff(
        youth,
        "coordinator-utrecht",
        "Mila Hendriks",
        "coordinator",
        &[],
        &["JZ22", "JZ21"],
        &[],
        None,
    )
    .await?;
    b.org("Gemeente Utrecht", "municipality").await?;

    let mut children = Vec::new();
    type DemoChild<'a> = (
        &'a str,
        &'a str,
        NaiveDate,
        Uuid,
        Uuid,
        Uuid,
        &'a [(&'a str, &'a str)],
    );
    let kids: [DemoChild<'_>; 8] = [
        (
            "K-0001",
            "Noor",
            years_ago(0, 200),
            kdv,
            dreumes,
            m_sanne,
            &[("Eva Visser", "parent"), ("Tom Visser", "parent")],
        ),
        (
            "K-0002",
            "Daan",
            years_ago(1, 40),
            kdv,
            dreumes,
            m_sanne,
            &[("Fatima Ouali", "parent")],
        ),
        (
            "K-0003",
            "Lina",
            years_ago(2, 120),
            kdv,
            peuter,
            m_sanne,
            &[("Sophie Mulder", "parent"), ("Ruben Mulder", "parent")],
        ),
        (
            "K-0004",
            "Milan",
            years_ago(3, 10),
            kdv,
            peuter,
            m_sanne,
            &[("Iris de Boer", "parent")],
        ),
        (
            "B-0001",
            "Sem",
            years_ago(5, 60),
            bso,
            bso_group,
            m_youssef,
            &[("Mark de Jong", "parent"), ("Anna de Jong", "parent")],
        ),
        (
            "B-0002",
            "Yara",
            years_ago(8, 150),
            bso,
            bso_group,
            m_youssef,
            &[("Leila Haddou", "parent")],
        ),
        (
            "B-0003",
            "Finn",
            years_ago(11, 300),
            bso,
            bso_group,
            m_youssef,
            &[("Joost Kok", "parent"), ("Maud Kok", "parent")],
        ),
        (
            "B-0004",
            "Sara",
            years_ago(13, 20),
            bso,
            bso_group,
            m_youssef,
            &[("Nina Peters", "foster_parent")],
        ),
    ];
    for (reference, name, born, location, group, mentor, parents) in kids {
        children.push(
            b.child(
                childcare, location, group, reference, name, born, mentor, parents,
            )
            .await?,
        );
    }

    let ids = DemoIds {
        childcare_org: childcare,
        youth_care_org: youth,
        kdv,
        bso,
        children,
        logins: vec![
            ("admin".into(), "admin".into(), None),
            ("sanne".into(), "mentor".into(), Some(childcare)),
            ("youssef".into(), "mentor".into(), Some(childcare)),
            (
                "vlinder-systeem".into(),
                "integration".into(),
                Some(childcare),
            ),
            ("beleid-vlinder".into(), "policy".into(), Some(childcare)),
            ("anouk".into(), "specialist".into(), Some(youth)),
            ("pieter".into(), "specialist".into(), Some(youth)),
            (
                "coordinator-utrecht".into(),
                "coordinator".into(),
                Some(youth),
            ),
        ],
    };
    store
        .setting_or_insert(DEMO_SETTING, &serde_json::to_string(&ids)?)
        .await?;
    Ok(ids)
}

/// A printable summary with a development token per login.
pub fn summary(ids: &DemoIds, issuer: &DevIssuer, audience: &str, ttl: StdDuration) -> String {
    let mut out = String::new();
    out.push_str("# demo ids\n");
    out.push_str(&format!(
        "export CHILDCARE_ORG={}  # Kinderopvang De Vlinder\n",
        ids.childcare_org
    ));
    out.push_str(&format!(
        "export YOUTH_CARE_ORG={}  # Jeugdhulp Midden\n",
        ids.youth_care_org
    ));
    out.push_str(&format!(
        "export KDV={}  # KDV De Rups, Utrecht (mentor: sanne)\n",
        ids.kdv
    ));
    out.push_str(&format!(
        "export BSO={}  # BSO De Vlinder, Amsterdam (mentor: youssef)\n",
        ids.bso
    ));
    out.push_str(&format!(
        "export CHILD={}  # Noor, at the KDV\n\n",
        ids.children.first().copied().unwrap_or_default()
    ));
    out.push_str(&format!(
        "# development tokens, valid {} hours\n",
        ttl.as_secs() / 3600
    ));
    for (sub, role, org) in &ids.logins {
        let token = issuer.mint(
            audience,
            sub,
            std::slice::from_ref(role),
            org.map(|o| o.to_string()).as_deref(),
            ttl,
        );
        let var = format!("TOKEN_{}", sub.to_uppercase().replace('-', "_"));
        out.push_str(&format!("# {role}\nexport {var}={token}\n"));
    }
    out
}
