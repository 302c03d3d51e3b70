//! What every operation of the JSON API can answer besides its own results, added to the OpenAPI
//! document in one place so that no handler's annotation can forget it: the answers of the
//! extractors (400, 413, 415, 422), of authentication (401, 403, 429 after repeated failures or too many writes),
//! of the request timeout (408) and of an unavailable database (503). Every error is RFC 9457
//! problem details, declared as `application/problem+json`.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{OpenApi, Ref, RefOr};

const PROBLEM: &str = "application/problem+json";

/// The common answers, with when they apply.
fn common(path: &str, op: &Operation) -> Vec<(&'static str, &'static str)> {
    let has_body = op.request_body.is_some();
    let has_params = path.contains('{') || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let bearer = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let parent = path.starts_with("/api/v1/parent/");
    let mut out = Vec::new();
    if has_body || has_params {
        out.push((
            "400",
            "A parameter or the body is not well-formed JSON of the declared shape",
        ));
    }
    if bearer {
        out.push(("401", "No valid bearer token"));
        out.push(("403", "The caller's role may not do this"));
    }
    if path.contains('{') {
        out.push((
            "404",
            "Not found, or not the caller's: both answer the same",
        ));
    }
    if path.starts_with("/api/v1/") {
        out.push(("408", "The request took longer than the server's timeout"));
    }
    if has_body {
        out.push(("413", "The body is larger than the server takes"));
        out.push(("415", "The body is not `application/json`"));
    }
    if has_body || op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        out.push((
            "422",
            "A field or parameter breaks a rule; `errors` says which and why",
        ));
    }
    if bearer || parent {
        out.push((
            "429",
            "Too many failed attempts from this address (tokens, parent links), or too many changes with this token; see `Retry-After`",
        ));
    }
    if path.starts_with("/api/v1/") {
        out.push((
            "503",
            "The database is not available; try again after `Retry-After`",
        ));
    }
    out
}

/// Dates the server takes: `YYYY-MM-DD` between 1900 and 2199 (a calendar date beyond is a typo).
const DATE_PATTERN: &str = "^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// Gives every `format: date` property of the components the range the server takes.
fn dated(schema: &mut utoipa::openapi::schema::Schema) {
    use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat};
    match schema {
        Schema::Object(o) => {
            if matches!(o.format, Some(SchemaFormat::KnownFormat(KnownFormat::Date))) {
                o.pattern = Some(DATE_PATTERN.into());
            }
            for p in o.properties.values_mut() {
                if let RefOr::T(s) = p {
                    dated(s);
                }
            }
        }
        Schema::OneOf(one) => {
            for s in one.items.iter_mut() {
                if let RefOr::T(s) = s {
                    dated(s);
                }
            }
        }
        Schema::AllOf(all) => {
            for s in all.items.iter_mut() {
                if let RefOr::T(s) = s {
                    dated(s);
                }
            }
        }
        _ => {}
    }
}

/// Adds the common answers where an operation does not declare them itself, and declares every
/// error as problem details.
pub fn complete(doc: &mut OpenApi) {
    if let Some(components) = doc.components.as_mut() {
        for schema in components.schemas.values_mut() {
            if let RefOr::T(s) = schema {
                dated(s);
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for op in ops.into_iter().flatten() {
            for param in op.parameters.iter_mut().flatten() {
                if let Some(RefOr::T(s)) = param.schema.as_mut() {
                    dated(s);
                }
            }
            for (code, description) in common(path, op) {
                op.responses
                    .responses
                    .entry(code.to_string())
                    .or_insert_with(|| ResponseBuilder::new().description(description).into());
            }
            for (code, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if code.as_str() < "400" || !path.starts_with("/api/v1/") {
                    continue;
                }
                response.content.clear();
                response.content.insert(
                    PROBLEM.to_string(),
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                );
            }
        }
    }
}
