"""The pytest plugin (entry point `pytest11: tokensim`): every invariant of scenario files is a test item.

    pytest --tokensim-scenarios scenarios/                      # every *.yaml / *.yml with invariants:
    pytest --tokensim-scenarios policy.yaml --tokensim-examples 500 --tokensim-seed 3

Items are named `FILE::INVARIANT NAME`; `-k`, `--junitxml`, `-x` and the rest of pytest apply. A failing item
shows the counterexample's story; a scenario file that does not load is a collection error naming the file,
line and field. Without `--tokensim-scenarios` the plugin does nothing (it is installed with tokensim and
loaded by every pytest run in the environment, so it imports nothing heavy until asked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import TerminalRepr

_SUFFIXES = (".yaml", ".yml")
_COLLECTED = pytest.StashKey[set[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--tokensim-scenarios`, `--tokensim-examples`, `--tokensim-seed`."""
    group = parser.getgroup("tokensim", "tokensim invariants")
    group.addoption(
        "--tokensim-scenarios",
        action="append",
        default=[],
        metavar="PATH",
        help="collect the invariants of these scenario files (directories: every *.yaml / *.yml below)",
    )
    group.addoption(
        "--tokensim-examples", type=int, default=None, metavar="N", help="timelines searched per invariant"
    )
    group.addoption("--tokensim-seed", type=int, default=0, metavar="S", help="seed of the search")


def _roots(config: pytest.Config) -> list[Path]:
    return [Path(p).resolve() for p in config.getoption("tokensim_scenarios") or []]


def _wanted(path: Path, roots: list[Path]) -> bool:
    if path.suffix not in _SUFFIXES:
        return False
    path = path.resolve()
    return any(path == root or root in path.parents for root in roots)


def pytest_configure(config: pytest.Config) -> None:
    """Remember which scenario files were collected (those passed as paths are collected normally)."""
    config.stash[_COLLECTED] = set()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A scenario file under a `--tokensim-scenarios` path, reached by pytest's own collection."""
    config = parent.config
    if not _wanted(file_path, _roots(config)):
        return None
    config.stash[_COLLECTED].add(file_path.resolve())
    return ScenarioFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the scenario files under `--tokensim-scenarios` that pytest's own collection did not reach."""
    roots = _roots(config)
    if not roots:
        return
    seen = config.stash[_COLLECTED]
    for path in _scenario_files(roots):
        if path in seen:
            continue
        seen.add(path)
        root = config.rootpath
        nodeid = path.relative_to(root).as_posix() if root in path.parents else path.as_posix()
        collector = ScenarioFile.from_parent(session, path=path, nodeid=nodeid)
        report = collector.ihook.pytest_make_collect_report(collector=collector)
        if report.failed:
            session.ihook.pytest_collectreport(report=report)
            session.testsfailed += 1
            continue
        items.extend(item for item in report.result if isinstance(item, pytest.Item))


def _scenario_files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_dir():
            yield from sorted(p.resolve() for p in root.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        else:
            yield root


class ScenarioFile(pytest.File):
    """A scenario file: one item per invariant (none when the file has no `invariants:`)."""

    def collect(self) -> Iterator[pytest.Item]:
        """Load the scenario (a ConfigError is a collection error) and yield its invariants."""
        from sim.core.validation import ConfigError
        from sim.scenario.loader import load_scenario

        try:
            scenario = load_scenario(self.path)
        except ConfigError as exc:
            raise self.CollectError(exc.render()) from None
        for invariant in scenario.invariants:
            yield InvariantItem.from_parent(self, name=invariant.name, scenario=scenario, invariant=invariant)


class InvariantFailed(AssertionError):
    """An invariant with a counterexample."""


class InvariantItem(pytest.Item):
    """One invariant of a scenario file."""

    def __init__(self, *, scenario: Any, invariant: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.scenario = scenario
        self.invariant = invariant
        self.result: Any = None

    def runtest(self) -> None:
        """Verify the invariant; raise InvariantFailed with its story when it fails."""
        from sim.verify.runner import DEFAULT_EXAMPLES, verify_invariant

        examples = self.config.getoption("tokensim_examples")
        seed = self.config.getoption("tokensim_seed")
        self.result = verify_invariant(
            self.scenario.policy,
            self.invariant,
            storage=self.scenario.storage,
            examples=DEFAULT_EXAMPLES if examples is None else examples,
            seed=seed,
        )
        self.user_properties.append(("tokensim", self.result.headline()))
        if not self.result.ok:
            raise InvariantFailed(self.result.headline())

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        """The counterexample's story, and how to replay it."""
        if not isinstance(excinfo.value, InvariantFailed) or self.result is None:
            return super().repr_failure(excinfo, style)
        example = self.result.counterexample
        lines = [f"invariant: {self.invariant.name}", f"property: {self.result.sentence}", ""]
        lines += list(example.story) if example is not None else []
        lines += ["", self.result.headline()]
        if self.result.note:
            lines.append(self.result.note)
        seed = self.config.getoption("tokensim_seed")
        lines.append(f"replay: pytest --tokensim-scenarios {self.path} --tokensim-seed {seed}")
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the item is: the file and the invariant's name."""
        return self.path, None, f"invariant: {self.name}"
