//! Load benchmark: each scenario runs through the HTTP API (token check, authorisation, JSON,
//! access log) and, in the same run and at the same concurrency, as the raw database work the
//! endpoint does (the same store calls, no HTTP; the caller's staff record as a replica serves
//! it once remembered: one read of the scope version). The ratio HTTP / raw says what the gateway
//! costs on top of its own store. Beside both, the independent ceiling (`ceiling.rs`): the
//! least database work of the operation done by pgbench or a raw SQLite connection; HTTP /
//! ceiling says how close the whole path comes to what the database allows. See BENCHMARKS.md
//! for how to run it and the figures.
//!
//! ```text
//! cargo run --release --bin kindbrug-bench -- [--backend sqlite|postgres|both] [--concurrency 16] [--seconds 10]
//! ```

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use kindbrug::audit::{AuditAction, AuditActor, AuditRecord};
use kindbrug::domain::calendar::now;
use kindbrug::domain::consent::{ConsentMethod, Decision, Giver, NewDecision, Purpose, Recipient};
use kindbrug::domain::types::{
    AuthoritySource, ConcernDomain, LocationType, OrganizationKind, Relationship, StaffRole,
};
use kindbrug::service::consent::{consent_record, RecordMeta};
use kindbrug::store::*;
use kindbrug::{AppState, Config};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[path = "kindbrug-bench/ceiling.rs"]
mod ceiling;

/// The development token secret of the benchmark's gateways (in process and `kindbrug serve`).
const BENCH_SECRET: &str = "bench-secret-bench-secret-bench-secret-00";

/// Children whose consents the withdrawal runs use up.
const WITHDRAW_CHILDREN: usize = 200;

