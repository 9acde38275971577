"""The simulated world: per-user random streams, weekly schedules, the SimPy processes of devices, sessions,
faults and lifecycle events (`behaviour`), attackers (`threats`), recorded sessions replayed from a trace
(`replay`), and the `Recorder` that keeps their rows."""
