//! Kindbrug: an interoperability gateway between childcare (*kinderopvang*) and youth-care
//! specialists (*jeugdhulp*), following the Alert4you model. This crate builds the whole
//! application from a [`Config`]; the binary and the tests both use it.

#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod error;
pub mod fhir;
pub mod gate;
pub mod jobs;
pub mod ratelimit;
pub use service::retention;
pub mod scale;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod webhooks;

pub use config::Config;

use anyhow::Context;
use auth::{Authenticator, DevIssuer};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use store::DynStore;
use tokio::net::TcpListener;

/// Shared state of every request handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: DynStore,
    pub auth: Arc<Authenticator>,
    /// Keys for free text at rest.
    pub keys: Arc<crypto::Keyring>,
    /// Unknown parent links tried per client address.
    pub parent_link_failures: Arc<ratelimit::RateLimiter>,
    /// Signs the access log's checkpoints.
    pub audit_signer: Arc<audit::checkpoint::AuditSigner>,
    /// SMART Backend Services: the access-token keys (none: the token endpoint is off) and
    /// the key sets of clients registered with a `jwks_uri`.
    pub smart: Option<Arc<auth::smart::TokenSigner>>,
    pub client_keys: Arc<auth::smart::JwksCache>,
    /// What every request passes first: client address, in-flight cap, the brake on failed
    /// authentication, and whether this replica is shutting down.
    pub gate: Arc<gate::Gate>,
    /// Whom callers are, remembered while the store's scope version holds.
    pub scope_cache: Arc<auth::principal::ScopeCache>,
}

/// Name of the setting holding the generated development signing secret.
const DEV_SECRET_SETTING: &str = "dev_jwt_secret";

/// Opens the database named in the configuration and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<DynStore> {
    let store = connect_store(config).await?;
    store
        .migrate()
        .await
        .context("could not apply database migrations")?;
    Ok(store)
}

/// Opens the database named in the configuration, without migrating.
pub async fn connect_store(config: &Config) -> anyhow::Result<DynStore> {
    let url = config.database_url.expose_secret();
    store::connect(url, config.database_max_connections)
        .await
        .context("could not open the database")
}

/// The development issuer's secret: configured, or in development generated once and kept
/// in the database so `serve`, `demo` and `token` agree. Never in production.
pub async fn dev_secret(config: &Config, store: &DynStore) -> anyhow::Result<Option<SecretString>> {
    if let Some(s) = &config.dev_jwt_secret {
        return Ok(Some(s.clone()));
    }
    if config.env == config::RunEnv::Production {
        return Ok(None);
    }
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let value = store
        .setting_or_insert(DEV_SECRET_SETTING, &hex::encode(bytes))
        .await?;
    Ok(Some(SecretString::from(value)))
}

/// Name of the setting holding the generated development encryption key.
const DEV_KEY_SETTING: &str = "dev_encryption_key";

/// The encryption keys: configured, or in development generated once and kept in the database
/// (which defeats encryption at rest: development only, and said so in the log).
pub async fn keyring(config: &Config, store: &DynStore) -> anyhow::Result<crypto::Keyring> {
    if let Some(keys) = &config.encryption_keys {
        return Ok(crypto::Keyring::parse(
            keys,
            config.encryption_key_id.as_deref(),
        )?);
    }
    anyhow::ensure!(
        config.env == config::RunEnv::Development,
        "encryption_keys must be configured in production"
    );
    let value = store
        .setting_or_insert(DEV_KEY_SETTING, &crypto::Keyring::generate("dev"))
        .await?;
    tracing::warn!("no encryption_keys configured: using a development key kept in the database");
    Ok(crypto::Keyring::parse(&SecretString::from(value), None)?)
}

/// Name of the setting holding the generated development checkpoint key.
const DEV_AUDIT_KEY_SETTING: &str = "dev_audit_signing_key";

/// The key that signs the access log's checkpoints: configured, or in development generated
/// once and kept in the database (which defeats its purpose: development only, and logged).
pub async fn audit_signer(
    config: &Config,
    store: &DynStore,
) -> anyhow::Result<audit::checkpoint::AuditSigner> {
    if let Some(key) = &config.audit_signing_key {
        return Ok(audit::checkpoint::AuditSigner::parse(key)?);
    }
    anyhow::ensure!(
        config.env == config::RunEnv::Development,
        "audit_signing_key must be configured in production"
    );
    let value = store
        .setting_or_insert(
            DEV_AUDIT_KEY_SETTING,
            &audit::checkpoint::AuditSigner::generate("dev"),
        )
        .await?;
    tracing::warn!("no audit_signing_key configured: checkpoints are signed with a development key kept in the database");
    Ok(audit::checkpoint::AuditSigner::parse(&SecretString::from(
        value,
    ))?)
}

/// Name of the setting holding the generated development SMART signing key.
const DEV_SMART_KEY_SETTING: &str = "dev_smart_signing_key";

/// The keys that sign SMART access tokens: configured, or in development generated once and
/// kept in the database (so replicas and restarts agree). In production without keys the token
/// endpoint is off.
pub async fn smart_signer(
    config: &Config,
    store: &DynStore,
) -> anyhow::Result<Option<auth::smart::TokenSigner>> {
    if let Some(keys) = &config.smart_signing_keys {
        return Ok(Some(auth::smart::TokenSigner::parse(keys)?));
    }
    if config.env == config::RunEnv::Production {
        tracing::info!("no smart_signing_keys configured: the SMART token endpoint is off");
        return Ok(None);
    }
    let value = store
        .setting_or_insert(
            DEV_SMART_KEY_SETTING,
            &auth::smart::TokenSigner::generate("dev"),
        )
        .await?;
    Ok(Some(auth::smart::TokenSigner::parse(&SecretString::from(
        value,
    ))?))
}

