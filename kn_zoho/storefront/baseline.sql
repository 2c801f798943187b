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
