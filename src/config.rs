//! Configuration, layered: built-in defaults → `kindbrug.toml` (or the file `KINDBRUG_CONFIG`
//! names) → `KINDBRUG_*` environment variables. Validated at start; secrets are `secrecy`
//! types and print as `[REDACTED]`.
//!
//! ```toml
//! # kindbrug.toml — every key is optional; shown with its default.
//! env = "development"                 # or "production": refuses the development token issuer
//! listen = "127.0.0.1:8080"
//! database_url = "sqlite://kindbrug.db" # or postgres://user:pass@host/db
//! database_max_connections = 16
//! # dev_jwt_secret = "at least 32 characters"   (KINDBRUG_DEV_JWT_SECRET)
//! # encryption_keys = "k2026:base64-of-32-bytes,k2025:…"   (KINDBRUG_ENCRYPTION_KEYS; `kindbrug keys generate`)
//! # encryption_key_id = "k2026"     the key new values are sealed with (default: the first)
//! # audit_signing_key = "a2026:base64-of-32-bytes"   (KINDBRUG_AUDIT_SIGNING_KEY; `kindbrug audit keygen`)
//! # smart_signing_keys = "t2026:base64-of-32-bytes,t2025:…"   (KINDBRUG_SMART_SIGNING_KEYS; `kindbrug keys smart`)
//! #                                   Ed25519 keys of SMART access tokens: the first signs, all verify
//! # audit_checkpoint_file = "/var/lib/kindbrug/audit-checkpoints.jsonl"  append-only, outside the database
//! audit_checkpoint_minutes = 5        # how often the access log's head is signed
//! oidc_issuers = []                   # e.g. ["https://login.example.nl/realms/zorg"]
//! # oidc_client_id = "kindbrug"        staff login in the browser at the first issuer (PKCE)
//! # oidc_client_secret = "…"           secret; KINDBRUG_OIDC_CLIENT_SECRET
//! oidc_scopes = []                    # besides openid: what puts org and roles in the ID token
//! audience = "kindbrug"
//! jwt_leeway_seconds = 30
//! max_token_lifetime_seconds = 86400  # a token valid longer than this from now is refused
//! jwks_min_refetch_seconds = 60       # unknown key ids refetch the JWKS at most this often
//! log_format = "text"                 # or "json"
//! request_timeout_seconds = 30
//! body_limit_bytes = 1048576
//! http_header_read_timeout_seconds = 10   # to send a request's headers; also ends idle keep-alive
//! http_idle_timeout_seconds = 60      # a connection on which nothing moves is closed
//! http_max_connections = 4096         # served at once; more wait in the listen backlog
//! http_max_header_bytes = 32768       # request line and headers together (431 above)
//! # public_base_url = "https://kindbrug.example.nl"   the address people and partners reach the
//! #   gateway at (parent links, webhook links); required in production, in development
//! #   http://<listen> by default
//! parent_link_failures_per_minute = 10  # unknown parent links one client address may try (429 above)
//! parent_invitation_days = 14        # a consent invitation link expires after this
//! parent_link_days = 90               # a standing parent link expires after this
//! answer_days_normal = 3             # working days (Europe/Amsterdam) to answer an offer
//! answer_days_high = 1
//! deadline_check_seconds = 30         # how often overdue offers move on
//! webhook_allowed_hosts = []          # non-empty: only these hosts receive webhooks
//! webhook_allow_private = false       # private address ranges (loopback is allowed in development)
//! webhook_timeout_seconds = 10
//! webhook_retry_schedule_seconds = [5, 300, 1800, 7200, 18000, 36000, 36000]
//! relay_enabled = true                # deliver webhooks from this process
//! # smtp_url = "smtp://127.0.0.1:25"   invitation mails (secret; KINDBRUG_SMTP_URL)
//! mail_from = "Kindbrug <noreply@kindbrug.invalid>"
//! mail_interval_seconds = 10
//! relay_lease_seconds = 60            # a crashed relay's deliveries are taken over after this
//! relay_batch = 200
//! relay_concurrency = 64
//! relay_per_endpoint = 16            # in flight to one endpoint at once (all relays together)
//! relay_poll_millis = 200
//! retention_interval_hours = 24      # the retention job runs this often
//! figures_refresh_minutes = 10        # policy figures take in changed records this often
//! demo_on_empty = true
//! # metrics_listen = "0.0.0.0:9090"  Prometheus /metrics on its own listener (not public);
//! #   unset: /metrics on the main listener
//! shutdown_grace_seconds = 5          # after SIGTERM: /readyz answers 503, requests still served
//! shutdown_timeout_seconds = 30       # then in-flight requests and jobs get this long to finish
//! max_in_flight_requests = 1024       # above this a request gets a fast 503, not a queue
//! trusted_proxies = []                # load balancers (IPs or CIDRs) whose X-Forwarded-For counts
//! auth_failures_per_minute = 30       # failed authentications one client address may make (429 above)
//! writes_per_minute_per_token = 1200  # changes one token or page session may make (429 above)
//! migrate_on_start = true             # false with several replicas: `kindbrug migrate` runs once
//! # Any key can also come from a file (a mounted secret): KINDBRUG_DATABASE_URL_FILE=/run/secrets/db
//!
//! [retention]                          # days; KINDBRUG_RETENTION__CONCERN_DAYS=… in the environment
//! concern_days = 730
//! ended_consent_days = 1825
//! youth_care_file_days = 7305         # at least 20 years (Jeugdwet art. 7.3.10)
//! meldcode_days = 1825
//! parent_link_days = 30
//! operational_days = 30               # webhook deliveries, idempotency keys
//! audit_days = 3650                   # at least 5 years (NEN 7513)                # development: `serve` loads the demo into an empty database
//! ```

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the gateway runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunEnv {
    #[default]
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The gateway's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub env: RunEnv,
    pub listen: String,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// Enables the HS256 development issuer `kindbrug-dev`. In development without it, a
    /// secret is generated once and kept in the database.
    pub dev_jwt_secret: Option<SecretString>,
    /// Keys for specialists' free text at rest: `kid:base64(32 bytes)`, comma-separated.
    /// Required in production; in development a key is generated and kept in the database.
    pub encryption_keys: Option<SecretString>,
    /// The key id new values are sealed with (default: the first key).
    pub encryption_key_id: Option<String>,
    /// Ed25519 key that signs the access log's checkpoints: `kid:base64(32 bytes)`. Kept out of
    /// the database (which is what it protects against). Required in production.
    pub audit_signing_key: Option<SecretString>,
    /// Ed25519 keys that sign SMART Backend Services access tokens: `kid:base64(32 bytes)`,
    /// comma-separated; the first signs, all verify (rotation). In production without it the
    /// token endpoint is off; in development a key is generated and kept in the database.
    pub smart_signing_keys: Option<SecretString>,
    /// Checkpoints are also appended to this file, one JSON line each.
    pub audit_checkpoint_file: Option<PathBuf>,
    pub audit_checkpoint_minutes: u64,
    /// Real token issuers, found by OIDC discovery.
    #[serde(deserialize_with = "string_or_list")]
    pub oidc_issuers: Vec<String>,
    /// The web login (OpenID Connect, authorization code with PKCE) at the first of
    /// `oidc_issuers`: this gateway's client id and secret there. Without them there is no
    /// staff login in production (development offers its own).
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<SecretString>,
    /// Scopes asked for at login besides `openid` (the ones that put `org` and `roles` in the
    /// ID token at your provider).
    #[serde(deserialize_with = "string_or_list")]
    pub oidc_scopes: Vec<String>,
    pub audience: String,
    pub jwt_leeway_seconds: u64,
    /// A bearer token whose `exp` lies further ahead than this is refused.
    pub max_token_lifetime_seconds: u64,
    /// An unknown key id makes the gateway refetch an issuer's keys at most this often.
    pub jwks_min_refetch_seconds: u64,
    pub log_format: LogFormat,
    pub request_timeout_seconds: u64,
    pub body_limit_bytes: usize,
    /// Time to send a request's headers, counted from when the connection is ready for one.
    pub http_header_read_timeout_seconds: u64,
    /// A connection on which no byte moves for this long is closed.
    pub http_idle_timeout_seconds: u64,
    /// Connections served at once.
    pub http_max_connections: usize,
    /// Largest request head (request line and headers).
    pub http_max_header_bytes: usize,
    /// Base of links the gateway hands out (parent links, webhook payloads): where people and
    /// partners reach it, behind any proxy. Required in production.
    pub public_base_url: Option<String>,
    /// Unknown parent links one client address may try per minute before it gets 429.
    pub parent_link_failures_per_minute: u32,
    /// How long a consent invitation link (one decision) stays valid.
    pub parent_invitation_days: i64,
    /// How long a standing parent link (consents, withdrawal, access log) stays valid.
    pub parent_link_days: i64,
    /// Working days a specialist has to answer an offer (normal and high urgency).
    pub answer_days_normal: u32,
    pub answer_days_high: u32,
    /// How often overdue offers are looked for and moved on.
    pub deadline_check_seconds: u64,
    /// Webhook destinations: when non-empty, only these host names.
    #[serde(deserialize_with = "string_or_list")]
    pub webhook_allowed_hosts: Vec<String>,
    /// Allow webhook destinations in private address ranges (never by default).
    pub webhook_allow_private: bool,
    pub webhook_timeout_seconds: u64,
    /// Waits between delivery attempts (seconds); about a day in all by default.
    pub webhook_retry_schedule_seconds: Vec<u64>,
    /// Run a webhook relay in this process.
    pub relay_enabled: bool,
    /// Where invitation mails go, e.g. `smtp://127.0.0.1:25` or `smtps://user:pass@host`;
    /// without it, development writes mails to the log and production keeps them queued.
    pub smtp_url: Option<SecretString>,
    /// The sender of invitation mails.
    pub mail_from: String,
    /// How often queued mails are sent.
    pub mail_interval_seconds: u64,
    pub relay_lease_seconds: u64,
    pub relay_batch: i64,
    pub relay_concurrency: usize,
    /// Deliveries in flight to one endpoint at once, counting every relay.
    pub relay_per_endpoint: usize,
    pub relay_poll_millis: u64,
    /// How long each kind of record is kept (`[retention]`; floors from the law are enforced).
    pub retention: crate::domain::retention::RetentionPolicy,
    /// How often the retention job runs.
    pub retention_interval_hours: u64,
    /// How often the policy figures' summaries are rebuilt.
    pub figures_refresh_minutes: u64,
    /// `serve` in development fills an empty database with the demo data.
    pub demo_on_empty: bool,
    /// A separate listener for `/metrics`; unset, it is on the main listener.
    pub metrics_listen: Option<String>,
    /// After SIGTERM, how long requests are still served while `/readyz` says 503, so the load
    /// balancer takes the replica out before it stops accepting.
    pub shutdown_grace_seconds: u64,
    /// Then how long in-flight requests and background jobs get to finish.
    pub shutdown_timeout_seconds: u64,
    /// Requests served at once; one more gets a fast 503 with `Retry-After`.
    pub max_in_flight_requests: usize,
    /// Proxies (IP addresses or CIDR ranges) whose `X-Forwarded-For` / `Forwarded` names the
    /// client; from any other peer those headers are ignored.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    /// Failed authentications (a bad, expired or unknown token; a refused SMART client) one
    /// client address may make a minute; above it, 429.
    pub auth_failures_per_minute: u32,
    /// Writes (POST, PUT, PATCH, DELETE) one bearer token or page session may make a minute (a
    /// burst of as many, then that rate); above it, 429. A runaway integration slows down
    /// instead of filling the database.
    pub writes_per_minute_per_token: u32,
    /// `serve` applies migrations at start. Off with several replicas: `kindbrug migrate` runs
    /// once (a Job), and a replica whose database is behind refuses to start.
    pub migrate_on_start: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            env: RunEnv::Development,
            listen: "127.0.0.1:8080".into(),
            database_url: SecretString::from("sqlite://kindbrug.db"),
            database_max_connections: 16,
            dev_jwt_secret: None,
            encryption_keys: None,
            encryption_key_id: None,
            audit_signing_key: None,
            smart_signing_keys: None,
            audit_checkpoint_file: None,
            audit_checkpoint_minutes: 5,
            oidc_issuers: Vec::new(),
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: Vec::new(),
            audience: "kindbrug".into(),
            jwt_leeway_seconds: 30,
            max_token_lifetime_seconds: 24 * 3600,
            jwks_min_refetch_seconds: 60,
            log_format: LogFormat::Text,
            request_timeout_seconds: 30,
            body_limit_bytes: 1024 * 1024,
            http_header_read_timeout_seconds: 10,
            http_idle_timeout_seconds: 60,
            http_max_connections: 4096,
            http_max_header_bytes: 32 * 1024,
            public_base_url: None,
            parent_link_failures_per_minute: 10,
            parent_invitation_days: 14,
            parent_link_days: 90,
            answer_days_normal: 3,
            answer_days_high: 1,
            deadline_check_seconds: 30,
            webhook_allowed_hosts: Vec::new(),
            webhook_allow_private: false,
            webhook_timeout_seconds: 10,
            webhook_retry_schedule_seconds: crate::webhooks::DEFAULT_SCHEDULE.to_vec(),
            relay_enabled: true,
            smtp_url: None,
            mail_from: "Kindbrug <noreply@kindbrug.invalid>".into(),
            mail_interval_seconds: 10,
            relay_lease_seconds: 60,
            relay_batch: 200,
            relay_concurrency: 64,
            relay_per_endpoint: 16,
            relay_poll_millis: 200,
            retention: crate::domain::retention::RetentionPolicy::default(),
            retention_interval_hours: 24,
            figures_refresh_minutes: 10,
            demo_on_empty: true,
            metrics_listen: None,
            shutdown_grace_seconds: 5,
            shutdown_timeout_seconds: 30,
            max_in_flight_requests: 1024,
            trusted_proxies: Vec::new(),
            auth_failures_per_minute: 30,
            writes_per_minute_per_token: 1200,
            migrate_on_start: true,
        }
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

