"""Stock both ways: storefront <-> Zoho Books, converging, never counted twice.

Books holds the record of stock; the storefront converges to it without losing its own
changes. For each SKU::

    true stock = Books stock_on_hand + P
    P = unpushed non-sale storefront changes (ledger rows, source 'storefront')
      + storefront sales whose Books invoice is not yet sent (ledger rows, source 'sale')

* :mod:`.ledger` computes P from ``integration.stock_movements`` (every storefront stock
  change, written by a trigger in the same transaction) and ``integration.stock_invoices``.
* :mod:`.push` sends the non-sale part as ONE multi-line inventory adjustment per cycle with a
  reference stored before the call and looked up before any resend.
* :mod:`.pull` takes a full Books snapshot and sets every product to snapshot + P under its
  row lock, tagged ``zoho`` (never pushed back).
* :mod:`.lock`: both, and the invoice flow's mark-sent (the write that moves Books stock for a
  storefront sale), hold one per-organization Postgres advisory lock, so no storefront-caused
  Books write lands between a snapshot and its apply. A SKU whose Books write has an unknown
  outcome is left as it is until a later cycle knows.
"""
