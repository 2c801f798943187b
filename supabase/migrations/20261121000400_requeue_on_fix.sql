-- kn_zoho: fixing a record's data brings it back.
--
-- A record that failed (bad data: a wrong ship-to state, an HSN code, a GSTIN, an email that
-- collides with another account...) waits in integration.zoho_sync_queue as 'failed' (or
-- 'dead'). Any edit to the data it is built from makes it due again with a fresh set of
-- attempts, in the same transaction as the edit (as 20261120000000 does for new changes), so
-- the next sensor tick syncs it without an admin's click. What a record is built from:
--   books_invoice   its order row, its order_items, its customer (users), its lines' products
--   books_estimate  its b2b_quotes row, its b2b_quote_items, its customer, its products
--   crm_lead        a contact_submissions row; or a quote request (quote row, lines, customer,
--                   products)
--   crm_contact     its users row (20261120000000 already enqueues that)
--   books_item      its products row (already enqueued), and the product whose SKU differs
--                   from it only in letter case
-- Only records that are not synced are touched: a synced invoice is not sent again because a
-- product's name changed. 'failed'/'dead' become 'pending', due now, attempts reset; an
-- 'in_progress' claim gets a new version so it is synced again right after (its attempt may
-- have read the old data); 'pending' ones are left as they are: they read the new data when
-- they come due, and keep their backoff (a Zoho outage is not cured by an edit).

CREATE OR REPLACE FUNCTION integration.requeue_unsynced(p_entities text[], p_record_ids uuid[])
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
    UPDATE integration.zoho_sync_queue AS q
       SET change_version  = q.change_version + 1,
           status          = CASE WHEN q.status IN ('failed', 'dead') THEN 'pending'
                                  ELSE q.status END,
           attempts        = CASE WHEN q.status IN ('failed', 'dead') THEN 0 ELSE q.attempts END,
           next_attempt_at = CASE WHEN q.status IN ('failed', 'dead') THEN now()
                                  ELSE q.next_attempt_at END,
           alerted_at      = CASE WHEN q.status IN ('failed', 'dead') THEN NULL
                                  ELSE q.alerted_at END,
           updated_at      = now()
     WHERE q.entity = ANY(p_entities)
       AND q.record_id = ANY(p_record_ids)
       AND q.status IN ('in_progress', 'failed', 'dead');
$$;

