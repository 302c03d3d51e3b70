-- Coaching visits (free text sealed with AES-256-GCM), outcomes, early-destruction requests,
-- and the anchor that lets the access log be purged from its start while the chain verifies.

CREATE TABLE visits (
    id                BLOB PRIMARY KEY,
    consultation_id   BLOB NOT NULL REFERENCES consultations (id),
    child_id          BLOB NOT NULL REFERENCES children (id),
    specialist_id     BLOB NOT NULL REFERENCES staff (id),
    date              TEXT NOT NULL,
    duration_minutes  INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    participants      TEXT NOT NULL,
    competences       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('planned', 'held', 'cancelled')),
    notes_sealed      TEXT,
    advice_sealed     TEXT,
    notes_shared      BOOLEAN NOT NULL,
    version           INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX visits_consultation ON visits (consultation_id, date);
CREATE INDEX visits_child ON visits (child_id, created_at);

ALTER TABLE consultations ADD COLUMN outcome TEXT;
ALTER TABLE consultations ADD COLUMN closed_at TEXT;
ALTER TABLE consultations ADD COLUMN summary_sealed TEXT;
ALTER TABLE consultations ADD COLUMN advice_sealed TEXT;
ALTER TABLE consultations ADD COLUMN parents_involved BOOLEAN;
ALTER TABLE consultations ADD COLUMN referral_kind TEXT;
ALTER TABLE consultations ADD COLUMN referral_consent_in_force BOOLEAN;
CREATE INDEX consultations_closed ON consultations (status, closed_at);
CREATE INDEX consents_recorded ON consents (status, recorded_at);

CREATE TABLE destruction_requests (
    id                   BLOB PRIMARY KEY,
    child_id             BLOB NOT NULL,
    organization_id      BLOB NOT NULL,
    requested_by         TEXT NOT NULL,
    reason               TEXT,
    recorded_by_subject  TEXT NOT NULL,
    requested_at         TEXT NOT NULL,
    carried_out_at       TEXT
);
CREATE INDEX destruction_requests_pending ON destruction_requests (carried_out_at);

ALTER TABLE audit_head ADD COLUMN anchor_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_head ADD COLUMN anchor_hash TEXT NOT NULL DEFAULT '';