struct Args {
    backends: Vec<String>,
    concurrency: usize,
    seconds: u64,
    children: usize,
    postgres_url: String,
    /// Figures mode: generate this many consultation requests (national scale) and time the
    /// policy figures.
    figures: Option<usize>,
    /// Connections mode: the memory of a `kindbrug serve` process with this many connections open.
    connections: Option<usize>,
    /// Pages mode: server-rendered pages beside the JSON reads of the same data.
    pages: bool,
    /// FHIR mode: the FHIR facade beside the JSON API, and a mixed run per vCPU.
    fhir: bool,
    /// Soak mode: hold 70 % of the measured peak of a mixed load for this many minutes.
    soak: Option<u64>,
    /// Soak against a `kindbrug serve` process of its own (its RSS alone is then reported).
    gateway_process: bool,
    /// Replicas mode: 1, 2 and 3 `kindbrug serve` processes on one PostgreSQL, same load.
    replicas: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        backends: vec!["sqlite".into(), "postgres".into()],
        concurrency: 16,
        seconds: 10,
        children: 2_000,
        figures: None,
        connections: None,
        pages: false,
        fhir: false,
        soak: None,
        gateway_process: false,
        replicas: false,
        postgres_url: std::env::var("KINDBRUG_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => {
                a.backends = match value()?.as_str() {
                    "both" => vec!["sqlite".into(), "postgres".into()],
                    b @ ("sqlite" | "postgres") => vec![b.into()],
                    other => anyhow::bail!("unknown backend {other}"),
                }
            }
            "--concurrency" => a.concurrency = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--children" => a.children = value()?.parse()?,
            "--figures" => a.figures = Some(value()?.parse()?),
            "--connections" => a.connections = Some(value()?.parse()?),
            "--pages" => a.pages = true,
            "--fhir" => a.fhir = true,
            "--soak" => a.soak = Some(value()?.parse()?),
            "--gateway-process" => a.gateway_process = true,
            "--replicas" => a.replicas = true,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

/// Throughput and latency of one run.
#[derive(Clone)]
struct Stats {
    ops: u64,
    errors: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Stats {
    fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `op` from `concurrency` tasks for `seconds` (after a one-second warm-up), or until
/// `max_ops` operations were started (for scenarios that use up prepared data).
async fn load<F, Fut>(concurrency: usize, seconds: u64, op: F) -> Stats
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    load_at_most(concurrency, seconds, u64::MAX, op).await
}

async fn load_at_most<F, Fut>(concurrency: usize, seconds: u64, max_ops: u64, op: F) -> Stats
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let warmup_end = Instant::now() + Duration::from_secs(1);
    let end = warmup_end + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (op, counter, errors) = (op.clone(), counter.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= max_ops {
                    break;
                }
                let result = op(i).await;
                if started >= warmup_end {
                    match result {
                        Ok(()) => latencies.push((started.elapsed(), Instant::now())),
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("first error: {e:#}");
                            }
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.extend(t.await.unwrap_or_default());
    }
    let last = done.iter().map(|(_, at)| *at).max().unwrap_or(end).min(end);
    let elapsed = last
        .saturating_duration_since(warmup_end)
        .max(Duration::from_millis(1));
    let mut all: Vec<Duration> = done.into_iter().map(|(l, _)| l).collect();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Stats {
        ops: all.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

/// One backend's app, seeded.
struct Bench {
    state: AppState,
    base: String,
    http: reqwest::Client,
    org: Uuid,
    location: Uuid,
    mentor_sub: String,
    mentor_token: String,
    children: Vec<Uuid>,
    /// The two guardians (with authority) of each seeded child, by index.
    guardians: Vec<(Uuid, Uuid)>,
    youth: Uuid,
    /// Granted consents prepared for the withdrawal runs: (consent, child, guardian who gave it).
    withdraw_http: Vec<(Uuid, Uuid, Uuid)>,
    withdraw_raw: Vec<(Uuid, Uuid, Uuid)>,
    /// A concern per seeded child, by index.
    concerns: Vec<Uuid>,
    actor: AuditActor,
    config: Config,
}

async fn setup(
    backend: &str,
    args: &Args,
    tmp: &std::path::Path,
) -> anyhow::Result<(Bench, Option<String>)> {
    let (url, pg_name) = match backend {
        "sqlite" => (format!("sqlite://{}", tmp.join("bench.db").display()), None),
        _ => {
            let name = format!("kb_bench_{}", Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&args.postgres_url)
                .await
                .context("PostgreSQL for the benchmark")?;
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&admin)
                .await?;
            admin.close().await;
            let mut u = url::Url::parse(&args.postgres_url)?;
            u.set_path(&name);
            (u.to_string(), Some(name))
        }
    };
    let config = Config {
        database_url: SecretString::from(url),
        database_max_connections: args.concurrency as u32,
        dev_jwt_secret: Some(SecretString::from(BENCH_SECRET)),
        listen: "127.0.0.1:0".into(),
        // the relay is measured on its own, after the request scenarios
        relay_enabled: false,
        // one mentor's token makes every submission: the per-token write limit (a brake on a
        // runaway client) would measure itself, not the gateway
        writes_per_minute_per_token: u32::MAX / 2,
        ..Config::default()
    };
    let state_config = config.clone();
    let state = kindbrug::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(kindbrug::serve(
        state.clone(),
        listener,
        std::future::pending(),
    ));

    let store = state.store.as_ref();
    let regions = kindbrug::domain::regions::parse_region_csv(
        kindbrug::demo::DEMO_REGIONS_CSV.as_bytes(),
        None,
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store.import_regions(&regions).await?;
    let org = OrganizationRow {
        id: Uuid::now_v7(),
        name: "Bench".into(),
        kind: OrganizationKind::Childcare,
        created_at: now(),
        active: true,
    };
    store.create_organization(&org).await?;
    let location = LocationRow {
        id: Uuid::now_v7(),
        organization_id: org.id,
        name: "KDV".into(),
        location_type: LocationType::Kdv,
        municipality_code: "GM0344".into(),
        lrk_number: None,
        created_at: now(),
        active: true,
    };
    store.create_location(&location).await?;
    let mentor = StaffRecord {
        staff: StaffRow {
            id: Uuid::now_v7(),
            organization_id: org.id,
            subject: "bench-mentor".into(),
            name: "M".into(),
            role: StaffRole::Mentor,
            capacity: None,
            active: true,
            created_at: now(),
        },
        location_ids: vec![location.id],
        region_codes: vec![],
        expertise: vec![],
    };
    store.create_staff(&mentor).await?;
    let actor = AuditActor {
        issuer: "kindbrug-dev".into(),
        subject: "bench-mentor".into(),
        role: "mentor".into(),
        organization_id: Some(org.id),
        staff_id: Some(mentor.staff.id),
        request_id: "bench".into(),
    };
    let youth = OrganizationRow {
        id: Uuid::now_v7(),
        name: "Jeugdhulp".into(),
        kind: OrganizationKind::YouthCare,
        created_at: now(),
        active: true,
    };
    store.create_organization(&youth).await?;
    store
        .create_staff(&StaffRecord {
            staff: StaffRow {
                id: Uuid::now_v7(),
                organization_id: youth.id,
                subject: "spec".into(),
                name: "S".into(),
                role: StaffRole::Specialist,
                capacity: Some(10),
                active: true,
                created_at: now(),
            },
            location_ids: vec![],
            region_codes: vec!["JZ22".into()],
            expertise: vec![ConcernDomain::Language],
        })
        .await?;
    // children with two parents each and their consent to a consultation by the provider
    let seeded: Vec<(Uuid, Uuid, Uuid)> =
        futures::stream::iter(0..args.children + WITHDRAW_CHILDREN)
            .map(|i| {
                let actor = actor.clone();
                let (org, location, youth) = (org.id, location.id, youth.id);
                async move {
                    let row = child_row(org, location, &format!("seed-{i}"));
                    store
                        .create_child(
                            &row,
                            &AuditRecord::new(
                                &actor,
                                AuditAction::Create,
                                "child",
                                Some(row.id),
                                Some(row.id),
                                "child_record",
                            ),
                        )
                        .await?;
                    let a = guardian(store, &actor, row.id, "Ouder A").await?;
                    let b = guardian(store, &actor, row.id, "Ouder B").await?;
                    seed_consent(store, &actor, &row, youth, a, b).await?;
                    anyhow::Ok((row.id, a, b))
                }
            })
            .buffer_unordered(args.concurrency)
            .try_collect()
            .await?;
    // the last children carry the consents prepared for withdrawal, so the others keep one
    // active consent each, as in real use
    let (seeded, withdraw_children) = seeded.split_at(args.children);
    let children: Vec<Uuid> = seeded.iter().map(|s| s.0).collect();
    let guardians: Vec<(Uuid, Uuid)> = seeded.iter().map(|s| (s.1, s.2)).collect();
    // consents to withdraw: enough for each run not to run out at the rates seen on 2 cores
    let pool = (args.seconds as usize + 1) * 1_200;
    let mut pools = Vec::new();
    for _ in 0..2 {
        let made: Vec<(Uuid, Uuid, Uuid)> = futures::stream::iter(0..pool)
            .map(|i| {
                let actor = actor.clone();
                let (child, a, b) = withdraw_children[i % withdraw_children.len()];
                let youth = youth.id;
                async move {
                    let row = ChildRow {
                        id: child,
                        ..child_row(Uuid::nil(), Uuid::nil(), "")
                    };
                    let id = seed_consent(store, &actor, &row, youth, a, b).await?;
                    anyhow::Ok((id, child, a))
                }
            })
            .buffer_unordered(args.concurrency)
            .try_collect()
            .await?;
        pools.push(made);
    }
    let withdraw_raw = pools.pop().unwrap_or_default();
    let withdraw_http = pools.pop().unwrap_or_default();
    // specialists with room for every submission of the run, a concern per child, and webhook
    // endpoints of both organisations at a local receiver (what a submission enqueues)
    for n in 0..40 {
        store
            .create_staff(&StaffRecord {
                staff: StaffRow {
                    id: Uuid::now_v7(),
                    organization_id: youth.id,
                    subject: format!("lang-{n}"),
                    name: "L".into(),
                    role: StaffRole::Specialist,
                    capacity: Some(500),
                    active: true,
                    created_at: now(),
                },
                location_ids: vec![],
                region_codes: vec!["JZ22".into()],
                expertise: vec![ConcernDomain::Language],
            })
            .await?;
    }
    let mut concerns = Vec::with_capacity(children.len());
    for child in &children {
        let row = ConcernRow {
            id: Uuid::now_v7(),
            child_id: *child,
            domains: kindbrug::store::TextSet(vec![
                kindbrug::domain::types::ConcernDomain::Language,
            ]),
            observation: "bench".into(),
            observed_since: chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            recorded_by_subject: "bench-mentor".into(),
            recorded_by_staff_id: None,
            created_at: now(),
        };
        store
            .create_concern(
                &row,
                &AuditRecord::new(
                    &actor,
                    AuditAction::Create,
                    "concern",
                    Some(row.id),
                    Some(*child),
                    "consultation",
                ),
            )
            .await?;
        concerns.push(row.id);
    }
    let receiver = start_receiver().await?;
    for (org, events) in [(org.id, r#"["*"]"#), (youth.id, r#"["consultation.*"]"#)] {
        store
            .create_endpoint(&WebhookEndpointRow {
                id: Uuid::now_v7(),
                organization_id: org,
                url: receiver.clone(),
                events: events.into(),
                signing: "hmac".into(),
                secret: kindbrug::webhooks::new_secret(kindbrug::webhooks::Signing::Hmac).0,
                status: "active".into(),
                disabled_reason: None,
                created_at: now(),
                previous_secret: None,
                previous_valid_until: None,
                subscription: None,
            })
            .await?;
    }
    let mentor_token = state.auth.dev_issuer().unwrap().mint(
        "kindbrug",
        "bench-mentor",
        &["mentor".into()],
        Some(&org.id.to_string()),
        Duration::from_secs(3600),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    Ok((
        Bench {
            state,
            base,
            http,
            org: org.id,
            location: location.id,
            mentor_sub: "bench-mentor".into(),
            mentor_token,
            children,
            guardians,
            youth: youth.id,
            withdraw_http,
            withdraw_raw,
            concerns,
            actor,
            config: state_config,
        },
        pg_name,
    ))
}

async fn guardian(
    store: &dyn Store,
    actor: &AuditActor,
    child: Uuid,
    name: &str,
) -> anyhow::Result<Uuid> {
    let g = GuardianRow {
        id: Uuid::now_v7(),
        child_id: child,
        name: name.into(),
        relationship: Relationship::Parent,
        has_parental_authority: true,
        authority_source: Some(AuthoritySource::Declared),
        email: None,
        phone: None,
        created_at: now(),
    };
    store
        .add_guardian(
            &g,
            &AuditRecord::new(
                actor,
                AuditAction::Create,
                "guardian",
                Some(g.id),
                Some(child),
                "child_record",
            ),
        )
        .await?;
    Ok(g.id)
}

/// Both parents' consent to a consultation by `youth`, recorded directly (no rules applied).
async fn seed_consent(
    store: &dyn Store,
    actor: &AuditActor,
    child: &ChildRow,
    youth: Uuid,
    a: Uuid,
    b: Uuid,
) -> anyhow::Result<Uuid> {
    let record = consent_record(child, &grant(youth, a, b), meta(actor));
    store
        .create_consent(
            &record,
            &[],
            &AuditRecord::new(
                actor,
                AuditAction::Create,
                "consent",
                Some(record.consent.id),
                Some(child.id),
                "consent_management",
            ),
        )
        .await?;
    Ok(record.consent.id)
}

fn grant(youth: Uuid, a: Uuid, b: Uuid) -> NewDecision {
    NewDecision {
        purpose: Purpose::Consultation,
        recipient: Recipient::Organization(youth),
        region_organizations: Vec::new(),
        decision: Decision::Granted,
        givers: vec![Giver::Guardian(a), Giver::Guardian(b)],
        valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        valid_until: None,
        no_signs_of_disagreement: false,
        child_not_competent: false,
    }
}

fn meta(actor: &AuditActor) -> RecordMeta {
    RecordMeta {
        method: ConsentMethod::Oral,
        evidence_ref: None,
        noted_by_staff_id: actor.staff_id,
        information_version: "bench-1".into(),
        recorded_by_subject: actor.subject.clone(),
        recorded_by_role: actor.role.clone(),
        recorded_by_organization_id: actor.organization_id,
        parent_link_id: None,
        at: now(),
        region_code: Some("JZ22".into()),
    }
}

fn child_row(org: Uuid, location: Uuid, reference: &str) -> ChildRow {
    let at = now();
    ChildRow {
        id: Uuid::now_v7(),
        organization_id: org,
        location_id: location,
        group_id: None,
        external_ref: reference.into(),
        given_name: "Kind".into(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(2022, 5, 1).unwrap(),
        version: 1,
        created_at: at,
        updated_at: at,
        mentor_staff_id: None,
        left_on: None,
    }
}

struct Row {
    scenario: &'static str,
    backend: String,
    http: Stats,
    raw: Stats,
    /// The independent ceiling of the scenario, measured after all scenarios of the backend.
    ceiling: Option<Stats>,
}

/// The store calls `POST /api/v1/consultations` makes, without HTTP, token or JSON.
async fn raw_submission(b: &Bench, i: u64) -> anyhow::Result<()> {
    use kindbrug::domain::routing::{rank, Candidate, Need};
    let store = b.state.store.as_ref();
    let k = (i as usize * 7919) % b.children.len();
    store.scope_version().await?;
    let child = store.get_child(b.children[k]).await?.context("child")?;
    store.get_concern(b.concerns[k]).await?.context("concern")?;
    let location = store
        .get_location(child.location_id)
        .await?
        .context("location")?;
    let region = store
        .region_of(&location.municipality_code, chrono::Utc::now().date_naive())
        .await?
        .context("region")?;
    let rows = store.routing_candidates(&region).await?;
    let consents = store.consent_basis(child.id, "consultation").await?.records;
    let candidates: Vec<Candidate> = rows
        .into_iter()
        .map(|r| Candidate {
            staff_id: r.staff_id,
            organization_id: r.organization_id,
            active: r.active,
            regions: r
                .region_codes
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect(),
            expertise: r.expertise,
            capacity: r.capacity,
            open: r.open_count,
            last_offered_at: r.last_offered_at,
        })
        .collect();
    let region_code: kindbrug::domain::types::RegionCode =
        region.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let ranking = rank(
        &Need {
            region: &region_code,
            expertise: kindbrug::domain::types::ConcernDomain::Language,
            declined: &[],
        },
        &candidates,
        |_| true,
    );
    let at = now();
    let id = Uuid::now_v7();
    let row = ConsultationRow {
        id,
        child_id: child.id,
        organization_id: child.organization_id,
        location_id: child.location_id,
        concern_id: b.concerns[k],
        question: b.state.keys.seal(id, "Hoe kan dit kind meer meedoen?"),
        expertise: kindbrug::domain::types::ConcernDomain::Language,
        urgency: kindbrug::domain::consultation::Urgency::Normal,
        region_code: region,
        status: kindbrug::domain::consultation::ConsultationStatus::Requested,
        held_from: None,
        offered_to: None,
        offered_at: None,
        answer_due: None,
        assigned_to: None,
        accepted_at: None,
        status_reason: None,
        status_note_sealed: None,
        requested_by_subject: b.mentor_sub.clone(),
        requested_by_staff_id: b.actor.staff_id,
        version: 1,
        created_at: at,
        updated_at: at,
        outcome: None,
        closed_at: None,
        summary_sealed: None,
        advice_sealed: None,
        parents_involved: None,
        referral_kind: None,
        referral_consent_in_force: None,
        half_year: Some("2026-H2".into()),
        age_band: Some("4-13".into()),
        consent_delayed: Some(false),
    };
    let submission = Submission {
        consent_ids: consents
            .iter()
            .filter(|c| c.consent.status == kindbrug::domain::consent::ConsentStatus::Active)
            .map(|c| c.consent.id)
            .collect(),
        route: RouteRequest {
            ranking,
            outcomes: kindbrug::domain::consultation::routing_outcomes(
                kindbrug::domain::consultation::ConsultationStatus::Requested,
            )?,
            answer_due: at + chrono::Duration::days(3),
            trigger: "submitted".into(),
        },
        audit: AuditRecord::new(
            &b.actor,
            AuditAction::Create,
            "consultation",
            Some(row.id),
            Some(child.id),
            "consultation",
        ),
        idempotency: None,
        row,
    };
    store.submit_consultation(&submission).await?;
    Ok(())
}

/// A webhook receiver that answers 204 at once.
async fn start_receiver() -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn run_backend(
    backend: &str,
    args: &Args,
    relays: &mut Vec<String>,
    timeline_sizes: &mut Vec<String>,
    ceilings: &mut Vec<(String, ceiling::Ceiling)>,
) -> anyhow::Result<Vec<Row>> {
    let tmp = tempfile_dir()?;
    let (b, pg_name) = setup(backend, args, &tmp).await?;
    let b = Arc::new(b);
    let mut rows = Vec::new();
    let (c, s) = (args.concurrency, args.seconds);

    // -- read one child: GET /api/v1/children/{id}
    eprintln!("{backend}: read child …");
    let bb = b.clone();
    let http = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let id = b.children[(i as usize * 7919) % b.children.len()];
            let r = b
                .http
                .get(format!("{}/api/v1/children/{id}", b.base))
                .bearer_auth(&b.mentor_token)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "status {}", r.status());
            r.bytes().await?;
            Ok(())
        }
    })
    .await;
    let bb = b.clone();
    let raw = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let store = b.state.store.as_ref();
            let id = b.children[(i as usize * 7919) % b.children.len()];
            store.scope_version().await?;
            store.get_child(id).await?.context("child")?;
            store
                .record(&[AuditRecord::new(
                    &b.actor,
                    AuditAction::Read,
                    "child",
                    Some(id),
                    Some(id),
                    "child_record",
                )])
                .await?;
            Ok(())
        }
    })
    .await;
    rows.push(Row {
        scenario: "read child",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    // -- register a child: POST /api/v1/children
    eprintln!("{backend}: register child …");
    let bb = b.clone();
    let http = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let body = json!({"location_id": b.location, "external_ref": format!("http-{i}"), "given_name": "Kind", "date_of_birth": "2022-05-01"});
            let r = b.http.post(format!("{}/api/v1/children", b.base)).bearer_auth(&b.mentor_token).json(&body).send().await?;
            anyhow::ensure!(r.status() == 201, "status {}", r.status());
            r.bytes().await?;
            Ok(())
        }
    })
    .await;
    let bb = b.clone();
    let raw = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let store = b.state.store.as_ref();
            store.scope_version().await?;
            store.get_location(b.location).await?.context("location")?;
            let row = child_row(b.org, b.location, &format!("raw-{i}"));
            store
                .create_child(
                    &row,
                    &AuditRecord::new(
                        &b.actor,
                        AuditAction::Create,
                        "child",
                        Some(row.id),
                        Some(row.id),
                        "child_record",
                    ),
                )
                .await?;
            Ok(())
        }
    })
    .await;
    rows.push(Row {
        scenario: "register child",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    // -- consent check: GET /api/v1/children/{id}/consent-check
    eprintln!("{backend}: consent check …");
    let bb = b.clone();
    let http = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let id = b.children[(i as usize * 7919) % b.children.len()];
            let url = format!(
                "{}/api/v1/children/{id}/consent-check?purpose=consultation&organization_id={}",
                b.base, b.youth
            );
            let r = b.http.get(url).bearer_auth(&b.mentor_token).send().await?;
            anyhow::ensure!(r.status() == 200, "status {}", r.status());
            let body: serde_json::Value = r.json().await?;
            anyhow::ensure!(body["allowed"] == true, "not allowed: {body}");
            Ok(())
        }
    })
    .await;
    let bb = b.clone();
    let raw = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let store = b.state.store.as_ref();
            let id = b.children[(i as usize * 7919) % b.children.len()];
            store.scope_version().await?;
            store.get_child(id).await?.context("child")?;
            store.consent_basis(id, "consultation").await?;
            store
                .record(&[AuditRecord::new(
                    &b.actor,
                    AuditAction::Read,
                    "consent_check",
                    None,
                    Some(id),
                    "consent_management",
                )])
                .await?;
            Ok(())
        }
    })
    .await;
    rows.push(Row {
        scenario: "consent check",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    // -- withdraw consent: POST /api/v1/consents/{id}/withdraw (prepared consents, each once;
    eprintln!("{backend}: withdraw consent …");
    //    before "record consent", which supersedes them)
    let bb = b.clone();
    let http = load_at_most(c, s, b.withdraw_http.len() as u64, move |i| {
        let b = bb.clone();
        async move {
            let (consent, _, by) = b.withdraw_http[i as usize];
            let r = b
                .http
                .post(format!("{}/api/v1/consents/{consent}/withdraw", b.base))
                .bearer_auth(&b.mentor_token)
                .json(&json!({"by": {"guardian_id": by}}))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "status {}", r.status());
            r.bytes().await?;
            Ok(())
        }
    })
    .await;
    let bb = b.clone();
    let raw = load_at_most(c, s, b.withdraw_raw.len() as u64, move |i| {
        let b = bb.clone();
        async move {
            let store = b.state.store.as_ref();
            let (consent, child, by) = b.withdraw_raw[i as usize];
            store.scope_version().await?;
            store.get_consent(consent).await?.context("consent")?;
            store.get_child(child).await?.context("child")?;
            let w = Withdrawal {
                at: now(),
                by_guardian_id: Some(by),
                by_child: false,
                reason: None,
            };
            store
                .withdraw_consent(
                    consent,
                    &w,
                    &AuditRecord::new(
                        &b.actor,
                        AuditAction::Update,
                        "consent",
                        Some(consent),
                        Some(child),
                        "consent_management",
                    ),
                )
                .await?;
            store.get_consent(consent).await?.context("consent")?;
            Ok(())
        }
    })
    .await;
    rows.push(Row {
        scenario: "withdraw consent",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    // -- record consent: POST /api/v1/children/{id}/consents (both parents; replaces the last)
    eprintln!("{backend}: record consent …");
    let bb = b.clone();
    let http = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let k = (i as usize * 7919) % b.children.len();
            let (id, (a, g)) = (b.children[k], b.guardians[k]);
            let body = json!({"purpose": "consultation", "recipient": {"organization_id": b.youth}, "decision": "granted",
                "given_by": [{"guardian_id": a}, {"guardian_id": g}], "method": "oral", "information_version": "bench-1", "valid_from": "2026-01-01"});
            let r = b.http.post(format!("{}/api/v1/children/{id}/consents", b.base)).bearer_auth(&b.mentor_token).json(&body).send().await?;
            anyhow::ensure!(r.status() == 201, "status {}", r.status());
            r.bytes().await?;
            Ok(())
        }
    })
    .await;
    let bb = b.clone();
    let raw = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let store = b.state.store.as_ref();
            let k = (i as usize * 7919) % b.children.len();
            let (id, (a, g)) = (b.children[k], b.guardians[k]);
            store.scope_version().await?;
            let child = store.get_child(id).await?.context("child")?;
            store
                .get_organization(b.youth)
                .await?
                .context("recipient")?;
            let active = store.consent_basis(id, "consultation").await?.records;
            let supersede: Vec<Uuid> = active.iter().map(|r| r.consent.id).collect();
            let record = consent_record(&child, &grant(b.youth, a, g), meta(&b.actor));
            store
                .create_consent(
                    &record,
                    &supersede,
                    &AuditRecord::new(
                        &b.actor,
                        AuditAction::Create,
                        "consent",
                        Some(record.consent.id),
                        Some(id),
                        "consent_management",
                    ),
                )
                .await?;
            Ok(())
        }
    })
    .await;
    rows.push(Row {
        scenario: "record consent",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    // -- submit a consultation: consent check + routing + audit + outbox in one transaction
    eprintln!("{backend}: submit consultation …");
    let bb = b.clone();
    let http = load(c, s, move |i| {
        let b = bb.clone();
        async move {
            let k = (i as usize * 7919) % b.children.len();
            let body = json!({"child_id": b.children[k], "concern_id": b.concerns[k], "question": "Hoe kan dit kind meer meedoen?", "expertise": "language", "urgency": "normal"});
            let r = b.http.post(format!("{}/api/v1/consultations", b.base)).bearer_auth(&b.mentor_token).json(&body).send().await?;
            anyhow::ensure!(r.status() == 201, "status {}", r.status());
            r.bytes().await?;
            Ok(())
        }
    })
    .await;
    let bb = b.clone();
    let raw = load(c, s, move |i| {
        let b = bb.clone();
        async move { raw_submission(&b, i).await }
    })
    .await;
    rows.push(Row {
        scenario: "submit consultation",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    // -- specialist work: requests of 20 children accepted by their specialists, then visits
    eprintln!("{backend}: log visit …");
    //    logged on them (hundreds per child) and the children's timelines read
    let accepted = accepted_requests(&b, 20).await?;
    let accepted = Arc::new(accepted);
    let visit_body = json!({"date": "2026-11-20", "duration_minutes": 60, "kind": "staff_coaching", "participants": ["mentor", "practitioner"],
        "competences": ["striking_behaviour"], "notes": "Observatie op de groep; gesprek met de mentor.", "advice": "Vaste dagritmekaarten gebruiken"});
    let (bb, acc, vb) = (b.clone(), accepted.clone(), visit_body.clone());
    let http = load(c, s, move |i| {
        let (b, acc, vb) = (bb.clone(), acc.clone(), vb.clone());
        async move {
            let (id, _, token, ..) = &acc[i as usize % acc.len()];
            let r = b
                .http
                .post(format!("{}/api/v1/consultations/{id}/visits", b.base))
                .bearer_auth(token)
                .json(&vb)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 201, "status {}", r.status());
            r.bytes().await?;
            Ok(())
        }
    })
    .await;
    let (bb, acc) = (b.clone(), accepted.clone());
    let raw = load(c, s, move |i| {
        let (b, acc) = (bb.clone(), acc.clone());
        async move {
            let store = b.state.store.as_ref();
            let (id, child, _, staff, ..) = &acc[i as usize % acc.len()];
            store.scope_version().await?;
            let row = store.get_consultation(*id).await?.context("consultation")?;
            store.get_child(*child).await?.context("child")?;
            store.consent_basis(*child, "consultation").await?;
            let at = now();
            let visit_id = Uuid::now_v7();
            let visit = VisitRow {
                id: visit_id,
                consultation_id: *id,
                child_id: *child,
                specialist_id: *staff,
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
                duration_minutes: 60,
                kind: kindbrug::domain::consultation::VisitKind::StaffCoaching,
                participants: kindbrug::store::TextSet(vec![
                    kindbrug::domain::consultation::Participant::Mentor,
                    kindbrug::domain::consultation::Participant::Practitioner,
                ]),
                competences: kindbrug::store::TextSet(vec![
                    kindbrug::domain::consultation::Competence::StrikingBehaviour,
                ]),
                status: kindbrug::domain::consultation::VisitStatus::Held,
                notes_sealed: Some(
                    b.state
                        .keys
                        .seal(visit_id, "Observatie op de groep; gesprek met de mentor."),
                ),
                advice_sealed: Some(
                    b.state
                        .keys
                        .seal(visit_id, "Vaste dagritmekaarten gebruiken"),
                ),
                notes_shared: false,
                version: 1,
                created_at: at,
                updated_at: at,
                region_code: Some("JZ22".into()),
                organization_id: Some(b.org),
                half_year: Some("2026-H2".into()),
                age_band: Some("4-13".into()),
            };
            let start = (row.status
                == kindbrug::domain::consultation::ConsultationStatus::Accepted)
                .then(|| Start {
                    row: row.clone(),
                    status: kindbrug::domain::consultation::ConsultationStatus::InProgress,
                });
            store
                .create_visit(
                    &visit,
                    start.as_ref(),
                    &AuditRecord::new(
                        &b.actor,
                        AuditAction::Create,
                        "visit",
                        Some(visit_id),
                        Some(*child),
                        "consultation",
                    ),
                )
                .await?;
            Ok(())
        }
    })
    .await;
    rows.push(Row {
        scenario: "log visit",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    let (bb, acc) = (b.clone(), accepted.clone());
    let http = load(c, s, move |i| {
        let (b, acc) = (bb.clone(), acc.clone());
        async move {
            let (_, child, ..) = &acc[i as usize % acc.len()];
            let r = b
                .http
                .get(format!(
                    "{}/api/v1/children/{child}/timeline?limit=50",
                    b.base
                ))
                .bearer_auth(&b.mentor_token)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "status {}", r.status());
            r.bytes().await?;
            Ok(())
        }
    })
    .await;
    let (bb, acc) = (b.clone(), accepted.clone());
    let raw = load(c, s, move |i| {
        let (b, acc) = (bb.clone(), acc.clone());
        async move {
            let store = b.state.store.as_ref();
            let (_, child, ..) = &acc[i as usize % acc.len()];
            store.scope_version().await?;
            store.get_child(*child).await?.context("child")?;
            let rows = store.timeline(*child, None, None, 50).await?;
            anyhow::ensure!(!rows.is_empty(), "empty timeline");
            store
                .record(&[AuditRecord::new(
                    &b.actor,
                    AuditAction::Read,
                    "timeline",
                    None,
                    Some(*child),
                    "consultation",
                )])
                .await?;
            Ok(())
        }
    })
    .await;
    let events = b
        .state
        .store
        .timeline(
            accepted.first().map(|a| a.1).unwrap_or_default(),
            None,
            None,
            100_000,
        )
        .await?
        .len();
    timeline_sizes.push(format!(
        "{backend}: {events} events on a child's timeline at the end of the run"
    ));
    rows.push(Row {
        scenario: "read timeline (50)",
        backend: backend.into(),
        http,
        raw,
        ceiling: None,
    });

    // -- the relay: deliver everything the scenarios enqueued to a local receiver
    eprintln!("{backend}: relay …");
    let pending = b.state.store.count_pending_deliveries().await?;
    let relay = kindbrug::webhooks::relay::Relay::new(
        b.state.store.clone(),
        b.config.webhook_policy(),
        b.config.relay_settings(),
    )?;
    // as `serve` runs it: claiming as slots free up, recording as deliveries end
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let running = tokio::spawn(relay.run(stopped));
    while b.state.store.count_pending_deliveries().await? > 0
        && started.elapsed() < Duration::from_secs(600)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    running.await?;
    let left = b.state.store.count_pending_deliveries().await?;
    let delivered = (pending - left) as usize;
    relays.push(format!(
        "| {backend} | {pending} | {delivered} | {:.1} | {:.0} | {left} |",
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64().max(1e-9)
    ));

    // -- the independent ceilings, last: they write into the same tables
    let seed = ceiling::Seed {
        org: b.org,
        location: b.location,
        youth: b.youth,
        mentor_staff: b.actor.staff_id.unwrap_or_default(),
        children: b.children.clone(),
        concerns: b.concerns.clone(),
        accepted: accepted.iter().map(|a| (a.0, a.1, a.3)).collect(),
    };
    eprintln!("{backend}: independent ceilings …");
    let found = match backend {
        "sqlite" => ceiling::sqlite(&tmp.join("bench.db"), &seed, s).await,
        _ => ceiling::postgres(b.config.database_url.expose_secret(), &seed, s, &tmp).await,
    };
    // without pgbench (or with a ceiling failing) the HTTP and own-store figures still stand
    let found = found.unwrap_or_else(|e| {
        eprintln!("{backend}: the independent ceilings did not run: {e:#}");
        Vec::new()
    });
    for c in found {
        if let Some(row) = rows.iter_mut().find(|r| r.scenario == c.scenario) {
            row.ceiling = Some(c.stats.clone());
        }
        ceilings.push((backend.to_string(), c));
    }

    b.state.store.close().await;
    if let Some(name) = pg_name {
        let admin = sqlx::PgPool::connect(&args.postgres_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&admin)
            .await?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(rows)
}

/// Figures at national scale: generate, then time every figure for a region's policy staff
/// and for a childcare organisation's.
async fn figures(args: &Args, n: usize) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let mut page_rows = Vec::new();
    for backend in &args.backends {
        let tmp = tempfile_dir()?;
        let (url, pg_name) = match backend.as_str() {
            "sqlite" => (
                format!("sqlite://{}", tmp.join("figures.db").display()),
                None,
            ),
            _ => {
                let name = format!("kb_figures_{}", Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&args.postgres_url).await?;
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                let mut u = url::Url::parse(&args.postgres_url)?;
                u.set_path(&name);
                (u.to_string(), Some(name))
            }
        };
        let config = Config {
            database_url: SecretString::from(url),
            database_max_connections: 8,
            dev_jwt_secret: Some(SecretString::from(
                "bench-secret-bench-secret-bench-secret-00",
            )),
            relay_enabled: false,
            ..Config::default()
        };
        let state = kindbrug::build_state(config).await?;
        eprintln!("{backend}: generating {n} requests …");
        let started = Instant::now();
        let g = kindbrug::scale::generate(state.store.as_ref(), &state.keys, n, 2026).await?;
        let generated_in = started.elapsed();
        // PostgreSQL plans from statistics: refresh them after the bulk load, as autovacuum would
        if backend == "postgres" {
            let pool = sqlx::PgPool::connect(state.config.database_url.expose_secret()).await?;
            sqlx::query("ANALYZE").execute(&pool).await?;
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(state.config.database_url.expose_secret()).await?;
            sqlx::query("ANALYZE").execute(&pool).await?;
            pool.close().await;
        }
        let started = Instant::now();
        let summary_rows = state.store.refresh_figures(now(), true).await?.rows;
        let refreshed_in = started.elapsed();
        // what the background job does: take in the changes since its last round. 1,000
        // requests of the current half-year change status (a busy ten minutes, nationally)
        let current =
            kindbrug::domain::figures::HalfYear::of(kindbrug::domain::calendar::dutch_date(now()))
                .to_string();
        let change = format!(
            "UPDATE consultations SET reroutes = reroutes + 1 WHERE id IN \
             (SELECT id FROM consultations WHERE half_year = '{current}' ORDER BY id DESC LIMIT 1000)"
        );
        if backend == "postgres" {
            let pool = sqlx::PgPool::connect(state.config.database_url.expose_secret()).await?;
            sqlx::query(&change).execute(&pool).await?;
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(state.config.database_url.expose_secret()).await?;
            sqlx::query(&change).execute(&pool).await?;
            pool.close().await;
        }
        let started = Instant::now();
        let incremental = state.store.refresh_figures(now(), false).await?;
        let incremental_in = started.elapsed();
        anyhow::ensure!(
            incremental.half_years == [current.clone()],
            "{incremental:?}"
        );
        let started = Instant::now();
        let idle = state.store.refresh_figures(now(), false).await?;
        let idle_in = started.elapsed();
        anyhow::ensure!(idle.idle(), "{idle}");
        let muni = OrganizationRow {
            id: Uuid::now_v7(),
            name: "Gemeente".into(),
            kind: OrganizationKind::Municipality,
            created_at: now(),
            active: true,
        };
        state.store.create_organization(&muni).await?;
        state
            .store
            .create_staff(&StaffRecord {
                staff: StaffRow {
                    id: Uuid::now_v7(),
                    organization_id: muni.id,
                    subject: "beleid".into(),
                    name: "B".into(),
                    role: StaffRole::Policy,
                    capacity: None,
                    active: true,
                    created_at: now(),
                },
                location_ids: vec![],
                region_codes: vec!["JZ01".into()],
                expertise: vec![],
            })
            .await?;
        let issuer = state.auth.dev_issuer().unwrap();
        let half_years: Vec<String> = kindbrug::domain::figures::HalfYear::range(
            "2021-H2".parse().map_err(|e: String| anyhow::anyhow!(e))?,
            "2026-H2".parse().map_err(|e: String| anyhow::anyhow!(e))?,
            20,
        )
        .map_err(|e| anyhow::anyhow!(e))?
        .iter()
        .map(|h| h.to_string())
        .collect();
        let scopes = [
            FigureScope {
                region_codes: Some(vec!["JZ01".into()]),
                half_years: half_years.clone(),
                ..Default::default()
            },
            FigureScope {
                organization_id: Some(g.childcare_orgs[1]),
                half_years,
                ..Default::default()
            },
        ];
        let tokens = [
            (
                "region JZ01",
                issuer.mint(
                    "kindbrug",
                    "beleid",
                    &["policy".into()],
                    Some(&muni.id.to_string()),
                    Duration::from_secs(3600),
                ),
            ),
            (
                "childcare organisation",
                issuer.mint(
                    "kindbrug",
                    "beleid-org",
                    &["policy".into()],
                    Some(&g.childcare_orgs[1].to_string()),
                    Duration::from_secs(3600),
                ),
            ),
        ];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(kindbrug::serve(
            state.clone(),
            listener,
            std::future::pending(),
        ));
        let http = reqwest::Client::new();
        // the region's policy officer in the browser: the development login, a session cookie
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let policy_cookie = dev_login(&plain, &base, &format!("{}|beleid|policy", muni.id)).await?;
        for ((scope, token), raw_scope) in tokens.iter().zip(&scopes) {
            for figure in [
                "consents",
                "consultations",
                "response-times",
                "outcomes",
                "visits",
            ] {
                let url = format!("{base}/api/v1/stats/{figure}?from=2021-H2&to=2026-H2");
                for _ in 0..3 {
                    http.get(&url)
                        .bearer_auth(token)
                        .send()
                        .await?
                        .bytes()
                        .await?;
                }
                // the raw ceiling: the same summary reads straight from the store, no HTTP,
                // tokens, disclosure control or rendering
                let (counts, with_timings) = figure_reads(figure);
                let started = Instant::now();
                let mut tasks = Vec::new();
                for _ in 0..4 {
                    let (store, s, counts) =
                        (state.store.clone(), raw_scope.clone(), counts.clone());
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..15 {
                            store.figure_counts(&counts, &s).await?;
                            if with_timings {
                                store.figure_timings(&s).await?;
                            }
                        }
                        anyhow::Ok(())
                    }));
                }
                for t in tasks {
                    t.await??;
                }
                let raw_per_second = 60.0 / started.elapsed().as_secs_f64();
                let mut latencies = Vec::new();
                let mut tasks = Vec::new();
                let started = Instant::now();
                for _ in 0..4 {
                    let (http, url, token) = (http.clone(), url.clone(), token.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut l = Vec::new();
                        for _ in 0..15 {
                            let t = Instant::now();
                            let r = http.get(&url).bearer_auth(&token).send().await?;
                            anyhow::ensure!(r.status() == 200, "{}", r.status());
                            r.bytes().await?;
                            l.push(t.elapsed());
                        }
                        anyhow::Ok(l)
                    }));
                }
                for t in tasks {
                    latencies.extend(t.await??);
                }
                let per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
                latencies.sort();
                let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
                // the same figure as the policy officer's page (table and chart rendered on the
                // server), for the region's officer, at the same concurrency
                if raw_scope.region_codes.is_some() {
                    let page_url = format!("{base}/cijfers/{figure}?van=2021-H2&tot=2026-H2");
                    for _ in 0..3 {
                        http.get(&page_url)
                            .header("cookie", &policy_cookie)
                            .send()
                            .await?
                            .bytes()
                            .await?;
                    }
                    let mut page_latencies = Vec::new();
                    let mut tasks = Vec::new();
                    let mut page_bytes = 0;
                    for _ in 0..4 {
                        let (http, url, cookie) =
                            (http.clone(), page_url.clone(), policy_cookie.clone());
                        tasks.push(tokio::spawn(async move {
                            let mut l = Vec::new();
                            let mut size = 0;
                            for _ in 0..15 {
                                let t = Instant::now();
                                let r = http.get(&url).header("cookie", &cookie).send().await?;
                                anyhow::ensure!(r.status() == 200, "page {}", r.status());
                                size = r.bytes().await?.len();
                                l.push(t.elapsed());
                            }
                            anyhow::Ok((l, size))
                        }));
                    }
                    for t in tasks {
                        let (l, size) = t.await??;
                        page_latencies.extend(l);
                        page_bytes = size;
                    }
                    page_latencies.sort();
                    let ppct = |p: f64| {
                        page_latencies[((page_latencies.len() as f64 - 1.0) * p).round() as usize]
                    };
                    page_rows.push(format!(
                        "| {figure} | {backend} | {} | {} | {} | {} | {:.2} | {} |",
                        page_latencies.len(),
                        ms(ppct(0.5)),
                        ms(ppct(0.95)),
                        ms(pct(0.95)),
                        ppct(0.95).as_secs_f64() / pct(0.95).as_secs_f64(),
                        page_bytes / 1024
                    ));
                }
                out.push(format!(
                    "| {figure} | {backend} | {scope} | {} | {} | {} | {} | {per_second:.0} | {raw_per_second:.0} | {:.2} |",
                    latencies.len(),
                    ms(pct(0.5)),
                    ms(pct(0.95)),
                    ms(*latencies.last().unwrap()),
                    per_second / raw_per_second
                ));
            }
        }
        println!(
            "{backend}: {} requests, {} visits, {} consent records generated in {:.0} s; summaries ({summary_rows} rows) built in {:.1} s; \
             after 1,000 changes in {current} brought up to date in {:.2} s ({} rows); a refresh with nothing changed {:.3} s",
            g.consultations,
            g.visits,
            g.consents,
            generated_in.as_secs_f64(),
            refreshed_in.as_secs_f64(),
            incremental_in.as_secs_f64(),
            incremental.rows,
            idle_in.as_secs_f64()
        );
        state.store.close().await;
        if let Some(name) = pg_name {
            let admin = sqlx::PgPool::connect(&args.postgres_url).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&admin)
                .await?;
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    println!();
    println!("| figure | backend | scope | requests | p50 ms | p95 ms | max ms | req/s (c=4) | raw reads/s | ratio |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for line in out {
        println!("{line}");
    }
    println!();
    println!("| figure page | backend | requests | page p50 ms | page p95 ms | JSON p95 ms | p95 page / JSON | page KiB |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for line in page_rows {
        println!("{line}");
    }
    Ok(())
}

