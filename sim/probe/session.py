"""The probe's side of the conversation: logins and refreshes with their evidence, within the budget.

A `Session` holds the token endpoint, the login source, the clock, the rate limiter and the budget. Every
request goes through it: it waits for the rate limiter, counts the request against `max_requests`, records
an `Exchange` (tokens replaced by labels) and keeps each chain's state (`Chain`): when it was logged in and
last used, which refresh tokens it was given, which one is the newest.

Waits go through `wait_until`, which refuses to wait past the plan's deadline (`OutOfTime`), so no
experiment can overrun `max_time`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.experiments.progress import Progress
from sim.probe.clock import ProbeClock, RateLimiter
from sim.probe.login import LoginSource
from sim.probe.result import Exchange
from sim.probe.wire import EndpointError, RawAnswer

if TYPE_CHECKING:
    from sim.probe.http import TokenEndpoint

#: Body fields that hold secrets: replaced by labels (refresh tokens) or by `<redacted>`.
_SECRET_FIELDS = ("access_token", "id_token", "refresh_token")


class Stop(Exception):
    """An experiment cannot go on (the reason is reported with its findings)."""


class OutOfRequests(Stop):
    """The plan's request budget is spent."""


class OutOfTime(Stop):
    """Waiting any longer would overrun the plan's time budget."""


class LoginRefused(Stop):
    """A login was refused (after the first one worked: the server may cap the account's sessions)."""

    def __init__(self, reason: str, exchange: int):
        super().__init__(reason)
        self.exchange = exchange


class ProbeError(Exception):
    """The probe cannot run at all (endpoint unreachable, the first login or refresh refused)."""


class ConnectionLost(Exception):
    """The endpoint stopped answering in the middle of the plan."""


@dataclass
class Chain:
    """One login of the test account and what the probe knows of it."""

    label: str
    #: When the refresh token was issued (probe clock; see `Session.login`).
    login_at: float
    #: The login's exchange id.
    login_exchange: int
    last_used_at: float
    #: Every refresh token the chain was given, oldest first; `tokens[-1]` is the newest.
    tokens: list[str] = field(default_factory=list)
    #: False once the probe saw it refused (dead), True while its last answer was a success.
    alive: bool = True
    #: Answers that worked, not counting the login.
    uses: int = 0

    @property
    def token(self) -> str:
        """The newest refresh token."""
        return self.tokens[-1]

    def age(self, now: float) -> float:
        """Seconds since the login."""
        return now - self.login_at


@dataclass(frozen=True)
class Answer:
    """A refresh's answer as the experiments read it."""

    ok: bool
    status: int | None
    error: str | None
    #: The refresh token in the answer (None when the server sent none).
    token: str | None
    #: True when `token` is one the probe had never been given.
    new: bool
    #: True when `token` is one the chain had been given before (not the one presented).
    seen: bool
    expires_in: float | None
    refresh_expires_in: float | None
    exchange: int
    #: When the server handled it, as well as the probe can tell (the middle of the request), probe clock.
    at: float


