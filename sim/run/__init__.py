"""Running one scenario: shards of users on local processes or a Dask cluster, their rows spooled to disk,
and the per-replication metrics computed from them (`sim.run.runner.run_scenario`)."""
