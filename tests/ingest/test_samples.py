"""Each parser against a hand-written sample that follows the vendor's documented schema.

The samples (tests/ingest/samples/) hold malformed lines, out-of-order events, clock skew, a timestamp
with a zone offset, events without a user (found by their session) and users with one event. Every
expected value below was worked out by hand from the sample and the rules in docs/ingest.md; the
times are seconds from the trace's origin, Monday 2024-01-15 00:00 in the trace's zone.
"""

from __future__ import annotations

import pytest

from sim.core.validation import ConfigError
from sim.ingest.pipeline import IngestOptions, ingest
from tests.ingest.conftest import SAMPLES

DAY = 86400.0
ALICE = "0d9c6a52-3f41-4d6e-9a0b-2c1d3e4f5a61"
BOB = "6e1f7b83-4c52-4a7f-8b1c-3d4e5f6a7b72"


def sessions_of(trace) -> list[tuple[str, str, float, float]]:
    return [tuple(row) for row in trace.sessions.itertuples(index=False)]


def user_row(trace, user: str) -> dict:
    return trace.users.set_index("user").loc[user].to_dict()


def test_keycloak_sessions_users_and_counts(ingest_sample) -> None:
    trace = ingest_sample("keycloak.jsonl", "keycloak")  # A = 5 minutes (Keycloak's default), G = 30 minutes
    s1, s2, s3 = (
        "8a3c6f0e-2d41-4b7a-9c5e-1f2a3b4c5d01",
        "b7d2e4f6-3a51-4c8b-8d6f-2a3b4c5d6e02",
        "c9e3f5a7-4b62-4d9c-9e7a-3b4c5d6e7f03",
    )
    assert sessions_of(trace) == [
        # the skewed refresh at 07:59:58 (2 s before the code exchange) opens the session; the
        # refreshes written out of order (08:10 before 08:05) belong to it; it ends 5 minutes after 08:10
        (ALICE, s1, 7 * 3600 + 59 * 60 + 58, 8 * 3600 + 15 * 60),
        (ALICE, s1, 11 * 3600, 11 * 3600 + 300),  # 2 h 50 after the last one: a new session
        (ALICE, s1, DAY + 9 * 3600, DAY + 9 * 3600 + 300),  # the failed refresh, attributed by its session
        (ALICE, s2, DAY + 9 * 3600 + 20, DAY + 9 * 3600 + 7 * 60),  # ends at the logout
        (BOB, s3, 2 * DAY + 12 * 3600, 2 * DAY + 12 * 3600 + 300),  # a user with one event
    ]
    alice = user_row(trace, ALICE)
    assert alice == {
        "devices": 2, "sessions": 4, "first_s": 28798.0, "last_s": DAY + 9 * 3600 + 7 * 60, "logins": 2,
        "refreshes": 5, "refresh_failures": 1, "forced_logins": 1, "failures.session_not_active": 1,
    }  # fmt: skip
    assert user_row(trace, BOB)["logins"] == 1 and user_row(trace, BOB)["sessions"] == 1
    rows = trace.summary["rows"]
    assert rows["read"] == 17  # the blank line is not a row
    assert rows["skipped"] == {
        "not valid JSON": 1,
        "expected a JSON object": 1,
        "time: expected an integer": 1,
        "time: missing": 1,
        "userId: missing, and no sessionId to find the user by": 1,  # an expired token names no one
    }
    assert rows["ignored_event_types"] == {
        "LOGIN (interactive; its tokens are the CODE_TO_TOKEN)": 1,
        "USER_INFO_REQUEST": 1,
    }
    assert rows["attributed_by_session"] == 1
    assert trace.summary["forced_logins"]["by_reason"] == {"session_not_active": 1}
    assert trace.metadata.origin.isoformat() == "2024-01-15T00:00:00+00:00"


def test_keycloak_admin_api_array_newest_first(ingest_sample) -> None:
    trace = ingest_sample("keycloak-admin-events.json", "keycloak")
    assert sessions_of(trace) == [
        (ALICE, "8a3c6f0e-2d41-4b7a-9c5e-1f2a3b4c5d01", 28800.4, 8 * 3600 + 15 * 60)
    ]
    assert trace.summary["events"]["login"] == 1 and trace.summary["events"]["refresh"] == 2


