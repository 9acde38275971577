"""LemonLDAP::NG for real on 127.0.0.1 (nginx + llng-fastcgi-server): the launcher works end to end over
HTTP, and the relying party's refresh-token options do what the portal's source says
(Lemonldap/NG/Portal/Issuer/OpenIDConnect.pm and Lib/OpenIDConnect.pm, 2.16.1; docs/servers-debian.md).

The FastCGI server runs under libfaketime, so "101 s later" takes no real time; one test waits in real time.
"""

from __future__ import annotations

import time

import pytest

from tests.servers import lemonldap
from tests.servers.oauth import refresh

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not lemonldap.installed(),
        reason="Debian package lemonldap-ng (with lemonldap-ng-fastcgi-server, nginx) is not installed "
        "(make servers-debian)",
    ),
]


def test_password_login_and_refresh_reuse_the_same_token() -> None:
    with lemonldap.launch({"oidcRPMetaDataOptionsAccessTokenExpiration": 7}) as server:
        assert server.version.startswith("LemonLDAP::NG 2.")
        login = server.login("user1")
        assert login.ok, f"{login}\n{server.logs()}"
        assert login.body["expires_in"] == 7
        token = login.refresh_token
        assert token
        for _ in range(3):
            answer = refresh(server, token)
            assert answer.ok, answer
            assert answer.refresh_token is None  # 2.16 never rotates: the same token goes on working
            assert answer.body["expires_in"] == 7


def test_online_token_lives_as_long_as_the_sso_session_and_use_does_not_extend_it() -> None:
    with lemonldap.launch({"timeout": 100}, clock=True) as server:
        token = server.login("user1").refresh_token
        server.clock.advance(90)
        assert refresh(server, token).ok
        server.clock.advance(11)  # 101 s after the login, 11 s after the last use
        expired = refresh(server, token)
        assert (expired.status, expired.error) == (400, "invalid_request")


def test_offline_token_outlives_the_sso_session_and_logout_then_expires() -> None:
    settings = {"oidcRPMetaDataOptionsOfflineSessionExpiration": 50, "timeout": 30}
    with lemonldap.launch(settings, clock=True, offline=True) as server:
        login = server.login("user1")  # authorization-code flow through the portal's login form
        assert login.ok, f"{login}\n{server.logs()}"
        token = login.refresh_token
        assert token
        server.clock.advance(40)  # the 30 s SSO session is over
        assert refresh(server, token).ok
        server.logout("user1")
        assert refresh(server, token).ok  # an offline token is not an SSO session
        server.clock.advance(11)  # 51 s after the login
        expired = refresh(server, token)
        assert (expired.status, expired.error) == (400, "invalid_request")


def test_logout_ends_the_users_online_tokens_only() -> None:
    with lemonldap.launch({}) as server:
        chains = [server.login("user1").refresh_token for _ in range(2)]
        bystander = server.login("user2").refresh_token
        server.logout("user1")
        assert [refresh(server, token).error for token in chains] == ["invalid_grant", "invalid_grant"]
        assert refresh(server, bystander).ok


def test_single_session_keeps_only_the_newest_login() -> None:
    with lemonldap.launch({"singleSession": 1}) as server:
        older = server.login("user1").refresh_token
        newer = server.login("user1").refresh_token
        assert refresh(server, older).error == "invalid_grant"
        assert refresh(server, newer).ok


def test_sso_inactivity_timeout_ends_online_tokens_even_when_refreshed() -> None:
    settings = {"timeoutActivity": 60, "timeoutActivityInterval": 0}
    with lemonldap.launch(settings, clock=True) as server:
        token = server.login("user1").refresh_token
        server.clock.advance(40)
        assert refresh(server, token).ok
        server.clock.advance(40)  # 40 s after the last refresh, 80 s after the last portal activity
        assert refresh(server, token).error == "invalid_grant"


def test_the_session_timeout_holds_in_real_time_too() -> None:
    with lemonldap.launch({"timeout": 2}) as server:
        token = server.login("user1").refresh_token
        assert refresh(server, token).ok
        time.sleep(3.2)  # bounded: the timeout plus a second of slack for whole-second clocks
        assert refresh(server, token).status == 400
