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
--   put back on the shelf are that refund's return (see "Refunds and cancellations" below):
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

-- Refunds and cancellations after payment (as a Razorpay-style storefront records them) -------
-- * A refund is one gateway refund (gateway_refund_id, unique) of some units of some lines (each
--   with the amount given back for them, GST inclusive) and optionally part of the shipping.
--   Many partial refunds may follow one payment; together they never give back more units than
--   were sold nor more money than was paid. When every unit and all shipping are refunded the
--   order is 'refunded' (a cancellation after payment is such a full refund, kind
--   'cancellation'); the last refund then also carries the order's own rounding adjustment
--   (grand_total minus lines and shipping), so the refunds add up to grand_total exactly.
-- * refund_number (RF-YYYY-NNNNNN: at most 16 characters, as a GST credit note serial must be)
--   numbers the refund's Books credit note.
-- * Lines put back on the shelf (restocked) raise stock as a return of that refund: the session
--   settings kn_zoho.change_source = 'return', kn_zoho.refund_id = <refund id> (and
--   kn_zoho.order_id = <order id>) tag the
--   change, so the integration lets the refund's Books credit note carry it into Books (never
--   also an adjustment). Lines not restocked leave stock alone.
CREATE SEQUENCE IF NOT EXISTS public.order_refund_number_seq;

CREATE TABLE IF NOT EXISTS public.order_refunds (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    refund_number      text NOT NULL UNIQUE DEFAULT 'RF-' || to_char(now(), 'YYYY') || '-'
                       || lpad(nextval('public.order_refund_number_seq')::text, 6, '0'),
    order_id           uuid NOT NULL REFERENCES public.orders (id),
    gateway_refund_id  text NOT NULL UNIQUE,
    kind               text NOT NULL DEFAULT 'refund' CHECK (kind IN ('refund', 'cancellation')),
    reason             text,
    shipping_amount    numeric(12, 2) NOT NULL DEFAULT 0 CHECK (shipping_amount >= 0),
    adjustment         numeric(12, 2) NOT NULL DEFAULT 0,  -- the order's rounding, last refund
    amount             numeric(12, 2) NOT NULL CHECK (amount > 0),  -- what the customer got back
    refunded_at        timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_refunds_order_idx ON public.order_refunds (order_id);

CREATE TABLE IF NOT EXISTS public.order_refund_items (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    refund_id      uuid NOT NULL REFERENCES public.order_refunds (id) ON DELETE CASCADE,
    order_item_id  uuid NOT NULL REFERENCES public.order_items (id),
    quantity       integer NOT NULL CHECK (quantity > 0),
    amount         numeric(12, 2) NOT NULL CHECK (amount >= 0),  -- GST inclusive
    restocked      boolean NOT NULL DEFAULT false,
    UNIQUE (refund_id, order_item_id)
);

ALTER TABLE public.orders ADD COLUMN IF NOT EXISTS refunded_total numeric(12, 2) NOT NULL
    DEFAULT 0;

-- One gateway refund of an order's lines. p_lines: [{"order_item_id": ..., "quantity": n,
-- "amount": a (optional: pro rata, or what is left of the line when its last units go),
-- "restock": true|false}]. Returns the refund's id. Errors name the order, line and field.
CREATE OR REPLACE FUNCTION public.refund_order_lines(
    p_order_id uuid, p_gateway_refund_id text, p_lines jsonb,
    p_shipping numeric DEFAULT 0, p_reason text DEFAULT NULL, p_kind text DEFAULT 'refund')
RETURNS uuid LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    o public.orders%ROWTYPE;
    entry jsonb;
    line record;
    refund_id uuid := gen_random_uuid();
    units integer;
    amount numeric(12, 2);
    lines_total numeric(12, 2) := 0;
    shipping_left numeric(12, 2);
    residual numeric(12, 2) := 0;
    total numeric(12, 2);
    old_source text := coalesce(current_setting('kn_zoho.change_source', true), '');
    old_refund text := coalesce(current_setting('kn_zoho.refund_id', true), '');
    old_order text := coalesce(current_setting('kn_zoho.order_id', true), '');
