"""The refresh-token policy: the `Policy` model (`sim.policy.model`), the vendor presets that fill and limit
it (`sim.policy.presets`) and the pure, SimPy-free `TokenEngine` that applies it (`sim.policy.engine`)."""
