-- kn_zoho: stock both ways (storefront <-> Zoho Books).
--
-- For each SKU:  true stock = Books stock_on_hand + P, where P is what Books has not taken in:
--   unpushed non-sale storefront changes (ledger rows with source 'storefront', pushed_at NULL)
--   + storefront sales whose Books invoice is not yet sent (ledger rows with source 'sale',
--     grouped by order, while the order has no 'sent' row in stock_invoices).
-- The storefront's checkout tags its stock changes as the order's sale (see the storefront
-- contract in README, "Stock"); the pull tags what it applies 'zoho', which is never pushed.

-- Which order a 'sale' ledger row belongs to: taken from the session setting the checkout sets.
ALTER TABLE integration.stock_movements
    ADD COLUMN IF NOT EXISTS order_id uuid
        DEFAULT nullif(current_setting('kn_zoho.order_id', true), '')::uuid,
    ADD COLUMN IF NOT EXISTS push_reference text;  -- the adjustment this delta is sent in
CREATE INDEX IF NOT EXISTS stock_movements_order_idx
    ON integration.stock_movements (order_id) WHERE order_id IS NOT NULL;

-- One row per push cycle that had something to send: its deterministic reference is stored
-- before the call, so a lost reply, a killed run or an overlapping run looks it up instead of
-- sending it twice.
CREATE TABLE IF NOT EXISTS integration.stock_pushes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference       text NOT NULL UNIQUE,
    state           text NOT NULL CHECK (state IN ('sending', 'applied', 'abandoned')),
    lines           jsonb NOT NULL,          -- [{sku, item_id, quantity_adjusted}]
    adjustment_id   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz
);

-- Invoices of storefront orders as the Books stock sees them: 'sending' is written (under the
-- organization's stock lock) before the mark-sent call, 'sent' once Books took the stock.
CREATE TABLE IF NOT EXISTS integration.stock_invoices (
    order_id     uuid PRIMARY KEY,
    order_number text NOT NULL,
    invoice_id   text NOT NULL,
    state        text NOT NULL CHECK (state IN ('sending', 'sent')),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The last snapshot per SKU: what Books had, what the storefront had, the pending part, and
-- for how many snapshots running the SKU stayed out of step (the stock_in_step check).
CREATE TABLE IF NOT EXISTS integration.stock_levels (
    sku              text PRIMARY KEY,
    item_id          text,
    books_stock      integer,
    storefront_stock integer,
    pending          integer NOT NULL DEFAULT 0,
    out_of_step      integer NOT NULL DEFAULT 0,   -- snapshots running
    reason           text,
    snapshot_at      timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE integration.stock_pushes   ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.stock_invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration.stock_levels   ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON integration.stock_pushes, integration.stock_invoices, integration.stock_levels
    FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON integration.stock_pushes, integration.stock_invoices, '
                           'integration.stock_levels FROM %I', role_name);
        END IF;
    END LOOP;
END $$;
