//! Webhooks to partner systems: what an event looks like, who hears it, how it is signed
//! (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`), and when a
//! failed delivery is tried again. Events carry ids and links, never child data: the receiver
//! fetches with its own token, so consent is checked at the moment of use.
//!
//! The outbox is transactional: a change and its webhook messages commit together (see the
//! store); [`relay`] delivers them.

pub mod net;
pub mod relay;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::Signer;
use rand::{Rng, RngCore};
use std::time::Duration;

crate::text_enum! {
    /// How an endpoint's deliveries are signed.
    pub enum Signing {
        /// Asymmetric (`v1a`): the receiver holds only the public key.
        Ed25519 => "ed25519",
        /// Symmetric (`v1`, HMAC-SHA256): the receiver holds the secret.
        Hmac => "hmac",
    }
}

/// Event types the gateway emits.
pub const EVENT_TYPES: &[&str] = &[
    "consultation.requested",
    "consultation.offered",
    "consultation.accepted",
    "consultation.in_progress",
    "consultation.on_hold",
    "consultation.unassigned",
    "consultation.rejected",
    "consultation.cancelled",
    "consultation.completed",
    "consultation.message",
    "consent.withdrawn",
];

/// The data of a consultation event: ids and a link for the receiver to fetch with its own
/// token (so consent is checked at the moment of use), never child data.
pub fn consultation_event_data(consultation_id: uuid::Uuid, status: &str) -> serde_json::Value {
    serde_json::json!({
        "consultation_id": consultation_id,
        "status": status,
        "link": format!("/api/v1/consultations/{consultation_id}"),
    })
}

/// The data of a new message in a request's thread: ids and a link, never the text.
pub fn message_event_data(
    consultation_id: uuid::Uuid,
    message_id: uuid::Uuid,
) -> serde_json::Value {
    serde_json::json!({
        "consultation_id": consultation_id,
        "message_id": message_id,
        "link": format!("/api/v1/consultations/{consultation_id}/messages"),
    })
}

/// The data of a withdrawal: the consent and child ids, and where the child's consents are.
pub fn consent_withdrawn_data(consent_id: uuid::Uuid, child_id: uuid::Uuid) -> serde_json::Value {
    serde_json::json!({
        "consent_id": consent_id,
        "child_id": child_id,
        "link": format!("/api/v1/children/{child_id}/consents"),
    })
}

/// Is `pattern` (an endpoint's subscription) a valid one?
pub fn valid_pattern(pattern: &str) -> bool {
    pattern == "*"
        || EVENT_TYPES.contains(&pattern)
        || pattern.strip_suffix(".*").is_some_and(|family| {
            EVENT_TYPES
                .iter()
                .any(|t| t.starts_with(&format!("{family}.")))
        })
}

