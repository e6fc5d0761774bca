"""The ``clawback`` command line (stub until the web app lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["demo"]:
        print("clawback demo: will seed a demo shop with affiliates, orders, refunds and an exchange, then serve the admin at http://127.0.0.1:8080")
        return 0
    print("usage: clawback demo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
