-- Claims that cost the same with 1,000 or 100,000 due rows (benchmarks/claim_cost.py).
--
-- A claim takes the next due rows in (next_attempt_at, record_key) order. The only index was
-- (entity, next_attempt_at) over pending and in-progress rows together, and the claim asked
-- for "pending and due OR in progress with its lease run out" in one condition: Postgres
-- read every due row and sorted them all to return 100 (a backfill writes them all with the
-- same next_attempt_at), 300 ms a claim at 100,000 rows against 10 ms at 1,000. The claim now
-- asks each kind separately (kn_zoho/storefront/queue.py), and each kind has an index in
-- exactly that order, so a claim reads about as many index entries as it takes.

CREATE INDEX IF NOT EXISTS zoho_sync_queue_pending_idx
    ON integration.zoho_sync_queue (entity, next_attempt_at, record_key)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS zoho_sync_queue_in_progress_idx
    ON integration.zoho_sync_queue (entity, next_attempt_at, record_key)
    WHERE status = 'in_progress';
-- The old index matched the pending rows' condition too, and the planner, without statistics
-- right after a bulk insert, preferred it and sorted everything: it goes.
DROP INDEX IF EXISTS integration.zoho_sync_queue_due_idx;