BEGIN
    SELECT * INTO o FROM public.orders WHERE id = p_order_id FOR UPDATE;
    IF NOT FOUND OR o.payment_status <> 'paid' THEN
        RAISE EXCEPTION 'order %: field payment_status: only a paid order can be refunded '
            '(is %)', coalesce(o.order_number, p_order_id::text), o.payment_status
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_gateway_refund_id IS NULL OR btrim(p_gateway_refund_id) = '' THEN
        RAISE EXCEPTION 'order %: field gateway_refund_id: the gateway refund id is missing',
            o.order_number USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO public.order_refunds (id, order_id, gateway_refund_id, kind, reason,
                                      shipping_amount, amount)
    VALUES (refund_id, p_order_id, p_gateway_refund_id, p_kind, p_reason,
            coalesce(p_shipping, 0), 0.01);  -- amount set below, once known
    -- the products of restocked lines locked in id order, as checkout locks them (no deadlock)
    PERFORM 1 FROM public.products
     WHERE id IN (SELECT i.product_id FROM public.order_items i
                    JOIN jsonb_array_elements(coalesce(p_lines, '[]'::jsonb)) e
                      ON i.id::text = e ->> 'order_item_id'
                   WHERE coalesce((e ->> 'restock')::boolean, false))
     ORDER BY id FOR UPDATE;
    FOR entry IN SELECT * FROM jsonb_array_elements(coalesce(p_lines, '[]'::jsonb)) LOOP
        SELECT i.id, i.quantity, i.line_total, i.product_id, p.sku,
               i.quantity - coalesce(sum(r.quantity), 0) AS units_left,
               i.line_total - coalesce(sum(r.amount), 0) AS amount_left
          INTO line
          FROM public.order_items i JOIN public.products p ON p.id = i.product_id
          LEFT JOIN public.order_refund_items r ON r.order_item_id = i.id
         WHERE i.id = (entry ->> 'order_item_id')::uuid AND i.order_id = p_order_id
         GROUP BY i.id, p.sku;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'order %: field order_item_id: % is not a line of this order',
                o.order_number, entry ->> 'order_item_id' USING ERRCODE = 'check_violation';
        END IF;
        units := (entry ->> 'quantity')::integer;
        IF units IS NULL OR units <= 0 OR units > line.units_left THEN
            RAISE EXCEPTION 'order % line %: field quantity: refunds % units, % sold and not '
                'refunded yet', o.order_number, line.sku, units, line.units_left
                USING ERRCODE = 'check_violation';
        END IF;
        amount := coalesce((entry ->> 'amount')::numeric,
                           CASE WHEN units = line.units_left THEN line.amount_left
                                ELSE round(line.line_total * units / line.quantity, 2) END);
        IF amount < 0 OR amount > line.amount_left THEN
            RAISE EXCEPTION 'order % line %: field amount: refunds %, % paid for the line and '
                'not refunded yet', o.order_number, line.sku, amount, line.amount_left
                USING ERRCODE = 'check_violation';
        END IF;
        INSERT INTO public.order_refund_items (refund_id, order_item_id, quantity, amount,
                                               restocked)
        VALUES (refund_id, line.id, units, amount,
                coalesce((entry ->> 'restock')::boolean, false));
        lines_total := lines_total + amount;
        IF coalesce((entry ->> 'restock')::boolean, false) THEN
            PERFORM set_config('kn_zoho.change_source', 'return', true);
            PERFORM set_config('kn_zoho.refund_id', refund_id::text, true);
            PERFORM set_config('kn_zoho.order_id', p_order_id::text, true);
            UPDATE public.products SET stock_quantity = stock_quantity + units,
                                       updated_at = now() WHERE id = line.product_id;
            PERFORM set_config('kn_zoho.change_source', old_source, true);
            PERFORM set_config('kn_zoho.refund_id', old_refund, true);
            PERFORM set_config('kn_zoho.order_id', old_order, true);
        END IF;
    END LOOP;
    SELECT o.shipping_charge - coalesce(sum(shipping_amount), 0) INTO shipping_left
      FROM public.order_refunds WHERE order_id = p_order_id AND id <> refund_id;
    IF coalesce(p_shipping, 0) < 0 OR coalesce(p_shipping, 0) > shipping_left THEN
        RAISE EXCEPTION 'order %: field shipping_amount: refunds %, % of the shipping charge '
            'not refunded yet', o.order_number, p_shipping, shipping_left
            USING ERRCODE = 'check_violation';
    END IF;
    -- every unit and all shipping refunded: the order is refunded, and this refund carries
    -- the order's rounding adjustment so the refunds add up to what was paid
    IF coalesce(p_shipping, 0) = shipping_left AND NOT EXISTS (
        SELECT 1 FROM public.order_items i
         WHERE i.order_id = p_order_id AND i.quantity > (
             SELECT coalesce(sum(r.quantity), 0) FROM public.order_refund_items r
              WHERE r.order_item_id = i.id)) THEN
        residual := o.grand_total - o.shipping_charge
                    - (SELECT coalesce(sum(line_total), 0) FROM public.order_items
                        WHERE order_id = p_order_id);
        UPDATE public.orders SET payment_status = 'refunded' WHERE id = p_order_id;
    END IF;
    total := lines_total + coalesce(p_shipping, 0) + residual;
    IF total <= 0 OR o.refunded_total + total > o.grand_total THEN
        RAISE EXCEPTION 'order %: field amount: refunds %, % paid and not refunded yet',
            o.order_number, total, o.grand_total - o.refunded_total
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE public.order_refunds SET amount = total, adjustment = residual WHERE id = refund_id;
    UPDATE public.orders SET refunded_total = refunded_total + total, updated_at = now()
     WHERE id = p_order_id;
    RETURN refund_id;
