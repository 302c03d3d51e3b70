//! Figures for policy staff, through `service::figures`: JSON, or CSV for spreadsheets.

use super::extract::Query;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{figures, Caller};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub use crate::service::figures::*;

/// The answer as JSON or CSV.
fn render(a: FigureAnswer, format: Format) -> Response {
    if format == Format::Json {
        return axum::Json(a).into_response();
    }
    let mut res = (StatusCode::OK, to_csv(&a, format == Format::CsvNl)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    res
}

macro_rules! figure_endpoint {
    ($fn:ident, $path:literal, $name:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "figures", security(("bearer" = [])),
            params(FigureParams),
            responses(
                (status = 200, content((FigureAnswer = "application/json"), (String = "text/csv")), description = "JSON; with format=csv a UTF-8 CSV (comma, decimal point) and with format=csv-nl one for Dutch spreadsheets (semicolon-separated; all values are whole numbers), columns figure, table, region, half_year, age_band, column, value, suppressed"),
                (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
                (status = 503, body = crate::error::Problem, description = "The figures are being computed for the first time (a national database); Retry-After says when to ask again")))]
        #[tracing::instrument(skip_all)]
        pub async fn $fn(State(state): State<AppState>, principal: Principal, Query(q): Query<FigureParams>) -> Result<Response, ApiError> {
            let format = q.format.unwrap_or(Format::Json);
            Ok(render(figures::figure(&state, &Caller::Principal(principal), &q, $name).await?, format))
        }
    };
}

figure_endpoint!(consents, "/api/v1/stats/consents", "consents",
    "Consent decisions (granted, refused, withdrawn) per purpose, and the share of requests that waited for consent.");
figure_endpoint!(
    consultations,
    "/api/v1/stats/consultations",
    "consultations",
    "Consultation requests opened, per expertise, urgency and status."
);
figure_endpoint!(response_times, "/api/v1/stats/response-times", "response-times",
    "Hours from request to acceptance and days to the first visit (median, p90), the re-routing rate and the requests that went unassigned.");
figure_endpoint!(outcomes, "/api/v1/stats/outcomes", "outcomes",
    "Outcomes of closed requests per category: handled within childcare (the Alert4you aim) against referred on.");
figure_endpoint!(
    visits,
    "/api/v1/stats/visits",
    "visits",
    "Coaching visits: which core competences they worked on, and visits per request."
);
