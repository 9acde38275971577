"""`tokensim probe`: ask a live authorization server what its refresh-token policy is.

A budgeted plan of experiments (`sim.probe.plan`) runs against a token endpoint with a test account: how
many chains one account may hold and which one a new login ends (`cap`), what a refresh returns and what
an old token does (`rotation`), how long chains live (`lifetimes`), how long a consumed token still works
(`grace`). Each finding carries its evidence and how sure it is (`sim.probe.result`); the result writes a
`policy:` section a scenario can use. The HTTP client (`sim.probe.http`, httpx) is imported only when a plan
runs.
"""

from sim.probe.login import CallableLogin, CommandLogin, LoginSource, PasswordLogin, parse_login
from sim.probe.result import Exchange, Finding, ProbeResult

__all__ = [
    "CallableLogin",
    "CommandLogin",
    "Exchange",
    "Finding",
    "LoginSource",
    "PasswordLogin",
    "ProbeResult",
    "parse_login",
]
