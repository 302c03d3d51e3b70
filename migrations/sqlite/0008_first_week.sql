-- The first week's API (issue 11): deactivating what is no longer used, a child leaving, parent
-- links staff can see and revoke, webhook secrets rotated with overlap, and the message thread.

ALTER TABLE organizations ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE locations ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE groups ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;

-- retention of a child's childcare records counts from the day it left
ALTER TABLE children ADD COLUMN left_on TEXT;

ALTER TABLE parent_links ADD COLUMN revoked_at TEXT;

-- after a rotation the previous secret or key stays valid (and signs too) until then
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_valid_until TEXT;

-- mentor and specialist write about a request; the text is sealed like visit notes
CREATE TABLE consultation_messages (
    id               BLOB PRIMARY KEY,
    consultation_id  BLOB NOT NULL REFERENCES consultations (id),
    child_id         BLOB NOT NULL,
    author_role      TEXT NOT NULL,
    author_subject   TEXT NOT NULL,
    author_staff_id  BLOB,
    body_sealed      TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX consultation_messages_thread ON consultation_messages (consultation_id, created_at);

-- an offer also moves on when the specialist leaves (a decline of kind 'left'); SQLite changes
-- a CHECK only by rebuilding the table (nothing references it)
CREATE TABLE consultation_declines_new (
    id               BLOB PRIMARY KEY,
    consultation_id  BLOB NOT NULL REFERENCES consultations (id),
    staff_id         BLOB NOT NULL REFERENCES staff (id),
    kind             TEXT NOT NULL CHECK (kind IN ('declined', 'expired', 'left')),
    reason           TEXT,
    at               TEXT NOT NULL,
    plaintext_legacy BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO consultation_declines_new (id, consultation_id, staff_id, kind, reason, at, plaintext_legacy)
    SELECT id, consultation_id, staff_id, kind, reason, at, plaintext_legacy FROM consultation_declines;
DROP TABLE consultation_declines;
ALTER TABLE consultation_declines_new RENAME TO consultation_declines;
CREATE INDEX consultation_declines_consultation ON consultation_declines (consultation_id);
