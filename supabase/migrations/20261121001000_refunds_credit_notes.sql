-- kn_zoho: storefront refunds -> Books credit notes (with their refunds); stock returned by them.
--
-- Each storefront refund (public.order_refunds, one gateway refund of some lines of a paid
-- order) is one 'books_credit_note' queue record keyed by its refund_number, which also numbers
-- its Books credit note. The credit note needs the order's invoice: a refund whose invoice is
-- not in Books yet waits (a transient failure) and is made due again the moment the invoice's
-- id is written back, or when the invoice flow decides the order is never invoiced (refunded
-- in full before its invoice existed: then nothing is credited).
--
-- Stock: lines put back on the shelf are ledger rows with source 'return' and the refund's id.
-- Books takes them in with the credit note (its restocked lines name their inventory item), so
-- they are pending (part of P) until that credit note is open in Books, like a sale until its
-- invoice is sent, and are never pushed as adjustments. integration.stock_credit_notes records
-- the credit note's stock write ('sending' before the call, 'sent' after) as stock_invoices does.
-- An order never invoiced has its sale and return rows turned into ordinary storefront changes
-- (pushed as one adjustment): Books never learns of that sale otherwise.

-- The queue takes the new entity. (Other migrations may widen this list too: it is rebuilt
-- from the entities the queue already holds plus ours, so none is dropped.)
DO $$
DECLARE entities text;
BEGIN
    SELECT string_agg(quote_literal(e), ', ' ORDER BY e) INTO entities FROM (
        SELECT unnest(regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g')) AS e
          FROM pg_constraint c
         WHERE c.conname = 'zoho_sync_queue_entity_check'
        UNION SELECT 'books_credit_note') known;
    ALTER TABLE integration.zoho_sync_queue DROP CONSTRAINT IF EXISTS zoho_sync_queue_entity_check;
    EXECUTE format('ALTER TABLE integration.zoho_sync_queue ADD CONSTRAINT '
                   'zoho_sync_queue_entity_check CHECK (entity IN (%s))', entities);
END $$;

ALTER TABLE integration.stock_movements
    ADD COLUMN IF NOT EXISTS refund_id uuid
        DEFAULT nullif(current_setting('kn_zoho.refund_id', true), '')::uuid;
CREATE INDEX IF NOT EXISTS stock_movements_refund_idx
    ON integration.stock_movements (refund_id) WHERE refund_id IS NOT NULL;

-- 'never': the order was refunded in full before its invoice existed; it is never invoiced.
ALTER TABLE integration.stock_invoices ALTER COLUMN invoice_id DROP NOT NULL;
ALTER TABLE integration.stock_invoices DROP CONSTRAINT IF EXISTS stock_invoices_state_check;
ALTER TABLE integration.stock_invoices ADD CONSTRAINT stock_invoices_state_check
    CHECK (state IN ('sending', 'sent', 'never'));

CREATE TABLE IF NOT EXISTS integration.stock_credit_notes (
    refund_id      uuid PRIMARY KEY,
    refund_number  text NOT NULL,
    order_id       uuid NOT NULL,
    creditnote_id  text,
    state          text NOT NULL CHECK (state IN ('sending', 'sent')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Make a refund's credit note due now (fresh attempts): its invoice was just settled. PL/pgSQL,
-- so a storefront without refund tables can apply this migration (nothing to requeue there).
CREATE OR REPLACE FUNCTION integration.requeue_order_refunds(p_order_id uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF to_regclass('public.order_refunds') IS NULL THEN
        RETURN;
    END IF;
    UPDATE integration.zoho_sync_queue AS q
       SET change_version  = q.change_version + 1,
           status          = CASE WHEN q.status = 'in_progress' THEN q.status ELSE 'pending' END,
           attempts        = CASE WHEN q.status = 'in_progress' THEN q.attempts ELSE 0 END,
           next_attempt_at = now(),
           alerted_at      = NULL,
           updated_at      = now()
     WHERE q.entity = 'books_credit_note' AND q.status <> 'synced'
       AND q.record_id IN (SELECT r.id FROM public.order_refunds r WHERE r.order_id = p_order_id);
END $$;

CREATE OR REPLACE FUNCTION integration.capture_refund() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM integration.enqueue_sync('books_credit_note', NEW.refund_number, 'order_refunds',
                                     NEW.id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.capture_invoice_linked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NEW.zoho_books_id IS NOT NULL AND OLD.zoho_books_id IS DISTINCT FROM NEW.zoho_books_id THEN
        PERFORM integration.requeue_order_refunds(NEW.id);
    END IF;
    RETURN NULL;
END $$;

-- The storefront tables are the live storefront's (modelled in baseline.sql); a database
-- without refunds gets no trigger on them.
DO $$
BEGIN
    IF to_regclass('public.order_refunds') IS NOT NULL THEN
        ALTER TABLE public.order_refunds ADD COLUMN IF NOT EXISTS zoho_books_id text;
        DROP TRIGGER IF EXISTS zoho_capture_refund ON public.order_refunds;
        CREATE TRIGGER zoho_capture_refund AFTER INSERT ON public.order_refunds
            FOR EACH ROW EXECUTE FUNCTION integration.capture_refund();
        -- (requeue_order_refunds reads order_refunds: without it, linking an invoice would fail)
        DROP TRIGGER IF EXISTS zoho_capture_invoice_linked ON public.orders;
        CREATE TRIGGER zoho_capture_invoice_linked AFTER UPDATE OF zoho_books_id ON public.orders
            FOR EACH ROW EXECUTE FUNCTION integration.capture_invoice_linked();
    END IF;
END $$;

ALTER TABLE integration.stock_credit_notes ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON integration.stock_credit_notes FROM PUBLIC;
REVOKE ALL ON FUNCTION integration.requeue_order_refunds(uuid), integration.capture_refund(),
    integration.capture_invoice_linked() FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON integration.stock_credit_notes FROM %I', role_name);
            EXECUTE format('REVOKE ALL ON FUNCTION integration.requeue_order_refunds(uuid), '
                           'integration.capture_refund(), integration.capture_invoice_linked() '
                           'FROM %I', role_name);
        END IF;
    END LOOP;
END $$;