/// Where this gateway exports the access log's checkpoints.
pub fn checkpoint_export(config: &Config) -> audit::checkpoint::CheckpointExport {
    audit::checkpoint::CheckpointExport {
        file: config.audit_checkpoint_file.clone(),
    }
}

/// Builds the application state: database, token issuers, encryption keys.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    // the recorder first, so every series counts from the start
    telemetry::prometheus();
    let store = if config.migrate_on_start {
        open_store(&config).await?
    } else {
        // several replicas: `kindbrug migrate` ran once; a database that is behind keeps
        // this replica not ready rather than half-working
        let store = connect_store(&config).await?;
        anyhow::ensure!(
            store.ready().await,
            "the database is not migrated to this version: run `kindbrug migrate` first \
             (migrate_on_start is off)"
        );
        store
    };
    let dev = dev_secret(&config, &store).await?.map(DevIssuer::new);
    let keys = keyring(&config, &store).await?;
    let signer = audit_signer(&config, &store).await?;
    let sealed = retention::seal_legacy(&store, &keys).await?;
    if sealed > 0 {
        tracing::info!(
            rows = sealed,
            "sealed free text that older rows held in the clear"
        );
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("kindbrug/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let oidc = config
        .oidc_issuers
        .iter()
        .map(|i| {
            auth::oidc::OidcIssuer::new(
                i,
                http.clone(),
                Duration::from_secs(config.jwks_min_refetch_seconds),
            )
        })
        .collect();
    let auth = Authenticator::new(
        dev,
        oidc,
        config.audience.clone(),
        config.jwt_leeway_seconds,
        config.max_token_lifetime_seconds,
    );
    let smart = smart_signer(&config, &store).await?.map(Arc::new);
    let auth = match &smart {
        Some(signer) => auth.with_smart(signer.clone()),
        None => auth,
    };
    auth.warm_up().await;
    // client key sets are fetched under the webhook address policy: no reaching into the
    // gateway's own network through a registered URI
    let policy = Arc::new(config.webhook_policy());
    let jwks_http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .user_agent(concat!("kindbrug/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(webhooks::net::GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let client_keys = Arc::new(auth::smart::JwksCache::new(
        jwks_http,
        Duration::from_secs(config.jwks_min_refetch_seconds),
    ));
    Ok(AppState {
        smart,
        client_keys,
        gate: Arc::new(gate::Gate::new(&config)),
        scope_cache: Arc::default(),
        audit_signer: Arc::new(signer),
        parent_link_failures: Arc::new(ratelimit::RateLimiter::new(
            "parent_links",
            config.parent_link_failures_per_minute,
        )),
        config: Arc::new(config),
        store,
        auth: Arc::new(auth),
        keys: Arc::new(keys),
    })
}

/// Serves the API on `listener` until `shutdown` completes, then drains in-flight requests.
/// Runs no background jobs (see [`serve_with_jobs`]).
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_inner(state, listener, shutdown, None).await
}

/// Serves the API and runs the background jobs (`jobs`) until `shutdown` completes; then
/// drains in-flight requests and lets each job finish its round before the store closes.
pub async fn serve_with_jobs(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    schedule: &jobs::Schedule,
) -> anyhow::Result<()> {
    serve_inner(state, listener, shutdown, Some(schedule)).await
}

async fn serve_inner(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    schedule: Option<&jobs::Schedule>,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = match schedule {
        Some(s) => jobs::spawn(&state, s, stopped.clone())?,
        None => Vec::new(),
    };
    let separate_metrics = state.config.metrics_listen.clone();
    let app = api::router(
        state.clone(),
        web::routes(&state).merge(fhir::routes(&state)),
    );
    let metrics_server = match &separate_metrics {
        Some(addr) => {
            let metrics_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("could not listen on {addr} for metrics"))?;
            tracing::info!(addr = %metrics_listener.local_addr()?, "metrics listening");
            let mut until = stopped.clone();
            let app = api::metrics_router(state.clone());
            Some(tokio::spawn(async move {
                let _ = axum::serve(
                    metrics_listener,
                    app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = until.wait_for(|s| *s).await;
                })
                .await;
            }))
        }
        None => None,
    };
    tracing::info!(addr = %listener.local_addr()?, backend = state.store.backend(), jobs = running.len(), "kindbrug listening");
    // On the signal: /readyz says 503 at once, requests are still served through the grace
    // period (the load balancer takes the replica out meanwhile), then the listener closes,
    // in-flight requests get the shutdown timeout to finish, and the jobs stop at a safe point
    // (the relay hands back the deliveries it leased and did not start).
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    let gate = state.gate.clone();
    let mut limits = state.config.server_limits();
    limits.shutdown_timeout = Duration::from_secs(state.config.shutdown_timeout_seconds);
    let served = server::serve(listener, app, limits, async move {
        shutdown.await;
        gate.start_draining();
        if !grace.is_zero() {
            tracing::info!(
                seconds = grace.as_secs(),
                "draining: readyz answers 503; still serving"
            );
            tokio::time::sleep(grace).await;
        }
        tracing::info!("no longer accepting connections; finishing requests in flight");
        let _ = stop.send(true);
    })
    .await;
    let deadline = Duration::from_secs(state.config.shutdown_timeout_seconds.max(1));
    for job in running {
        if tokio::time::timeout(deadline, job).await.is_err() {
            tracing::warn!(
                seconds = deadline.as_secs(),
                "a background job did not finish within the shutdown timeout"
            );
        }
    }
    if let Some(m) = metrics_server {
        let _ = tokio::time::timeout(Duration::from_secs(2), m).await;
    }
    state.store.close().await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
