//! One error type for the HTTP API, answered as RFC 9457 problem details
//! (`application/problem+json`) with a stable `type`, the request id, and per-field `errors`
//! for validation. 5xx answers are generic; their cause goes to the log with the request id.
//! No error carries child data: details name fields and rules, never values.

use crate::domain::FieldError;
use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

tokio::task_local! {
    /// The current request's id, set by the request-id middleware for the handler's duration.
    pub static REQUEST_ID: String;
}

/// The current request id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_string())
}

/// Prefix of every problem `type`; the slug after it is stable and documented.
pub const PROBLEM_BASE: &str = "urn:kindbrug:problem:";

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub extensions: Map<String, Value>,
}

/// The body of a problem answer (for the OpenAPI document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:kindbrug:problem:<slug>`; stable, safe to branch on.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub request_id: String,
    /// Per-field problems of a validation error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: Map::new(),
        }
    }

    /// 422: the request is well-formed but its fields break rules.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Validation failed",
            "one or more fields are invalid; see errors",
        );
        e.errors = errors;
        e
    }

    /// 422 for a single field.
    pub fn field(field: &str, message: &str) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Not authenticated",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// 404; also answered where a 403 would reveal that a child exists.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, "Conflict", detail)
    }

    pub fn stale() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "stale",
            "Precondition failed",
            "the resource changed since the ETag in If-Match; read it again",
        )
    }

    /// 500 with a generic body; the cause is logged with the request id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %current_request_id(), error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the gateway could not complete the request; quote the request id to the operator",
        )
    }

    /// A problem for a bare status (used for errors produced outside handlers).
    pub fn from_status(status: StatusCode) -> Self {
        let (slug, detail) = match status {
            StatusCode::NOT_FOUND => ("not-found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method-not-allowed",
                "this method is not allowed on this path",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "the request body is too large"),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported-media-type", "unsupported content type")
            }
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the service is not available"),
            StatusCode::BAD_REQUEST => (
                "malformed-request",
                "the request is not well-formed HTTP/1.1 (e.g. a bare CR, or two Content-Length headers)",
            ),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
                "headers-too-large",
                "the request's headers are too large",
            ),
            StatusCode::URI_TOO_LONG => ("uri-too-long", "the request's address is too long"),
            StatusCode::HTTP_VERSION_NOT_SUPPORTED => (
                "http-version",
                "this HTTP version is not supported; use HTTP/1.1",
            ),
            s if s.is_server_error() => ("internal", "the gateway could not complete the request"),
            _ => ("error", "the request failed"),
        };
        Self::new(
            status,
            slug,
            status.canonical_reason().unwrap_or("Error"),
            detail,
        )
    }

    /// Adds a member to the problem body (RFC 9457 extension).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Ok(v) = serde_json::to_value(value) {
            self.extensions.insert(key.to_string(), v);
        }
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        crate::service::ServiceError::from(e).into()
    }
}

impl ApiError {
    /// The problem+json body, with `request_id`.
    pub fn problem_body(&self, request_id: &str) -> String {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            Value::String(format!("{PROBLEM_BASE}{}", self.slug)),
        );
        body.insert("title".into(), Value::String(self.title.into()));
        body.insert("status".into(), Value::from(self.status.as_u16()));
        body.insert("detail".into(), Value::String(self.detail.clone()));
        body.insert("request_id".into(), Value::String(request_id.into()));
        if !self.errors.is_empty() {
            body.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or_default(),
            );
        }
        for (k, v) in &self.extensions {
            body.entry(k.clone()).or_insert(v.clone());
        }
        Value::Object(body).to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.problem_body(&current_request_id());
        // how long a 503 or 429 asks the caller to wait
        let retry_after = matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        )
        .then(|| {
            self.extensions
                .get("retry_after_seconds")
                .and_then(Value::as_u64)
                .unwrap_or(30)
        });
        let mut res = (self.status, body).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(Ok(v)) = retry_after.map(|s| HeaderValue::from_str(&s.to_string())) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"kindbrug\""),
            );
        }
        res
    }
}

/// The one place a workflow refusal becomes an HTTP answer.
impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as E;
        match e {
            E::NotFound { code, detail } => ApiError::new(
                StatusCode::NOT_FOUND,
                code,
                if code == "not-found" {
                    "Not found"
                } else {
                    "Link not found"
                },
                detail,
            ),
            E::Forbidden {
                code,
                detail,
                rules,
            } => {
                let title = match code {
                    "consent-withdrawn" | "consent-not-in-force" => "Consent not in force",
                    "link-not-for-this" | "young-person-decides" => "Not with this link",
                    _ => "Not allowed",
                };
                let e = ApiError::new(StatusCode::FORBIDDEN, code, title, detail);
                if rules.is_empty() {
                    e
                } else {
                    e.with("rules", rules)
                }
            }
            E::Validation(errors) => ApiError::validation(errors),
            E::BadRequest(detail) => ApiError::bad_request(detail),
            E::Rule { failures, field } => {
                let first = failures
                    .first()
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                let errors = failures
                    .iter()
                    .map(|f| FieldError::new(&field, f.message.clone()))
                    .collect();
                let mut e = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "consent-rule",
                    "Consent rule not met",
                    first,
                )
                .with("rules", &failures);
                e.errors = errors;
                e
            }
            E::Conflict {
                code,
                detail,
                current_status,
                missing,
                reasons,
            } => {
                let mut e = ApiError::conflict(code, detail);
                if let Some(s) = current_status {
                    e = e.with("current_status", s);
                }
                if let Some(missing) = missing {
                    let missing: Vec<Value> = missing
                        .iter()
                        .map(|g| match g {
                            crate::domain::consent::Giver::Guardian(id) => {
                                serde_json::json!({"guardian_id": id})
                            }
                            crate::domain::consent::Giver::Child => {
                                serde_json::json!({"child": true})
                            }
                        })
                        .collect();
                    e = e.with("missing", missing).with("reasons", &reasons);
                }
                e
            }
            E::Stale => ApiError::stale(),
            E::PreconditionRequired(detail) => ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if-match-required",
                "Precondition required",
                detail,
            ),
            E::Gone { code, detail } => ApiError::new(
                StatusCode::GONE,
                code,
                if code == "link-expired" {
                    "Link expired"
                } else {
                    "Gone"
                },
                detail,
            ),
            E::TooManyRequests {
                detail,
                retry_after_seconds,
            } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                detail,
            )
            .with("retry_after_seconds", retry_after_seconds),
            E::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                "this Idempotency-Key was used with another request body",
            ),
            E::Unavailable {
                detail,
                retry_after_seconds,
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                detail,
            )
            .with("retry_after_seconds", retry_after_seconds),
            E::Internal(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the gateway could not complete the request; quote the request id to the operator",
            ),
        }
    }
}