/// The summary reads behind each figure endpoint (as `api::figures` makes them): the tables
/// about requests (published together) and the figure's own, in one query.
fn figure_reads(figure: &str) -> (Vec<CountFigure>, bool) {
    use CountFigure as F;
    let mut reads = vec![
        F::ConsentDelay,
        F::Expertise,
        F::Urgency,
        F::Status,
        F::Rerouted,
        F::Unassigned,
        F::Outcomes,
    ];
    match figure {
        "consents" => reads.push(F::Consents),
        "visits" => reads.extend([F::Competences, F::Visits]),
        _ => {}
    }
    (reads, figure == "response-times")
}

/// CPU cost of the consent rules alone (no I/O): one check over a child with two parents and
/// a handful of records, the shape every request with child data evaluates.
fn rule_cost() -> String {
    use kindbrug::domain::consent::{
        consent_in_force, ConsentFact, ConsentStatus, GuardianFact, Target,
    };
    let (a, b, youth) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let guardians = [
        GuardianFact {
            id: a,
            has_parental_authority: true,
        },
        GuardianFact {
            id: b,
            has_parental_authority: true,
        },
    ];
    let mut records: Vec<ConsentFact> = (0..4)
        .map(|i| ConsentFact {
            id: Uuid::now_v7(),
            purpose: Purpose::Consultation,
            recipient: Recipient::Organization(youth),
            region_organizations: Vec::new(),
            decision: Decision::Granted,
            status: if i == 3 {
                ConsentStatus::Active
            } else {
                ConsentStatus::Superseded
            },
            givers: vec![Giver::Guardian(a), Giver::Guardian(b)],
            valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            valid_until: None,
            no_signs_of_disagreement: false,
            child_not_competent: false,
            recorded_at: now(),
        })
        .collect();
    records.rotate_left(1);
    let target = Target {
        organization_id: Some(youth),
        region: None,
    };
    let born = chrono::NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    let n = 200_000u32;
    let at = now();
    let started = Instant::now();
    let mut allowed = 0u32;
    for _ in 0..n {
        allowed += u32::from(
            consent_in_force(
                born,
                &guardians,
                std::hint::black_box(&records),
                Purpose::Consultation,
                &target,
                at,
            )
            .allowed,
        );
    }
    let per = started.elapsed() / n;
    format!("consent rules alone (domain::consent::consent_in_force, 4 records, 2 parents): {:.2} µs per check ({allowed} of {n} allowed)", per.as_secs_f64() * 1e6)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kindbrug-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The soak's mixed operation: of every ten, eight audited child reads and two concerns written.
async fn soak_op(b: &Bench, i: u64) -> anyhow::Result<()> {
    soak_op_at(b, &b.base, i).await
}

/// The soak's operation against the gateway at `base`.
async fn soak_op_at(b: &Bench, base: &str, i: u64) -> anyhow::Result<()> {
    let k = (i as usize * 7919) % b.children.len();
    let child = b.children[k];
    if i % 10 < 8 {
        let r = b
            .http
            .get(format!("{base}/api/v1/children/{child}"))
            .bearer_auth(&b.mentor_token)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "read: status {}", r.status());
        r.bytes().await?;
    } else {
        let r = b
            .http
            .post(format!("{base}/api/v1/children/{child}/concerns"))
            .bearer_auth(&b.mentor_token)
            .json(&serde_json::json!({"domains": ["motor"], "observation": "valt vaak bij het rennen", "observed_since": "2026-09-01"}))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "write: status {}", r.status());
        r.bytes().await?;
    }
    Ok(())
}

