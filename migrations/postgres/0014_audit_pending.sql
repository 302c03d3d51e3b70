-- Access-log entries as they commit with their change, before the chainer chains them into
-- audit_log (PostgreSQL). A write inserts here and locks nothing another write needs; each
-- replica's chainer takes the chain head (FOR UPDATE SKIP LOCKED), chains what is committed
-- here in the order written, moves it into audit_log and deletes exactly what it moved, in
-- one transaction. An entry's place in the chain is given when it is chained.
CREATE TABLE audit_pending (
    pending_seq            BIGSERIAL PRIMARY KEY,
    id                     UUID NOT NULL UNIQUE,
    occurred_at            TIMESTAMPTZ NOT NULL,
    actor_issuer           TEXT NOT NULL,
    actor_subject          TEXT NOT NULL,
    actor_role             TEXT NOT NULL,
    actor_organization_id  UUID,
    actor_staff_id         UUID,
    request_id             TEXT NOT NULL,
    action                 TEXT NOT NULL,
    resource_type          TEXT NOT NULL,
    resource_id            UUID,
    child_id               UUID,
    purpose                TEXT NOT NULL,
    outcome                TEXT NOT NULL,
    flag                   TEXT
);
