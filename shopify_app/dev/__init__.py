"""For people trying and testing Clawback, never for production traffic: Shopify-shaped
sample payloads, the demo shop, and ``clawback replay``."""