/// `--soak MINUTES`: measures the peak of the mixed load (`soak_op`: 8 reads to 2 writes),
/// then holds 70 % of it at a fixed arrival rate for the given time, and reports per interval
/// the rate reached, p50/p99, errors and the resident memory of the process (gateway and load
/// generator together: they share it).
async fn soak(args: &Args, minutes: u64) -> anyhow::Result<()> {
    for backend in &args.backends {
        eprintln!("soak on {backend} …");
        let tmp = tempfile_dir()?;
        let (mut b, _pg) = setup(backend, args, &tmp).await?;
        // with --gateway-process the load goes to a `kindbrug serve` of its own, whose memory
        // is then the gateway's alone
        let gateway = if args.gateway_process {
            let g = Gateway::start(b.config.database_url.expose_secret(), args.concurrency).await?;
            b.base = g.base.clone();
            Some(g)
        } else {
            None
        };
        let measured_pid = gateway.as_ref().map_or(std::process::id(), |g| g.pid);
        let b = Arc::new(b);
        let bb = b.clone();
        let peak = load(args.concurrency, args.seconds, move |i| {
            let b = bb.clone();
            async move { soak_op(&b, i).await }
        })
        .await;
        let rate = peak.per_second() * 0.7;
        println!(
            "\n{backend}: peak {:.0} req/s (p99 {} ms, {} errors); holding {:.0} req/s for {minutes} min",
            peak.per_second(),
            ms(peak.p99),
            peak.errors,
            rate
        );
        let interval = Duration::from_secs((minutes * 60 / 12).max(10));
        let start = Instant::now() + Duration::from_millis(200);
        let end = start + Duration::from_secs(minutes * 60);
        let next = Arc::new(AtomicU64::new(0));
        // (interval index, latency, ok)
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Duration, bool)>();
        let mut tasks = Vec::new();
        // enough workers that a slow answer does not lower the arrival rate
        for _ in 0..(args.concurrency * 4) {
            let (b, next, tx) = (b.clone(), next.clone(), tx.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let due = start + Duration::from_secs_f64(i as f64 / rate);
                    if due >= end {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let ok = soak_op(&b, i).await.is_ok();
                    // latency from when it was due: a queue behind counts against us
                    let slot = (due.saturating_duration_since(start).as_secs_f64()
                        / interval.as_secs_f64()) as usize;
                    let _ = tx.send((slot, due.elapsed(), ok));
                }
            }));
        }
        drop(tx);
        let rss_at_start = rss_mb(measured_pid)?;
        let mut rss = Vec::new();
        let sampler = {
            let (interval, end) = (interval, end);
            tokio::spawn(async move {
                let mut out = Vec::new();
                let mut at = start + interval;
                while at <= end + Duration::from_millis(500) {
                    tokio::time::sleep_until(at.into()).await;
                    out.push(rss_mb(measured_pid).unwrap_or(0.0));
                    at += interval;
                }
                out
            })
        };
        let mut slots: Vec<(Vec<Duration>, u64)> = Vec::new();
        while let Some((slot, latency, ok)) = rx.recv().await {
            if slots.len() <= slot {
                slots.resize_with(slot + 1, || (Vec::new(), 0));
            }
            if ok {
                slots[slot].0.push(latency);
            } else {
                slots[slot].1 += 1;
            }
        }
        for t in tasks {
            t.await?;
        }
        rss.extend(sampler.await?);
        println!(
            "RSS of {}",
            if gateway.is_some() {
                "the gateway process alone"
            } else {
                "gateway and load generator together (one process)"
            }
        );
        println!("| minute | req/s | p50 ms | p99 ms | errors | RSS MB |");
        println!("|---:|---:|---:|---:|---:|---:|");
        println!("| 0 | – | – | – | – | {rss_at_start:.1} |");
        for (k, (lat, errors)) in slots.iter_mut().enumerate() {
            lat.sort();
            let pct = |p: f64| {
                lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or_default()
            };
            println!(
                "| {:.0} | {:.0} | {} | {} | {} | {} |",
                ((k + 1) as f64 * interval.as_secs_f64() / 60.0),
                lat.len() as f64 / interval.as_secs_f64(),
                ms(pct(0.5)),
                ms(pct(0.99)),
                errors,
                rss.get(k)
                    .map(|r| format!("{r:.1}"))
                    .unwrap_or_else(|| "–".into())
            );
        }
        let last = rss.last().copied().unwrap_or(rss_at_start);
        let first = rss.first().copied().unwrap_or(rss_at_start);
        println!(
            "RSS {rss_at_start:.1} MB at the start of the hold, {first:.1} MB after the first interval, {last:.1} MB at the end: {:+.1} % from the first interval; errors {}",
            (last - first) / first.max(f64::MIN_POSITIVE) * 100.0,
            slots.iter().map(|s| s.1).sum::<u64>()
        );
    }
    Ok(())
}

