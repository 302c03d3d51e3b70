//! The relay: leases due deliveries from the outbox, sends them signed, and records each
//! attempt as soon as it ends. Several relays (on several replicas) can run at once: the store
//! never leases one delivery to two of them, and a relay that dies mid-delivery loses nothing:
//! its lease runs out and another relay sends the delivery again (receivers deduplicate on
//! `webhook-id`). Only what the dead relay had in flight is sent twice.
//!
//! A relay claims deliveries only as it has free slots, so a leased delivery starts at once;
//! the leases of what it holds are renewed while it works, so a live relay never loses one to
//! another relay; and an endpoint gets at most a few deliveries in flight at once (across all
//! relays), so one slow or dead receiver cannot hold up the others' deliveries.

use super::net::{AddressPolicy, GuardedResolver};
use super::{body, next_retry, parse_retry_after, signatures};
use crate::domain::calendar::now;
use crate::store::{
    AttemptRow, DeliveryJob, DeliveryOutcome, DeliveryResult, DynStore, StoreResult,
};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// How a relay works.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Most deliveries one `run_once` takes.
    pub batch: i64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Deliveries in flight to one endpoint at once (all relays together).
    pub per_endpoint: usize,
    pub lease: Duration,
    pub poll: Duration,
    pub timeout: Duration,
    pub schedule: Vec<u64>,
    pub base_url: String,
}

/// One relay worker.
pub struct Relay {
    store: DynStore,
    http: reqwest::Client,
    policy: Arc<AddressPolicy>,
    settings: RelaySettings,
    owner: String,
}

/// Most results one commit records.
const RECORD_BATCH: usize = 256;

