-- Concerns, consultation requests with routing and capacity, idempotency keys, webhooks.

-- Capacity is enforced by the database: a slot is claimed with a conditional update, and the
-- check makes any overrun impossible.
ALTER TABLE staff ADD COLUMN open_count INTEGER NOT NULL DEFAULT 0 CHECK (open_count >= 0 AND (capacity IS NULL OR open_count <= capacity));
ALTER TABLE staff ADD COLUMN last_offered_at TEXT;

CREATE TABLE concerns (
    id                    BLOB PRIMARY KEY,
    child_id              BLOB NOT NULL REFERENCES children (id),
    domains               TEXT NOT NULL,
    observation           TEXT NOT NULL,
    observed_since        TEXT NOT NULL,
    recorded_by_subject   TEXT NOT NULL,
    recorded_by_staff_id  BLOB,
    created_at            TEXT NOT NULL
);
CREATE INDEX concerns_child ON concerns (child_id);

CREATE TABLE consultations (
    id                     BLOB PRIMARY KEY,
    child_id               BLOB NOT NULL REFERENCES children (id),
    organization_id        BLOB NOT NULL REFERENCES organizations (id),
    location_id            BLOB NOT NULL REFERENCES locations (id),
    concern_id             BLOB NOT NULL REFERENCES concerns (id),
    question               TEXT NOT NULL,
    expertise              TEXT NOT NULL,
    urgency                TEXT NOT NULL CHECK (urgency IN ('normal', 'high')),
    region_code            TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('requested', 'offered', 'accepted', 'in_progress', 'on_hold', 'unassigned', 'rejected', 'cancelled', 'completed')),
    held_from              TEXT,
    offered_to             BLOB REFERENCES staff (id),
    offered_at             TEXT,
    answer_due             TEXT,
    assigned_to            BLOB REFERENCES staff (id),
    accepted_at            TEXT,
    status_reason          TEXT,
    requested_by_subject   TEXT NOT NULL,
    requested_by_staff_id  BLOB,
    version                INTEGER NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX consultations_child ON consultations (child_id);
CREATE INDEX consultations_organization ON consultations (organization_id, id);
CREATE INDEX consultations_due ON consultations (status, answer_due);
CREATE INDEX consultations_offered ON consultations (offered_to);
CREATE INDEX consultations_assigned ON consultations (assigned_to);
CREATE INDEX consultations_region ON consultations (region_code, status);

CREATE TABLE consultation_consents (
    consultation_id  BLOB NOT NULL REFERENCES consultations (id),
    consent_id       BLOB NOT NULL REFERENCES consents (id),
    PRIMARY KEY (consultation_id, consent_id)
);
CREATE INDEX consultation_consents_consent ON consultation_consents (consent_id);

CREATE TABLE consultation_declines (
    id               BLOB PRIMARY KEY,
    consultation_id  BLOB NOT NULL REFERENCES consultations (id),
    staff_id         BLOB NOT NULL REFERENCES staff (id),
    kind             TEXT NOT NULL CHECK (kind IN ('declined', 'expired')),
    reason           TEXT,
    at               TEXT NOT NULL
);
CREATE INDEX consultation_declines_consultation ON consultation_declines (consultation_id);

CREATE TABLE routing_decisions (
    id               BLOB PRIMARY KEY,
    consultation_id  BLOB NOT NULL REFERENCES consultations (id),
    decided_at       TEXT NOT NULL,
    trigger          TEXT NOT NULL,
    chosen_staff_id  BLOB,
    reason           TEXT NOT NULL,
    considered       TEXT NOT NULL
);
CREATE INDEX routing_decisions_consultation ON routing_decisions (consultation_id, decided_at);

CREATE TABLE idempotency_keys (
    scope          TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    INTEGER NOT NULL,
    response_body  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE webhook_endpoints (
    id               BLOB PRIMARY KEY,
    organization_id  BLOB NOT NULL REFERENCES organizations (id),
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    signing          TEXT NOT NULL CHECK (signing IN ('ed25519', 'hmac')),
    secret           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason  TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_organization ON webhook_endpoints (organization_id);

CREATE TABLE webhook_messages (
    id               BLOB PRIMARY KEY,
    organization_id  BLOB NOT NULL,
    event_type       TEXT NOT NULL,
    data             TEXT NOT NULL,
    created_at       TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY,
    message_id       BLOB NOT NULL REFERENCES webhook_messages (id),
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    lease_owner      TEXT,
    delivered_at     TEXT,
    last_status      INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);

CREATE TABLE webhook_attempts (
    id               BLOB PRIMARY KEY,
    delivery_id      BLOB NOT NULL REFERENCES webhook_deliveries (id),
    message_id       BLOB NOT NULL,
    endpoint_id      BLOB NOT NULL,
    attempted_at     TEXT NOT NULL,
    status_code      INTEGER,
    error            TEXT,
    duration_ms      INTEGER NOT NULL,
    next_attempt_at  TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at);
