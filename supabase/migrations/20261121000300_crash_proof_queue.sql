-- Crash-proof queue (issue 9): attempts that are visible while they run, leases a live run
-- renews (heartbeat) and an operator can see, and a log column named for what it holds.

-- zoho_sync_logs.dagster_run_id held the Dagster run id and NULL for CLI runs; every run now
-- records its id (Dagster run id, or cli-<uuid> for a `kn-zoho sync` process).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'integration' AND table_name = 'zoho_sync_logs'
                 AND column_name = 'dagster_run_id') THEN
        ALTER TABLE integration.zoho_sync_logs RENAME COLUMN dagster_run_id TO run_id;
    END IF;
END $$;
ALTER TABLE integration.zoho_sync_logs
    ADD COLUMN IF NOT EXISTS run_kind text CHECK (run_kind IN ('dagster', 'cli'));

-- An attempt is logged when it starts ('in_progress') and finished later. 'interrupted': an
-- infrastructure error (database connection lost) stopped it; it does not count against the
-- record. 'abandoned': its worker died (killed, out of memory); it counts.
ALTER TABLE integration.zoho_sync_logs DROP CONSTRAINT IF EXISTS zoho_sync_logs_status_check;
ALTER TABLE integration.zoho_sync_logs ADD CONSTRAINT zoho_sync_logs_status_check
    CHECK (status IN ('in_progress', 'pending', 'success', 'failed', 'dead', 'interrupted',
                      'abandoned'));
CREATE INDEX IF NOT EXISTS zoho_sync_logs_open_idx
    ON integration.zoho_sync_logs (entity, record_key) WHERE status = 'in_progress';

-- Who holds a lease, since when, and what kind of run it is (a Dagster run can be asked
-- whether it is still running; a CLI run proves it is gone by letting its heartbeat lapse).
ALTER TABLE integration.zoho_sync_queue
    ADD COLUMN IF NOT EXISTS claimed_at      timestamptz,
    ADD COLUMN IF NOT EXISTS claimed_by_kind text CHECK (claimed_by_kind IN ('dagster', 'cli'));
CREATE INDEX IF NOT EXISTS zoho_sync_queue_holder_idx
    ON integration.zoho_sync_queue (claimed_by) WHERE status = 'in_progress';
