"""What the probe writes: a `policy:` section a scenario can use, with its evidence as comments, and a JSON
evidence file that holds every exchange but no secret."""

from __future__ import annotations

from pathlib import Path

import yaml

from sim.policy.model import Policy
from sim.probe.result import FIELDS, ProbeResult
from sim.scenario.loader import load_scenario
from tests.probe.engine_server import CLIENT_SECRET, PASSWORD, VirtualClock, serve
from tests.probe.helpers import probe_reference

ROOT = Path(__file__).resolve().parents[2]
POLICY = {
    "refresh_token_usage": "one_time",
    "absolute_lifetime": "120s",
    "sliding_lifetime": "30s",
    "reuse_interval": "5s",
    "on_reuse": "revoke_family",
    "max_tokens_per_user": 2,
    "on_cap": "evict_least_recently_used",
    "access_token_lifetime": "10m",
}


def test_the_yaml_section_is_a_valid_policy_with_its_evidence_as_comments() -> None:
    result, truth, _ = probe_reference(POLICY)
    text = result.policy_yaml("policy.evidence.json")
    section = yaml.safe_load(text)
    assert list(section) == ["policy"]
    assert list(section["policy"]) == list(FIELDS)
    assert Policy.from_dict(section["policy"]) == truth
    comments = [line for line in text.splitlines() if line.startswith("  # ")]
    assert len(comments) >= len(FIELDS)
    assert "policy.evidence.json" in text
    for finding in result.findings:  # each field is preceded by its confidence and what was seen
        assert f"{finding.field}:" in text and finding.summary.split()[0] in text


def test_a_scenario_runs_with_the_section_pasted_in(tmp_path: Path) -> None:
    result, _, _ = probe_reference(POLICY)
    scenario = yaml.safe_load((ROOT / "scenarios" / "office-workers.yaml").read_text())
    scenario.pop("policy")
    text = yaml.safe_dump(scenario, sort_keys=False) + result.policy_yaml()
    path = tmp_path / "probed.yaml"
    path.write_text(text)
    loaded = load_scenario(path)
    assert loaded.policy.sliding_lifetime == 30 and loaded.policy.max_tokens_per_user == 2


def test_the_evidence_holds_every_exchange_and_no_secret() -> None:
    clock = VirtualClock()
    with serve(POLICY, clock) as server:
        from sim import api
        from sim.probe.clock import RateLimiter
        from tests.probe.engine_server import CLIENT_ID, USER

        result = api.probe(
            server.url,
            CLIENT_ID,
            client_secret=CLIENT_SECRET,
            login=f"password:{USER}:{PASSWORD}",
            max_wait=300,
            max_logins=4,
            clock=clock,
            limiter=RateLimiter(1e9),
        )
        issued = list(server._strings.values())
    evidence = result.evidence_json()
    yaml_text = result.policy_yaml()
    assert len(result.exchanges) == server.requests
    for secret in (PASSWORD, CLIENT_SECRET, *issued):
        assert secret not in evidence and secret not in yaml_text
    assert ProbeResult.model_validate_json(evidence) == result
    refreshes = [e for e in result.exchanges if e.kind == "refresh"]
    assert all(e.presented and e.presented[0].isalpha() and "." in e.presented for e in refreshes)
    assert {e.body.get("access_token") for e in result.exchanges if e.ok} == {"<redacted>"}
    cited = {i for finding in result.findings for i in finding.evidence}
    assert cited <= {e.id for e in result.exchanges}
