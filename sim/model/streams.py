"""Random streams: one root seed per run, every user's streams derived from it with numpy's SeedSequence.

A stream is keyed by (replication, persona, user, device, purpose) and never by worker, shard or policy.
So a user behaves the same whatever the number of users, workers or shards, and two policies run on
the same seed see the same users (common random numbers): session times come from their own stream and
do not shift when a policy changes how many refreshes or faults are drawn.

Stream ids are a contract: adding a purpose must not renumber the existing ones.
"""

from __future__ import annotations

import zlib

import numpy as np

#: Purposes of per-device and per-user streams (values are part of the reproducibility contract).
SESSIONS = 0  # session starts and durations, tabs
FAULTS = 1  # lost responses, persist failures, retry delays, race offsets
LIFECYCLE = 2  # device replacement, logout at session end
USER = 3  # per-user draws: device count, absences, password changes
ACCESS = 4  # the server's draws of access-token lifetimes (when the policy gives a distribution)
THEFT = 5  # thefts: per device the stolen-device draw, per user (device -1) the theft times and victims
REPLAY = 6  # a replayed trace's bootstrap: which trace users a replication simulates (user 0, device -1)


def persona_key(name: str) -> int:
    """A stable number for a persona name (so reordering personas does not change their users)."""
    return zlib.crc32(name.encode("utf-8"))


def stream(
    seed: int, replication: int, persona: str, user: int, device: int, purpose: int
) -> np.random.Generator:
    """The generator for one purpose of one device (device -1 for per-user streams)."""
    key = (replication, persona_key(persona), user, device + 1, purpose)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))