/// `KINDBRUG_<KEY>_FILE=/path`: the value of `<KEY>` read from a file (a mounted secret), its
/// trailing newline removed. A file that cannot be read stops the start, naming the variable
/// (never the content).
/// Keys whose own name ends in `_file`: `KINDBRUG_AUDIT_CHECKPOINT_FILE` is the setting
/// itself, `KINDBRUG_AUDIT_CHECKPOINT_FILE_FILE` the setting read from a file.
const KEYS_NAMED_FILE: &[&str] = &["audit_checkpoint_file"];

/// Whether an environment key (without the prefix) names a file to read a setting from.
fn is_secret_file_variable(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with("_file") && !KEYS_NAMED_FILE.contains(&key.as_str())
}

fn secret_files() -> anyhow::Result<figment::providers::Serialized<figment::value::Dict>> {
    use figment::value::{Dict, Value};
    let mut values = Dict::new();
    for (name, path) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let Some(key) = name
            .strip_prefix("KINDBRUG_")
            .filter(|k| is_secret_file_variable(k))
            .and_then(|k| k.strip_suffix("_FILE"))
        else {
            continue;
        };
        if key.is_empty() || key == "CONFIG" {
            continue;
        }
        if std::env::var_os(format!("KINDBRUG_{key}")).is_some() {
            anyhow::bail!("configuration: both KINDBRUG_{key} and {name} are set; use one");
        }
        let content = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("configuration: {name}: could not read the file: {e}"))?;
        // read as the environment's value would be: `5` a number, `[a, b]` a list
        let value: Value = content
            .trim_end_matches(['\n', '\r'])
            .parse()
            .unwrap_or_else(|never| match never {});
        // nested keys as in the environment: RETENTION__CONCERN_DAYS
        let mut parts: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
        let last = parts.pop().unwrap_or_default();
        let mut at = &mut values;
        for p in parts {
            let entry = at.entry(p).or_insert_with(|| Value::from(Dict::new()));
            at = match entry {
                Value::Dict(_, d) => d,
                _ => anyhow::bail!("configuration: {name}: not a section"),
            };
        }
        at.insert(last, value);
    }
    Ok(figment::providers::Serialized::defaults(values))
}

