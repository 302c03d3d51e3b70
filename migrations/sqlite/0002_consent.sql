-- Consent records (never edited in place: a newer decision supersedes), who gave them,
-- parent links (stored only as a hash of their token), and Meldcode reports to Veilig Thuis.

CREATE TABLE consents (
    id                           BLOB PRIMARY KEY,
    child_id                     BLOB NOT NULL REFERENCES children (id),
    purpose                      TEXT NOT NULL CHECK (purpose IN ('consultation', 'information_sharing', 'referral')),
    recipient_organization_id    BLOB REFERENCES organizations (id),
    recipient_region_code        TEXT REFERENCES regions (code),
    decision                     TEXT NOT NULL CHECK (decision IN ('granted', 'refused')),
    method                       TEXT NOT NULL CHECK (method IN ('written', 'oral', 'digital')),
    evidence_ref                 TEXT,
    noted_by_staff_id            BLOB REFERENCES staff (id),
    information_version          TEXT NOT NULL,
    valid_from                   TEXT NOT NULL,
    valid_until                  TEXT,
    no_signs_of_disagreement     BOOLEAN NOT NULL,
    child_not_competent          BOOLEAN NOT NULL,
    status                       TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'withdrawn')),
    superseded_by                BLOB,
    withdrawn_at                 TEXT,
    withdrawn_by_guardian_id     BLOB,
    withdrawn_by_child           BOOLEAN NOT NULL DEFAULT 0,
    withdrawal_reason            TEXT,
    recorded_by_subject          TEXT NOT NULL,
    recorded_by_role             TEXT NOT NULL,
    recorded_by_organization_id  BLOB,
    parent_link_id               BLOB,
    recorded_at                  TEXT NOT NULL,
    CHECK ((recipient_organization_id IS NULL) <> (recipient_region_code IS NULL))
);
CREATE INDEX consents_child ON consents (child_id, purpose, status);

CREATE TABLE consent_givers (
    consent_id   BLOB NOT NULL REFERENCES consents (id),
    guardian_id  BLOB REFERENCES guardians (id),
    is_child     BOOLEAN NOT NULL,
    CHECK ((guardian_id IS NULL) = is_child)
);
CREATE INDEX consent_givers_consent ON consent_givers (consent_id);

CREATE TABLE parent_links (
    id                         BLOB PRIMARY KEY,
    token_hash                 TEXT NOT NULL UNIQUE,
    kind                       TEXT NOT NULL CHECK (kind IN ('invitation', 'standing')),
    child_id                   BLOB NOT NULL REFERENCES children (id),
    guardian_id                BLOB NOT NULL REFERENCES guardians (id),
    purpose                    TEXT,
    recipient_organization_id  BLOB,
    recipient_region_code      TEXT,
    consent_valid_until        TEXT,
    information_version        TEXT,
    expires_at                 TEXT NOT NULL,
    used_at                    TEXT,
    created_by_subject         TEXT NOT NULL,
    created_by_organization_id BLOB,
    created_at                 TEXT NOT NULL
);
CREATE INDEX parent_links_child ON parent_links (child_id);

CREATE TABLE veilig_thuis_reports (
    id                   BLOB PRIMARY KEY,
    child_id             BLOB NOT NULL REFERENCES children (id),
    legal_basis          TEXT NOT NULL,
    reason               TEXT NOT NULL,
    consulted            TEXT NOT NULL,
    weighing             TEXT NOT NULL,
    reported_on          TEXT NOT NULL,
    recorded_by_subject  TEXT NOT NULL,
    recorded_by_staff_id BLOB,
    organization_id      BLOB NOT NULL,
    created_at           TEXT NOT NULL
);
CREATE INDEX veilig_thuis_reports_child ON veilig_thuis_reports (child_id);
CREATE INDEX audit_log_flag ON audit_log (flag) WHERE flag IS NOT NULL;
