"""Small scenarios for the fault-injection tests."""

TINY = """\
name: faults-tiny
seed: 5
horizon: 20d
warmup: 2d
replications: 2
policy: {preset: visma_connect, sliding_lifetime: 5d, max_tokens_per_user: 3}
population:
  - name: office
    users: 8
    devices: 2
    activity: {schedule: weekdays, sessions_per_day: 2, session_duration: {exponential: {mean: 1h}}}
"""

TINY_SWEEP = TINY.replace("faults-tiny", "faults-sweep") + (
    "sweep:\n  grid:\n    policy.sliding_lifetime: [2d, 9d]\n"
)

#: Long enough (tens of seconds) to be interrupted while it runs.
SLOW = TINY.replace("faults-tiny", "faults-slow").replace("horizon: 20d", "horizon: 365d").replace(
    "users: 8", "users: 4000"
)
