"""Clawback's Shopify app: everything with I/O, in rooms that each own one thing
(``docs/architecture.md`` says which, what each may import, and the path of one refund)."""