class Session:
    """Sends the plan's requests and keeps the evidence."""

    def __init__(
        self,
        endpoint: TokenEndpoint,
        login: LoginSource,
        clock: ProbeClock,
        limiter: RateLimiter,
        *,
        max_requests: int,
        deadline: float,
        progress: Progress | None = None,
    ):
        self.endpoint = endpoint
        self.login_source = login
        self.clock = clock
        self.limiter = limiter
        self.max_requests = max_requests
        self.deadline = deadline
        self.progress = progress or Progress()
        self.start = clock.now()
        self.exchanges: list[Exchange] = []
        self.chains: list[Chain] = []
        self.experiment = ""
        self.warnings: list[str] = []
        #: Every `expires_in` seen, with its exchange id (access-token lifetimes).
        self.expires_in: list[tuple[float, int]] = []
        #: `exp - iat` of JWT access tokens, with the exchange id (when there is no expires_in).
        self.jwt_lifetimes: list[tuple[float, int]] = []
        self._labels: dict[str, str] = {}
        self._owner: dict[str, Chain] = {}

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        """The probe's clock."""
        return self.clock.now()

    def elapsed(self) -> float:
        """Seconds since the plan started."""
        return self.clock.now() - self.start

    def wait_until(self, when: float, why: str = "") -> None:
        """Wait until `when` (probe clock); OutOfTime when that is past the plan's deadline."""
        if when > self.deadline:
            raise OutOfTime(f"the time budget ends before the next step ({why or 'a wait'})")
        span = when - self.clock.now()
        if span >= 5 and why:
            self.progress.note(f"{self.experiment}: waiting {span:.0f} s ({why})")
        self.clock.sleep_until(when)

    def can_wait_until(self, when: float) -> bool:
        """True when waiting until `when` stays within the time budget."""
        return when <= self.deadline

    # ------------------------------------------------------------------ requests

    def _spend(self) -> None:
        if len(self.exchanges) >= self.max_requests:
            raise OutOfRequests(f"the request budget ({self.max_requests}) is spent")
        self.limiter.wait()

    def login(self, purpose: str = "") -> Chain:
        """A new login: a new chain. LoginRefused when the server (or the command) refuses it."""
        self._spend()
        sent = self.clock.now()
        try:
            answer = self.login_source.login(self.endpoint)
        except EndpointError as exc:
            raise ConnectionLost(str(exc)) from None
        took = self.clock.now() - sent
        number = len(self.exchanges) + 1
        if not answer.ok:
            self._record(
                Exchange(
                    id=number,
                    experiment=self.experiment,
                    kind="login",
                    at=sent - self.start,
                    elapsed=took,
                    ok=False,
                    status=answer.status,
                    error=_short(answer.body.get("error")) or answer.reason,
                    body=self._redact(answer.body),
                    purpose=purpose,
                )
            )
            raise LoginRefused(answer.reason or "refused", number)
        token = str(answer.body["refresh_token"])
        # When the token was issued: in the middle of a single request (the password grant), at the end of a
        # login flow (a command or a function may run for seconds before its last request, the token one).
        issued = sent + took / 2 if getattr(self.login_source, "single_request", False) else sent + took
        chain = Chain(
            label=_chain_label(len(self.chains)), login_at=issued, login_exchange=number, last_used_at=issued
        )
        self.chains.append(chain)
        self._adopt(chain, token)
        expires_in = _number(answer.body.get("expires_in"))
        self._note_access(answer.body, expires_in, number)
        self._record(
            Exchange(
                id=number,
                experiment=self.experiment,
                kind="login",
                at=sent - self.start,
                elapsed=took,
                chain=chain.label,
                ok=True,
                status=answer.status,
                issued=self._labels[token],
                new=True,
                expires_in=expires_in,
                refresh_expires_in=_number(answer.body.get("refresh_expires_in")),
                body=self._redact(answer.body),
                purpose=purpose,
            )
        )
        return chain

    def login_answer(self, chain: Chain) -> Exchange:
        """The exchange of a chain's login."""
        return self.exchanges[chain.login_exchange - 1]

    def refresh(self, chain: Chain, token: str | None = None, purpose: str = "") -> Answer:
        """Present `token` (default: the chain's newest) and update the chain from the answer."""
        presented = chain.token if token is None else token
        self._spend()
        sent = self.clock.now()
        try:
            raw = self.endpoint.refresh(presented)
        except EndpointError as exc:
            raise ConnectionLost(str(exc)) from None
        took = self.clock.now() - sent
        number = len(self.exchanges) + 1
        # the server handled the request between sending and answer: its middle is the best guess
        answer = self._read(chain, presented, raw, sent + took / 2, number)
        self._record(
            Exchange(
                id=number,
                experiment=self.experiment,
                kind="refresh",
                at=sent - self.start,
                elapsed=raw.elapsed,
                presented=self._labels.get(presented, "?"),
                chain=chain.label,
                ok=answer.ok,
                status=raw.status,
                error=raw.error,
                issued=self._labels.get(answer.token) if answer.token else None,
                new=answer.new,
                expires_in=answer.expires_in,
                refresh_expires_in=answer.refresh_expires_in,
                body=self._redact(raw.body),
                purpose=purpose,
            )
        )
        return answer

    def _read(self, chain: Chain, presented: str, raw: RawAnswer, at: float, number: int) -> Answer:
        expires_in = _number(raw.body.get("expires_in"))
        refresh_expires_in = _number(raw.body.get("refresh_expires_in"))
        if not raw.ok:
            if presented == chain.token:
                chain.alive = False
            return Answer(
                False, raw.status, raw.error, None, False, False, expires_in, refresh_expires_in, number, at
            )
        chain.uses += 1
        chain.last_used_at = at
        chain.alive = True
        self._note_access(raw.body, expires_in, number)
        value = raw.body.get("refresh_token")
        token = str(value) if value else None
        new = token is not None and token not in self._labels
        seen = token is not None and not new and token != presented
        if token is not None and new:
            self._adopt(chain, token)
        elif token is not None and seen and self._owner.get(token) is chain:
            chain.tokens.append(chain.tokens.pop(chain.tokens.index(token)))  # the chain's current token
        return Answer(True, raw.status, None, token, new, seen, expires_in, refresh_expires_in, number, at)

    # ------------------------------------------------------------------ evidence

    def _adopt(self, chain: Chain, token: str) -> None:
        chain.tokens.append(token)
        self._labels[token] = f"{chain.label}.{len(chain.tokens) - 1}"
        self._owner[token] = chain

    def label(self, token: str) -> str:
        """The label of a token the probe was given."""
        return self._labels.get(token, "?")

    def _record(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)

    def _redact(self, body: Mapping[str, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for key, value in body.items():
            if key == "refresh_token" and isinstance(value, str):
                clean[key] = self._labels.get(value, "<redacted>")
            elif key in _SECRET_FIELDS:
                clean[key] = "<redacted>"
            elif isinstance(value, str | int | float | bool) or value is None:
                clean[key] = value
            else:
                clean[key] = "<omitted>"
        return clean

    def _note_access(self, body: Mapping[str, Any], expires_in: float | None, exchange: int) -> None:
        if expires_in is not None:
            self.expires_in.append((expires_in, exchange))
            return
        lifetime = jwt_lifetime(body.get("access_token"))
        if lifetime is not None:
            self.jwt_lifetimes.append((lifetime, exchange))

    def warn(self, text: str) -> None:
        """Keep a warning for the result and show it now."""
        self.warnings.append(text)
        self.progress.warn(text)


def jwt_lifetime(token: object) -> float | None:
    """`exp - iat` of a JWT (read, not verified), or None when the token is not a JWT with both claims."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp, iat = claims["exp"], claims["iat"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(exp, int | float) or not isinstance(iat, int | float) or exp <= iat:
        return None
    return float(exp - iat)


def _chain_label(index: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _short(value: object) -> str | None:
    return None if value is None else str(value)[:80]
