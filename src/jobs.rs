//! The work a running gateway does besides answering requests: the webhook relay, moving on
//! offers whose answer deadline passed, the retention job and the refresh of the policy
//! figures. Each is safe on several replicas at once (leases, version-checked changes,
//! snapshot-checked summaries, retention in turn), so every replica may run them. `serve`
//! runs them until shutdown.

use crate::webhooks::relay::Relay;
use crate::AppState;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often each job runs.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Deliver webhooks from this process.
    pub relay: bool,
    pub deadlines: Duration,
    pub retention: Duration,
    pub figures: Duration,
    pub checkpoints: Duration,
    pub mail: Duration,
}

impl Schedule {
    pub fn from_config(config: &crate::Config) -> Self {
        Self {
            relay: config.relay_enabled,
            deadlines: Duration::from_secs(config.deadline_check_seconds),
            retention: Duration::from_secs(config.retention_interval_hours * 3600),
            figures: Duration::from_secs(config.figures_refresh_minutes * 60),
            checkpoints: Duration::from_secs(config.audit_checkpoint_minutes * 60),
            mail: Duration::from_secs(config.mail_interval_seconds.max(1)),
        }
    }
}

/// Runs `work` every `every` until `shutdown` turns true; the first round a minute after start
/// (or after one period, if shorter), so a starting replica does not add load at once and a
/// gateway restarted more often than a period still does the work. Failures are logged and the
/// next round runs.
fn every<F, Fut>(
    name: &'static str,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut work: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<String>> + Send,
{
    tokio::spawn(async move {
        let first = every.min(Duration::from_secs(60));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            let started = std::time::Instant::now();
            let result = work().await;
            metrics::counter!("kindbrug_job_runs_total", "job" => name, "result" => if result.is_ok() { "ok" } else { "failed" })
                .increment(1);
            match result {
                Ok(done) => {
                    metrics::gauge!("kindbrug_job_last_success_timestamp_seconds", "job" => name)
                        .set(chrono::Utc::now().timestamp() as f64);
                    if !done.is_empty() {
                        tracing::info!(
                            job = name,
                            ms = started.elapsed().as_millis() as u64,
                            "{done}"
                        )
                    }
                }
                Err(e) => tracing::warn!(job = name, error = %e, "background job failed"),
            }
        }
    })
}

/// Starts the background jobs; they stop when `shutdown` turns true.
pub fn spawn(
    state: &AppState,
    schedule: &Schedule,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut jobs = Vec::new();
    if schedule.relay {
        let relay = Relay::new(
            state.store.clone(),
            state.config.webhook_policy(),
            state.config.relay_settings(),
        )?;
        jobs.push(tokio::spawn(relay.run(shutdown.clone())));
    }
    let s = state.clone();
    jobs.push(every(
        "deadlines",
        schedule.deadlines,
        shutdown.clone(),
        move || {
            let s = s.clone();
            async move {
                let moved = crate::service::consultations::expire_overdue_offers(&s)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(if moved == 0 {
                    String::new()
                } else {
                    format!("{moved} overdue offers moved on")
                })
            }
        },
    ));
    let s = state.clone();
    let outlet = std::sync::Arc::new(crate::service::mail::Outlet::from_config(&state.config)?);
    jobs.push(every("mail", schedule.mail, shutdown.clone(), move || {
        let s = s.clone();
        let outlet = outlet.clone();
        async move {
            let sent = crate::service::mail::deliver_due(&s, &outlet)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(if sent == 0 {
                String::new()
            } else {
                format!("{sent} invitation mails sent")
            })
        }
    }));
    let s = state.clone();
    jobs.push(every(
        "retention",
        schedule.retention,
        shutdown.clone(),
        move || {
            let s = s.clone();
            async move {
                let report = crate::retention::run(
                    &s.store,
                    &s.config.retention,
                    &s.audit_signer,
                    &crate::checkpoint_export(&s.config),
                )
                .await?;
                Ok(format!("retention: {}", serde_json::to_string(&report)?))
            }
        },
    ));
    let s = state.clone();
    jobs.push(every(
        "audit-checkpoint",
        schedule.checkpoints,
        shutdown.clone(),
        move || {
            let s = s.clone();
            async move {
                let cp = crate::audit::checkpoint::take(
                    s.store.as_ref(),
                    &s.audit_signer,
                    &crate::checkpoint_export(&s.config),
                    false,
                )
                .await?;
                Ok(match cp {
                    Some(cp) => format!("access log signed up to entry {}", cp.seq),
                    None => String::new(),
                })
            }
        },
    ));
    let s = state.clone();
    jobs.push(every("figures", schedule.figures, shutdown, move || {
        let s = s.clone();
        async move {
            let r = s
                .store
                .refresh_figures(crate::domain::calendar::now(), false)
                .await?;
            Ok(if r.idle() {
                String::new()
            } else {
                format!("figures refreshed: {r}")
            })
        }
    }));
    Ok(jobs)
}
