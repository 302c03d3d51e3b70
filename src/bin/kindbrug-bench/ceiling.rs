//! Independent ceilings: the least database work each scenario needs, done by a client that
//! is not Kindbrug's store. PostgreSQL: pgbench with a script of the statements (prepared,
//! 16 clients on 2 threads, as the HTTP load). SQLite: one rusqlite connection with the
//! statements prepared once and cached, in a loop on one thread (SQLite takes one writer at a
//! time; more connections only wait on its lock).
//!
//! The statements are those the operation cannot do without: read what it decides on, write
//! the change and its one access-log row, in one commit. They skip what Kindbrug adds on top
//! (the principal's lookup, the hash chain's head, the JSON): the gap between this column and
//! the own-store column is the price of those.
//!
//! Runs at the end of a backend's run, on its seeded database, which is dropped afterwards:
//! the rows written here go into the real tables (the access-log rows at positions far past
//! the chain, which nothing reads again).

use super::Stats;
use anyhow::Context as _;
use sqlx::{Connection as _, Executor as _};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What the ceilings need of the seeded database.
#[derive(Clone)]
pub struct Seed {
    pub org: Uuid,
    pub location: Uuid,
    pub youth: Uuid,
    pub mentor_staff: Uuid,
    pub children: Vec<Uuid>,
    pub concerns: Vec<Uuid>,
    /// Accepted requests: (request, child, specialist).
    pub accepted: Vec<(Uuid, Uuid, Uuid)>,
}

/// One ceiling: the scenario it stands beside (or a line of its own), what it does, the figure.
pub struct Ceiling {
    pub scenario: &'static str,
    pub what: &'static str,
    pub stats: Stats,
}

/// An access-log row's hash fields: as long as the real ones (SHA-256 hex).
const HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Access-log positions of the ceilings: far past the chain, so nothing collides.
const FIRST_SEQ: i64 = 1_000_000_000_000;

const CHILD_COLUMNS: &str =
    "id, organization_id, location_id, group_id, external_ref, given_name, \
     date_of_birth, version, created_at, updated_at, left_on";

/// The child's active consultation consents with who gave each, and the child's guardians with
/// their authority: the facts a consent decision needs, in one statement (both halves on an
/// index: consents by child, givers by consent, guardians by child).
const CONSENT_FACTS: &str = "SELECT c.id, c.decision, c.valid_from, c.valid_until, g.guardian_id, g.is_child \
     FROM consents c JOIN consent_givers g ON g.consent_id = c.id \
     WHERE c.child_id = $1 AND c.purpose = 'consultation' AND c.status = 'active' \
     UNION ALL \
     SELECT gu.id, NULL, NULL, NULL, NULL, gu.has_parental_authority FROM guardians gu WHERE gu.child_id = $1";

/// The least-loaded active specialist of the region with the expertise and room left.
const CANDIDATE: &str = "SELECT s.id FROM staff s \
     JOIN staff_regions r ON r.staff_id = s.id AND r.region_code = $1 \
     JOIN staff_expertise e ON e.staff_id = s.id AND e.expertise = 'language' \
     WHERE s.active AND s.role = 'specialist' AND (s.capacity IS NULL OR s.open_count < s.capacity) \
     ORDER BY s.open_count, s.last_offered_at NULLS FIRST, s.id LIMIT 1";

const REGION_OF_CHILD: &str = "SELECT c.organization_id, c.location_id, m.region_code \
     FROM children c JOIN locations l ON l.id = c.location_id \
     JOIN region_memberships m ON m.municipality_code = l.municipality_code AND m.valid_from <= $2 \
     WHERE c.id = $1 ORDER BY m.valid_from DESC LIMIT 1";

