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
    /// After a rotation: until when the previous secret still signs beside the new one.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    /// A FHIR Subscription (notified with an empty body): its criteria and reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionView>,
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
            previous_secret_valid_until: e.previous_valid_until.filter(|until| *until > now()),
            subscription: e
                .subscription
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
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
    register(state, caller, org, body, None).await
}

async fn register(
    state: &Ctx,
    caller: &Caller,
    org: Uuid,
    body: NewEndpoint,
    subscription: Option<&SubscriptionView>,
) -> ServiceResult<CreatedEndpoint> {
    let p = caller.principal()?;
    if !may_manage(p, org) || state.store.get_organization(org).await?.is_none() {
        return Err(ServiceError::not_found("organization"));
    }
    let mut v = Validation::new();
    check_url(state, &mut v, &body.url);
    check_events(&mut v, &body.events);
    if let Some(s) = subscription {
        v.optional_text("reason", s.reason.as_deref(), 500);
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
        previous_secret: None,
        previous_valid_until: None,
        subscription: subscription.map(|s| serde_json::to_string(s).unwrap_or_default()),
    };
    state.store.create_endpoint(&row).await?;
    Ok(CreatedEndpoint::new(row.id, body.signing, given))
}

/// A FHIR Subscription's own facts: what it listens to, in FHIR's words, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionView {
    /// `Task` (the organisation's consultation requests) or `Consent` (withdrawals).
    pub criteria: String,
    pub reason: Option<String>,
}

/// The events a Subscription's criteria listen to (only whole resource types are offered).
pub fn subscription_events(criteria: &str) -> Option<Vec<String>> {
    match criteria {
        "Task" | "ServiceRequest" => Some(vec!["consultation.*".into()]),
        "Consent" => Some(vec!["consent.*".into()]),
        _ => None,
    }
}

/// Registers a FHIR Subscription for the caller's organisation: a webhook endpoint that
/// notifies with an empty body (signed, retried, as every webhook), so the receiver reads what
/// changed with its own token and consent is checked at the moment of use.
#[tracing::instrument(skip_all)]
pub async fn create_subscription(
    state: &Ctx,
    caller: &Caller,
    url: String,
    subscription: SubscriptionView,
) -> ServiceResult<(CreatedEndpoint, EndpointView)> {
    let p = caller.principal()?;
    let Some(org) = p.organization_id.filter(|org| may_manage(p, *org)) else {
        return Err(ServiceError::forbidden(
            "a Subscription is made by an organisation's system, for its own organisation",
        ));
    };
    let Some(events) = subscription_events(&subscription.criteria) else {
        return Err(ServiceError::field(
            "criteria",
            "the criteria are Task or Consent (a whole resource type)",
        ));
    };
    let created = register(
        state,
        caller,
        org,
        NewEndpoint {
            url,
            events,
            signing: Signing::Ed25519,
        },
        Some(&subscription),
    )
    .await?;
    let view = get_subscription(state, caller, created.id).await?;
    Ok((created, view))
}

