"""The fitted scenario as a YAML file: block style for sections, flow style for lists of values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.core.output import write_text_atomic
from sim.scenario.loader import scenario_from_yaml
from sim.scenario.model import Scenario


class _Dumper(yaml.SafeDumper):
    """Lists of plain values (a profile's row, an empirical distribution's values) on one line."""


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, dict) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _mapping(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    # a distribution (one key naming it, plain parameters) reads best on one line
    flow = len(data) == 1 and isinstance(next(iter(data.values())), dict) and all(
        not isinstance(v, dict | list) or (isinstance(v, list) and len(v) <= 8)
        for v in next(iter(data.values())).values()
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(list, _list)
_Dumper.add_representer(dict, _mapping)


def scenario_yaml(config: dict[str, Any], header: list[str] | None = None) -> str:
    """The scenario's YAML text, with `header` lines as comments on top."""
    body = yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header or [])
    return comments + body


def write_scenario(config: dict[str, Any], out: Path, header: list[str] | None = None) -> Scenario:
    """Write the scenario to `out` (atomically) after checking that it loads as written."""
    text = scenario_yaml(config, header)
    scenario = scenario_from_yaml(text, str(out), base_dir=Path(out).absolute().parent)
    write_text_atomic(Path(out), text)
    return scenario