/// Does an endpoint subscribed to `events` (a JSON array) hear `event_type`?
pub fn subscribed(events: &str, event_type: &str) -> bool {
    let patterns: Vec<String> = serde_json::from_str(events).unwrap_or_default();
    patterns.iter().any(|p| {
        p == "*"
            || p == event_type
            || p.strip_suffix(".*").is_some_and(|f| {
                event_type
                    .strip_prefix(f)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

/// A new endpoint secret: `(stored secret, what the organisation is given)`.
/// HMAC: `whsec_…` both. Ed25519: the private key stays (`whsk_…`), the public key is given (`whpk_…`).
pub fn new_secret(signing: Signing) -> (String, String) {
    let mut rng = rand::rngs::OsRng;
    match signing {
        Signing::Hmac => {
            let mut key = [0u8; 32];
            rng.fill_bytes(&mut key);
            let s = format!("whsec_{}", B64.encode(key));
            (s.clone(), s)
        }
        Signing::Ed25519 => {
            let key = ed25519_dalek::SigningKey::generate(&mut rng);
            (
                format!("whsk_{}", B64.encode(key.to_bytes())),
                format!("whpk_{}", B64.encode(key.verifying_key().to_bytes())),
            )
        }
    }
}

/// The `webhook-signature` header value for a message.
pub fn sign(
    signing: &str,
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> anyhow::Result<String> {
    match signing.parse::<Signing>() {
        Ok(Signing::Hmac) => standardwebhooks::Webhook::new(secret)
            .and_then(|w| w.sign(msg_id, timestamp, body.as_bytes()))
            .map_err(|e| anyhow::anyhow!("signing: {e}")),
        Ok(Signing::Ed25519) => {
            let seed = secret.strip_prefix("whsk_").unwrap_or(secret);
            let bytes: [u8; 32] = B64
                .decode(seed)?
                .try_into()
                .map_err(|_| anyhow::anyhow!("an ed25519 key has 32 bytes"))?;
            let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
            let sig = key.sign(format!("{msg_id}.{timestamp}.{body}").as_bytes());
            Ok(format!("v1a,{}", B64.encode(sig.to_bytes())))
        }
        Err(_) => anyhow::bail!("unknown signing scheme"),
    }
}

/// The `webhook-signature` header value signed by each of `secrets`, space-separated as
/// Standard Webhooks has it: during a rotation's overlap a receiver holding either secret verifies.
pub fn signatures(
    signing: &str,
    secrets: &[&str],
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> anyhow::Result<String> {
    Ok(secrets
        .iter()
        .map(|secret| sign(signing, secret, msg_id, timestamp, body))
        .collect::<anyhow::Result<Vec<_>>>()?
        .join(" "))
}

/// The body sent: `{type, timestamp, data}`; a `link` in `data` is made absolute.
pub fn body(event_type: &str, created_at: DateTime<Utc>, data: &str, base_url: &str) -> String {
    let mut data: serde_json::Value = serde_json::from_str(data).unwrap_or(serde_json::Value::Null);
    if let Some(link) = data.get("link").and_then(|l| l.as_str()).map(String::from) {
        data["link"] =
            serde_json::Value::String(format!("{}{link}", base_url.trim_end_matches('/')));
    }
    serde_json::json!({
        "type": event_type,
        "timestamp": created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// When to try again after failed attempt number `attempts` (1-based), or `None` when the
/// schedule is exhausted. ±20 % jitter spreads retries; a `Retry-After` asks for later, never
/// sooner, and is capped at a day.
pub fn next_retry(
    attempts: usize,
    schedule: &[u64],
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(attempts.checked_sub(1)?)?;
    let jitter = rand::thread_rng().gen_range(0.8..=1.2);
    let mut wait = Duration::from_secs_f64(base as f64 * jitter);
    if let Some(after) = retry_after {
        wait = wait.max(after.min(Duration::from_secs(24 * 3600)));
    }
    Some(wait)
}

/// The default schedule: about a day in all (svix-like: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
pub const DEFAULT_SCHEDULE: &[u64] = &[5, 300, 1800, 7200, 18000, 36000, 36000];

/// Parses `Retry-After`: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value.trim())
        .ok()?
        .with_timezone(&Utc);
    (at - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions() {
        assert!(subscribed(r#"["*"]"#, "consent.withdrawn"));
        assert!(subscribed(r#"["consultation.*"]"#, "consultation.offered"));
        assert!(!subscribed(r#"["consultation.*"]"#, "consent.withdrawn"));
        assert!(!subscribed(r#"["consult*"]"#, "consultation.offered"));
        assert!(subscribed(r#"["consent.withdrawn"]"#, "consent.withdrawn"));
        assert!(
            valid_pattern("consultation.*")
                && valid_pattern("*")
                && !valid_pattern("nonsense.*")
                && !valid_pattern("x")
        );
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_and_honour_retry_after() {
        let s = [10, 100];
        let first = next_retry(1, &s, None).unwrap();
        assert!(first >= Duration::from_secs(8) && first <= Duration::from_secs(12));
        assert!(next_retry(3, &s, None).is_none());
        let later = next_retry(1, &s, Some(Duration::from_secs(60))).unwrap();
        assert_eq!(later, Duration::from_secs(60));
        let capped = next_retry(1, &s, Some(Duration::from_secs(10 * 24 * 3600))).unwrap();
        assert_eq!(capped, Duration::from_secs(24 * 3600));
        let total: u64 = DEFAULT_SCHEDULE.iter().sum();
        assert!((20 * 3600..=30 * 3600).contains(&total), "about a day");
        let now = Utc::now();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let date = (now + chrono::Duration::seconds(90)).to_rfc2822();
        assert!(parse_retry_after(&date, now).unwrap() > Duration::from_secs(80));
    }

    #[test]
    fn hmac_signatures_verify_with_the_standard_library() {
        let (secret, given) = new_secret(Signing::Hmac);
        assert_eq!(secret, given);
        let body = body(
            "consent.withdrawn",
            Utc::now(),
            r#"{"consent_id":"x","link":"/api/v1/x"}"#,
            "https://gw.example",
        );
        assert!(body.contains("https://gw.example/api/v1/x"));
        let ts = Utc::now().timestamp();
        let sig = sign("hmac", &secret, "msg_1", ts, &body).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        headers.insert("webhook-signature", sig.parse().unwrap());
        standardwebhooks::Webhook::new(&given)
            .unwrap()
            .verify(body.as_bytes(), &headers)
            .unwrap();
    }

    #[test]
    fn ed25519_signatures_verify_with_the_public_key() {
        use ed25519_dalek::Verifier;
        let (secret, public) = new_secret(Signing::Ed25519);
        let sig = sign("ed25519", &secret, "msg_2", 1700000000, "{}").unwrap();
        let raw = B64.decode(sig.strip_prefix("v1a,").unwrap()).unwrap();
        let key: [u8; 32] = B64
            .decode(public.strip_prefix("whpk_").unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap();
        vk.verify(
            b"msg_2.1700000000.{}",
            &ed25519_dalek::Signature::from_slice(&raw).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn during_a_rotation_a_receiver_holding_either_secret_verifies() {
        let (old, _) = new_secret(Signing::Hmac);
        let (new, _) = new_secret(Signing::Hmac);
        let (stranger, _) = new_secret(Signing::Hmac);
        let ts = Utc::now().timestamp();
        let header = signatures("hmac", &[&new, &old], "msg_3", ts, "{}").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "msg_3".parse().unwrap());
        headers.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        headers.insert("webhook-signature", header.parse().unwrap());
        for secret in [&old, &new] {
            standardwebhooks::Webhook::new(secret)
                .unwrap()
                .verify(b"{}", &headers)
                .unwrap();
        }
        assert!(standardwebhooks::Webhook::new(&stranger)
            .unwrap()
            .verify(b"{}", &headers)
            .is_err());
    }

    #[test]
    fn the_previous_secret_signs_only_while_the_overlap_lasts() {
        let at = Utc::now();
        let job = |until: Option<DateTime<Utc>>| crate::store::DeliveryJob {
            delivery_id: uuid::Uuid::nil(),
            attempts: 0,
            message_id: uuid::Uuid::nil(),
            event_type: "consultation.offered".into(),
            data: "{}".into(),
            message_created_at: at,
            endpoint_id: uuid::Uuid::nil(),
            url: "https://x.example".into(),
            signing: "hmac".into(),
            secret: "new".into(),
            previous_secret: Some("old".into()),
            previous_valid_until: until,
            subscription: None,
        };
        let hour = chrono::Duration::hours(1);
        assert_eq!(job(Some(at + hour)).signing_secrets(at), vec!["new", "old"]);
        assert_eq!(job(Some(at - hour)).signing_secrets(at), vec!["new"]);
        assert_eq!(job(Some(at)).signing_secrets(at), vec!["new"]);
        assert_eq!(job(None).signing_secrets(at), vec!["new"]);
    }
}
