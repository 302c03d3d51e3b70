//! `kindbrug demo`: a small, realistic dataset so a newcomer can try the API in a minute:
//! regions with real municipality codes, a childcare organisation with a KDV and a BSO, mentors,
//! a youth-care provider with specialists of different expertise, children aged 0 to 13 with
//! one or two parents. Loading twice adds nothing the second time; tokens are printed each time.
//! The region codes in `data/demo-regions.csv` are illustrative: production imports the CBS table.

use crate::auth::{DevIssuer, Principal};
use crate::domain::calendar::{dutch_date, now};
use crate::domain::types::{
    AuthoritySource, ConcernDomain, LocationType, OrganizationKind, Relationship, Role, StaffRole,
};
use crate::service::children::{self, MentorChange, NewChild, NewGuardian};
use crate::service::registry::{self, NewGroup, NewLocation, NewOrganization, NewStaff};
use crate::service::{Caller, Ctx, ServiceError};
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

/// The loader acts as an admin for the registry and as the childcare organisation's integration
/// client for its children, through the same operations (and access-log entries) as any door.
fn loader(role: Role, organization_id: Option<Uuid>) -> Caller {
    Caller::Principal(Principal {
        issuer: "kindbrug-demo".into(),
        subject: "demo-loader".into(),
        roles: vec![role],
        organization_id,
        staff: None,
        scopes: None,
    })
}

fn failed(what: &str) -> impl FnOnce(ServiceError) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("demo {what}: {e}")
}

struct Builder<'a> {
    state: &'a Ctx,
    admin: Caller,
}

