-- kn_zoho: Zoho CRM / Zoho Books integration.
--
-- Runs on a real Supabase database (plain SQL, idempotent) and on the dev/test baseline.
-- Integration state lives in its own schema `integration`, which PostgREST does not expose;
-- row level security is enabled on every table there with no policy, and the anon and
-- authenticated roles get no privilege on it, so the storefront API can never read tokens,
-- logs or queue state.
--
-- Change capture: triggers write to integration.zoho_sync_queue in the same transaction as
-- the storefront change. The queue holds one row per storefront record and the workers claim
-- rows that are due (no cursor over commit order), so a transaction that commits after a
-- later one is never skipped.

CREATE SCHEMA IF NOT EXISTS integration;
REVOKE ALL ON SCHEMA integration FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON SCHEMA integration FROM %I', role_name);
        END IF;
    END LOOP;
END $$;

-- Zoho ids written back onto storefront records -------------------------------------------
ALTER TABLE public.users    ADD COLUMN IF NOT EXISTS zoho_crm_id text,
                            ADD COLUMN IF NOT EXISTS zoho_books_id text;
ALTER TABLE public.orders   ADD COLUMN IF NOT EXISTS zoho_crm_id text,
                            ADD COLUMN IF NOT EXISTS zoho_books_id text;
ALTER TABLE public.products ADD COLUMN IF NOT EXISTS zoho_crm_id text,
                            ADD COLUMN IF NOT EXISTS zoho_books_id text;
ALTER TABLE public.b2b_quotes ADD COLUMN IF NOT EXISTS zoho_crm_id text,   -- CRM lead of the request
                              ADD COLUMN IF NOT EXISTS zoho_books_id text; -- Books estimate
ALTER TABLE public.contact_submissions ADD COLUMN IF NOT EXISTS zoho_crm_lead_id text;

-- Durable queue: one row per storefront record that needs syncing -------------------------
CREATE TABLE IF NOT EXISTS integration.zoho_sync_queue (
    entity             text NOT NULL CHECK (entity IN
                       ('crm_contact', 'crm_lead', 'books_item', 'books_invoice', 'books_estimate')),
    record_key         text NOT NULL,   -- Dagster partition key: user id, order number, SKU ...
    source_table       text NOT NULL,   -- storefront table the record lives in
    record_id          uuid NOT NULL,   -- its primary key there
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN
                       ('pending', 'in_progress', 'synced', 'failed', 'dead')),
    change_version     bigint NOT NULL DEFAULT 1,  -- bumped by every captured change
    claimed_version    bigint,                     -- version the current/last claim is syncing
    synced_version     bigint,                     -- version last synced successfully
    attempts           integer NOT NULL DEFAULT 0, -- attempts made for the current version
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    claimed_by         text,                       -- Dagster run id / CLI session of the claim
    claimed_until      timestamptz,                -- lease: a killed run's claim expires
    payload_hash       text,                       -- hash of the last payload Zoho accepted
    zoho_id            text,
    last_error_code    text,
    last_error_message text,
    alerted_at         timestamptz,                -- dead-letter alert sent (once)
    enqueued_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, record_key)
);
CREATE INDEX IF NOT EXISTS zoho_sync_queue_due_idx
    ON integration.zoho_sync_queue (entity, next_attempt_at)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX IF NOT EXISTS zoho_sync_queue_record_idx
    ON integration.zoho_sync_queue (source_table, record_id);

-- Sync log: one row per attempt ------------------------------------------------------------
CREATE TABLE IF NOT EXISTS integration.zoho_sync_logs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity          text NOT NULL,
    record_key      text NOT NULL,
    record_id       uuid,
    operation       text NOT NULL,       -- upsert, create, update, link, payment, ...
    status          text NOT NULL CHECK (status IN ('pending', 'success', 'failed', 'dead')),
    attempt         integer NOT NULL CHECK (attempt >= 1),
    error_code      text,
    error_message   text,
    zoho_id         text,
    dagster_run_id  text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS zoho_sync_logs_record_idx
    ON integration.zoho_sync_logs (entity, record_key, id DESC);
CREATE INDEX IF NOT EXISTS zoho_sync_logs_created_idx ON integration.zoho_sync_logs (created_at);

-- OAuth access token shared by every process, encrypted (Fernet) ---------------------------
CREATE TABLE IF NOT EXISTS integration.zoho_oauth_tokens (
    account_key             text PRIMARY KEY,  -- digest of accounts URL + client id + refresh token
    access_token_encrypted  text NOT NULL,
    api_domain              text NOT NULL,
    expires_at              timestamptz NOT NULL,
    refreshed_at            timestamptz NOT NULL DEFAULT now(),
    refresh_count           bigint NOT NULL DEFAULT 1
);

-- Shared client-side rate limit state (GCRA: theoretical arrival time per bucket) ----------
CREATE TABLE IF NOT EXISTS integration.zoho_rate_limits (
    bucket               text PRIMARY KEY,   -- e.g. 'books:<organization_id>', 'crm'
    theoretical_arrival  timestamptz NOT NULL DEFAULT now()
);