/// A `kindbrug serve` process (the binary next to this one) on a database the benchmark set
/// up, taking the benchmark's tokens; killed when dropped.
struct Gateway {
    base: String,
    pid: u32,
    _process: tokio::process::Child,
}

impl Gateway {
    async fn start(db_url: &str, connections: usize) -> anyhow::Result<Gateway> {
        let exe = std::env::current_exe()?.with_file_name("kindbrug");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let mut process = tokio::process::Command::new(&exe)
            .arg("serve")
            .env_remove("KINDBRUG_CONFIG")
            .env("KINDBRUG_CONFIG", "/nonexistent/kindbrug.toml")
            .env("KINDBRUG_DATABASE_URL", db_url)
            .env("KINDBRUG_DATABASE_MAX_CONNECTIONS", connections.to_string())
            .env("KINDBRUG_LISTEN", format!("127.0.0.1:{port}"))
            .env("KINDBRUG_DEV_JWT_SECRET", BENCH_SECRET)
            .env("KINDBRUG_DEMO_ON_EMPTY", "false")
            .env("KINDBRUG_MIGRATE_ON_START", "false")
            .env("KINDBRUG_RELAY_ENABLED", "false")
            .env("KINDBRUG_WRITES_PER_MINUTE_PER_TOKEN", "1000000000")
            .env("KINDBRUG_SHUTDOWN_GRACE_SECONDS", "0")
            .env("KINDBRUG_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {}", exe.display()))?;
        let pid = process.id().context("no pid")?;
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(Gateway {
                    base,
                    pid,
                    _process: process,
                });
            }
            if let Some(exit) = process.try_wait()? {
                anyhow::bail!("kindbrug serve stopped at start: {exit}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("kindbrug serve at {base} did not become ready")
    }
}

