"""The report of a run: files, figures, a self-contained HTML, and headline sentences that agree with
summary.json (parsed back from report.md and compared number by number)."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.theft_metrics import dwell_survival
from sim.cli.main import main
from sim.report import build_report, tables
from sim.report.tables import CAUSE_WORDS
from tests.report.conftest import agrees, assert_self_contained, restamp, stamp

#: The figures of a run without thefts (the storage figure: every run's time series has `stored_rows`).
RUN_FIGURES = ("survival", "reauth_causes", "active_chains", "chains_per_user", "weekly_load", "storage")
WORDS_TO_CAUSE = {words: cause for cause, words in CAUSE_WORDS.items()}
NUM = r"-?[\d,]+(?:\.\d+)?"


def ci(name: str, percent: bool = False) -> str:
    """A regex for `(low–high)` (or `(low to high)` with a negative bound), groups `<name>lo`, `<name>hi`."""
    unit = "%" if percent else ""
    return rf"\((?P<{name}lo>{NUM})(?:–| to )(?P<{name}hi>{NUM}){unit}\)"


@pytest.fixture(scope="module")
def report_dir(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny run with its report built into it."""
    target = tmp_path_factory.mktemp("report") / "tiny"
    shutil.copytree(run_dir, target)
    build_report(target)
    return target


@pytest.fixture(scope="module")
def summary(report_dir: Path) -> dict:
    return json.loads((report_dir / "summary.json").read_text())


def headline(report_dir: Path) -> list[str]:
    """The bullet sentences under '## Headline figures' (before the per-persona list)."""
    text = (report_dir / "report.md").read_text()
    section = text.split("## Headline figures", 1)[1].split("\n\n", 2)[1]
    return [line[2:] for line in section.splitlines() if line.startswith("- ")]


def test_report_files_and_figures_exist_and_are_non_empty(report_dir: Path) -> None:
    assert (report_dir / "report.md").stat().st_size > 1000
    assert (report_dir / "report.html").stat().st_size > 10_000
    for name in RUN_FIGURES:
        png = report_dir / "figures" / f"{name}.png"
        svg = report_dir / "figures" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert png.stat().st_size > 5_000, name
        root = ET.fromstring(svg.read_bytes())
        assert root.tag.endswith("svg"), name
        assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 10, name
    leftovers = [p.name for p in report_dir.rglob("*.tmp")]
    assert leftovers == []


def test_markdown_references_every_figure_and_says_what_was_simulated(
    report_dir: Path, summary: dict
) -> None:
    text = (report_dir / "report.md").read_text()
    for name in RUN_FIGURES:
        assert f"](figures/{name}.svg)" in text
    assert "## What was simulated" in text
    assert f"| seed | {summary['seed']} |" in text
    assert f"| replications | {summary['replications']} " in text
    assert "| `sliding_lifetime` | 3d |" in text
    assert "| `max_tokens_per_user` | 2 |" in text
    assert "| setting | office | mobile |" in text  # the population, one column per persona
    assert "horizon | 21 days (the first 3 are a warm-up" in text


def test_html_is_self_contained(report_dir: Path) -> None:
    assert_self_contained((report_dir / "report.html").read_text(), images=len(RUN_FIGURES))


