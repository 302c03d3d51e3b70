-- Summaries the policy figures read: counts per scope (region, childcare organisation, youth-care
-- provider) × region × half-year × age band × category, and response times per the same cells.
-- Kept up to date incrementally: triggers note the half-year of every record that changes in
-- `figure_changes`, and the refresh (background job, `kindbrug figures refresh`) recomputes
-- only the half-years noted since it last ran.

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

CREATE INDEX figure_summary_half_year ON figure_summary (half_year);
CREATE INDEX figure_timings_half_year ON figure_timings (half_year);

CREATE TABLE figure_refresh (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    refreshed_at    TIMESTAMPTZ NOT NULL,
    -- the last change (figure_changes.id) the summaries include
    through_change  BIGINT NOT NULL DEFAULT 0
);

-- The refresh reads these in a REPEATABLE READ snapshot and deletes, in the same transaction,
-- exactly the ones it saw (ids are not handed out in commit order here).
CREATE TABLE figure_changes (
    id         BIGSERIAL PRIMARY KEY,
    half_year  TEXT NOT NULL
);

-- inserts and deletes come in bulk (generator, retention): noted once per statement
CREATE FUNCTION figure_rows_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO figure_changes (half_year)
        SELECT DISTINCT half_year FROM new_rows WHERE half_year IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_rows_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO figure_changes (half_year)
        SELECT DISTINCT half_year FROM old_rows WHERE half_year IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_row_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.half_year IS NOT NULL THEN
        INSERT INTO figure_changes (half_year) VALUES (NEW.half_year);
    END IF;
    IF OLD.half_year IS NOT NULL AND OLD.half_year IS DISTINCT FROM NEW.half_year THEN
        INSERT INTO figure_changes (half_year) VALUES (OLD.half_year);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER consultations_figures_insert AFTER INSERT ON consultations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_rows_inserted();
CREATE TRIGGER consultations_figures_delete AFTER DELETE ON consultations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_rows_deleted();
CREATE TRIGGER consultations_figures_update AFTER UPDATE OF half_year, age_band, region_code, organization_id, assigned_to, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on ON consultations
    FOR EACH ROW EXECUTE FUNCTION figure_row_updated();

CREATE TRIGGER consents_figures_insert AFTER INSERT ON consents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_rows_inserted();
CREATE TRIGGER consents_figures_delete AFTER DELETE ON consents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_rows_deleted();
CREATE TRIGGER consents_figures_update AFTER UPDATE OF half_year, age_band, region_code, organization_id, recipient_organization_id, purpose, decision, status ON consents
    FOR EACH ROW EXECUTE FUNCTION figure_row_updated();

CREATE TRIGGER visits_figures_insert AFTER INSERT ON visits
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_rows_inserted();
CREATE TRIGGER visits_figures_delete AFTER DELETE ON visits
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_rows_deleted();
CREATE TRIGGER visits_figures_update AFTER UPDATE OF half_year, age_band, region_code, organization_id, specialist_id, status, competences ON visits
    FOR EACH ROW EXECUTE FUNCTION figure_row_updated();