def test_a_syntax_error_inside_a_json_array_names_its_line(tmp_path) -> None:
    with pytest.raises(ConfigError) as error:
        ingest(
            [SAMPLES / "keycloak-broken-array.json"], tmp_path / "t.parquet", IngestOptions(format="keycloak")
        )
    assert error.value.render().startswith(
        f"{SAMPLES / 'keycloak-broken-array.json'}:3: record: not valid JSON"
    )


@pytest.mark.parametrize(
    ("sample", "fmt", "message"),
    [
        ("keycloak.jsonl", "keycloak", "keycloak.jsonl:13: record: not valid JSON"),
        ("auth0.jsonl", "auth0", "auth0.jsonl:12: date: not an ISO 8601 timestamp"),
        ("okta.jsonl", "okta", "okta.jsonl:13: published: not an ISO 8601 timestamp"),
        ("identityserver.csv", "identityserver", "identityserver.csv:9: SubjectId: missing"),
        ("events.csv", "csv", "events.csv:7: event: unknown event 'refersh'; did you mean 'refresh'?"),
    ],
)
def test_strict_makes_the_first_bad_row_an_error_naming_file_line_and_field(
    tmp_path, sample: str, fmt: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        ingest([SAMPLES / sample], tmp_path / "t.parquet", IngestOptions(format=fmt, strict=True))
    assert message in error.value.render()
    assert not (tmp_path / "t.parquet").exists()


def test_auth0_sessions_forced_logins_and_reasons(ingest_sample) -> None:
    trace = ingest_sample("auth0.jsonl", "auth0", access_token_lifetime=3600.0)
    alice, bob = "auth0|65a1f0c2e4b0a1b2c3d4e5f6", "google-oauth2|104512345678901234567"
    week = 7 * DAY
    assert sessions_of(trace) == [
        # the failures carry no session id: their device is the client and IP address
        (alice, "AaiyAPdpYdesoKnqjj8HJqRn4T5titww|203.0.113.7", week + 8 * 3600, week + 8.5 * 3600 + 3600),
        (alice, "mN5bV4cX3zL2kJ1hG0fD9sA8pO7iU6yT", week + 8.5 * 3600 + 2, week + 9 * 3600),  # logout
        (alice, "pL0oK9iJ8uH7yG6tF5rD4eS3wA2qZ1xC", week + 8 * 3600 + 30, week + 9 * 3600 + 30),
        # 10:00:10 written as 11:00:10+01:00, and before the 09:00:05 refresh in the file
        (alice, "xQ3mZp8wT1aB4cD5eF6gH7iJ8kL9mN0o", 8 * 3600 + 1.25, 11 * 3600 + 10),
        (bob, "bB7nM6vC5xZ4lK3jH2gF1dS0aP9oI8uY", 5 * DAY + 10 * 3600, 5 * DAY + 11 * 3600),
    ]
    assert trace.summary["rows"]["skipped"] == {
        "not valid JSON": 1,
        "date: missing": 1,
        "date: not an ISO 8601 timestamp": 1,
    }
    assert trace.summary["rows"]["ignored_event_types"] == {"s": 1, "w": 1}
    assert user_row(trace, alice) | {} == {
        "devices": 4, "sessions": 4, "first_s": 28801.25, "last_s": week + 9 * 3600, "logins": 3,
        "refreshes": 2, "refresh_failures": 2, "forced_logins": 2, "failures.reuse_detected": 1,
        "failures.unknown_or_invalid_refresh_token": 1,
    }  # fmt: skip
    assert trace.summary["forced_logins"]["by_reason"] == {
        "unknown_or_invalid_refresh_token": 1,
        "reuse_detected": 1,
    }


def test_okta_counts_one_event_per_token_request_and_finds_users(ingest_sample) -> None:
    trace = ingest_sample("okta.jsonl", "okta")  # A = 1 hour (Okta's default)
    alice, bob = "00u1a2b3c4d5e6f7g8h9", "00u9z8y7x6w5v4u3t2s1"
    s1, s2 = "102bZ7aRkq1QvWw2xXyY3zZ4aA", "102cQ8bSlr2RwXx3yYzZ4aA5bB"
    assert sessions_of(trace) == [
        (
            alice,
            s1,
            8 * 3600,
            11 * 3600,
        ),  # 08:00 login, refreshes 09:00, 09:30 (user found by session), 10:00
        (alice, s1, DAY + 8 * 3600, DAY + 9 * 3600),  # the failed refresh
        (alice, s2, DAY + 8 * 3600 + 45, DAY + 8.5 * 3600),  # the forced login, then the logout
        (
            bob,
            "0oa1b2c3d4e5f6g7h8i9|198.51.100.23",
            3 * DAY + 14 * 3600,
            3 * DAY + 15 * 3600,
        ),  # session "unknown"
    ]
    assert trace.summary["events"] == {
        "login": 3,
        "refresh": 3,
        "refresh_failed": 1,
        "logout": 1,
        "login_failed": 0,
    }
    assert trace.summary["rows"]["ignored_event_types"] == {
        "app.oauth2.as.token.grant.refresh_token": 1,
        "app.oauth2.as.token.grant.id_token": 1,
        "app.oauth2.as.token.detect_reuse": 1,
        "app.oauth2.as.token.grant.access_token": 1,  # the client-credentials grant: no user
    }
    assert trace.summary["rows"]["skipped"] == {
        "not valid JSON": 1,
        "published: not an ISO 8601 timestamp": 1,
    }
    assert trace.summary["rows"]["attributed_by_session"] == 1
    assert user_row(trace, alice)["forced_logins"] == 1
    assert user_row(trace, alice)["failures.invalid_refresh_token"] == 1


def test_identityserver_grant_rows_become_logins_and_refreshes(ingest_sample) -> None:
    trace = ingest_sample("identityserver.csv", "identityserver")
    assert sessions_of(trace) == [
        ("77", "1D2C3B4A5F6E7D8C9B0A1F2E3D4C5B6A|acme.web", 4 * DAY + 12 * 3600, 4 * DAY + 13 * 3600),
        # three rotations of one family (written out of order): a login and two refreshes, one session
        ("818727", "4B1E5F6A7C8D9E0F1A2B3C4D5E6F7A8B|acme.web", 8 * 3600 + 1, 10 * 3600 + 3 + 3600),
        (
            "818727",
            "9C8B7A6F5E4D3C2B1A0F9E8D7C6B5A49|acme.mobile",
            2 * DAY + 18.5 * 3600,
            2 * DAY + 19.5 * 3600,
        ),
    ]
    assert user_row(trace, "818727")["logins"] == 2 and user_row(trace, "818727")["refreshes"] == 2
    assert trace.summary["rows"]["skipped"] == {
        "expected 11 columns": 1,
        "CreationTime: not a date-time": 1,
        "SubjectId: missing": 1,
    }
    assert trace.summary["rows"]["ignored_event_types"] == {"authorization_code": 1, "user_consent": 1}


def test_generic_csv_in_a_local_time_zone(ingest_sample) -> None:
    trace = ingest_sample("events.csv", "csv", timezone="Europe/Oslo")
    assert trace.metadata.origin.isoformat() == "2024-01-15T00:00:00+01:00"
    assert sessions_of(trace) == [
        ("alice", "laptop", 8 * 3600, 10 * 3600),
        # the failure is written in UTC (07:00Z = 08:00 in Oslo), the login 5 s later in local time
        ("alice", "laptop", 7 * DAY + 8 * 3600, 7 * DAY + 9 * 3600 + 5),
        ("alice", "phone", 18 * 3600, 19 * 3600),  # epoch seconds 1705338000 = 17:00Z
        ("bob", "tablet", DAY + 20 * 3600, DAY + 21 * 3600),
        ("dave", "desktop", 4 * DAY + 7 * 3600, 4 * DAY + 8 * 3600),  # `LOGIN`: event names ignore case
    ]
    assert trace.summary["rows"]["skipped"] == {
        "time: not a timestamp": 1,
        "user: missing": 1,
        "event: unknown event 'refersh'; did you mean 'refresh'?": 1,
    }
    assert trace.summary["forced_logins"]["by_reason"] == {"sliding_expiry": 1}
    heatmap = trace.summary["heatmap"]["counts"]
    assert heatmap[0][8] == 2 and heatmap[0][18] == 1 and heatmap[1][20] == 1 and heatmap[4][7] == 1
    assert sum(map(sum, heatmap)) == 5


def test_device_by_client_merges_the_sessions_of_a_client(ingest_sample) -> None:
    trace = ingest_sample("keycloak.jsonl", "keycloak", device_by="client_ip")
    assert set(trace.sessions["device"]) == {"web-app|203.0.113.7", "web-app|198.51.100.23"}
    assert user_row(trace, ALICE)["devices"] == 1
