//! Concerns and consultation requests, through the workflow in `service::consultations`.

use super::extract::{Json, Path, Query};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{consultations, Caller};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

pub use crate::service::consultations::*;
pub use crate::service::PageOf;

/// Records a concern about a child (a mentor of the child's location).
#[utoipa::path(post, path = "/api/v1/children/{id}/concerns", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewConcern,
    responses((status = 201, body = CreatedConcern), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn create_concern(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewConcern>,
) -> Result<(StatusCode, axum::Json<CreatedConcern>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            crate::service::consultations::create_concern(
                &state,
                &Caller::Principal(principal),
                id,
                body,
            )
            .await?,
        ),
    ))
}

/// The concerns recorded about a child.
#[utoipa::path(get, path = "/api/v1/children/{id}/concerns", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = [ConcernView]), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_concerns(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<ConcernView>>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::list_concerns(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}

/// Asks for a consultation: with consent in force, the request is routed at once to a specialist
/// of the child's region (or queued for the coordinator). Takes an `Idempotency-Key`: a repeat
/// returns the stored response, the same key with another body is 422.
#[utoipa::path(post, path = "/api/v1/consultations", tag = "consultations", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
        description = "1 to 255 visible ASCII characters: a repeat with the same key and body answers as the first time")),
    request_body = NewConsultation,
    responses((status = 201, body = SubmittedConsultation), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem, description = "consent-required (with missing), or a request with this key is still being handled"),
        (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let req: NewConsultation = super::extract::parse_json(&body)?;
    let mut keys = headers.get_all("idempotency-key").iter();
    let key = match (keys.next(), keys.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "send one Idempotency-Key header, not several",
            ))
        }
        (Some(v), None) => Some(
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::bad_request("Idempotency-Key must be 1 to 255 visible characters")
                })?
                .to_string(),
        ),
    };
    let (status, out, replayed) =
        match consultations::submit(&state, &Caller::Principal(principal), req, key).await? {
            Submitted::Created(out) => (StatusCode::CREATED, out, false),
            Submitted::Replayed(out) => (StatusCode::CREATED, out, true),
        };
    let mut res = (status, axum::Json(out)).into_response();
    if replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// One consultation request.
#[utoipa::path(get, path = "/api/v1/consultations/{id}", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ConsultationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn get_consultation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ConsultationView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::get_consultation(&state, &Caller::Principal(principal), id)
            .await?,
    ))
}

/// Consultation requests the caller may see: a mentor's locations, the organisation's (partner
/// system), a specialist's own (`assigned=me`), a coordinator's regions (the queue:
/// `status=unassigned`).
#[utoipa::path(get, path = "/api/v1/consultations", tag = "consultations", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = PageOf<ConsultationView>), (status = 403, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_consultations(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListParams>,
) -> Result<axum::Json<PageOf<ConsultationView>>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::list_consultations(&state, &Caller::Principal(principal), q)
            .await?,
    ))
}

/// How the request was routed, and why.
#[utoipa::path(get, path = "/api/v1/consultations/{id}/routing", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RoutingView), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn routing(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<RoutingView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::routing(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// The specialist it is offered to takes the request.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/accept", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ConsultationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn accept(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ConsultationView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::accept(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// The specialist it is offered to declines, with a reason; it moves on to the next specialist.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/decline", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReasonBody,
    responses((status = 200, body = ConsultationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn decline(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ReasonBody>,
) -> Result<axum::Json<ConsultationView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::decline(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// The region's coordinator assigns an unassigned request by hand.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/assign", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AssignBody,
    responses((status = 200, body = ConsultationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn assign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<AssignBody>,
) -> Result<axum::Json<ConsultationView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::assign(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// The mentor (or the organisation's system) withdraws the request before acceptance.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/cancel", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReasonBody,
    responses((status = 200, body = ConsultationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ReasonBody>,
) -> Result<axum::Json<ConsultationView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::cancel(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// The region's coordinator turns an unassigned request down.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/reject", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReasonBody,
    responses((status = 200, body = ConsultationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn reject(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<ReasonBody>,
) -> Result<axum::Json<ConsultationView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::reject(&state, &Caller::Principal(principal), id, body)
            .await?,
    ))
}

/// Takes a request off hold once consent is in force again; it returns to where it was.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/resume", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ConsultationView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<ConsultationView>, ApiError> {
    Ok(axum::Json(
        crate::service::consultations::resume(&state, &Caller::Principal(principal), id).await?,
    ))
}

/// Writes in the request's thread: the childcare side or the specialist who took it (sealed at
/// rest; the parties' organisations hear of it by a `consultation.message` webhook with ids).
#[utoipa::path(post, path = "/api/v1/consultations/{id}/messages", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = NewMessage,
    responses((status = 201, body = MessageView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn post_message(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<NewMessage>,
) -> Result<(StatusCode, axum::Json<MessageView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(
            consultations::post_message(&state, &Caller::Principal(principal), id, body).await?,
        ),
    ))
}

/// The request's thread, oldest first.
#[utoipa::path(get, path = "/api/v1/consultations/{id}/messages", tag = "consultations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [MessageView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[tracing::instrument(skip_all)]
pub async fn list_messages(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Vec<MessageView>>, ApiError> {
    Ok(axum::Json(
        consultations::list_messages(&state, &Caller::Principal(principal), id).await?,
    ))
}
