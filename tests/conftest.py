"""Hypothesis profiles.

- ``dev`` (default): quick, for the edit-test loop.
- ``ci`` (``HYPOTHESIS_PROFILE=ci``, set by ``.ci/run``): more examples and longer stateful
  runs. Random, not derandomized, so every CI run explores new cases; ``print_blob`` prints a
  ``@reproduce_failure`` line with any failure, so a failing case is replayable exactly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=500,  # the stateful test: ~20k steps of up to 50 per run
    stateful_step_count=50,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
