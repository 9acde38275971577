"""Verify invariants: decide what can be decided, search with hypothesis for the rest, tell the stories.

For each invariant of a scenario:

1. `sim.verify.decide` tries an exact argument. When it proves the property, the result is **proved**;
   a search over `examples` timelines is still run as a cross-check (a counterexample it found would be
   reported as a failure, with a note that the proof was wrong).
2. Otherwise the decision's candidate counterexamples are replayed; the first that is in the behaviour
   class and breaks the property is the counterexample (**failed**, decided without a search).
3. Otherwise hypothesis generates up to `examples` timelines of the class (seeded: the same seed gives
   the same timelines), runs each through a fresh engine and checks the property; a failing timeline is
   shrunk to a minimal one (**failed**), or none fails (**held**: no counterexample in N timelines, which
   is not a proof).

Every counterexample is replayed through a fresh engine before it is reported (`replay`), so a printed
story always reproduces.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from sim.core.output import write_text_atomic
from sim.core.validation import ConfigError, Problem
from sim.policy.model import Policy
from sim.scenario.invariants import Invariant
from sim.scenario.model import Scenario
from sim.scenario.threats import Storage
from sim.verify.decide import decide
from sim.verify.execute import execute
from sim.verify.properties import Violation, checker
from sim.verify.story import render
from sim.verify.timelines import Timeline, admits, timeline_strategy

#: Timelines searched per invariant unless told otherwise.
DEFAULT_EXAMPLES = 100
PROVED = "proved"
HELD = "held"
FAILED = "failed"


@dataclass(frozen=True)
class Counterexample:
    """A timeline of the class that breaks the property, the violation and its story."""

    timeline: Timeline
    violation: Violation
    story: tuple[str, ...]
    #: `decision` (built from the policy's rules) or `search` (found and shrunk by hypothesis).
    found_by: str


@dataclass(frozen=True)
class InvariantResult:
    """The verdict on one invariant."""

    name: str
    sentence: str
    outcome: str
    #: The decision procedure's argument (proved), or the rule that lets the property fail.
    reason: str
    #: Timelines the search tried (0 when no search ran).
    tried: int
    seconds: float
    seed: int
    counterexample: Counterexample | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """True unless a counterexample was found."""
        return self.outcome != FAILED

    def headline(self) -> str:
        """One line: the outcome and how it was reached."""
        if self.outcome == PROVED:
            checked = f"; {self.tried} timelines searched agree" if self.tried else ""
            return f"proved: {self.reason}{checked}"
        if self.outcome == HELD:
            why = f": {self.reason}" if self.reason != "searched" else ""
            return f"held: no counterexample in {self.tried} timelines (searched, not proved{why})"
        assert self.counterexample is not None
        how = (
            "decided: the policy's rules allow it"
            if self.counterexample.found_by == "decision"
            else f"found by search after {self.tried} timelines (seed {self.seed}), shrunk"
        )
        return f"FAILED ({how}): {self.counterexample.violation.message}"


@dataclass(frozen=True)
class VerifyResult:
    """Every invariant of a scenario, verified."""

    scenario: str
    source: str | None
    seed: int
    examples: int
    results: tuple[InvariantResult, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """True when every invariant was proved or held."""
        return all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 when every invariant held, 1 when one failed."""
        return 0 if self.ok else 1

    def replay_command(self) -> str:
        """The command that repeats this verification exactly."""
        source = self.source or "SCENARIO"
        return f"tokensim verify {source} --seed {self.seed} --examples {self.examples}"

    def to_junit(self) -> str:
        """JUnit XML: one test suite for the scenario, one test case per invariant."""
        failures = sum(not r.ok for r in self.results)
        suites = ET.Element(
            "testsuites",
            name="tokensim verify",
            tests=str(len(self.results)),
            failures=str(failures),
            errors="0",
            time=f"{self.seconds:.3f}",
        )
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=self.scenario,
            tests=str(len(self.results)),
            failures=str(failures),
            errors="0",
            skipped="0",
            time=f"{self.seconds:.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        for key, value in (("source", self.source or ""), ("seed", self.seed), ("examples", self.examples)):
            ET.SubElement(properties, "property", name=key, value=str(value))
        classname = Path(self.source).stem if self.source else self.scenario
        for result in self.results:
            case = ET.SubElement(
                suite, "testcase", classname=classname, name=result.name, time=f"{result.seconds:.3f}"
            )
            if result.counterexample is not None:
                failure = ET.SubElement(
                    case, "failure", type="counterexample", message=result.counterexample.violation.message
                )
                failure.text = "\n".join(
                    [*result.counterexample.story, "", result.headline(), f"replay: {self.replay_command()}"]
                )
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(filter(None, [result.sentence, result.headline(), result.note]))
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"

    def write_junit(self, path: Path) -> None:
        """Write `to_junit()` to `path` (atomically)."""
        write_text_atomic(Path(path), self.to_junit())


class _Violated(Exception):
    def __init__(self, timeline: Timeline, violation: Violation):
        super().__init__(violation.message)
        self.timeline = timeline
        self.violation = violation


