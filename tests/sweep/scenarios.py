"""Tiny sweep scenarios for the tests (tens of users, weeks of simulated time)."""

from __future__ import annotations

from pathlib import Path

BASE = """\
name: tiny-sweep
seed: 5
horizon: 40d
warmup: 5d
replications: {replications}
policy:
  preset: visma_connect
  sliding_lifetime: 3d
  max_tokens_per_user: 3
population:
  - name: office
    users: {users}
    devices: {{uniform: {{low: 1, high: 3}}}}
    activity:
      schedule: weekdays
      sessions_per_day: 1.5
      session_duration: {{exponential: {{mean: 1h}}}}
      fresh_login: 0.15
    absences: {{per_year: 8, duration: {{uniform: {{low: 2d, high: 8d}}}}}}
  - name: mobile
    users: {mobile_users}
    activity: {{sessions_per_day: 0.5}}
"""

GRID = """\
sweep:
  grid:
    policy.sliding_lifetime: [3d, 7d, 14d]
    policy.max_tokens_per_user: [2, 5]
"""

SKIPPING_GRID = """\
sweep:
  grid:
    policy.max_tokens_per_user: [3, 25, 10]
"""

CASES = """\
sweep:
  cases:
    - name: as written
    - name: long sliding
      overrides: {policy.sliding_lifetime: 20d}
    - name: bigger office
      overrides:
        population.office.users: 30
        population[1].devices: 2
"""


def scenario_text(
    sweep: str = GRID, replications: int = 3, users: int = 20, mobile_users: int = 8, extra: str = ""
) -> str:
    """The base scenario with a sweep section (and anything else) appended."""
    return BASE.format(replications=replications, users=users, mobile_users=mobile_users) + sweep + extra


def write(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    """Write a scenario file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
