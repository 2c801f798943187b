-- Storefront baseline: stands for the tables the live Supabase storefront already has.
-- Used for dev, tests and the demo only (`kn-zoho db upgrade --with-baseline`); never run
-- against the live storefront. Follows Supabase conventions: public schema, uuid keys,
-- timestamptz, numeric for money (INR, two decimals). gen_random_uuid() is core since PG 13.

CREATE TABLE IF NOT EXISTS public.users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL UNIQUE,
    full_name       text,
    phone           text,
    company         text,
    gstin           text,
    customer_type   text NOT NULL DEFAULT 'b2c' CHECK (customer_type IN ('b2c', 'b2b')),
    billing_state   text,            -- Indian state code as Zoho uses it: 'KA', 'TN', 'MH', ...
    shipping_state  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.products (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku             text NOT NULL UNIQUE,
    name            text NOT NULL,
    description     text,
    hsn_code        text,
    gst_rate        numeric(5, 2) NOT NULL DEFAULT 18 CHECK (gst_rate >= 0),
    price           numeric(12, 2) NOT NULL CHECK (price >= 0),  -- per unit, GST inclusive
    stock_quantity  integer NOT NULL DEFAULT 0,
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.orders (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_number        text NOT NULL UNIQUE,
    user_id             uuid NOT NULL REFERENCES public.users (id),
    payment_status      text NOT NULL DEFAULT 'pending'
                        CHECK (payment_status IN ('pending', 'paid', 'failed', 'refunded')),
    paid_at             timestamptz,
    payment_gateway_id  text,
    shipping_state      text NOT NULL,  -- ship-to state code: the GST place of supply
    subtotal            numeric(12, 2) NOT NULL DEFAULT 0,  -- sum of line totals (GST inclusive)
    discount_total      numeric(12, 2) NOT NULL DEFAULT 0,
    shipping_charge     numeric(12, 2) NOT NULL DEFAULT 0,
    tax_total           numeric(12, 2) NOT NULL DEFAULT 0,  -- GST contained in the lines
    grand_total         numeric(12, 2) NOT NULL DEFAULT 0,  -- what the customer paid
    currency            text NOT NULL DEFAULT 'INR',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.order_items (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id    uuid NOT NULL REFERENCES public.orders (id) ON DELETE CASCADE,
    product_id  uuid NOT NULL REFERENCES public.products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(12, 2) NOT NULL,           -- GST inclusive
    discount    numeric(12, 2) NOT NULL DEFAULT 0, -- amount off the line
    gst_rate    numeric(5, 2) NOT NULL,
    line_total  numeric(12, 2) NOT NULL,           -- quantity * unit_price - discount
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.b2b_quotes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    quote_number    text NOT NULL UNIQUE,
    user_id         uuid NOT NULL REFERENCES public.users (id),
    status          text NOT NULL DEFAULT 'requested'
                    CHECK (status IN ('requested', 'approved', 'rejected')),
    shipping_state  text,
    notes           text,
    valid_until     date,
    subtotal        numeric(12, 2) NOT NULL DEFAULT 0,
    discount_total  numeric(12, 2) NOT NULL DEFAULT 0,
    tax_total       numeric(12, 2) NOT NULL DEFAULT 0,
    grand_total     numeric(12, 2) NOT NULL DEFAULT 0,
    approved_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.b2b_quote_items (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    quote_id    uuid NOT NULL REFERENCES public.b2b_quotes (id) ON DELETE CASCADE,
    product_id  uuid NOT NULL REFERENCES public.products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(12, 2) NOT NULL,
    discount    numeric(12, 2) NOT NULL DEFAULT 0,
    gst_rate    numeric(5, 2) NOT NULL,
    line_total  numeric(12, 2) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.contact_submissions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    email       text NOT NULL,
    phone       text,
    company     text,
    subject     text,
    message     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Stock at checkout: the storefront contract the Zoho stock sync relies on ---------------------
-- * Checkout lowers products.stock_quantity for the order's lines, refusing when a SKU has too
--   little, in the same transaction that records the order as paid (setting
--   stock_lowered_at = 'payment', the default) or when the order is placed ('placement').
-- * While it lowers (or gives back) an order's stock it sets, for that statement only, the
--   session settings kn_zoho.change_source = 'sale' and kn_zoho.order_id = <order id>, so the
--   integration's ledger knows the change is that order's sale: Books learns of sales from
--   their invoices and never gets them as adjustments.
-- * Cancelling an unpaid order gives back what its placement took (as the same order's sale).
-- * A refund keeps the sale (its Books invoice stays; the refund is a Books credit note). Goods
--   put back on the shelf are that refund's return (see baseline_refunds.sql):
--   the credit note carries them into Books, so they are never also pushed as an adjustment.
ALTER TABLE public.orders ADD COLUMN IF NOT EXISTS stock_lowered_at timestamptz;

CREATE TABLE IF NOT EXISTS public.storefront_settings (
    name   text PRIMARY KEY,
    value  text NOT NULL
);
INSERT INTO public.storefront_settings (name, value) VALUES ('stock_lowered_at', 'payment')
    ON CONFLICT (name) DO NOTHING;

CREATE OR REPLACE FUNCTION public.move_order_stock(p_order_id uuid, p_sign integer)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    line record;
    old_source text := coalesce(current_setting('kn_zoho.change_source', true), '');
    old_order text := coalesce(current_setting('kn_zoho.order_id', true), '');
BEGIN
    PERFORM set_config('kn_zoho.change_source', 'sale', true);
    PERFORM set_config('kn_zoho.order_id', p_order_id::text, true);
    -- products locked in id order: two checkouts never deadlock
    FOR line IN
        SELECT p.id, p.sku, p.stock_quantity, sum(i.quantity)::integer AS quantity
          FROM public.order_items i JOIN public.products p ON p.id = i.product_id
         WHERE i.order_id = p_order_id
         GROUP BY p.id, p.sku, p.stock_quantity ORDER BY p.id
    LOOP
        UPDATE public.products SET stock_quantity = stock_quantity + p_sign * line.quantity,
                                   updated_at = now()
         WHERE id = line.id
        RETURNING stock_quantity INTO line.stock_quantity;
        IF line.stock_quantity < 0 THEN
            RAISE EXCEPTION 'product %: field stock_quantity: only % left, order needs %',
                line.sku, line.stock_quantity + line.quantity, line.quantity
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    PERFORM set_config('kn_zoho.change_source', old_source, true);
    PERFORM set_config('kn_zoho.order_id', old_order, true);
END $$;

-- An order placed (pending, with its lines): lowers stock now if the storefront is set so.
CREATE OR REPLACE FUNCTION public.place_order(p_order_id uuid)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    IF (SELECT value FROM public.storefront_settings WHERE name = 'stock_lowered_at')
       = 'placement' THEN
        UPDATE public.orders SET stock_lowered_at = now()
         WHERE id = p_order_id AND stock_lowered_at IS NULL AND payment_status = 'pending';
        IF FOUND THEN
            PERFORM public.move_order_stock(p_order_id, -1);
        END IF;
    END IF;
END $$;

-- Payment confirmed: the order is paid and (unless placement took it) its stock lowered, in
-- one transaction. Paying twice is refused.
CREATE OR REPLACE FUNCTION public.pay_order(p_order_id uuid, p_gateway_id text,
                                            p_paid_at timestamptz DEFAULT now())
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE lowered timestamptz;
BEGIN
    SELECT stock_lowered_at INTO lowered FROM public.orders
     WHERE id = p_order_id AND payment_status = 'pending' FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order %: field payment_status: only a pending order can be paid',
            p_order_id USING ERRCODE = 'check_violation';
    END IF;
    IF lowered IS NULL THEN
        PERFORM public.move_order_stock(p_order_id, -1);
    END IF;
    UPDATE public.orders SET payment_status = 'paid', paid_at = p_paid_at,
                             payment_gateway_id = p_gateway_id,
                             stock_lowered_at = coalesce(lowered, p_paid_at), updated_at = now()
     WHERE id = p_order_id;
END $$;

-- An unpaid order abandoned or failed: what its placement took comes back.
CREATE OR REPLACE FUNCTION public.cancel_order(p_order_id uuid)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE lowered timestamptz;
BEGIN
    SELECT stock_lowered_at INTO lowered FROM public.orders
     WHERE id = p_order_id AND payment_status = 'pending' FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order %: field payment_status: only a pending order can be cancelled '
            '(refund a paid one)', p_order_id USING ERRCODE = 'check_violation';
    END IF;
    IF lowered IS NOT NULL THEN
        PERFORM public.move_order_stock(p_order_id, 1);
    END IF;
    UPDATE public.orders SET payment_status = 'failed', stock_lowered_at = NULL,
                             updated_at = now()
     WHERE id = p_order_id;
END $$;

-- Quotes expire (issue 14): the storefront sets status 'expired' when valid_until has passed
-- or an admin withdraws an approved quote; the integration marks its Books estimate expired.
ALTER TABLE public.b2b_quotes DROP CONSTRAINT IF EXISTS b2b_quotes_status_check;
ALTER TABLE public.b2b_quotes ADD CONSTRAINT b2b_quotes_status_check
    CHECK (status IN ('requested', 'approved', 'rejected', 'expired'));