/// `--replicas`: 1, 2 and 3 `kindbrug serve` processes on one PostgreSQL, the same load spread
/// over them round-robin (the child read, and the mixed 8:2 load of the soak). On one machine
/// they share its cores with the database and the load generator: this shows what adding a
/// replica costs or gains there, not what separate machines would give.
async fn replicas(args: &Args) -> anyhow::Result<()> {
    let tmp = tempfile_dir()?;
    let (b, pg) = setup("postgres", args, &tmp).await?;
    let url = b.config.database_url.expose_secret().to_string();
    // each replica gets its share of the connections the single one has
    let mut gateways = Vec::new();
    for _ in 0..3 {
        gateways.push(Gateway::start(&url, args.concurrency.div_ceil(2)).await?);
    }
    let b = Arc::new(b);
    println!("\n| replicas | scenario | req/s | p50 ms | p99 ms | errors |");
    println!("|---:|---|---:|---:|---:|---:|");
    for n in 1..=3usize {
        let bases: Arc<Vec<String>> =
            Arc::new(gateways[..n].iter().map(|g| g.base.clone()).collect());
        let (bb, bs) = (b.clone(), bases.clone());
        let read = load(args.concurrency, args.seconds, move |i| {
            let (b, bases) = (bb.clone(), bs.clone());
            async move {
                let child = b.children[(i as usize * 7919) % b.children.len()];
                let base = &bases[i as usize % bases.len()];
                let r = b
                    .http
                    .get(format!("{base}/api/v1/children/{child}"))
                    .bearer_auth(&b.mentor_token)
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "read: status {}", r.status());
                r.bytes().await?;
                Ok(())
            }
        })
        .await;
        let (bb, bs) = (b.clone(), bases.clone());
        let mixed = load(args.concurrency, args.seconds, move |i| {
            let (b, bases) = (bb.clone(), bs.clone());
            async move { soak_op_at(&b, &bases[i as usize % bases.len()], i).await }
        })
        .await;
        for (name, st) in [("read child", &read), ("mixed 8 reads : 2 writes", &mixed)] {
            println!(
                "| {n} | {name} | {:.0} | {} | {} | {} |",
                st.per_second(),
                ms(st.p50),
                ms(st.p99),
                st.errors
            );
        }
    }
    drop(gateways);
    if let Some(name) = pg {
        let admin = sqlx::PgPool::connect(&args.postgres_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&admin)
            .await?;
    }
    Ok(())
}

/// Resident memory of a process, in MB (Linux).
fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("no VmRSS")?
        .parse()?;
    Ok(kb / 1024.0)
}

/// Starts the `kindbrug` binary next to this one (`serve`, SQLite, no demo) and measures its
/// memory idle, with `n` silent connections, with `n` kept-alive connections that made one
/// request each, and after they all closed.
async fn connections(n: usize) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exe = std::env::current_exe()?.with_file_name("kindbrug");
    let dir = std::env::temp_dir().join(format!("kindbrug-conn-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(&exe)
        .arg("serve")
        .env(
            "KINDBRUG_DATABASE_URL",
            format!("sqlite://{}/kb.db", dir.display()),
        )
        .env("KINDBRUG_LISTEN", &addr)
        .env("KINDBRUG_DEMO_ON_EMPTY", "false")
        .env("KINDBRUG_HTTP_MAX_CONNECTIONS", (n + 16).to_string())
        .env("KINDBRUG_HTTP_HEADER_READ_TIMEOUT_SECONDS", "600")
        .env("KINDBRUG_HTTP_IDLE_TIMEOUT_SECONDS", "600")
        .env_remove("KINDBRUG_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("could not start {}", exe.display()))?;
    let pid = child.id().context("no pid")?;
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settle = || tokio::time::sleep(Duration::from_secs(2));
    // a few requests first, so the idle figure includes what serving allocates once
    for _ in 0..50 {
        client.get(format!("http://{addr}/healthz")).send().await?;
    }
    settle().await;
    let idle = rss_mb(pid)?;
    let mut silent = Vec::with_capacity(n);
    for _ in 0..n {
        silent.push(tokio::net::TcpStream::connect(&addr).await?);
    }
    settle().await;
    let with_silent = rss_mb(pid)?;
    drop(silent);
    settle().await;
    let after_silent = rss_mb(pid)?;
    let mut alive = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(&addr).await?;
        s.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
            .await?;
        alive.push(s);
    }
    let mut buf = vec![0u8; 1 << 16];
    for s in &mut alive {
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    }
    settle().await;
    let with_alive = rss_mb(pid)?;
    drop(alive);
    settle().await;
    let after = rss_mb(pid)?;
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!("| kindbrug serve (SQLite) | RSS MB |");
    println!("|---|---:|");
    println!("| idle | {idle:.1} |");
    println!("| {n} silent connections open | {with_silent:.1} |");
    println!("| after they closed | {after_silent:.1} |");
    println!(
        "| {n} kept-alive connections, one request each (GET /openapi.json) | {with_alive:.1} |"
    );
    println!("| after they closed | {after:.1} |");
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "kindbrug-bench: concurrency {}, {} s per run after 1 s warm-up, {} seeded children, {} cores, {}",
        args.concurrency, args.seconds, args.children, cores,
        if cfg!(debug_assertions) { "DEBUG build (use --release)" } else { "release build" }
    );
    if let Some(n) = args.figures {
        return figures(&args, n).await;
    }
    if let Some(n) = args.connections {
        return connections(n).await;
    }
    if args.pages {
        return pages(&args).await;
    }
    if args.fhir {
        return fhir(&args, cores).await;
    }
    if let Some(minutes) = args.soak {
        return soak(&args, minutes).await;
    }
    if args.replicas {
        return replicas(&args).await;
    }
    println!("{}", rule_cost());
    let mut rows = Vec::new();
    let mut relays = Vec::new();
    let mut timeline_sizes = Vec::new();
    let mut ceilings = Vec::new();
    for backend in &args.backends {
        eprintln!("running {backend} …");
        rows.extend(
            run_backend(
                backend,
                &args,
                &mut relays,
                &mut timeline_sizes,
                &mut ceilings,
            )
            .await?,
        );
    }
    println!();
    println!("| scenario | backend | HTTP req/s | HTTP p50 ms | HTTP p99 ms | own store ops/s | own p99 ms | HTTP / own | ceiling ops/s | ceiling p99 ms | HTTP / ceiling | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let (c_rate, c_p99, c_ratio, c_errors) = match &r.ceiling {
            Some(c) => (
                format!("{:.0}", c.per_second()),
                ms(c.p99),
                format!(
                    "{:.2}",
                    r.http.per_second() / c.per_second().max(f64::MIN_POSITIVE)
                ),
                c.errors,
            ),
            None => ("–".into(), "–".into(), "–".into(), 0),
        };
        println!(
            "| {} | {} | {:.0} | {} | {} | {:.0} | {} | {:.2} | {c_rate} | {c_p99} | {c_ratio} | {} |",
            r.scenario,
            r.backend,
            r.http.per_second(),
            ms(r.http.p50),
            ms(r.http.p99),
            r.raw.per_second(),
            ms(r.raw.p99),
            r.http.per_second() / r.raw.per_second().max(f64::MIN_POSITIVE),
            r.http.errors + r.raw.errors + c_errors
        );
    }
    println!();
    println!("Independent ceilings (PostgreSQL: pgbench -M prepared, 16 clients unless said; SQLite: one raw connection, prepared statements):");
    println!();
    println!("| ceiling | backend | what it does | ops/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for (backend, c) in &ceilings {
        println!(
            "| {} | {backend} | {} | {:.0} | {} | {} | {} |",
            c.scenario,
            c.what,
            c.stats.per_second(),
            ms(c.stats.p50),
            ms(c.stats.p99),
            c.stats.errors
        );
    }
    println!();
    println!("| relay | deliveries queued | delivered | seconds | deliveries/s | left |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &relays {
        println!("{r}");
    }
    println!();
    for t in &timeline_sizes {
        println!("{t}");
    }
    Ok(())
}