impl Relay {
    pub fn new(
        store: DynStore,
        policy: AddressPolicy,
        settings: RelaySettings,
    ) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .pool_max_idle_per_host(settings.per_endpoint.max(1))
            .user_agent(concat!("kindbrug-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            http,
            policy,
            settings,
            owner: format!("relay-{}", Uuid::now_v7()),
        })
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs until `shutdown` turns true: then it stops claiming, finishes what is in flight,
    /// hands back what it had claimed but not started, and records every outcome.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        if let Err(e) = self.drive(Some(shutdown)).await {
            tracing::warn!(error = %e, "webhook relay stopped with an error");
        }
    }

    /// Leases one batch, delivers it, records the outcomes; returns how many were attempted.
    pub async fn run_once(&self) -> StoreResult<usize> {
        self.drive(None).await
    }

    /// Leases a batch (exposed so a test can stop a relay between leasing and recording).
    pub async fn claim(&self) -> StoreResult<Vec<DeliveryJob>> {
        self.claim_up_to(self.settings.batch, &HashMap::new()).await
    }

    async fn claim_up_to(&self, n: i64, own: &HashMap<Uuid, i64>) -> StoreResult<Vec<DeliveryJob>> {
        let own: Vec<(Uuid, i64)> = own.iter().map(|(e, n)| (*e, *n)).collect();
        let at = now();
        let until = at + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
        self.store
            .claim_deliveries(
                &self.owner,
                at,
                until,
                n,
                self.settings.per_endpoint.max(1) as i64,
                &own,
            )
            .await
    }

    /// The work loop. With `shutdown` it runs until told to stop, claiming whenever half its
    /// slots are free; without, it works one claimed batch.
    async fn drive(&self, mut shutdown: Option<watch::Receiver<bool>>) -> StoreResult<usize> {
        let concurrency = self.settings.concurrency.max(1);
        let continuous = shutdown.is_some();
        let (results, rx) = mpsc::channel::<DeliveryResult>(1024);
        let recorder = tokio::spawn(record(self.store.clone(), self.owner.clone(), rx));
        let mut waiting: VecDeque<DeliveryJob> = VecDeque::new();
        let mut in_flight = FuturesUnordered::new();
        let mut held: HashSet<Uuid> = HashSet::new();
        // what this relay holds per endpoint, claimed and not yet answered
        let mut holding: HashMap<Uuid, i64> = HashMap::new();
        let mut renew = tokio::time::interval(self.settings.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.tick().await;
        let mut claimed_once = false;
        // how much the last claim let this relay hold: the per-endpoint caps may keep it below
        // the concurrency, and claiming again at every completion would cost a round of
        // queries per delivery. Claim again when half of that has been worked off, or, after an
        // empty claim, not before the poll interval.
        let mut reachable = concurrency;
        let mut next_claim_at = tokio::time::Instant::now();
        let mut done = 0usize;
        let outcome: StoreResult<()> = loop {
            let stopping = shutdown.as_ref().is_some_and(|s| *s.borrow());
            let held_now = in_flight.len() + waiting.len();
            let due = !claimed_once
                || (continuous
                    && held_now * 2 <= reachable
                    && tokio::time::Instant::now() >= next_claim_at);
            if !stopping && due {
                let want = if continuous {
                    (concurrency - held_now) as i64
                } else {
                    self.settings.batch
                };
                claimed_once = true;
                match self.claim_up_to(want, &holding).await {
                    Ok(jobs) => {
                        if jobs.is_empty() {
                            next_claim_at = tokio::time::Instant::now() + self.settings.poll;
                        }
                        for j in jobs {
                            held.insert(j.delivery_id);
                            *holding.entry(j.endpoint_id).or_default() += 1;
                            waiting.push_back(j);
                        }
                        reachable = (in_flight.len() + waiting.len()).max(1);
                    }
                    Err(e) if continuous => {
                        next_claim_at = tokio::time::Instant::now() + self.settings.poll;
                        tracing::warn!(error = %e, "webhook relay could not lease from the outbox");
                    }
                    Err(e) => break Err(e),
                }
            }
            while in_flight.len() < concurrency {
                match waiting.pop_front() {
                    Some(job) => in_flight.push(self.deliver(job)),
                    None => break,
                }
            }
            if stopping {
                // claimed but not started: back to the outbox for another relay at once
                let unstarted: Vec<Uuid> = waiting.drain(..).map(|j| j.delivery_id).collect();
                if !unstarted.is_empty() {
                    if let Err(e) = self.store.release_leases(&self.owner, &unstarted).await {
                        tracing::warn!(error = %e, "could not hand back leased deliveries; their leases run out");
                    }
                }
            }
            if in_flight.is_empty() {
                if !continuous || stopping {
                    break Ok(());
                }
                let stop = shutdown.as_mut().expect("continuous");
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.poll) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            tokio::select! {
                Some(result) = in_flight.next() => {
                    held.remove(&result.job.delivery_id);
                    if let Some(n) = holding.get_mut(&result.job.endpoint_id) {
                        *n -= 1;
                        if *n <= 0 {
                            holding.remove(&result.job.endpoint_id);
                        }
                    }
                    done += 1;
                    let _ = results.send(result).await;
                }
                _ = renew.tick() => {
                    let ids: Vec<Uuid> = held.iter().copied().collect();
                    let until = now() + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
                    if let Err(e) = self.store.renew_leases(&self.owner, &ids, until).await {
                        tracing::warn!(error = %e, "could not renew the relay's leases");
                    }
                }
                _ = async {
                    match shutdown.as_mut() {
                        Some(s) => { let _ = s.changed().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        };
        drop(results);
        let recorded = recorder.await.unwrap_or(Ok(()));
        outcome.and(recorded).map(|_| done)
    }

    /// Delivers claimed jobs (all at once, up to the concurrency) and returns their results.
    pub async fn deliver_all(&self, jobs: Vec<DeliveryJob>) -> Vec<DeliveryResult> {
        futures::stream::iter(jobs)
            .map(|job| self.deliver(job))
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await
    }

    async fn deliver(&self, job: DeliveryJob) -> DeliveryResult {
        let started = Instant::now();
        let attempted_at = now();
        let attempts = job.attempts as usize + 1;
        let (status, error, retry_after) = match self.send(&job).await {
            Ok((status, retry_after)) => (Some(status), None, retry_after),
            Err(e) => (None, Some(e), None),
        };
        let outcome = match status {
            Some(s) if (200..300).contains(&s) => DeliveryOutcome::Delivered,
            Some(410) => DeliveryOutcome::EndpointGone,
            _ => match next_retry(attempts, &self.settings.schedule, retry_after) {
                Some(wait) => DeliveryOutcome::Retry {
                    at: attempted_at + chrono::Duration::from_std(wait).unwrap_or_default(),
                },
                None => DeliveryOutcome::Failed,
            },
        };
        let result = match &outcome {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retry { .. } => "retry",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::EndpointGone => "endpoint_gone",
        };
        metrics::counter!("kindbrug_webhook_deliveries_total", "result" => result).increment(1);
        let next_attempt_at = match &outcome {
            DeliveryOutcome::Retry { at } => Some(*at),
            _ => None,
        };
        let attempt = AttemptRow {
            id: Uuid::now_v7(),
            delivery_id: job.delivery_id,
            message_id: job.message_id,
            endpoint_id: job.endpoint_id,
            attempted_at,
            status_code: status.map(i64::from),
            error,
            duration_ms: started.elapsed().as_millis() as i64,
            next_attempt_at,
        };
        DeliveryResult {
            job,
            outcome,
            attempt,
        }
    }

    /// One HTTP attempt: the status, and a `Retry-After` if the receiver sent one.
    async fn send(&self, job: &DeliveryJob) -> Result<(u16, Option<Duration>), String> {
        let url = self.policy.check_url(&job.url)?;
        // a FHIR Subscription is notified with an empty body (the receiver reads with its own
        // token); the signature covers the empty body as it would the event
        let empty = job.subscription.is_some();
        let payload = if empty {
            String::new()
        } else {
            body(
                &job.event_type,
                job.message_created_at,
                &job.data,
                &self.settings.base_url,
            )
        };
        let sent_at = chrono::Utc::now();
        let timestamp = sent_at.timestamp();
        let msg_id = format!("msg_{}", job.message_id.simple());
        // during a rotation's overlap both secrets sign; receivers accept either signature
        let signature = signatures(
            &job.signing,
            &job.signing_secrets(sent_at),
            &msg_id,
            timestamp,
            &payload,
        )
        .map_err(|e| e.to_string())?;
        let mut req = self.http.post(url);
        if !empty {
            req = req.header("content-type", "application/json");
        }
        let res = req
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(payload)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "could not connect".to_string()
                } else {
                    "request failed".to_string()
                }
            })?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        Ok((status, retry_after))
    }
}

/// Records results as they arrive: what finished while the last commit ran goes into the next
/// one. A failed commit is tried again (the outcomes are kept, not dropped); the relay's leases
/// keep the deliveries from being sent again meanwhile.
async fn record(
    store: DynStore,
    owner: String,
    mut rx: mpsc::Receiver<DeliveryResult>,
) -> StoreResult<()> {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut tries = 0u32;
        loop {
            match store.finish_deliveries(&owner, &batch).await {
                Ok(()) => break,
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, "could not record webhook attempts; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(tries))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
