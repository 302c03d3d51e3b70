-- Figures are taken in as deltas. Each change to a record the figures count writes what the
-- figures need of it, before (sign -1) and after (sign +1), into `figure_changes`; the refresh
-- counts these rows and adds them to the summaries, instead of recomputing the whole half-year.
-- Response times are kept as histograms (value:count), so they take deltas too and their medians
-- and 90th percentiles are exact. A statement that inserts or deletes more than 1,000 records at
-- once (generator, retention) notes only its half-years (kind NULL): those are recomputed.
-- No child, no free text: the same facts the summaries are built from.

DELETE FROM figure_changes;
DELETE FROM figure_summary;
DELETE FROM figure_timings;
DELETE FROM figure_refresh;
ALTER TABLE figure_timings ADD COLUMN hours_histogram TEXT NOT NULL DEFAULT '';
ALTER TABLE figure_timings ADD COLUMN days_histogram TEXT NOT NULL DEFAULT '';

DROP TRIGGER consultations_figures_insert ON consultations;
DROP TRIGGER consultations_figures_delete ON consultations;
DROP TRIGGER consultations_figures_update ON consultations;
DROP TRIGGER consents_figures_insert ON consents;
DROP TRIGGER consents_figures_delete ON consents;
DROP TRIGGER consents_figures_update ON consents;
DROP TRIGGER visits_figures_insert ON visits;
DROP TRIGGER visits_figures_delete ON visits;
DROP TRIGGER visits_figures_update ON visits;
DROP FUNCTION figure_rows_inserted();
DROP FUNCTION figure_rows_deleted();
DROP FUNCTION figure_row_updated();

ALTER TABLE figure_changes
    ADD COLUMN kind             TEXT CHECK (kind IN ('request', 'consent', 'visit')),
    ADD COLUMN sign             BIGINT,
    ADD COLUMN region_code      TEXT,
    ADD COLUMN age_band         TEXT,
    ADD COLUMN organization_id  UUID,
    ADD COLUMN other_id         UUID,
    ADD COLUMN expertise        TEXT,
    ADD COLUMN urgency          TEXT,
    ADD COLUMN status           TEXT,
    ADD COLUMN outcome          TEXT,
    ADD COLUMN reroutes         BIGINT,
    ADD COLUMN ever_unassigned  BOOLEAN,
    ADD COLUMN consent_delayed  BOOLEAN,
    ADD COLUMN created_at       TIMESTAMPTZ,
    ADD COLUMN accepted_at      TIMESTAMPTZ,
    ADD COLUMN first_visit_on   DATE,
    ADD COLUMN purpose          TEXT,
    ADD COLUMN decision         TEXT,
    ADD COLUMN competences      TEXT;

CREATE FUNCTION figure_requests_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM new_rows) > 1000 THEN
        INSERT INTO figure_changes (half_year)
            SELECT DISTINCT half_year FROM new_rows WHERE half_year IS NOT NULL;
    ELSE
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
            SELECT half_year, 'request', 1, region_code, age_band, organization_id, assigned_to, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on FROM new_rows WHERE half_year IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_requests_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM old_rows) > 1000 THEN
        INSERT INTO figure_changes (half_year)
            SELECT DISTINCT half_year FROM old_rows WHERE half_year IS NOT NULL;
    ELSE
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
            SELECT half_year, 'request', -1, region_code, age_band, organization_id, assigned_to, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on FROM old_rows WHERE half_year IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_request_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.half_year IS NOT NULL THEN
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
            VALUES (OLD.half_year, 'request', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.assigned_to, OLD.expertise, OLD.urgency, OLD.status, OLD.outcome, OLD.reroutes, OLD.ever_unassigned, OLD.consent_delayed, OLD.created_at, OLD.accepted_at, OLD.first_visit_on);
    END IF;
    IF NEW.half_year IS NOT NULL THEN
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
            VALUES (NEW.half_year, 'request', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.assigned_to, NEW.expertise, NEW.urgency, NEW.status, NEW.outcome, NEW.reroutes, NEW.ever_unassigned, NEW.consent_delayed, NEW.created_at, NEW.accepted_at, NEW.first_visit_on);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER consultations_figures_insert AFTER INSERT ON consultations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_requests_inserted();
