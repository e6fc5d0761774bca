"""Use cases: each loads what it needs from ``store``, calls the pure core (``policy``,
``ledger``) and writes the result, in the caller's unit of work. No Flask, no clock (``now``
is passed in), no Shopify payloads (snapshots only)."""
