"""Drive timelines through a real server (over HTTP) and through `TokenEngine`, and compare every answer.

Several timelines run in one pass on one server: their steps are merged in time order, each timeline with
its own users, so the server's clock (one per process) only moves forward and days of policy take seconds.
The engine is told the time at which each request really reached the server (the server's clock as the
harness moved it, plus the few milliseconds requests take), so the two see the same times.

Each answer is reduced to an `Observation` both sides can give: success or failure, the OAuth error (the
engine's failure reasons all mean `invalid_grant` on the wire), which token came back (`same` as presented,
`t<k>` = a token the client already holds, `new`) and the access token's lifetime (`expires_in`). A
timeline *agrees* when every step's observations are equal; its first disagreement is what the matrix
reports, with the whole request log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sim.policy.engine import TokenEngine
from sim.policy.model import Policy
from tests.conformance.timeline import NEWEST, Step, Timeline
from tests.servers.base import RunningServer, TokenResponse

#: The longest real wait the harness makes for a server in real time (no libfaketime), per step and in all.
MAX_REAL_WAIT = 30.0
MAX_REAL_TOTAL = 120.0


@dataclass(frozen=True)
class Observation:
    """What one side answered to one step, in terms both sides can give."""

    ok: bool
    error: str | None = None
    token: str | None = None
    expires_in: int | None = None

    def describe(self) -> str:
        """`200 token t1 expires_in 3600` / `400 invalid_grant`."""
        if not self.ok:
            return f"fail {self.error}"
        parts = ["ok"]
        if self.token is not None:
            parts.append(f"token {self.token}")
        if self.expires_in is not None:
            parts.append(f"expires_in {self.expires_in}")
        return " ".join(parts)


@dataclass
class Entry:
    """One step of a timeline as it ran: when, what each side answered, and whether they agree."""

    step: Step
    at: float
    server: Observation
    engine: Observation
    #: The server's HTTP status and error description, and the engine's failure reason (for the log).
    server_detail: str = ""
    engine_detail: str = ""

    @property
    def agrees(self) -> bool:
        """True when both sides gave the same observation."""
        return self.server == self.engine


@dataclass
class TimelineResult:
    """A timeline's full log and its first disagreement (None when it agrees)."""

    timeline: Timeline
    entries: list[Entry] = field(default_factory=list)

    @property
    def first_difference(self) -> Entry | None:
        """The first step on which the server and the engine answered differently."""
        return next((entry for entry in self.entries if not entry.agrees), None)

    @property
    def agrees(self) -> bool:
        """True when every step agrees."""
        return self.first_difference is None

    def log(self) -> str:
        """The request log: one line per step, the first difference marked."""
        first = self.first_difference
        lines = []
        for entry in self.entries:
            mark = "  <-- differs" if entry is first else ("" if entry.agrees else "  (differs)")
            lines.append(
                f"{_clock(entry.step.at):>10}  {entry.step.describe():<34} "
                f"server: {entry.server.describe():<32} engine: {entry.engine.describe()}{mark}"
            )
            if entry is first and entry.server_detail:
                lines.append(f"{'':>10}  (server said: {entry.server_detail[:300]}; "
                             f"engine: {entry.engine_detail or 'ok'})")
        return "\n".join(lines)


def _clock(seconds: float) -> str:
    """`+1d02:03:04` style time for the logs (the timeline's own, deterministic)."""
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days}d" if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"


class UserPool:
    """Hands out each of a server's test users once, so every timeline (and example) starts fresh."""

    def __init__(self, users: Sequence[str]):
        self._users: Iterator[str] = iter(list(users))

    def take(self) -> str:
        """A user no timeline has used yet on this server."""
        try:
            return next(self._users)
        except StopIteration:
            raise RuntimeError("the server's test users are used up: start another server") from None


class _Side:
    """One side's view of the tokens it received, numbered per chain in order of receipt."""

    def __init__(self) -> None:
        self.chains: dict[tuple[str, int], list] = {}  # (user, chain index) -> tokens received
        self.logins: dict[str, int] = {}

    def start_chain(self, user: str, token: object) -> None:
        index = self.logins.get(user, 0)
        self.logins[user] = index + 1
        self.chains[(user, index)] = [token]

    def token(self, user: str, chain: int, which: int) -> object | None:
        tokens = self.chains.get((user, chain))
        if not tokens:
            return None
        if which == NEWEST:
            return tokens[-1]
        return tokens[which] if which < len(tokens) else None

    def receive(self, user: str, chain: int, presented: object, returned: object | None) -> str | None:
        """The symbol of a returned token (`same`, `t<k>` or `new`), remembering a new one."""
        if returned is None:
            return None
        if returned == presented:
            return "same"
        tokens = self.chains[(user, chain)]
        if returned in tokens:
            return f"t{tokens.index(returned)}"
        tokens.append(returned)
        return "new"


