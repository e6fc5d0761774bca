"""The webhook intake, and only that: verify, store durably, answer. Nothing is processed
in the request; the worker does that later."""
