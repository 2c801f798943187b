-- kn_zoho: what happens after a record's first sync (issue 14 items 1, 4, 5).
--
--   books_contact   a user already linked to a Books contact (users.zoho_books_id) edits their
--                   name, company, GSTIN, customer type, states, email or phone: the contact is
--                   updated (queue key: the user id). Linking a user (the invoice or estimate
--                   flow found or created the contact) enqueues it too; the linking transaction
--                   records the hash of what the contact was created from, so a contact made
--                   from the current data costs no call.
--   books_item      deactivating / re-activating a product already enqueues it (20261120000000);
--                   a document that needed an inactive product's item active (an order paid
--                   after the product was withdrawn) brings the item back to be marked inactive
--                   once the document is in Books.
--   books_estimate  an approved quote that becomes rejected or expired, and an approved quote
--                   edited after its estimate was made (quote row or lines), enqueue the
--                   estimate again (20261121000400 only requeues estimates not yet synced).
--
-- A storefront quote expires by taking status 'expired' (when valid_until has passed, or an
-- admin withdraws it); the storefront baseline allows that status.

ALTER TABLE integration.zoho_sync_queue DROP CONSTRAINT IF EXISTS zoho_sync_queue_entity_check;
ALTER TABLE integration.zoho_sync_queue ADD CONSTRAINT zoho_sync_queue_entity_check
    CHECK (entity IN ('crm_contact', 'crm_lead', 'books_item', 'books_invoice', 'books_estimate',
                      'books_credit_note', 'books_contact'));

-- Users -> Books contact updates ------------------------------------------------------------
CREATE OR REPLACE FUNCTION integration.capture_books_contact_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NEW.zoho_books_id IS NULL THEN
        RETURN NULL;  -- no contact yet: the invoice flow creates it from the current data
    END IF;
    IF OLD.zoho_books_id IS DISTINCT FROM NEW.zoho_books_id
       OR (OLD.email, OLD.full_name, OLD.phone, OLD.company, OLD.gstin, OLD.customer_type,
           OLD.billing_state, OLD.shipping_state)
          IS DISTINCT FROM (NEW.email, NEW.full_name, NEW.phone, NEW.company, NEW.gstin,
                            NEW.customer_type, NEW.billing_state, NEW.shipping_state) THEN
        PERFORM integration.enqueue_sync('books_contact', NEW.id::text, 'users', NEW.id);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS zoho_capture_books_contact_change ON public.users;
CREATE TRIGGER zoho_capture_books_contact_change AFTER UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION integration.capture_books_contact_change();

-- Quotes after their estimate ---------------------------------------------------------------
-- Only a synced estimate needs a new version: one not yet synced reads the quote as it is when
-- it runs, and one being synced (or failed) is brought back by 20261121000400's triggers.
CREATE OR REPLACE FUNCTION integration.estimate_synced(p_quote_number text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT EXISTS (SELECT 1 FROM integration.zoho_sync_queue
                    WHERE entity = 'books_estimate' AND record_key = p_quote_number
                      AND status = 'synced');
$$;

CREATE OR REPLACE FUNCTION integration.capture_quote_after_estimate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NOT integration.content_changed(to_jsonb(OLD), to_jsonb(NEW))
       OR NOT integration.estimate_synced(NEW.quote_number) THEN
        RETURN NULL;
    END IF;
    IF (OLD.status = 'approved' AND NEW.status IN ('rejected', 'expired'))
       OR (NEW.status = 'approved' AND OLD.status = 'approved') THEN
        PERFORM integration.enqueue_sync('books_estimate', NEW.quote_number, 'b2b_quotes',
                                         NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION integration.capture_quote_line_after_estimate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    quote record;
BEGIN
    IF TG_OP = 'UPDATE' AND NOT integration.content_changed(to_jsonb(OLD), to_jsonb(NEW)) THEN
        RETURN NULL;
    END IF;
    FOR quote IN SELECT b.id, b.quote_number FROM public.b2b_quotes b
                  WHERE b.status = 'approved'
                    AND b.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.quote_id END,
                                 CASE WHEN TG_OP <> 'DELETE' THEN NEW.quote_id END) LOOP
        IF integration.estimate_synced(quote.quote_number) THEN
            PERFORM integration.enqueue_sync('books_estimate', quote.quote_number, 'b2b_quotes',
                                             quote.id);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS zoho_capture_quote_after_estimate ON public.b2b_quotes;
CREATE TRIGGER zoho_capture_quote_after_estimate AFTER UPDATE ON public.b2b_quotes
    FOR EACH ROW EXECUTE FUNCTION integration.capture_quote_after_estimate();
DROP TRIGGER IF EXISTS zoho_capture_quote_line_after_estimate ON public.b2b_quote_items;
CREATE TRIGGER zoho_capture_quote_line_after_estimate AFTER INSERT OR UPDATE OR DELETE
    ON public.b2b_quote_items
    FOR EACH ROW EXECUTE FUNCTION integration.capture_quote_line_after_estimate();

-- Inactive products' items after a document needed them ------------------------------------
-- A books_item payload_hash ending in ':inactive' says Books has the item inactive. The items
-- flow leaves a withdrawn product's item active while a queued document still needs it, and
-- the document flows mark such an item active to create a document with it (dropping the
-- suffix); either way, once the document is synced the item is enqueued, and the items flow
-- marks it inactive (no call when Books has it inactive already).
CREATE OR REPLACE FUNCTION integration.deactivate_after_document() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    product record;
BEGIN
    FOR product IN
        SELECT p.id, p.sku FROM public.products p
         WHERE p.is_active = false AND p.zoho_books_id IS NOT NULL
           AND p.id IN (SELECT i.product_id FROM public.order_items i
                         WHERE NEW.entity = 'books_invoice' AND i.order_id = NEW.record_id
                        UNION
                        SELECT i.product_id FROM public.b2b_quote_items i
                         WHERE NEW.entity = 'books_estimate' AND i.quote_id = NEW.record_id)
    LOOP
        PERFORM integration.enqueue_sync('books_item', product.sku, 'products', product.id);
    END LOOP;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS zoho_deactivate_after_document ON integration.zoho_sync_queue;
CREATE TRIGGER zoho_deactivate_after_document AFTER UPDATE OF status
    ON integration.zoho_sync_queue
    FOR EACH ROW
    WHEN (NEW.status = 'synced' AND OLD.status IS DISTINCT FROM 'synced'
          AND NEW.entity IN ('books_invoice', 'books_estimate'))
    EXECUTE FUNCTION integration.deactivate_after_document();

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
