-- Summaries the policy figures read, rebuilt in the background (and by `kindbrug figures
-- refresh`): counts per scope (region, childcare organisation, youth-care provider) × region ×
-- half-year × age band × category, and response times per the same cells.

CREATE TABLE figure_summary (
    scope_kind    TEXT NOT NULL CHECK (scope_kind IN ('region', 'organization', 'provider')),
    scope_org     BLOB NOT NULL,
    figure        TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    half_year     TEXT NOT NULL,
    age_band      TEXT NOT NULL,
    category      TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (scope_kind, scope_org, figure, region_code, half_year, age_band, category)
);

CREATE TABLE figure_timings (
    scope_kind     TEXT NOT NULL,
    scope_org      BLOB NOT NULL,
    region_code    TEXT NOT NULL,
    half_year      TEXT NOT NULL,
    age_band       TEXT NOT NULL,
    accepted       INTEGER NOT NULL,
    median_hours   INTEGER,
    p90_hours      INTEGER,
    visited        INTEGER NOT NULL,
    median_days    INTEGER,
    p90_days       INTEGER,
    PRIMARY KEY (scope_kind, scope_org, region_code, half_year, age_band)
);

CREATE TABLE figure_refresh (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    refreshed_at  TEXT NOT NULL
);
