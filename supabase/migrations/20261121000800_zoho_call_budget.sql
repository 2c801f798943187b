-- Zoho's daily allowance per organization and product, shared by every process.
--
-- Books allows a plan-dependent number of calls a day per organization (code 45 once spent)
-- and CRM a number of API credits per rolling 24 hours. A backlog must not spend it on calls
-- Zoho refuses: every process reserves calls here in small blocks (kn_zoho/zoho/budget.py),
-- priorities stop early enough to keep a reserve for stock, and a refusal of Zoho's own
-- (Books code 45, CRM's X-API-CREDITS-REMAINING) corrects the count.

CREATE TABLE IF NOT EXISTS integration.zoho_call_budgets (
    product            text NOT NULL CHECK (product IN ('books', 'crm')),
    account            text NOT NULL,            -- Books organization id; 'crm' for CRM
    allowance          integer NOT NULL CHECK (allowance > 0),  -- calls (credits) a window
    window_started_at  timestamptz NOT NULL,
    resets_at          timestamptz NOT NULL,     -- when the allowance is whole again
    used               integer NOT NULL DEFAULT 0 CHECK (used >= 0),  -- reserved or spent
    refused_at         timestamptz,              -- Zoho's last "spent" signal, if any
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product, account)
);

-- A claim given back because the budget was spent is logged as 'deferred' (error BUDGET):
-- no attempt was counted.
ALTER TABLE integration.zoho_sync_logs DROP CONSTRAINT IF EXISTS zoho_sync_logs_status_check;
ALTER TABLE integration.zoho_sync_logs ADD CONSTRAINT zoho_sync_logs_status_check
    CHECK (status IN ('in_progress', 'pending', 'success', 'failed', 'dead', 'interrupted',
                      'abandoned', 'deferred'));

ALTER TABLE integration.zoho_call_budgets ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON integration.zoho_call_budgets FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON integration.zoho_call_budgets FROM %I', role_name);
        END IF;
    END LOOP;
END $$;
