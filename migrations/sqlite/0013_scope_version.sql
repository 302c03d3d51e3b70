-- A counter every change to whom a caller is moves: staff records, their locations, regions
-- and expertise, locations, organisations, SMART clients. Each replica caches a caller's
-- principal tagged with the counter read before it was loaded, and serves the cached one only
-- while the counter still reads the same. The triggers move it in the transaction of the
-- change; the routing's updates of a specialist's open count and last offer do not move it.
CREATE TABLE scope_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO scope_version (id, version) VALUES (1, 0);
CREATE TRIGGER staff_scope_insert AFTER INSERT ON staff BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_scope_delete AFTER DELETE ON staff BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_scope_update AFTER UPDATE OF organization_id, subject, name, role, capacity, active ON staff BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_locations_scope_insert AFTER INSERT ON staff_locations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_locations_scope_delete AFTER DELETE ON staff_locations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_locations_scope_update AFTER UPDATE ON staff_locations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_regions_scope_insert AFTER INSERT ON staff_regions BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_regions_scope_delete AFTER DELETE ON staff_regions BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_regions_scope_update AFTER UPDATE ON staff_regions BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_expertise_scope_insert AFTER INSERT ON staff_expertise BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_expertise_scope_delete AFTER DELETE ON staff_expertise BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER staff_expertise_scope_update AFTER UPDATE ON staff_expertise BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER locations_scope_insert AFTER INSERT ON locations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER locations_scope_delete AFTER DELETE ON locations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER locations_scope_update AFTER UPDATE ON locations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER organizations_scope_insert AFTER INSERT ON organizations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER organizations_scope_delete AFTER DELETE ON organizations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER organizations_scope_update AFTER UPDATE ON organizations BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER smart_clients_scope_insert AFTER INSERT ON smart_clients BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER smart_clients_scope_delete AFTER DELETE ON smart_clients BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER smart_clients_scope_update AFTER UPDATE ON smart_clients BEGIN UPDATE scope_version SET version = version + 1 WHERE id = 1; END;
