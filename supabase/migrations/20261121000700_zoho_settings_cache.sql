-- Zoho settings that change rarely (the Books tax table), shared by every run.
--
-- Every Dagster run is its own process: read per run, GET /settings/taxes would cost one Books
-- call per sensor run. The reply is kept here for KN_ZOHO_SETTINGS_CACHE_SECONDS and shared by
-- every process (kn_zoho/zoho/settings_cache.py); `kn-zoho doctor` always asks Zoho itself.

CREATE TABLE IF NOT EXISTS integration.zoho_settings_cache (
    key         text PRIMARY KEY,              -- e.g. books:<organization id>:taxes
    value       jsonb NOT NULL,                -- Zoho's reply, as the client returned it
    fetched_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE integration.zoho_settings_cache ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON integration.zoho_settings_cache FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON integration.zoho_settings_cache FROM %I', role_name);
        END IF;
    END LOOP;
END $$;