-- A renamed document (its number fixed) syncs under its new number; the old key's row is
-- brought back too and settles as superseded.
CREATE OR REPLACE FUNCTION integration.requeue_renamed(
    p_entity text, p_old_key text, p_new_key text, p_source_table text, p_record_id uuid
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF p_old_key IS DISTINCT FROM p_new_key AND EXISTS (
        SELECT 1 FROM integration.zoho_sync_queue
         WHERE entity = p_entity AND record_key = p_old_key
           AND status IN ('pending', 'in_progress', 'failed', 'dead')) THEN
        PERFORM integration.enqueue_sync(p_entity, p_new_key, p_source_table, p_record_id);
    END IF;
END $$;

-- Everything built from a user's data: their orders' invoices, their quotes' leads/estimates.
CREATE OR REPLACE FUNCTION integration.requeue_user_documents(p_user_ids uuid[])
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
    SELECT integration.requeue_unsynced(
        ARRAY['books_invoice'],
        ARRAY(SELECT o.id FROM public.orders o WHERE o.user_id = ANY(p_user_ids)));
    SELECT integration.requeue_unsynced(
        ARRAY['crm_lead', 'books_estimate'],
        ARRAY(SELECT b.id FROM public.b2b_quotes b WHERE b.user_id = ANY(p_user_ids)));
$$;

-- Everything built from a product's data: the documents with a line of it.
CREATE OR REPLACE FUNCTION integration.requeue_product_documents(p_product_ids uuid[])
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
    SELECT integration.requeue_unsynced(
        ARRAY['books_invoice'],
        ARRAY(SELECT DISTINCT i.order_id FROM public.order_items i
               WHERE i.product_id = ANY(p_product_ids)));
    SELECT integration.requeue_unsynced(
        ARRAY['crm_lead', 'books_estimate'],
        ARRAY(SELECT DISTINCT i.quote_id FROM public.b2b_quote_items i
               WHERE i.product_id = ANY(p_product_ids)));
$$;

-- Row comparison that ignores what the integration itself writes back (Zoho ids) and the
-- storefront's own bookkeeping (updated_at), so a write-back never re-enqueues a record.
CREATE OR REPLACE FUNCTION integration.content_changed(p_old jsonb, p_new jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
    SELECT (p_old - 'zoho_crm_id' - 'zoho_books_id' - 'zoho_crm_lead_id' - 'updated_at')
           IS DISTINCT FROM
           (p_new - 'zoho_crm_id' - 'zoho_books_id' - 'zoho_crm_lead_id' - 'updated_at');
$$;

CREATE OR REPLACE FUNCTION integration.requeue_on_order_fix() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF integration.content_changed(to_jsonb(OLD), to_jsonb(NEW)) THEN
        PERFORM integration.requeue_renamed('books_invoice', OLD.order_number,
                                            NEW.order_number, 'orders', NEW.id);
        PERFORM integration.requeue_unsynced(ARRAY['books_invoice'], ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.requeue_on_order_line_fix() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NOT integration.content_changed(to_jsonb(OLD), to_jsonb(NEW)) THEN
        RETURN NULL;
    END IF;
    PERFORM integration.requeue_unsynced(
        ARRAY['books_invoice'],
        ARRAY(SELECT DISTINCT x FROM unnest(ARRAY[
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.order_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.order_id END]) AS x WHERE x IS NOT NULL));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.requeue_on_quote_fix() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF integration.content_changed(to_jsonb(OLD), to_jsonb(NEW)) THEN
        PERFORM integration.requeue_renamed('books_estimate', OLD.quote_number,
                                            NEW.quote_number, 'b2b_quotes', NEW.id);
        PERFORM integration.requeue_renamed('crm_lead', 'quote-' || OLD.quote_number,
                                            'quote-' || NEW.quote_number, 'b2b_quotes', NEW.id);
        PERFORM integration.requeue_unsynced(ARRAY['crm_lead', 'books_estimate'],
                                             ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.requeue_on_quote_line_fix() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NOT integration.content_changed(to_jsonb(OLD), to_jsonb(NEW)) THEN
        RETURN NULL;
    END IF;
    PERFORM integration.requeue_unsynced(
        ARRAY['crm_lead', 'books_estimate'],
        ARRAY(SELECT DISTINCT x FROM unnest(ARRAY[
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.quote_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.quote_id END]) AS x WHERE x IS NOT NULL));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.requeue_on_submission_fix() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF integration.content_changed(to_jsonb(OLD), to_jsonb(NEW)) THEN
        PERFORM integration.requeue_unsynced(ARRAY['crm_lead'], ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.requeue_on_user_fix() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF (OLD.email, OLD.full_name, OLD.phone, OLD.company, OLD.gstin, OLD.customer_type,
        OLD.billing_state, OLD.shipping_state)
       IS NOT DISTINCT FROM (NEW.email, NEW.full_name, NEW.phone, NEW.company, NEW.gstin,
                             NEW.customer_type, NEW.billing_state, NEW.shipping_state) THEN
        RETURN NULL;
    END IF;
    PERFORM integration.requeue_user_documents(ARRAY[NEW.id]);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.requeue_on_product_fix() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    namesakes uuid[];
BEGIN
    IF (OLD.sku, OLD.name, OLD.hsn_code, OLD.gst_rate, OLD.price, OLD.is_active)
       IS NOT DISTINCT FROM (NEW.sku, NEW.name, NEW.hsn_code, NEW.gst_rate, NEW.price,
                             NEW.is_active) THEN
        RETURN NULL;  -- stock-only edits and write-backs
    END IF;
    PERFORM integration.requeue_product_documents(ARRAY[NEW.id]);
    IF lower(OLD.sku) IS DISTINCT FROM lower(NEW.sku) THEN
        -- products that failed because their SKU equals this one's but for letter case
        namesakes := ARRAY(SELECT p.id FROM public.products p
                            WHERE lower(p.sku) = lower(OLD.sku) AND p.id <> NEW.id);
        PERFORM integration.requeue_unsynced(ARRAY['books_item'], namesakes);
        PERFORM integration.requeue_product_documents(namesakes);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS zoho_requeue_on_order_fix ON public.orders;
CREATE TRIGGER zoho_requeue_on_order_fix AFTER UPDATE ON public.orders
    FOR EACH ROW EXECUTE FUNCTION integration.requeue_on_order_fix();
DROP TRIGGER IF EXISTS zoho_requeue_on_order_line_fix ON public.order_items;
CREATE TRIGGER zoho_requeue_on_order_line_fix AFTER INSERT OR UPDATE OR DELETE
    ON public.order_items
    FOR EACH ROW EXECUTE FUNCTION integration.requeue_on_order_line_fix();
DROP TRIGGER IF EXISTS zoho_requeue_on_quote_fix ON public.b2b_quotes;
CREATE TRIGGER zoho_requeue_on_quote_fix AFTER UPDATE ON public.b2b_quotes
    FOR EACH ROW EXECUTE FUNCTION integration.requeue_on_quote_fix();
DROP TRIGGER IF EXISTS zoho_requeue_on_quote_line_fix ON public.b2b_quote_items;
CREATE TRIGGER zoho_requeue_on_quote_line_fix AFTER INSERT OR UPDATE OR DELETE
    ON public.b2b_quote_items
    FOR EACH ROW EXECUTE FUNCTION integration.requeue_on_quote_line_fix();
DROP TRIGGER IF EXISTS zoho_requeue_on_submission_fix ON public.contact_submissions;
CREATE TRIGGER zoho_requeue_on_submission_fix AFTER UPDATE ON public.contact_submissions
    FOR EACH ROW EXECUTE FUNCTION integration.requeue_on_submission_fix();
DROP TRIGGER IF EXISTS zoho_requeue_on_user_fix ON public.users;
CREATE TRIGGER zoho_requeue_on_user_fix AFTER UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION integration.requeue_on_user_fix();
DROP TRIGGER IF EXISTS zoho_requeue_on_product_fix ON public.products;
CREATE TRIGGER zoho_requeue_on_product_fix AFTER UPDATE ON public.products
    FOR EACH ROW EXECUTE FUNCTION integration.requeue_on_product_fix();

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA integration FROM PUBLIC;
DO $$
DECLARE role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA integration FROM %I',
                           role_name);
        END IF;
    END LOOP;
END $$;