/// The 50 newest events of a child's timeline: each kind of event newest first through its
/// index, cut to 50 (as the store reads it; `$1` the child).
fn timeline_sql() -> String {
    let branches = [
        ("created_at", "'concern'", "id", "domains", "concerns WHERE child_id = $1"),
        ("recorded_at", "'consent'", "id", "purpose || ':' || decision || ':' || status", "consents WHERE child_id = $1"),
        ("withdrawn_at", "'consent_withdrawn'", "id", "purpose", "consents WHERE withdrawn_at IS NOT NULL AND child_id = $1"),
        ("created_at", "'consultation'", "id", "expertise || ':' || urgency", "consultations WHERE child_id = $1"),
        ("r.decided_at", "'routing'", "r.id", "r.trigger", "routing_decisions r JOIN consultations k ON k.id = r.consultation_id WHERE k.child_id = $1"),
        ("accepted_at", "'accepted'", "id", "status", "consultations WHERE accepted_at IS NOT NULL AND child_id = $1"),
        ("created_at", "'visit'", "id", "kind || ':' || status", "visits WHERE child_id = $1"),
        ("closed_at", "'outcome'", "id", "outcome", "consultations WHERE closed_at IS NOT NULL AND child_id = $1"),
    ];
    let union = branches
        .iter()
        .enumerate()
        .map(|(i, (at, kind, id, detail, from))| {
            format!(
                "SELECT * FROM (SELECT {at} AS happened_at, {kind} AS kind, {id} AS id, {detail} AS detail \
                 FROM {from} ORDER BY {at} DESC, {id} DESC LIMIT 50) b{i}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!("SELECT happened_at, kind, id, detail FROM ({union}) t ORDER BY happened_at DESC, id DESC LIMIT 50")
}

/// The child's requests that a withdrawal puts on hold.
const OPEN_REQUESTS: &str = "SELECT id FROM consultations WHERE child_id = $1 \
     AND status IN ('unassigned', 'offered', 'accepted', 'in_progress')";

/// The request a visit is logged on, with the fields the visit checks.
const REQUEST_ROW: &str =
    "SELECT id, child_id, status, assigned_to, region_code FROM consultations WHERE id = $1";

const AUDIT_INSERT: &str = "INSERT INTO audit_log (seq, id, occurred_at, actor_issuer, actor_subject, actor_role, \
     actor_organization_id, actor_staff_id, request_id, action, resource_type, resource_id, child_id, \
     purpose, outcome, flag, prev_hash, hash) VALUES ";

// ------------------------------------------------------------------ PostgreSQL: pgbench

/// The pgbench scripts: (scenario, what, clients, script).
fn pg_scripts(seed: &Seed) -> Vec<(&'static str, &'static str, usize, String)> {
    let n = seed.children.len();
    let (org, loc, youth, staff) = (seed.org, seed.location, seed.youth, seed.mentor_staff);
    let child = "(SELECT child FROM ceiling_ids WHERE n = :n)";
    let pick = format!("\\set n random(0, {})\n", n - 1);
    let audit = |action: &str, rtype: &str, resource: &str, purpose: &str| {
        format!(
            "{AUDIT_INSERT}(nextval('ceiling_seq'), gen_random_uuid(), now(), 'kindbrug-dev', 'bench-mentor', 'mentor', \
             '{org}', '{staff}', 'ceiling', '{action}', '{rtype}', {resource}, {child}, '{purpose}', 'success', NULL, '{HASH}', '{HASH}');\n"
        )
    };
    let facts = CONSENT_FACTS.replace("$1", child);
    let sixteen: Vec<String> = (0..16)
        .map(|_| {
            format!(
                "(nextval('ceiling_seq'), gen_random_uuid(), now(), 'kindbrug-dev', 'bench-mentor', 'mentor', '{org}', '{staff}', \
                 'ceiling', 'read', 'child', {child}, {child}, 'child_record', 'success', NULL, '{HASH}', '{HASH}')"
            )
        })
        .collect();
    vec![
        (
            "(child by key)",
            "the child row by primary key, no transaction, no access log",
            16,
            format!("{pick}SELECT {CHILD_COLUMNS} FROM children WHERE id = {child};\n"),
        ),
        (
            "read child",
            "the child row + one access-log row, one commit",
            16,
            format!(
                "{pick}BEGIN;\nSELECT {CHILD_COLUMNS} FROM children WHERE id = {child};\n{}COMMIT;\n",
                audit("read", "child", child, "child_record")
            ),
        ),
        (
            "(access log, 16 per commit)",
            "16 access-log rows in one commit, 2 clients (what group commit does)",
            2,
            format!("{pick}BEGIN;\n{AUDIT_INSERT}{};\nCOMMIT;\n", sixteen.join(", ")),
        ),
        (
            "register child",
            "insert the child + one access-log row, one commit",
            16,
            format!(
                "BEGIN;\nINSERT INTO children (id, organization_id, location_id, external_ref, given_name, date_of_birth, version, created_at, updated_at) \
                 VALUES (gen_random_uuid(), '{org}', '{loc}', 'ceiling-' || gen_random_uuid(), 'Kind', '2022-05-01', 1, now(), now());\n\
                 {pick}{}COMMIT;\n",
                audit("create", "child", "gen_random_uuid()", "child_record")
            ),
        ),
        (
            "consent check",
            "the child row + consent facts (one query) + one access-log row, one commit",
            16,
            format!(
                "{pick}BEGIN;\nSELECT {CHILD_COLUMNS} FROM children WHERE id = {child};\n{facts};\n{}COMMIT;\n",
                audit("read", "consent_check", "NULL", "consent_management")
            ),
        ),
        (
            "submit consultation",
            "lock the child, its region, consent facts, the candidate, claim a slot, insert request + consents + routing decision + access-log row + outbox message and deliveries, one commit",
            16,
            format!(
                "{pick}BEGIN;\n\
                 SELECT id FROM children WHERE id = {child} FOR UPDATE;\n\
                 {region};\n\
                 {facts};\n\
                 SELECT s.id AS staff, gen_random_uuid() AS cid FROM ({candidate}) s \\gset\n\
                 UPDATE staff SET open_count = open_count + 1, last_offered_at = now() WHERE id = :staff AND (capacity IS NULL OR open_count < capacity);\n\
                 INSERT INTO consultations (id, child_id, organization_id, location_id, concern_id, question, expertise, urgency, region_code, status, \
                 offered_to, offered_at, answer_due, requested_by_subject, requested_by_staff_id, version, created_at, updated_at, half_year, age_band, consent_delayed) \
                 SELECT :cid, i.child, '{org}', '{loc}', i.concern, 'sealed question of about the length of a real one, sealed', 'language', 'normal', 'JZ22', 'offered', \
                 :staff, now(), now() + interval '3 days', 'bench-mentor', '{staff}', 1, now(), now(), '2026-H2', '4-13', false FROM ceiling_ids i WHERE i.n = :n;\n\
                 INSERT INTO consultation_consents (consultation_id, consent_id) SELECT :cid, id FROM consents WHERE child_id = {child} AND purpose = 'consultation' AND status = 'active';\n\
                 INSERT INTO routing_decisions (id, consultation_id, decided_at, trigger, chosen_staff_id, reason, considered) \
                 VALUES (gen_random_uuid(), :cid, now(), 'submitted', :staff, 'least_loaded', '[]');\n\
                 {}\
                 INSERT INTO webhook_messages (id, organization_id, event_type, data, created_at) VALUES (:cid, '{youth}', 'consultation.offered', '{{}}', now());\n\
                 INSERT INTO webhook_deliveries (id, message_id, endpoint_id, state, attempts, next_attempt_at) \
                 SELECT gen_random_uuid(), :cid, id, 'pending', 0, now() FROM webhook_endpoints WHERE organization_id = '{youth}';\n\
                 COMMIT;\n",
                audit("create", "consultation", ":cid", "consultation"),
                region = REGION_OF_CHILD.replace("$1", child).replace("$2", "current_date"),
                candidate = CANDIDATE.replace("$1", "'JZ22'"),
            ),
        ),
        (
            "withdraw consent",
            "lock the child, the consent withdrawn, the child's open requests read, one access-log row, one commit",
            16,
            format!(
                "{pick}BEGIN;\n\
                 SELECT id FROM children WHERE id = {child} FOR UPDATE;\n\
                 UPDATE consents SET status = 'withdrawn', withdrawn_at = now(), withdrawn_by_guardian_id = NULL \
                 WHERE id = (SELECT consent FROM ceiling_ids WHERE n = :n);\n\
                 {open};\n\
                 {}COMMIT;\n",
                audit("update", "consent", "(SELECT consent FROM ceiling_ids WHERE n = :n)", "consent_management"),
                open = OPEN_REQUESTS.replace("$1", child),
            ),
        ),
        (
            "record consent",
            "lock the child, consent facts, insert the record + both givers, supersede the active one, one access-log row, one commit",
            16,
            format!(
                "{pick}SELECT gen_random_uuid() AS cid \\gset\n\
                 BEGIN;\n\
                 SELECT id FROM children WHERE id = {child} FOR UPDATE;\n\
                 {facts};\n\
                 INSERT INTO consents (id, child_id, purpose, recipient_organization_id, decision, method, information_version, \
                 valid_from, no_signs_of_disagreement, child_not_competent, status, recorded_by_subject, recorded_by_role, \
                 recorded_by_organization_id, recorded_at, region_code, organization_id, half_year, age_band) \
                 VALUES (:cid, {child}, 'consultation', '{youth}', 'granted', 'oral', 'bench-1', '2026-01-01', false, false, \
                 'active', 'bench-mentor', 'mentor', '{org}', now(), 'JZ22', '{org}', '2026-H2', '4-13');\n\
                 INSERT INTO consent_givers (consent_id, guardian_id, is_child) SELECT :cid, id, false FROM guardians WHERE child_id = {child};\n\
                 UPDATE consents SET status = 'superseded', superseded_by = :cid \
                 WHERE child_id = {child} AND purpose = 'consultation' AND status = 'active' AND id <> :cid;\n\
                 {}COMMIT;\n",
                audit("create", "consent", ":cid", "consent_management"),
            ),
        ),
        (
            "log visit",
            "the request, the child, consent facts, insert the visit, the request's first visit, one access-log row, one commit",
            16,
            format!(
                "\\set a random(0, {last_accepted})\n\
                 SELECT consultation AS cid, child AS vchild, staff AS vstaff, gen_random_uuid() AS vid FROM ceiling_accepted WHERE n = :a \\gset\n\
                 BEGIN;\n\
                 {request};\n\
                 SELECT {CHILD_COLUMNS} FROM children WHERE id = :vchild;\n\
                 {vfacts};\n\
                 INSERT INTO visits (id, consultation_id, child_id, specialist_id, date, duration_minutes, kind, participants, competences, \
                 status, notes_sealed, advice_sealed, notes_shared, version, created_at, updated_at, region_code, organization_id, half_year, age_band) \
                 VALUES (:vid, :cid, :vchild, :vstaff, '2026-11-20', 60, 'staff_coaching', 'mentor,practitioner', 'striking_behaviour', 'held', \
                 'sealed notes of about the length of real ones, sealed', 'sealed advice, sealed', false, 1, now(), now(), 'JZ22', '{org}', '2026-H2', '4-13');\n\
                 UPDATE consultations SET first_visit_on = '2026-11-20' WHERE id = :cid AND (first_visit_on IS NULL OR first_visit_on > '2026-11-20');\n\
                 {AUDIT_INSERT}(nextval('ceiling_seq'), gen_random_uuid(), now(), 'kindbrug-dev', 'bench-specialist', 'specialist', \
                 '{youth}', :vstaff, 'ceiling', 'create', 'visit', :vid, :vchild, 'consultation', 'success', NULL, '{HASH}', '{HASH}');\n\
                 COMMIT;\n",
                last_accepted = seed.accepted.len().max(1) - 1,
                request = REQUEST_ROW.replace("$1", ":cid"),
                vfacts = CONSENT_FACTS.replace("$1", ":vchild"),
            ),
        ),
        (
            "read timeline (50)",
            "the child row, the 50 newest events of its timeline, one access-log row, one commit",
            16,
            format!(
                "\\set a random(0, {last_accepted})\n\
                 SELECT child AS vchild FROM ceiling_accepted WHERE n = :a \\gset\n\
                 BEGIN;\n\
                 SELECT {CHILD_COLUMNS} FROM children WHERE id = :vchild;\n\
                 {timeline};\n\
                 {AUDIT_INSERT}(nextval('ceiling_seq'), gen_random_uuid(), now(), 'kindbrug-dev', 'bench-mentor', 'mentor', \
                 '{org}', '{staff}', 'ceiling', 'read', 'timeline', NULL, :vchild, 'consultation', 'success', NULL, '{HASH}', '{HASH}');\n\
                 COMMIT;\n",
                last_accepted = seed.accepted.len().max(1) - 1,
                timeline = timeline_sql().replace("$1", ":vchild"),
            ),
        ),
    ]
}

/// Runs every PostgreSQL ceiling with pgbench against `url` (the seeded database).
pub async fn postgres(
    url: &str,
    seed: &Seed,
    seconds: u64,
    tmp: &std::path::Path,
) -> anyhow::Result<Vec<Ceiling>> {
    let mut db = sqlx::PgConnection::connect(url).await?;
    db.execute(
        "CREATE TABLE ceiling_ids (n INTEGER PRIMARY KEY, child UUID NOT NULL, concern UUID NOT NULL, consent UUID);\
         CREATE TABLE ceiling_accepted (n INTEGER PRIMARY KEY, consultation UUID NOT NULL, child UUID NOT NULL, staff UUID NOT NULL);\
         CREATE SEQUENCE ceiling_seq START 1000000000000;\
         UPDATE staff SET capacity = NULL WHERE role = 'specialist'",
    )
    .await?;
    anyhow::ensure!(
        !seed.accepted.is_empty(),
        "no accepted requests to log visits on"
    );
    let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "INSERT INTO ceiling_accepted (n, consultation, child, staff) ",
    );
    qb.push_values(seed.accepted.iter().enumerate(), |mut b, (n, (r, c, s))| {
        b.push_bind(n as i32)
            .push_bind(*r)
            .push_bind(*c)
            .push_bind(*s);
    });
    qb.build().execute(&mut db).await?;
    let mut qb =
        sqlx::QueryBuilder::<sqlx::Postgres>::new("INSERT INTO ceiling_ids (n, child, concern) ");
    qb.push_values(
        seed.children.iter().zip(&seed.concerns).enumerate(),
        |mut b, (n, (c, k))| {
            b.push_bind(n as i32).push_bind(*c).push_bind(*k);
        },
    );
    qb.build().execute(&mut db).await?;
    // a consent of each child to withdraw (the withdrawal ceiling repeats it: the same write)
    db.execute(
        "UPDATE ceiling_ids i SET consent = (SELECT k.id FROM consents k WHERE k.child_id = i.child \
         ORDER BY k.recorded_at DESC LIMIT 1)",
    )
    .await?;
    db.execute("ANALYZE").await?;
    db.close().await?;
    let u = url::Url::parse(url)?;
    let mut out = Vec::new();
    for (i, (scenario, what, clients, script)) in pg_scripts(seed).into_iter().enumerate() {
        let file = tmp.join(format!("ceiling-{i}.sql"));
        std::fs::write(&file, &script)?;
        let prefix = tmp.join(format!("pgbench-{i}"));
        let run = tokio::process::Command::new("pgbench")
            .args([
                "-n",
                "-M",
                "prepared",
                "-c",
                &clients.to_string(),
                "-j",
                "2",
            ])
            .args(["-T", &(seconds + 1).to_string(), "-l", "--log-prefix"])
            .arg(&prefix)
            .arg("-f")
            .arg(&file)
            .args(["-h", u.host_str().unwrap_or("127.0.0.1")])
            .args(["-p", &u.port().unwrap_or(5432).to_string()])
            .args([
                "-U",
                if u.username().is_empty() {
                    "postgres"
                } else {
                    u.username()
                },
            ])
            .arg(u.path().trim_start_matches('/'))
            .current_dir(tmp)
            .output()
            .await
            .context("pgbench (apt install postgresql-client)")?;
        let stdout = String::from_utf8_lossy(&run.stdout);
        let failed = stdout
            .lines()
            .find_map(|l| l.strip_prefix("number of failed transactions: "))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        anyhow::ensure!(
            run.status.success(),
            "pgbench for {scenario}: {}{}",
            stdout,
            String::from_utf8_lossy(&run.stderr)
        );
        let mut stats = pgbench_log(tmp, &format!("pgbench-{i}"), seconds)?;
        stats.errors += failed;
        out.push(Ceiling {
            scenario,
            what,
            stats,
        });
    }
    Ok(out)
}

/// Stats from pgbench's per-transaction logs (`client tx latency_us script epoch_s epoch_us`),
/// the first second left out as warm-up, like the HTTP runs.
fn pgbench_log(dir: &std::path::Path, prefix: &str, seconds: u64) -> anyhow::Result<Stats> {
    let mut rows: Vec<(u64, f64)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.starts_with(&format!("{prefix}.")) {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                continue;
            }
            let (Ok(latency), Ok(s), Ok(us)) = (
                f[2].parse::<u64>(),
                f[4].parse::<u64>(),
                f[5].parse::<u64>(),
            ) else {
                continue;
            };
            rows.push((latency, s as f64 + us as f64 / 1e6));
        }
    }
    let start = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let warm = start + 1.0;
    let mut latencies: Vec<Duration> = rows
        .iter()
        .filter(|r| r.1 - r.0 as f64 / 1e6 >= warm && r.1 <= warm + seconds as f64)
        .map(|r| Duration::from_micros(r.0))
        .collect();
    Ok(stats_of(&mut latencies, Duration::from_secs(seconds), 0))
}