def test_headline_sentences_agree_with_summary(report_dir: Path, summary: dict) -> None:
    m = summary["metrics"]
    sentences = headline(report_dir)

    # 1: share of users forced in a month, and the main causes
    pattern = (
        rf"^(?P<share>{NUM})% of users {ci('s', percent=True)} are forced to log in again in a month; "
        rf"(?P<c1>{NUM})% of these forced logins are because of (?P<w1>.+?)"
        rf"(?: and (?P<c2>{NUM})% because of (?P<w2>.+?))?\.$"
    )
    first = re.match(pattern, sentences[0])
    assert first, sentences[0]
    share = m["users_with_forced_reauth_share_monthly"]
    assert agrees(first["share"], share["mean"], 100)
    assert agrees(first["slo"], share["ci95"][0], 100) and agrees(first["shi"], share["ci95"][1], 100)
    total = m["forced_reauth_per_user_month"]["mean"]
    causes = {name.split(".", 1)[1]: b["mean"] for name, b in m.items()
              if name.startswith("forced_reauth_per_user_month.") and b["mean"]}
    ranked = sorted(causes, key=lambda c: -causes[c])
    assert WORDS_TO_CAUSE[first["w1"]] == ranked[0]
    assert agrees(first["c1"], causes[ranked[0]] / total, 100)
    if len(ranked) > 1:
        assert WORDS_TO_CAUSE[first["w2"]] == ranked[1]
        assert agrees(first["c2"], causes[ranked[1]] / total, 100)

    # 2: forced re-authentications per user and month, mid-session ones
    second = re.match(
        rf"^On average a user is forced to log in again (?P<f>{NUM}) {ci('f')} times a month, "
        rf"(?P<s>{NUM}) {ci('s')} of them in the middle of a session\.$", sentences[1])
    assert second, sentences[1]
    for key, name in (("f", "forced_reauth_per_user_month"), ("s", "mid_session_reauth_per_user_month")):
        block = m[name]
        assert agrees(second[key], block["mean"])
        assert agrees(second[f"{key}lo"], block["ci95"][0]) and agrees(second[f"{key}hi"], block["ci95"][1])

    # 3: active chains per user against the cap
    third = re.match(
        rf"^A user holds (?P<a>{NUM}) {ci('a')} valid refresh-token chains on average; the cap is "
        rf"(?P<cap>\d+) per user, and the busiest user held (?P<max>{NUM}) at once", sentences[2])
    assert third, sentences[2]
    assert agrees(third["a"], m["active_chains_per_user"]["mean"])
    assert int(third["cap"]) == summary["resolved_scenario"]["policy"]["max_tokens_per_user"]
    assert agrees(third["max"], m["active_chains_per_user_max"]["mean"])

    rest = sentences[3:]
    if m["evictions_per_user_month"]["mean"]:
        evict = re.match(rf"^The cap evicts (?P<e>{NUM}) {ci('e')} chains per user per month\.$", rest[0])
        assert evict, rest[0]
        assert agrees(evict["e"], m["evictions_per_user_month"]["mean"])
        rest = rest[1:]

    # 4: Kaplan-Meier median lifetime (or more than half censored)
    median = m["chain_lifetime_days_median"]
    if median["mean"] is not None:
        life = re.match(rf"^Half of the refresh-token chains end within (?P<d>{NUM}) {ci('d')} days", rest[0])
        assert life, rest[0]
        assert agrees(life["d"], median["mean"])
        assert agrees(life["dlo"], median["ci95"][0]) and agrees(life["dhi"], median["ci95"][1])
    else:
        assert rest[0].startswith("More than half of the chains outlive the simulation")
    censored = re.search(rf"(?P<c>{NUM})% are still valid at the end", rest[0]) or re.search(
        rf"\((?P<c>{NUM})% are still valid", rest[0])
    assert censored and agrees(censored["c"], m["chains_censored_share"]["mean"], 100)

    # 5: load on the token endpoint
    load = re.match(
        rf"^The token endpoint's busiest minute carries (?P<p>{NUM}) {ci('p')} requests per second "
        rf"for (?P<users>{NUM}) users, and a user sends (?P<r>{NUM}) {ci('r')} refresh requests",
        rest[1])
    assert load, rest[1]
    assert agrees(load["p"], m["token_requests_per_second_peak"]["mean"])
    assert int(load["users"].replace(",", "")) == summary["users"]
    assert agrees(load["r"], m["refresh_requests_per_user_month"]["mean"])


def test_per_persona_sentences_agree_with_summary(report_dir: Path, summary: dict) -> None:
    text = (report_dir / "report.md").read_text()
    for persona, blocks in summary["by_persona"].items():
        line = next(line for line in text.splitlines() if line.startswith(f"- **{persona}**: "))
        share = blocks["users_with_forced_reauth_share_monthly"]
        if blocks["forced_reauth_per_user_month"]["mean"]:
            match = re.search(rf"(?P<v>{NUM})% of {persona} users", line)
            assert match and agrees(match["v"], share["mean"], 100), line
        else:
            assert "Nobody is forced" in line


def test_every_metric_table_matches_summary(report_dir: Path, summary: dict) -> None:
    text = (report_dir / "report.md").read_text()
    for name, block in summary["metrics"].items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
        no_value = all(b["mean"] is None for b in [block, *(p[name] for p in summary["by_persona"].values())])
        if (name.startswith("forced_reauth_per_user_month.") and not block["mean"]) or no_value:
            assert row is None, name
            continue
        assert row is not None, name
        cells = [c.strip() for c in row.strip("|").split("|")]
        if block["mean"] is None:
            assert cells[2].startswith("n/a")
        else:
            assert agrees(cells[2].split(" ")[0], block["mean"]), (name, cells)