// ---------------------------------------------------------------- pages

/// A browser's session on the bench server: the cookie after the development login (staff) or
/// after opening a parent link.
async fn session_cookie(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let r = http.get(url).header("accept", "text/html").send().await?;
    cookie_of(&r)
}

/// Logs in with the development login form as `login` (`org|subject|role`): the session cookie.
async fn dev_login(plain: &reqwest::Client, base: &str, login: &str) -> anyhow::Result<String> {
    let login_page = plain.get(format!("{base}/inloggen")).send().await?;
    let cookie = cookie_of(&login_page)?;
    let body = login_page.text().await?;
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("csrf")?
        .to_string();
    let logged_in = plain
        .post(format!("{base}/inloggen/ontwikkeling"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("login", login)])
        .send()
        .await?;
    cookie_of(&logged_in)
}

/// The session cookie an answer sets (`name=value`).
fn cookie_of(r: &reqwest::Response) -> anyhow::Result<String> {
    Ok(r.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_string())
}

/// `--pages`: the mentor's child page and the parent's overview, rendered on the server, beside
/// the JSON requests that read the same data (child, guardians, consents, timeline; the parent
/// page, its consents and the access log). Same process, same seeded data, one run.
async fn pages(args: &Args) -> anyhow::Result<()> {
    let (c, s) = (args.concurrency, args.seconds);
    let mut out = Vec::new();
    for backend in &args.backends {
        eprintln!("running pages on {backend} …");
        let tmp = tempfile_dir()?;
        let (b, _pg) = setup(backend, args, &tmp).await?;
        let b = Arc::new(b);
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // the mentor logs in with the development login
        let staff_cookie = dev_login(
            &plain,
            &b.base,
            &format!("{}|{}|mentor", b.org, b.mentor_sub),
        )
        .await?;
        let staff_cookie = Arc::new(staff_cookie);

        let (bb, ck) = (b.clone(), staff_cookie.clone());
        let page = load(c, s, move |i| {
            let (b, ck) = (bb.clone(), ck.clone());
            async move {
                let id = b.children[(i as usize * 7919) % b.children.len()];
                let r = b
                    .http
                    .get(format!("{}/kinderen/{id}", b.base))
                    .header("cookie", ck.as_str())
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "status {}", r.status());
                r.bytes().await?;
                Ok(())
            }
        })
        .await;
        let bb = b.clone();
        let json = load(c, s, move |i| {
            let b = bb.clone();
            async move {
                let id = b.children[(i as usize * 7919) % b.children.len()];
                for path in ["", "/guardians", "/consents", "/timeline"] {
                    let r = b
                        .http
                        .get(format!("{}/api/v1/children/{id}{path}", b.base))
                        .bearer_auth(&b.mentor_token)
                        .send()
                        .await?;
                    anyhow::ensure!(r.status() == 200, "{path}: status {}", r.status());
                    r.bytes().await?;
                }
                Ok(())
            }
        })
        .await;
        out.push(("child page", backend.clone(), page, json));

        // a parent who decided: their overview
        let child = b.children[0];
        let invitation: serde_json::Value = b
            .http
            .post(format!("{}/api/v1/children/{child}/consent-invitations", b.base))
            .bearer_auth(&b.mentor_token)
            .json(&json!({"guardian_id": b.guardians[0].0, "purpose": "referral", "recipient": {"organization_id": b.youth}, "information_version": "2026-1"}))
            .send()
            .await?
            .json()
            .await?;
        let url = invitation["url"].as_str().context("invitation url")?;
        let token = url.rsplit('/').next().context("token")?.to_string();
        let link = format!("{}/api/v1/parent/{token}", b.base);
        let decided = b
            .http
            .post(format!("{link}/decision"))
            .json(&json!({"decision": "granted"}))
            .send()
            .await?;
        anyhow::ensure!(decided.status() == 201, "decision: {}", decided.status());
        let parent_cookie =
            Arc::new(session_cookie(&plain, &format!("{}/ouder/link/{token}", b.base)).await?);
        let (bb, ck) = (b.clone(), parent_cookie.clone());
        let page = load(c, s, move |_| {
            let (b, ck) = (bb.clone(), ck.clone());
            async move {
                let r = b
                    .http
                    .get(format!("{}/ouder", b.base))
                    .header("cookie", ck.as_str())
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "status {}", r.status());
                r.bytes().await?;
                Ok(())
            }
        })
        .await;
        let (bb, link) = (b.clone(), Arc::new(link));
        let json = load(c, s, move |_| {
            let (b, link) = (bb.clone(), link.clone());
            async move {
                for path in ["", "/consents", "/access-log"] {
                    let r = b
                        .http
                        .get(format!("{link}{path}"))
                        .header("accept", "application/json")
                        .send()
                        .await?;
                    anyhow::ensure!(r.status() == 200, "{path}: status {}", r.status());
                    r.bytes().await?;
                }
                Ok(())
            }
        })
        .await;
        out.push(("parent overview", backend.clone(), page, json));
        b.state.store.close().await;
    }
    println!();
    println!("| page | backend | page req/s | page p50 ms | page p99 ms | JSON (same data) sets/s | JSON p50 ms | JSON p99 ms | ratio | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, backend, page, json) in &out {
        println!(
            "| {name} | {backend} | {:.0} | {} | {} | {:.0} | {} | {} | {:.2} | {} |",
            page.per_second(),
            ms(page.p50),
            ms(page.p99),
            json.per_second(),
            ms(json.p50),
            ms(json.p99),
            page.per_second() / json.per_second().max(f64::MIN_POSITIVE),
            page.errors + json.errors
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- FHIR

/// One GET with a bearer token that must answer 200.
async fn get_ok(b: &Bench, url: String, accept: &str) -> anyhow::Result<()> {
    let r = b
        .http
        .get(url)
        .bearer_auth(&b.mentor_token)
        .header("accept", accept)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "status {}", r.status());
    r.bytes().await?;
    Ok(())
}

/// A request accepted by its specialist: (request, child, the specialist's token, staff id,
/// subject, organisation).
type Accepted = (Uuid, Uuid, String, Uuid, String, Uuid);

/// What the mixed CRUD run needs of a FHIR server (Kindbrug's facade, or the Medplum floor):
/// ids as that server gave them, and tokens where it asks for them.
struct MixTarget {
    /// Up to and including `/fhir/r4`.
    base: String,
    http: reqwest::Client,
    mentor_token: Option<String>,
    patients: Vec<String>,
    /// The two parents of each patient, by index.
    guardians: Vec<(String, String)>,
    youth: String,
    /// Accepted requests: (Task, ServiceRequest, Patient, the specialist's token).
    accepted: Vec<(String, String, String, Option<String>)>,
    /// Offered Tasks with their specialist's token; each update accepts the next one.
    offers: Vec<(String, Option<String>)>,
    next_offer: std::sync::atomic::AtomicUsize,
}

const FHIR_JSON: &str = "application/fhir+json";

fn authed(r: reqwest::RequestBuilder, token: Option<&String>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => r.bearer_auth(t),
        None => r,
    }
}

async fn mix_get(t: &MixTarget, url: String) -> anyhow::Result<()> {
    let r = authed(t.http.get(url), t.mentor_token.as_ref())
        .header("accept", FHIR_JSON)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "status {}", r.status());
    r.bytes().await?;
    Ok(())
}

async fn mix_post(
    t: &MixTarget,
    path: &str,
    token: Option<&String>,
    body: serde_json::Value,
) -> anyhow::Result<()> {
    let r = authed(t.http.post(format!("{}/{path}", t.base)), token)
        .header("content-type", FHIR_JSON)
        .header("accept", FHIR_JSON)
        .body(body.to_string())
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "{path}: status {}", r.status());
    r.bytes().await?;
    Ok(())
}

/// The mixed CRUD load: of every ten operations four Patient reads, a Patient search, a Task
/// search with its focus included, a Task read, a Task update (read, then PUT accepted with
/// If-Match), a Consent create and an Encounter create.
async fn mixed_crud(t: Arc<MixTarget>, c: usize, s: u64) -> Stats {
    load(c, s, move |i| {
        let t = t.clone();
        async move {
            let k = (i as usize * 7919) % t.patients.len();
            let id = &t.patients[k];
            let (task, request, patient, token) = &t.accepted[i as usize % t.accepted.len()];
            match i % 10 {
                0..=3 => mix_get(&t, format!("{}/Patient/{id}", t.base)).await,
                4 => mix_get(&t, format!("{}/Patient?_count=20", t.base)).await,
                5 => mix_get(&t, format!("{}/Task?patient={patient}&_include=Task:focus", t.base)).await,
                6 => mix_get(&t, format!("{}/Task/{task}", t.base)).await,
                7 => {
                    let n = t.next_offer.fetch_add(1, Ordering::Relaxed);
                    let (offer, token) = t.offers.get(n).context("the pool of offers ran out")?;
                    let url = format!("{}/Task/{offer}", t.base);
                    let r = authed(t.http.get(&url), token.as_ref()).header("accept", FHIR_JSON).send().await?;
                    anyhow::ensure!(r.status() == 200, "Task read: {}", r.status());
                    let etag = r.headers().get("etag").context("etag")?.clone();
                    let mut body: serde_json::Value = r.json().await?;
                    body["status"] = "accepted".into();
                    let r = authed(t.http.put(&url), token.as_ref())
                        .header("if-match", etag)
                        .header("content-type", FHIR_JSON)
                        .body(body.to_string())
                        .send()
                        .await?;
                    anyhow::ensure!(r.status() == 200, "Task PUT: {}", r.status());
                    r.bytes().await?;
                    Ok(())
                }
                8 => {
                    let (eva, tom) = &t.guardians[k];
                    mix_post(&t, "Consent", t.mentor_token.as_ref(), json!({
                        "resourceType": "Consent",
                        "extension": [
                            {"url": "https://kindbrug.nl/fhir/StructureDefinition/consent-method", "valueCode": "written"},
                            {"url": "https://kindbrug.nl/fhir/StructureDefinition/information-version", "valueString": "2026-1"}
                        ],
                        "status": "active",
                        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                        "patient": {"reference": format!("Patient/{id}")},
                        "performer": [{"reference": format!("RelatedPerson/{eva}")}, {"reference": format!("RelatedPerson/{tom}")}],
                        "sourceAttachment": {"title": "formulier"},
                        // R4 asks a policy or a rule of every Consent (ppc-1)
                        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
                        "provision": {"type": "permit", "period": {"start": "2026-11-01"},
                            "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                                       "reference": {"reference": format!("Organization/{}", t.youth)}}],
                            "purpose": [{"system": "urn:kindbrug:consent-purpose", "code": "information_sharing"}]}
                    }))
                    .await
                }
                _ => {
                    mix_post(&t, "Encounter", token.as_ref(), json!({
                        "resourceType": "Encounter", "status": "finished",
                        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "FLD"},
                        "type": [{"coding": [{"system": "https://kindbrug.nl/fhir/CodeSystem/visit-kind", "code": "staff_coaching"}]}],
                        "subject": {"reference": format!("Patient/{patient}")},
                        "basedOn": [{"reference": format!("ServiceRequest/{request}")}],
                        "participant": [{"type": [{"coding": [{"system": "https://kindbrug.nl/fhir/CodeSystem/visit-participant", "code": "mentor"}]}]}],
                        "period": {"start": "2026-11-20"},
                        "length": {"value": 60, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"}
                    }))
                    .await
                }
            }
        }
    })
    .await
}

