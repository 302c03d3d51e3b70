-- Fixed dimensions of policy figures on each record (region, half-year, age band at the time),
-- and the facts response figures need, kept up to date as requests move. The summaries are recomputed per half-year
-- (0006), which the half-year indexes serve.

ALTER TABLE consultations ADD COLUMN half_year TEXT;
ALTER TABLE consultations ADD COLUMN age_band TEXT;
ALTER TABLE consultations ADD COLUMN consent_delayed BOOLEAN;
ALTER TABLE consultations ADD COLUMN first_visit_on TEXT;
ALTER TABLE consultations ADD COLUMN reroutes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE consultations ADD COLUMN ever_unassigned BOOLEAN NOT NULL DEFAULT 0;
CREATE INDEX consultations_half_year ON consultations (half_year);

ALTER TABLE consents ADD COLUMN region_code TEXT;
ALTER TABLE consents ADD COLUMN organization_id BLOB;
ALTER TABLE consents ADD COLUMN half_year TEXT;
ALTER TABLE consents ADD COLUMN age_band TEXT;
CREATE INDEX consents_half_year ON consents (half_year);

ALTER TABLE visits ADD COLUMN region_code TEXT;
ALTER TABLE visits ADD COLUMN organization_id BLOB;
ALTER TABLE visits ADD COLUMN half_year TEXT;
ALTER TABLE visits ADD COLUMN age_band TEXT;
CREATE INDEX visits_half_year ON visits (half_year);
