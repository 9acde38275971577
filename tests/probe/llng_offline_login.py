"""A `--login-command` for the tests: an offline login to a running LemonLDAP::NG, printed as JSON.

    python tests/probe/llng_offline_login.py '{"base_url": ..., "authorization_endpoint": ...,
        "token_endpoint": ..., "client_id": ..., "client_secret": ..., "user": "user1"}'

It drives the portal's login form and the authorization-code flow with `offline_access` (the launcher's own
`login_with_code`, tests/servers/lemonldap.py) and prints the token endpoint's answer, as a user's script
would for a login flow the probe cannot do itself. Exit status 1 when the login fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.servers.lemonldap import NAME, LemonLDAPServer


def main(argument: str) -> int:
    target = json.loads(argument)
    user = target.pop("user")
    server = LemonLDAPServer(name=NAME, version="", passwords={user: user}, offline=True, **target)
    try:
        answer = server.login(user)
    finally:
        server.http.close()
    print(json.dumps(dict(answer.body)))
    return 0 if answer.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
