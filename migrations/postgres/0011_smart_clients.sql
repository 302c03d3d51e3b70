-- SMART Backend Services: partner systems registered by an admin, each acting for one
-- organisation with the scopes it was given. Its public keys are inline (`jwks`) or fetched
-- from `jwks_uri`; exactly one of the two.
CREATE TABLE smart_clients (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    jwks             TEXT,
    jwks_uri         TEXT,
    scopes           TEXT NOT NULL,
    active           BOOLEAN NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CHECK ((jwks IS NULL) <> (jwks_uri IS NULL))
);
CREATE INDEX smart_clients_organization ON smart_clients (organization_id);

-- The `jti` of every client assertion taken, until its `exp`: a replayed assertion is refused
-- by the primary key, on every replica.
CREATE TABLE smart_assertions (
    client_id   UUID NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX smart_assertions_expiry ON smart_assertions (expires_at);