def replay(
    policy: Policy, invariant: Invariant, timeline: Timeline, storage: Storage | None = None
) -> Violation | None:
    """Execute `timeline` through a fresh engine and check the invariant's property: its first violation."""
    return checker(invariant, storage)(execute(policy, timeline))


def search(
    policy: Policy,
    invariant: Invariant,
    examples: int,
    seed: int,
    storage: Storage | None = None,
) -> tuple[int, Counterexample | None]:
    """Search the class's timelines with hypothesis: (timelines tried, shrunk counterexample or None)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed

    check = checker(invariant, storage)
    strategy = timeline_strategy(invariant.who, random_access=policy.fixed_access_token_lifetime is None)
    tried = 0
    failing = False

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @given(strategy)
    def property_holds(timeline: Timeline) -> None:
        nonlocal tried, failing
        if not failing:
            tried += 1
        violation = check(execute(policy, timeline))
        if violation is not None:
            failing = True
            raise _Violated(timeline, violation)

    try:
        property_holds()
    except _Violated as exc:
        return tried, _confirmed(policy, invariant, exc.timeline, storage, "search")
    return tried, None


def _confirmed(
    policy: Policy, invariant: Invariant, timeline: Timeline, storage: Storage | None, found_by: str
) -> Counterexample:
    """The counterexample, replayed through a fresh engine (it must reproduce)."""
    trace = execute(policy, timeline)
    violation = checker(invariant, storage)(trace)
    if violation is None:  # never expected: execution is deterministic
        raise AssertionError(f"the counterexample of {invariant.name!r} did not reproduce")
    return Counterexample(timeline, violation, tuple(render(trace, violation)), found_by)


def _simplest(
    policy: Policy, invariant: Invariant, witnesses: tuple[Timeline, ...], storage: Storage | None
) -> Timeline | None:
    """The candidate counterexample in the class whose violation comes after the fewest steps."""
    check = checker(invariant, storage)
    best: tuple[int, int] | None = None
    chosen = None
    for order, witness in enumerate(witnesses):
        if admits(invariant.who, witness):
            continue
        violation = check(execute(policy, witness))
        if violation is not None and (best is None or (violation.step, order) < best):
            best, chosen = (violation.step, order), witness
    return chosen


def verify_invariant(
    policy: Policy,
    invariant: Invariant,
    *,
    storage: Storage | None = None,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = 0,
    use_decision: bool = True,
) -> InvariantResult:
    """Verify one invariant (see the module docstring); `use_decision=False` only searches."""
    started = time.perf_counter()
    sentence = invariant.sentence()

    def result(
        outcome: str, reason: str, tried: int, example: Counterexample | None = None, note: str = ""
    ) -> InvariantResult:
        seconds = time.perf_counter() - started
        return InvariantResult(invariant.name, sentence, outcome, reason, tried, seconds, seed, example, note)

    decision = decide(policy, invariant) if use_decision else None
    if decision is not None and not decision.proved:
        witness = _simplest(policy, invariant, decision.witnesses, storage)
        if witness is not None:
            confirmed = _confirmed(policy, invariant, witness, storage, "decision")
            return result(FAILED, decision.reason, 0, confirmed)
    tried, example = search(policy, invariant, examples, seed, storage) if examples > 0 else (0, None)
    if decision is not None and decision.proved:
        if example is None:
            return result(PROVED, decision.reason, tried)
        note = (
            f"the decision procedure claimed a proof ({decision.reason}) but the search found a "
            "counterexample: please report this as a bug in tokensim"
        )
        return result(FAILED, decision.reason, tried, example, note)
    reason = decision.reason if decision is not None else "searched"
    if example is not None:
        return result(FAILED, reason, tried, example)
    return result(HELD, reason, tried)


def verify_scenario(
    scenario: Scenario,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = 0,
    source: str | None = None,
) -> VerifyResult:
    """Verify every invariant of the scenario; ConfigError when it has none or the options are invalid."""
    problems = []
    if isinstance(examples, bool) or not isinstance(examples, int) or not 1 <= examples <= 1_000_000:
        problems.append(Problem(("examples",), f"must be a whole number from 1 to 1000000, got {examples!r}"))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(Problem(("seed",), f"must be a whole number of at least 0, got {seed!r}"))
    if problems:
        raise ConfigError(problems, source="options")
    if not scenario.invariants:
        message = "the scenario has no invariants to verify (see docs/verify.md)"
        raise ConfigError([Problem(("invariants",), message)], source=source)
    started = time.perf_counter()
    results = tuple(
        verify_invariant(scenario.policy, invariant, storage=scenario.storage, examples=examples, seed=seed)
        for invariant in scenario.invariants
    )
    return VerifyResult(scenario.name, source, seed, examples, results, time.perf_counter() - started)


def verify_file(path: str | Path, *, examples: int = DEFAULT_EXAMPLES, seed: int = 0) -> VerifyResult:
    """Load a scenario file and verify its invariants (ConfigError on bad input)."""
    from sim.scenario.loader import load_scenario

    scenario = load_scenario(path)
    return verify_scenario(scenario, examples=examples, seed=seed, source=str(path))
