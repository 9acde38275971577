"""`tokensim probe --token-endpoint URL --client-id ID (--login password:USER:PASSWORD | --login-command
CMD)`: ask a live authorization server what its refresh-token policy is.

Runs a budgeted plan of experiments with a test account (docs/probe.md), shows progress, prints a table of
findings (value, confidence, evidence) and writes a `policy:` YAML section (to --out, with the evidence as
JSON beside it, or to standard output). Exit status: 0 done (fields that could not be measured are marked so);
2 bad input, an unreachable endpoint, a refused first login or refresh, or an endpoint that stopped
answering during the plan (what was measured is still written).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "ask a live token endpoint what its refresh-token policy is (writes a policy: section)"
#: Environment variables read when the secret is not on the command line (which `ps` can show).
SECRET_ENV = "TOKENSIM_CLIENT_SECRET"
PASSWORD_ENV = "TOKENSIM_PASSWORD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim probe`."""
    parser.add_argument(
        "--token-endpoint", required=True, metavar="URL", help="the token endpoint (http:// or https://)"
    )
    parser.add_argument("--client-id", required=True, metavar="ID", help="the OAuth client id")
    parser.add_argument(
        "--client-secret",
        metavar="S",
        help=f"the client secret (default: ${SECRET_ENV}; none for a public client)",
    )
    parser.add_argument(
        "--client-auth",
        choices=["post", "basic"],
        default="post",
        help="how the client authenticates: client_secret_post (default) or HTTP Basic",
    )
    parser.add_argument("--scope", help="scope sent with the password grant (e.g. 'openid offline_access')")
    login = parser.add_mutually_exclusive_group(required=True)
    login.add_argument(
        "--login",
        metavar="password:USER:PASSWORD",
        help=f"log in with the password grant (password:USER alone reads ${PASSWORD_ENV})",
    )
    login.add_argument(
        "--login-command",
        metavar="CMD",
        help="a command that logs in and prints the token response (JSON with refresh_token)",
    )
    parser.add_argument(
        "--max-wait",
        default="1m",
        metavar="DURATION",
        help="the longest duration measured by waiting (default 1m); longer ones are reported as 'at least'",
    )
    parser.add_argument(
        "--max-logins",
        type=int,
        default=10,
        metavar="N",
        help="logins used to look for a cap on chains per user (default 10)",
    )
    parser.add_argument(
        "--rate", type=float, default=5.0, metavar="R", help="at most R requests per second (default 5)"
    )
    parser.add_argument(
        "--max-requests", type=int, default=500, metavar="N", help="at most N requests in all (default 500)"
    )
    parser.add_argument(
        "--max-time",
        metavar="DURATION",
        help="stop waiting after this long (default: the plan's worst case, shown at the start)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds any one request may take (default 15)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="policy.yaml",
        help="write the policy: section here and the evidence beside it (<name>.evidence.json)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace --out even if tokensim probe did not write it"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress, no table: only errors")


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim probe`."""
    from sim import api
    from sim.cli.progress import make_progress
    from sim.cli.show import output_console, probe_table
    from sim.probe.output import evidence_path
    from sim.probe.session import ProbeError

    login = args.login
    if (
        login is not None
        and login.count(":") == 1
        and login.startswith("password:")
        and PASSWORD_ENV in os.environ
    ):
        login = f"{login}:{os.environ[PASSWORD_ENV]}"
    secret = args.client_secret if args.client_secret is not None else os.environ.get(SECRET_ENV)
    try:
        result = api.probe(
            args.token_endpoint,
            args.client_id,
            login=login,
            login_command=args.login_command,
            client_secret=secret,
            scope=args.scope,
            client_auth=args.client_auth,
            max_wait=args.max_wait,
            max_logins=args.max_logins,
            rate=args.rate,
            max_requests=args.max_requests,
            max_time=args.max_time,
            timeout=args.timeout,
            out=args.out,
            force=args.force,
            progress=make_progress(args.quiet),
        )
    except ProbeError as exc:
        print(f"tokensim: cannot probe {args.token_endpoint}: {exc}", file=sys.stderr)
        return 2
    console = output_console(args.quiet)
    probe_table(result, console)
    if args.out is not None:
        if not args.quiet:
            print(f"wrote {args.out} and {evidence_path(args.out)}", file=sys.stderr)
    elif not args.quiet:
        sys.stdout.write("\n" + result.policy_yaml())
    if result.stopped:
        print(f"tokensim: the probe stopped early: {result.stopped}", file=sys.stderr)
        return 2
    return 0
