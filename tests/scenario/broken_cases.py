"""Broken scenario files and what their error must say: shared by the loader and the CLI tests.

Each entry of `BROKEN_CASES` is `(case_id, yaml_text, expected_line, expected_fragments)`: loading
`yaml_text` from a file must raise `ConfigError` whose `render()` contains `FILE:expected_line:` and
every fragment.

Most cases edit one line of `VALID` (lines numbered below), so the expected line is easy to check.
"""

from __future__ import annotations

from pathlib import Path

#: The shipped sample trace (91 days, 200 users), named by its absolute path so a case works wherever
#: the scenario file is written.
SAMPLE_TRACE = Path(__file__).resolve().parents[2] / "scenarios" / "traces" / "sample.parquet"

VALID_LINES = [
    "name: broken",  # 1
    "horizon: 90d",  # 2
    "policy:",  # 3
    "  preset: visma_connect",  # 4
    "population:",  # 5
    "  - name: office",  # 6
    "    users: 10",  # 7
    "    activity:",  # 8
    "      schedule: weekdays",  # 9
    "      session_duration: {lognormal: {median: 1h, sigma: 0.8}}",  # 10
    "    clients:",  # 11
    "      tabs: 1",  # 12
]
#: A valid scenario; every case below breaks it in one place.
VALID = "\n".join(VALID_LINES) + "\n"


def replace(line: int, *new: str, count: int = 1) -> str:
    """VALID with `count` lines from `line` (1-based) replaced by the given lines (none: deleted)."""
    lines = list(VALID_LINES)
    lines[line - 1 : line - 1 + count] = list(new)
    return "\n".join(lines) + "\n"


def insert(after: int, *new: str) -> str:
    """VALID with the given lines inserted after line `after` (0: at the top)."""
    lines = list(VALID_LINES)
    lines[after:after] = list(new)
    return "\n".join(lines) + "\n"


BrokenCase = tuple[str, str, int, list[str]]

