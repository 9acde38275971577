"""tokensim: a discrete-event simulator of OAuth 2.0 / OpenID Connect refresh-token policies.

Layers, each importing only the ones above it: core -> policy -> scenario -> model -> analysis -> run ->
report -> experiments -> api -> cli.
"""

__version__ = "0.1.0"
