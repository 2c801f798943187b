-- Sensor launch state in Postgres, not in the Dagster sensor cursor.
--
-- One row per record a queue sensor launched a run for: the launch id is a tag on that run,
-- so the next tick asks the Dagster instance whether the run is still queued or running
-- (then the record is not launched again) or has ended (then a record that is still due is
-- launched again at once). The cursor stays small whatever the backlog, and retry timing
-- follows the queue's backoff instead of a fixed relaunch hold.

CREATE TABLE IF NOT EXISTS integration.sensor_launches (
    entity       text NOT NULL,
    record_key   text NOT NULL,
    launch_id    text NOT NULL,          -- tag kn_zoho/launch_id on the launched run
    launched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, record_key)
);
CREATE INDEX IF NOT EXISTS sensor_launches_launch_idx ON integration.sensor_launches (launch_id);

ALTER TABLE integration.sensor_launches ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON integration.sensor_launches FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON integration.sensor_launches FROM %I', role_name);
        END IF;
    END LOOP;
END $$;
