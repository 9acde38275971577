"""Loading scenario files: broken files give ConfigError with file, line, field and a useful message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.core.validation import ConfigError
from sim.scenario import load_scenario, scenario_from_yaml
from sim.scenario.loader import MAX_NODES
from tests.scenario.broken_cases import BROKEN_CASES, VALID, insert, replace


def _load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert isinstance(info.value, ConfigError)
    return info.value


def test_the_valid_base_of_the_broken_cases_loads(tmp_path: Path) -> None:
    path = tmp_path / "valid.yaml"
    path.write_text(VALID, encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.population[0].activity.schedule == "weekdays"


def test_there_are_enough_distinct_broken_cases() -> None:
    ids = [case[0] for case in BROKEN_CASES]
    assert len(ids) >= 22
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("case_id", "text", "line", "fragments"), BROKEN_CASES, ids=[case[0] for case in BROKEN_CASES]
)
def test_broken_scenario(tmp_path: Path, case_id: str, text: str, line: int, fragments: list[str]) -> None:
    path = tmp_path / f"{case_id}.yaml"
    path.write_text(text, encoding="utf-8")
    error = _load_error(path)
    rendered = error.render()
    assert f"{path}:{line}:" in rendered, rendered
    for fragment in fragments:
        assert fragment in rendered, f"{fragment!r} not in:\n{rendered}"
    assert error.source == str(path)
    assert all(problem.line is not None for problem in error.problems), rendered
    assert "internal error" not in rendered


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert f"{path}: file not found" in _load_error(path).render()


def test_a_directory(tmp_path: Path) -> None:
    assert "is a directory" in _load_error(tmp_path).render()


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (PermissionError(13, "Permission denied"), "permission denied: cannot read the file"),
        (OSError(5, "Input/output error"), "cannot read the file: Input/output error"),
    ],
)
def test_an_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, fragment: str
) -> None:
    path = tmp_path / "unreadable.yaml"
    path.write_text(VALID, encoding="utf-8")

    def refuse(self: Path, *args: object, **kwargs: object) -> bytes:
        raise error

    monkeypatch.setattr(Path, "open", refuse)
    assert f"{path}: {fragment}" in _load_error(path).render()


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("office", "caf\xe9").encode("latin-1"))
    assert f"{path}:6: not UTF-8 text (byte 0xe9)" in _load_error(path).render()


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert load_scenario(path).name == "broken"


def test_a_control_character_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "control.yaml"
    path.write_text(replace(9, "      schedule: week\x07days"), encoding="utf-8")
    assert f"{path}:9: invalid YAML: the character U+0007 is not allowed" in _load_error(path).render()


def test_a_python_tag_never_runs_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = replace(7, f"    users: !!python/object/apply:os.system ['touch {marker}']")
    path = tmp_path / "evil.yaml"
    path.write_text(text, encoding="utf-8")
    _load_error(path)
    for tag in ("!!python/object/new:os.system", "!!python/name:os.system", "!!python/object:os.PathLike"):
        path.write_text(replace(7, f"    users: {tag} ['touch {marker}']"), encoding="utf-8")
        assert "invalid YAML" in _load_error(path).render()
    assert not marker.exists()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        insert(12, "      refresh_lock: maybe", "    faults:", "      persist_failure: 2").replace(
            "users: 10", "users: 0"
        ),
        encoding="utf-8",
    )
    rendered = _load_error(path).render()
    assert f"{path}:7: population[0].users: must be a whole number of at least 1, got 0" in rendered
    assert f"{path}:13: population[0].clients.refresh_lock" in rendered
    assert f"{path}:15: population[0].faults.persist_failure" in rendered


def test_merge_keys_and_aliases_work_and_keep_lines(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "name: shared",  # 1
            "horizon: 30d",  # 2
            "policy: {}",  # 3
            "population:",  # 4
            "  - name: a",  # 5
            "    users: 2",  # 6
            "    activity: &common {sessions_per_day: 0.5, session_duration: 10m}",  # 7
            "  - name: b",  # 8
            "    users: 2",  # 9
            "    activity:",  # 10
            "      <<: *common",  # 11
            "      sessions_per_day: 2",  # 12
            "      fresh_login: 3",  # 13
        ]
    )
    path = tmp_path / "merge.yaml"
    path.write_text(text, encoding="utf-8")
    assert (
        f"{path}:13: population[1].activity.fresh_login: must be a probability" in _load_error(path).render()
    )
    path.write_text(text.replace("fresh_login: 3", "fresh_login: 0.3"), encoding="utf-8")
    scenario = load_scenario(path)
    a, b = scenario.population
    assert b.activity.session_duration == a.activity.session_duration
    assert (a.activity.sessions_per_day, b.activity.sessions_per_day) == (0.5, 2.0)


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES:,} values through its aliases"):
        scenario_from_yaml("\n".join(lines), "bomb.yaml")


def test_a_huge_file_without_aliases_is_not_blamed_on_aliases() -> None:
    text = "name: x\nextra:\n" + "".join(f"  k{i}: {i}\n" for i in range(60_000))
    with pytest.raises(ConfigError, match="a scenario has a few hundred") as caught:
        scenario_from_yaml(text, "big.yaml")
    assert "alias" not in caught.value.render()


def test_deep_nesting_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        scenario_from_yaml("description: " + "[" * 5000 + "]" * 5000)


def test_a_huge_integer_is_reported_with_its_line() -> None:
    text = replace(7, f"    users: {10**400}")
    with pytest.raises(ConfigError) as info:
        scenario_from_yaml(text, "big.yaml")
    assert "big.yaml:7: population[0].users: number too large" in info.value.render()


def test_an_invalid_timestamp_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("date.yaml:2: invalid YAML: invalid value '2024-13-45'")
    ):
        scenario_from_yaml("horizon: 1d\nname: 2024-13-45\n", "date.yaml")


def test_keys_that_are_not_text() -> None:
    with pytest.raises(ConfigError) as info:
        scenario_from_yaml(insert(2, "3: three", "null: nothing"), "keys.yaml")
    rendered = info.value.render()
    assert "keys.yaml:3:" in rendered and "keys.yaml:4:" in rendered
