"""The workflows users run, each a plain function that takes a scenario and options and returns a typed
result that can write itself: run, sweep (with resume), compare, check, and the friction/exposure trade-off.
`sim.api` and the command line are thin shells over this layer."""
