"""The core stays pure: ledger/ and policy/ import no framework, database, Shopify or HTTP
library, and never read the clock (time is passed in); the rooms of shopify_app import only
the rooms below them (docs/architecture.md). Enforced with import-linter's contracts in
pyproject.toml plus a scan for clock reads, which import rules cannot see."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOCK_READS = re.compile(r"\b(datetime\.(now|utcnow|today)|date\.today|time\.(time|monotonic|perf_counter)(_ns)?)\s*\(")


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout, result.stdout


def test_every_room_of_shopify_app_is_in_the_layers() -> None:
    """A new module beside the rooms would sit outside every rule: name it in a layer."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [rooms] = [c for c in contracts if c.get("containers") == ["shopify_app"]]
    layered = {name.strip() for layer in rooms["layers"] for name in layer.split("|")}
    present = {p.stem for p in (ROOT / "shopify_app").glob("*.py") if p.stem != "__init__"}
    present |= {p.name for p in (ROOT / "shopify_app").iterdir() if (p / "__init__.py").exists()}
    assert present == layered


def test_core_never_reads_the_clock() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {text.strip()}"
        for package in ("ledger", "policy")
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, text in enumerate(path.read_text().splitlines(), 1)
        if CLOCK_READS.search(text)
    ]
    assert offenders == []


def test_scan_would_catch_a_clock_read() -> None:
    assert CLOCK_READS.search("created = datetime.now(timezone.utc)")
    assert CLOCK_READS.search("t = time.time()")
    assert not CLOCK_READS.search("created_at: datetime")
