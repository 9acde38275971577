"""`tokensim fit TRACE --personas K --out scenario.yaml`: fit, write the scenario and the fit report.

The policy the log was produced under (for the token-event comparison and the scenario's `policy:`):
`--policy` names a vendor preset or a YAML file (a policy mapping, or a scenario whose `policy:` is
used); without it, the generic policy with the trace's access-token lifetime (its metadata's
`parameters.access_token_lifetime_s`, when the trace records one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.core.durations import format_duration
from sim.core.resultset import OutputError, check_writable
from sim.core.validation import ConfigError, Problem, suggest
from sim.experiments.progress import Progress
from sim.fit.compare import TokenComparison, compare_tokens
from sim.fit.fit import FitResult, fit_trace
from sim.fit.report import build_fit_report
from sim.fit.scenario import write_scenario
from sim.policy.model import Policy
from sim.policy.presets import PRESETS
from sim.scenario.model import Scenario
from sim.scenario.trace_file import TraceFileError, trace_shape


@dataclass(frozen=True)
class FitOutcome:
    """What `tokensim fit` produced."""

    fit: FitResult
    scenario: Scenario
    scenario_file: Path
    report_dir: Path | None
    comparison: TokenComparison | None
    policy: dict[str, Any]
    seconds: float


def trace_policy(trace: Path) -> dict[str, Any]:
    """The default policy: generic, with the access-token lifetime the trace records (if any)."""
    from sim.ingest.trace import read_trace

    parameters = read_trace(trace).metadata.parameters or {}
    lifetime = parameters.get("access_token_lifetime_s")
    if isinstance(lifetime, int | float) and lifetime > 0:
        return {"access_token_lifetime": format_duration(float(lifetime))}
    return {}


def resolve_policy(policy: str | dict[str, Any] | None, trace: Path) -> dict[str, Any]:
    """`--policy` as a policy mapping (validated): a preset's name, a YAML file, a mapping, or None."""
    if policy is None:
        config = trace_policy(trace)
        source = "the trace's policy"
    elif isinstance(policy, dict):
        config, source = dict(policy), "policy"
    elif policy in PRESETS:
        config, source = {"preset": policy}, "--policy"
    else:
        path = Path(policy)
        if not path.is_file():
            hint = suggest(policy, list(PRESETS))
            message = f"{policy!r} is neither a preset nor a policy file"
            message += f"; did you mean {hint!r}?" if hint else f" (presets: {', '.join(PRESETS)})"
            raise ConfigError([Problem(("policy",), message)], source="--policy")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([Problem(("policy",), f"cannot read it: {exc}")], source=str(path)) from None
        if isinstance(data, dict) and isinstance(data.get("policy"), dict):
            data = data["policy"]
        if not isinstance(data, dict):
            raise ConfigError([Problem(("policy",), "must be a mapping of policy fields")], source=str(path))
        config, source = data, str(path)
    Policy.from_dict(config, source=source)  # ConfigError naming the field when it is not a policy
    return config


def fit(
    trace: str | Path,
    out: str | Path,
    *,
    personas: int | str = 1,
    policy: str | dict[str, Any] | None = None,
    report_dir: str | Path | None = None,
    compare: bool = True,
    replications: int = 5,
    seed: int = 0,
    workers: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> FitOutcome:
    """Fit personas to `trace`, write the scenario to `out` and the report to `report_dir` (default: a
    folder beside the scenario, named after it with `-fit`). `compare`: also simulate the fitted scenario
    and the replayed trace under the policy, `replications` times, for the report's token-event table.

    Raises ConfigError for a trace or policy that cannot be used, OutputError for an output that exists
    (without `force`) or cannot be written.
    """
    started = time.perf_counter()
    trace = Path(trace).absolute()
    try:
        trace_shape(str(trace))
    except TraceFileError as exc:
        raise ConfigError([Problem((), str(exc))], source=str(trace)) from None
    out = Path(out)
    if personas != "auto" and (not isinstance(personas, int) or personas < 1):
        problem = Problem(("personas",), f"must be a whole number >= 1 or auto, got {personas!r}")
        raise ConfigError([problem], source="--personas")
    if out.exists() and not force:
        raise OutputError(f"{out} exists; use --force to replace it")
    check_writable(out.parent if str(out.parent) else Path("."))
    folder = Path(report_dir) if report_dir is not None else out.with_name(f"{out.stem}-fit")
    policy_config = resolve_policy(policy, trace)
    progress = progress or Progress()
    progress.started("fit", 1, "traces")
    result = fit_trace(trace, personas, seed=seed)
    progress.finished("fit", time.perf_counter() - started)
    config = result.scenario_config(policy_config, replications=replications)
    comparison = None
    if compare:
        users = _users_table(trace)
        comparison = compare_tokens(result, users, policy_config, replications, workers, progress)
    header = [
        f"Fitted by tokensim fit to {trace.name} ({result.users} users, {result.sessions} sessions, "
        f"{result.span_days:g} days), seed {seed}.",
        f"The fit report, with every distribution against the data: {folder}/report.html",
        "Faults, lifecycle and clients are not in a trace: they are at their defaults; add yours.",
    ]
    scenario = write_scenario(config, out, header)
    build_fit_report(result, folder, config, comparison, force=force, scenario_file=out)
    return FitOutcome(result, scenario, out, folder, comparison, policy_config,
                      time.perf_counter() - started)


def _users_table(trace: Path) -> Any:
    from sim.ingest.trace import read_trace

    return read_trace(trace).users