/// Minimum length of the development HS256 secret.
pub const MIN_DEV_SECRET_LEN: usize = 32;

impl Config {
    /// Where webhooks may be sent.
    pub fn webhook_policy(&self) -> crate::webhooks::net::AddressPolicy {
        crate::webhooks::net::AddressPolicy {
            allowed_hosts: self.webhook_allowed_hosts.clone(),
            allow_private: self.webhook_allow_private,
            allow_loopback: self.env == RunEnv::Development,
            https_only: self.env == RunEnv::Production,
        }
    }

    /// The base of links handed out: the configured public URL, or in development the
    /// listening address.
    pub fn public_base(&self) -> String {
        match &self.public_base_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The listener's limits.
    pub fn server_limits(&self) -> crate::server::Limits {
        crate::server::Limits {
            header_read_timeout: std::time::Duration::from_secs(
                self.http_header_read_timeout_seconds,
            ),
            idle_timeout: std::time::Duration::from_secs(self.http_idle_timeout_seconds),
            max_connections: self.http_max_connections,
            max_header_bytes: self.http_max_header_bytes,
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout_seconds),
        }
    }

    /// How a webhook relay of this process works.
    pub fn relay_settings(&self) -> crate::webhooks::relay::RelaySettings {
        crate::webhooks::relay::RelaySettings {
            batch: self.relay_batch,
            concurrency: self.relay_concurrency,
            per_endpoint: self.relay_per_endpoint,
            lease: std::time::Duration::from_secs(self.relay_lease_seconds),
            poll: std::time::Duration::from_millis(self.relay_poll_millis),
            timeout: std::time::Duration::from_secs(self.webhook_timeout_seconds),
            schedule: self.webhook_retry_schedule_seconds.clone(),
            base_url: self.public_base(),
        }
    }

