"""tokensim: a discrete-event simulator of OAuth 2.0 / OpenID Connect refresh-token policies.

Layers (data flows one way): scenario -> behaviour -> engine -> metrics -> tables -> report.
"""

__version__ = "0.1.0"
