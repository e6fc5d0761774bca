"""The core stays pure: ledger/ and policy/ import no framework, database, Shopify or HTTP
library, and never read the clock (time is passed in). Enforced with import-linter's
contracts in pyproject.toml plus a scan for clock reads, which import rules cannot see."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOCK_READS = re.compile(r"\b(datetime\.(now|utcnow|today)|date\.today|time\.(time|monotonic|perf_counter)(_ns)?)\s*\(")


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout, result.stdout


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
