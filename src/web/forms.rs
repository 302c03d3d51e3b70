//! Forms as browsers send them (urlencoded, a checkbox group as repeated names), and their
//! errors in Dutch beside each field with a summary at the top (UI.md "Patterns"). The rules
//! stay in the workflow: a form only carries what the person typed to an operation and its
//! answer back to the field.

use super::labels;
use crate::service::ServiceError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The fields of a posted form, in order, repeated names kept.
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
        Ok(Fields(
            form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Fields {
    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// Every value of `name` (a group of checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// Fields made here, e.g. to show a form filled with what is stored.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }

    /// `Some(value)` when filled in.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).to_string()).filter(|v| !v.is_empty())
    }
}

/// What is wrong with a form: per field (by the form's own field names) and for the whole.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    pub fields: Vec<(String, String)>,
    pub general: Vec<String>,
}

impl Errors {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields.push((field.to_string(), message.into()));
    }

    /// The message beside `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Required text fields left empty (said at once, beside the other errors of the form).
    pub fn required(&mut self, fields: &Fields, names: &[&str]) {
        for n in names {
            if fields.get(n).is_empty() {
                self.add(n, "Vul dit in.");
            }
        }
    }

    /// A required choice parsed from its code; an error beside the field when it is missing or
    /// not one of the options.
    pub fn parse<T: std::str::FromStr>(
        &mut self,
        fields: &Fields,
        name: &str,
        missing: &str,
    ) -> Option<T> {
        match fields.get(name).parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.add(name, missing);
                None
            }
        }
    }

    /// A date typed as `YYYY-MM-DD` (what `<input type="date">` sends).
    pub fn date(
        &mut self,
        fields: &Fields,
        name: &str,
        required: bool,
    ) -> Option<chrono::NaiveDate> {
        let v = fields.get(name);
        if v.is_empty() {
            if required {
                self.add(name, "Vul een datum in.");
            }
            return None;
        }
        match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.add(name, "Vul een datum in als dag-maand-jaar.");
                None
            }
        }
    }

    /// Takes in what an operation refused: field errors onto the form's fields (`rename` maps
    /// the operation's field names to the form's), the rest as a general message. `None` when
    /// the refusal is not about the form (then the page answers it as any refusal).
    pub fn from_service(e: ServiceError, rename: &[(&str, &str)]) -> Result<Errors, ServiceError> {
        let mut out = Errors::default();
        match e {
            ServiceError::Validation(list) => {
                for f in list {
                    let name = rename
                        .iter()
                        .find(|(from, _)| {
                            f.field == *from
                                || f.field.starts_with(&format!("{from}["))
                                || f.field.starts_with(&format!("{from}."))
                        })
                        .map(|(_, to)| to.to_string())
                        .unwrap_or(f.field.clone());
                    out.fields.push((name, labels::field_message(&f.message)));
                }
            }
            ServiceError::Rule { failures, .. } => {
                out.general
                    .extend(failures.iter().map(|r| labels::rule(r.rule, &r.message)));
            }
            ServiceError::Conflict { code, reasons, .. }
                if !reasons.is_empty() || code == "consent-required" =>
            {
                out.general
                    .extend(reasons.iter().map(|r| labels::rule(r.rule, &r.message)));
                if out.general.is_empty() {
                    out.general
                        .push("Er is nog geen toestemming van de ouders die nodig is.".into());
                }
            }
            ServiceError::BadRequest(_) => out
                .general
                .push("Het formulier is niet goed ingevuld. Kijk het na.".into()),
            other => return Err(other),
        }
        Ok(out)
    }
}