CREATE TRIGGER consultations_figures_delete AFTER DELETE ON consultations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_requests_deleted();
CREATE TRIGGER consultations_figures_update AFTER UPDATE OF half_year, region_code, age_band, organization_id, assigned_to, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on ON consultations
    FOR EACH ROW WHEN ((OLD.half_year, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.assigned_to, OLD.expertise, OLD.urgency, OLD.status, OLD.outcome, OLD.reroutes, OLD.ever_unassigned, OLD.consent_delayed, OLD.created_at, OLD.accepted_at, OLD.first_visit_on) IS DISTINCT FROM (NEW.half_year, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.assigned_to, NEW.expertise, NEW.urgency, NEW.status, NEW.outcome, NEW.reroutes, NEW.ever_unassigned, NEW.consent_delayed, NEW.created_at, NEW.accepted_at, NEW.first_visit_on))
    EXECUTE FUNCTION figure_request_updated();

CREATE FUNCTION figure_consents_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM new_rows) > 1000 THEN
        INSERT INTO figure_changes (half_year)
            SELECT DISTINCT half_year FROM new_rows WHERE half_year IS NOT NULL;
    ELSE
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
            SELECT half_year, 'consent', 1, region_code, age_band, organization_id, recipient_organization_id, purpose, decision, status FROM new_rows WHERE half_year IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_consents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM old_rows) > 1000 THEN
        INSERT INTO figure_changes (half_year)
            SELECT DISTINCT half_year FROM old_rows WHERE half_year IS NOT NULL;
    ELSE
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
            SELECT half_year, 'consent', -1, region_code, age_band, organization_id, recipient_organization_id, purpose, decision, status FROM old_rows WHERE half_year IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_consent_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.half_year IS NOT NULL THEN
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
            VALUES (OLD.half_year, 'consent', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.recipient_organization_id, OLD.purpose, OLD.decision, OLD.status);
    END IF;
    IF NEW.half_year IS NOT NULL THEN
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
            VALUES (NEW.half_year, 'consent', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.recipient_organization_id, NEW.purpose, NEW.decision, NEW.status);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER consents_figures_insert AFTER INSERT ON consents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_consents_inserted();
CREATE TRIGGER consents_figures_delete AFTER DELETE ON consents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_consents_deleted();
CREATE TRIGGER consents_figures_update AFTER UPDATE OF half_year, region_code, age_band, organization_id, recipient_organization_id, purpose, decision, status ON consents
    FOR EACH ROW WHEN ((OLD.half_year, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.recipient_organization_id, OLD.purpose, OLD.decision, OLD.status) IS DISTINCT FROM (NEW.half_year, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.recipient_organization_id, NEW.purpose, NEW.decision, NEW.status))
    EXECUTE FUNCTION figure_consent_updated();

CREATE FUNCTION figure_visits_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM new_rows) > 1000 THEN
        INSERT INTO figure_changes (half_year)
            SELECT DISTINCT half_year FROM new_rows WHERE half_year IS NOT NULL;
    ELSE
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
            SELECT half_year, 'visit', 1, region_code, age_band, organization_id, specialist_id, status, competences FROM new_rows WHERE half_year IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_visits_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM old_rows) > 1000 THEN
        INSERT INTO figure_changes (half_year)
            SELECT DISTINCT half_year FROM old_rows WHERE half_year IS NOT NULL;
    ELSE
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
            SELECT half_year, 'visit', -1, region_code, age_band, organization_id, specialist_id, status, competences FROM old_rows WHERE half_year IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION figure_visit_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.half_year IS NOT NULL THEN
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
            VALUES (OLD.half_year, 'visit', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.specialist_id, OLD.status, OLD.competences);
    END IF;
    IF NEW.half_year IS NOT NULL THEN
        INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
            VALUES (NEW.half_year, 'visit', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.specialist_id, NEW.status, NEW.competences);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER visits_figures_insert AFTER INSERT ON visits
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_visits_inserted();
CREATE TRIGGER visits_figures_delete AFTER DELETE ON visits
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION figure_visits_deleted();
CREATE TRIGGER visits_figures_update AFTER UPDATE OF half_year, region_code, age_band, organization_id, specialist_id, status, competences ON visits
    FOR EACH ROW WHEN ((OLD.half_year, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.specialist_id, OLD.status, OLD.competences) IS DISTINCT FROM (NEW.half_year, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.specialist_id, NEW.status, NEW.competences))
    EXECUTE FUNCTION figure_visit_updated();
