"""Glewlwyd for real on 127.0.0.1: the launcher works end to end over HTTP, and the plugin's refresh-token
options do what its source says (src/plugin/protocol_oidc.c, v2.7.5; see docs/servers-debian.md).

The clock is libfaketime's, so "61 s later" takes no real time; one test waits in real time to show the
expiry is the server's own and not an artefact of the shifted clock.
"""

from __future__ import annotations

import time

import pytest

from tests.servers import glewlwyd
from tests.servers.oauth import refresh

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not glewlwyd.installed(),
        reason="Debian package glewlwyd is not installed (make servers-debian)",
    ),
]


def test_login_refresh_reuses_the_token_and_rolling_slides_its_expiry() -> None:
    settings = {"refresh-token-duration": 60, "refresh-token-rolling": True, "access-token-duration": 7}
    with glewlwyd.launch(settings, clock=True) as server:
        assert server.version.startswith("Glewlwyd 2.")
        login = server.login("user1")
        assert login.ok, f"{login}\n{server.logs()}"
        assert login.body["expires_in"] == 7
        token = login.refresh_token
        assert token
        for _ in range(3):  # 150 s after the login, past the 60 s duration, but never 60 s idle
            server.clock.advance(50)
            answer = refresh(server, token)
            assert answer.ok, answer
            assert answer.refresh_token is None  # "never" one-use: the same token goes on working
        server.clock.advance(61)
        expired = refresh(server, token)
        assert expired.status == 400
        assert expired.error is None  # Glewlwyd refuses with a bare 400, no OAuth error body


def test_without_rolling_the_token_expires_its_duration_after_the_login() -> None:
    with glewlwyd.launch({"refresh-token-duration": 60}, clock=True) as server:
        token = server.login("user1").refresh_token
        server.clock.advance(50)
        assert refresh(server, token).ok
        server.clock.advance(11)  # 61 s after the login, 11 s after the last use
        assert refresh(server, token).status == 400


def test_one_use_rotates_and_a_replay_disables_the_whole_chain() -> None:
    with glewlwyd.launch({"refresh-token-one-use": "always"}, clock=True) as server:
        first = server.login("user1").refresh_token
        other = server.login("user2").refresh_token
        rotated = refresh(server, first)
        assert rotated.ok
        second = rotated.refresh_token
        assert second and second != first
        assert refresh(server, first).status == 400  # the replay is refused ...
        assert refresh(server, second).status == 400  # ... and the newest token of the chain is gone too
        assert refresh(server, other).ok  # another user's chain is untouched


def test_one_use_gives_every_rotated_token_a_full_duration() -> None:
    settings = {"refresh-token-one-use": "always", "refresh-token-duration": 60}
    with glewlwyd.launch(settings, clock=True) as server:
        token = server.login("user1").refresh_token
        for _ in range(3):  # 150 s after the login: each rotation restarts the 60 s
            server.clock.advance(50)
            answer = refresh(server, token)
            assert answer.ok, answer
            token = answer.refresh_token
        server.clock.advance(61)
        assert refresh(server, token).status == 400


def test_client_driven_one_use_follows_the_client_property() -> None:
    settings = {
        "refresh-token-one-use": "client-driven",
        "client-refresh-token-one-use-parameter": "refresh-token-one-use",
        "client": {"refresh-token-one-use": "1"},
    }
    with glewlwyd.launch(settings) as server:
        token = server.login("user1").refresh_token
        assert refresh(server, token).refresh_token not in (None, token)
        assert refresh(server, token).status == 400


def test_revocation_and_logout_end_refresh_tokens() -> None:
    with glewlwyd.launch({}) as server:
        revoked = server.login("user1").refresh_token
        assert server.revoke(revoked) == 200
        assert refresh(server, revoked).status == 400
        chains = [server.login("user2").refresh_token for _ in range(2)]
        bystander = server.login("user3").refresh_token
        server.logout("user2")
        assert [refresh(server, token).status for token in chains] == [400, 400]
        assert refresh(server, bystander).ok


def test_a_plain_sign_out_leaves_refresh_tokens_working() -> None:
    with glewlwyd.launch({}) as server:
        token = server.login("user1").refresh_token
        server.sign_out("user1")
        assert refresh(server, token).ok


def test_many_logins_of_one_user_all_stay_valid() -> None:
    with glewlwyd.launch({}) as server:
        tokens = [server.login("user1").refresh_token for _ in range(5)]
        assert len(set(tokens)) == 5
        assert all(refresh(server, token).ok for token in tokens)


def test_the_duration_holds_in_real_time_too() -> None:
    with glewlwyd.launch({"refresh-token-duration": 2}) as server:
        token = server.login("user1").refresh_token
        assert refresh(server, token).ok
        time.sleep(3.2)  # bounded: the duration plus a second of slack for the server's whole-second clock
        assert refresh(server, token).status == 400
