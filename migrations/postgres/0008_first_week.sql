-- The first week's API (issue 11): deactivating what is no longer used, a child leaving, parent
-- links staff can see and revoke, webhook secrets rotated with overlap, and the message thread.

ALTER TABLE organizations ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE locations ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE groups ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;

-- retention of a child's childcare records counts from the day it left
ALTER TABLE children ADD COLUMN left_on DATE;

ALTER TABLE parent_links ADD COLUMN revoked_at TIMESTAMPTZ;

-- after a rotation the previous secret or key stays valid (and signs too) until then
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN previous_valid_until TIMESTAMPTZ;

-- mentor and specialist write about a request; the text is sealed like visit notes
CREATE TABLE consultation_messages (
    id               UUID PRIMARY KEY,
    consultation_id  UUID NOT NULL REFERENCES consultations (id),
    child_id         UUID NOT NULL,
    author_role      TEXT NOT NULL,
    author_subject   TEXT NOT NULL,
    author_staff_id  UUID,
    body_sealed      TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX consultation_messages_thread ON consultation_messages (consultation_id, created_at);

-- an offer also moves on when the specialist leaves (a decline of kind 'left')
ALTER TABLE consultation_declines DROP CONSTRAINT consultation_declines_kind_check;
ALTER TABLE consultation_declines ADD CONSTRAINT consultation_declines_kind_check
    CHECK (kind IN ('declined', 'expired', 'left'));
