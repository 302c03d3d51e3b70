-- Access-log entries before the chainer chains them (the same schema as PostgreSQL's). SQLite
-- chains in the appending transaction (its one writer orders every append anyway), so this
-- table stays empty here.
CREATE TABLE audit_pending (
    pending_seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id                     BLOB NOT NULL UNIQUE,
    occurred_at            TEXT NOT NULL,
    actor_issuer           TEXT NOT NULL,
    actor_subject          TEXT NOT NULL,
    actor_role             TEXT NOT NULL,
    actor_organization_id  BLOB,
    actor_staff_id         BLOB,
    request_id             TEXT NOT NULL,
    action                 TEXT NOT NULL,
    resource_type          TEXT NOT NULL,
    resource_id            BLOB,
    child_id               BLOB,
    purpose                TEXT NOT NULL,
    outcome                TEXT NOT NULL,
    flag                   TEXT
);
