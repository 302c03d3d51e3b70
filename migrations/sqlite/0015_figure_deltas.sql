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

DROP TRIGGER consultations_figures_insert;
DROP TRIGGER consultations_figures_update;
DROP TRIGGER consultations_figures_delete;
DROP TRIGGER consents_figures_insert;
DROP TRIGGER consents_figures_update;
DROP TRIGGER consents_figures_delete;
DROP TRIGGER visits_figures_insert;
DROP TRIGGER visits_figures_update;
DROP TRIGGER visits_figures_delete;

DROP TABLE figure_changes;
-- ids only grow (AUTOINCREMENT), and SQLite writes one transaction at a time, so ids are
-- handed out in commit order: a snapshot that sees change n has seen every change before it.
CREATE TABLE figure_changes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    half_year        TEXT NOT NULL,
    kind             TEXT CHECK (kind IN ('request', 'consent', 'visit')),
    sign             INTEGER,
    region_code      TEXT,
    age_band         TEXT,
    organization_id  BLOB,
    -- assigned_to (request), recipient_organization_id (consent), specialist_id (visit)
    other_id         BLOB,
    expertise        TEXT,
    urgency          TEXT,
    status           TEXT,
    outcome          TEXT,
    reroutes         INTEGER,
    ever_unassigned  BOOLEAN,
    consent_delayed  BOOLEAN,
    created_at       TEXT,
    accepted_at      TEXT,
    first_visit_on   TEXT,
    purpose          TEXT,
    decision         TEXT,
    competences      TEXT
);

CREATE TRIGGER consultations_figures_insert AFTER INSERT ON consultations WHEN NEW.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
        VALUES (NEW.half_year, 'request', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.assigned_to, NEW.expertise, NEW.urgency, NEW.status, NEW.outcome, NEW.reroutes, NEW.ever_unassigned, NEW.consent_delayed, NEW.created_at, NEW.accepted_at, NEW.first_visit_on);
END;
CREATE TRIGGER consultations_figures_update AFTER UPDATE OF half_year, region_code, age_band, organization_id, assigned_to, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on ON consultations
    WHEN NOT (OLD.half_year IS NEW.half_year AND OLD.region_code IS NEW.region_code AND OLD.age_band IS NEW.age_band AND OLD.organization_id IS NEW.organization_id AND OLD.assigned_to IS NEW.assigned_to AND OLD.expertise IS NEW.expertise AND OLD.urgency IS NEW.urgency AND OLD.status IS NEW.status AND OLD.outcome IS NEW.outcome AND OLD.reroutes IS NEW.reroutes AND OLD.ever_unassigned IS NEW.ever_unassigned AND OLD.consent_delayed IS NEW.consent_delayed AND OLD.created_at IS NEW.created_at AND OLD.accepted_at IS NEW.accepted_at AND OLD.first_visit_on IS NEW.first_visit_on)
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
        SELECT OLD.half_year, 'request', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.assigned_to, OLD.expertise, OLD.urgency, OLD.status, OLD.outcome, OLD.reroutes, OLD.ever_unassigned, OLD.consent_delayed, OLD.created_at, OLD.accepted_at, OLD.first_visit_on WHERE OLD.half_year IS NOT NULL;
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
        SELECT NEW.half_year, 'request', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.assigned_to, NEW.expertise, NEW.urgency, NEW.status, NEW.outcome, NEW.reroutes, NEW.ever_unassigned, NEW.consent_delayed, NEW.created_at, NEW.accepted_at, NEW.first_visit_on WHERE NEW.half_year IS NOT NULL;
END;
CREATE TRIGGER consultations_figures_delete AFTER DELETE ON consultations WHEN OLD.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed, created_at, accepted_at, first_visit_on)
        VALUES (OLD.half_year, 'request', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.assigned_to, OLD.expertise, OLD.urgency, OLD.status, OLD.outcome, OLD.reroutes, OLD.ever_unassigned, OLD.consent_delayed, OLD.created_at, OLD.accepted_at, OLD.first_visit_on);