fn stats_of(latencies: &mut [Duration], elapsed: Duration, errors: u64) -> Stats {
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Stats {
        ops: latencies.len() as u64,
        errors,
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

// ------------------------------------------------------------------ SQLite: one rusqlite connection

/// Runs every SQLite ceiling on one rusqlite connection of its own to the seeded database
/// file, with the store's settings (WAL, synchronous NORMAL), statements prepared once and
/// cached, on one thread: SQLite's own speed, without an async driver's hand-offs.
pub async fn sqlite(
    path: &std::path::Path,
    seed: &Seed,
    seconds: u64,
) -> anyhow::Result<Vec<Ceiling>> {
    let (path, seed) = (path.to_path_buf(), seed.clone());
    tokio::task::spawn_blocking(move || sqlite_on_one_thread(&path, &seed, seconds)).await?
}

fn sqlite_on_one_thread(
    path: &std::path::Path,
    seed: &Seed,
    seconds: u64,
) -> anyhow::Result<Vec<Ceiling>> {
    use rusqlite::params;
    let mut db = rusqlite::Connection::open(path)?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.pragma_update(None, "cache_size", -32000)?;
    db.busy_timeout(Duration::from_secs(10))?;
    db.execute(
        "UPDATE staff SET capacity = NULL WHERE role = 'specialist'",
        [],
    )?;
    // as sqlx stores them: ids as 16-byte blobs, instants as RFC 3339 text
    let blob = |id: &Uuid| id.as_bytes().to_vec();
    let mut seq = FIRST_SEQ;
    let audit_sql = format!(
        "{AUDIT_INSERT}(?1, ?2, ?3, 'kindbrug-dev', 'bench-mentor', 'mentor', ?4, ?5, 'ceiling', ?6, ?7, ?8, ?9, ?10, 'success', NULL, '{HASH}', '{HASH}')"
    );
    let sixteen_sql = format!(
        "{AUDIT_INSERT}{}",
        (0..16)
            .map(|k| {
                let b = k * 4;
                format!(
                    "(?{}, ?{}, ?{}, 'kindbrug-dev', 'bench-mentor', 'mentor', ?{}, NULL, 'ceiling', 'read', 'child', NULL, NULL, 'child_record', 'success', NULL, '{HASH}', '{HASH}')",
                    b + 1, b + 2, b + 3, b + 4
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let child_sql = format!("SELECT {CHILD_COLUMNS} FROM children WHERE id = ?1");
    let facts_sql = CONSENT_FACTS.replace("$1", "?1");
    let region_sql = REGION_OF_CHILD.replace("$1", "?1").replace("$2", "?2");
    let candidate_sql = CANDIDATE.replace("$1", "?1");
    let open_sql = OPEN_REQUESTS.replace("$1", "?1");
    let request_sql = REQUEST_ROW.replace("$1", "?1");
    let timeline_sql = timeline_sql().replace("$1", "?1");
    anyhow::ensure!(
        !seed.accepted.is_empty(),
        "no accepted requests to log visits on"
    );
    // a consent of each child to withdraw (the withdrawal ceiling repeats it: the same write)
    let consents: Vec<Option<Vec<u8>>> = {
        use rusqlite::OptionalExtension as _;
        let mut stmt = db.prepare(
            "SELECT id FROM consents WHERE child_id = ?1 ORDER BY recorded_at DESC LIMIT 1",
        )?;
        seed.children
            .iter()
            .map(|c| stmt.query_row(params![blob(c)], |r| r.get(0)).optional())
            .collect::<rusqlite::Result<_>>()?
    };
    // reads every column of every row, as a client that uses the answer does
    fn drain(rows: &mut rusqlite::Rows<'_>) -> rusqlite::Result<usize> {
        let mut n = 0;
        while let Some(row) = rows.next()? {
            for i in 0..row.as_ref().column_count() {
                let _: rusqlite::types::Value = row.get(i)?;
            }
            n += 1;
        }
        Ok(n)
    }
    let n = seed.children.len();
    let mut out = Vec::new();
    for &(scenario, what) in SQLITE_CEILINGS {
        let mut latencies = Vec::new();
        let mut errors = 0;
        let warm = Instant::now() + Duration::from_secs(1);
        let end = warm + Duration::from_secs(seconds);
        let mut i = 0usize;
        loop {
            let started = Instant::now();
            if started >= end {
                break;
            }
            i += 1;
            let k = (i * 7919) % n;
            let (child, concern) = (blob(&seed.children[k]), blob(&seed.concerns[k]));
            let now = chrono::Utc::now();
            let at = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
            let result: rusqlite::Result<()> = (|| {
                match scenario {
                    "(child by key)" => {
                        drain(&mut db.prepare_cached(&child_sql)?.query(params![child])?)?;
                    }
                    "(access log, 16 per commit)" => {
                        let tx = db.transaction()?;
                        {
                            let mut stmt = tx.prepare_cached(&sixteen_sql)?;
                            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(64);
                            for _ in 0..16 {
                                seq += 1;
                                values.push(seq.into());
                                values.push(Uuid::now_v7().as_bytes().to_vec().into());
                                values.push(at.clone().into());
                                values.push(blob(&seed.org).into());
                            }
                            stmt.execute(rusqlite::params_from_iter(values))?;
                        }
                        tx.commit()?;
                    }
                    _ => {
                        let tx = db.transaction()?;
                        let (action, rtype, resource, purpose): (
                            &str,
                            &str,
                            Option<Vec<u8>>,
                            &str,
                        ) = match scenario {
                            "read child" => {
                                drain(&mut tx.prepare_cached(&child_sql)?.query(params![child])?)?;
                                ("read", "child", Some(child.clone()), "child_record")
                            }
                            "register child" => {
                                let id = Uuid::now_v7();
                                tx.prepare_cached(
                                    "INSERT INTO children (id, organization_id, location_id, external_ref, given_name, date_of_birth, version, created_at, updated_at) \
                                     VALUES (?1, ?2, ?3, ?4, 'Kind', '2022-05-01', 1, ?5, ?5)",
                                )?
                                .execute(params![blob(&id), blob(&seed.org), blob(&seed.location), format!("ceiling-{id}"), at])?;
                                ("create", "child", Some(blob(&id)), "child_record")
                            }
                            "consent check" => {
                                drain(&mut tx.prepare_cached(&child_sql)?.query(params![child])?)?;
                                drain(&mut tx.prepare_cached(&facts_sql)?.query(params![child])?)?;
                                ("read", "consent_check", None, "consent_management")
                            }
                            "withdraw consent" => {
                                tx.prepare_cached(
                                    "UPDATE consents SET status = 'withdrawn', withdrawn_at = ?2, withdrawn_by_guardian_id = NULL WHERE id = ?1",
                                )?
                                .execute(params![consents[k], at])?;
                                drain(&mut tx.prepare_cached(&open_sql)?.query(params![child])?)?;
                                (
                                    "update",
                                    "consent",
                                    consents[k].clone(),
                                    "consent_management",
                                )
                            }
                            "record consent" => {
                                drain(&mut tx.prepare_cached(&facts_sql)?.query(params![child])?)?;
                                let cid = blob(&Uuid::now_v7());
                                tx.prepare_cached(
                                    "INSERT INTO consents (id, child_id, purpose, recipient_organization_id, decision, method, information_version, \
                                     valid_from, no_signs_of_disagreement, child_not_competent, status, recorded_by_subject, recorded_by_role, \
                                     recorded_by_organization_id, recorded_at, region_code, organization_id, half_year, age_band) \
                                     VALUES (?1, ?2, 'consultation', ?3, 'granted', 'oral', 'bench-1', '2026-01-01', 0, 0, 'active', \
                                     'bench-mentor', 'mentor', ?4, ?5, 'JZ22', ?4, '2026-H2', '4-13')",
                                )?
                                .execute(params![cid, child, blob(&seed.youth), blob(&seed.org), at])?;
                                tx.prepare_cached(
                                    "INSERT INTO consent_givers (consent_id, guardian_id, is_child) SELECT ?1, id, 0 FROM guardians WHERE child_id = ?2",
                                )?
                                .execute(params![cid, child])?;
                                tx.prepare_cached(
                                    "UPDATE consents SET status = 'superseded', superseded_by = ?1 \
                                     WHERE child_id = ?2 AND purpose = 'consultation' AND status = 'active' AND id <> ?1",
                                )?
                                .execute(params![cid, child])?;
                                ("create", "consent", Some(cid), "consent_management")
                            }
                            "log visit" => {
                                let (request, vchild, vstaff) =
                                    seed.accepted[i % seed.accepted.len()];
                                let vchild = blob(&vchild);
                                drain(
                                    &mut tx
                                        .prepare_cached(&request_sql)?
                                        .query(params![blob(&request)])?,
                                )?;
                                drain(&mut tx.prepare_cached(&child_sql)?.query(params![vchild])?)?;
                                drain(&mut tx.prepare_cached(&facts_sql)?.query(params![vchild])?)?;
                                let vid = blob(&Uuid::now_v7());
                                tx.prepare_cached(
                                    "INSERT INTO visits (id, consultation_id, child_id, specialist_id, date, duration_minutes, kind, participants, \
                                     competences, status, notes_sealed, advice_sealed, notes_shared, version, created_at, updated_at, region_code, \
                                     organization_id, half_year, age_band) VALUES (?1, ?2, ?3, ?4, '2026-11-20', 60, 'staff_coaching', \
                                     'mentor,practitioner', 'striking_behaviour', 'held', 'sealed notes of about the length of real ones, sealed', \
                                     'sealed advice, sealed', 0, 1, ?5, ?5, 'JZ22', ?6, '2026-H2', '4-13')",
                                )?
                                .execute(params![vid, blob(&request), vchild, blob(&vstaff), at, blob(&seed.org)])?;
                                tx.prepare_cached(
                                    "UPDATE consultations SET first_visit_on = '2026-11-20' WHERE id = ?1 \
                                     AND (first_visit_on IS NULL OR first_visit_on > '2026-11-20')",
                                )?
                                .execute(params![blob(&request)])?;
                                ("create", "visit", Some(vid), "consultation")
                            }
                            "read timeline (50)" => {
                                let vchild = blob(&seed.accepted[i % seed.accepted.len()].1);
                                drain(&mut tx.prepare_cached(&child_sql)?.query(params![vchild])?)?;
                                drain(
                                    &mut tx
                                        .prepare_cached(&timeline_sql)?
                                        .query(params![vchild])?,
                                )?;
                                ("read", "timeline", None, "consultation")
                            }
                            _ => {
                                let cid = blob(&Uuid::now_v7());
                                drain(
                                    &mut tx
                                        .prepare_cached(&region_sql)?
                                        .query(params![child, now.date_naive().to_string()])?,
                                )?;
                                drain(&mut tx.prepare_cached(&facts_sql)?.query(params![child])?)?;
                                let staff: Vec<u8> = tx
                                    .prepare_cached(&candidate_sql)?
                                    .query_row(params!["JZ22"], |r| r.get(0))?;
                                tx.prepare_cached("UPDATE staff SET open_count = open_count + 1, last_offered_at = ?2 WHERE id = ?1 AND (capacity IS NULL OR open_count < capacity)")?
                                    .execute(params![staff, at])?;
                                let due = (now + chrono::Duration::days(3))
                                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
                                tx.prepare_cached(
                                    "INSERT INTO consultations (id, child_id, organization_id, location_id, concern_id, question, expertise, urgency, region_code, status, \
                                     offered_to, offered_at, answer_due, requested_by_subject, requested_by_staff_id, version, created_at, updated_at, half_year, age_band, consent_delayed) \
                                     VALUES (?1, ?2, ?3, ?4, ?5, 'sealed question of about the length of a real one, sealed', 'language', 'normal', 'JZ22', 'offered', \
                                     ?6, ?7, ?8, 'bench-mentor', ?9, 1, ?7, ?7, '2026-H2', '4-13', 0)",
                                )?
                                .execute(params![cid, child, blob(&seed.org), blob(&seed.location), concern, staff, at, due, blob(&seed.mentor_staff)])?;
                                tx.prepare_cached("INSERT INTO consultation_consents (consultation_id, consent_id) SELECT ?1, id FROM consents WHERE child_id = ?2 AND purpose = 'consultation' AND status = 'active'")?
                                    .execute(params![cid, child])?;
                                tx.prepare_cached("INSERT INTO routing_decisions (id, consultation_id, decided_at, trigger, chosen_staff_id, reason, considered) VALUES (?1, ?2, ?3, 'submitted', ?4, 'least_loaded', '[]')")?
                                    .execute(params![blob(&Uuid::now_v7()), cid, at, staff])?;
                                tx.prepare_cached("INSERT INTO webhook_messages (id, organization_id, event_type, data, created_at) VALUES (?1, ?2, 'consultation.offered', '{}', ?3)")?
                                    .execute(params![cid, blob(&seed.youth), at])?;
                                tx.prepare_cached(
                                    "INSERT INTO webhook_deliveries (id, message_id, endpoint_id, state, attempts, next_attempt_at) \
                                     SELECT ?1, ?2, id, 'pending', 0, ?3 FROM webhook_endpoints WHERE organization_id = ?4",
                                )?
                                .execute(params![blob(&Uuid::now_v7()), cid, at, blob(&seed.youth)])?;
                                ("create", "consultation", Some(cid), "consultation")
                            }
                        };
                        seq += 1;
                        tx.prepare_cached(&audit_sql)?.execute(params![
                            seq,
                            blob(&Uuid::now_v7()),
                            at,
                            blob(&seed.org),
                            blob(&seed.mentor_staff),
                            action,
                            rtype,
                            resource,
                            child,
                            purpose
                        ])?;
                        tx.commit()?;
                    }
                }
                Ok(())
            })();
            if started >= warm {
                match result {
                    Ok(()) => latencies.push(started.elapsed()),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("ceiling {scenario}: first error: {e}");
                        }
                        errors += 1;
                    }
                }
            }
        }
        out.push(Ceiling {
            scenario,
            what,
            stats: stats_of(&mut latencies, Duration::from_secs(seconds), errors),
        });
    }
    Ok(out)
}

const SQLITE_CEILINGS: &[(&str, &str)] = &[
    ("(child by key)", "the child row by primary key, no transaction, no access log"),
    ("read child", "the child row + one access-log row, one commit"),
    ("(access log, 16 per commit)", "16 access-log rows in one commit"),
    ("register child", "insert the child + one access-log row, one commit"),
    ("consent check", "the child row + consent facts (one query) + one access-log row, one commit"),
    (
        "submit consultation",
        "the child's region, consent facts, the candidate, claim a slot, insert request + consents + routing decision + access-log row + outbox message and deliveries, one commit",
    ),
    (
        "withdraw consent",
        "the consent withdrawn, the child's open requests read, one access-log row, one commit",
    ),
    (
        "record consent",
        "consent facts, insert the record + both givers, supersede the active one, one access-log row, one commit",
    ),
    (
        "log visit",
        "the request, the child, consent facts, insert the visit, the request's first visit, one access-log row, one commit",
    ),
    (
        "read timeline (50)",
        "the child row, the 50 newest events of its timeline, one access-log row, one commit",
    ),
];
