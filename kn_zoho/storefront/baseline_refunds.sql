-- Storefront baseline, continued (see baseline.sql): refunds and cancellations after payment.

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
        SELECT i.id, i.quantity, i.line_total, i.unit_price, i.product_id, p.sku,
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
        IF amount > round(line.unit_price * units, 2) THEN
            RAISE EXCEPTION 'order % line %: field amount: refunds % for % units sold at % each',
                o.order_number, line.sku, amount, units, line.unit_price
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