impl Builder<'_> {
    async fn org(&self, name: &str, kind: OrganizationKind) -> anyhow::Result<Uuid> {
        let body = NewOrganization {
            name: name.into(),
            kind,
        };
        let made = registry::create_organization(self.state, &self.admin, body)
            .await
            .map_err(failed("organisation"))?;
        Ok(made.id)
    }

    async fn location(
        &self,
        org: Uuid,
        name: &str,
        location_type: LocationType,
        municipality: &str,
        lrk: &str,
    ) -> anyhow::Result<Uuid> {
        let body = NewLocation {
            name: name.into(),
            location_type,
            municipality_code: municipality.parse().map_err(anyhow::Error::msg)?,
            lrk_number: Some(lrk.into()),
        };
        let made = registry::create_location(self.state, &self.admin, org, body)
            .await
            .map_err(failed("location"))?;
        Ok(made.id)
    }

    async fn group(&self, location: Uuid, name: &str) -> anyhow::Result<Uuid> {
        let body = NewGroup { name: name.into() };
        let made = registry::create_group(self.state, &self.admin, location, body)
            .await
            .map_err(failed("group"))?;
        Ok(made.id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn staff(
        &self,
        org: Uuid,
        subject: &str,
        name: &str,
        role: StaffRole,
        locations: &[Uuid],
        regions: &[&str],
        expertise: &[ConcernDomain],
        capacity: Option<i64>,
    ) -> anyhow::Result<Uuid> {
        let body = NewStaff {
            subject: subject.into(),
            name: name.into(),
            role,
            location_ids: locations.to_vec(),
            expertise: expertise.to_vec(),
            region_codes: regions
                .iter()
                .map(|r| r.parse())
                .collect::<Result<_, _>>()
                .map_err(anyhow::Error::msg)?,
            capacity,
        };
        let made = registry::create_staff(self.state, &self.admin, org, body)
            .await
            .map_err(failed("staff member"))?;
        Ok(made.id)
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
        parents: &[(&str, Relationship)],
    ) -> anyhow::Result<Uuid> {
        let client = loader(Role::Integration, Some(org));
        let body = NewChild {
            location_id: location,
            group_id: Some(group),
            external_ref: reference.into(),
            given_name: name.into(),
            date_of_birth: born,
        };
        let child = children::register_child(self.state, &client, body)
            .await
            .map_err(failed("child"))?;
        let mentor = MentorChange {
            staff_id: mentor,
            parents_informed_at: Some(now()),
        };
        children::assign_mentor(self.state, &client, child.id, None, mentor)
            .await
            .map_err(failed("mentor"))?;
        for (name, relationship) in parents {
            let first = name.split_whitespace().next().unwrap_or("ouder");
            let body = NewGuardian {
                name: name.to_string(),
                relationship: *relationship,
                has_parental_authority: true,
                authority_source: Some(AuthoritySource::Declared),
                email: Some(format!("{}@example.nl", first.to_lowercase())),
                phone: None,
            };
            children::add_guardian(self.state, &client, child.id, body)
                .await
                .map_err(failed("guardian"))?;
        }
        Ok(child.id)
    }
}

/// Loads the demo data unless it is there already; returns the ids.
pub async fn load(state: &Ctx) -> anyhow::Result<DemoIds> {
    let store = state.store.as_ref();
    if let Some(existing) = store.setting(DEMO_SETTING).await? {
        return Ok(serde_json::from_str(&existing)?);
    }
    let admin = loader(Role::Admin, None);
    registry::import_regions(state, &admin, DEMO_REGIONS_CSV.as_bytes(), None)
        .await
        .map_err(failed("region table"))?;

    let b = Builder { state, admin };
    let today = dutch_date(now());
    let years_ago = |y: i64, days: i64| today - Duration::days(y * 365 + y / 4 + days);

    let childcare = b
        .org("Kinderopvang De Vlinder", OrganizationKind::Childcare)
        .await?;
    let kdv = b
        .location(
            childcare,
            "KDV De Rups",
            LocationType::Kdv,
            "GM0344",
            "123456789",
        )
        .await?;
    let bso = b
        .location(
            childcare,
            "BSO De Vlinder",
            LocationType::Bso,
            "GM0363",
            "987654321",
        )
        .await?;
    let dreumes = b.group(kdv, "Dreumesgroep").await?;
    let peuter = b.group(kdv, "Peutergroep").await?;
    let bso_group = b.group(bso, "Middenbouw").await?;
    let m_sanne = b
        .staff(
            childcare,
            "sanne",
            "Sanne de Vries",
            StaffRole::Mentor,
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
            StaffRole::Mentor,
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
        StaffRole::Policy,
        &[],
        &[],
        &[],
        None,
    )
    .await?;

    let youth = b
        .org("Jeugdhulp Midden", OrganizationKind::YouthCare)
        .await?;
    b.staff(
        youth,
        "anouk",
        "Anouk Bakker (orthopedagoog)",
        StaffRole::Specialist,
        &[],
        &["JZ22", "JZ21"],
        &[ConcernDomain::Behaviour, ConcernDomain::SocialEmotional],
        Some(5),
    )
    .await?;
    b.staff(
        youth,
        "pieter",
        "Pieter Smit (logopedist)",
        StaffRole::Specialist,
        &[],
        &["JZ22", "JZ14"],
        &[ConcernDomain::Language],
        Some(4),
    )
    .await?;
    b.staff(
        youth,
        "lotte",
        "Lotte Visser (kinderfysiotherapeut)",
        StaffRole::Specialist,
        &[],
        &["JZ14"],
        &[ConcernDomain::Motor],
        Some(3),
    )
    .await?;
    b.staff(
        youth,
        "coordinator-utrecht",
        "Mila Hendriks",
        StaffRole::Coordinator,
        &[],
        &["JZ22", "JZ21"],
        &[],
        None,
    )
    .await?;
    b.org("Gemeente Utrecht", OrganizationKind::Municipality)
        .await?;

    let mut children = Vec::new();
    type DemoChild<'a> = (
        &'a str,
        &'a str,
        NaiveDate,
        Uuid,
        Uuid,
        Uuid,
        &'a [(&'a str, Relationship)],
    );
    let kids: [DemoChild<'_>; 8] = [
        (
            "K-0001",
            "Noor",
            years_ago(0, 200),
            kdv,
            dreumes,
            m_sanne,
            &[
                ("Eva Visser", Relationship::Parent),
                ("Tom Visser", Relationship::Parent),
            ],
        ),
        (
            "K-0002",
            "Daan",
            years_ago(1, 40),
            kdv,
            dreumes,
            m_sanne,
            &[("Fatima Ouali", Relationship::Parent)],
        ),
        (
            "K-0003",
            "Lina",
            years_ago(2, 120),
            kdv,
            peuter,
            m_sanne,
            &[
                ("Sophie Mulder", Relationship::Parent),
                ("Ruben Mulder", Relationship::Parent),
            ],
        ),
        (
            "K-0004",
            "Milan",
            years_ago(3, 10),
            kdv,
            peuter,
            m_sanne,
            &[("Iris de Boer", Relationship::Parent)],
        ),
        (
            "B-0001",
            "Sem",
            years_ago(5, 60),
            bso,
            bso_group,
            m_youssef,
            &[
                ("Mark de Jong", Relationship::Parent),
                ("Anna de Jong", Relationship::Parent),
            ],
        ),
        (
            "B-0002",
            "Yara",
            years_ago(8, 150),
            bso,
            bso_group,
            m_youssef,
            &[("Leila Haddou", Relationship::Parent)],
        ),
        (
            "B-0003",
            "Finn",
            years_ago(11, 300),
            bso,
            bso_group,
            m_youssef,
            &[
                ("Joost Kok", Relationship::Parent),
                ("Maud Kok", Relationship::Parent),
            ],
        ),
        (
            "B-0004",
            "Sara",
            years_ago(13, 20),
            bso,
            bso_group,
            m_youssef,
            &[("Nina Peters", Relationship::FosterParent)],
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
