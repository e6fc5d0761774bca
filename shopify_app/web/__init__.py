"""HTTP pages and routes a person or Shopify's admin calls (the webhook intake aside): health,
the token-refresh page and install (``auth``), the app home (``home``) and the embedded admin
(``admin``), with what they share: who is asking (``embedded``), template helpers (``ui``) and
error pages (``errors``)."""
