//! Invitations by e-mail. The mail is queued in the transaction that makes the link (so it is
//! never lost) and sent by the `mail` job: claimed with a lease (never by two senders at once),
//! marked sent as soon as the SMTP server took it, retried later on failure. It holds the
//! organisation's name, the purpose in words and the link — no observation, no concern, no
//! date of birth, not the child's name. Without SMTP, in development, the mail goes to the log.

use super::{Ctx, ServiceError};
use crate::domain::calendar::now;
use crate::domain::consent::Purpose;
use crate::store::{ChildRow, MailRow, ParentLinkRow};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What is sealed in the outbox row.
#[derive(Debug, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The invitation's mail, when the guardian it is for has an e-mail address.
pub(crate) async fn invitation_mail(
    state: &Ctx,
    child: &ChildRow,
    link: &ParentLinkRow,
    token: &str,
) -> Result<Option<MailRow>, ServiceError> {
    let Some(guardian_id) = link.guardian_id else {
        return Ok(None);
    };
    let to = state
        .store
        .list_guardians(child.id)
        .await?
        .into_iter()
        .find(|g| g.id == guardian_id)
        .and_then(|g| g.email)
        .filter(|e| !e.trim().is_empty());
    let Some(to) = to else {
        return Ok(None);
    };
    let organization = state
        .store
        .get_organization(child.organization_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_else(|| "De kinderopvang".into());
    let purpose = link.purpose.unwrap_or(Purpose::Consultation);
    let mail = compose(
        &organization,
        purpose,
        &super::consent::link_url(state, token),
        link.expires_at,
    );
    let id = Uuid::now_v7();
    let sealed = state.keys.seal(
        id,
        &serde_json::to_string(&Mail {
            to,
            subject: mail.0,
            body: mail.1,
        })
        .map_err(ServiceError::internal)?,
    );
    let at = now();
    Ok(Some(MailRow {
        id,
        parent_link_id: link.id,
        sealed,
        created_at: at,
        attempts: 0,
        next_attempt_at: at,
    }))
}

/// Subject and body, in plain Dutch (B1).
fn compose(
    organization: &str,
    purpose: Purpose,
    url: &str,
    expires: chrono::DateTime<chrono::Utc>,
) -> (String, String) {
    let what = match purpose {
        Purpose::Consultation => "meekijken en advies door een specialist in jeugdhulp",
        Purpose::InformationSharing => "informatie delen met een specialist in jeugdhulp",
        Purpose::Referral => "doorverwijzen naar jeugdhulp",
    };
    let until = expires
        .with_timezone(&chrono_tz::Europe::Amsterdam)
        .format("%d-%m-%Y");
    (
        format!("{organization} vraagt uw toestemming"),
        format!(
            "Beste ouder of verzorger,\n\n\
             {organization} vraagt uw toestemming voor: {what}.\n\n\
             Op deze pagina leest u wat dat betekent en kiest u ja of nee:\n{url}\n\n\
             Als u nee zegt, verandert er niets aan de opvang. U kunt uw toestemming altijd weer intrekken.\n\
             De link is persoonlijk en werkt tot {until}. Stuur deze mail niet door.\n\n\
             Met vriendelijke groet,\n{organization}\n"
        ),
    )
}

/// Where mail goes: an SMTP server, or (development without SMTP) the log. Made once per
/// process, so the size of the SMTP variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Outlet {
    Smtp(
        lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
        lettre::message::Mailbox,
    ),
    Log,
    /// Production without SMTP: mail stays queued.
    None,
}

impl Outlet {
    pub fn from_config(config: &crate::Config) -> anyhow::Result<Outlet> {
        use secrecy::ExposeSecret;
        match &config.smtp_url {
            Some(url) => {
                let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(
                    url.expose_secret(),
                )?
                .timeout(Some(std::time::Duration::from_secs(20)))
                .build();
                Ok(Outlet::Smtp(transport, config.mail_from.parse()?))
            }
            None if config.env == crate::config::RunEnv::Development => Ok(Outlet::Log),
            None => Ok(Outlet::None),
        }
    }
}

/// How long a claimed mail is reserved for this sender.
const LEASE_SECONDS: i64 = 120;

/// Retry after 1, 2, 4 … minutes, at most an hour apart.
fn backoff(attempts: i64) -> Duration {
    Duration::minutes(1i64 << attempts.clamp(0, 6)).min(Duration::hours(1))
}

/// Sends the mails that are due; returns how many were sent.
pub async fn deliver_due(state: &Ctx, outlet: &Outlet) -> Result<usize, ServiceError> {
    if matches!(outlet, Outlet::None) {
        return Ok(0);
    }
    let at = now();
    let due = state
        .store
        .claim_mail(at, at + Duration::seconds(LEASE_SECONDS), 50)
        .await?;
    let mut sent = 0;
    for row in due {
        let mail: Mail = match state
            .keys
            .open(row.id, &row.sealed)
            .map_err(|e| e.to_string())
            .and_then(|plain| serde_json::from_str(&plain).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(mail = %row.id, error = %e, "a queued mail cannot be opened");
                state
                    .store
                    .mail_failed(row.id, at + Duration::hours(1), "cannot be opened")
                    .await?;
                continue;
            }
        };
        match send(outlet, &mail).await {
            Ok(()) => {
                state.store.mail_sent(row.id, now()).await?;
                sent += 1;
            }
            Err(e) => {
                // the error names the server's answer, never the mail's content
                tracing::warn!(mail = %row.id, attempts = row.attempts + 1, error = %e, "an invitation mail was not sent; it is tried again");
                state
                    .store
                    .mail_failed(row.id, now() + backoff(row.attempts), &e)
                    .await?;
            }
        }
    }
    Ok(sent)
}

async fn send(outlet: &Outlet, mail: &Mail) -> Result<(), String> {
    use lettre::AsyncTransport;
    match outlet {
        Outlet::Smtp(transport, from) => {
            let message = lettre::Message::builder()
                .from(from.clone())
                .to(mail
                    .to
                    .parse()
                    .map_err(|_| "the address is not valid".to_string())?)
                .subject(&mail.subject)
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(mail.body.clone())
                .map_err(|e| e.to_string())?;
            transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Outlet::Log => {
            // development only: the mail (with its link) in the log, so a newcomer can follow it
            tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "development: an invitation mail (no SMTP configured)");
            Ok(())
        }
        Outlet::None => Err("no SMTP server configured".into()),
    }
}
