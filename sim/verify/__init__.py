"""Invariants of refresh-token policies, proved or refuted: the `verify` workflow.

- `verify_file(path)` / `verify_scenario(scenario)` / `verify_invariant(policy, invariant)`: decide what
  can be decided exactly (`sim.verify.decide`), search the rest with hypothesis, and tell every
  counterexample as a story (`sim.verify.runner`).
- `execute(policy, timeline)`: drive the policy engine through one timeline (`sim.verify.execute`).
- `sim.verify.strategies`: public hypothesis strategies (timelines of a behaviour class, policies within
  a preset's limits) for a team's own property tests.
- `sim.verify.pytest_plugin`: `pytest --tokensim-scenarios DIR`.

The grammar of the `invariants:` section is `sim.scenario.invariants`; the reference is docs/verify.md.
"""

from sim.verify.execute import Step, Trace, execute
from sim.verify.properties import Violation, checker
from sim.verify.runner import (
    Counterexample,
    InvariantResult,
    VerifyResult,
    replay,
    verify_file,
    verify_invariant,
    verify_scenario,
)
from sim.verify.timelines import Device, LostResponse, Session, Theft, Timeline, admits

__all__ = [
    "Counterexample",
    "Device",
    "InvariantResult",
    "LostResponse",
    "Session",
    "Step",
    "Theft",
    "Timeline",
    "Trace",
    "VerifyResult",
    "Violation",
    "admits",
    "checker",
    "execute",
    "replay",
    "verify_file",
    "verify_invariant",
    "verify_scenario",
]
