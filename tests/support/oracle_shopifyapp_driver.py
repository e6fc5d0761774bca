"""Shopify's own ``verify_app_home_req`` (``shopifyapp`` 1.0.2) on crafted requests: the oracle
that ``shopify_app.shopify.app_home`` is compared with (tests/e2e/test_session_token_oracle.py).

Run ONLY by the oracle virtualenv's python, isolated (``python -I``): ``shopifyapp`` installs
the top-level module ``shopify_app``, the name of our own package, so the two cannot share an
interpreter. Never imported; nothing of ours is imported here.

stdin: a JSON list of ``{"request": RequestInput, "config": {client_id, client_secret,
old_client_secret}, "bounce_path": str}``. stdout: ``{"module", "version", "verdicts"}``, one
verdict per request, in order.
"""

from __future__ import annotations

import json
import sys

import shopify_app  # shopifyapp's, from the oracle virtualenv


def verdict(case: dict) -> dict:
    config = case["config"]
    app = shopify_app.ShopifyApp(config["client_id"], config["client_secret"], config["old_client_secret"])
    result = app.verify_app_home_req(case["request"], case["bounce_path"])
    return {
        "ok": result.ok,
        "status": result.response.status,
        "headers": result.response.headers,
        "shop": result.shop,
        "user_id": result.user_id,
        "code": result.log.code,
    }


def main() -> None:
    cases = json.load(sys.stdin)
    report = {
        "module": shopify_app.__file__,
        "version": shopify_app.__version__,
        "verdicts": [verdict(case) for case in cases],
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