def test_report_command_and_run_flag(tiny_scenario: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "csv-run"
    code = main(["run", str(tiny_scenario), "--out", str(out), "--format", "csv", "--workers", "1",
                 "--users-scale", "0.5", "--quiet", "--report"])
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.html", "figures", "chains.csv"}
    assert len(list((out / "figures").glob("*.png"))) == len(RUN_FIGURES)
    capsys.readouterr()
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (out / "report.html").stat().st_size > 10_000
    elsewhere = tmp_path / "elsewhere"
    assert main(["report", str(out), "--out", str(elsewhere), "--quiet"]) == 0
    assert (elsewhere / "report.md").is_file() and (elsewhere / "figures" / "survival.svg").is_file()


def test_report_command_rejects_a_directory_without_results(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no tokensim results" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "summary.json").write_text(json.dumps({"metrics": {}, "scenario": "x"}))
    assert main(["report", str(tmp_path)]) == 2
    assert "its results are incomplete" in capsys.readouterr().err  # no manifest: not a finished run
    stamp(tmp_path, "run")
    assert main(["report", str(tmp_path)]) == 2
    assert "not a tokensim RunSummary" in capsys.readouterr().err


def test_report_refuses_results_from_different_runs(report_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(report_dir, mixed)
    pd.read_parquet(mixed / "chains.parquet").head(3).to_parquet(mixed / "chains.parquet")
    assert main(["report", str(mixed)]) == 2
    assert "chains.parquet is not the file this run wrote" in capsys.readouterr().err
    (mixed / "chains.parquet").unlink()
    assert main(["report", str(mixed)]) == 2
    assert "chains.parquet is missing" in capsys.readouterr().err


def test_report_is_reproducible(report_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_report(report_dir, again)
    for name in ("report.md", "report.html", "figures/survival.svg", "figures/weekly_load.png"):
        assert (again / name).read_bytes() == (report_dir / name).read_bytes(), name


# --- stolen tokens, revocation and storage ------------------------------------------------------------


def section(report_dir: Path, heading: str) -> list[str]:
    """The bullet sentences of a `## heading` section of report.md."""
    text = (report_dir / "report.md").read_text()
    body = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in body.splitlines() if line.startswith("- ")]


def check_block(match: re.Match[str], key: str, block: dict, scale: float = 1.0) -> None:
    """The shown mean (group `key`) and, when shown, interval (`<key>lo`, `<key>hi`) agree with `block`."""
    assert agrees(match[key], block["mean"], scale), (match[key], block)
    if match.groupdict().get(f"{key}lo") is not None:
        assert agrees(match[f"{key}lo"], block["ci95"][0], scale)
        assert agrees(match[f"{key}hi"], block["ci95"][1], scale)
    else:
        assert block["ci95"][0] is None, block  # an interval exists: the sentence must show it


def opt_ci(name: str, percent: bool = False) -> str:
    return rf"(?: {ci(name, percent)})?"


def check_storage_sentences(report_dir: Path, summary: dict) -> None:
    m = summary["metrics"]
    lag_sentence, store = section(report_dir, "Access after a revocation and token storage")
    lag = re.search(rf"stays usable for (?P<l>{NUM}){opt_ci('l')} minutes on average, and one in twenty "
                    rf"for more than (?P<p>{NUM}){opt_ci('p')} minutes", lag_sentence)
    assert lag, lag_sentence
    check_block(lag, "l", m["revocation_lag_minutes_mean"])
    check_block(lag, "p", m["revocation_lag_minutes_p95"])
    rows = re.match(
        rf"^The token store holds (?P<r>{NUM}){opt_ci('r')} rows on average and (?P<k>{NUM}){opt_ci('k')} "
        rf"rows at its fullest minute, about (?P<b>{NUM}) (?P<unit>bytes|kB|MB|GB) at (?P<rb>[\d,]+) bytes a "
        rf"row; that is (?P<u>{NUM}){opt_ci('u')} rows per 1,000 users on average\.$", store)
    assert rows, store
    check_block(rows, "r", m["stored_rows_mean"])
    check_block(rows, "k", m["stored_rows_peak"])
    check_block(rows, "u", m["stored_rows_per_1000_users_mean"])
    scale = {"bytes": 1.0, "kB": 1e-3, "MB": 1e-6, "GB": 1e-9}[rows["unit"]]
    assert agrees(rows["b"], m["stored_bytes_peak"]["mean"], scale)
    assert int(rows["rb"].replace(",", "")) == summary["resolved_scenario"]["storage"]["row_bytes"]


def test_a_run_without_thefts_has_no_theft_section_but_storage_sentences(report_dir: Path,
                                                                         summary: dict) -> None:
    text = (report_dir / "report.md").read_text()
    assert "## Stolen tokens" not in text and not (report_dir / "figures" / "dwell.png").exists()
    assert summary["metrics"]["thefts_active_at_horizon_share"]["mean"] is None
    check_storage_sentences(report_dir, summary)
    assert "](figures/storage.svg)" in text.split("## Access after a revocation and token storage", 1)[1]


@pytest.fixture(scope="module")
def theft_report(theft_run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("theft-report") / "thefts"
    shutil.copytree(theft_run_dir, target)
    build_report(target)
    return target


def test_theft_section_sentences_agree_with_summary(theft_report: Path) -> None:
    summary = json.loads((theft_report / "summary.json").read_text())
    m = summary["metrics"]
    thefts = pd.read_parquet(theft_report / "thefts.parquet")
    assert len(thefts) and thefts["ended_at_s"].isna().any()  # the fixture has censored thefts
    dwell, detection, victim = section(theft_report, "Stolen tokens")

    first = re.match(rf"^After a theft the attacker keeps working access for (?P<d>{NUM}){opt_ci('d')} days"
                     rf"(?: \(about \d+ (?:minutes|hours)\))? on average; 95% of attackers lose it within "
                     rf"(?P<p>{NUM}){opt_ci('p')} days", dwell)
    assert first, dwell
    check_block(first, "d", m["attacker_dwell_days_mean"])
    check_block(first, "p", m["attacker_dwell_days_p95"])

    second = re.match(rf"^Reuse detection catches (?P<t>{NUM})%{opt_ci('t', True)} of the thefts, and "
                      rf"(?P<a>{NUM})%{opt_ci('a', True)} of the attackers still hold a working",
                      detection)
    assert second, detection
    check_block(second, "t", m["theft_detected_share"], 100)
    check_block(second, "a", m["thefts_active_at_horizon_share"], 100)
    assert m["thefts_active_at_horizon_share"]["mean"] > 0

    third = re.match(rf"^A theft forces its victim to log in again (?P<v>{NUM}){opt_ci('v')} times", victim)
    assert third, victim
    check_block(third, "v", m["victim_reauths_per_theft"])
    check_storage_sentences(theft_report, summary)

    text = (theft_report / "report.md").read_text()
    stolen = text.split("## Stolen tokens", 1)[1].split("\n## ", 1)[0]
    assert "](figures/dwell.svg)" in stolen and "censored" in stolen
    assert_self_contained((theft_report / "report.html").read_text(), images=len(RUN_FIGURES) + 1)
    assert (theft_report / "figures" / "dwell.svg").stat().st_size > 5_000


def test_dwell_curves_match_the_theft_helpers(theft_report: Path) -> None:
    """The figure's table is the Kaplan-Meier curve of `sim.analysis.theft_metrics.dwell_survival`,
    plus bands."""
    summary = json.loads((theft_report / "summary.json").read_text())
    thefts = pd.read_parquet(theft_report / "thefts.parquet")
    warmup = summary["warmup_days"] * 86400.0
    km = tables.dwell_table(thefts, warmup, ["laptop", "occasional"])
    assert list(dict.fromkeys(km["persona"])) == ["*", "laptop", "occasional"]
    reference = dwell_survival(thefts, warmup)
    for persona, curve in reference.groupby("persona", sort=False):
        ours = km[km["persona"] == persona]
        assert (ours["ci_low"] <= ours["survival"] + 1e-12).all()
        assert (ours["survival"] <= ours["ci_high"] + 1e-12).all()
        index = np.searchsorted(ours["days"].to_numpy(), curve["dwell_days"].to_numpy(), side="right") - 1
        assert ours["survival"].to_numpy()[index] == pytest.approx(curve["survival"].to_numpy())
    measured = thefts[(thefts["stolen_at_s"] >= warmup) & (thefts["end_reason"] != "no_token")]
    everyone = km[km["persona"] == "*"].iloc[0]
    assert int(everyone["thefts"]) == len(measured)
    assert int(everyone["censored"]) == int(measured["ended_at_s"].isna().sum())
    assert everyone["active_share"] == pytest.approx(measured["ended_at_s"].isna().mean())


def test_theft_section_is_skipped_without_measured_thefts(theft_run_dir: Path, tmp_path: Path) -> None:
    """Thefts all stolen in the warm-up, or no thefts table at all: no section, no figure, no error."""
    early = tmp_path / "early"
    shutil.copytree(theft_run_dir, early)
    thefts = pd.read_parquet(early / "thefts.parquet")
    thefts.assign(stolen_at_s=0.0).to_parquet(early / "thefts.parquet", index=False)
    restamp(early)  # as if the run had written these thefts
    for directory in (early,):
        paths = build_report(directory)
        assert "dwell" not in paths.figures and "storage" in paths.figures
        assert "## Stolen tokens" not in paths.markdown.read_text()
