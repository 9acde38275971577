"""Personas fitted to a recorded trace (`tokensim fit`), and traces of simulated scenarios.

- activity.py: a group's sessions as arrays, idle exposure and session starts by hour of the week;
- clusters.py: users' activity features and their grouping into personas (scikit-learn);
- schedule.py: the schedule (fixed or a weekly profile) and `sessions_per_day` by maximum likelihood;
- absences.py: absences as gaps too long for the fitted process; durations.py: duration distributions
  by maximum likelihood, chosen by AIC, tested by Kolmogorov-Smirnov with a parametric bootstrap;
- personas.py: one persona's fit; fit.py: the whole trace (`fit_trace` -> `FitResult`);
- scenario.py: the fitted scenario's YAML; compare.py: the trace's token events against simulations
  under the log's own policy; report.py, plots.py: the fit report; workflow.py: `tokensim fit`;
- synthetic.py: a simulated scenario's sessions written as a trace (validation, the shipped sample).
The method is documented in docs/replay-fit.md.
"""