class Run:
    """Timelines run together on one server and one engine (create one per server configuration)."""

    def __init__(self, server: RunningServer, policy: Policy, pool: UserPool):
        self.server = server
        self.engine = TokenEngine(policy)
        self.pool = pool
        self._server_side = _Side()
        self._engine_side = _Side()
        self._real_waited = 0.0
        clock = server.clock
        self._start = clock.now() if clock is not None else time.monotonic()

    def now(self) -> float:
        """Seconds since this run started, on the server's clock."""
        clock = self.server.clock
        return (clock.now() if clock is not None else time.monotonic()) - self._start

    def wait_until(self, at: float) -> None:
        """Move the server's clock (or wait, bounded, in real time) until `at`."""
        ahead = at - self.now()
        if ahead <= 0:
            return
        clock = self.server.clock
        if clock is not None:
            clock.advance(ahead)
            return
        if ahead > MAX_REAL_WAIT or self._real_waited + ahead > MAX_REAL_TOTAL:
            raise RuntimeError(
                f"a real-time server would need a wait of {ahead:.0f} s (limits {MAX_REAL_WAIT:.0f} s per "
                f"step, {MAX_REAL_TOTAL:.0f} s in all): run it under libfaketime (clock='fake')"
            )
        time.sleep(ahead)
        self._real_waited += ahead

    def run(self, timelines: Sequence[Timeline], offset: float | None = None) -> list[TimelineResult]:
        """Run the timelines together (merged in time order), starting `offset` s from now (default: now)."""
        base = self.now() if offset is None else offset
        results = [TimelineResult(timeline) for timeline in timelines]
        users = [{label: self.pool.take() for label in timeline.users} for timeline in timelines]
        merged = sorted(
            ((step.at, index, order, step) for index, tl in enumerate(timelines) for order, step in
             enumerate(tl.steps)),
            key=lambda item: item[:3],
        )
        for _, index, _, step in merged:
            self.wait_until(base + step.at)
            entry = self._step(step, users[index][step.user])
            results[index].entries.append(entry)
        return results

    def _step(self, step: Step, user: str) -> Entry:
        at = self.now()
        if step.action == "login":
            response = self.server.login(user)
            if response.ok and response.refresh_token:
                self._server_side.start_chain(user, response.refresh_token)
            grant = self.engine.authorize(user, at)
            if grant.refresh_token is not None:
                self._engine_side.start_chain(user, grant.refresh_token)
            engine = Observation(
                ok=grant.refresh_token is not None,
                error=None if grant.refresh_token is not None else "rejected",
                token="new" if grant.refresh_token is not None else None,
                expires_in=None if grant.access_expires_at is None else round(grant.access_expires_at - at),
            )
            server = _observe(response, "new")
            return Entry(step, step.at, server, engine, _detail(response), grant.reason or "")
        server_token = self._server_side.token(user, step.chain, step.token)
        engine_token = self._engine_side.token(user, step.chain, step.token)
        if server_token is None or engine_token is None:  # the step names a token the client never got
            missing = Observation(ok=False, error="no such token")
            return Entry(step, step.at, missing if server_token is None else Observation(ok=True),
                         missing if engine_token is None else Observation(ok=True))
        if step.action == "revoke":
            status = self.server.revoke(str(server_token))
            done = self.engine.logout(engine_token, at)
            # RFC 7009 answers 200 whether or not the token was valid: the effect shows in later steps.
            server = Observation(ok=status == 200, error=None if status == 200 else f"HTTP {status}")
            return Entry(step, step.at, server, Observation(ok=True), f"HTTP {status}",
                         "chain ended" if done else "nothing to end")
        response = self.server.refresh(str(server_token))
        symbol = self._server_side.receive(user, step.chain, server_token, response.refresh_token)
        result = self.engine.refresh(engine_token, at)
        engine_symbol = self._engine_side.receive(user, step.chain, engine_token, result.refresh_token)
        engine = Observation(
            ok=result.ok,
            error=None if result.ok else "invalid_grant",
            token=engine_symbol,
            expires_in=None if result.access_expires_at is None else round(result.access_expires_at - at),
        )
        reason = ("grace retry" if result.grace else "") if result.ok else str(result.reason)
        return Entry(step, step.at, _observe(response, symbol), engine, _detail(response), reason)


def _observe(response: TokenResponse, token: str | None) -> Observation:
    if not response.ok:
        return Observation(ok=False, error=response.error or f"HTTP {response.status}")
    expires = response.body.get("expires_in")
    return Observation(
        ok=True,
        token=token,
        expires_in=None if expires is None else round(float(expires)),
    )


def _detail(response: TokenResponse) -> str:
    text = f"HTTP {response.status}"
    description = response.body.get("error_description")
    return f"{text} {description}" if description else text
