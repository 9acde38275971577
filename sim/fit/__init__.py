"""Personas fitted to a recorded trace (`tokensim fit`), and traces of simulated scenarios.

- sim/fit/synthetic.py: a simulated scenario's sessions written as a trace (validation, samples);
- sim/fit/features.py: per-user activity features; sim/fit/clusters.py: users grouped into personas;
- sim/fit/schedule.py, rates.py, absences.py, durations.py, devices.py: each parameter of a persona,
  fitted by maximum likelihood with its interval and goodness-of-fit tests;
- sim/fit/fit.py: the workflow (`fit_trace`), sim/fit/scenario.py: the fitted scenario's YAML,
  sim/fit/report.py: the fit report.
The method is documented in docs/replay-fit.md.
"""
