-- A counter every change to whom a caller is moves: staff records, their locations, regions
-- and expertise, locations, organisations, SMART clients. Each replica caches a caller's
-- principal tagged with the counter read before it was loaded, and serves the cached one only
-- while the counter still reads the same: one read per request instead of the four lookups,
-- and a deactivated staff member is refused on the very next request on every replica. The
-- triggers move it in the transaction of the change, whichever code (or person) makes it;
-- the routing's updates of a specialist's open count and last offer do not move it.
CREATE TABLE scope_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL
);
INSERT INTO scope_version (id, version) VALUES (1, 0);

CREATE FUNCTION bump_scope_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scope_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER staff_scope AFTER INSERT OR DELETE OR TRUNCATE
    OR UPDATE OF organization_id, subject, name, role, capacity, active ON staff
    FOR EACH STATEMENT EXECUTE FUNCTION bump_scope_version();
CREATE TRIGGER staff_locations_scope AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON staff_locations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_scope_version();
CREATE TRIGGER staff_regions_scope AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON staff_regions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_scope_version();
CREATE TRIGGER staff_expertise_scope AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON staff_expertise
    FOR EACH STATEMENT EXECUTE FUNCTION bump_scope_version();
CREATE TRIGGER locations_scope AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON locations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_scope_version();
CREATE TRIGGER organizations_scope AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_scope_version();
CREATE TRIGGER smart_clients_scope AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON smart_clients
    FOR EACH STATEMENT EXECUTE FUNCTION bump_scope_version();