-- Stock ledger: every storefront stock change, with where it came from ---------------------
-- Writers that apply Zoho-side stock set `SET LOCAL kn_zoho.change_source = 'zoho'` so the
-- change is recorded but never pushed back (no echo, no double count).
CREATE TABLE IF NOT EXISTS integration.stock_movements (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id      uuid NOT NULL,
    sku             text NOT NULL,
    delta           integer NOT NULL,
    quantity_after  integer NOT NULL,
    source          text NOT NULL,    -- storefront | zoho | ...
    pushed_at       timestamptz,      -- set once the delta reached Zoho (source storefront)
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stock_movements_unpushed_idx
    ON integration.stock_movements (id) WHERE pushed_at IS NULL;

-- Change capture ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION integration.enqueue_sync(
    p_entity text, p_record_key text, p_source_table text, p_record_id uuid
) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
    INSERT INTO integration.zoho_sync_queue AS q (entity, record_key, source_table, record_id)
    VALUES (p_entity, p_record_key, p_source_table, p_record_id)
    ON CONFLICT (entity, record_key) DO UPDATE
       SET change_version  = q.change_version + 1,
           record_id       = EXCLUDED.record_id,
           -- a claim in progress finishes first and then sees the newer version
           status          = CASE WHEN q.status = 'in_progress' THEN q.status ELSE 'pending' END,
           attempts        = CASE WHEN q.status = 'in_progress' THEN q.attempts ELSE 0 END,
           next_attempt_at = now(),
           alerted_at      = NULL,
           updated_at      = now();
$$;

CREATE OR REPLACE FUNCTION integration.capture_user_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF TG_OP = 'INSERT' OR (OLD.email, OLD.full_name, OLD.phone, OLD.company, OLD.gstin,
                            OLD.customer_type, OLD.billing_state, OLD.shipping_state)
                 IS DISTINCT FROM (NEW.email, NEW.full_name, NEW.phone, NEW.company, NEW.gstin,
                            NEW.customer_type, NEW.billing_state, NEW.shipping_state) THEN
        PERFORM integration.enqueue_sync('crm_contact', NEW.id::text, 'users', NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.capture_contact_submission() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM integration.enqueue_sync('crm_lead', 'inquiry-' || NEW.id::text,
                                     'contact_submissions', NEW.id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.capture_quote_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM integration.enqueue_sync('crm_lead', 'quote-' || NEW.quote_number,
                                         'b2b_quotes', NEW.id);
    END IF;
    IF NEW.status = 'approved'
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'approved') THEN
        PERFORM integration.enqueue_sync('books_estimate', NEW.quote_number, 'b2b_quotes', NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.capture_order_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NEW.payment_status = 'paid'
       AND (TG_OP = 'INSERT' OR OLD.payment_status IS DISTINCT FROM 'paid') THEN
        PERFORM integration.enqueue_sync('books_invoice', NEW.order_number, 'orders', NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.capture_product_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    source text := coalesce(nullif(current_setting('kn_zoho.change_source', true), ''),
                            'storefront');
    old_quantity integer := CASE WHEN TG_OP = 'INSERT' THEN 0 ELSE OLD.stock_quantity END;
BEGIN
    IF TG_OP = 'INSERT' OR (OLD.sku, OLD.name, OLD.hsn_code, OLD.gst_rate, OLD.price,
                            OLD.is_active)
                 IS DISTINCT FROM (NEW.sku, NEW.name, NEW.hsn_code, NEW.gst_rate, NEW.price,
                                   NEW.is_active) THEN
        PERFORM integration.enqueue_sync('books_item', NEW.sku, 'products', NEW.id);
    END IF;
    IF NEW.stock_quantity IS DISTINCT FROM old_quantity THEN
        INSERT INTO integration.stock_movements (product_id, sku, delta, quantity_after, source)
        VALUES (NEW.id, NEW.sku, NEW.stock_quantity - old_quantity, NEW.stock_quantity, source);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS zoho_capture_user_change ON public.users;
CREATE TRIGGER zoho_capture_user_change AFTER INSERT OR UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION integration.capture_user_change();
DROP TRIGGER IF EXISTS zoho_capture_contact_submission ON public.contact_submissions;
CREATE TRIGGER zoho_capture_contact_submission AFTER INSERT ON public.contact_submissions
    FOR EACH ROW EXECUTE FUNCTION integration.capture_contact_submission();
DROP TRIGGER IF EXISTS zoho_capture_quote_change ON public.b2b_quotes;
CREATE TRIGGER zoho_capture_quote_change AFTER INSERT OR UPDATE OF status ON public.b2b_quotes
    FOR EACH ROW EXECUTE FUNCTION integration.capture_quote_change();
DROP TRIGGER IF EXISTS zoho_capture_order_change ON public.orders;
CREATE TRIGGER zoho_capture_order_change AFTER INSERT OR UPDATE OF payment_status ON public.orders
    FOR EACH ROW EXECUTE FUNCTION integration.capture_order_change();
DROP TRIGGER IF EXISTS zoho_capture_product_change ON public.products;
CREATE TRIGGER zoho_capture_product_change AFTER INSERT OR UPDATE ON public.products
    FOR EACH ROW EXECUTE FUNCTION integration.capture_product_change();

-- Lock the integration schema down ---------------------------------------------------------
ALTER TABLE integration.zoho_sync_queue   ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.zoho_sync_logs    ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.zoho_oauth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.zoho_rate_limits  ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.stock_movements   ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ALL TABLES IN SCHEMA integration FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA integration FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA integration FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA integration FROM %I',
                           role_name);
        END IF;
    END LOOP;
END $$;
