-- `sync crm` asks, for each batch of 100 users, whether another user has the same email
-- ignoring case and surrounding spaces (Zoho CRM matches Email ignoring case, so such users
-- are upserted on the key field alone: kn_zoho/sync/crm.py). Without an index on that
-- expression each batch read every user (a 100,000-user backfill: 1,000 full reads); with
-- it, a batch looks up its own 100 emails.
CREATE INDEX IF NOT EXISTS users_email_casefold_idx ON public.users (lower(btrim(email)));