/// Starts `tests/fhir/medplum-floor.mjs` (installing its pinned npm packages if missing) and
/// seeds it with as many patients, accepted requests and offers as Kindbrug's run had.
async fn medplum_floor(
    args: &Args,
    offers: usize,
) -> anyhow::Result<(MixTarget, tokio::process::Child)> {
    use tokio::io::AsyncBufReadExt;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fhir");
    if !dir.join("node_modules/@medplum/fhir-router").exists() {
        let ok = tokio::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .await
            .context("npm")?;
        anyhow::ensure!(ok.success(), "npm ci in tests/fhir failed");
    }
    let mut server = tokio::process::Command::new("node")
        .args(["--experimental-websocket", "medplum-floor.mjs"])
        .env("PORT", "0")
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("node")?;
    let stdout = server.stdout.take().context("stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(p) = line.strip_prefix("listening ") {
                return Ok(p.trim().to_string());
            }
        }
        anyhow::bail!("the floor ended before listening")
    })
    .await
    .context("the floor did not start in 2 minutes")??;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let seeded: serde_json::Value = http
        .post(format!("{base}/seed"))
        .json(&json!({"children": args.children, "accepted": 20, "offers": offers}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let patients = strings(&seeded["patients"]);
    let guardians = seeded["relatedPersons"]
        .as_array()
        .context("relatedPersons")?
        .iter()
        .map(|p| {
            let p = strings(p);
            (p[0].clone(), p[1].clone())
        })
        .collect();
    let accepted = seeded["accepted"]
        .as_array()
        .context("accepted")?
        .iter()
        .map(|a| {
            let f = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (f("task"), f("serviceRequest"), f("patient"), None)
        })
        .collect();
    let target = MixTarget {
        base: format!("{base}/fhir/r4"),
        http,
        mentor_token: None,
        patients,
        guardians,
        youth: seeded["youth"].as_str().unwrap_or_default().to_string(),
        accepted,
        offers: strings(&seeded["offers"])
            .into_iter()
            .map(|o| (o, None))
            .collect(),
        next_offer: Default::default(),
    };
    Ok((target, server))
}

/// A specialist's development token.
fn specialist_token(b: &Bench, subject: &str, org: Uuid) -> String {
    b.state.auth.dev_issuer().unwrap().mint(
        "kindbrug",
        subject,
        &["specialist".into()],
        Some(&org.to_string()),
        Duration::from_secs(3600),
    )
}

/// Submits a request for the `k`-th child (through HTTP, as the mentor): its id and the
/// specialist it was offered to.
async fn submit_for_child(b: &Bench, k: usize) -> anyhow::Result<(Uuid, Option<Uuid>)> {
    let k = k % b.children.len();
    let body = json!({"child_id": b.children[k], "concern_id": b.concerns[k], "question": "Wat helpt?", "expertise": "language", "urgency": "normal"});
    let r: serde_json::Value = b
        .http
        .post(format!("{}/api/v1/consultations", b.base))
        .bearer_auth(&b.mentor_token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let id: Uuid = r["id"].as_str().context("id")?.parse()?;
    let to = r["offered_to"]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok());
    Ok((id, to))
}

/// Requests of the first `n` children, each accepted by the specialist it was offered to.
async fn accepted_requests(b: &Bench, n: usize) -> anyhow::Result<Vec<Accepted>> {
    let mut accepted = Vec::new();
    for k in 0..n.min(b.children.len()) {
        let (id, Some(to)) = submit_for_child(b, k).await? else {
            continue;
        };
        let staff = b.state.store.get_staff(to).await?.context("specialist")?;
        let token = specialist_token(b, &staff.staff.subject, staff.staff.organization_id);
        let ok = b
            .http
            .post(format!("{}/api/v1/consultations/{id}/accept", b.base))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(ok.status() == 200, "accept: {}", ok.status());
        accepted.push((
            id,
            b.children[k],
            token,
            staff.staff.id,
            staff.staff.subject.clone(),
            staff.staff.organization_id,
        ));
    }
    Ok(accepted)
}

/// The FHIR facade beside the JSON API for the same operations, and a mixed CRUD run
/// reported per vCPU, beside published FHIR server figures and the same mix on
/// `@medplum/fhir-router`'s in-memory repository (a floor: no tokens, no log, no database).
async fn fhir(args: &Args, cores: usize) -> anyhow::Result<()> {
    const FHIR: &str = FHIR_JSON;
    const JSON: &str = "application/json";
    let (c, s) = (args.concurrency, args.seconds);
    let mut pairs = Vec::new();
    let mut mixed = Vec::new();
    let mut offers_made = 600;
    for backend in &args.backends {
        eprintln!("running FHIR on {backend} …");
        let tmp = tempfile_dir()?;
        let (b, _pg) = setup(backend, args, &tmp).await?;
        let b = Arc::new(b);
        type Url = fn(&Bench, Uuid) -> String;
        let scenarios: [(&str, Url, Url); 3] = [
            (
                "read a child",
                |b, id| format!("{}/fhir/r4/Patient/{id}", b.base),
                |b, id| format!("{}/api/v1/children/{id}", b.base),
            ),
            (
                "search children (page of 20)",
                |b, _| format!("{}/fhir/r4/Patient?_count=20", b.base),
                |b, _| format!("{}/api/v1/children?limit=20", b.base),
            ),
            (
                "a child's consents",
                |b, id| format!("{}/fhir/r4/Consent?patient=Patient/{id}", b.base),
                |b, id| format!("{}/api/v1/children/{id}/consents", b.base),
            ),
        ];
        for (name, fhir_url, json_url) in scenarios {
            let bb = b.clone();
            let f = load(c, s, move |i| {
                let b = bb.clone();
                async move {
                    let id = b.children[(i as usize * 7919) % b.children.len()];
                    get_ok(&b, fhir_url(&b, id), FHIR).await
                }
            })
            .await;
            let bb = b.clone();
            let j = load(c, s, move |i| {
                let b = bb.clone();
                async move {
                    let id = b.children[(i as usize * 7919) % b.children.len()];
                    get_ok(&b, json_url(&b, id), JSON).await
                }
            })
            .await;
            pairs.push((name, backend.clone(), f, j));
        }
        // mixed CRUD: requests accepted by their specialists (visits are logged on them) and a
        // pool of requests offered to specialists (each Task update accepts one)
        let accepted = Arc::new(accepted_requests(&b, 20).await?);
        let mut tokens: std::collections::HashMap<Uuid, String> = std::collections::HashMap::new();
        let mut offered = Vec::new();
        for k in 0..(s as usize * 120).clamp(600, 6000) {
            let (id, Some(to)) = submit_for_child(&b, k).await? else {
                continue;
            };
            let token = match tokens.get(&to) {
                Some(t) => t.clone(),
                None => {
                    let staff = b.state.store.get_staff(to).await?.context("specialist")?;
                    let t = specialist_token(&b, &staff.staff.subject, staff.staff.organization_id);
                    tokens.insert(to, t.clone());
                    t
                }
            };
            offered.push((id, token));
        }
        let target = MixTarget {
            base: format!("{}/fhir/r4", b.base),
            http: b.http.clone(),
            mentor_token: Some(b.mentor_token.clone()),
            patients: b.children.iter().map(Uuid::to_string).collect(),
            guardians: b
                .guardians
                .iter()
                .map(|(a, g)| (a.to_string(), g.to_string()))
                .collect(),
            youth: b.youth.to_string(),
            // in Kindbrug the Task and the ServiceRequest of a request share its id
            accepted: accepted
                .iter()
                .map(|(request, child, token, ..)| {
                    (
                        request.to_string(),
                        request.to_string(),
                        child.to_string(),
                        Some(token.clone()),
                    )
                })
                .collect(),
            offers: offered
                .into_iter()
                .map(|(id, token)| (id.to_string(), Some(token)))
                .collect(),
            next_offer: Default::default(),
        };
        offers_made = target.offers.len();
        let m = mixed_crud(Arc::new(target), c, s).await;
        mixed.push((backend.clone(), m));
        b.state.store.close().await;
    }
    // the floor: the same mix against @medplum/fhir-router's in-memory repository (Node, one
    // process, no tokens, no access log, no database), seeded with as many resources
    eprintln!("running the same mix on @medplum/fhir-router (in memory) …");
    match medplum_floor(args, offers_made).await {
        Ok((target, mut server)) => {
            let m = mixed_crud(Arc::new(target), c, s).await;
            mixed.push(("@medplum/fhir-router, in memory (floor)".into(), m));
            let _ = server.kill().await;
        }
        Err(e) => eprintln!("the Medplum floor did not run: {e:#}"),
    }
    println!();
    println!("| operation | backend | FHIR req/s | FHIR p50 ms | FHIR p99 ms | JSON req/s | JSON p50 ms | JSON p99 ms | FHIR / JSON | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, backend, f, j) in &pairs {
        println!(
            "| {name} | {backend} | {:.0} | {} | {} | {:.0} | {} | {} | {:.2} | {} |",
            f.per_second(),
            ms(f.p50),
            ms(f.p99),
            j.per_second(),
            ms(j.p50),
            ms(j.p99),
            f.per_second() / j.per_second().max(f64::MIN_POSITIVE),
            f.errors + j.errors
        );
    }
    println!();
    println!("| mixed CRUD in 10: 4 Patient reads, 1 Patient search, 1 Task search with _include, 1 Task read, 1 Task update (read + PUT accept), 1 Consent create, 1 Encounter create | operations/s | operations/s per vCPU ({cores} vCPU, load generator included) | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (backend, m) in &mixed {
        println!(
            "| {backend} | {:.0} | {:.0} | {} | {} | {} |",
            m.per_second(),
            m.per_second() / cores as f64,
            ms(m.p50),
            ms(m.p99),
            m.errors
        );
    }
    Ok(())
}
