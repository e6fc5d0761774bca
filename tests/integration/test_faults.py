"""Crash and race tests: a worker killed with SIGKILL in the middle of a batch, restarted,
loses no event and applies none twice; two workers racing on refunds of the same orders
end exactly where one worker alone does."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopify_app import worker
from shopify_app.services import ledger as services, shops as registry
from shopify_app.config import Config
from shopify_app.store.engine import Database
from shopify_app.store.migrate import upgrade
from tests.support.cli import cli_env
from tests.support.deliveries import SHOP, balances_agree, enqueue, inbox_statuses, ledger_outcome, nets_by_line, setup_shop, workload

CLAWBACK = str(Path(sys.executable).with_name("clawback"))


def _env(database: Database, tmp_path: Path) -> dict[str, str]:
    """The worker's environment: the test database, dev mode on SQLite, test secrets on PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPIFY_")}
    env.update({name: value for name, value in cli_env(database.url, tmp_path / "instance").items() if value is not None})
    return env


def _reference(events, tmp_path: Path) -> tuple[list[tuple], dict[str, int]]:
    """The same events through one uninterrupted in-process worker on a fresh SQLite file."""
    reference = Database(f"sqlite:///{tmp_path / 'reference.sqlite3'}")
    upgrade(reference)
    setup_shop(reference)
    enqueue(reference, events)
    worker.run(reference, Config(database_url=reference.url), until_idle=True)
    outcome = ledger_outcome(reference), inbox_statuses(reference)
    reference.dispose()
    assert set(outcome[1]) <= {"done", "ignored"} and sum(outcome[1].values()) == len(events)
    return outcome


def test_sigkill_mid_batch_loses_nothing_and_applies_nothing_twice(database, tmp_path) -> None:
    events = workload(80, seed=11)
    expected, expected_inbox = _reference(events, tmp_path)
    setup_shop(database)
    enqueue(database, events)
    rng = random.Random(int(os.environ.get("FAULT_SEED", "20261122")))
    kills_mid_batch = 0
    for _ in range(5):
        before = inbox_statuses(database).get("received", 0)
        if before == 0:
            break
        process = subprocess.Popen([CLAWBACK, "worker"], env=_env(database, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        target = rng.randint(1, max(1, before // 3))
        while time.monotonic() < deadline and before - inbox_statuses(database).get("received", 0) < target:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if 0 < inbox_statuses(database).get("received", 0) < before:
            kills_mid_batch += 1
    assert kills_mid_batch >= 2, "the worker was never killed in the middle of the batch"
    worker.run(database, Config(database_url=database.url), until_idle=True)
    assert inbox_statuses(database) == expected_inbox
    assert ledger_outcome(database) == expected
    assert balances_agree(database)


@pytest.mark.postgres
def test_two_workers_racing_on_the_same_orders_give_the_exact_result(database, tmp_path) -> None:
    """Which of two refunds of one line is applied first depends on the race, so records
    may be attributed differently; the nets per line, the balances and the inbox may not."""
    if not database.is_postgres:
        pytest.skip("the race is a PostgreSQL property (SKIP LOCKED claims, order row locks); SQLite has one writer")
    events = workload(40, seed=5)
    # Orders first, then their refunds: the two workers keep meeting on the same order rows.
    events = [e for e in events if e[0] == "orders/paid"] + [e for e in events if e[0] != "orders/paid"]
    reference = Database(f"sqlite:///{tmp_path / 'reference.sqlite3'}")
    upgrade(reference)
    setup_shop(reference)
    enqueue(reference, events)
    worker.run(reference, Config(database_url=reference.url), until_idle=True)
    setup_shop(database)
    enqueue(database, events)
    processes = [
        subprocess.Popen([CLAWBACK, "worker", "--until-idle"], env=_env(database, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()
        # Batches lock their orders in key order: no deadlock, so no batch fell back to singles.
        assert b"failed as a whole" not in stderr, stderr.decode()
    worker.run(database, Config(database_url=database.url), until_idle=True)
    assert inbox_statuses(database) == inbox_statuses(reference)
    assert nets_by_line(database) == nets_by_line(reference)
    with database.reading() as a, reference.reading() as b:
        shop_a, shop_b = registry.require_shop(a, SHOP), registry.require_shop(b, SHOP)
        assert sorted(services.balances(a, shop_a), key=str) == sorted(services.balances(b, shop_b), key=str)
    assert balances_agree(database)
    reference.dispose()
