-- Defects found from outside (issue 10).

-- Free text about a child is sealed at rest like the specialists' notes. Rows written before
-- this migration are marked and sealed by the gateway at its next start (it holds the keys).
ALTER TABLE consultations ADD COLUMN plaintext_legacy BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE consultations SET plaintext_legacy = TRUE;
ALTER TABLE concerns ADD COLUMN plaintext_legacy BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE concerns SET plaintext_legacy = TRUE;
ALTER TABLE veilig_thuis_reports ADD COLUMN plaintext_legacy BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE veilig_thuis_reports SET plaintext_legacy = TRUE;
ALTER TABLE consents ADD COLUMN plaintext_legacy BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE consents SET plaintext_legacy = TRUE WHERE withdrawal_reason IS NOT NULL;
ALTER TABLE consultation_declines ADD COLUMN plaintext_legacy BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE consultation_declines SET plaintext_legacy = TRUE WHERE reason IS NOT NULL;

-- Who judged a child of 12 or older not competent in the matter, when and why (WGBO 7:465(2)).
ALTER TABLE consents ADD COLUMN not_competent_judged_by TEXT;
ALTER TABLE consents ADD COLUMN not_competent_judged_on TEXT;
ALTER TABLE consents ADD COLUMN not_competent_reason_sealed TEXT;
UPDATE consents SET not_competent_judged_by = 'not recorded (before 2026-12)'
    WHERE child_not_competent;

-- A region-wide consent covers the youth-care organisations serving the region when it was
-- given. For older records the organisations serving it now are the best record there is.
CREATE TABLE consent_region_organizations (
    consent_id      BLOB NOT NULL REFERENCES consents (id),
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    PRIMARY KEY (consent_id, organization_id)
);
INSERT INTO consent_region_organizations (consent_id, organization_id)
    SELECT DISTINCT c.id, s.organization_id FROM consents c
    JOIN staff_regions r ON r.region_code = c.recipient_region_code
    JOIN staff s ON s.id = r.staff_id AND s.role IN ('specialist', 'coordinator')
    WHERE c.recipient_region_code IS NOT NULL;

-- Parent links can also be the child's own (12 or older): no guardian then.
CREATE TABLE parent_links_new (
    id                         BLOB PRIMARY KEY,
    token_hash                 TEXT NOT NULL UNIQUE,
    kind                       TEXT NOT NULL CHECK (kind IN ('invitation', 'standing')),
    child_id                   BLOB NOT NULL REFERENCES children (id),
    holder                     TEXT NOT NULL DEFAULT 'guardian' CHECK (holder IN ('guardian', 'child')),
    guardian_id                BLOB REFERENCES guardians (id),
    purpose                    TEXT,
    recipient_organization_id  BLOB,
    recipient_region_code      TEXT,
    consent_valid_until        TEXT,
    information_version        TEXT,
    expires_at                 TEXT NOT NULL,
    used_at                    TEXT,
    created_by_subject         TEXT NOT NULL,
    created_by_organization_id BLOB,
    created_at                 TEXT NOT NULL,
    CHECK ((holder = 'guardian') = (guardian_id IS NOT NULL))
);
INSERT INTO parent_links_new (id, token_hash, kind, child_id, holder, guardian_id, purpose,
    recipient_organization_id, recipient_region_code, consent_valid_until, information_version,
    expires_at, used_at, created_by_subject, created_by_organization_id, created_at)
    SELECT id, token_hash, kind, child_id, 'guardian', guardian_id, purpose,
    recipient_organization_id, recipient_region_code, consent_valid_until, information_version,
    expires_at, used_at, created_by_subject, created_by_organization_id, created_at FROM parent_links;
DROP TABLE parent_links;
ALTER TABLE parent_links_new RENAME TO parent_links;
CREATE INDEX parent_links_child ON parent_links (child_id);

-- Signed checkpoints of the access log: the chain head (and where retention cut it) signed
-- with a key the database does not hold, so truncating or recomputing the chain shows.
CREATE TABLE audit_checkpoints (
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_hash TEXT NOT NULL,
    signed_at   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (seq, anchor_seq)
);

-- Deliveries are claimed per endpoint (one slow receiver must not hold the others).
CREATE INDEX webhook_deliveries_endpoint_state ON webhook_deliveries (endpoint_id, state);

-- A person's reason for cancelling or rejecting a request is free text: sealed, apart from the
-- status reason the gateway itself words.
ALTER TABLE consultations ADD COLUMN status_note_sealed TEXT;
