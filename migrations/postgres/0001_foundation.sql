-- Foundation: reference data (regions), registry, children, guardians, mentors, the access log.
-- Ids are UUIDv7 (uuid); instants timestamptz; dates date.

CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE region_memberships (
    municipality_code  TEXT NOT NULL,
    municipality_name  TEXT NOT NULL,
    region_code        TEXT NOT NULL REFERENCES regions (code),
    valid_from         DATE NOT NULL,
    imported_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (municipality_code, valid_from)
);
CREATE INDEX region_memberships_region ON region_memberships (region_code, valid_from);

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('childcare', 'youth_care', 'municipality')),
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE locations (
    id                 UUID PRIMARY KEY,
    organization_id    UUID NOT NULL REFERENCES organizations (id),
    name               TEXT NOT NULL,
    type               TEXT NOT NULL CHECK (type IN ('kdv', 'bso', 'psz', 'gob')),
    municipality_code  TEXT NOT NULL,
    lrk_number         TEXT,
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX locations_organization ON locations (organization_id, id);

CREATE TABLE groups (
    id           UUID PRIMARY KEY,
    location_id  UUID NOT NULL REFERENCES locations (id),
    name         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (location_id, name)
);

CREATE TABLE staff (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id),
    subject          TEXT NOT NULL,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('mentor', 'specialist', 'coordinator', 'policy')),
    capacity         BIGINT CHECK (capacity IS NULL OR capacity >= 0),
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, subject)
);

CREATE TABLE staff_locations (
    staff_id     UUID NOT NULL REFERENCES staff (id),
    location_id  UUID NOT NULL REFERENCES locations (id),
    PRIMARY KEY (staff_id, location_id)
);

CREATE TABLE staff_regions (
    staff_id     UUID NOT NULL REFERENCES staff (id),
    region_code  TEXT NOT NULL REFERENCES regions (code),
    PRIMARY KEY (staff_id, region_code)
);
CREATE INDEX staff_regions_region ON staff_regions (region_code);

CREATE TABLE staff_expertise (
    staff_id   UUID NOT NULL REFERENCES staff (id),
    expertise  TEXT NOT NULL,
    PRIMARY KEY (staff_id, expertise)
);

CREATE TABLE children (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id),
    location_id      UUID NOT NULL REFERENCES locations (id),
    group_id         UUID REFERENCES groups (id),
    external_ref     TEXT NOT NULL,
    given_name       TEXT NOT NULL,
    date_of_birth    DATE NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, external_ref)
);
CREATE INDEX children_location ON children (location_id, id);
CREATE INDEX children_organization ON children (organization_id, id);

CREATE TABLE child_mentors (
    id                   UUID PRIMARY KEY,
    child_id             UUID NOT NULL REFERENCES children (id),
    staff_id             UUID NOT NULL REFERENCES staff (id),
    assigned_at          TIMESTAMPTZ NOT NULL,
    ended_at             TIMESTAMPTZ,
    parents_informed_at  TIMESTAMPTZ
);
CREATE INDEX child_mentors_child ON child_mentors (child_id, assigned_at);
CREATE UNIQUE INDEX child_mentors_current ON child_mentors (child_id) WHERE ended_at IS NULL;

CREATE TABLE guardians (
    id                      UUID PRIMARY KEY,
    child_id                UUID NOT NULL REFERENCES children (id),
    name                    TEXT NOT NULL,
    relationship            TEXT NOT NULL CHECK (relationship IN ('parent', 'foster_parent', 'guardian', 'other')),
    has_parental_authority  BOOLEAN NOT NULL,
    authority_source        TEXT CHECK (authority_source IN ('declared', 'gezagsregister')),
    email                   TEXT,
    phone                   TEXT,
    created_at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX guardians_child ON guardians (child_id);

-- NEN 7513 access log: a hash chain. audit_head holds the last entry's position so that an
-- append (and a verification) knows where the chain ends.
CREATE TABLE audit_log (
    seq                    BIGINT PRIMARY KEY,
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
    flag                   TEXT,
    prev_hash              TEXT NOT NULL,
    hash                   TEXT NOT NULL
);
CREATE INDEX audit_log_child ON audit_log (child_id, seq);
CREATE INDEX audit_log_time ON audit_log (occurred_at);

CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '');

CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