END;

CREATE TRIGGER consents_figures_insert AFTER INSERT ON consents WHEN NEW.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
        VALUES (NEW.half_year, 'consent', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.recipient_organization_id, NEW.purpose, NEW.decision, NEW.status);
END;
CREATE TRIGGER consents_figures_update AFTER UPDATE OF half_year, region_code, age_band, organization_id, recipient_organization_id, purpose, decision, status ON consents
    WHEN NOT (OLD.half_year IS NEW.half_year AND OLD.region_code IS NEW.region_code AND OLD.age_band IS NEW.age_band AND OLD.organization_id IS NEW.organization_id AND OLD.recipient_organization_id IS NEW.recipient_organization_id AND OLD.purpose IS NEW.purpose AND OLD.decision IS NEW.decision AND OLD.status IS NEW.status)
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
        SELECT OLD.half_year, 'consent', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.recipient_organization_id, OLD.purpose, OLD.decision, OLD.status WHERE OLD.half_year IS NOT NULL;
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
        SELECT NEW.half_year, 'consent', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.recipient_organization_id, NEW.purpose, NEW.decision, NEW.status WHERE NEW.half_year IS NOT NULL;
END;
CREATE TRIGGER consents_figures_delete AFTER DELETE ON consents WHEN OLD.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, purpose, decision, status)
        VALUES (OLD.half_year, 'consent', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.recipient_organization_id, OLD.purpose, OLD.decision, OLD.status);
END;

CREATE TRIGGER visits_figures_insert AFTER INSERT ON visits WHEN NEW.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
        VALUES (NEW.half_year, 'visit', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.specialist_id, NEW.status, NEW.competences);
END;
CREATE TRIGGER visits_figures_update AFTER UPDATE OF half_year, region_code, age_band, organization_id, specialist_id, status, competences ON visits
    WHEN NOT (OLD.half_year IS NEW.half_year AND OLD.region_code IS NEW.region_code AND OLD.age_band IS NEW.age_band AND OLD.organization_id IS NEW.organization_id AND OLD.specialist_id IS NEW.specialist_id AND OLD.status IS NEW.status AND OLD.competences IS NEW.competences)
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
        SELECT OLD.half_year, 'visit', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.specialist_id, OLD.status, OLD.competences WHERE OLD.half_year IS NOT NULL;
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
        SELECT NEW.half_year, 'visit', 1, NEW.region_code, NEW.age_band, NEW.organization_id, NEW.specialist_id, NEW.status, NEW.competences WHERE NEW.half_year IS NOT NULL;
END;
CREATE TRIGGER visits_figures_delete AFTER DELETE ON visits WHEN OLD.half_year IS NOT NULL
BEGIN
    INSERT INTO figure_changes (half_year, kind, sign, region_code, age_band, organization_id, other_id, status, competences)
        VALUES (OLD.half_year, 'visit', -1, OLD.region_code, OLD.age_band, OLD.organization_id, OLD.specialist_id, OLD.status, OLD.competences);
END;

-- The full build groups each table by the columns the figures count, in this order: SQLite
-- aggregates while it walks a covering index in that order instead of sorting millions of rows.
-- (They begin with half_year, so they also serve what the half_year indexes served.)
DROP INDEX consultations_half_year;
CREATE INDEX consultations_figures ON consultations (half_year, region_code, age_band, organization_id,
    assigned_to, expertise, urgency, status, outcome, reroutes, ever_unassigned, consent_delayed);
CREATE INDEX consultations_figures_accepted ON consultations (half_year, region_code, age_band,
    organization_id, assigned_to, created_at, accepted_at, first_visit_on) WHERE accepted_at IS NOT NULL;
DROP INDEX consents_half_year;
CREATE INDEX consents_figures ON consents (half_year, region_code, age_band, organization_id,
    recipient_organization_id, purpose, decision, status);
DROP INDEX visits_half_year;
CREATE INDEX visits_figures ON visits (half_year, region_code, age_band, organization_id, specialist_id,
    status, competences);
