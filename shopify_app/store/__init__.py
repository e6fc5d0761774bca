"""Persistence, and the only room that speaks SQL: the engine and tables, the webhook inbox,
orders' facts, shops and affiliates, and the SQL ledger. Each function takes the caller's
session (one unit of work) and is scoped to one shop wherever data belongs to a shop."""
