"""The trace contract: the files, their columns and metadata, and the reader's errors."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.core.validation import ConfigError
from sim.ingest.pipeline import IngestOptions, ingest
from sim.ingest.trace import FORMAT_VERSION, SESSION_SCHEMA, read_trace
from tests.ingest.conftest import SAMPLES


def test_the_files_columns_and_metadata(tmp_path) -> None:
    out = tmp_path / "trace.parquet"
    ingest(
        [SAMPLES / "events.csv"], out, IngestOptions(format="csv", timezone="Europe/Oslo", session_gap=900.0)
    )
    assert pq.read_schema(out).remove_metadata() == SESSION_SCHEMA.remove_metadata()
    metadata = {k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items()}
    assert metadata["tokensim_trace_format"] == str(FORMAT_VERSION)
    assert metadata["origin"] == "2024-01-15T00:00:00+01:00" and metadata["timezone"] == "Europe/Oslo"
    assert metadata["source_format"] == "csv"
    assert json.loads(metadata["source_files"]) == [str(SAMPLES / "events.csv")]
    assert json.loads(metadata["parameters"])["session_gap_s"] == 900.0
    users = pd.read_parquet(tmp_path / "trace.users.parquet")
    fixed = ["user", "devices", "sessions", "first_s", "last_s", "logins", "refreshes", "refresh_failures"]
    assert list(users.columns) == [*fixed, "forced_logins", "failures.sliding_expiry"]
    assert (tmp_path / "trace.summary.json").is_file()
    trace = read_trace(out)
    assert trace.failure_reasons == ["sliding_expiry"] and trace.summary["users"] == 3


def test_reading_what_is_not_a_trace(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such trace file"):
        read_trace(tmp_path / "missing.parquet")
    other = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(other)
    with pytest.raises(ConfigError, match="not a tokensim trace"):
        read_trace(other)
    text = tmp_path / "text.parquet"
    text.write_text("hello")
    with pytest.raises(ConfigError, match="not a Parquet file"):
        read_trace(text)


def test_bad_options_name_the_option(tmp_path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'keycloak'"):
        ingest([SAMPLES / "events.csv"], tmp_path / "t.parquet", IngestOptions(format="keycloack"))
    with pytest.raises(ConfigError, match="no such file"):
        ingest([tmp_path / "nope.jsonl"], tmp_path / "t.parquet", IngestOptions(format="keycloak"))


def test_a_log_without_token_events_says_what_it_saw(tmp_path) -> None:
    log = tmp_path / "admin.jsonl"
    log.write_text('{"time": 1705305600000, "type": "UPDATE_PROFILE", "userId": "u"}\n')
    with pytest.raises(ConfigError, match=r"no token events in the log .*UPDATE_PROFILE"):
        ingest([log], tmp_path / "t.parquet", IngestOptions(format="keycloak"))
    assert not (tmp_path / "t.parquet").exists()


def test_the_command_exits_2_naming_the_line(tmp_path, capsys) -> None:
    from sim.cli.main import main

    log, out = str(SAMPLES / "keycloak.jsonl"), str(tmp_path / "t.parquet")
    command = ["ingest", log, "--format", "keycloak", "--out", out]
    assert main([*command, "--strict"]) == 2
    error = capsys.readouterr().err
    assert "keycloak.jsonl:13: record: not valid JSON" in error and "Traceback" not in error
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "rows skipped: not valid JSON 1" in printed and "Mon" in printed
