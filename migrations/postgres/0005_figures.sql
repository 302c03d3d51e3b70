-- Fixed dimensions of policy figures on each record (region, half-year, age band at the time),
-- and the facts response figures need, kept up to date as requests move.

ALTER TABLE consultations ADD COLUMN half_year TEXT;
ALTER TABLE consultations ADD COLUMN age_band TEXT;
ALTER TABLE consultations ADD COLUMN consent_delayed BOOLEAN;
ALTER TABLE consultations ADD COLUMN first_visit_on DATE;
ALTER TABLE consultations ADD COLUMN reroutes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE consultations ADD COLUMN ever_unassigned BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX consultations_figures_region ON consultations (region_code, half_year);
CREATE INDEX consultations_figures_organization ON consultations (organization_id, half_year);

ALTER TABLE consents ADD COLUMN region_code TEXT;
ALTER TABLE consents ADD COLUMN organization_id UUID;
ALTER TABLE consents ADD COLUMN half_year TEXT;
ALTER TABLE consents ADD COLUMN age_band TEXT;
CREATE INDEX consents_figures_region ON consents (region_code, half_year);
CREATE INDEX consents_figures_organization ON consents (organization_id, half_year);

ALTER TABLE visits ADD COLUMN region_code TEXT;
ALTER TABLE visits ADD COLUMN organization_id UUID;
ALTER TABLE visits ADD COLUMN half_year TEXT;
ALTER TABLE visits ADD COLUMN age_band TEXT;
CREATE INDEX visits_figures_region ON visits (region_code, half_year);
CREATE INDEX visits_figures_organization ON visits (organization_id, half_year);
