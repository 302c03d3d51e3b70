//! Logging setup: human-readable text by default, JSON lines in production deployments.
//! Payloads are never logged; handlers are instrumented with `skip_all`. Log lines go to
//! standard error, so what a command prints (a token, a key, a report) is alone on standard
//! output.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("KINDBRUG_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The process's Prometheus recorder, installed on first use (one per process: the tests'
/// many gateways share it, as replicas would not).
pub fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already: /metrics stays empty");
        }
        // Histogram samples wait in the recorder until an upkeep folds them into the buckets.
        // Left to the scrapes alone, a gateway nobody scrapes keeps every request's latency:
        // the soak showed the process growing by some 2 MB a minute at 900 req/s. Folded here
        // every few seconds, whoever scrapes and however often.
        let upkeep = handle.clone();
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "the metrics upkeep did not start: histograms fold only when /metrics is read");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "kindbrug_http_requests_total",
        "Requests by matched route, method and status"
    );
    describe_histogram!(
        "kindbrug_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a request, by matched route, method and status"
    );
    describe_counter!(
        "kindbrug_refused_total",
        "Requests refused before any work: in_flight (503), auth_failures, parent_links and writes (429)"
    );
    describe_gauge!(
        "kindbrug_db_pool_connections",
        "Database connections by pool and state (open, idle, in_use, max)"
    );
    describe_gauge!(
        "kindbrug_db_pool_waiting",
        "Write transactions waiting for a connection of their pool (and its BEGIN)"
    );
    describe_histogram!(
        "kindbrug_db_acquire_seconds",
        Unit::Seconds,
        "Time a write transaction waited for its connection and BEGIN"
    );
    describe_gauge!(
        "kindbrug_outbox_backlog",
        "Webhook deliveries waiting or in flight"
    );
    describe_gauge!(
        "kindbrug_outbox_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest message with an undelivered delivery (0: none)"
    );
    describe_counter!(
        "kindbrug_webhook_deliveries_total",
        "Delivery attempts by result (delivered, retry, failed)"
    );
    describe_counter!(
        "kindbrug_job_runs_total",
        "Background job rounds by job and result (ok, failed)"
    );
    describe_gauge!(
        "kindbrug_job_last_success_timestamp_seconds",
        Unit::Seconds,
        "When each background job last finished a round without error"
    );
    describe_histogram!(
        "kindbrug_audit_append_seconds",
        Unit::Seconds,
        "Time to make a batch of access-log entries durable"
    );
    describe_gauge!(
        "kindbrug_audit_pending",
        "Access-log entries committed but not yet chained by the chainer (PostgreSQL)"
    );
    describe_gauge!(
        "kindbrug_audit_pending_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest access-log entry waiting for the chainer (0: none)"
    );
    describe_histogram!(
        "kindbrug_audit_chain_seconds",
        Unit::Seconds,
        "Time of one chaining pass (chaining pending access-log entries)"
    );
    describe_counter!(
        "kindbrug_audit_chained_total",
        "Access-log entries chained by this replica's chainer"
    );
    describe_counter!(
        "kindbrug_principal_cache_total",
        "Principal lookups by result (hit: served while the scope version held; miss: loaded)"
    );
    describe_gauge!(
        "kindbrug_audit_checkpoint_age_seconds",
        Unit::Seconds,
        "Age of the access log's newest signed checkpoint (-1: none yet)"
    );
    describe_gauge!(
        "kindbrug_draining",
        "1 while the replica shuts down (readyz answers 503)"
    );
}

/// The Prometheus text: the counters and histograms kept as requests and jobs go, and the
/// gauges read from the database now. No series names a child, a person or free text.
pub async fn render(state: &crate::AppState) -> String {
    let handle = prometheus();
    match crate::service::ops_stats(state).await {
        Ok(stats) => {
            for p in &stats.pools {
                let g = |kind: &'static str, v: u32| {
                    metrics::gauge!("kindbrug_db_pool_connections", "pool" => p.name, "state" => kind)
                        .set(f64::from(v))
                };
                g("max", p.max);
                g("open", p.open);
                g("idle", p.idle);
                g("in_use", p.open.saturating_sub(p.idle));
            }
            let now = chrono::Utc::now();
            metrics::gauge!("kindbrug_outbox_backlog").set(stats.outbox_backlog as f64);
            let age = |t: Option<chrono::DateTime<chrono::Utc>>, none: f64| {
                t.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(none)
            };
            metrics::gauge!("kindbrug_outbox_oldest_age_seconds")
                .set(age(stats.outbox_oldest, 0.0));
            metrics::gauge!("kindbrug_audit_checkpoint_age_seconds")
                .set(age(stats.last_checkpoint, -1.0));
            metrics::gauge!("kindbrug_audit_pending").set(stats.audit_pending as f64);
            metrics::gauge!("kindbrug_audit_pending_oldest_age_seconds")
                .set(age(stats.audit_pending_oldest, 0.0));
            metrics::gauge!("kindbrug_db_up").set(1.0);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database did not answer");
            metrics::gauge!("kindbrug_db_up").set(0.0);
        }
    }
    metrics::gauge!("kindbrug_draining").set(if state.gate.draining() { 1.0 } else { 0.0 });
    handle.run_upkeep();
    handle.render()
}
