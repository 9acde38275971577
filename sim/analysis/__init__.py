"""From recorded rows to numbers: metrics per replication and persona, survival, storage and theft figures,
confidence intervals, paired differences, typed summaries and requirement verdicts."""