/// A FHIR Subscription of the caller's organisation (an ordinary endpoint is none).
pub async fn get_subscription(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<EndpointView> {
    let e = managed_endpoint(state, caller, id).await?;
    if e.subscription.is_none() {
        return Err(ServiceError::not_found("endpoint"));
    }
    Ok(e.into())
}

/// Ends a FHIR Subscription of the caller's organisation.
pub async fn delete_subscription(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<()> {
    get_subscription(state, caller, id).await?;
    delete_endpoint(state, caller, id).await
}

impl CreatedEndpoint {
    fn new(id: Uuid, signing: Signing, given: String) -> Self {
        match signing {
            Signing::Hmac => Self {
                id,
                secret: Some(given),
                public_key: None,
            },
            Signing::Ed25519 => Self {
                id,
                secret: None,
                public_key: Some(given),
            },
        }
    }
}

fn check_url(state: &Ctx, v: &mut Validation, url: &str) {
    if let Err(why) = state.config.webhook_policy().check_url(url) {
        v.add("url", why);
    }
    v.check(url.len() <= 2000, "url", "at most 2000 characters");
}

fn check_events(v: &mut Validation, events: &[String]) {
    v.check(
        !events.is_empty() && events.len() <= 50,
        "events",
        "name 1 to 50 event types, or *",
    );
    for (i, e) in events.iter().enumerate() {
        v.check(
            valid_pattern(e),
            &format!("events[{i}]"),
            "not an event type of this gateway",
        );
    }
}

/// The endpoint, if the caller may manage it; otherwise "not found", as for an id that does
/// not exist.
async fn managed_endpoint(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
) -> ServiceResult<WebhookEndpointRow> {
    let p = caller.principal()?;
    match state.store.get_endpoint(id).await? {
        Some(e) if may_manage(p, e.organization_id) => Ok(e),
        _ => Err(ServiceError::not_found("endpoint")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Active,
    Disabled,
}

/// A change to an endpoint: what is given changes, the rest stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `disabled` stops deliveries (pending ones fail and can be redelivered); `active` resumes.
    pub status: Option<EndpointStatus>,
}

/// Changes an endpoint's url, events or status.
#[tracing::instrument(skip_all)]
pub async fn update_endpoint(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    change: EndpointChange,
) -> ServiceResult<EndpointView> {
    let mut row = managed_endpoint(state, caller, id).await?;
    let mut v = Validation::new();
    if let Some(url) = &change.url {
        check_url(state, &mut v, url);
    }
    if let Some(events) = &change.events {
        check_events(&mut v, events);
        // a FHIR Subscription hears what its criteria say; it changes through FHIR only
        v.check(
            row.subscription.is_none(),
            "events",
            "this endpoint is a FHIR Subscription: its events follow its criteria",
        );
    }
    v.check(
        change.url.is_some() || change.events.is_some() || change.status.is_some(),
        "body",
        "name at least one of url, events, status",
    );
    v.finish().map_err(ServiceError::validation)?;
    if let Some(url) = change.url {
        row.url = url.trim().into();
    }
    if let Some(events) = change.events {
        row.events = serde_json::to_string(&events).unwrap_or_default();
    }
    match change.status {
        Some(EndpointStatus::Active) => {
            row.status = "active".into();
            row.disabled_reason = None;
        }
        Some(EndpointStatus::Disabled) if row.status == "active" => {
            row.status = "disabled".into();
            row.disabled_reason = Some("disabled by the organisation".into());
        }
        _ => {}
    }
    state.store.update_endpoint(&row).await?;
    Ok(row.into())
}

/// Removes an endpoint, its deliveries and their attempts.
#[tracing::instrument(skip_all)]
pub async fn delete_endpoint(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<()> {
    let row = managed_endpoint(state, caller, id).await?;
    state.store.delete_endpoint(row.id).await?;
    Ok(())
}

/// The longest a rotated-out secret keeps signing: a week.
pub const MAX_OVERLAP_HOURS: u32 = 168;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// How long the previous secret keeps signing beside the new one (0–168 hours, default 24).
    /// 0 ends it at once, e.g. when the secret leaked.
    pub overlap_hours: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedEndpoint {
    #[serde(flatten)]
    pub endpoint: CreatedEndpoint,
    /// Until then every message carries a signature by the previous secret too.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

/// Gives the endpoint a new secret (or key pair); the previous one signs beside it during the
/// overlap, so the receiver can switch without missing a message.
#[tracing::instrument(skip_all)]
pub async fn rotate_secret(
    state: &Ctx,
    caller: &Caller,
    id: Uuid,
    rotation: Rotation,
) -> ServiceResult<RotatedEndpoint> {
    let mut row = managed_endpoint(state, caller, id).await?;
    let hours = rotation.overlap_hours.unwrap_or(24);
    if hours > MAX_OVERLAP_HOURS {
        return Err(ServiceError::validation(vec![
            crate::domain::FieldError::new("overlap_hours", "at most 168 hours (a week)"),
        ]));
    }
    let signing: Signing = row
        .signing
        .parse()
        .map_err(|_| ServiceError::Internal("unknown signing scheme".into()))?;
    let (stored, given) = new_secret(signing);
    let until = (hours > 0).then(|| now() + chrono::Duration::hours(hours.into()));
    let previous = std::mem::replace(&mut row.secret, stored);
    row.previous_secret = until.map(|_| previous);
    row.previous_valid_until = until;
    state.store.update_endpoint(&row).await?;
    Ok(RotatedEndpoint {
        endpoint: CreatedEndpoint::new(row.id, signing, given),
        previous_secret_valid_until: until,
    })
}

/// One endpoint (without its secret), for who manages its organisation's.
#[tracing::instrument(skip_all)]
pub async fn get_endpoint(state: &Ctx, caller: &Caller, id: Uuid) -> ServiceResult<EndpointView> {
    let p = caller.principal()?;
    match state.store.get_endpoint(id).await? {
        Some(e) if may_manage(p, e.organization_id) => Ok(e.into()),
        _ => Err(ServiceError::not_found("endpoint")),
    }
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
    /// Items per page (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: the last id seen.
    #[param(value_type = Option<uuid::Uuid>)]
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
