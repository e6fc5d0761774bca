"""Shopify's vocabulary, and the only room that knows it: webhook topics, payload models,
snapshots, shop domains, webhook signatures and headers (and, later, the Admin API client).

Everything past this room works with snapshots (``snapshots.py``) and policy events, never
with a Shopify payload.
"""
