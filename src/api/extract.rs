//! Request extractors whose rejections are problem details: malformed JSON is a 400, JSON of
//! the wrong shape (missing, unknown or mistyped fields, unknown enum values) a 422 naming the
//! field, a body over the limit a 413, a wrong content type a 415.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON request body.
pub struct Json<T>(pub T);

/// Reads the body, turning a too-large body into a 413 problem.
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::bad_request("the request body could not be read")
            }
        })
}

/// Parses JSON, naming the offending field in the problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed-json",
                    "Malformed JSON",
                    format!(
                        "the body is not valid JSON (line {}, column {})",
                        inner.line(),
                        inner.column()
                    ),
                )
            }
            _ => {
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                ApiError::field(&field, &describe_serde_error(&inner.to_string()))
            }
        }
    })?;
    // one JSON value and nothing but whitespace after it: `{…}xx` or `{…}{…}` is not a body
    de.end().map_err(|inner| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            format!(
                "the body holds more than one JSON value (line {}, column {})",
                inner.line(),
                inner.column()
            ),
        )
    })?;
    Ok(value)
}

/// serde's messages, trimmed of positions and of the offending value (which may be child data).
fn describe_serde_error(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let expected = rest.split_once(", expected ").map(|x| x.1).unwrap_or("");
        return format!("unknown value, expected {expected}");
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let expected = rest
            .split_once(", expected ")
            .map(|x| x.1)
            .unwrap_or("another type");
        return format!("wrong type, expected {expected}");
    }
    if msg.starts_with("invalid value: ") {
        let expected = msg
            .split_once(", expected ")
            .map(|x| x.1)
            .unwrap_or("another value");
        return format!("invalid value, expected {expected}");
    }
    // chrono and uuid parse errors; some quote the offending characters, which are not echoed
    const PARSE_ERRORS: [&str; 9] = [
        "input contains invalid characters",
        "input is out of range",
        "premature end of input",
        "trailing input",
        "input is not enough",
        "no possible date and time",
        "invalid character",
        "invalid length",
        "invalid group",
    ];
    if PARSE_ERRORS.iter().any(|p| msg.starts_with(p)) {
        return "not a valid value (dates are YYYY-MM-DD, instants RFC 3339, ids UUIDs)"
            .to_string();
    }
    msg.to_string()
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// Path parameters; a malformed id is a 400 (it cannot name anything).
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| ApiError::bad_request("a path parameter is malformed (ids are UUIDs)"))
    }
}

/// Query parameters; unknown or malformed ones are a 400 naming the parameter.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                let msg = describe_serde_error(&err.into_inner().to_string());
                let field = if path == "." {
                    "query".to_string()
                } else {
                    path
                };
                let mut e = ApiError::bad_request(format!("query parameter {field}: {msg}"));
                e.errors = vec![crate::domain::FieldError::new(field, msg)];
                e
            })
    }
}

/// The client's address as the listener saw it (absent when the router runs without one).
pub use crate::service::parent::ClientAddr;

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(crate::gate::client_addr(&parts.extensions))
    }
}
