"""Screenshots of the admin for the README (`make screenshots`): the demo shop served by
`clawback demo` from a throwaway instance directory, each page taken by Debian's Chromium at
1280 px wide into docs/screenshots/. Run again after changing a page, and look at them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SHOP = "clawback-demo.myshopify.com"
PAGES = [
    ("/", "home"),
    ("/affiliates", "affiliates"),
    ("/affiliates/BEN", "affiliate"),
    ("/orders/5006", "order-exchange"),
    ("/orders/5002", "order-clawback"),
    ("/payouts", "payouts"),
    ("/attention", "attention"),
    ("/insights", "insights"),
    ("/settings", "settings"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the demo did not answer at {url} within {seconds:.0f} s")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "CLAWBACK_DEV": "1", "CLAWBACK_INSTANCE_DIR": instance}
        env.pop("DATABASE_URL", None)
        server = subprocess.Popen([str(Path(sys.executable).parent / "clawback"), "demo", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_up(url)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC")
                for path, name in PAGES:
                    response = page.goto(f"{url}{path}?shop={SHOP}")
                    if response is None or response.status != 200:
                        sys.exit(f"{path} answered {response.status if response else 'nothing'}")
                    page.screenshot(path=OUT / f"{name}.png", full_page=True)
                    print(f"docs/screenshots/{name}.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
