-- Consent records (never edited in place: a newer decision supersedes), who gave them,
-- parent links (stored only as a hash of their token), and Meldcode reports to Veilig Thuis.

CREATE TABLE consents (
    id                           UUID PRIMARY KEY,
    child_id                     UUID NOT NULL REFERENCES children (id),
    purpose                      TEXT NOT NULL CHECK (purpose IN ('consultation', 'information_sharing', 'referral')),
    recipient_organization_id    UUID REFERENCES organizations (id),
    recipient_region_code        TEXT REFERENCES regions (code),
    decision                     TEXT NOT NULL CHECK (decision IN ('granted', 'refused')),
    method                       TEXT NOT NULL CHECK (method IN ('written', 'oral', 'digital')),
    evidence_ref                 TEXT,
    noted_by_staff_id            UUID REFERENCES staff (id),
    information_version          TEXT NOT NULL,
    valid_from                   DATE NOT NULL,
    valid_until                  DATE,
    no_signs_of_disagreement     BOOLEAN NOT NULL,
    child_not_competent          BOOLEAN NOT NULL,
    status                       TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'withdrawn')),
    superseded_by                UUID,
    withdrawn_at                 TIMESTAMPTZ,
    withdrawn_by_guardian_id     UUID,
    withdrawn_by_child           BOOLEAN NOT NULL DEFAULT FALSE,
    withdrawal_reason            TEXT,
    recorded_by_subject          TEXT NOT NULL,
    recorded_by_role             TEXT NOT NULL,
    recorded_by_organization_id  UUID,
    parent_link_id               UUID,
    recorded_at                  TIMESTAMPTZ NOT NULL,
    CHECK ((recipient_organization_id IS NULL) <> (recipient_region_code IS NULL))
);
CREATE INDEX consents_child ON consents (child_id, purpose, status);

CREATE TABLE consent_givers (
    consent_id   UUID NOT NULL REFERENCES consents (id),
    guardian_id  UUID REFERENCES guardians (id),
    is_child     BOOLEAN NOT NULL,
    CHECK ((guardian_id IS NULL) = is_child)
);
CREATE INDEX consent_givers_consent ON consent_givers (consent_id);

CREATE TABLE parent_links (
    id                         UUID PRIMARY KEY,
    token_hash                 TEXT NOT NULL UNIQUE,
    kind                       TEXT NOT NULL CHECK (kind IN ('invitation', 'standing')),
    child_id                   UUID NOT NULL REFERENCES children (id),
    guardian_id                UUID NOT NULL REFERENCES guardians (id),
    purpose                    TEXT,
    recipient_organization_id  UUID,
    recipient_region_code      TEXT,
    consent_valid_until        DATE,
    information_version        TEXT,
    expires_at                 TIMESTAMPTZ NOT NULL,
    used_at                    TIMESTAMPTZ,
    created_by_subject         TEXT NOT NULL,
    created_by_organization_id UUID,
    created_at                 TIMESTAMPTZ NOT NULL
);
CREATE INDEX parent_links_child ON parent_links (child_id);

CREATE TABLE veilig_thuis_reports (
    id                   UUID PRIMARY KEY,
    child_id             UUID NOT NULL REFERENCES children (id),
    legal_basis          TEXT NOT NULL,
    reason               TEXT NOT NULL,
    consulted            TEXT NOT NULL,
    weighing             TEXT NOT NULL,
    reported_on          DATE NOT NULL,
    recorded_by_subject  TEXT NOT NULL,
    recorded_by_staff_id UUID,
    organization_id      UUID NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX veilig_thuis_reports_child ON veilig_thuis_reports (child_id);
CREATE INDEX audit_log_flag ON audit_log (flag) WHERE flag IS NOT NULL;
