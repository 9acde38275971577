"""The fixed timelines: every rule, against every server and configuration of tests/conformance/servers.py.

Each test runs (once per configuration, all rules together) the rule's timeline through the real server
and through the engine under `policy_for(settings)` and asserts that every answer agrees; for a documented
difference it asserts that the server still differs, so that a server release that changes is noticed.
"""

from __future__ import annotations

import pytest

from tests.conformance.servers import SERVERS
from tests.conformance.timeline import RULES

CASES = [
    pytest.param(server, configuration, build.__name__, id=f"{server}-{configuration}-{build.__name__}")
    for server, spec in SERVERS.items()
    for configuration, settings in spec.configurations.items()
    for build in RULES
    if build(spec.module.policy_for(settings)) is not None
]


@pytest.mark.parametrize(("server", "configuration", "rule"), CASES)
def test_timeline(servers, server: str, configuration: str, rule: str) -> None:
    started = servers.get(server, configuration)
    result = started.fixed_results()[rule]
    documented = SERVERS[server].documented_for(configuration, rule)
    header = f"{started.server.version}, {configuration}: {rule}\n{result.log()}"
    if documented is None:
        assert result.agrees, f"the server and the engine differ\n{header}"
    else:
        assert not result.agrees, (
            f"documented difference no longer observed ({documented.observed}); update "
            f"tests/conformance/servers.py and docs/conformance.md\n{header}"
        )


def test_every_configuration_maps_to_a_valid_policy() -> None:
    """policy_for accepts every configuration the suite runs (it raises on a setting it cannot map)."""
    for spec in SERVERS.values():
        for settings in spec.configurations.values():
            assert spec.module.policy_for(settings).preset is not None


def test_every_documented_difference_names_a_rule_and_a_configuration() -> None:
    names = {build.__name__ for build in RULES}
    for spec in SERVERS.values():
        for documented in spec.documented:
            assert documented.rule in names, documented
            assert documented.configurations <= set(spec.configurations), documented


EXPLAINED = [
    pytest.param(server, configuration, documented.rule, id=f"{server}-{configuration}-{documented.rule}")
    for server, spec in SERVERS.items()
    if spec.explain is not None
    for configuration in spec.randomised
    for documented in spec.documented
    if documented.applies(configuration, documented.rule)
]


@pytest.mark.parametrize(("server", "configuration", "rule"), EXPLAINED)
def test_explain_recognises_the_documented_difference(
    servers, server: str, configuration: str, rule: str
) -> None:
    """The randomised tests' `explain` names the documented difference the fixed timeline shows (so that a
    random timeline hitting it is not reported as new), and names nothing on a timeline that agrees."""
    spec = SERVERS[server]
    results = servers.get(server, configuration).fixed_results()
    result = results[rule]
    first = result.first_difference
    assert first is not None
    upto = result.entries[: result.entries.index(first) + 1]
    assert spec.explain(upto, spec.configurations[configuration]) == rule
    agreeing = next(r for r in results.values() if r.agrees and len(r.entries) > 2)
    assert spec.explain(agreeing.entries, spec.configurations[configuration]) is None
