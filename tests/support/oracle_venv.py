"""A cached virtualenv holding a third-party package that cannot live in ours, for oracle tests.

Built once under ``${XDG_CACHE_HOME:-~/.cache}/clawback/NAME`` with ``python -m venv`` and pip,
then reused. A marker file, written last, holds the exact requirements: a virtualenv without
it (a build that was interrupted) or with other requirements is removed and built again. A
lock file serialises concurrent test runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

MARKER = "clawback-oracle-complete"
PIP_TIMEOUT = 600


class OracleUnavailable(RuntimeError):
    """The virtualenv could not be built (offline, no ensurepip, a registry error)."""


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clawback"


def oracle_python(name: str, requirements: Sequence[str]) -> Path:
    """The python of the virtualenv ``name`` holding exactly ``requirements``, built if needed."""
    root = cache_root() / name
    python = root / "bin" / "python"
    wanted = "\n".join(requirements) + "\n"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = root / MARKER
        if python.exists() and marker.exists() and marker.read_text() == wanted:
            return python
        shutil.rmtree(root, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(root)], "create the virtualenv")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--no-input", "--disable-pip-version-check"]
        _run([*pip, *requirements], f"pip install {' '.join(requirements)}")
        marker.write_text(wanted)
    return python


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OracleUnavailable(f"could not {what}: {exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise OracleUnavailable(f"could not {what}: {lines[-1][:200] if lines else f'exit {done.returncode}'}")
