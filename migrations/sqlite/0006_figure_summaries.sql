-- Summaries the policy figures read: counts per scope (region, childcare organisation, youth-care
-- provider) × region × half-year × age band × category, and response times per the same cells.
-- Kept up to date incrementally: triggers note the half-year of every record that changes in
-- `figure_changes`, and the refresh (background job, `kindbrug figures refresh`) recomputes
-- only the half-years noted since it last ran.

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

CREATE INDEX figure_summary_half_year ON figure_summary (half_year);
CREATE INDEX figure_timings_half_year ON figure_timings (half_year);

CREATE TABLE figure_refresh (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    refreshed_at    TEXT NOT NULL,
    -- the last change (figure_changes.id) the summaries include
    through_change  INTEGER NOT NULL DEFAULT 0
);

-- ids only grow (AUTOINCREMENT), and SQLite writes one transaction at a time, so ids are
-- handed out in commit order: a snapshot that sees change n has seen every change before it.
CREATE TABLE figure_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    half_year  TEXT NOT NULL
);

CREATE TRIGGER consultations_figures_insert AFTER INSERT ON consultations WHEN NEW.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year) VALUES (NEW.half_year);
END;
CREATE TRIGGER consultations_figures_update AFTER UPDATE OF half_year, age_band, region_code, organization_id, assigned_to, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on ON consultations
BEGIN
    INSERT INTO figure_changes (half_year) SELECT NEW.half_year WHERE NEW.half_year IS NOT NULL;
    INSERT INTO figure_changes (half_year) SELECT OLD.half_year
        WHERE OLD.half_year IS NOT NULL AND OLD.half_year IS NOT NEW.half_year;
END;
CREATE TRIGGER consultations_figures_delete AFTER DELETE ON consultations WHEN OLD.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year) VALUES (OLD.half_year);
END;

CREATE TRIGGER consents_figures_insert AFTER INSERT ON consents WHEN NEW.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year) VALUES (NEW.half_year);
END;
CREATE TRIGGER consents_figures_update AFTER UPDATE OF half_year, age_band, region_code, organization_id, recipient_organization_id, purpose, decision, status ON consents
BEGIN
    INSERT INTO figure_changes (half_year) SELECT NEW.half_year WHERE NEW.half_year IS NOT NULL;
    INSERT INTO figure_changes (half_year) SELECT OLD.half_year
        WHERE OLD.half_year IS NOT NULL AND OLD.half_year IS NOT NEW.half_year;
END;
CREATE TRIGGER consents_figures_delete AFTER DELETE ON consents WHEN OLD.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year) VALUES (OLD.half_year);
END;

CREATE TRIGGER visits_figures_insert AFTER INSERT ON visits WHEN NEW.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year) VALUES (NEW.half_year);
END;
CREATE TRIGGER visits_figures_update AFTER UPDATE OF half_year, age_band, region_code, organization_id, specialist_id, status, competences ON visits
BEGIN
    INSERT INTO figure_changes (half_year) SELECT NEW.half_year WHERE NEW.half_year IS NOT NULL;
    INSERT INTO figure_changes (half_year) SELECT OLD.half_year
        WHERE OLD.half_year IS NOT NULL AND OLD.half_year IS NOT NEW.half_year;
END;
CREATE TRIGGER visits_figures_delete AFTER DELETE ON visits WHEN OLD.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year) VALUES (OLD.half_year);
END;
