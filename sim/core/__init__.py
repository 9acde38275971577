"""The foundation every layer uses: durations, distributions, validation errors, the vocabulary of reasons
and metric names, and atomic file writing. Nothing here imports another tokensim layer."""
