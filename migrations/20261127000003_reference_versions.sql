-- A version per property, bumped by any change to the reference data that servers cache
-- (the property and its outlets with their opening hours). Servers read it with every
-- session or staff-key lookup, so a cached copy is never used after a change, whichever
-- process or tool made it.

CREATE TABLE reference_versions (
    property_id  bigint PRIMARY KEY REFERENCES properties (id) ON DELETE CASCADE,
    version      bigint NOT NULL DEFAULT 1
);

CREATE FUNCTION bump_reference_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_property bigint;
BEGIN
    IF TG_TABLE_NAME = 'properties' THEN
        changed_property := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
        IF TG_OP = 'DELETE' THEN
            RETURN NULL;
        END IF;
    ELSE
        changed_property := CASE WHEN TG_OP = 'DELETE' THEN OLD.property_id ELSE NEW.property_id END;
    END IF;
    INSERT INTO reference_versions (property_id, version) VALUES (changed_property, 1)
    ON CONFLICT (property_id) DO UPDATE SET version = reference_versions.version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER properties_reference_version AFTER INSERT OR UPDATE OR DELETE ON properties
    FOR EACH ROW EXECUTE FUNCTION bump_reference_version();
CREATE TRIGGER outlets_reference_version AFTER INSERT OR UPDATE OR DELETE ON outlets
    FOR EACH ROW EXECUTE FUNCTION bump_reference_version();
CREATE TRIGGER outlet_opening_hours_reference_version AFTER INSERT OR UPDATE OR DELETE ON outlet_opening_hours
    FOR EACH ROW EXECUTE FUNCTION bump_reference_version();

INSERT INTO reference_versions (property_id) SELECT id FROM properties ON CONFLICT DO NOTHING;