    /// Loads defaults → config file → environment, then validates.
    pub fn load() -> anyhow::Result<Self> {
        let file = std::env::var_os("KINDBRUG_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("kindbrug.toml"));
        let config: Config = Figment::new()
            .merge(Toml::file(file))
            .merge(
                Env::prefixed("KINDBRUG_")
                    .ignore(&["CONFIG", "REQUIRE_POSTGRES", "REQUIRE_WEBHOOK_VERIFIER"])
                    .filter(|k| !is_secret_file_variable(k.as_str()))
                    .split("__"),
            )
            .merge(secret_files()?)
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings together; every problem is named.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!("listen: {:?} is not host:port", self.listen));
        }
        let url = self.database_url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            problems.push("database_url: must start with sqlite: or postgres:".to_string());
        }
        if self.database_max_connections == 0 {
            problems.push("database_max_connections: must be at least 1".into());
        }
        if let Some(secret) = &self.dev_jwt_secret {
            if self.env == RunEnv::Production {
                problems.push(
                    "dev_jwt_secret: the development token issuer is refused in production; \
                     configure oidc_issuers instead"
                        .into(),
                );
            } else if secret.expose_secret().len() < MIN_DEV_SECRET_LEN {
                problems.push(format!(
                    "dev_jwt_secret: must be at least {MIN_DEV_SECRET_LEN} characters"
                ));
            }
        }
        if let Some(keys) = &self.smart_signing_keys {
            if let Err(e) = crate::auth::smart::TokenSigner::parse(keys) {
                problems.push(e.to_string());
            }
        }
        for issuer in &self.oidc_issuers {
            match url::Url::parse(issuer) {
                Ok(u) if u.scheme() == "https" => {}
                Ok(u) if u.scheme() == "http" && self.env == RunEnv::Development => {}
                _ => problems.push(format!(
                    "oidc_issuers: {issuer:?} must be an https URL (http only in development)"
                )),
            }
        }
        if let Some(keys) = &self.encryption_keys {
            if let Err(e) = crate::crypto::Keyring::parse(keys, self.encryption_key_id.as_deref()) {
                problems.push(e.to_string());
            }
        } else if self.env == RunEnv::Production {
            problems.push("encryption_keys: production needs a key for data at rest".into());
        }
        match &self.audit_signing_key {
            Some(key) => {
                if let Err(e) = crate::audit::checkpoint::AuditSigner::parse(key) {
                    problems.push(e.to_string());
                }
            }
            None if self.env == RunEnv::Production => problems.push(
                "audit_signing_key: production signs the access log's checkpoints with a key kept outside the database".into(),
            ),
            None => {}
        }
        if self.audit_checkpoint_minutes == 0 {
            problems.push("audit_checkpoint_minutes: at least 1".into());
        }
        if self.env == RunEnv::Production && self.oidc_issuers.is_empty() {
            problems.push("oidc_issuers: production needs at least one token issuer".into());
        }
        if !(60..=31 * 24 * 3600).contains(&self.max_token_lifetime_seconds) {
            problems.push("max_token_lifetime_seconds: 60 seconds to 31 days".into());
        }
        if self.audience.trim().is_empty() {
            problems.push("audience: must not be empty".into());
        }
        if self.request_timeout_seconds == 0 {
            problems.push("request_timeout_seconds: must be at least 1".into());
        }
        if self.http_header_read_timeout_seconds == 0
            || self.http_idle_timeout_seconds < self.http_header_read_timeout_seconds
        {
            problems.push(
                "http_header_read_timeout_seconds / http_idle_timeout_seconds: at least 1, idle not shorter than the header timeout"
                    .into(),
            );
        }
        if self.http_max_connections == 0 || !(4096..=1 << 20).contains(&self.http_max_header_bytes)
        {
            problems.push(
                "http_max_connections / http_max_header_bytes: at least 1 / 4096 to 1048576".into(),
            );
        }
        if self.body_limit_bytes < 1024 {
            problems.push("body_limit_bytes: must be at least 1024".into());
        }
        if !(1..=365).contains(&self.parent_invitation_days)
            || !(1..=730).contains(&self.parent_link_days)
        {
            problems.push("parent_invitation_days / parent_link_days: 1 to 365 / 730 days".into());
        }
        if self.answer_days_normal == 0
            || self.answer_days_high == 0
            || self.answer_days_high > self.answer_days_normal
        {
            problems.push(
                "answer_days_normal / answer_days_high: at least 1, high not longer than normal"
                    .into(),
            );
        }
        if self.webhook_retry_schedule_seconds.is_empty() || self.webhook_timeout_seconds == 0 {
            problems.push("webhook_retry_schedule_seconds / webhook_timeout_seconds: must not be empty / zero".into());
        }
        if self.relay_lease_seconds <= self.webhook_timeout_seconds {
            problems
                .push("relay_lease_seconds: must be longer than webhook_timeout_seconds".into());
        }
        if self.relay_batch < 1
            || self.relay_concurrency == 0
            || self.relay_per_endpoint == 0
            || self.deadline_check_seconds == 0
        {
            problems.push(
                "relay_batch / relay_concurrency / relay_per_endpoint / deadline_check_seconds: at least 1".into(),
            );
        }
        problems.extend(self.retention.problems());
        if self.figures_refresh_minutes == 0 {
            problems.push("figures_refresh_minutes: at least 1".into());
        }
        if self.retention_interval_hours == 0 {
            problems.push("retention_interval_hours: at least 1".into());
        }
        match &self.public_base_url {
            Some(u) => match url::Url::parse(u) {
                Ok(url) if url.scheme() == "https" || (url.scheme() == "http" && self.env == RunEnv::Development) => {}
                _ => problems.push("public_base_url: must be an https URL (http only in development)".into()),
            },
            None if self.env == RunEnv::Production => problems.push(
                "public_base_url: production needs the address people and partners reach the gateway at".into(),
            ),
            None => {}
        }
        if let Some(m) = &self.metrics_listen {
            if m.parse::<SocketAddr>().is_err() {
                problems.push(format!("metrics_listen: {m:?} is not host:port"));
            }
        }
        for p in &self.trusted_proxies {
            if let Err(e) = p.parse::<crate::gate::IpNet>() {
                problems.push(format!("trusted_proxies: {e}"));
            }
        }
        if self.max_in_flight_requests == 0 {
            problems.push("max_in_flight_requests: at least 1".into());
        }
        if self.auth_failures_per_minute == 0 {
            problems.push("auth_failures_per_minute: at least 1".into());
        }
        if self.writes_per_minute_per_token == 0 {
            problems.push("writes_per_minute_per_token: at least 1".into());
        }
        if self.shutdown_timeout_seconds == 0 {
            problems.push("shutdown_timeout_seconds: at least 1".into());
        }
        if self.parent_link_failures_per_minute == 0 {
            problems.push("parent_link_failures_per_minute: at least 1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "))
        }
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen.parse().expect("validated")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_secrets_are_redacted() {
        let c = Config {
            dev_jwt_secret: Some(SecretString::from("x".repeat(40))),
            database_url: SecretString::from("postgres://u:hunter2@db/kb"),
            ..Config::default()
        };
        c.validate().unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains(&"x".repeat(40)));
    }

    #[test]
    fn production_refuses_the_development_issuer() {
        let c = Config {
            env: RunEnv::Production,
            dev_jwt_secret: Some(SecretString::from("x".repeat(40))),
            oidc_issuers: vec!["https://idp.example.nl".into()],
            ..Config::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("refused in production"), "{err}");
        assert!(err.contains("public_base_url"), "{err}");
    }

    #[test]
    fn links_are_built_on_the_public_address() {
        let dev = Config {
            listen: "0.0.0.0:9000".into(),
            ..Config::default()
        };
        assert_eq!(dev.public_base(), "http://0.0.0.0:9000");
        let behind_proxy = Config {
            public_base_url: Some("https://kindbrug.example.nl/".into()),
            ..dev
        };
        assert_eq!(behind_proxy.public_base(), "https://kindbrug.example.nl");
    }

    #[test]
    fn names_each_problem() {
        let c = Config {
            listen: "nope".into(),
            database_url: SecretString::from("mysql://x"),
            dev_jwt_secret: Some(SecretString::from("short")),
            ..Config::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("listen")
                && err.contains("database_url")
                && err.contains("dev_jwt_secret")
        );
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "kindbrug.toml",
                "listen = \"127.0.0.1:9000\"\naudience = \"from-file\"",
            )?;
            jail.set_env("KINDBRUG_AUDIENCE", "from-env");
            jail.set_env(
                "KINDBRUG_OIDC_ISSUERS",
                "https://a.example, https://b.example",
            );
            let c = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:9000");
            assert_eq!(c.audience, "from-env");
            assert_eq!(c.oidc_issuers, ["https://a.example", "https://b.example"]);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail takes figment's own error
    fn a_secret_comes_from_a_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("db-url", "postgres://kindbrug:geheim@db/kindbrug\n")?;
            jail.create_file("days", "800\n")?;
            let dir = jail.directory().to_path_buf();
            jail.set_env("KINDBRUG_DATABASE_URL_FILE", dir.join("db-url").display());
            jail.set_env(
                "KINDBRUG_RETENTION__CONCERN_DAYS_FILE",
                dir.join("days").display(),
            );
            jail.set_env("KINDBRUG_TRUSTED_PROXIES", "10.0.0.0/8");
            // a setting whose own name ends in _FILE is a setting, not a file to read
            jail.set_env(
                "KINDBRUG_AUDIT_CHECKPOINT_FILE",
                "/var/lib/kindbrug/cp.jsonl",
            );
            let c = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(
                c.database_url.expose_secret(),
                "postgres://kindbrug:geheim@db/kindbrug"
            );
            assert_eq!(c.retention.concern_days, 800);
            assert_eq!(c.trusted_proxies, ["10.0.0.0/8"]);
            assert_eq!(
                c.audit_checkpoint_file.as_deref(),
                Some(std::path::Path::new("/var/lib/kindbrug/cp.jsonl"))
            );
            // a file that is not there stops the start and names the variable, not a value
            jail.set_env("KINDBRUG_SMTP_URL_FILE", dir.join("missing").display());
            let e = Config::load().unwrap_err().to_string();
            assert!(e.contains("KINDBRUG_SMTP_URL_FILE"), "{e}");
            Ok(())
        });
    }
}
