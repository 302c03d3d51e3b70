//! Webhook endpoints of partner systems, their delivery attempts, and manual redelivery.
//! An organisation manages its own endpoints (its integration client) or an admin does.

use super::paging::page;
use crate::auth::Principal;
use crate::domain::calendar::now;
use crate::domain::types::Role;
use crate::domain::Validation;
use crate::store::{AttemptRow, WebhookEndpointRow};
use crate::webhooks::{new_secret, valid_pattern, Signing};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Ctx, PageOf, ServiceError, ServiceResult};
fn may_manage(p: &Principal, org: Uuid) -> bool {
    p.has(Role::Admin) || (p.has(Role::Integration) && p.organization_id == Some(org))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    pub url: String,
    /// Event types (`consultation.offered`, …), a family (`consultation.*`) or `*` for all.
    pub events: Vec<String>,
    pub signing: Signing,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedEndpoint {
    pub id: Uuid,
    /// HMAC signing: the shared secret (`whsec_…`). Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Ed25519 signing: the public key (`whpk_…`) to verify with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub signing: String,
    /// `active`, or `disabled` (e.g. after the receiver answered 410 Gone).
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<WebhookEndpointRow> for EndpointView {
    fn from(e: WebhookEndpointRow) -> Self {
        Self {
            id: e.id,
            organization_id: e.organization_id,
            url: e.url,
            events: serde_json::from_str(&e.events).unwrap_or_default(),
            signing: e.signing,
            status: e.status,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
        }
    }
}

/// Registers an endpoint; an organisation hears of what concerns it (its children's requests,
/// its specialists' offers and requests, consent withdrawals).
#[tracing::instrument(skip_all)]
pub async fn create_endpoint(
    state: &Ctx,
    caller: &Caller,
    org: Uuid,
    body: NewEndpoint,
) -> ServiceResult<CreatedEndpoint> {
    let p = caller.principal()?;
    if !may_manage(p, org) || state.store.get_organization(org).await?.is_none() {
        return Err(ServiceError::not_found("organization"));
    }
    let mut v = Validation::new();
    if let Err(why) = state.config.webhook_policy().check_url(&body.url) {
        v.add("url", why);
    }
    v.check(body.url.len() <= 2000, "url", "at most 2000 characters");
    v.check(
        !body.events.is_empty() && body.events.len() <= 50,
        "events",
        "name 1 to 50 event types, or *",
    );
    for (i, e) in body.events.iter().enumerate() {
        v.check(
            valid_pattern(e),
            &format!("events[{i}]"),
            "not an event type of this gateway",
        );
    }
    v.finish().map_err(ServiceError::validation)?;
    let (stored, given) = new_secret(body.signing);
    let row = WebhookEndpointRow {
        id: Uuid::now_v7(),
        organization_id: org,
        url: body.url.trim().into(),
        events: serde_json::to_string(&body.events).unwrap_or_default(),
        signing: body.signing.as_str().into(),
        secret: stored,
        status: "active".into(),
        disabled_reason: None,
        created_at: now(),
    };
    state.store.create_endpoint(&row).await?;
    let created = match body.signing {
        Signing::Hmac => CreatedEndpoint {
            id: row.id,
            secret: Some(given),
            public_key: None,
        },
        Signing::Ed25519 => CreatedEndpoint {
            id: row.id,
            secret: None,
            public_key: Some(given),
        },
    };
    Ok(created)
}

/// The organisation's endpoints (without secrets).
#[tracing::instrument(skip_all)]
pub async fn list_endpoints(
    state: &Ctx,
    caller: &Caller,
    org: Uuid,
) -> ServiceResult<Vec<EndpointView>> {
    let p = caller.principal()?;
    if !may_manage(p, org) {
        return Err(ServiceError::not_found("organization"));
    }
    Ok(state
        .store
        .list_endpoints(org)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttemptParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub id: Uuid,
    pub message_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// When the next attempt is planned, if any.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<AttemptRow> for AttemptView {
    fn from(a: AttemptRow) -> Self {
        Self {
            id: a.id,
            message_id: a.message_id,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
            next_attempt_at: a.next_attempt_at,
        }
    }
}

/// Every delivery attempt to an endpoint, oldest first.
#[tracing::instrument(skip_all)]
pub async fn list_attempts(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    q: AttemptParams,
) -> ServiceResult<PageOf<AttemptView>> {
    let p = caller.principal()?;
    let endpoint = state
        .store
        .get_endpoint(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("endpoint"))?;
    if !may_manage(p, endpoint.organization_id) {
        return Err(ServiceError::not_found("endpoint"));
    }
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows = state
        .store
        .list_attempts(id, page.after, page.limit)
        .await?;
    Ok(super::paging::page_of(
        rows,
        page.limit,
        |a| a.id,
        AttemptView::from,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    /// Deliveries queued (one per active endpoint that hears this event).
    pub queued: u64,
}

/// Sends a message again to the organisation's active endpoints.
#[tracing::instrument(skip_all)]
pub async fn redeliver(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<Redelivery> {
    let p = caller.principal()?;
    let message = state
        .store
        .get_message(id)
        .await?
        .ok_or_else(|| ServiceError::not_found("message"))?;
    if !may_manage(p, message.organization_id) {
        return Err(ServiceError::not_found("message"));
    }
    let queued = state.store.redeliver(id, now()).await?;
    Ok(Redelivery { queued })
}
