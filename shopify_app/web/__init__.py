"""HTTP pages and routes a person or Shopify's admin calls (the webhook intake aside):
health now; install, auth and the embedded admin next."""
