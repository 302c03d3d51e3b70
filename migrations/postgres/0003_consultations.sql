-- Concerns, consultation requests with routing and capacity, idempotency keys, webhooks.

-- Capacity is enforced by the database: a slot is claimed with a conditional update, and the
-- check makes any overrun impossible.
ALTER TABLE staff ADD COLUMN open_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE staff ADD CONSTRAINT staff_capacity CHECK (open_count >= 0 AND (capacity IS NULL OR open_count <= capacity));
ALTER TABLE staff ADD COLUMN last_offered_at TIMESTAMPTZ;

CREATE TABLE concerns (
    id                    UUID PRIMARY KEY,
    child_id              UUID NOT NULL REFERENCES children (id),
    domains               TEXT NOT NULL,
    observation           TEXT NOT NULL,
    observed_since        DATE NOT NULL,
    recorded_by_subject   TEXT NOT NULL,
    recorded_by_staff_id  UUID,
    created_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX concerns_child ON concerns (child_id);

CREATE TABLE consultations (
    id                     UUID PRIMARY KEY,
    child_id               UUID NOT NULL REFERENCES children (id),
    organization_id        UUID NOT NULL REFERENCES organizations (id),
    location_id            UUID NOT NULL REFERENCES locations (id),
    concern_id             UUID NOT NULL REFERENCES concerns (id),
    question               TEXT NOT NULL,
    expertise              TEXT NOT NULL,
    urgency                TEXT NOT NULL CHECK (urgency IN ('normal', 'high')),
    region_code            TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('requested', 'offered', 'accepted', 'in_progress', 'on_hold', 'unassigned', 'rejected', 'cancelled', 'completed')),
    held_from              TEXT,
    offered_to             UUID REFERENCES staff (id),
    offered_at             TIMESTAMPTZ,
    answer_due             TIMESTAMPTZ,
    assigned_to            UUID REFERENCES staff (id),
    accepted_at            TIMESTAMPTZ,
    status_reason          TEXT,
    requested_by_subject   TEXT NOT NULL,
    requested_by_staff_id  UUID,
    version                BIGINT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX consultations_child ON consultations (child_id);
CREATE INDEX consultations_organization ON consultations (organization_id, id);
CREATE INDEX consultations_due ON consultations (status, answer_due);
CREATE INDEX consultations_offered ON consultations (offered_to);
CREATE INDEX consultations_assigned ON consultations (assigned_to);
CREATE INDEX consultations_region ON consultations (region_code, status);

CREATE TABLE consultation_consents (
    consultation_id  UUID NOT NULL REFERENCES consultations (id),
    consent_id       UUID NOT NULL REFERENCES consents (id),
    PRIMARY KEY (consultation_id, consent_id)
);
CREATE INDEX consultation_consents_consent ON consultation_consents (consent_id);

CREATE TABLE consultation_declines (
    id               UUID PRIMARY KEY,
    consultation_id  UUID NOT NULL REFERENCES consultations (id),
    staff_id         UUID NOT NULL REFERENCES staff (id),
    kind             TEXT NOT NULL CHECK (kind IN ('declined', 'expired')),
    reason           TEXT,
    at               TIMESTAMPTZ NOT NULL
);
CREATE INDEX consultation_declines_consultation ON consultation_declines (consultation_id);

CREATE TABLE routing_decisions (
    id               UUID PRIMARY KEY,
    consultation_id  UUID NOT NULL REFERENCES consultations (id),
    decided_at       TIMESTAMPTZ NOT NULL,
    trigger          TEXT NOT NULL,
    chosen_staff_id  UUID,
    reason           TEXT NOT NULL,
    considered       TEXT NOT NULL
);
CREATE INDEX routing_decisions_consultation ON routing_decisions (consultation_id, decided_at);

CREATE TABLE idempotency_keys (
    scope          TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    BIGINT NOT NULL,
    response_body  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE webhook_endpoints (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id),
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    signing          TEXT NOT NULL CHECK (signing IN ('ed25519', 'hmac')),
    secret           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason  TEXT,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_organization ON webhook_endpoints (organization_id);

CREATE TABLE webhook_messages (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL,
    event_type       TEXT NOT NULL,
    data             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    message_id       UUID NOT NULL REFERENCES webhook_messages (id),
    endpoint_id      UUID NOT NULL REFERENCES webhook_endpoints (id),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    locked_until     TIMESTAMPTZ,
    lease_owner      TEXT,
    delivered_at     TIMESTAMPTZ,
    last_status      BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);

CREATE TABLE webhook_attempts (
    id               UUID PRIMARY KEY,
    delivery_id      UUID NOT NULL REFERENCES webhook_deliveries (id),
    message_id       UUID NOT NULL,
    endpoint_id      UUID NOT NULL,
    attempted_at     TIMESTAMPTZ NOT NULL,
    status_code      BIGINT,
    error            TEXT,
    duration_ms      BIGINT NOT NULL,
    next_attempt_at  TIMESTAMPTZ
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at);
