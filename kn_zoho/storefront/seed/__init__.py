"""Realistic, deterministic demo data for the storefront (``kn-zoho seed``).

Generation (``generate``) is a pure function of its arguments, so a test or a demo can
re-derive exactly the rows ``seed`` inserted: ids come from the RNG and timestamps from a
fixed 2026 calendar, never from ``now()``. Each table draws from its own RNG stream, so the
first N users and products are the same whatever the counts asked for. Insertion is
idempotent: rows are keyed by their natural keys (email, SKU, order and quote numbers, ids)
and inserted with ``ON CONFLICT DO NOTHING``, so re-running a seed inserts nothing, and the
storefront triggers enqueue Zoho sync work exactly as they do for real sign-ups and orders.
"""

from kn_zoho.storefront.seed.generate import IST, STATE_WEIGHTS, SeedData, generate
from kn_zoho.storefront.seed.identity import gstin_check_char, make_gstin, random_pan
from kn_zoho.storefront.seed.load import SeedSummary, seed

__all__ = ["IST", "STATE_WEIGHTS", "SeedData", "SeedSummary", "generate", "gstin_check_char",
           "make_gstin", "random_pan", "seed"]
