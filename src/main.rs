//! The `kindbrug` command: serve the gateway and operate it.

#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use kindbrug::auth::DevIssuer;
use kindbrug::Config;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "kindbrug",
    version,
    about = "Childcare ↔ youth-care consultation gateway (Alert4you model)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP gateway (applies migrations first). In development, an empty database is
    /// filled with the demo data and a token per role is printed (`demo_on_empty = false` to skip).
    Serve {
        /// Load the demo data first even when the database is not empty (development only).
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// SQLite: write a consistent copy of the database to FILE while the gateway keeps
    /// running (`VACUUM INTO`). PostgreSQL: says how (pg_dump, WAL archiving) and exits 2.
    Backup {
        /// Where the copy goes; must not exist yet.
        file: PathBuf,
    },
    /// Print a development token (development issuer; never in production).
    Token {
        #[arg(long)]
        sub: String,
        /// A role; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The Kindbrug organisation id (absent for admin).
        #[arg(long)]
        org: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Fill the database with a small realistic demo and print a token per role.
    Demo {
        /// Instead: a national-size synthetic dataset of this many consultation requests (with
        /// 3 visits and 2 consent records each, over five years, 42 regions) for the figures.
        #[arg(long)]
        scale: Option<usize>,
    },
    /// The NEN 7513 access log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Youth-care region reference data.
    Regions {
        #[command(subcommand)]
        command: RegionsCommand,
    },
    /// Retention: remove what is past its period (also runs daily inside `serve`).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Re-encrypt every sealed value under the active key (after adding a new key).
    Reencrypt,
    /// Policy figures.
    Figures {
        #[command(subcommand)]
        command: FiguresCommand,
    },
    /// Encryption keys for data at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Purge what is past its retention period and carry out early-destruction requests.
    Run,
}

#[derive(Subcommand)]
enum FiguresCommand {
    /// Bring the summaries the figures are read from up to date: the half-years whose records
    /// changed since the last refresh (also runs inside `serve`).
    Refresh {
        /// Recompute every half-year.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new random AES-256 key as `kid:base64`, for `encryption_keys`.
    Generate {
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// Print a new Ed25519 key for smart_signing_keys (SMART access tokens). To rotate, put the
    /// new key first and keep the old one after it for at least five minutes.
    Smart {
        #[arg(long, default_value = "t1")]
        id: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain, and the chain against the signed checkpoints: names the
    /// first entry that was edited, deleted, reordered or rewritten, and truncation at either end.
    Verify {
        /// Signed checkpoints kept outside the database (the export file, or lines collected
        /// from the log), one JSON object a line; checked besides the database's own.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// Public key(s) the checkpoints are signed with (`kid:base64`, comma-separated);
        /// default: that of the configured audit_signing_key.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Sign a checkpoint of the chain's head now (also done every few minutes inside `serve`).
    Checkpoint,
    /// Print a new Ed25519 key for audit_signing_key, and its public key for verifiers.
    Keygen {
        #[arg(long, default_value = "a1")]
        id: String,
    },
    /// Print the public key of the configured audit_signing_key (give it to whoever verifies).
    PublicKey,
}

#[derive(Subcommand)]
enum RegionsCommand {
    /// Import a municipality → region CSV (our header or the CBS labels).
    Import {
        file: PathBuf,
        /// Validity start for files without a valid_from column.
        #[arg(long)]
        valid_from: Option<chrono::NaiveDate>,
    },
}

fn dev_issuer_or_fail(secret: Option<secrecy::SecretString>) -> anyhow::Result<DevIssuer> {
    secret
        .map(DevIssuer::new)
        .context("the development token issuer is not available (production, or KINDBRUG_DEV_JWT_SECRET unset)")
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    kindbrug::telemetry::init(config.log_format);
    match run(cli, config).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { demo } => {
            let listener = tokio::net::TcpListener::bind(config.listen_addr())
                .await
                .with_context(|| format!("could not listen on {}", config.listen))?;
            let audience = config.audience.clone();
            let is_dev = config.env == kindbrug::config::RunEnv::Development;
            let demo_on_empty = config.demo_on_empty;
            let state = kindbrug::build_state(config).await?;
            let empty = state
                .store
                .list_organizations(kindbrug::store::Page {
                    after: None,
                    limit: 1,
                })
                .await?
                .is_empty();
            if demo || (is_dev && demo_on_empty && empty) {
                anyhow::ensure!(is_dev, "--demo is for development only");
                let ids = kindbrug::demo::load(&state).await?;
                let issuer = state.auth.dev_issuer().context("no development issuer")?;
                println!(
                    "{}",
                    kindbrug::demo::summary(
                        &ids,
                        issuer,
                        &audience,
                        Duration::from_secs(12 * 3600)
                    )
                );
            }
            let schedule = kindbrug::jobs::Schedule::from_config(&state.config);
            kindbrug::serve_with_jobs(state, listener, kindbrug::shutdown_signal(), &schedule)
                .await?;
        }
        Command::Backup { file } => {
            // a mistyped path must not become a new, empty database whose "backup" succeeds
            let url = secrecy::ExposeSecret::expose_secret(&config.database_url).to_string();
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                let path = path.split('?').next().unwrap_or(path);
                anyhow::ensure!(
                    std::path::Path::new(path).exists(),
                    "no database at {path}: nothing to back up"
                );
            }
            let store = kindbrug::connect_store(&config).await?;
            if store.backend() == "postgres" {
                store.close().await;
                eprintln!(
                    "kindbrug backup copies a SQLite database. For PostgreSQL use its own tools \
                     (see README, \"Backup and restore\"):\n  \
                     pg_dump --format=custom --file=kindbrug.dump \"$DATABASE_URL\"\n  \
                     pg_restore --clean --if-exists --no-owner --dbname=\"$DATABASE_URL\" kindbrug.dump\n\
                     and for point-in-time recovery, WAL archiving (archive_mode, archive_command) \
                     with a base backup (pg_basebackup)."
                );
                std::process::exit(2);
            }
            anyhow::ensure!(
                store.ready().await,
                "the database is not a migrated Kindbrug database: nothing to back up"
            );
            anyhow::ensure!(
                !file.exists(),
                "{} exists already; a backup is never written over a file",
                file.display()
            );
            let started = std::time::Instant::now();
            let result = store.backup_to(&file).await;
            store.close().await;
            result.with_context(|| format!("could not write the backup to {}", file.display()))?;
            let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            println!(
                "backup written to {} ({:.1} MB in {:.1} s); check it with \
                 KINDBRUG_DATABASE_URL=sqlite://{} kindbrug audit verify",
                file.display(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64(),
                file.display()
            );
        }
        Command::Migrate => {
            let store = kindbrug::open_store(&config).await?;
            println!("migrations applied ({})", store.backend());
            store.close().await;
        }
        Command::Token {
            sub,
            roles,
            org,
            ttl,
        } => {
            let store = kindbrug::open_store(&config).await?;
            let issuer = dev_issuer_or_fail(kindbrug::dev_secret(&config, &store).await?)?;
            store.close().await;
            for r in &roles {
                r.parse::<kindbrug::domain::types::Role>()
                    .map_err(|_| anyhow::anyhow!("unknown role {r:?}"))?;
            }
            if let Some(o) = &org {
                o.parse::<uuid::Uuid>()
                    .context("--org must be an organisation id (UUID)")?;
            }
            println!(
                "{}",
                issuer.mint(
                    &config.audience,
                    &sub,
                    &roles,
                    org.as_deref(),
                    Duration::from_secs(ttl)
                )
            );
        }
        Command::Demo { scale: Some(n) } => {
            let store = kindbrug::open_store(&config).await?;
            let started = std::time::Instant::now();
            let keys = kindbrug::keyring(&config, &store).await?;
            let g = kindbrug::scale::generate(store.as_ref(), &keys, n, 2026).await?;
            println!(
                "generated {} requests, {} visits, {} consent records in {:.0} s",
                g.consultations,
                g.visits,
                g.consents,
                started.elapsed().as_secs_f64()
            );
            // the figures answer from their summaries: build them now rather than on first use
            let started = std::time::Instant::now();
            let r = store
                .refresh_figures(kindbrug::domain::calendar::now(), true)
                .await?;
            store.close().await;
            println!(
                "figures summarised: {} rows in {:.0} s",
                r.rows,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Demo { scale: None } => {
            let audience = config.audience.clone();
            let state = kindbrug::build_state(config).await?;
            let issuer = state
                .auth
                .dev_issuer()
                .context("demo data is for development: no development issuer")?;
            let ids = kindbrug::demo::load(&state).await?;
            println!(
                "{}",
                kindbrug::demo::summary(&ids, issuer, &audience, Duration::from_secs(12 * 3600))
            );
            state.store.close().await;
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    checkpoints,
                    public_key,
                },
        } => {
            let store = kindbrug::open_store(&config).await?;
            let given = match &checkpoints {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("could not read {}", path.display()))?;
                    kindbrug::audit::checkpoint::parse_lines(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                }
                None => Vec::new(),
            };
            let verifier = match &public_key {
                Some(k) => kindbrug::audit::checkpoint::CheckpointVerifier::parse(k)?,
                None => kindbrug::audit_signer(&config, &store).await?.verifier(),
            };
            let result =
                kindbrug::audit::verify::verify_with_checkpoints(store.as_ref(), &given, &verifier)
                    .await;
            store.close().await;
            match result? {
                Ok(v) => {
                    println!("access log intact: {} entries verified", v.entries);
                    match v.newest_checkpoint {
                        Some(seq) => println!(
                            "{} signed checkpoints agree; the newest proves entries up to {seq} of {}",
                            v.checkpoints, v.head
                        ),
                        None => println!(
                            "no signed checkpoints: removal from either end and recomputation of the chain cannot be detected"
                        ),
                    }
                }
                Err(brk) => {
                    println!("access log BROKEN: {brk}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => {
            let store = kindbrug::open_store(&config).await?;
            let signer = kindbrug::audit_signer(&config, &store).await?;
            let cp = kindbrug::audit::checkpoint::take(
                store.as_ref(),
                &signer,
                &kindbrug::checkpoint_export(&config),
                true,
            )
            .await?;
            store.close().await;
            match cp {
                Some(cp) => println!("{}", serde_json::to_string(&cp)?),
                None => println!("the access log is empty"),
            }
        }
        Command::Audit {
            command: AuditCommand::Keygen { id },
        } => {
            let key = kindbrug::audit::checkpoint::AuditSigner::generate(&id);
            let signer = kindbrug::audit::checkpoint::AuditSigner::parse(&key.clone().into())?;
            println!("audit_signing_key = {key}");
            println!(
                "public key (for audit verify --public-key) = {}",
                signer.public_key()
            );
        }
        Command::Audit {
            command: AuditCommand::PublicKey,
        } => {
            let store = kindbrug::open_store(&config).await?;
            let signer = kindbrug::audit_signer(&config, &store).await?;
            store.close().await;
            println!("{}", signer.public_key());
        }
        Command::Retention {
            command: RetentionCommand::Run,
        } => {
            let store = kindbrug::open_store(&config).await?;
            let signer = kindbrug::audit_signer(&config, &store).await?;
            let report = kindbrug::retention::run(
                &store,
                &config.retention,
                &signer,
                &kindbrug::checkpoint_export(&config),
            )
            .await?;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Figures {
            command: FiguresCommand::Refresh { full },
        } => {
            let store = kindbrug::open_store(&config).await?;
            let started = std::time::Instant::now();
            let r = store
                .refresh_figures(kindbrug::domain::calendar::now(), full)
                .await?;
            store.close().await;
            println!(
                "figures refreshed: {r} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Reencrypt => {
            let store = kindbrug::open_store(&config).await?;
            let keys = kindbrug::keyring(&config, &store).await?;
            let (resealed, total) = kindbrug::retention::reencrypt(&store, &keys).await?;
            store.close().await;
            println!(
                "re-encrypted {resealed} of {total} sealed values under key {}",
                keys.active_key_id()
            );
        }
        Command::Keys {
            command: KeysCommand::Generate { id },
        } => {
            println!("{}", kindbrug::crypto::Keyring::generate(&id));
        }
        Command::Keys {
            command: KeysCommand::Smart { id },
        } => {
            println!(
                "smart_signing_keys = {}",
                kindbrug::auth::smart::TokenSigner::generate(&id)
            );
        }
        Command::Regions {
            command: RegionsCommand::Import { file, valid_from },
        } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("could not read {}", file.display()))?;
            let rows = match kindbrug::domain::regions::parse_region_csv(&bytes, valid_from) {
                Ok(rows) => rows,
                Err(errors) => {
                    for e in errors {
                        eprintln!("{}: {}", e.field, e.message);
                    }
                    return Ok(ExitCode::FAILURE);
                }
            };
            let store = kindbrug::open_store(&config).await?;
            let n = store.import_regions(&rows).await?;
            store.close().await;
            println!("imported {n} municipality memberships");
        }
    }
    Ok(ExitCode::SUCCESS)
}
