"""A minimal Django project that serves django-oauth-toolkit's endpoints for the conformance tests.

Started by `tests/servers/dot.py` (never imported by the test process itself): `settings.py` reads the
OAUTH2_PROVIDER options and the SQLite path from the environment, `setup_db.py` migrates a template
database with the test users and the client application.
"""