END $$;

-- Everything still refundable of an order (every unit left, all shipping left), in one refund.
CREATE OR REPLACE FUNCTION public.refund_order_rest(
    p_order_id uuid, p_gateway_refund_id text, p_restock boolean, p_reason text,
    p_kind text)
RETURNS uuid LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    RETURN public.refund_order_lines(
        p_order_id, p_gateway_refund_id,
        (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'order_item_id', i.id, 'restock', p_restock,
                    'quantity', i.quantity - (SELECT coalesce(sum(r.quantity), 0)
                                                FROM public.order_refund_items r
                                               WHERE r.order_item_id = i.id))), '[]')
           FROM public.order_items i
          WHERE i.order_id = p_order_id AND i.quantity > (
              SELECT coalesce(sum(r.quantity), 0) FROM public.order_refund_items r
               WHERE r.order_item_id = i.id)),
        (SELECT o.shipping_charge - coalesce(sum(f.shipping_amount), 0)
           FROM public.orders o LEFT JOIN public.order_refunds f ON f.order_id = o.id
          WHERE o.id = p_order_id GROUP BY o.id),
        p_reason, p_kind);
END $$;

-- A paid order refunded in full (what is left of it); with restock the goods go back on the
-- shelf. The gateway refund id is derived from the order number (one full refund per order).
CREATE OR REPLACE FUNCTION public.refund_order(p_order_id uuid, p_restock boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    PERFORM public.refund_order_rest(
        p_order_id, 'rfnd_full_' || coalesce(
            (SELECT order_number FROM public.orders WHERE id = p_order_id), p_order_id::text),
        p_restock, 'refunded in full', 'refund');
END $$;

-- A paid order cancelled (before shipping): a full refund whose goods go back on the shelf.
CREATE OR REPLACE FUNCTION public.cancel_paid_order(
    p_order_id uuid, p_gateway_refund_id text, p_reason text DEFAULT 'cancelled by the customer')
RETURNS uuid LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    RETURN public.refund_order_rest(p_order_id, p_gateway_refund_id, true, p_reason,
                                    'cancellation');
END $$;