BROKEN_CASES: list[BrokenCase] = [
    # --- unknown keys at several depths ------------------------------------------------------------
    ("typo-top-level", replace(2, "horzion: 90d"), 2, ["horzion", "did you mean 'horizon'?"]),
    ("typo-persona", replace(7, "    usres: 10"), 7, ["population[0].usres", "did you mean 'users'?"]),
    (
        "typo-activity",
        replace(9, "      schedul: weekdays"),
        9,
        ["population[0].activity.schedul", "did you mean 'schedule'?"],
    ),
    (
        "typo-policy",
        insert(4, "  sliding_lifetme: 15d"),
        5,
        ["policy.sliding_lifetme", "did you mean 'sliding_lifetime'?"],
    ),
    (
        "typo-distribution-parameter",
        replace(10, "      session_duration: {lognormal: {median: 1h, sigm: 0.8}}"),
        10,
        ["session_duration.lognormal.sigm", "did you mean 'sigma'?", "median, sigma"],
    ),
    (
        "typo-hyphenated-key",
        replace(10, "      session-duration: 1h"),
        10,
        ["population[0].activity.session-duration", "did you mean 'session_duration'?"],
    ),
    (
        "unknown-distribution",
        replace(10, "      session_duration: {lognormall: {median: 1h, sigma: 0.8}}"),
        10,
        ["session_duration.lognormall", "unknown distribution 'lognormall'", "did you mean 'lognormal'?"],
    ),
    (
        "count-with-duration-distribution",
        replace(12, "      tabs: {exponential: {mean: 2}}"),
        12,
        ["clients.tabs.exponential", "a count is one of: poisson, uniform, empirical"],
    ),
    # --- wrong types and values ----------------------------------------------------------------------
    (
        "users-not-a-number",
        replace(7, "    users: many"),
        7,
        ["population[0].users", "whole number", "'many'"],
    ),
    ("replications-zero", insert(2, "replications: 0"), 3, ["replications", "at least 1", "got 0"]),
    (
        "section-not-a-mapping",
        insert(12, "    faults: 5"),
        13,
        ["population[0].faults", "must be a mapping of names to values", "5"],
    ),
    (
        "unknown-schedule",
        replace(9, "      schedule: weekday"),
        9,
        ["activity.schedule", "unknown schedule 'weekday'", "did you mean 'weekdays'?", "business_hours"],
    ),
    (
        "refresh-lock-not-boolean",
        insert(12, "      refresh_lock: sometimes"),
        13,
        ["clients.refresh_lock", "must be true or false", "'sometimes'"],
    ),
    ("horizon-zero", replace(2, "horizon: 0s"), 2, ["horizon", "positive duration", "'0s'"]),
    ("horizon-not-a-duration", replace(2, "horizon: 3 months"), 2, ["horizon", "15d", "'3 months'"]),
    (
        "negative-session-duration",
        replace(10, "      session_duration: -30"),
        10,
        ["activity.session_duration", "must not be negative", "-30"],
    ),
    (
        "zero-exponential-mean",
        insert(12, "    faults:", "      retry_after: {exponential: {mean: 0s}}"),
        14,
        ["faults.retry_after.exponential.mean", "positive duration", "'0s'"],
    ),
    (
        "negative-sigma",
        replace(10, "      session_duration: {lognormal: {median: 1h, sigma: -1}}"),
        10,
        ["session_duration.lognormal.sigma", "from 0 to 10", "-1"],
    ),
    (
        "uniform-low-above-high",
        insert(12, "      race_window: {uniform: {low: 5s, high: 2s}}"),
        13,
        ["clients.race_window.uniform.high", "high >= low", "5s"],
    ),
    (
        "empirical-weights-mismatch",
        replace(12, "      tabs: {empirical: {values: [1, 2, 3], weights: [0.5, 0.5]}}"),
        12,
        ["clients.tabs.empirical.weights", "one weight per value", "3 values, 2 weights"],
    ),
    (
        "devices-can-be-zero",
        insert(7, "    devices: {poisson: {mean: 1.5}}"),
        8,
        ["population[0].devices", "at least 1 on every draw", "min: 1"],
    ),
    (
        "probability-above-one",
        insert(12, "    faults:", "      lost_refresh_response: 1.5"),
        14,
        ["faults.lost_refresh_response", "probability from 0 to 1", "1.5"],
    ),
    (
        "rate-negative",
        insert(12, "    lifecycle:", "      password_changes_per_year: -2"),
        14,
        ["lifecycle.password_changes_per_year", "at least 0", "-2"],
    ),
    # --- the policy section --------------------------------------------------------------------------
    (
        "unknown-preset",
        replace(4, "  preset: visma_conect"),
        4,
        ["policy.preset", "unknown preset 'visma_conect'", "did you mean 'visma_connect'?"],
    ),
    (
        "preset-cap-exceeded",
        insert(4, "  max_tokens_per_user: 25"),
        5,
        ["policy.max_tokens_per_user", "visma_connect allows 1..20", "25"],
    ),
    (
        "preset-reuse-unlimited-absolute",
        insert(4, "  refresh_token_usage: reuse", "  absolute_lifetime: unlimited"),
        6,
        ["policy.absolute_lifetime", "unlimited absolute lifetime only with refresh_token_usage: one_time"],
    ),
    (
        "policy-bad-choice",
        insert(4, "  on_cap: evict_newest"),
        5,
        ["policy.on_cap", "'evict_oldest'", "'evict_newest'"],
    ),
    ("missing-policy", replace(3, count=2), 1, ["policy: required, but missing"]),
    # --- the population ------------------------------------------------------------------------------
    (
        "empty-population",
        "name: x\nhorizon: 90d\npolicy: {}\npopulation: []\n",
        4,
        ["population", "at least one"],
    ),
    (
        "duplicate-persona-names",
        insert(12, "  - name: office", "    users: 5"),
        13,
        ["population[1]", "duplicate persona name 'office'", "population[0]"],
    ),
    ("missing-users", replace(7), 6, ["population[0].users: required, but missing (How many users"]),
    # --- whole-scenario rules ------------------------------------------------------------------------
    ("warmup-not-before-horizon", insert(2, "warmup: 90d"), 3, ["warmup", "shorter than the horizon", "90d"]),
    # --- invariants (docs/verify.md) ------------------------------------------------------------------
    (
        "invariant-property-typo",
        insert(12, "invariants:", "  - name: x", "    nevr: forced_login"),
        15,
        ["invariants[0].nevr", "unknown field 'nevr'", "did you mean 'never'?"],
    ),
    (
        "invariant-behaviour-typo",
        insert(12, "invariants:", "  - name: x", "    who: {largest_gp: 14d}", "    never: forced_login"),
        15,
        ["invariants[0].who.largest_gp", "did you mean 'largest_gap'?"],
    ),
    (
        "invariant-event-typo",
        insert(12, "invariants:", "  - name: x", "    never: forced_logn"),
        15,
        ["invariants[0].never", "unknown event 'forced_logn'", "did you mean 'forced_login'?"],
    ),
    (
        "invariant-cause-typo",
        insert(12, "invariants:", "  - name: x", "    never: [eviction, forced_login.sliding]"),
        15,
        ["invariants[0].never[1]", "did you mean 'forced_login.sliding_expiry'?"],
    ),
    (
        "invariant-without-property",
        insert(12, "invariants:", "  - name: x", "    who: {devices: 2}"),
        14,
        ["invariants[0]", "give one property: never, no_token_works, replay, stolen_token_stops, at_most"],
    ),
    (
        "invariant-two-properties",
        insert(12, "invariants:", "  - name: x", "    never: eviction", "    replay: refused"),
        16,
        ["invariants[0].replay", "one property per invariant", "never and replay"],
    ),
    (
        "invariant-stolen-without-thefts",
        insert(12, "invariants:", "  - name: x", "    stolen_token_stops: {within: 1d}"),
        15,
        ["invariants[0].stolen_token_stops", "no thefts", "thefts: 1"],
    ),
    (
        "invariant-replay-never-happens",
        insert(12, "invariants:", "  - name: x", "    replay: kills_family"),
        15,
        ["invariants[0].replay", "presents a token twice", "lost_responses"],
    ),
    (
        "invariant-devices-reversed",
        insert(12, "invariants:", "  - name: x", "    who:", "      devices: 5..1", "    never: eviction"),
        16,
        ["invariants[0].who.devices", "low..high", "'5..1'"],
    ),
    (
        "invariant-gaps-reversed",
        insert(
            12, "invariants:", "  - name: x", "    who:", "      smallest_gap: 2d", "      largest_gap: 1d",
            "    never: eviction",
        ),
        16,
        ["invariants[0].who.smallest_gap", "must not exceed largest_gap (1d)", "2d"],
    ),
    (
        "invariant-per-typo",
        insert(12, "invariants:", "  - name: x", "    who:", "      fresh_logins: {at_most: 2, pr: 30d}",
               "    never: eviction"),
        16,
        ["invariants[0].who.fresh_logins.pr", "did you mean 'per'?"],
    ),
    (
        "invariant-attacker-typo",
        insert(
            12, "invariants:", "  - name: x", "    who: {thefts: 1, attacker: immediatly}",
            "    replay: refused",
        ),
        15,
        ["invariants[0].who.attacker", "did you mean 'immediate'?"],
    ),
    (
        "invariant-bad-after",
        insert(12, "invariants:", "  - name: x", "    no_token_works: {later_than: 90d, after: lastuse}"),
        15,
        ["invariants[0].no_token_works.after", "'login' or 'last_use'", "'lastuse'"],
    ),
    (
        "invariant-duplicate-names",
        insert(
            12, "invariants:", "  - name: x", "    never: eviction", "  - name: x", "    never: forced_login"
        ),
        16,
        ["invariants[1]", "duplicate invariant name 'x'", "invariants[0]"],
    ),
    (
        "invariant-timelines-too-large",
        insert(
            12, "invariants:", "  - name: x",
            "    who: {devices: 20, sessions: 50, session_length: 7d, over: 1000d}", "    never: eviction",
        ),
        15,
        ["invariants[0].who", "170,000 refresh requests", "at most 100,000"],
    ),
    # --- the file itself -----------------------------------------------------------------------------
    ("empty-file", "", 1, ["empty"]),
    ("only-comments", "# nothing here\n\n", 1, ["empty"]),
    ("top-level-list", "- name: x\n- horizon: 90d\n", 1, ["top level must be a mapping", "got a list"]),
    ("top-level-text", "just some text\n", 1, ["top level must be a mapping", "'just some text'"]),
    (
        "yaml-syntax-error",
        replace(9, "      schedule: weekdays: always"),
        9,
        ["invalid YAML", "mapping values are not allowed here"],
    ),
    ("yaml-unclosed-bracket", replace(12, "      tabs: [1, 2"), 13, ["invalid YAML"]),
    (
        "python-object-tag",
        replace(7, "    users: !!python/object/apply:os.system ['echo hacked']"),
        7,
        ["invalid YAML", "python/object/apply:os.system", "not allowed"],
    ),
    (
        "duplicate-key",
        insert(4, "  preset: visma_connect"),
        5,
        ["policy.preset", "duplicate key 'preset'", "first at line 4"],
    ),
    ("recursive-alias", insert(1, "description: &d [*d]"), 2, ["recursive alias"]),
    # --- weekly profiles and replayed traces ---------------------------------------------------------
    (
        "profile-too-few-rows",
        replace(9, "      schedule: {profile: [[1, 2, 3]]}"),
        9,
        ["population[0].activity.schedule.profile", "must have 7 rows, Monday to Sunday, got 1"],
    ),
    (
        "profile-short-row",
        replace(9, "      schedule: {profile: [" + ", ".join(["[1]"] + [str([1] * 24)] * 6) + "]}"),
        9,
        ["population[0].activity.schedule.profile", "Monday must have 24 values", "got 1"],
    ),
    (
        "profile-all-zero",
        replace(9, "      schedule: {profile: [" + ", ".join(["[" + ", ".join(["0"] * 24) + "]"] * 7) + "]}"),
        9,
        ["population[0].activity.schedule.profile", "at least one rate above 0"],
    ),
    (
        "schedule-neither-name-nor-profile",
        replace(9, "      schedule: 3"),
        9,
        ["population[0].activity.schedule", "or a weekly profile"],
    ),
    (
        "trace-file-missing",
        replace(9, "      trace: no-such-trace.parquet", count=2),
        9,
        ["population[0].activity.trace.path", "no trace file", "no-such-trace.parquet", "tokensim ingest"],
    ),
    (
        "trace-with-session-duration",
        replace(9, f"      trace: {SAMPLE_TRACE}"),
        10,
        ["population[0].activity.session_duration", "not used with a trace", "remove it"],
    ),
    (
        "trace-with-devices",
        replace(7, "    devices: 2", "    activity:", f"      trace: {SAMPLE_TRACE}", count=4),
        7,
        ["population[0].devices", "not used with a trace"],
    ),
    (
        "trace-recorded-with-other-users",
        replace(9, f"      trace: {{path: {SAMPLE_TRACE}, sampling: recorded}}", count=2),
        7,
        ["population[0].users", "the trace has 200 users", "sampling: bootstrap"],
    ),
    (
        "trace-shorter-than-horizon",
        replace(2, "horizon: 120d", *VALID_LINES[2:8], f"      trace: {SAMPLE_TRACE}", count=9),
        9,
        ["population[0].activity.trace", "the trace lasts 13w", "at most 13w", "repeat: true"],
    ),
    ("two-documents", VALID + "---\n" + VALID, 13, ["invalid YAML", "single document"]),
    # --- optimize: and uncertain: ---------------------------------------------------------------------
    (
        "optimize-unknown-path",
        insert(12, "optimize:", "  minimize: stored_rows_peak", "  over:",
               "    policy.sliding_lifetme: {low: 1d, high: 9d}", "  budget: {runs: 10}",
               "  indifference: 1"),
        16,
        ["optimize.over.policy.sliding_lifetme", "did you mean 'sliding_lifetime'?"],
    ),
    (
        "optimize-unknown-metric",
        insert(12, "optimize:", "  minimize: stored_rows_peek", "  over:",
               "    policy.sliding_lifetime: [1d, 9d]", "  budget: {runs: 10}", "  indifference: 1"),
        14,
        ["optimize.minimize", "did you mean 'stored_rows_peak'?"],
    ),
    (
        "optimize-range-backwards",
        insert(12, "optimize:", "  minimize: stored_rows_peak", "  over:",
               "    policy.sliding_lifetime: {low: 9d, high: 1d}", "  budget: {runs: 10}",
               "  indifference: 1"),
        16,
        ["optimize.over.policy.sliding_lifetime", "low must be below high"],
    ),
    (
        "optimize-no-budget-kind",
        insert(12, "optimize:", "  minimize: stored_rows_peak", "  over:",
               "    policy.sliding_lifetime: [1d, 9d]", "  budget: {}", "  indifference: 1"),
        17,
        ["optimize.budget", "give one of user_years or runs"],
    ),
    (
        "uncertain-also-decided",
        insert(12, "optimize:", "  minimize: stored_rows_peak", "  over:",
               "    policy.sliding_lifetime: [1d, 9d]", "  budget: {runs: 10}", "  indifference: 1",
               "uncertain:", "  over:",
               "    policy.sliding_lifetime: {low: 1d, high: 9d}"),
        21,
        ["uncertain.over.policy.sliding_lifetime", "also a decision variable"],
    ),
    (
        "uncertain-bad-robust",
        insert(12, "uncertain:", "  robust: best", "  over:",
               "    population.office.users: {low: 5, high: 9}"),
        14,
        ["uncertain.robust", "'worst' or a quantile"],
    ),
]
