//! The relay: leases due deliveries from the outbox, sends them signed, and records each
//! attempt. Several relays (on several replicas) can run at once: the store never leases one
//! delivery to two of them, and a relay that dies mid-delivery loses nothing: its lease runs
//! out and another relay sends the delivery again (receivers deduplicate on `webhook-id`).

use super::net::{AddressPolicy, GuardedResolver};
use super::{body, next_retry, parse_retry_after, sign};
use crate::domain::calendar::now;
use crate::store::{
    AttemptRow, DeliveryJob, DeliveryOutcome, DeliveryResult, DynStore, StoreResult,
};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// How a relay works.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    pub batch: i64,
    pub concurrency: usize,
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
            .pool_max_idle_per_host(settings.concurrency)
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

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let sent = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook relay could not work the outbox");
                    0
                }
            };
            if sent == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// Leases one batch, delivers it, records the outcomes; returns how many were attempted.
    pub async fn run_once(&self) -> StoreResult<usize> {
        let jobs = self.claim().await?;
        let n = jobs.len();
        if n > 0 {
            let results = self.deliver_all(jobs).await;
            self.store.finish_deliveries(&self.owner, &results).await?;
        }
        Ok(n)
    }

    /// Leases a batch (exposed so a test can stop a relay between leasing and recording).
    pub async fn claim(&self) -> StoreResult<Vec<DeliveryJob>> {
        let at = now();
        let until = at + chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
        self.store
            .claim_deliveries(&self.owner, at, until, self.settings.batch)
            .await
    }

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
        let payload = body(
            &job.event_type,
            job.message_created_at,
            &job.data,
            &self.settings.base_url,
        );
        let timestamp = chrono::Utc::now().timestamp();
        let msg_id = format!("msg_{}", job.message_id.simple());
        let signature = sign(&job.signing, &job.secret, &msg_id, timestamp, &payload)
            .map_err(|e| e.to_string())?;
        let res = self
            .http
            .post(url)
            .header("content-type", "application/json")
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
