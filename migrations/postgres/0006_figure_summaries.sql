-- Summaries the policy figures read, rebuilt in the background (and by `kindbrug figures
-- refresh`): counts per scope (region, childcare organisation, youth-care provider) × region ×
-- half-year × age band × category, and response times per the same cells.

CREATE TABLE figure_summary (
    scope_kind    TEXT NOT NULL CHECK (scope_kind IN ('region', 'organization', 'provider')),
    scope_org     UUID NOT NULL,
    figure        TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    half_year     TEXT NOT NULL,
    age_band      TEXT NOT NULL,
    category      TEXT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (scope_kind, scope_org, figure, region_code, half_year, age_band, category)
);

CREATE TABLE figure_timings (
    scope_kind     TEXT NOT NULL,
    scope_org      UUID NOT NULL,
    region_code    TEXT NOT NULL,
    half_year      TEXT NOT NULL,
    age_band       TEXT NOT NULL,
    accepted       BIGINT NOT NULL,
    median_hours   BIGINT,
    p90_hours      BIGINT,
    visited        BIGINT NOT NULL,
    median_days    BIGINT,
    p90_days       BIGINT,
    PRIMARY KEY (scope_kind, scope_org, region_code, half_year, age_band)
);

CREATE TABLE figure_refresh (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    refreshed_at  TIMESTAMPTZ NOT NULL
);
